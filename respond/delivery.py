"""Ticket work behind the Celery tasks: open or update each team's ticket, deliver it on
each channel (respond/attempts.py: one attempt, retries, dead letter), escalate SLA breaches.

Plain functions over a `RespondContext`, so the Celery tasks (respond/celery_app.py) stay
thin and tests can drive the same code with a test clock. Every step is idempotent:
the ticket id is derived from (incident, team), a delivery id from (ticket, purpose,
revision, channel), and the ticket store records each delivery's outcome, so a redelivered
or re-run task repeats nothing that already happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from igsc.partners import Partner
from igsc.ports import Stream
from igsc.respond_settings import RespondSettings, Rule, Team
from respond.channels import channels_for
from respond.escalation import due_escalations
from respond.model import (
    DeliveryRecord,
    DeliveryStatus,
    Incident,
    Ticket,
    delivery_id,
    ticket_id,
)
from respond.render import CompiledPlaybooks
from respond.routing import teams_for
from respond.tickets import TicketStore

log = logging.getLogger(__name__)

STORE_CHANNEL = "store"  # the ticket store itself: delivered when the ticket is written


class Purpose(StrEnum):
    """Why a message goes out."""

    TICKET = "ticket"
    ESCALATION = "escalation"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryJob:
    """One message to send on one channel: what a delivery task carries."""

    ticket_id: str
    purpose: Purpose
    revision: int
    channel: str
    step: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempted:
    """The outcome of one attempt: done, or retry after `retry_in_s`."""

    done: bool
    retry_in_s: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RespondContext:
    """What ticket work needs, built once per process."""

    settings: RespondSettings
    store: TicketStore
    playbooks: CompiledPlaybooks
    rules: dict[str, Rule]
    teams: dict[str, Team]
    partners: tuple[Partner, ...]
    stream: Stream
    rejected_topic: str
    clock: Callable[[], str]  # RFC 3339 now; a test clock in tests


def open_tickets(*, ctx: RespondContext, incident: Incident) -> list[DeliveryJob]:
    """Open or update the ticket of every affected team; the deliveries this calls for.

    Teams that already hold a ticket of the incident keep getting its updates (a country
    whose report was withdrawn is told the incident fell below its threshold)."""
    rule = ctx.rules.get(incident.rule)
    if rule is None:
        log.warning("incident %s: rule %s is no longer configured", incident.id, incident.rule)
        return []
    teams = {t.id: t for t in teams_for(incident=incident, teams=tuple(ctx.teams.values()))}
    # Every team's ticket id is known, so one State read finds the tickets already held
    # (no index search: it would refresh the index on every task).
    held = ctx.store.get_many(
        ticket_ids=[ticket_id(incident=incident.id, team=team) for team in ctx.teams]
    )
    for ticket in held.values():
        teams.setdefault(ticket.team, ctx.teams[ticket.team])
    jobs: list[DeliveryJob] = []
    now = ctx.clock()
    for team in sorted(teams.values(), key=lambda t: t.id):
        tid = ticket_id(incident=incident.id, team=team.id)
        existing = held.get(tid)
        if existing is not None and existing.incident_version >= incident.version:
            jobs += _deliveries(ctx=ctx, ticket=existing, team=team, purpose=Purpose.TICKET)
            continue  # a redelivered task: the ticket has this version already
        rendered = ctx.playbooks.render_ticket(
            incident=incident,
            team=team,
            rule=rule,
            registry=ctx.partners,
            created_at=existing.created_at if existing else now,
            ticket_id=tid,
        )
        change = ctx.store.open_or_update(
            incident=incident,
            team=team,
            rendered=rendered,
            now=now,
            deliveries=_initial_records(ctx=ctx, team=team, now=now),
        )
        # From the stored ticket, not from the incident: a task that died after writing the
        # ticket and before queueing its deliveries runs again and finds them still to do.
        ticket = change.ticket if change is not None else ctx.store.require(ticket_id=tid)
        jobs += _deliveries(ctx=ctx, ticket=ticket, team=team, purpose=Purpose.TICKET)
    return jobs


def escalate(*, ctx: RespondContext, now: str) -> list[DeliveryJob]:
    """Claim every SLA breach not yet escalated (once each) and the deliveries it needs."""
    jobs: list[DeliveryJob] = []
    for breach in due_escalations(store=ctx.store, now=now):
        team = ctx.teams.get(breach.ticket.team)
        if team is None:
            continue
        jobs += _deliveries(
            ctx=ctx, ticket=breach.ticket, team=team, purpose=Purpose.ESCALATION, step=breach.step
        )
    return jobs


def _deliveries(
    *, ctx: RespondContext, ticket: Ticket, team: Team, purpose: Purpose, step: int | None = None
) -> list[DeliveryJob]:
    """The deliveries of one ticket revision (or escalation) still to do, recorded pending."""
    now = ctx.clock()
    records, jobs = _plan(ctx=ctx, ticket=ticket, team=team, purpose=purpose, step=step, now=now)
    if records:
        ctx.store.record_deliveries(ticket_id=ticket.id, records=records, now=now)
    return jobs


def _initial_records(
    *, ctx: RespondContext, team: Team, now: str
) -> Callable[[Ticket], list[DeliveryRecord]]:
    """A new ticket revision's delivery records, written in the same change as the revision."""

    def records(ticket: Ticket) -> list[DeliveryRecord]:
        return _plan(ctx=ctx, ticket=ticket, team=team, purpose=Purpose.TICKET, now=now)[0]

    return records


def _plan(
    *,
    ctx: RespondContext,
    ticket: Ticket,
    team: Team,
    purpose: Purpose,
    now: str,
    step: int | None = None,
) -> tuple[list[DeliveryRecord], list[DeliveryJob]]:
    """(records to add, jobs to queue) for one ticket revision or escalation: the store
    delivered, every channel not delivered or dead-lettered yet pending."""
    revision = ticket.revision if purpose is Purpose.TICKET else step or 0
    known = {d.delivery_id: d.status for d in ticket.deliveries}
    records: list[DeliveryRecord] = []
    if purpose is Purpose.TICKET:  # the store holds it already: that delivery is done
        store_id = delivery_id(
            ticket=ticket.id, purpose=purpose.value, revision=revision, channel=STORE_CHANNEL
        )
        if store_id not in known:
            records.append(
                delivery_record(ticket, STORE_CHANNEL, purpose, revision,
                                 DeliveryStatus.DELIVERED, now=now)
            )  # fmt: skip
    jobs = []
    escalation = purpose is Purpose.ESCALATION
    for channel in channels_for(team=team, escalation=escalation, settings=ctx.settings):
        did = delivery_id(
            ticket=ticket.id, purpose=purpose.value, revision=revision, channel=channel.name
        )
        status = known.get(did)
        if status is not None and status is not DeliveryStatus.PENDING:
            continue  # delivered or dead-lettered already: a re-run sends nothing
        if status is None:
            records.append(
                delivery_record(ticket, channel.name, purpose, revision,
                                 DeliveryStatus.PENDING, now=now)
            )  # fmt: skip
        jobs.append(
            DeliveryJob(
                ticket_id=ticket.id,
                purpose=purpose,
                revision=revision,
                channel=channel.name,
                step=step,
            )
        )
    return records, jobs


def first_message_id(*, ticket_id: str) -> str:
    """The e-mail Message-ID of a ticket's first message: every later one replies to it."""
    return f"<{ticket_id.removeprefix('ticket--')}@igsc>"


def delivery_record(
    ticket: Ticket,
    channel: str,
    purpose: Purpose,
    revision: int,
    status: DeliveryStatus,
    *,
    now: str,
    attempts: int = 0,
    error: str = "",
    delivered: bool = False,
) -> DeliveryRecord:
    did = delivery_id(ticket=ticket.id, purpose=purpose.value, revision=revision, channel=channel)
    return DeliveryRecord(
        delivery_id=did,
        channel=channel,
        purpose=purpose.value,
        revision=revision,
        status=status,
        attempts=attempts,
        last_error=error,
        last_attempt_at=now if attempts else None,
        delivered_at=now if delivered or channel == STORE_CHANNEL else None,
    )
