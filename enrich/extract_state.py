"""Extract's per-STIX-id state: typed maps for one batch, read once and written once.

On disk (the State port) indicator versions are packed rows in the `sid` table; pending
sightings, location countries, identity sectors and ATT&CK ids are JSON values under the keys
`pend:<indicator id>`, `loc:<id>`, `sec:<id>` and `ap:<id>`. Those names are built here only.
Links that arrived before their indicator (an `indicates` or `uses` relationship to a threat or
a technique) wait in the `links` table, one row per indicator id, emptied once taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import msgspec

from enrich.extract_codec import (
    SID_TABLE,
    IndicatorVersions,
    decode_sid,
    encode_sid,
    sid_row_key,
)
from enrich.observations import SightingOp
from enrich.record import SightingEntry
from igsc.packing import CorruptRow, Names
from igsc.ports import State
from igsc.stix_time import is_later

_PENDING, _COUNTRY, _SECTORS, _TECHNIQUE = "pend:", "loc:", "sec:", "ap:"
LINKS_TABLE = "links"


class PendingLinks(msgspec.Struct, frozen=True, kw_only=True):
    """What relationships said about an indicator extract did not know yet."""

    techniques: tuple[str, ...] = ()  # ATT&CK technique ids
    threats: tuple[str, ...] = ()  # campaign, intrusion-set or malware ids

    def merged(self, *, technique: str | None, threat: str | None) -> PendingLinks:
        return PendingLinks(
            techniques=_with(self.techniques, technique), threats=_with(self.threats, threat)
        )


_ENCODER = msgspec.json.Encoder()
_PENDING_DECODER = msgspec.json.Decoder(tuple[SightingOp, ...])
_TEXT_DECODER = msgspec.json.Decoder(str)
_WORDS_DECODER = msgspec.json.Decoder(tuple[str, ...])
_LINKS_DECODER = msgspec.json.Decoder(PendingLinks)


@dataclass(slots=True, kw_only=True)
class StateNeeds:
    """The STIX ids whose state a batch reads, by kind of state."""

    versions: set[str] = field(default_factory=set)  # indicator ids
    pending: set[str] = field(default_factory=set)  # indicator ids
    countries: set[str] = field(default_factory=set)  # location or identity ids
    sectors: set[str] = field(default_factory=set)  # identity ids
    techniques: set[str] = field(default_factory=set)  # attack-pattern ids
    links: set[str] = field(default_factory=set)  # indicator ids


@dataclass(slots=True, kw_only=True)
class ExtractBatch:
    """The working set of one batch; what changed is written after publishing."""

    versions: dict[str, IndicatorVersions]  # by indicator id
    pending: dict[str, tuple[SightingEntry, ...]]  # sightings waiting, by indicator id
    countries: dict[str, str]  # location or identity id -> country code
    techniques: dict[str, str]  # attack-pattern id -> ATT&CK technique id
    sectors: dict[str, tuple[str, ...]] = field(default_factory=dict)  # identity id -> sectors
    links: dict[str, PendingLinks] = field(default_factory=dict)  # waiting, by indicator id
    changed_links: set[str] = field(default_factory=set)  # rewritten (empty once taken)
    changed_versions: set[str] = field(default_factory=set)
    changed_pending: set[str] = field(default_factory=set)
    changed_countries: set[str] = field(default_factory=set)
    changed_sectors: set[str] = field(default_factory=set)
    changed_techniques: set[str] = field(default_factory=set)
    flushed_pending: set[str] = field(default_factory=set)  # to delete

    def set_versions(self, stix_id: str, record: IndicatorVersions) -> None:
        self.versions[stix_id] = record
        self.changed_versions.add(stix_id)

    def add_pending(self, indicator_id: str, entry: SightingEntry) -> None:
        """Holds the sighting for its indicator; of one sighting, only its latest version."""
        waiting = self.pending.get(indicator_id, ())
        same = [g for g in waiting if g.sighting_id == entry.sighting_id]
        if same and not is_later(entry.version, than=same[0].version):
            return
        others = tuple(g for g in waiting if g.sighting_id != entry.sighting_id)
        self.pending[indicator_id] = (*others, entry)
        self.changed_pending.add(indicator_id)
        self.flushed_pending.discard(indicator_id)

    def take_pending(self, indicator_id: str) -> tuple[SightingEntry, ...]:
        """The sightings waiting for the indicator; they are forgotten once taken."""
        taken = self.pending.pop(indicator_id, ())
        if taken:
            self.changed_pending.discard(indicator_id)
            self.flushed_pending.add(indicator_id)
        return taken

    def add_link(self, indicator_id: str, *, technique: str | None, threat: str | None) -> None:
        """Holds a relationship's technique or threat until its indicator arrives."""
        held = self.links.get(indicator_id, PendingLinks())
        self.links[indicator_id] = held.merged(technique=technique, threat=threat)
        self.changed_links.add(indicator_id)

    def take_links(self, indicator_id: str) -> PendingLinks | None:
        """The links waiting for the indicator; forgotten once taken."""
        taken = self.links.pop(indicator_id, None)
        if taken is not None:
            self.changed_links.add(indicator_id)
        return taken

    def set_country(self, stix_id: str, country: str) -> None:
        self.countries[stix_id] = country
        self.changed_countries.add(stix_id)

    def set_sectors(self, stix_id: str, sectors: tuple[str, ...]) -> None:
        self.sectors[stix_id] = sectors
        self.changed_sectors.add(stix_id)

    def set_technique(self, stix_id: str, technique: str) -> None:
        self.techniques[stix_id] = technique
        self.changed_techniques.add(stix_id)

    @property
    def changed(self) -> bool:
        return bool(
            self.changed_versions
            or self.changed_pending
            or self.changed_countries
            or self.changed_sectors
            or self.changed_techniques
            or self.flushed_pending
            or self.changed_links
        )


class ExtractStateStore:
    """Reads a batch's state in two calls and writes what changed in up to three."""

    def __init__(self, *, state: State, names: Names) -> None:
        self._state = state
        self._names = names

    def load(self, needs: StateNeeds) -> ExtractBatch:
        """The stored state of every id in `needs` (absent ids are simply missing)."""
        by_row = {sid_row_key(stix_id): stix_id for stix_id in needs.versions}
        rows = self._state.get_rows(table=SID_TABLE, keys=list(by_row)) if by_row else {}
        link_rows = {sid_row_key(stix_id): stix_id for stix_id in needs.links}
        links = self._state.get_rows(table=LINKS_TABLE, keys=list(link_rows)) if link_rows else {}
        keys = sorted(
            [
                *_named(_PENDING, needs.pending),
                *_named(_COUNTRY, needs.countries),
                *_named(_SECTORS, needs.sectors),
                *_named(_TECHNIQUE, needs.techniques),
            ]
        )
        found = self._state.get_many(keys=keys) if keys else {}
        batch = ExtractBatch(
            versions={
                by_row[row]: decode_sid(data, names=self._names) for row, data in rows.items()
            },
            pending={},
            countries={},
            techniques={},
        )
        for row, data in links.items():
            if not data:
                continue  # taken
            try:
                batch.links[link_rows[row]] = _LINKS_DECODER.decode(data)
            except msgspec.DecodeError as exc:
                raise CorruptRow(f"pending links of {link_rows[row]!r}: {exc}") from exc
        for key, value in found.items():
            try:
                if key.startswith(_PENDING):
                    ops = _PENDING_DECODER.decode(value)
                    batch.pending[key[len(_PENDING) :]] = tuple(op.entry for op in ops)
                elif key.startswith(_COUNTRY):
                    batch.countries[key[len(_COUNTRY) :]] = _TEXT_DECODER.decode(value)
                elif key.startswith(_SECTORS):
                    batch.sectors[key[len(_SECTORS) :]] = _WORDS_DECODER.decode(value)
                else:
                    batch.techniques[key[len(_TECHNIQUE) :]] = _TEXT_DECODER.decode(value)
            except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
                raise CorruptRow(f"extract state {key!r} cannot be read: {exc}") from exc
        return batch

    def saver(self, batch: ExtractBatch) -> Callable[[], None] | None:
        """Encodes now (names are interned before any row uses them), writes when called."""
        if not batch.changed:
            return None
        rows = {
            sid_row_key(stix_id): encode_sid(batch.versions[stix_id], names=self._names)
            for stix_id in batch.changed_versions
        }
        items: dict[str, bytes] = {}
        for stix_id in batch.changed_pending:
            pending = tuple(SightingOp(key="", entry=e) for e in batch.pending[stix_id])
            items[_PENDING + stix_id] = _ENCODER.encode(pending)
        for stix_id in batch.changed_countries:
            items[_COUNTRY + stix_id] = _ENCODER.encode(batch.countries[stix_id])
        for stix_id in batch.changed_sectors:
            items[_SECTORS + stix_id] = _ENCODER.encode(batch.sectors[stix_id])
        for stix_id in batch.changed_techniques:
            items[_TECHNIQUE + stix_id] = _ENCODER.encode(batch.techniques[stix_id])
        gone = sorted(_named(_PENDING, batch.flushed_pending))
        link_rows = {
            sid_row_key(stix_id): (
                _ENCODER.encode(batch.links[stix_id]) if stix_id in batch.links else b""
            )
            for stix_id in batch.changed_links
        }

        def save() -> None:
            if rows:
                self._state.put_rows(table=SID_TABLE, rows=rows)
            if link_rows:
                self._state.put_rows(table=LINKS_TABLE, rows=link_rows)
            if items:
                self._state.put_many(items=items)
            if gone:
                self._state.delete(keys=gone)

        return save


def _with(held: tuple[str, ...], value: str | None) -> tuple[str, ...]:
    return held if value is None or value in held else tuple(sorted((*held, value)))


def _named(prefix: str, ids: Iterable[str]) -> list[str]:
    return [prefix + stix_id for stix_id in ids]
