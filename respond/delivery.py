"""Ticket work behind the Celery tasks: open or update each team's ticket, deliver it on
each channel with retries, escalate SLA breaches, retry what is still pending.

Plain functions over a `RespondContext`, so the Celery tasks (respond/celery_app.py) stay
thin and tests can drive the same code with a test clock. Every step is idempotent:
the ticket id is derived from (incident, team), a delivery id from (ticket, purpose,
revision, channel), and the ticket store records each delivery's outcome, so a redelivered
or re-run task repeats nothing that already happened.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from igsc.errors import RejectedInput, TransientFailure
from igsc.partners import Partner
from igsc.ports import Stream
from igsc.records import rejection
from igsc.respond_settings import RespondSettings, Rule, Team
from igsc.stix_time import instant_ns
from respond.channels import Channel, Outbound, RetryLater, channels_for
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
        change = ctx.store.open_or_update(incident=incident, team=team, rendered=rendered, now=now)
        # From the stored ticket, not from the incident: a task that died after writing the
        # ticket and before its deliveries runs again and finds them still to do.
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
    revision = ticket.revision if purpose is Purpose.TICKET else step or 0
    now = ctx.clock()
    known = {d.delivery_id: d.status for d in ticket.deliveries}
    records: list[DeliveryRecord] = []  # recorded in one change, before any job is queued
    if purpose is Purpose.TICKET:  # the store holds it already: that delivery is done
        store_id = delivery_id(
            ticket=ticket.id, purpose=purpose.value, revision=revision, channel=STORE_CHANNEL
        )
        if store_id not in known:
            records.append(
                _delivery_record(ticket, STORE_CHANNEL, purpose, revision,
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
                _delivery_record(ticket, channel.name, purpose, revision,
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
    if records:
        ctx.store.record_deliveries(ticket_id=ticket.id, records=records, now=now)
    return jobs


def attempt(*, ctx: RespondContext, job: DeliveryJob) -> Attempted:
    """One attempt of one delivery; the outcome is recorded on the ticket either way."""
    ticket = ctx.store.require(ticket_id=job.ticket_id)
    did = delivery_id(
        ticket=ticket.id, purpose=job.purpose.value, revision=job.revision, channel=job.channel
    )
    record = next((d for d in ticket.deliveries if d.delivery_id == did), None)
    if record is not None and record.status is not DeliveryStatus.PENDING:
        return Attempted(done=True)  # delivered, or dead-lettered: a redelivered task stops
    team = ctx.teams.get(ticket.team)
    channel = _channel(ctx=ctx, team=team, job=job)
    attempts = (record.attempts if record else 0) + 1
    now = ctx.clock()
    if channel is None:
        _fail(ctx, ticket, job, did, attempts, "the team no longer has this channel", now=now)
        return Attempted(done=True)
    message = Outbound(
        delivery_id=did,
        event=_event(job=job, ticket=ticket),
        ticket=ticket,
        first_message_id=first_message_id(ticket_id=ticket.id),
        escalation_step=job.step,
    )
    try:
        channel.deliver(message=message)
    except RejectedInput as exc:
        _fail(ctx, ticket, job, did, attempts, str(exc), now=now)
        return Attempted(done=True)
    except TransientFailure as exc:
        if attempts >= ctx.settings.delivery.max_attempts:
            _fail(
                ctx,
                ticket,
                job,
                did,
                attempts,
                f"gave up after {attempts} attempts: {exc}",
                now=now,
            )
            return Attempted(done=True)
        _record(
            ctx,
            ticket,
            job.channel,
            job.purpose,
            job.revision,
            DeliveryStatus.PENDING,
            now=now,
            attempts=attempts,
            error=str(exc),
        )
        hinted = exc.retry_after_s if isinstance(exc, RetryLater) else None
        return Attempted(done=False, retry_in_s=hinted or backoff_s(ctx=ctx, attempts=attempts))
    _record(
        ctx,
        ticket,
        job.channel,
        job.purpose,
        job.revision,
        DeliveryStatus.DELIVERED,
        now=now,
        attempts=attempts,
        delivered=True,
    )
    return Attempted(done=True)


def pending_retries(*, ctx: RespondContext, now: str) -> list[DeliveryJob]:
    """Deliveries still pending whose backoff has passed: the safety net behind Celery's own
    retries (a task lost with its worker) and the only retry path with in-process Celery."""
    now_us = instant_ns(now) // 1000
    jobs = []
    for ticket in ctx.store.search():
        for record in ticket.deliveries:
            if record.status is not DeliveryStatus.PENDING or record.channel == STORE_CHANNEL:
                continue
            last = record.last_attempt_at
            wait = (
                backoff_s(ctx=ctx, attempts=record.attempts, jitter=False) if record.attempts else 0
            )
            if last is not None and instant_ns(last) // 1000 + int(wait * 1e6) > now_us:
                continue
            jobs.append(
                DeliveryJob(
                    ticket_id=ticket.id,
                    purpose=Purpose(record.purpose),
                    revision=record.revision,
                    channel=record.channel,
                    step=record.revision if record.purpose == Purpose.ESCALATION else None,
                )
            )
    return jobs


def backoff_s(*, ctx: RespondContext, attempts: int, jitter: bool = True) -> float:
    """Exponential backoff after `attempts` failures, capped, with full jitter for tasks."""
    tuning = ctx.settings.delivery
    ceiling = min(tuning.backoff_cap_s, tuning.backoff_base_s * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling) if jitter else ceiling


def first_message_id(*, ticket_id: str) -> str:
    """The e-mail Message-ID of a ticket's first message: every later one replies to it."""
    return f"<{ticket_id.removeprefix('ticket--')}@igsc>"


def _event(*, job: DeliveryJob, ticket: Ticket) -> str:
    if job.purpose is Purpose.ESCALATION:
        return "ticket.escalated"
    return "ticket.created" if job.revision == 1 else "ticket.updated"


def _channel(*, ctx: RespondContext, team: Team | None, job: DeliveryJob) -> Channel | None:
    if team is None:
        return None
    escalation = job.purpose is Purpose.ESCALATION
    for channel in channels_for(team=team, escalation=escalation, settings=ctx.settings):
        if channel.name == job.channel:
            return channel
    return None


def _record(
    ctx: RespondContext,
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
) -> None:
    ctx.store.record_delivery(
        ticket_id=ticket.id,
        record=_delivery_record(
            ticket, channel, purpose, revision, status,
            now=now, attempts=attempts, error=error, delivered=delivered,
        ),
        now=now,
    )  # fmt: skip


def _delivery_record(
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


def _fail(
    ctx: RespondContext,
    ticket: Ticket,
    job: DeliveryJob,
    did: str,
    attempts: int,
    reason: str,
    *,
    now: str,
) -> None:
    _record(
        ctx,
        ticket,
        job.channel,
        job.purpose,
        job.revision,
        DeliveryStatus.FAILED,
        now=now,
        attempts=attempts,
        error=reason,
    )
    dead = rejection(
        stage="respond-delivery",
        reason=f"{job.channel} delivery {did} of {ticket.id} to team {ticket.team} "
        f"failed: {reason}",
        partner=None,
        stix_id=None,
        payload={
            "ticket": ticket.id,
            "team": ticket.team,
            "channel": job.channel,
            "delivery_id": did,
        },
    )
    ctx.stream.publish(topic=ctx.rejected_topic, records=[(ticket.id.encode(), dead.to_bytes())])
    log.warning("delivery %s failed for good: %s", did, reason)
