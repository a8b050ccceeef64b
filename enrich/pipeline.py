"""Builds the enrich stages from settings and ports: extract, merge (which indexes), index.

Which stages exist, what they read and which command runs them is the stage registry's
business (igsc/app/stages.py); this module only knows how to build each enrich stage.
The index stage is not part of the pipeline: it re-reads the indicators topic into an index,
to rebuild one or to feed a second one (`igsc worker index`).
"""

from __future__ import annotations

from collections.abc import Sequence

from enrich.enrichers import default_enrichers
from enrich.extract import ExtractStage
from enrich.indexer import IndexStage
from enrich.merge import MergeStage
from enrich.observations import OBSERVATIONS_TOPIC, QUARANTINE_TOPIC
from enrich.record import Enricher
from igsc.records import INDICATORS_TOPIC
from igsc.settings import Settings
from igsc.wiring import Ports, topic
from igsc.worker import Stage


def enrichers_for(settings: Settings) -> tuple[Enricher, ...]:
    """The default enrichers with the partners' reliabilities."""
    return default_enrichers(
        settings=settings.enrich, reliability_of={p.id: p.reliability for p in settings.partners}
    )


def extract_stage(*, settings: Settings, ports: Ports, enrichers: Sequence[Enricher]) -> Stage:
    """Raw envelopes → observations by canonical observable (quarantine for future-dated)."""
    return ExtractStage(
        state=ports.state,
        observations_topic=topic(settings, OBSERVATIONS_TOPIC),
        quarantine_topic=topic(settings, QUARANTINE_TOPIC),
        reliability_of={p.id: p.reliability for p in settings.partners},
    )


def merge_stage(*, settings: Settings, ports: Ports, enrichers: Sequence[Enricher]) -> Stage:
    """Observations → one enriched, indexed record per observable on the indicators topic."""
    return MergeStage(
        state=ports.state,
        index=ports.index,
        indicators_topic=topic(settings, INDICATORS_TOPIC),
        enrichers=enrichers,
    )


def index_stage(*, settings: Settings, ports: Ports, enrichers: Sequence[Enricher]) -> Stage:
    """The indicators topic → an index (a rebuild, or a second index)."""
    return IndexStage(index=ports.index)
