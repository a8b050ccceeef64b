"""The merged, enriched record: one per canonical observable, across every partner."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One partner's report of the observable: one STIX indicator at its latest version."""

    stix_id: str
    version: str  # the indicator's `modified`
    partner: str
    country: str
    tlp: str
    confidence: int | None
    reliability: float
    created_by: str | None
    valid_from: str | None
    labels: tuple[str, ...] = ()
    kill_chain_phases: tuple[str, ...] = ()  # "kill_chain_name:phase_name"
    description: str = ""


@dataclass(frozen=True, slots=True)
class SightingEntry:
    """One STIX sighting of an indicator that carries the observable."""

    sighting_id: str
    version: str
    partner: str
    countries: tuple[str, ...]
    count: int
    first_seen: str | None
    last_seen: str | None


@dataclass(frozen=True, slots=True)
class IndicatorRecord:
    """Everything known about one observable; enrichers return a new one, never mutate."""

    key: str  # "{kind}|{value}": the dedup key and the index document id
    kind: str
    value: str
    flags: tuple[str, ...]
    sources: tuple[SourceEntry, ...]
    sightings: tuple[SightingEntry, ...] = ()
    techniques: tuple[str, ...] = ()  # ATT&CK ids, e.g. "T1566.001"
    technique_names: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    geo_country: str | None = None
    asn: int | None = None
    as_org: str | None = None
    registered_domain: str | None = None
    public_suffix: str | None = None
    score: float = 0.0
    version: int = 0

    @property
    def countries(self) -> tuple[str, ...]:
        """Distinct countries that reported or sighted it, sorted."""
        found = {s.country for s in self.sources}
        for sighting in self.sightings:
            found.update(sighting.countries)
        return tuple(sorted(found))

    @property
    def partners(self) -> tuple[str, ...]:
        """Distinct partners that reported or sighted it, sorted."""
        return tuple(
            sorted({s.partner for s in self.sources} | {s.partner for s in self.sightings})
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data for serialisation."""
        return asdict(self)


class Enricher(Protocol):
    """A small stage that adds facts to a record; adding an enricher is adding one module."""

    name: str

    def process(self, *, record: IndicatorRecord) -> IndicatorRecord:
        """Return a new record with this enricher's facts; never mutate the input."""
        ...
