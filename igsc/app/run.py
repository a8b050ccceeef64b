"""Process-level runners behind `igsc run --once` and `igsc worker`."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from typing import TextIO

from enrich.pipeline import enrichers_for
from igsc.app.dead_letters import read_dead_letters, reasons_summary
from igsc.app.stages import build_worker, drain_pipeline, stage_spec
from igsc.records import REJECTED_TOPIC, utc_now_iso
from igsc.settings import Settings
from igsc.wiring import open_ports

log = logging.getLogger(__name__)


def run_once(*, settings: Settings, out: TextIO) -> int:
    """Poll every partner collection once, then drain the pipeline; 1 if anything failed."""
    from ingest.poll import poll_all_once

    started_at = utc_now_iso()
    with open_ports(settings) as ports:
        results = poll_all_once(settings=settings, stream=ports.stream, state=ports.state)
        for result in results:
            out.write(result.summary() + "\n")
        handled = drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
        out.write(f"pipeline: {handled}\n")
        # Polling and every stage dead-letter to one topic: what arrived there during this run.
        reasons = [
            letter.reason
            for letter in read_dead_letters(settings=settings, stream=ports.stream)
            if letter.topic == REJECTED_TOPIC and (letter.at or "") >= started_at
        ]
    out.write(f"rejected: {len(reasons)}\n" + reasons_summary(reasons))
    return 0 if all(r.ok for r in results) else 1


def run_worker(*, settings: Settings, stage: str) -> int:
    """Run one stage until SIGINT or SIGTERM; the current batch finishes or is redelivered."""
    spec = stage_spec(stage)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with open_ports(settings) as ports:
        worker = build_worker(
            spec=spec, settings=settings, ports=ports, enrichers=enrichers_for(settings)
        )
        # The geo, ATT&CK and suffix tables are large and live for the whole process: freezing
        # the heap keeps the garbage collector from re-scanning them on every collection.
        gc.freeze()
        log.info("worker %s started", stage)
        try:
            worker.run_forever(stop=stop)
        finally:
            worker.close()
    log.info("worker %s stopped", stage)
    return 0
