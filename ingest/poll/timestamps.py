"""Server timestamps (X-TAXII-Date-Added-*), kept verbatim but compared exactly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_TS = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True, slots=True, order=True)
class ServerTime:
    """A timestamp the server sent: ordered by instant (to the nanosecond), text kept as sent."""

    instant: datetime
    nanos: int
    text: str = field(compare=False)

    def tick_before(self) -> str:
        """One microsecond earlier, as an RFC 3339 UTC string: `added_after` of it includes us."""
        micros = (self.nanos - 1000) // 1000  # floor: strictly before, whatever the precision
        earlier = self.instant + timedelta(microseconds=micros)
        return earlier.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_server_time(value: str | None) -> ServerTime | None:
    """The timestamp in a header value, or None if it is missing or not a timestamp."""
    if value is None:
        return None
    text = value.strip()
    match = _TS.match(text)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        instant = datetime.fromisoformat(f"{day}T{clock}{offset}").astimezone(UTC)
    except ValueError:
        return None
    return ServerTime(instant, int((fraction or "").ljust(9, "0")), text)
