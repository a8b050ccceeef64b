"""The merged, enriched record: one per canonical observable, across every partner."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from operator import attrgetter
from typing import Any, Protocol, TypedDict, Unpack


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceEntry:
    """One partner's report of the observable: one STIX indicator at its latest version.

    Built by keyword only, so reordering the fields can never swap two values."""

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


@dataclass(frozen=True, slots=True, kw_only=True)
class SightingEntry:
    """One STIX sighting of an indicator that carries the observable (built by keyword).

    `tlp` is the sighting's level label, like SourceEntry.tlp: its object TLP raised to the
    strictest granular marking on a field the entry copies. A sighting stored or sent before
    entries carried it decodes as RED: nothing said it may be shared."""

    sighting_id: str
    version: str
    partner: str
    countries: tuple[str, ...]
    count: int
    first_seen: str | None
    last_seen: str | None
    tlp: str = "red"


@dataclass(frozen=True, slots=True)
class IndicatorRecord:
    """Everything known about one observable; immutable, so enrichers never change it."""

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


class RecordChanges(TypedDict, total=False):
    """Fields evolve() may change: IndicatorRecord's, with the same names and types."""

    key: str
    kind: str
    value: str
    flags: tuple[str, ...]
    sources: tuple[SourceEntry, ...]
    sightings: tuple[SightingEntry, ...]
    techniques: tuple[str, ...]
    technique_names: tuple[str, ...]
    tactics: tuple[str, ...]
    geo_country: str | None
    asn: int | None
    as_org: str | None
    registered_domain: str | None
    public_suffix: str | None
    score: float
    version: int


_FIELDS = tuple(f.name for f in fields(IndicatorRecord))
_FIELD_VALUES = attrgetter(*_FIELDS)
_POSITION = {name: i for i, name in enumerate(_FIELDS)}


def evolve(*, record: IndicatorRecord, **changes: Unpack[RecordChanges]) -> IndicatorRecord:
    """A copy with some fields changed, like dataclasses.replace at a third of its cost.

    Records are copied several times per merged observation, and replace() walks every field
    in Python; this reads them in one C call and builds the copy positionally.
    """
    values = list(_FIELD_VALUES(record))
    for name, value in changes.items():
        values[_POSITION[name]] = value
    return IndicatorRecord(*values)


class Enricher(Protocol):
    """A small stage that adds facts to a record; adding an enricher is adding one module."""

    name: str

    def process(self, *, record: IndicatorRecord) -> IndicatorRecord:
        """The record with this enricher's facts: a new one, or the input if it adds nothing."""
        ...
