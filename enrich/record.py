"""The merged, enriched record: one per canonical observable, across every partner."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from operator import attrgetter
from typing import Any, Protocol, TypedDict, Unpack

from igsc.stix_time import instant_ns


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceEntry:
    """One partner's report of the observable: one STIX indicator at its latest version.

    Built by keyword only, so reordering the fields can never swap two values. `received_at`
    is when the version reached igsc (its envelope's, from the raw topic: a replay reads the
    same time); None for a source stored before entries carried it."""

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
    received_at: str | None = None
    revoked: bool = False  # the partner withdrew the report (`revoked: true` on this version)
    valid_until: str | None = None


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
    received_at: str | None = None  # the envelope's, like SourceEntry.received_at
    sectors: tuple[str, ...] = ()  # of the sighted identities, sorted, each once


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
    threats: tuple[str, ...] = ()  # campaign, intrusion-set or malware ids it indicates
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
        """Distinct countries of its active reports (active_sources) or sightings, sorted."""
        found = {s.country for s in active_sources(self)}
        for sighting in self.sightings:
            found.update(sighting.countries)
        return tuple(sorted(found))

    @property
    def partners(self) -> tuple[str, ...]:
        """Distinct partners of its active reports (active_sources) or sightings, sorted."""
        reporters = {s.partner for s in active_sources(self)}
        return tuple(sorted(reporters | {s.partner for s in self.sightings}))

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
    threats: tuple[str, ...]
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


def newest_received_ns(record: IndicatorRecord) -> int | None:
    """The latest arrival of any source (withdrawn ones too) or sighting; None if none has one.

    Expiry is judged against it rather than a clock, so a replay builds the same documents."""
    times = [s.received_at for s in record.sources if s.received_at]
    times += [g.received_at for g in record.sightings if g.received_at]
    return max(map(instant_ns, times)) if times else None


def is_withdrawn(source: SourceEntry, *, newest_ns: int | None) -> bool:
    """Revoked, or valid only until a moment at or before the record's newest arrival."""
    if source.revoked:
        return True
    until = source.valid_until
    return until is not None and newest_ns is not None and instant_ns(until) <= newest_ns


def active_sources(record: IndicatorRecord) -> tuple[SourceEntry, ...]:
    """The sources that still count: neither revoked nor expired (is_withdrawn)."""
    sources = record.sources
    for s in sources:  # a plain loop: any() over a generator costs more, per merged record
        if s.revoked or s.valid_until:
            break
    else:
        return sources  # nearly every record: nothing can be withdrawn, no times to compare
    newest = newest_received_ns(record)
    return tuple(s for s in sources if not is_withdrawn(s, newest_ns=newest))


class Enricher(Protocol):
    """A small stage that adds facts to a record; adding an enricher is adding one module."""

    name: str

    def process(self, *, record: IndicatorRecord) -> IndicatorRecord:
        """The record with this enricher's facts: a new one, or the input if it adds nothing."""
        ...
