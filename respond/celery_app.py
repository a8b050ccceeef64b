"""Celery wiring of the respond side: ticket creation, delivery and the escalation sweep.

With `celery_broker_url` set, the respond stage queues tasks through Redis to
`celery -A respond.celery_app worker` (and `beat` for the sweep); empty (the embedded
default), the tasks run in-process, inside the respond worker, with no broker at all.

Tasks are acknowledged late and rejected back to the queue when their worker is lost, so a
killed worker's task runs again; everything they do is idempotent (respond/delivery.py), so
running twice never makes a second ticket or a second delivery with a different id.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown
from kombu.entity import Queue

from igsc.records import REJECTED_TOPIC, utc_now_iso
from igsc.settings import Settings, settings_from_env
from igsc.wiring import LazyPorts, Ports, topic
from respond.attempts import attempt, pending_retries
from respond.delivery import DeliveryJob, Purpose, RespondContext, escalate, open_tickets
from respond.model import Incident, decode_incident, encode
from respond.render import compile_playbooks
from respond.tickets import TicketStore

TICKETS_TASK = "igsc.respond.tickets"
DELIVER_TASK = "igsc.respond.deliver"
SWEEP_TASK = "igsc.respond.sweep"


def respond_queue(*, settings: Settings) -> str:
    """The queue delivery and sweep tasks go to: one per installation namespace."""
    return f"{settings.namespace}.respond"


def tickets_queue(*, settings: Settings) -> str:
    """The queue of ticket creation, apart from deliveries: a new crossing's tickets are
    stored at once, not after every delivery (and retry) queued before them."""
    return f"{settings.namespace}.respond.tickets"


class RespondCelery(Celery):  # type: ignore[misc]
    """A Celery app that carries the settings, ports and clock its tasks run with."""

    def __init__(
        self, *, settings: Settings, ports: Ports | None, clock: Callable[[], str]
    ) -> None:
        super().__init__("igsc-respond", set_as_current=False)
        self.igsc_settings = settings
        self.igsc_ports = LazyPorts(settings=settings, ports=ports)
        self.igsc_clock = clock
        self._context: RespondContext | None = None
        self._lock = threading.Lock()

    def context(self) -> RespondContext:
        """The ticket context of this process, built on first use (after a fork)."""
        with self._lock:
            if self._context is None:
                settings, ports = self.igsc_settings, self.igsc_ports.get()
                self._context = RespondContext(
                    settings=settings.respond,
                    store=TicketStore(state=ports.state, index=ports.index),
                    playbooks=compile_playbooks(playbooks=settings.playbooks),
                    rules={r.id: r for r in settings.rules},
                    teams={t.id: t for t in settings.teams},
                    partners=settings.partners,
                    stream=ports.stream,
                    rejected_topic=topic(settings, REJECTED_TOPIC),
                    clock=self.igsc_clock,
                )
            return self._context

    def enqueue(self, *, jobs: Sequence[DeliveryJob]) -> None:
        """Queue (or, in-process, run) one delivery task per job."""
        task = self.tasks[DELIVER_TASK]
        for job in jobs:
            task.apply_async(
                kwargs={
                    "ticket_id": job.ticket_id,
                    "purpose": job.purpose.value,
                    "revision": job.revision,
                    "channel": job.channel,
                    "step": job.step,
                }
            )

    def sweep(self, *, now: str | None = None) -> int:
        """Escalate SLA breaches and retry due deliveries now; the number of jobs queued."""
        ctx = self.context()
        moment = now or self.igsc_clock()
        # Retries first: the escalations claimed next are recorded pending, and must not be
        # picked up a second time as retries in the same pass.
        retries = pending_retries(ctx=ctx, now=moment)
        jobs = retries + escalate(ctx=ctx, now=moment)
        self.enqueue(jobs=jobs)
        return len(jobs)


class CeleryDispatch:
    """The respond stage's ticket dispatch: one tickets task per incident change."""

    def __init__(self, *, app: RespondCelery) -> None:
        self._app = app

    def dispatch(self, *, incidents: Sequence[Incident]) -> None:
        """Queue the ticket work of each incident version (in-process: do it now)."""
        task = self._app.tasks[TICKETS_TASK]
        for incident in incidents:
            task.apply_async(
                args=[encode(incident).decode()], task_id=f"{incident.id}.v{incident.version}"
            )


def tickets_task(task: Any, incident_json: str) -> int:
    """Open or update every affected team's ticket; queue its deliveries."""
    app: RespondCelery = task.app
    jobs = open_tickets(ctx=app.context(), incident=decode_incident(incident_json))
    app.enqueue(jobs=jobs)
    return len(jobs)


def deliver_task(
    task: Any, *, ticket_id: str, purpose: str, revision: int, channel: str, step: int | None
) -> bool:
    """One delivery attempt; a transient failure is retried after its backoff."""
    app: RespondCelery = task.app
    job = DeliveryJob(
        ticket_id=ticket_id,
        purpose=Purpose(purpose),
        revision=revision,
        channel=channel,
        step=step,
    )
    outcome = attempt(ctx=app.context(), job=job)
    if not outcome.done and not task.request.is_eager:
        # In-process, a retry would block the respond worker: the sweep retries instead.
        raise task.retry(countdown=outcome.retry_in_s, max_retries=None)
    return outcome.done


def sweep_task(task: Any, now: str | None = None) -> int:
    """Beat's periodic pass: escalations once per breach, and due retries."""
    app: RespondCelery = task.app
    return app.sweep(now=now)


def _config(settings: Settings) -> dict[str, Any]:
    common: dict[str, Any] = {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "task_default_queue": respond_queue(settings=settings),
        "task_routes": {TICKETS_TASK: {"queue": tickets_queue(settings=settings)}},
        # A worker consumes both (tickets first); kombu takes from them in turn.
        "task_queues": (
            Queue(tickets_queue(settings=settings)),  # type: ignore[no-untyped-call]
            Queue(respond_queue(settings=settings)),  # type: ignore[no-untyped-call]
        ),
        "task_ignore_result": True,
        "beat_schedule": {
            "respond sweep": {
                "task": SWEEP_TASK,
                "schedule": timedelta(seconds=settings.respond.delivery.escalation_check_s),
                "options": {"expires": settings.respond.delivery.escalation_check_s},
            }
        },
    }
    if settings.embedded_celery:
        return common | {
            "broker_url": "memory://localhost/",
            "task_always_eager": True,
            "task_eager_propagates": True,
        }
    return common | {
        "broker_url": settings.celery_broker_url,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": _redis_redelivery(settings),
    }


def _redis_redelivery(settings: Settings) -> dict[str, Any]:
    """How soon a killed worker's unacknowledged task runs again on Redis.

    kombu looks for tasks past their visibility timeout every `interval * throttle` seconds,
    100 s by default: a killed worker's ticket would wait that long on top of the timeout.
    A look is one ZRANGE on the unacked index, so every few seconds costs nothing."""
    timeout = settings.respond.delivery.visibility_timeout_s
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(10, timeout // 5)),
        "unacked_restore_throttle": 1,
    }


def make_respond_celery(
    *, settings: Settings, ports: Ports | None = None, clock: Callable[[], str] = utc_now_iso
) -> RespondCelery:
    """The respond Celery app; `ports`: the running process's own (in-process Celery)."""
    app = RespondCelery(settings=settings, ports=ports, clock=clock)
    app.conf.update(_config(settings))
    app.task(name=TICKETS_TASK, bind=True)(tickets_task)
    app.task(name=DELIVER_TASK, bind=True)(deliver_task)
    app.task(name=SWEEP_TASK, bind=True)(sweep_task)

    def close_ports(**_: Any) -> None:
        app.igsc_ports.close()

    worker_process_shutdown.connect(close_ports, weak=False)
    worker_shutdown.connect(close_ports, weak=False)
    return app


_app: Celery | None = None
_app_lock = threading.Lock()


def __getattr__(name: str) -> Celery:
    # `celery -A respond.celery_app` reads `app`; building it lazily keeps imports clean.
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _app_lock:
        if _app is None:
            _app = make_respond_celery(settings=settings_from_env())
        return _app
