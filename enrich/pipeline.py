"""Wires the enrich stages to the ports: extract → merge (which indexes), each a StreamWorker.

The index stage is not part of the pipeline: it re-reads the indicators topic into an index,
to rebuild one or to feed a second one (`igsc worker index`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from enrich.extract import ExtractStage
from enrich.indexer import IndexStage
from enrich.merge import MergeStage
from enrich.observations import OBSERVATIONS_TOPIC, QUARANTINE_TOPIC
from enrich.record import Enricher
from igsc.ports import Index, State, Stream
from igsc.records import INDICATORS_TOPIC, RAW_TOPIC, REJECTED_TOPIC
from igsc.settings import Settings
from igsc.wiring import topic
from igsc.worker import Stage, StreamWorker

STAGES = ("extract", "merge")
ALL_STAGES = (*STAGES, "index")


@dataclass(frozen=True, slots=True)
class Ports:
    """The three ports a pipeline runs on."""

    stream: Stream
    index: Index
    state: State


def build_stage(
    *, name: str, settings: Settings, ports: Ports, enrichers: Sequence[Enricher]
) -> Stage:
    """One enrich stage by name."""
    if name == "extract":
        return ExtractStage(
            state=ports.state,
            observations_topic=topic(settings, OBSERVATIONS_TOPIC),
            quarantine_topic=topic(settings, QUARANTINE_TOPIC),
            reliability_of={p.id: p.reliability for p in settings.partners},
        )
    if name == "merge":
        return MergeStage(
            state=ports.state,
            index=ports.index,
            indicators_topic=topic(settings, INDICATORS_TOPIC),
            enrichers=enrichers,
        )
    if name == "index":
        return IndexStage(index=ports.index)
    raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(ALL_STAGES)}")


_INPUT = {"extract": RAW_TOPIC, "merge": OBSERVATIONS_TOPIC, "index": INDICATORS_TOPIC}


def build_worker(
    *,
    name: str,
    settings: Settings,
    ports: Ports,
    enrichers: Sequence[Enricher],
    generation: str = "",
) -> StreamWorker:
    """A StreamWorker running one stage in its own consumer group.

    A new `generation` is a new consumer group, which reads its topic from the start: a replay.
    """
    return StreamWorker(
        stream=ports.stream,
        group=f"{settings.namespace}.{name}{generation}",
        topics=[topic(settings, _INPUT[name])],
        stage=build_stage(name=name, settings=settings, ports=ports, enrichers=enrichers),
        rejected_topic=topic(settings, REJECTED_TOPIC),
        batch_size=settings.stream.batch_size,
        poll_timeout_s=settings.stream.poll_timeout_s,
    )


def drain_pipeline(
    *, settings: Settings, ports: Ports, enrichers: Sequence[Enricher], generation: str = ""
) -> dict[str, int]:
    """Run every stage until the whole pipeline is idle; messages handled per stage."""
    workers = {
        n: build_worker(
            name=n, settings=settings, ports=ports, enrichers=enrichers, generation=generation
        )
        for n in STAGES
    }
    handled = dict.fromkeys(STAGES, 0)
    try:
        while True:
            round_total = 0
            for name, worker in workers.items():
                taken = worker.drain(idle_polls=1)
                handled[name] += taken
                round_total += taken
            if round_total == 0:
                return handled
    finally:
        for worker in workers.values():
            worker.close()
