"""Polls every configured partner collection, each in its own thread, so none waits on another."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from igsc.errors import IgscError
from igsc.ports import State, Stream
from igsc.records import RAW_TOPIC, REJECTED_TOPIC
from igsc.settings import Settings
from igsc.wiring import topic
from ingest.poll.poller import CollectionPoller, Topics
from ingest.poll.result import PollResult, PollTarget

log = logging.getLogger(__name__)


def poll_targets(*, settings: Settings) -> list[PollTarget]:
    """One target per configured collection of every partner that has a taxii_url."""
    return [
        PollTarget(partner=p.id, start_url=p.taxii_url, collection=c)
        for p in settings.partners
        if p.taxii_url
        for c in p.collections
    ]


def poll_one(*, settings: Settings, stream: Stream, state: State, target: PollTarget) -> PollResult:
    """One run over one target; never raises, the result carries any error."""
    started = time.monotonic()
    try:
        poller = CollectionPoller(
            partner=settings.partner(target.partner),
            settings=settings.poll,
            stream=stream,
            state=state,
            topics=Topics(raw=topic(settings, RAW_TOPIC), rejected=topic(settings, REJECTED_TOPIC)),
        )
        result = poller.process(target=target)
    except IgscError as exc:
        result = _failed(target, started, str(exc))
    # A thread/task boundary: a bug in one partner's run must not take the others down.
    except Exception as exc:
        log.exception("poll %s/%s crashed", target.partner, target.collection)
        result = _failed(target, started, f"unexpected {type(exc).__name__}: {exc}")
    log.log(logging.WARNING if result.error else logging.INFO, "%s", result.summary())
    return result


def _failed(target: PollTarget, started: float, error: str) -> PollResult:
    return PollResult(
        partner=target.partner,
        collection=target.collection,
        api_root=None,
        pages=0,
        published=0,
        rejected=0,
        old_checkpoint=None,
        new_checkpoint=None,
        duration_s=round(time.monotonic() - started, 3),
        error=error,
    )


def poll_all_once(*, settings: Settings, stream: Stream, state: State) -> list[PollResult]:
    """Poll every partner collection once, concurrently; results in target order."""
    targets = poll_targets(settings=settings)
    if not targets:
        return []
    workers = min(settings.poll.concurrency, len(targets))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="igsc-poll") as pool:
        futures = [
            pool.submit(poll_one, settings=settings, stream=stream, state=state, target=t)
            for t in targets
        ]
        return [f.result() for f in futures]
