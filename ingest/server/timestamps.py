"""Fixed-width timestamps that sort as strings: date_added in microseconds, versions in nanos."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_STIX_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_TEXT = "1970-01-01T00:00:00.000000Z"


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


def _split(text: str) -> tuple[str, str]:
    match = _STIX_TS.match(text)
    if match is None:
        raise ValueError(f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z): {text[:40]!r}")
    return match.group(1), match.group(2) or ""


def parse_us(text: str) -> int:
    """Microseconds since the epoch of a STIX timestamp; digits past micros are dropped."""
    whole, fraction = _split(text)
    delta = _moment(whole, text) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + int(fraction[:6].ljust(6, "0"))


def _moment(whole: str, text: str) -> datetime:
    try:
        return _whole_seconds(whole)
    except ValueError as exc:
        raise ValueError(f"not a valid date and time: {text[:40]!r}") from exc


@lru_cache(maxsize=4096)
def _whole_seconds(whole: str) -> datetime:
    # The regex fixed every field's position; the constructor rejects impossible values
    # exactly as strptime did, at a fraction of its cost (this runs for every posted object).
    return datetime(
        int(whole[0:4]),
        int(whole[5:7]),
        int(whole[8:10]),
        int(whole[11:13]),
        int(whole[14:16]),
        int(whole[17:19]),
        tzinfo=UTC,
    )


def version_key(text: str) -> str:
    """A STIX timestamp at nanosecond width, so versions compare as strings."""
    whole, fraction = _split(text)
    _moment(whole, text)  # reject impossible dates such as month 13
    return f"{whole}.{fraction.ljust(9, '0')}Z"
