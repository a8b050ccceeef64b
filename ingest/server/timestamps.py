"""Fixed-width timestamps that sort as strings: date_added in microseconds, versions in nanos."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

_STIX_TS = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_TEXT = "1970-01-01T00:00:00.000000Z"


def wall_clock_us() -> int:
    """Microseconds since the epoch, from the wall clock."""
    return time.time_ns() // 1000


def format_us(micros: int) -> str:
    """YYYY-MM-DDTHH:MM:SS.ffffffZ for microseconds since the epoch."""
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _split(text: str) -> tuple[str, str]:
    match = _STIX_TS.match(text)
    if match is None:
        raise ValueError(f"not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z): {text[:40]!r}")
    return match.group(1), match.group(2) or ""


def parse_us(text: str) -> int:
    """Microseconds since the epoch of a STIX timestamp; digits past micros are dropped."""
    whole, fraction = _split(text)
    try:
        moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not a valid date and time: {text[:40]!r}") from exc
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + int(fraction[:6].ljust(6, "0"))


def version_key(text: str) -> str:
    """A STIX timestamp at nanosecond width, so versions compare as strings."""
    whole, fraction = _split(text)
    parse_us(text)  # reject impossible dates such as month 13
    return f"{whole}.{fraction.ljust(9, '0')}Z"
