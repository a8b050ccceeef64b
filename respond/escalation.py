"""SLA breaches: open tickets whose playbook steps passed their due time, escalated once.

The caller's clock decides what is due (Celery beat in production, a test clock in tests):
nothing here reads the time or sleeps. Each breach is claimed on the ticket with a CAS, so
two beat processes sweeping at once escalate every breached step exactly once between them.
"""

from __future__ import annotations

from dataclasses import dataclass

from igsc.stix_time import instant_ns
from respond.model import Ticket, TicketState
from respond.tickets import TicketStore

# Every open ticket is looked at on each sweep; this only bounds one sweep's reading.
SWEEP_LIMIT = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """One breached step (0-based) this sweep won the claim on, and the ticket after it."""

    ticket: Ticket
    step: int


def due_escalations(*, store: TicketStore, now: str) -> list[Escalation]:
    """Claim every step of every open ticket that is due at or before `now` and not yet
    escalated; the claims this call won (a rival sweep's wins are not repeated)."""
    now_ns = instant_ns(now)
    won: list[Escalation] = []
    for ticket in store.search(state=TicketState.OPEN, limit=SWEEP_LIMIT):
        for step, due in enumerate(ticket.steps):
            if step in ticket.escalated_steps or instant_ns(due.due_at) > now_ns:
                continue
            claimed = store.claim_escalation(ticket_id=ticket.id, step=step, now=now)
            if claimed is not None:
                won.append(Escalation(ticket=claimed, step=step))
    return won
