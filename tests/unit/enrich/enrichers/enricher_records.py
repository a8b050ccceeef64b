"""Records as the merge stage builds them, with realistic defaults, for the enricher tests."""

from __future__ import annotations

import uuid
from typing import Any

from enrich.record import IndicatorRecord, SightingEntry, SourceEntry


def source(
    *,
    partner: str = "cert-fr",
    country: str = "FR",
    confidence: int | None = 80,
    reliability: float = 0.8,
    tlp: str = "amber",
    version: str = "2026-10-01T12:00:00.000Z",
    kill_chain_phases: tuple[str, ...] = (),
) -> SourceEntry:
    """One partner's indicator, with realistic defaults."""
    return SourceEntry(
        stix_id=f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, partner + version)}",
        version=version,
        partner=partner,
        country=country,
        tlp=tlp,
        confidence=confidence,
        reliability=reliability,
        created_by=f"identity--{partner}",
        valid_from=version,
        kill_chain_phases=kill_chain_phases,
    )


def sighting(
    *,
    partner: str = "cert-de",
    countries: tuple[str, ...] = ("DE",),
    count: int = 1,
    last_seen: str | None = "2026-10-02T08:00:00Z",
) -> SightingEntry:
    """One partner's sighting of the indicator."""
    return SightingEntry(
        sighting_id=f"sighting--{partner}",
        version="2026-10-02T08:00:00Z",
        partner=partner,
        countries=countries,
        count=count,
        first_seen="2026-10-01T00:00:00Z",
        last_seen=last_seen,
    )


def record(*, kind: str, value: str, **fields: Any) -> IndicatorRecord:
    """A merged record of this kind and value; one source unless sources= says otherwise."""
    fields.setdefault("sources", (source(),))
    return IndicatorRecord(key=f"{kind}|{value}", kind=kind, value=value, flags=(), **fields)
