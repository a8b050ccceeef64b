"""The `indicators` index: one document per canonical observable."""

from __future__ import annotations

from typing import Any

from enrich.record import IndicatorRecord
from igsc.ports import IndexSchema
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
    ),
    text=("description", "value_text", "technique_names"),
    date=("first_seen", "last_seen"),
    numeric=(
        "score",
        "confidence",
        "country_count",
        "partner_count",
        "sighting_count",
        "asn",
        "version",
    ),
    stored_only=("sources", "sightings", "as_org"),
)


def _tlp_label(level: Tlp) -> str:
    return level.label


def indicator_doc(record: IndicatorRecord) -> dict[str, Any]:
    """The index document of a record: searchable fields plus the full sources."""
    levels = [TLP_BY_NAME.get(s.tlp, Tlp.RED) for s in record.sources] or [Tlp.RED]
    seen = [t for s in record.sources for t in (s.valid_from,) if t]
    seen += [t for g in record.sightings for t in (g.first_seen, g.last_seen) if t]
    seen += [s.version for s in record.sources]
    confidences = [s.confidence for s in record.sources if s.confidence is not None]
    return {
        "key": record.key,
        "kind": record.kind,
        "value": record.value,
        "value_text": record.value,
        "flags": list(record.flags),
        "active": "true" if record.sources else "false",
        "countries": list(record.countries),
        "partners": list(record.partners),
        "country_count": len(record.countries),
        "partner_count": len(record.partners),
        "stix_ids": sorted({s.stix_id for s in record.sources}),
        "source_tlps": sorted({s.tlp for s in record.sources}),
        "tlp_min": _tlp_label(min(levels)),
        "labels": sorted({label for s in record.sources for label in s.labels}),
        "techniques": list(record.techniques),
        "technique_names": list(record.technique_names),
        "tactics": list(record.tactics),
        "geo_country": record.geo_country,
        "asn": record.asn,
        "as_org": record.as_org,
        "registered_domain": record.registered_domain,
        "public_suffix": record.public_suffix,
        "sighting_count": sum(g.count for g in record.sightings),
        "sighting_countries": sorted({c for g in record.sightings for c in g.countries}),
        "confidence": max(confidences) if confidences else None,
        "score": round(record.score, 3),
        "first_seen": _iso_date(min(seen)) if seen else None,
        "last_seen": _iso_date(max(seen)) if seen else None,
        "description": " | ".join(sorted({s.description for s in record.sources if s.description})),
        "sources": [
            {
                "partner": s.partner,
                "country": s.country,
                "stix_id": s.stix_id,
                "version": s.version,
                "tlp": s.tlp,
                "confidence": s.confidence,
            }
            for s in sorted(record.sources, key=lambda s: (s.partner, s.stix_id))
        ],
        "sightings": [
            {
                "sighting_id": g.sighting_id,
                "partner": g.partner,
                "countries": list(g.countries),
                "count": g.count,
                "first_seen": g.first_seen,
                "last_seen": g.last_seen,
            }
            for g in sorted(record.sightings, key=lambda g: g.sighting_id)
        ],
        "version": record.version,
    }


def _iso_date(value: str) -> str:
    """A STIX timestamp trimmed to millisecond precision, which every index keeps exactly."""
    head, _, frac = value.rstrip("Z").partition(".")
    return f"{head}.{(frac + '000')[:3]}Z"
