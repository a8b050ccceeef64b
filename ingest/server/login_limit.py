"""Failed-login limit: so many failures per partner and per client address in a window.

State is in-process: with several uvicorn workers each counts on its own, so a client may get
up to `workers` times the limit before every worker refuses it. Good enough to turn an online
password guess from thousands of tries a minute into a handful.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

_MAX_KEYS = 100_000  # bounds memory when many addresses fail: the least recent are forgotten


class LoginLimiter:
    """Sliding-window counts of failed logins, keyed by e.g. 'partner:x' or 'address:ip'."""

    def __init__(
        self,
        *,
        max_failures: int = 10,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_failures = max_failures
        self._window_s = window_s
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, *, keys: Sequence[str]) -> int | None:
        """Whole seconds until any locked key may try again, or None if none is locked."""
        now = self._clock()
        waits: list[float] = []
        with self._lock:
            for key in keys:
                times = self._recent(key, now=now)
                if times is not None and len(times) >= self._max_failures:
                    # Unlocked once enough of the failures age out of the window.
                    waits.append(times[-self._max_failures] + self._window_s - now)
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def record_failure(self, *, keys: Sequence[str]) -> None:
        """Count one failed login against every key."""
        now = self._clock()
        with self._lock:
            for key in keys:
                times = self._recent(key, now=now)
                if times is None:
                    times = self._failures[key] = deque()
                times.append(now)
                self._failures.move_to_end(key)
            while len(self._failures) > _MAX_KEYS:
                self._failures.popitem(last=False)

    def _recent(self, key: str, *, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self._window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
