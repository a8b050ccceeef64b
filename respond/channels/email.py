"""E-mail delivery through the configured SMTP relay (standard library only).

One thread per ticket: the first message carries the caller's `first_message_id`, every
later one (update, escalation) a Message-ID derived from its delivery id and In-Reply-To /
References to the first, so mail clients group them and a retried delivery is recognisably
the same message. Nothing is random: a replay sends the same ids.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formatdate

from igsc.errors import ConfigError, RejectedInput, TransientFailure
from igsc.respond_settings import EmailChannel, Smtp, Team
from respond.channels import Outbound

log = logging.getLogger(__name__)

_FALLBACK_DOMAIN = "igsc"


def message_id(*, message: Outbound) -> str:
    """The Message-ID of this message: the thread's first id, or one from the delivery id."""
    first = _angled(message.first_message_id)
    if message.event == "ticket.created":
        return first
    _, at, domain = first.strip("<>").rpartition("@")
    return f"<{message.delivery_id}@{domain if at and domain else _FALLBACK_DOMAIN}>"


def subject(*, message: Outbound) -> str:
    """The ticket's subject; replies say Re:, escalations say so too."""
    text = " ".join(message.ticket.subject.split())  # a header holds no line breaks
    if message.event == "ticket.created":
        return text
    if message.event == "ticket.escalated":
        return f"Re: [ESCALATION] {text}"
    return f"Re: {text}"


def compose(
    *, message: Outbound, sender: str, to: tuple[str, ...], now: float | None = None
) -> EmailMessage:
    """The e-mail of one delivery: text/plain (the ticket body) with a text/html alternative."""
    ticket = message.ticket
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = subject(message=message)
    mail["Date"] = formatdate(now, usegmt=True)
    mail["Message-ID"] = message_id(message=message)
    if message.event != "ticket.created":
        first = _angled(message.first_message_id)
        mail["In-Reply-To"] = first
        mail["References"] = first
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    mail["X-IGSC-Ticket"] = ticket.id
    mail["X-IGSC-Delivery"] = message.delivery_id
    # Bytes in base64: the text part arrives byte for byte as the store holds it (a str
    # would be re-wrapped, its line ends normalised and a final newline added).
    mail.set_content(
        ticket.body.encode("utf-8"),
        maintype="text",
        subtype="plain",
        cte="base64",
        params={"charset": "utf-8"},
    )
    mail.add_alternative(
        ticket.html.encode("utf-8"),
        maintype="text",
        subtype="html",
        cte="base64",
        params={"charset": "utf-8"},
    )
    return mail


class EmailSender:
    """A team's on-call addresses, through respond.smtp, as a delivery channel."""

    name: str = "email"

    def __init__(
        self,
        *,
        team: Team,
        config: EmailChannel,
        smtp: Smtp,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._peer = f"team {team.id!r}"
        self._to = config.to
        self._smtp = smtp
        self._clock = clock
        self._relay = f"smtp {smtp.host}:{smtp.port}"

    def deliver(self, *, message: Outbound) -> None:
        """Send the message once; TransientFailure (4xx, unreachable) or RejectedInput (5xx)."""
        mail = compose(
            message=message,
            sender=self._smtp.sender,
            to=self._to,
            now=self._clock() if self._clock else None,
        )
        refused = self._send(mail)
        if refused:  # the others have it: resending would give them a second copy
            log.warning(
                "%s: %s refused %s for %s",
                self._peer,
                self._relay,
                ", ".join(sorted(refused)),
                message.delivery_id,
            )

    def _send(self, mail: EmailMessage) -> Mapping[str, tuple[int, bytes]]:
        smtp = self._smtp
        try:
            with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
                if smtp.starttls:
                    client.starttls(context=ssl.create_default_context())
                if smtp.username and smtp.password:
                    client.login(smtp.username, self._password())
                return client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            raise self._all_refused(exc.recipients) from None
        except smtplib.SMTPResponseException as exc:
            raise self._answered(exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPNotSupportedError as exc:
            # The relay lacks STARTTLS or AUTH that respond.smtp asks for: fix the settings.
            raise RejectedInput(f"{self._peer}: {self._relay}", detail=str(exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, timed out, dropped, TLS
            reason = str(exc) or type(exc).__name__
            raise TransientFailure(f"{self._peer}: {self._relay} unreachable: {reason}") from exc

    def _password(self) -> str:
        assert self._smtp.password is not None
        try:
            return self._smtp.password.reveal()
        except ConfigError as exc:
            raise RejectedInput("smtp password unavailable", detail=exc.problem) from None

    def _answered(self, code: int, text: bytes | str) -> RejectedInput | TransientFailure:
        said = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
        what = f"{self._peer}: {self._relay} answered {code} {' '.join(said.split())}"
        return TransientFailure(what) if 400 <= code < 500 else RejectedInput(what)

    def _all_refused(
        self, recipients: Mapping[str, tuple[int, bytes]]
    ) -> RejectedInput | TransientFailure:
        detail = "; ".join(
            f"{address}: {code} {reply.decode('utf-8', errors='replace')}"
            for address, (code, reply) in sorted(recipients.items())
        )
        what = f"{self._peer}: {self._relay} refused every recipient"
        if any(400 <= code < 500 for code, _ in recipients.values()):
            return TransientFailure(f"{what}: {detail}")  # a mailbox may come back
        return RejectedInput(what, detail=detail)


def _angled(value: str) -> str:
    text = value.strip()
    return text if text.startswith("<") and text.endswith(">") else f"<{text.strip('<>')}>"
