"""E-mail delivery against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from igsc.errors import RejectedInput, TransientFailure
from igsc.partners import Secret
from igsc.respond_settings import EmailChannel, Smtp, Team
from respond.channels.email import EmailSender
from tests.unit.respond.channels.channel_fakes import (
    FIRST_MESSAGE_ID,
    closed_port,
    make_outbound,
)

TO = ("oncall@cert.nl.example", "duty@cert.nl.example")


@dataclass
class Mailbox:
    """An SMTP handler: records what arrives, or answers RCPT/DATA with a scripted code."""

    rcpt_reply: str = "250 OK"
    data_reply: str = "250 OK"
    received: list[tuple[str, tuple[str, ...], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_reply.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt_reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply.startswith("250"):
            mail = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(mail, EmailMessage)
            self.received.append((envelope.mail_from, tuple(envelope.rcpt_tos), mail))
        return self.data_reply


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = closed_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _sender(port: int, *, username: str | None = None, password: str | None = None) -> EmailSender:
    config = EmailChannel(to=TO)
    team = Team(id="nl-oncall", country="NL", partner="cert-nl")
    smtp = Smtp(
        host="127.0.0.1",
        port=port,
        sender="igsc <igsc@hub.example>",
        timeout_s=5,
        username=username,
        password=Secret(value=password) if password else None,
    )
    return EmailSender(team=team, config=config, smtp=smtp)


def _message(**kwargs: Any) -> Any:
    return make_outbound(channel="email", **kwargs)


def test_the_first_message_arrives_with_text_and_html_and_the_given_message_id(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    message = _message()
    _sender(port).deliver(message=message)

    [(mail_from, rcpt, mail)] = box.received
    assert (mail_from, rcpt) == ("igsc@hub.example", TO)
    assert mail["From"] == "igsc <igsc@hub.example>"
    assert mail["To"] == ", ".join(TO)
    assert mail["Subject"] == message.ticket.subject
    assert mail["Message-ID"] == FIRST_MESSAGE_ID
    assert mail["In-Reply-To"] is None and mail["References"] is None
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content() == message.ticket.body  # byte for byte: CRLF, no final newline
    assert html.get_content() == message.ticket.html


def test_an_update_replies_to_the_first_message_with_its_own_stable_id(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    sender = _sender(port)
    update = _message(event="ticket.updated", revision=2)
    sender.deliver(message=update)
    sender.deliver(message=update)  # a retry of the same delivery

    first, again = (mail for _, _, mail in box.received)
    assert first["Subject"] == "Re: " + update.ticket.subject
    assert first["In-Reply-To"] == FIRST_MESSAGE_ID
    assert first["References"] == FIRST_MESSAGE_ID
    assert first["Message-ID"] != FIRST_MESSAGE_ID
    assert first["Message-ID"].endswith("@igsc>")
    assert again["Message-ID"] == first["Message-ID"]
    other = _message(event="ticket.updated", revision=3)
    sender.deliver(message=other)
    assert box.received[-1][2]["Message-ID"] != first["Message-ID"]


def test_an_escalation_says_so_and_threads_under_the_ticket(
    mailbox: tuple[Mailbox, int],
) -> None:
    box, port = mailbox
    _sender(port).deliver(message=_message(event="ticket.escalated", step=1))
    [(_, _, mail)] = box.received
    assert mail["Subject"].startswith("Re: ")
    assert "ESCALATION" in mail["Subject"]
    assert mail["In-Reply-To"] == FIRST_MESSAGE_ID
    assert mail["Message-ID"] != FIRST_MESSAGE_ID


def test_a_refused_recipient_is_rejected_for_good(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    box.rcpt_reply = "550 5.1.1 mailbox unavailable"
    with pytest.raises(RejectedInput, match="550") as caught:
        _sender(port).deliver(message=_message())
    assert "oncall@cert.nl.example" in str(caught.value)
    assert box.received == []


def test_a_temporary_refusal_is_retried(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    box.data_reply = "451 4.3.0 try again later"
    with pytest.raises(TransientFailure, match="451") as caught:
        _sender(port).deliver(message=_message())
    assert not isinstance(caught.value, RejectedInput)


def test_a_closed_port_is_retried() -> None:
    with pytest.raises(TransientFailure, match="unreachable") as caught:
        _sender(closed_port()).deliver(message=_message())
    assert not isinstance(caught.value, RejectedInput)


PASSWORD = "relay-pa55word-for-igsc"
# aiosmtpd warns that AUTH without TLS is unsafe: true, and this relay is a test on loopback.
_PLAIN_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture
def relay_with_login() -> Iterator[tuple[Mailbox, int]]:
    """A relay that takes mail only after AUTH with igsc / PASSWORD (no TLS: a test)."""

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = isinstance(auth, LoginPassword) and auth == (b"igsc", PASSWORD.encode())
        return AuthResult(success=ok, handled=False)

    box = Mailbox()
    port = closed_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield box, port
    controller.stop()


@_PLAIN_AUTH
def test_login_is_used_when_configured(relay_with_login: tuple[Mailbox, int]) -> None:
    box, port = relay_with_login
    _sender(port, username="igsc", password=PASSWORD).deliver(message=_message())
    assert len(box.received) == 1


@_PLAIN_AUTH
def test_a_wrong_password_is_rejected_without_showing_it(
    relay_with_login: tuple[Mailbox, int],
) -> None:
    _, port = relay_with_login
    with pytest.raises(RejectedInput, match="535") as caught:
        _sender(port, username="igsc", password="wrong-" + PASSWORD).deliver(message=_message())
    assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value.__cause__)
