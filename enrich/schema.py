"""The `indicators` index: one document per canonical observable.

Withdrawn sources (revoked, or expired: valid until a moment at or before the record's newest
arrival, enrich.record.is_withdrawn) stay in `sources` with their `status`, so a reader sees
the report was withdrawn; every summary field is built from the active sources only, except
`source_tlps` and `tlp_min`, which keep every source's level since its content is still here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from enrich.record import (
    IndicatorRecord,
    SightingEntry,
    SourceEntry,
    is_withdrawn,
    newest_received_ns,
)
from igsc.ports import IndexSchema
from igsc.stix_time import instant_ns
from igsc.tlp import TLP_BY_NAME, Tlp

INDICATORS = IndexSchema(
    name="indicators",
    keyword=(
        "key",
        "kind",
        "value",
        "flags",
        "countries",
        "partners",
        "source_tlps",
        "tlp_min",
        "labels",
        "techniques",
        "tactics",
        "geo_country",
        "registered_domain",
        "public_suffix",
        "sighting_countries",
        "stix_ids",
        "active",
        "sighting_sectors",
        "threats",
    ),
    text=("description", "value_text", "technique_names"),
    date=("first_seen", "last_seen"),
    numeric=(
        "score",
        "confidence",
        "country_count",
        "partner_count",
        "sighting_count",
        "withdrawn_count",
        "asn",
        "version",
    ),
    stored_only=("sources", "sightings", "as_org"),
)
_LABELS = {level: level.label for level in Tlp}  # Enum.name is slow to read per document
_Entry = TypeVar("_Entry", tuple[SourceEntry, str], SightingEntry)
ACTIVE, REVOKED, EXPIRED = "active", "revoked", "expired"  # a source's `status`


def indicator_doc(record: IndicatorRecord) -> dict[str, Any]:
    """The index document of a record: searchable fields plus the full sources."""
    if len(record.sources) == 1 and not record.sightings:
        return _one_source_doc(record)  # most records: no sets, no sorting
    return general_doc(record)


def _record_fields(record: IndicatorRecord) -> dict[str, Any]:
    """The document fields that come from the record itself, not from its sources."""
    return {
        "key": record.key,
        "kind": record.kind,
        "value": record.value,
        "value_text": record.value,
        "flags": list(record.flags),
        "techniques": list(record.techniques),
        "threats": list(record.threats),
        "technique_names": list(record.technique_names),
        "tactics": list(record.tactics),
        "geo_country": record.geo_country,
        "asn": record.asn,
        "as_org": record.as_org,
        "registered_domain": record.registered_domain,
        "public_suffix": record.public_suffix,
        "score": round(record.score, 3),
        "version": record.version,
    }


def _one_source_doc(record: IndicatorRecord) -> dict[str, Any]:
    """indicator_doc of a record with one source and no sightings (same result, faster)."""
    s = record.sources[0]
    if s.revoked or (
        s.valid_until
        and s.received_at
        and instant_ns(s.valid_until) <= instant_ns(s.received_at)  # its own arrival is newest
    ):
        return general_doc(record)  # withdrawn: rare, and nothing left to summarise
    seen = (s.version, s.valid_from) if s.valid_from else (s.version,)
    return {
        **_record_fields(record),
        "active": "true",
        "countries": [s.country],
        "partners": [s.partner],
        "country_count": 1,
        "partner_count": 1,
        "stix_ids": [s.stix_id],
        "source_tlps": [s.tlp],
        "tlp_min": _LABELS[min(Tlp.RED, TLP_BY_NAME.get(s.tlp, Tlp.RED))],
        "labels": sorted(set(s.labels)),
        "sighting_count": 0,
        "sighting_countries": [],
        "sighting_sectors": [],
        "withdrawn_count": 0,
        "confidence": s.confidence,
        "first_seen": _iso_date(min(seen)),
        "last_seen": _iso_date(max(seen)),
        "description": s.description,
        "sources": [_source_doc(s, ACTIVE)],
        "sightings": [],
    }


def general_doc(record: IndicatorRecord) -> dict[str, Any]:
    """indicator_doc for any record."""
    sources, sightings = record.sources, record.sightings
    newest = newest_received_ns(record) if any(s.valid_until for s in sources) else None
    rated = tuple((s, _status(s, newest)) for s in sources)
    facts = _Summary(rated, sightings)
    seen = facts.seen
    return {
        **_record_fields(record),
        "active": "true" if facts.active_count else "false",
        "countries": sorted(facts.countries),  # record.countries, built in the same pass
        "partners": sorted(facts.partners),  # record.partners
        "country_count": len(facts.countries),
        "partner_count": len(facts.partners),
        "stix_ids": sorted(facts.stix_ids),
        "source_tlps": sorted(facts.tlps),  # every source's and sighting's: lookup withholds
        "tlp_min": _LABELS[facts.level],
        "labels": sorted(facts.labels),
        "sighting_count": facts.sighting_count,
        "sighting_countries": sorted(facts.sighting_countries),
        "sighting_sectors": sorted(facts.sighting_sectors),
        "withdrawn_count": len(sources) - facts.active_count,
        "confidence": max(facts.confidences) if facts.confidences else None,
        "first_seen": _iso_date(min(seen)) if seen else None,
        "last_seen": _iso_date(max(seen)) if seen else None,
        "description": " | ".join(sorted(facts.descriptions)),
        "sources": [_source_doc(s, status) for s, status in _ordered(rated, _by_partner_and_id)],
        "sightings": [_sighting_doc(g) for g in _ordered(sightings, _by_sighting_id)],
    }


def _status(s: SourceEntry, newest_ns: int | None) -> str:
    if s.revoked:
        return REVOKED
    return EXPIRED if is_withdrawn(s, newest_ns=newest_ns) else ACTIVE


class _Summary:
    """What the document summarises from sources and sightings, gathered in one pass."""

    __slots__ = (
        "active_count",
        "confidences",
        "countries",
        "descriptions",
        "labels",
        "level",
        "partners",
        "seen",
        "sighting_count",
        "sighting_countries",
        "sighting_sectors",
        "stix_ids",
        "tlps",
    )

    def __init__(
        self,
        rated: tuple[tuple[SourceEntry, str], ...],  # each source with its status
        sightings: tuple[SightingEntry, ...],
    ) -> None:
        self.stix_ids: set[str] = set()
        self.tlps: set[str] = set()
        self.labels: set[str] = set()
        self.descriptions: set[str] = set()
        self.countries: set[str] = set()
        self.partners: set[str] = set()
        self.confidences: list[int] = []
        self.level = Tlp.RED  # no sources: nothing says it may be shared
        self.seen: list[str] = []  # every known time: the first and last seen come from it
        self.active_count = 0
        for s, status in rated:
            self.tlps.add(s.tlp)  # a withdrawn source's content is still in the document
            self.level = min(self.level, TLP_BY_NAME.get(s.tlp, Tlp.RED))
            if status != ACTIVE:
                continue
            self.active_count += 1
            self.stix_ids.add(s.stix_id)
            self.labels.update(s.labels)
            self.countries.add(s.country)
            self.partners.add(s.partner)
            self.seen.append(s.version)
            if s.valid_from:
                self.seen.append(s.valid_from)
            if s.description:
                self.descriptions.add(s.description)
            if s.confidence is not None:
                self.confidences.append(s.confidence)
        self._add_sightings(sightings)

    def _add_sightings(self, sightings: tuple[SightingEntry, ...]) -> None:
        self.sighting_countries: set[str] = set()
        self.sighting_sectors: set[str] = set()
        self.sighting_count = 0
        for g in sightings:
            self.sighting_count += g.count
            self.sighting_countries.update(g.countries)
            self.sighting_sectors.update(g.sectors)
            self.partners.add(g.partner)
            self.tlps.add(g.tlp)  # its facts are in the document: its level withholds it too
            self.seen += [t for t in (g.first_seen, g.last_seen) if t]
        self.countries |= self.sighting_countries


def _ordered(entries: tuple[_Entry, ...], key: Callable[[_Entry], Any]) -> Sequence[_Entry]:
    return entries if len(entries) < 2 else sorted(entries, key=key)


def _by_partner_and_id(rated: tuple[SourceEntry, str]) -> tuple[str, str]:
    return rated[0].partner, rated[0].stix_id


def _by_sighting_id(g: SightingEntry) -> str:
    return g.sighting_id


def _source_doc(s: SourceEntry, status: str) -> dict[str, Any]:
    return {
        "partner": s.partner,
        "country": s.country,
        "stix_id": s.stix_id,
        "version": s.version,
        "tlp": s.tlp,
        "confidence": s.confidence,
        "received_at": s.received_at,
        "status": status,
        "valid_until": s.valid_until,
    }


def _sighting_doc(g: SightingEntry) -> dict[str, Any]:
    return {
        "sighting_id": g.sighting_id,
        "partner": g.partner,
        "countries": list(g.countries),
        "count": g.count,
        "first_seen": g.first_seen,
        "last_seen": g.last_seen,
        "tlp": g.tlp,
        "received_at": g.received_at,
        "sectors": list(g.sectors),
    }


def _iso_date(value: str) -> str:
    """A STIX timestamp trimmed to millisecond precision, which every index keeps exactly."""
    head, _, frac = value.rstrip("Z").partition(".")
    return f"{head}.{(frac + '000')[:3]}Z"
