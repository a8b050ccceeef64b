"""A deterministic 0-100 score for a merged record, and its age decay applied at read time.

Stored score (no clock involved, so replaying the stream gives identical documents)::

    sat(n, h)   = 1 - 0.5 ** (n / h)          diminishing returns: half credit at n = h
    confidence  = max(source confidence, a missing one counts as default_confidence) / 100
    reliability = max (or mean, reliability_mode) over the reporting partners of the
                  partner's reliability: reliability_of[partner] when given, else the
                  highest reliability stamped on its sources; default_reliability if none
    partners    = sat(distinct partners that reported or sighted it, 1)
    countries   = sat(distinct countries that reported or sighted it, 1)
    sightings   = sat(sum of sighting counts, sightings_half)
    score       = round(100 * sum(weight[f] * f for the five factors f), 2)

Only active sources count: a revoked or expired one (enrich.record.is_withdrawn) adds no
confidence, reliability, partner or country, as it adds none to the document's summary.

Every factor lies in [0, 1] and the weights sum to 1 (validated), so the score lies in
[0, 100]; with reliability_mode "max" it never drops when a source, partner, country or
sighting is added. Defaults: weights 0.30 / 0.25 / 0.20 / 0.10 / 0.15, default_confidence
50, default_reliability 0.5, sightings_half 5.

Read-time decay (exponential half-life, `decayed_score`)::

    decayed = score * 0.5 ** (max(0, now - last_seen) in days / half_life_days)

so a score halves every half_life_days (EnrichSettings.decay_half_life_days, default 30)
after the observable was last seen (a document's `last_seen`: its latest report, validity
start or sighting); no last_seen means no decay, and a last_seen in the future counts as
now. enrich.lookup adds it to every document it returns, as `decayed_score`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from enrich.record import IndicatorRecord, SourceEntry, active_sources, evolve
from igsc.enrich_settings import EnrichSettings
from igsc.stix_time import rfc3339_ns


def saturation(*, n: float, half: float) -> float:
    """1 - 0.5 ** (n / half): 0 at n = 0, 0.5 at n = half, approaching 1."""
    return 1.0 - math.pow(0.5, max(n, 0.0) / half)


_SCORE_CACHE = 65_536


class ScoreEnricher:
    """Sets record.score from confidence, reliability, spread and sightings."""

    name = "score"

    def __init__(
        self, *, settings: EnrichSettings, reliability_of: Mapping[str, float] | None = None
    ) -> None:
        self._settings = settings
        self._reliability_of = dict(reliability_of or {})
        w = settings.score_weights  # read once: this runs for every merged record
        self._weights = (w.confidence, w.reliability, w.partners, w.countries, w.sightings)
        self._scores: dict[tuple[tuple[Any, ...], tuple[Any, ...]], float] = {}

    def _reliability(self, sources: tuple[SourceEntry, ...]) -> float:
        by_partner: dict[str, float] = {}
        for source in sources:
            by_partner[source.partner] = max(
                by_partner.get(source.partner, 0.0), source.reliability
            )
        for partner in by_partner.keys() & self._reliability_of.keys():
            by_partner[partner] = self._reliability_of[partner]
        values = sorted([min(max(r, 0.0), 1.0) for r in by_partner.values()])
        if not values:
            return self._settings.default_reliability
        if self._settings.reliability_mode == "mean":
            return math.fsum(values) / len(values)
        return values[-1]

    def _factors(
        self, sources: tuple[SourceEntry, ...], record: IndicatorRecord
    ) -> tuple[float, float, float, float, float]:
        # One pass, few calls: this runs for every merged record.
        sightings = record.sightings
        default = self._settings.default_confidence
        confidences = [
            default if s.confidence is None else min(max(s.confidence, 0), 100) for s in sources
        ]
        partners = {s.partner for s in sources}
        countries = {s.country for s in sources}
        sighted = 0
        for g in sightings:
            partners.add(g.partner)
            countries.update(g.countries)
            sighted += max(g.count, 0)
        reported = len([c for c in sorted(countries) if c])  # sorted, as record.countries is
        return (
            max(confidences, default=default) / 100,
            self._reliability(sources),
            1.0 - math.pow(0.5, len(partners) / 1.0),  # saturation(n, half=1)
            1.0 - math.pow(0.5, reported / 1.0),
            saturation(n=sighted, half=self._settings.sightings_half),
        )

    def score_of(self, *, record: IndicatorRecord) -> float:
        """The stored 0-100 score of this record (no decay)."""
        # The score depends on these fields only, and their combinations repeat a lot
        # (a handful of partners and confidence levels), so most records hit the cache.
        sources = active_sources(record)
        signature = (
            tuple([(s.partner, s.country, s.confidence, s.reliability) for s in sources]),
            tuple([(g.partner, g.countries, g.count) for g in record.sightings]),
        )
        score = self._scores.get(signature)
        if score is None:
            if len(self._scores) >= _SCORE_CACHE:
                self._scores.clear()
            score = self._scores[signature] = self._compute(sources, record)
        return score

    def _compute(self, sources: tuple[SourceEntry, ...], record: IndicatorRecord) -> float:
        factors = self._factors(sources, record)
        weighted = [w * f for w, f in zip(self._weights, factors, strict=True)]
        return round(min(max(100.0 * math.fsum(weighted), 0.0), 100.0), 2)

    def process(self, *, record: IndicatorRecord) -> IndicatorRecord:
        """The record with its score set (the record itself if the score is already right)."""
        score = self.score_of(record=record)
        return record if score == record.score else evolve(record=record, score=score)


def decayed_score(
    *, score: float, last_seen: str | None, now: datetime, half_life_days: float
) -> float:
    """The score decayed by age: halves every half_life_days after last_seen (RFC 3339)."""
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days}")
    seen_ns = rfc3339_ns(last_seen) if last_seen else None
    if seen_ns is None:
        return score  # undated (or not a date igsc wrote): nothing to decay from
    now_aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    age_days = max(now_aware.timestamp() - seen_ns / 1e9, 0.0) / 86_400
    return score * math.pow(0.5, age_days / half_life_days)
