"""Releasing date_added blocks once their objects are searchable, off the request path.

A POST answers as soon as its objects are stored durably and published. Readers page in
date_added order and never pass a block that is still reserved, so a block is released only
once its objects are searchable: on an index that needs refreshes, after its next scheduled
refresh. One thread waits for that refresh on behalf of every block queued meanwhile, so
ingestion forces no refreshes (each would be a new segment and later merge work).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from ingest.server.clock import DateAddedClock, Reservation
from ingest.server.store import VersionStore

log = logging.getLogger(__name__)

_ATTEMPTS = 5
_FIRST_BACKOFF_S = 0.2


class SearchableReleaser:
    """Releases reservations after a refresh that began once they were landed."""

    def __init__(self, *, store: VersionStore, clock: DateAddedClock) -> None:
        self._store = store
        self._clock = clock
        self._queue: queue.SimpleQueue[Reservation] = queue.SimpleQueue()
        if not store.searchable_on_write:  # the embedded index needs no waiting thread
            threading.Thread(target=self._run, name="taxii-release", daemon=True).start()

    def release_when_searchable(self, *, reservation: Reservation) -> None:
        """Release a block whose documents have all been landed, now or after a refresh."""
        if self._store.searchable_on_write:
            self._clock.release(reservation=reservation)
        else:
            self._queue.put(reservation)

    def _run(self) -> None:
        while True:
            waiting = [self._queue.get()]
            while not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            self._release_after_refresh(waiting)

    def _release_after_refresh(self, waiting: list[Reservation]) -> None:
        try:
            self._await_with_retries()
        finally:
            for reservation in waiting:
                self._clock.release(reservation=reservation)

    def _await_with_retries(self) -> None:
        # While the index is unreachable readers fail too, so holding the blocks costs
        # nothing; after the last attempt they are released rather than held forever.
        for attempt in range(_ATTEMPTS):
            try:
                self._store.await_searchable()
                return
            except Exception:
                log.warning(
                    "waiting for the TAXII store refresh failed (attempt %d of %d)",
                    attempt + 1,
                    _ATTEMPTS,
                    exc_info=True,
                )
                if attempt + 1 < _ATTEMPTS:
                    time.sleep(_FIRST_BACKOFF_S * 2**attempt)
