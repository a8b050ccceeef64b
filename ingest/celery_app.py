"""Celery wiring of the poll side: one task per partner collection, scheduled by beat.

With `celery_broker_url` set, tasks go through Redis to `celery -A ingest.celery_app worker`;
empty (the embedded default), tasks run in-process with no broker at all.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

from igsc.settings import Settings, settings_from_env
from igsc.wiring import LazyPorts
from ingest.poll.result import PollTarget
from ingest.poll.runner import poll_one

TASK_NAME = "igsc.poll_collection"


def task_queue(*, settings: Settings) -> str:
    """The queue poll tasks go to: one per installation namespace."""
    return f"{settings.namespace}.poll"


def beat_schedule(*, settings: Settings) -> dict[str, dict[str, Any]]:
    """One beat entry per partner collection, every partner's poll_interval_s."""
    schedule: dict[str, dict[str, Any]] = {}
    for partner in settings.partners:
        if not partner.taxii_url:
            continue
        for collection in partner.collections:
            schedule[f"poll {partner.id}/{collection}"] = {
                "task": TASK_NAME,
                "schedule": timedelta(seconds=partner.poll_interval_s),
                "args": (partner.id, partner.taxii_url, collection),
                # A run still queued when the next one is due is dropped, not piled up.
                "options": {"expires": partner.poll_interval_s},
            }
    return schedule


def _config(settings: Settings) -> dict[str, Any]:
    common: dict[str, Any] = {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "beat_schedule": beat_schedule(settings=settings),
        "task_default_queue": task_queue(settings=settings),
    }
    if settings.embedded_celery:
        return common | {
            "broker_url": "memory://localhost/",
            "result_backend": "cache+memory://",
            "task_always_eager": True,
            "task_eager_propagates": True,
        }
    return common | {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_broker_url,
        "result_expires": 86400,
        "task_acks_late": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        # A run may page for a long time; Redis must not hand it to a second worker meanwhile.
        "broker_transport_options": {"visibility_timeout": 4 * 3600},
    }


class IgscCelery(Celery):  # type: ignore[misc]
    """A Celery app that carries the settings and ports its tasks run with."""

    def __init__(self, *, settings: Settings) -> None:
        super().__init__("igsc", set_as_current=False)
        self.igsc_settings = settings
        self.igsc_ports = LazyPorts(settings=settings)


def poll_collection(
    task: Any, partner_id: str, api_root_url: str, collection_id: str
) -> dict[str, Any]:
    """Poll one partner collection once; the result as a dict."""
    app: IgscCelery = task.app
    ports = app.igsc_ports.get()
    target = PollTarget(partner=partner_id, start_url=api_root_url, collection=collection_id)
    return poll_one(
        settings=app.igsc_settings, stream=ports.stream, state=ports.state, target=target
    ).to_dict()


def make_celery(*, settings: Settings) -> Celery:
    """A Celery app with the poll task; in-process (eager) when no broker is configured."""
    app = IgscCelery(settings=settings)
    app.conf.update(_config(settings))
    # One module-level callable for every app: the task reads settings from its own app.
    app.task(name=TASK_NAME, bind=True)(poll_collection)

    def close_ports(**_: Any) -> None:
        app.igsc_ports.close()

    # A pool process (prefork) and the worker itself (solo pool) close what they opened.
    worker_process_shutdown.connect(close_ports, weak=False)
    worker_shutdown.connect(close_ports, weak=False)
    return app


_app: Celery | None = None
_app_lock = threading.Lock()


def __getattr__(name: str) -> Celery:
    # `celery -A ingest.celery_app` reads `app`; building it lazily keeps imports side-effect free.
    global _app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _app_lock:
        if _app is None:
            _app = make_celery(settings=settings_from_env())
        return _app
