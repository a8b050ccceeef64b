"""One delivery attempt on one channel, its retries with backoff and its dead letter.

The Celery deliver task (and, in-process, the sweep) calls `attempt`; `pending_retries`
finds the deliveries whose backoff has passed. Delivery ids are stable over attempts (the
webhook-id, the e-mail Message-ID), so a retry is the same message again.
"""

from __future__ import annotations

import logging
import random

from igsc.errors import RejectedInput, TransientFailure
from igsc.records import rejection
from igsc.respond_settings import Team
from igsc.stix_time import instant_ns
from respond.channels import Channel, Outbound, RetryLater, channels_for
from respond.delivery import (
    STORE_CHANNEL,
    Attempted,
    DeliveryJob,
    Purpose,
    RespondContext,
    delivery_record,
    first_message_id,
)
from respond.model import DeliveryStatus, Ticket, delivery_id

log = logging.getLogger(__name__)


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
            job,
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
        job,
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
    job: DeliveryJob,
    status: DeliveryStatus,
    *,
    now: str,
    attempts: int,
    error: str = "",
    delivered: bool = False,
) -> None:
    """Put the outcome of one attempt of the job's delivery on the ticket."""
    record = delivery_record(
        ticket, job.channel, job.purpose, job.revision, status,
        now=now, attempts=attempts, error=error, delivered=delivered,
    )  # fmt: skip
    ctx.store.record_delivery(ticket_id=ticket.id, record=record, now=now)


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
        job,
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
