"""Compact binary rows: varints, short texts, STIX timestamps and ids, interned names.

State rows are written millions of times and must stay small (the dedup budget is ~100 bytes
per observable), so they are packed by hand rather than as JSON. Every encoding round-trips
exactly: a value that does not fit the compact form is stored as text after a zero tag.
"""

from __future__ import annotations

import functools
import re
from typing import Protocol

_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")
_EPOCH = 1_577_836_800  # 2020-01-01: recent times need 4 varint bytes, not 5
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Append-only: a code, once written into a row, must keep meaning the same type.
STIX_TYPES = (
    "indicator",
    "sighting",
    "relationship",
    "identity",
    "location",
    "attack-pattern",
    "malware",
    "observed-data",
    "report",
    "campaign",
    "intrusion-set",
    "threat-actor",
    "tool",
    "vulnerability",
    "infrastructure",
    "course-of-action",
    "note",
    "opinion",
    "grouping",
    "incident",
    "malware-analysis",
)
_TYPE_CODE = {t: i + 1 for i, t in enumerate(STIX_TYPES)}
_TYPE_BYTE = {t: bytes((code,)) for t, code in _TYPE_CODE.items()}
_SMALL = tuple(bytes((i,)) for i in range(0x80))
_HEX = frozenset("0123456789abcdef-")


class Names(Protocol):
    """Small ids for repeated strings (see igsc.interning.Interner)."""

    def packed(self, value: str) -> bytes:
        """value as Packer.name writes it: its id, or the text itself once the table is full."""
        ...

    def string(self, name_id: int) -> str:
        """The string of an id."""
        ...


class NameTable:
    """Base of Names tables: packs names through id_of, caching the bytes of interned ones."""

    def __init__(self) -> None:
        self._packed: dict[str, bytes] = {}

    def id_of(self, value: str) -> int | None:
        """The id of value, adding it if new; None once the table is full."""
        raise NotImplementedError

    def packed(self, value: str) -> bytes:
        """See Names.packed; ids never change, so their bytes are cached."""
        got = self._packed.get(value)
        if got is None:
            found = self.id_of(value)
            if found is None:  # not cached: a full table would otherwise grow this cache
                data = value.encode()
                return b"\x00" + uint_bytes(len(data)) + data
            got = self._packed[value] = uint_bytes(found + 1)
        return got


class CorruptRow(ValueError):
    """A stored row that cannot be decoded: state written by incompatible code, or damaged."""


class Packer:
    """Appends fields to one row."""

    __slots__ = ("_buf", "_names")

    def __init__(self, *, names: Names) -> None:
        self._buf = bytearray()
        self._names = names

    def done(self) -> bytes:
        """The packed row."""
        return bytes(self._buf)

    def uint(self, value: int) -> None:
        """A non-negative integer, 7 bits a byte."""
        buf = self._buf
        if value < 0x80:
            buf.append(value)
            return
        while value >= 0x80:
            buf.append((value & 0x7F) | 0x80)
            value >>= 7
        buf.append(value)

    def text(self, value: str) -> None:
        """A string, length-prefixed."""
        data = value.encode()
        self.uint(len(data))
        self._buf += data

    def name(self, value: str) -> None:
        """A repeated string: its interned id, or the text itself once the table is full."""
        self._buf += self._names.packed(value)

    def raw(self, data: bytes) -> None:
        """Bytes packed elsewhere (e.g. cached)."""
        self._buf += data

    def time(self, value: str) -> None:
        """A STIX timestamp: ~6 bytes in its usual form, exactly as written."""
        self._buf += time_bytes(value)

    def stix_id(self, value: str) -> None:
        """A STIX id: type code and 16 uuid bytes in its usual form."""
        self._buf += stix_id_bytes(value)


class Unpacker:
    """Reads fields of one row in the order they were packed."""

    __slots__ = ("_data", "_names", "_pos")

    def __init__(self, data: bytes, *, names: Names) -> None:
        self._data = data
        self._pos = 0
        self._names = names

    def uint(self) -> int:
        """Inverse of Packer.uint."""
        data, pos = self._data, self._pos
        shift = result = 0
        try:
            while True:
                byte = data[pos]
                pos += 1
                result |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
        except IndexError:
            raise CorruptRow("row ends inside a number") from None
        self._pos = pos
        return result

    def text(self) -> str:
        """Inverse of Packer.text."""
        size = self.uint()
        start = self._pos
        self._pos += size
        if self._pos > len(self._data):
            raise CorruptRow("row ends inside a text")
        return self._data[start : self._pos].decode()

    def name(self, *, expect: str = "name") -> str:
        """Inverse of Packer.name."""
        tag = self.uint()
        if tag == 0:
            return self.text()
        try:
            return self._names.string(tag - 1)
        except IndexError:
            raise CorruptRow(f"{expect} id {tag - 1} is not interned") from None

    def time(self) -> str:
        """Inverse of Packer.time."""
        tag = self.uint()
        if tag == 0:
            return self.text()
        digits, negative = divmod(tag - 1, 2)
        seconds = self.uint()
        fraction = self.uint() if digits else 0
        return _format_time(-seconds if negative else seconds, digits, fraction)

    def stix_id(self) -> str:
        """Inverse of Packer.stix_id."""
        code = self.uint()
        if code == 0:
            return self.text()
        start = self._pos
        self._pos += 16
        raw = self._data[start : self._pos]
        if len(raw) != 16 or code > len(STIX_TYPES):
            raise CorruptRow("bad STIX id")
        h = raw.hex()
        return f"{STIX_TYPES[code - 1]}--{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def at_end(self) -> bool:
        """Whether every byte was read."""
        return self._pos == len(self._data)


def uint_bytes(value: int) -> bytes:
    """Packer.uint's bytes for value."""
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@functools.lru_cache(maxsize=65536)
def time_bytes(value: str) -> bytes:
    """Packed form of a timestamp; feeds repeat timestamps a lot, hence the cache."""
    found = _TIME.fullmatch(value)
    if found is None or not _valid(found):
        return b"\x00" + uint_bytes(len(value.encode())) + value.encode()
    y, mo, d, h, mi, s = (int(found[i]) for i in range(1, 7))
    fraction = found[7] or ""
    seconds = _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - _EPOCH
    tag = 1 + 2 * len(fraction) + (seconds < 0)
    out = uint_bytes(tag) + uint_bytes(abs(seconds))
    return out + uint_bytes(int(fraction)) if fraction else out


def _valid(found: re.Match[str]) -> bool:
    y, mo, d = int(found[1]), int(found[2]), int(found[3])
    if not 1 <= mo <= 12 or d < 1:
        return False
    leap = mo == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    in_month = _DAYS_IN_MONTH[mo - 1] + leap
    return d <= in_month and int(found[4]) < 24 and int(found[5]) < 60 and int(found[6]) < 60


@functools.lru_cache(maxsize=65536)
def _format_time(seconds: int, digits: int, fraction: int) -> str:
    days, rest = divmod(seconds + _EPOCH, 86400)
    y, mo, d = _civil_from_days(days)
    h, rest = divmod(rest, 3600)
    mi, s = divmod(rest, 60)
    frac = f".{fraction:0{digits}d}" if digits else ""
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}Z"


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 (proleptic Gregorian), H. Hinnant's algorithm."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def stix_id_bytes(value: str) -> bytes:
    """Packed form of a STIX id (also a compact, exact row key)."""
    kind, _, uuid = value.partition("--")
    code = _TYPE_BYTE.get(kind)
    # Canonical lowercase form only (checked without a regex: this runs per source per row).
    if (
        code is None
        or len(uuid) != 36
        or uuid[8] != "-"
        or uuid[13] != "-"
        or uuid[18] != "-"
        or uuid[23] != "-"
        or uuid.count("-") != 4
        or not _HEX.issuperset(uuid)
    ):
        data = value.encode()
        return b"\x00" + uint_bytes(len(data)) + data
    return code + bytes.fromhex(uuid.replace("-", ""))
