"""Extract state rows: per STIX indicator, its creator and each partner's version and keys.

Keyed by the packed STIX id (17 bytes); observable keys are kept in full because retractions,
sightings and ATT&CK links are routed to merge by them.
"""

from __future__ import annotations

from dataclasses import dataclass

from igsc.packing import CorruptRow, Names, Packer, Unpacker, stix_id_bytes

SID_TABLE = "sid"
_FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class PartnerVersion:
    """The latest version of an indicator one partner sent, and the observables it named."""

    partner: str
    version: str  # `modified`, exactly as written
    keys: tuple[str, ...]  # canonical observable keys, sorted


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicatorVersions:
    """What extract remembers of one STIX indicator: who created it, who sent which version."""

    creator: str | None
    partners: tuple[PartnerVersion, ...] = ()  # one per partner, in the order they first came

    def of(self, partner: str) -> PartnerVersion | None:
        """The partner's latest version, if it sent one (a few partners: a scan is cheapest)."""
        for seen in self.partners:
            if seen.partner == partner:
                return seen
        return None

    def with_version(self, seen: PartnerVersion, *, creator: str | None) -> IndicatorVersions:
        """A copy where `seen` replaces the partner's version; the first creator stays."""
        replaced = tuple(seen if p.partner == seen.partner else p for p in self.partners)
        if self.of(seen.partner) is None:
            replaced = (*replaced, seen)
        return IndicatorVersions(creator=self.creator or creator, partners=replaced)

    def observable_keys(self) -> list[str]:
        """Every observable key any partner's version carries, sorted, each once."""
        return sorted({key for seen in self.partners for key in seen.keys})


def sid_row_key(stix_id: str) -> bytes:
    """The row key of an indicator's version state."""
    return stix_id_bytes(stix_id)


def encode_sid(record: IndicatorVersions, *, names: Names) -> bytes:
    """Packed form: creator, then per partner its version and observable keys."""
    p = Packer(names=names)
    p.uint(_FORMAT)
    p.name(record.creator or "")
    p.uint(len(record.partners))
    for seen in record.partners:
        p.name(seen.partner)
        p.time(seen.version)
        p.uint(len(seen.keys))
        for key in seen.keys:
            kind, _, value = key.partition("|")
            p.name(kind)  # a handful of kinds: one byte instead of ~10
            p.text(value)
    return p.done()


def decode_sid(data: bytes, *, names: Names) -> IndicatorVersions:
    """Inverse of encode_sid."""
    u = Unpacker(data, names=names)
    if u.uint() != _FORMAT:
        raise CorruptRow("extract row has an unknown format")
    creator = u.name() or None
    partners: list[PartnerVersion] = []
    for _ in range(u.uint()):
        partner = u.name()
        version = u.time()
        keys = tuple(f"{u.name()}|{u.text()}" for _ in range(u.uint()))
        partners.append(PartnerVersion(partner=partner, version=version, keys=keys))
    if not u.at_end():
        raise CorruptRow("extract row has trailing bytes")
    return IndicatorVersions(creator=creator, partners=tuple(partners))
