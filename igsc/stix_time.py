"""STIX 2.1 timestamps: the one module that parses, normalises and orders them.

STIX timestamps are RFC 3339 in UTC with a literal `Z` and any number of fraction digits
(`...:00Z`, `...:00.5Z`, `...:00.500001Z`), so their text does not sort by instant:
`...:00Z` > `...:00.5Z` as strings. Every stage and the server compare versions through
`instant_ns` (or `version_key`, the same order as fixed-width text), never as raw strings.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

# STIX allows any number of fraction digits; past nanoseconds they are kept in the text but do
# not order. 32 keeps every integer conversion of a fraction cheap.
_STIX_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,32}))?Z$")
# Server headers (X-TAXII-Date-Added-*) are RFC 3339 and may carry an offset instead of Z.
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,32}))?([Zz]|[+-]\d{2}:\d{2})$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_TEXT = "1970-01-01T00:00:00.000000Z"
_NS = 1_000_000_000


class StixTimeError(ValueError):
    """Text that is not a valid STIX timestamp; the message says what is wrong."""


def _split(text: str) -> tuple[str, str]:
    match = _STIX_TS.match(text)
    if match is None:
        raise StixTimeError(
            f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.fraction]Z): {text[:40]!r}"
        )
    return match.group(1), match.group(2) or ""


@lru_cache(maxsize=4096)
def _whole_seconds(whole: str) -> int:
    # The regex fixed every field's position; the constructor rejects impossible values
    # (month 13, February 30) at a fraction of strptime's cost.
    try:
        moment = datetime(
            int(whole[0:4]),
            int(whole[5:7]),
            int(whole[8:10]),
            int(whole[11:13]),
            int(whole[14:16]),
            int(whole[17:19]),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise StixTimeError(f"not a valid date and time: {whole!r} ({exc})") from exc
    delta = moment - _EPOCH
    return delta.days * 86_400 + delta.seconds


@lru_cache(maxsize=65_536)
def instant_ns(text: str) -> int:
    """Nanoseconds since the epoch of a STIX timestamp (digits past nanoseconds are ignored).
    Raises StixTimeError for anything that is not one."""
    whole, fraction = _split(text)
    return _whole_seconds(whole) * _NS + int(fraction[:9].ljust(9, "0"))




def is_later(candidate: str, than: str) -> bool:
    """Whether `candidate` is a strictly later instant than `than`."""
    return instant_ns(candidate) > instant_ns(than)


def version_key(text: str) -> str:
    """A STIX timestamp at nanosecond width: the same order as instants, as plain strings."""
    whole, fraction = _split(text)
    _whole_seconds(whole)  # reject impossible dates such as month 13
    return f"{whole}.{fraction[:9].ljust(9, '0')}Z"






def wall_clock_us() -> int:
    """Microseconds since the epoch, from the wall clock."""
    return time.time_ns() // 1000




def format_us(micros: int) -> str:
    """YYYY-MM-DDTHH:MM:SS.ffffffZ for microseconds since the epoch."""
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_format_s(seconds)}.{fraction:06d}Z"


@lru_cache(maxsize=256)
def _format_s(seconds: int) -> str:
    # A POST dates hundreds of objects within the same second: format that second once.
    return (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def parse_us(text: str) -> int:
    """Microseconds since the epoch of a STIX timestamp; digits past micros are dropped."""
    return instant_ns(text) // 1000


def rfc3339_ns(value: str) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 timestamp with Z or an offset (as TAXII
    servers send in headers); None if it is not one (a peer once sent "undefined")."""
    match = _RFC3339.match(value.strip())
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        instant = datetime.fromisoformat(f"{day}T{clock}{offset}").astimezone(UTC)
    except ValueError:
        return None
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _NS + int((fraction or "")[:9].ljust(9, "0"))
