"""One run of an action serves every caller waiting for it, e.g. an index refresh per request.

A caller returns only after a run that *began after it called* has finished, so whatever the
caller wrote before calling is covered; callers who arrive while a run is going share the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_KEEP_ERRORS = 64


class Coalesced:
    """Calls `action` for concurrent callers at once; its error reaches every caller it served."""

    def __init__(self, *, action: Callable[[], None]) -> None:
        self._action = action
        self._cond = threading.Condition()
        self._started = 0  # runs begun; a run's ticket is its number
        self._finished = 0  # ticket of the last run that ended
        self._running = False
        self._errors: dict[int, Exception] = {}

    def __call__(self) -> None:
        """Return once a run that began after this call has ended; raise its error, if any."""
        with self._cond:
            wanted = self._started + 1
            while self._finished < wanted:
                if self._running:
                    self._cond.wait()
                else:
                    self._run()
            error = self._errors.get(wanted)
        if error is not None:
            raise error

    def _run(self) -> None:
        """One run, with the condition's lock released while the action works."""
        self._running = True
        self._started += 1
        ticket = self._started
        self._cond.release()
        try:
            self._action()
        except Exception as exc:  # noqa: BLE001 - not handled here: re-raised in every caller served
            self._errors[ticket] = exc
        finally:
            self._cond.acquire()
            self._running = False
            self._finished = ticket
            for old in [t for t in self._errors if t < ticket - _KEEP_ERRORS]:
                del self._errors[old]
            self._cond.notify_all()
