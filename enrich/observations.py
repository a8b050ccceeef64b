"""Observation records on the observations topic: what extract tells merge, by observable."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson

from enrich.record import SightingEntry, SourceEntry

OBSERVATIONS_TOPIC = "observations"
QUARANTINE_TOPIC = "quarantine"


def source_op(
    *, key: str, kind: str, value: str, flags: tuple[str, ...], entry: SourceEntry
) -> bytes:
    """A partner reports the observable through one indicator version."""
    return orjson.dumps(
        {
            "op": "source",
            "key": key,
            "kind": kind,
            "value": value,
            "flags": flags,
            "entry": entry,
        }
    )


def retract_op(*, key: str, partner: str, stix_id: str, version: str) -> bytes:
    """A newer indicator version no longer carries the observable."""
    return orjson.dumps(
        {"op": "retract", "key": key, "partner": partner, "stix_id": stix_id, "version": version}
    )


def sighting_op(*, key: str, entry: SightingEntry) -> bytes:
    """A sighting of an indicator carrying the observable."""
    return orjson.dumps({"op": "sighting", "key": key, "entry": entry})


def techniques_op(*, key: str, techniques: tuple[str, ...]) -> bytes:
    """ATT&CK techniques linked to an indicator carrying the observable."""
    return orjson.dumps({"op": "techniques", "key": key, "techniques": techniques})


def source_entry(raw: dict[str, Any]) -> SourceEntry:
    """A SourceEntry from its JSON form."""
    if raw.keys() != _SOURCE_KEYS:  # not the form source_op writes: defaults, or a TypeError
        return SourceEntry(
            **{
                **raw,
                "labels": tuple(raw["labels"]),
                "kill_chain_phases": tuple(raw["kill_chain_phases"]),
            }
        )
    # Positional: matching twelve keywords costs more than building the entry itself.
    return SourceEntry(
        raw["stix_id"],
        raw["version"],
        raw["partner"],
        raw["country"],
        raw["tlp"],
        raw["confidence"],
        raw["reliability"],
        raw["created_by"],
        raw["valid_from"],
        tuple(raw["labels"]),
        tuple(raw["kill_chain_phases"]),
        raw["description"],
    )


def sighting_entry(raw: dict[str, Any]) -> SightingEntry:
    """A SightingEntry from its JSON form."""
    if raw.keys() != _SIGHTING_KEYS:
        return SightingEntry(**{**raw, "countries": tuple(raw["countries"])})
    return SightingEntry(
        raw["sighting_id"],
        raw["version"],
        raw["partner"],
        tuple(raw["countries"]),
        raw["count"],
        raw["first_seen"],
        raw["last_seen"],
    )


_SOURCE_KEYS = frozenset(f.name for f in fields(SourceEntry))
_SIGHTING_KEYS = frozenset(f.name for f in fields(SightingEntry))
