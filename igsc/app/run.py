"""Process-level runners behind `igsc run --once` and `igsc worker`."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from typing import TextIO

from enrich.enrichers import default_enrichers
from enrich.pipeline import Ports, build_worker, drain_pipeline
from enrich.record import Enricher
from igsc.ports import Index, State, Stream
from igsc.settings import Settings
from igsc.wiring import build_index, build_state, build_stream

log = logging.getLogger(__name__)


def open_ports(settings: Settings) -> Ports:
    """The three ports the settings select."""
    stream: Stream = build_stream(settings)
    index: Index = build_index(settings)
    state: State = build_state(settings)
    return Ports(stream=stream, index=index, state=state)


def close_ports(ports: Ports) -> None:
    """Close every port."""
    for port in (ports.stream, ports.index, ports.state):
        port.close()


def enrichers_for(settings: Settings) -> tuple[Enricher, ...]:
    """The default enrichers with the partners' reliabilities."""
    return default_enrichers(
        settings=settings.enrich, reliability_of={p.id: p.reliability for p in settings.partners}
    )


def run_once(*, settings: Settings, out: TextIO) -> int:
    """Poll every partner collection once, then drain the pipeline; 1 if anything failed."""
    from ingest.poll import poll_all_once

    ports = open_ports(settings)
    try:
        results = poll_all_once(settings=settings, stream=ports.stream, state=ports.state)
        for result in results:
            out.write(result.summary() + "\n")
        handled = drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
        out.write(f"pipeline: {handled}\n")
    finally:
        close_ports(ports)
    return 0 if all(r.ok for r in results) else 1


def run_worker(*, settings: Settings, stage: str) -> int:
    """Run one stage until SIGINT or SIGTERM; the current batch finishes or is redelivered."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ports = open_ports(settings)
    worker = build_worker(
        name=stage, settings=settings, ports=ports, enrichers=enrichers_for(settings)
    )
    # The geo, ATT&CK and suffix tables are large and live for the whole process: freezing the
    # heap keeps the garbage collector from re-scanning them on every collection.
    gc.freeze()
    log.info("worker %s started", stage)
    try:
        worker.run_forever(stop=stop)
    finally:
        worker.close()
        close_ports(ports)
    log.info("worker %s stopped", stage)
    return 0
