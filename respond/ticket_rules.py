"""What a change to a ticket may be: pure rules the ticket store applies inside its CAS."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from igsc.errors import RejectedInput
from igsc.respond_settings import Team
from respond.model import (
    AuditEntry,
    DeliveryRecord,
    DeliveryStatus,
    Incident,
    RenderedTicket,
    Ticket,
    TicketState,
)

SYSTEM = "igsc"  # the `by` of what the pipeline itself does
# A late retry never moves a delivery back: pending < failed < delivered.
_RANK = {DeliveryStatus.PENDING: 0, DeliveryStatus.FAILED: 1, DeliveryStatus.DELIVERED: 2}


class InvalidTransition(RejectedInput):
    """The ticket's state does not allow this action; the message says why."""


def created_ticket(
    *, tid: str, incident: Incident, team: Team, rendered: RenderedTicket, now: str
) -> Ticket:
    return Ticket(
        id=tid,
        incident=incident.id,
        incident_version=incident.version,
        rule=incident.rule,
        team=team.id,
        country=team.country,
        severity=incident.severity,
        state=TicketState.OPEN,
        revision=1,
        seq=1,
        subject=rendered.subject,
        body=rendered.body,
        html=rendered.html,
        steps=rendered.steps,
        due_at=rendered.due_at,
        audit=(AuditEntry(at=now, by=SYSTEM, action="created", note=version_note(incident)),),
        created_at=now,
        updated_at=now,
    )


def version_note(incident: Incident) -> str:
    return f"incident version {incident.version} ({incident.status})"


def stale_delivery(*, old: DeliveryRecord, new: DeliveryRecord) -> bool:
    if old == new or old.status is DeliveryStatus.DELIVERED:
        return True  # the first delivered record (and its time) stands
    if _RANK[new.status] != _RANK[old.status]:
        return _RANK[new.status] < _RANK[old.status]
    return new.attempts < old.attempts


def delivery_audit(*, record: DeliveryRecord, now: str) -> AuditEntry:
    what = f"{record.channel} {record.purpose} revision {record.revision}"
    if record.status is DeliveryStatus.DELIVERED:
        return AuditEntry(at=now, by=SYSTEM, action="delivered", note=what)
    return AuditEntry(
        at=now, by=SYSTEM, action="delivery-failed", note=f"{what}: {record.last_error}"
    )


def refuse_transition(ticket: Ticket, *, to: TicketState | None) -> None:
    """InvalidTransition if the ticket cannot move to `to`, saying who moved it where."""
    if to is TicketState.ACKNOWLEDGED and ticket.state is not TicketState.OPEN:
        why = "only an open ticket can be acknowledged"
    elif to is TicketState.RESOLVED and ticket.state is TicketState.RESOLVED:
        why = "it cannot be resolved twice"
    else:
        return
    last = next((e for e in reversed(ticket.audit) if e.action == str(ticket.state)), None)
    since = f"by {last.by} at {last.at}" if last else f"since {ticket.updated_at}"
    raise InvalidTransition(f"ticket {ticket.id} is already {ticket.state} ({since}); {why}")


def with_deliveries(ticket: Ticket, *, records: Sequence[DeliveryRecord], now: str) -> Ticket:
    """The ticket with these delivery records put on it (each replacing the one with its
    delivery_id unless it is stale); a change to delivered or failed is audited once."""
    deliveries, audit = ticket.deliveries, ticket.audit
    for record in records:
        old = next((d for d in deliveries if d.delivery_id == record.delivery_id), None)
        if old is not None and stale_delivery(old=old, new=record):
            continue
        if old is None:
            deliveries = (*deliveries, record)
        else:
            deliveries = tuple(
                record if d.delivery_id == record.delivery_id else d for d in deliveries
            )
        if record.status is not DeliveryStatus.PENDING and (
            old is None or old.status is not record.status
        ):
            audit = (*audit, delivery_audit(record=record, now=now))
    if deliveries == ticket.deliveries:
        return ticket
    return msgspec.structs.replace(ticket, deliveries=deliveries, audit=audit, updated_at=now)
