"""Evidence a rule counts, read from one indicator document of the indicators topic.

A partner's report counts at the time it reached igsc (`received_at`, recorded on the raw
topic, so a replay sees the same times); a sighting at its `last_seen` where given. Reports
that were revoked or have expired (`status` in the document) count for nothing. A sighting
at several countries is one piece of evidence per country.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from igsc.respond_settings import EvidenceKind, Rule
from igsc.stix_time import StixTimeError, format_us, instant_ns
from igsc.tlp import TLP_BY_NAME, Tlp
from respond.model import EvidenceItem

ACTIVE = "active"


@dataclass(frozen=True, slots=True, kw_only=True)
class Timed:
    """One evidence item with its time as an integer, for the window arithmetic."""

    at_us: int
    item: EvidenceItem

    def value(self, *, distinct: str) -> str:
        """What the rule counts distinct values of: the country or the partner."""
        return self.item.country if distinct == "country" else self.item.partner


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleScope:
    """The parts of a rule that decide which documents and evidence it looks at."""

    rule: Rule
    max_level: Tlp
    sectors: frozenset[str]  # empty: any sighting counts

    @classmethod
    def of(cls, *, rule: Rule, critical_sectors: tuple[str, ...]) -> RuleScope:
        """The scope of a rule; `critical` in sighted_sectors stands for the critical ones."""
        sectors: set[str] = set()
        for sector in rule.where.sighted_sectors:
            sectors.update(critical_sectors if sector == "critical" else (sector,))
        return cls(rule=rule, max_level=TLP_BY_NAME[rule.where.max_tlp], sectors=frozenset(sectors))

    def admits(self, *, doc: Mapping[str, Any]) -> bool:
        """True if the document's observable is one the rule is about."""
        where = self.rule.where
        if where.kinds and doc.get("kind") not in where.kinds:
            return False
        if float(doc.get("score") or 0) < where.min_score:
            return False
        if where.tactics and not set(where.tactics) & set(doc.get("tactics") or ()):
            return False
        if where.techniques:
            found = doc.get("techniques") or ()
            return any(_technique_matches(t, wanted) for t in found for wanted in where.techniques)
        return True

    def evidence(self, *, doc: Mapping[str, Any]) -> list[Timed]:
        """Every counted report and sighting of the document, oldest first."""
        wanted = self.rule.where.evidence
        found: list[Timed] = []
        if EvidenceKind.REPORT in wanted:
            for source in doc.get("sources") or ():
                item = self._report(source)
                if item is not None:
                    found.append(item)
        if EvidenceKind.SIGHTING in wanted:
            for sighting in doc.get("sightings") or ():
                found.extend(self._sightings(sighting))
        found.sort(key=_order)
        return found

    def _allowed(self, tlp: str) -> bool:
        return TLP_BY_NAME.get(tlp, Tlp.RED) <= self.max_level

    def _report(self, source: Mapping[str, Any]) -> Timed | None:
        if source.get("status", ACTIVE) != ACTIVE or not self._allowed(source.get("tlp", "red")):
            return None
        at_us = _time_us(source.get("received_at"), source.get("version"))
        if at_us is None:
            return None
        item = EvidenceItem(
            kind=EvidenceKind.REPORT,
            ref=source["stix_id"],
            partner=source["partner"],
            country=source["country"],
            tlp=source.get("tlp", "red"),
            at=format_us(at_us),
            confidence=source.get("confidence"),
        )
        return Timed(at_us=at_us, item=item)

    def _sightings(self, sighting: Mapping[str, Any]) -> list[Timed]:
        tlp = sighting.get("tlp", "red")
        sectors = tuple(sighting.get("sectors") or ())
        if not self._allowed(tlp) or (self.sectors and not self.sectors & set(sectors)):
            return []
        at_us = _time_us(
            sighting.get("last_seen"), sighting.get("received_at"), sighting.get("version")
        )
        if at_us is None:
            return []
        return [
            Timed(
                at_us=at_us,
                item=EvidenceItem(
                    kind=EvidenceKind.SIGHTING,
                    ref=sighting["sighting_id"],
                    partner=sighting["partner"],
                    country=country,
                    tlp=tlp,
                    at=format_us(at_us),
                    count=int(sighting.get("count") or 1),
                    sectors=sectors,
                ),
            )
            for country in sighting.get("countries") or ()
        ]


def _technique_matches(found: str, wanted: str) -> bool:
    """T1486 matches T1486 and its sub-techniques (T1486.001), never T14860."""
    return found == wanted or found.startswith(f"{wanted}.")


def _time_us(*candidates: object) -> int | None:
    """The first candidate that is a STIX timestamp, in microseconds since the epoch."""
    for value in candidates:
        if isinstance(value, str) and value:
            try:
                return instant_ns(value) // 1000
            except StixTimeError:
                continue
    return None


def _order(timed: Timed) -> tuple[int, str, str, str]:
    item = timed.item
    return timed.at_us, item.ref, item.country, item.partner
