"""A ticket and its outbound messages, as the delivery layer builds them; a closed port."""

from __future__ import annotations

import socket

from respond.channels import Outbound
from respond.model import StepDue, Ticket, TicketState, delivery_id

TICKET_ID = "ticket--2f6c3a1e-9d7b-5e4f-8a2b-1c3d4e5f6a7b"
FIRST_MESSAGE_ID = "<2f6c3a1e-9d7b-5e4f-8a2b-1c3d4e5f6a7b@igsc>"


def make_ticket(*, revision: int = 1, subject: str = "[HIGH] Shared C2: evil.example") -> Ticket:
    """A rendered ticket as the store holds it, with audit and deliveries to leave out."""
    return Ticket(
        id=TICKET_ID,
        incident="incident--0a1b2c3d-4e5f-5a6b-8c7d-9e0f1a2b3c4d",
        incident_version=3,
        rule="c2-three-countries",
        team="nl-oncall",
        country="NL",
        severity="high",
        state=TicketState.OPEN,
        revision=revision,
        subject=subject,
        # No final newline, a CRLF and non-ASCII: the text part must arrive exactly so.
        body="Block evil.example at the resolvers.\r\nSeen in DE, FR and NL — act now.",
        html="<p>Block <b>evil.example</b> at the resolvers.</p>",
        steps=(
            StepDue(
                title="Block",
                owner="national-csirt-oncall",
                due_at="2026-01-01T01:00:00Z",
                text="Block it.",
            ),
        ),
        due_at="2026-01-01T01:00:00Z",
        audit=(),
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
    )


def make_outbound(
    *, event: str = "ticket.created", channel: str, revision: int = 1, step: int | None = None
) -> Outbound:
    """The message of one delivery of the ticket, with the id the delivery layer gives it."""
    purpose = "escalation" if event == "ticket.escalated" else "ticket"
    return Outbound(
        delivery_id=delivery_id(
            ticket=TICKET_ID, purpose=purpose, revision=step or revision, channel=channel
        ),
        event=event,
        ticket=make_ticket(revision=revision),
        first_message_id=FIRST_MESSAGE_ID,
        escalation_step=step,
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
