"""Offline enrichers: geo/ASN, registered domain, ATT&CK names and tactics, and a score.

None of them opens a network connection: every fact comes from data files shipped inside
installed packages or named in EnrichSettings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from enrich.record import Enricher, IndicatorRecord
from igsc.enrich_settings import EnrichSettings, ScoreWeights

__all__ = ["EnrichSettings", "ScoreWeights", "default_enrichers", "enrich"]


def default_enrichers(
    *, settings: EnrichSettings, reliability_of: Mapping[str, float] | None = None
) -> tuple[Enricher, ...]:
    """The standard enrichers, in order: geo, domain, attack, score (score reads the rest)."""
    # Imported here, not at module top: importing the package for EnrichSettings should not
    # pull in the geo, PSL and ATT&CK libraries.
    from enrich.enrichers.attack import AttackEnricher
    from enrich.enrichers.domain import DomainEnricher
    from enrich.enrichers.geo import GeoEnricher
    from enrich.enrichers.score import ScoreEnricher

    return (
        GeoEnricher(settings=settings),
        DomainEnricher(settings=settings),
        AttackEnricher(),
        ScoreEnricher(settings=settings, reliability_of=reliability_of),
    )


def enrich(*, record: IndicatorRecord, enrichers: Iterable[Enricher]) -> IndicatorRecord:
    """The record after every enricher, applied in order; the input is left unchanged."""
    for enricher in enrichers:
        record = enricher.process(record=record)
    return record
