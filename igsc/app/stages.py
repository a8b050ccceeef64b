"""The stage registry: every stream stage named once, with its input, group and factory.

`igsc worker NAME` offers exactly these names, `igsc run --once` and the demo drain the ones
marked `in_pipeline`, in registry order. A new stage is one more entry in STAGES.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from enrich.observations import OBSERVATIONS_TOPIC
from enrich.pipeline import extract_stage, index_stage, merge_stage
from enrich.record import Enricher
from igsc.records import INDICATORS_TOPIC, RAW_TOPIC, REJECTED_TOPIC
from igsc.settings import Settings
from igsc.wiring import Ports, topic
from igsc.worker import Stage, StreamWorker
from respond.pipeline import build_respond_stage, build_threat_stage
from respond.threats import THREAT_EVIDENCE_TOPIC


class StageFactory(Protocol):
    """Builds a stage from the process's settings, ports and enrichers."""

    def __call__(
        self, *, settings: Settings, ports: Ports, enrichers: Sequence[Enricher]
    ) -> Stage: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StageSpec:
    """One stage: what it reads, which consumer group it joins, how it is built."""

    name: str
    input_topics: tuple[str, ...]  # without the namespace prefix
    group: str  # consumer group, without the namespace prefix
    factory: StageFactory
    in_pipeline: bool  # drained by `igsc run --once` and the demo
    summary: str  # one line for `igsc worker --help`


def respond_stage(*, settings: Settings, ports: Ports, enrichers: Sequence[Enricher]) -> Stage:
    """indicators → incidents and tickets (the enrichers are not needed)."""
    return build_respond_stage(settings=settings, ports=ports)


def threat_stage(*, settings: Settings, ports: Ports, enrichers: Sequence[Enricher]) -> Stage:
    """threat evidence → incidents on shared campaigns, intrusion sets and malware."""
    return build_threat_stage(settings=settings, ports=ports)


STAGES: tuple[StageSpec, ...] = (
    StageSpec(
        name="extract",
        input_topics=(RAW_TOPIC,),
        group="extract",
        factory=extract_stage,
        in_pipeline=True,
        summary="raw objects → observations by canonical observable",
    ),
    StageSpec(
        name="merge",
        input_topics=(OBSERVATIONS_TOPIC,),
        group="merge",
        factory=merge_stage,
        in_pipeline=True,
        summary="observations → one enriched record per observable, indexed",
    ),
    StageSpec(
        name="index",
        input_topics=(INDICATORS_TOPIC,),
        group="index",
        factory=index_stage,
        in_pipeline=False,
        summary="re-read the indicators topic into an index (a rebuild, or a second index)",
    ),
    StageSpec(
        name="respond",
        input_topics=(INDICATORS_TOPIC,),
        group="respond",
        factory=respond_stage,
        in_pipeline=True,
        summary="indicators → cross-border incidents and each affected team's ticket",
    ),
    StageSpec(
        name="respond-threats",
        input_topics=(THREAT_EVIDENCE_TOPIC,),
        group="respond-threats",
        factory=threat_stage,
        in_pipeline=True,
        summary="threat evidence → incidents on a campaign, intrusion set or malware",
    ),
)


def stage_names() -> tuple[str, ...]:
    """Every registered stage name, in registry order."""
    return tuple(spec.name for spec in STAGES)


def pipeline_stages() -> tuple[StageSpec, ...]:
    """The stages a one-pass run drains, in order."""
    return tuple(spec for spec in STAGES if spec.in_pipeline)


def stage_spec(name: str) -> StageSpec:
    """The registered stage with this name."""
    for spec in STAGES:
        if spec.name == name:
            return spec
    raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(stage_names())}")


def build_worker(
    *,
    spec: StageSpec,
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
        group=f"{settings.namespace}.{spec.group}{generation}",
        topics=[topic(settings, name) for name in spec.input_topics],
        stage=spec.factory(settings=settings, ports=ports, enrichers=enrichers),
        rejected_topic=topic(settings, REJECTED_TOPIC),
        batch_size=settings.stream.batch_size,
        poll_timeout_s=settings.stream.poll_timeout_s,
        stall_warning_s=settings.stream.stall_warning_s,
    )


def drain_pipeline(
    *, settings: Settings, ports: Ports, enrichers: Sequence[Enricher], generation: str = ""
) -> dict[str, int]:
    """Run every pipeline stage until the whole pipeline is idle; messages handled per stage."""
    workers = {
        spec.name: build_worker(
            spec=spec, settings=settings, ports=ports, enrichers=enrichers, generation=generation
        )
        for spec in pipeline_stages()
    }
    handled = dict.fromkeys(workers, 0)
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
