"""date_added values: unique, strictly increasing per collection across processes.

Each POST reserves a block of microseconds with State.compare_and_set on one key per
collection, so two workers never hand out the same value even if their wall clocks differ.
A reservation stays "in flight" until its objects are stored; readers see nothing at or after
the oldest in-flight reservation, so a client that resumes from X-TAXII-Date-Added-Last never
skips objects that were committed late. Leases end on their own if a worker dies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from igsc.errors import TransientFailure
from igsc.ports import State
from igsc.stix_time import wall_clock_us

_MAX_ATTEMPTS = 200


@dataclass(frozen=True, slots=True)
class Reservation:
    """A block of `count` microseconds starting at `start`."""

    scope: str
    start: int
    count: int


@dataclass(frozen=True, slots=True)
class _Clock:
    last: int
    inflight: dict[str, int]  # start -> lease expiry (µs)

    @classmethod
    def load(cls, raw: bytes | None) -> _Clock:
        if raw is None:
            return cls(last=0, inflight={})
        data = orjson.loads(raw)
        return cls(last=int(data["last"]), inflight={k: int(v) for k, v in data["i"].items()})

    def dump(self) -> bytes:
        return orjson.dumps({"last": self.last, "i": self.inflight})

    def live(self, now: int) -> dict[str, int]:
        return {k: v for k, v in self.inflight.items() if v > now}


class DateAddedClock:
    """Reserves date_added blocks and tells readers how far they may look."""

    def __init__(
        self,
        *,
        state: State,
        lease_s: float = 300.0,
        now_us: Callable[[], int] = wall_clock_us,
    ) -> None:
        self._state = state
        self._lease_us = int(lease_s * 1_000_000)
        self._now = now_us

    @staticmethod
    def _key(scope: str) -> str:
        return f"taxii:clock:{scope}"

    def _update(self, scope: str, change: Callable[[_Clock, int], _Clock]) -> _Clock:
        key = self._key(scope)
        for attempt in range(_MAX_ATTEMPTS):
            raw = self._state.get_many(keys=[key]).get(key)
            new = change(_Clock.load(raw), self._now())
            if self._state.compare_and_set(key=key, expected=raw, new=new.dump()):
                return new
            if attempt > 10:
                time.sleep(0.001 * min(attempt, 20))
        raise TransientFailure(f"could not reserve date_added values for {scope}: contention")

    def reserve(self, *, scope: str, count: int, in_flight: bool = True) -> Reservation:
        """count fresh microseconds for scope, later than every value handed out before."""
        if count < 1:
            raise ValueError("count must be at least 1")
        start = 0

        def change(clock: _Clock, now: int) -> _Clock:
            nonlocal start
            start = max(clock.last + 1, now)
            inflight = clock.live(now)
            if in_flight:
                inflight[str(start)] = now + self._lease_us
            return _Clock(last=start + count - 1, inflight=inflight)

        self._update(scope, change)
        return Reservation(scope=scope, start=start, count=count)

    def release(self, *, reservation: Reservation) -> None:
        """The reservation's objects are stored (or abandoned): readers may pass it."""

        def change(clock: _Clock, now: int) -> _Clock:
            inflight = clock.live(now)
            inflight.pop(str(reservation.start), None)
            return _Clock(last=clock.last, inflight=inflight)

        self._update(reservation.scope, change)

    def horizon(self, *, scope: str) -> int | None:
        """The last date_added readers may see now, or None if nothing is in flight."""
        key = self._key(scope)
        clock = _Clock.load(self._state.get_many(keys=[key]).get(key))
        live = clock.live(self._now())
        return min(int(start) for start in live) - 1 if live else None
