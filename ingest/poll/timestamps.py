"""Server timestamps (X-TAXII-Date-Added-*), kept verbatim but compared exactly."""

from __future__ import annotations

from dataclasses import dataclass, field

from igsc.stix_time import format_us, rfc3339_ns


@dataclass(frozen=True, slots=True, order=True)
class ServerTime:
    """A timestamp the server sent: ordered by instant (to the nanosecond), text kept as sent."""

    nanos: int  # since the epoch
    text: str = field(compare=False)

    def tick_before(self) -> str:
        """One microsecond earlier, as an RFC 3339 UTC string: `added_after` of it includes us."""
        return format_us((self.nanos - 1000) // 1000)  # floor: strictly before, any precision


def parse_server_time(value: str | None) -> ServerTime | None:
    """The timestamp in a header value, or None if it is missing or not a timestamp."""
    if value is None:
        return None
    nanos = rfc3339_ns(value)
    return None if nanos is None else ServerTime(nanos, value.strip())
