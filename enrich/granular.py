"""Granular TLP markings on an indicator: the level of its source entry, and what it may carry.

A source entry is merged into documents that any reader cleared for the entry's TLP sees, so
it may hold only what that level allows:

* a granular marking on a field that makes the observable (the pattern, its type and version,
  the validity window) or names the object's identity and version raises the entry's TLP to
  the marking's level: the observable itself is marked that high;
* any other field the entry copies (name, description, labels, ...) is left out when a marking
  on it, or on a part of it (`labels.[1]`), is stricter than the entry's TLP. The whole object
  stays in the TAXII store, where each reader gets the redacted view it is cleared for.

A sighting entry copies only facts of the sighting (what it sighted, where, how often, when),
so a marking on any of them raises the sighting's TLP (`sighting_level`).

A `lang` marking is no TLP marking and is ignored; an unrecognised marking_ref counts as RED.
"""

from __future__ import annotations

import msgspec

from igsc.stix_schema import (
    ExternalReference,
    GranularMarking,
    Indicator,
    KillChainPhase,
    Sighting,
)
from igsc.tlp import IDENTITY_FIELDS, Tlp, granular_tlp

# A marking on any of these marks the observable (or the entry's id and version) itself.
OBSERVABLE_FIELDS = (
    frozenset({"pattern", "pattern_type", "pattern_version", "valid_from", "valid_until"})
    | IDENTITY_FIELDS
)
# Everything a sighting entry is built from: a marking on any of them marks the entry.
SIGHTING_FIELDS = (
    frozenset(
        {
            "sighting_of_ref",
            "where_sighted_refs",
            "count",
            "first_seen",
            "last_seen",
            "observed_data_refs",
        }
    )
    | IDENTITY_FIELDS
)


class IndicatorView(msgspec.Struct, frozen=True, kw_only=True):
    """What a source entry may carry of one indicator: its level, withheld fields emptied."""

    level: Tlp
    name: str | None
    description: str | None
    labels: tuple[str, ...]
    kill_chain_phases: tuple[KillChainPhase, ...]
    confidence: int | None
    indicator_types: tuple[str, ...]
    external_references: tuple[ExternalReference, ...]


def indicator_view(*, indicator: Indicator, level: Tlp) -> IndicatorView:
    """The indicator as a source entry at `level` (its object TLP) may show it."""
    markings = indicator.granular_markings
    if not markings:  # nearly every indicator: nothing to look up
        return IndicatorView(
            level=level,
            name=indicator.name,
            description=indicator.description,
            labels=indicator.labels,
            kill_chain_phases=indicator.kill_chain_phases,
            confidence=indicator.confidence,
            indicator_types=indicator.indicator_types,
            external_references=indicator.external_references,
        )
    marked = field_levels(markings=markings)
    for field_name in OBSERVABLE_FIELDS.intersection(marked):
        level = max(level, marked[field_name])
    withheld = {field_name for field_name, mark in marked.items() if mark > level}
    return IndicatorView(
        level=level,
        name=None if "name" in withheld else indicator.name,
        description=None if "description" in withheld else indicator.description,
        labels=() if "labels" in withheld else indicator.labels,
        kill_chain_phases=() if "kill_chain_phases" in withheld else indicator.kill_chain_phases,
        confidence=None if "confidence" in withheld else indicator.confidence,
        indicator_types=() if "indicator_types" in withheld else indicator.indicator_types,
        external_references=(
            () if "external_references" in withheld else indicator.external_references
        ),
    )


def sighting_level(*, sighting: Sighting, level: Tlp) -> Tlp:
    """The TLP of a sighting entry: `level` (its object TLP) raised to the strictest granular
    marking on a field the entry is built from."""
    markings = sighting.granular_markings
    if not markings:  # nearly every sighting
        return level
    marked = field_levels(markings=markings)
    for field_name in SIGHTING_FIELDS.intersection(marked):
        level = max(level, marked[field_name])
    return level


def field_levels(*, markings: tuple[GranularMarking, ...]) -> dict[str, Tlp]:
    """The strictest TLP marked on each top-level field, by any selector on it or inside it."""
    levels: dict[str, Tlp] = {}
    for marking in markings:
        mark = granular_tlp(marking=marking)
        if mark is None:
            continue
        for selector in marking.selectors:
            # Withholding is per field: a marking on `labels.[1]` withholds all the labels.
            field_name = selector.partition(".")[0]
            if mark > levels.get(field_name, Tlp.CLEAR):
                levels[field_name] = mark
    return levels
