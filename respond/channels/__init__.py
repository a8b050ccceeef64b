"""Delivery channels: where a ticket goes besides the ticket store (webhook, e-mail).

A channel is one module with one class satisfying `Channel`: a `name` (the DeliveryRecord's
`channel`) and `deliver(message=...)`. Adding Jira, TheHive or ServiceNow is adding such a
module and one line in `channels_for`. The contract (docs/respond-channels.md):

* idempotent on `message.delivery_id`: it is the same on every retry of one delivery, so
  pass it to the peer as its idempotency key (webhook-id, Message-ID, an external id);
* raise `TransientFailure` (or `RetryLater` with the peer's Retry-After) when a later
  attempt may succeed, `RejectedInput` when none can (the delivery is dead-lettered with
  the reason); return normally only once the peer has accepted the message;
* never log a secret nor put one in an exception message;
* build cheaply: `channels_for` runs to list a team's channels, so reveal secrets and
  connect in `deliver`, not in `__init__`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from igsc.errors import RejectedInput, TransientFailure
from igsc.respond_settings import RespondSettings, Team
from respond.model import Ticket

EVENTS = frozenset({"ticket.created", "ticket.updated", "ticket.escalated"})


class RetryLater(TransientFailure):
    """A transient failure whose peer said when to come back (Retry-After), if it did."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True, kw_only=True)
class Outbound:
    """One message of one delivery: the same on every retry but for the attempt's time."""

    delivery_id: str  # stable over retries (respond.model.delivery_id)
    event: str  # one of EVENTS
    ticket: Ticket
    first_message_id: str  # the e-mail Message-ID of the ticket's first message, for threading
    escalation_step: int | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise RejectedInput("unknown delivery event", detail=repr(self.event))


class Channel(Protocol):
    """Somewhere a ticket is delivered to; see the module docstring for the contract."""

    name: str

    def deliver(self, *, message: Outbound) -> None:
        """Hand the message over; TransientFailure to retry later, RejectedInput if never."""
        ...


def channels_for(*, team: Team, escalation: bool, settings: RespondSettings) -> tuple[Channel, ...]:
    """The channels a team configured for its tickets (or for SLA breaches if escalation)."""
    # Imported here: the channel modules import Outbound and RetryLater from this package.
    from respond.channels.email import EmailSender
    from respond.channels.webhook import WebhookSender

    configured = team.escalation if escalation else team.channels
    found: list[Channel] = []
    if configured.webhook is not None:
        found.append(
            WebhookSender(team=team, config=configured.webhook, delivery=settings.delivery)
        )
    if configured.email is not None:
        found.append(EmailSender(team=team, config=configured.email, smtp=settings.smtp))
    return tuple(found)
