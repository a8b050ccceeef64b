"""What a change to a ticket may be: pure rules the ticket store applies inside its CAS."""

from __future__ import annotations

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
