"""Settings of the offline enrichers: data files, cache size, score weights and decay.

Part of the shared settings model (igsc.settings embeds EnrichSettings), so it lives in the
core and the enrich package reads it from here; it imports nothing but pydantic.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ScoreWeights(BaseModel):
    """How much each factor counts in the 0-100 score; the five weights sum to 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    confidence: float = Field(default=0.30, ge=0, le=1)  # highest STIX confidence of any source
    reliability: float = Field(default=0.25, ge=0, le=1)  # how far we trust the reporters
    partners: float = Field(default=0.20, ge=0, le=1)  # distinct partners who saw it
    countries: float = Field(default=0.10, ge=0, le=1)  # distinct countries who saw it
    sightings: float = Field(default=0.15, ge=0, le=1)  # total sighting count

    @model_validator(mode="after")
    def _sum_to_one(self) -> ScoreWeights:
        total = math.fsum(
            (self.confidence, self.reliability, self.partners, self.countries, self.sightings)
        )
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ValueError(f"score weights must sum to 1, they sum to {total:g}")
        return self


class EnrichSettings(BaseModel):
    """Everything the offline enrichers read; nothing here ever names a network service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # MaxMind-format databases (GeoLite2/GeoIP2, DB-IP lite, IPinfo lite); when one is unset
    # its facts come from the data file bundled with geoip2fast.
    geoip_country_mmdb: Path | None = None
    geoip_asn_mmdb: Path | None = None
    # Treat PSL private suffixes (duckdns.org, github.io, ...) as suffixes, so that
    # evil.duckdns.org groups on its own and not with every other dynamic-DNS customer.
    psl_private_domains: bool = True
    cache_size: int = Field(default=65_536, ge=0, le=10_000_000)  # per enricher, LRU entries

    score_weights: ScoreWeights = ScoreWeights()
    default_confidence: int = Field(default=50, ge=0, le=100)  # a source without confidence
    default_reliability: float = Field(default=0.5, ge=0, le=1)  # a partner we know nothing of
    reliability_mode: Literal["max", "mean"] = "max"  # max keeps the score monotonic
    sightings_half: float = Field(default=5.0, gt=0, le=1_000_000)  # sightings for half credit
    decay_half_life_days: float = Field(default=30.0, gt=0, le=36_500)

    @field_validator("geoip_country_mmdb", "geoip_asn_mmdb")
    @classmethod
    def _mmdb_file_exists(cls, value: Path | None) -> Path | None:
        # Checked at start-up so a typo exits naming the key, not at the first IP address.
        if value is not None and not value.is_file():
            raise ValueError(f"file {value} does not exist")
        return value
