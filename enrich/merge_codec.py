"""Merge state rows: one packed row per observable, ~60 bytes for a one-source record.

The row holds only what merging needs to rebuild the document; enrichment is recomputed. The
row key is a 12-byte digest of the observable key (the key itself arrives with every
observation), so a long URL or hash costs no more than an IPv4 address.
"""

from __future__ import annotations

import functools
import hashlib

import orjson

from enrich.record import IndicatorRecord, SightingEntry, SourceEntry
from igsc.packing import CorruptRow, Names, Packer, Unpacker, stix_id_bytes, time_bytes

MERGE_TABLE = "m"
# A record with threats writes format 2 (threats follow techniques); without, format 1, the
# layout rows had before threats existed, so those rows read as records without threats.
_FORMAT, _FORMAT_THREATS = 1, 2
_SEP = "\x1f"
_JSON = "\x1e"  # marks a list written as JSON because an item holds _SEP
# Source flags: which optional fields follow.
_CONFIDENCE, _VALID_FROM, _DESCRIPTION = 1, 2, 4
_VALID_FROM_IS_VERSION, _VALID_FROM_IS_VERSION_SECONDS = 8, 16  # how feeds usually write it
# Rows written before these bits existed lack them: received_at None, active, no valid_until.
# Revoked is rare, so it takes the bit that makes the flags a second byte.
_RECEIVED_AT, _VALID_UNTIL, _REVOKED = 32, 64, 128
# Sighting flags. A row written before sightings carried their TLP has no _TLP bit: RED.
_FIRST_SEEN, _LAST_SEEN, _TLP = 1, 2, 4
_SIGHTING_RECEIVED_AT, _SECTORS = 8, 16  # absent in older rows: None and ()
_UNMARKED_SIGHTING = "red"


def row_key(key: str) -> bytes:
    """12-byte digest of an observable key: 96 bits, so a collision is ~1e-11 at 1e9 keys."""
    return hashlib.blake2b(key.encode(), digest_size=12).digest()


def encode_record(record: IndicatorRecord, *, names: Names) -> bytes:
    """Packed state form of a record (its key is the row key)."""
    p = Packer(names=names)
    p.uint(_FORMAT_THREATS if record.threats else _FORMAT)
    p.uint(record.version)
    p.name(_join(record.flags))
    p.name(_join(record.techniques))
    if record.threats:
        p.name(_join(record.threats))
    p.uint(len(record.sources))
    for s in record.sources:
        _put_source(p, s)
    p.uint(len(record.sightings))
    for g in record.sightings:
        _put_sighting(p, g)
    return p.done()


def decode_record(key: str, data: bytes, *, names: Names) -> IndicatorRecord:
    """Inverse of encode_record."""
    u = Unpacker(data, names=names)
    row_format = u.uint()
    if row_format not in (_FORMAT, _FORMAT_THREATS):
        raise CorruptRow(f"merge row for {key} has an unknown format")
    version = u.uint()
    flags = _split(u.name())
    techniques = _split(u.name())
    threats = _split(u.name()) if row_format == _FORMAT_THREATS else ()
    sources = tuple(_get_source(u) for _ in range(u.uint()))
    sightings = tuple(_get_sighting(u) for _ in range(u.uint()))
    if not u.at_end():
        raise CorruptRow(f"merge row for {key} has trailing bytes")
    kind, _, value = key.partition("|")
    return IndicatorRecord(
        key=key,
        kind=kind,
        value=value,
        flags=flags,
        sources=sources,
        sightings=sightings,
        techniques=techniques,
        threats=threats,
        version=version,
    )


def _put_source(p: Packer, s: SourceEntry) -> None:
    flags = (_CONFIDENCE if s.confidence is not None else 0) | (
        _DESCRIPTION if s.description else 0
    )
    if s.valid_from is not None:
        flags |= _valid_from_flag(s.valid_from, s.version)
    flags |= (
        (_RECEIVED_AT if s.received_at is not None else 0)
        | (_VALID_UNTIL if s.valid_until is not None else 0)
        | (_REVOKED if s.revoked else 0)
    )
    p.uint(flags)
    p.raw(stix_id_bytes(s.stix_id))
    p.raw(time_bytes(s.version))
    # Who reported it, in one name: these four repeat together for every indicator.
    p.name(_reporter_text(s.partner, s.country, s.reliability, s.created_by))
    p.name(s.tlp)
    p.name(_join(s.labels))
    p.name(_join(s.kill_chain_phases))
    if s.confidence is not None:
        p.uint(s.confidence)
    if flags & _VALID_FROM:
        p.raw(time_bytes(s.valid_from or ""))
    if s.description:
        p.text(s.description)
    if s.received_at is not None:
        p.time(s.received_at)
    if s.valid_until is not None:
        p.time(s.valid_until)


def _get_source(u: Unpacker) -> SourceEntry:
    flags = u.uint()
    stix_id = u.stix_id()
    version = u.time()
    partner, country, reliability, created_by = _reporter(u.name())
    tlp = u.name()
    labels = _split(u.name())
    phases = _split(u.name())
    confidence = u.uint() if flags & _CONFIDENCE else None
    valid_from = _valid_from(u, flags, version)
    description = u.text() if flags & _DESCRIPTION else ""
    received_at = u.time() if flags & _RECEIVED_AT else None
    valid_until = u.time() if flags & _VALID_UNTIL else None
    return SourceEntry(
        stix_id=stix_id,
        version=version,
        partner=partner,
        country=country,
        tlp=tlp,
        confidence=confidence,
        reliability=reliability,
        created_by=created_by,
        valid_from=valid_from,
        labels=labels,
        kill_chain_phases=phases,
        description=description,
        received_at=received_at,
        revoked=bool(flags & _REVOKED),
        valid_until=valid_until,
    )


def _valid_from_flag(valid_from: str, version: str) -> int:
    if valid_from == version:
        return _VALID_FROM_IS_VERSION
    if len(version) > 20 and valid_from == version[:19] + "Z":
        return _VALID_FROM_IS_VERSION_SECONDS
    return _VALID_FROM


def _valid_from(u: Unpacker, flags: int, version: str) -> str | None:
    if flags & _VALID_FROM:
        return u.time()
    if flags & _VALID_FROM_IS_VERSION:
        return version
    if flags & _VALID_FROM_IS_VERSION_SECONDS:
        return version[:19] + "Z"
    return None


def _put_sighting(p: Packer, g: SightingEntry) -> None:
    p.uint(
        (_FIRST_SEEN if g.first_seen is not None else 0)
        | (_LAST_SEEN if g.last_seen is not None else 0)
        | _TLP
        | (_SIGHTING_RECEIVED_AT if g.received_at is not None else 0)
        | (_SECTORS if g.sectors else 0)
    )
    p.stix_id(g.sighting_id)
    p.time(g.version)
    p.name(g.partner)
    p.name(_join(g.countries))
    p.uint(g.count)
    if g.first_seen is not None:
        p.time(g.first_seen)
    if g.last_seen is not None:
        p.time(g.last_seen)
    p.name(g.tlp)
    if g.received_at is not None:
        p.time(g.received_at)
    if g.sectors:
        p.name(_join(g.sectors))


def _get_sighting(u: Unpacker) -> SightingEntry:
    flags = u.uint()
    # Keyword arguments are evaluated left to right: the fields are read in packed order.
    return SightingEntry(
        sighting_id=u.stix_id(),
        version=u.time(),
        partner=u.name(),
        countries=_split(u.name()),
        count=u.uint(),
        first_seen=u.time() if flags & _FIRST_SEEN else None,
        last_seen=u.time() if flags & _LAST_SEEN else None,
        tlp=u.name() if flags & _TLP else _UNMARKED_SIGHTING,
        received_at=u.time() if flags & _SIGHTING_RECEIVED_AT else None,
        sectors=_split(u.name()) if flags & _SECTORS else (),
    )


@functools.lru_cache(maxsize=4096)
def _reporter_text(partner: str, country: str, reliability: float, created_by: str | None) -> str:
    return _join((partner, country, repr(reliability), created_by or ""))


@functools.lru_cache(maxsize=4096)
def _join(parts: tuple[str, ...]) -> str:
    awkward = parts == ("",) or (parts and parts[0].startswith(_JSON))
    if awkward or any(_SEP in part for part in parts):
        return _JSON + orjson.dumps(parts).decode()
    return _SEP.join(parts)


@functools.lru_cache(maxsize=4096)
def _split(joined: str) -> tuple[str, ...]:
    if joined.startswith(_JSON):
        return tuple(orjson.loads(joined[1:]))
    return tuple(joined.split(_SEP)) if joined else ()


@functools.lru_cache(maxsize=4096)
def _reporter(joined: str) -> tuple[str, str, float, str | None]:
    partner, country, reliability, created_by = _split(joined)
    return partner, country, float(reliability), created_by or None
