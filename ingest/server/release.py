"""Releasing date_added blocks once their objects are searchable, and saying so in statuses.

A POST answers as soon as its objects are stored durably and published. Readers page in
date_added order and never pass a block that is still reserved, so a block is released only
once its objects are searchable: on an index that needs refreshes, after its next scheduled
refresh. One thread waits for that refresh on behalf of every block queued meanwhile, so
ingestion forces no refreshes (each would be a new segment and later merge work).

A request's objects are readable once its block is released and no older block of the same
collection is still reserved (readers stop short of it); only then does the thread mark the
request's status readable, so a partner that sees `complete` can read its objects back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from dataclasses import dataclass

from igsc.errors import TransientFailure
from ingest.server.clock import DateAddedClock, Reservation
from ingest.server.status import StatusStore
from ingest.server.store import VersionStore

log = logging.getLogger(__name__)

_ATTEMPTS = 5
_FIRST_BACKOFF_S = 0.2
_MAX_BACKOFF_S = 10.0
# How often requests hidden behind an older reserved block are looked at again.
_RECHECK_S = 0.05


@dataclass(frozen=True, slots=True)
class _Landed:
    """A landed block on its way to readable."""

    reservation: Reservation
    status_id: str
    released: bool
    searchable: bool  # a refresh that began after it was landed has finished


class SearchableReleaser:
    """Releases reservations after a refresh that began once they were landed, then marks
    their requests' statuses readable."""

    def __init__(
        self, *, store: VersionStore, clock: DateAddedClock, statuses: StatusStore
    ) -> None:
        self._store = store
        self._clock = clock
        self._statuses = statuses
        self._queue: queue.SimpleQueue[_Landed] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="taxii-release", daemon=True).start()

    def release_when_searchable(self, *, reservation: Reservation, status_id: str) -> bool:
        """Release a block whose documents have all been landed, now or after a refresh.

        True if its objects are readable already; otherwise the status `status_id` is marked
        readable once they are.
        """
        if not self._store.searchable_on_write:
            self._queue.put(
                _Landed(
                    reservation=reservation, status_id=status_id, released=False, searchable=False
                )
            )
            return False
        self._clock.release(reservation=reservation)
        if self._readable(reservation):
            return True
        self._queue.put(
            _Landed(reservation=reservation, status_id=status_id, released=True, searchable=True)
        )
        return False

    def _readable(self, reservation: Reservation) -> bool:
        return _passed(self._clock.horizon(scope=reservation.scope), reservation)

    def _run(self) -> None:
        waiting: list[_Landed] = []
        failed_rounds = 0
        while True:
            with contextlib.suppress(queue.Empty):  # a recheck of what is still waiting
                waiting.append(self._queue.get(timeout=_RECHECK_S if waiting else None))
            while not self._queue.empty():
                waiting.append(self._queue.get_nowait())
            try:
                waiting = self._advance(waiting)
                failed_rounds = 0
            except Exception:  # this thread outlives any outage; the next round retries
                failed_rounds += 1
                log.warning("marking TAXII statuses readable failed; retrying", exc_info=True)
                time.sleep(min(_MAX_BACKOFF_S, _FIRST_BACKOFF_S * 2 ** min(failed_rounds, 8)))

    def _advance(self, waiting: list[_Landed]) -> list[_Landed]:
        """Release what a refresh has made searchable, mark what is readable; what remains."""
        if not all(w.searchable for w in waiting):
            searchable = self._await_with_retries()
            waiting = [
                dataclasses.replace(w, searchable=w.searchable or searchable) for w in waiting
            ]
        # Released even when the refresh could not be confirmed (see _await_with_retries);
        # a status is marked readable only after a confirmed one.
        waiting = [self._release(w) for w in waiting]
        ready = [w for w in waiting if w.released and w.searchable]
        horizons = {s: self._clock.horizon(scope=s) for s in {w.reservation.scope for w in ready}}
        done = [w for w in ready if _passed(horizons[w.reservation.scope], w.reservation)]
        self._statuses.mark_readable(status_ids=[w.status_id for w in done])
        finished = {id(w) for w in done}
        return [w for w in waiting if id(w) not in finished]

    def _release(self, landed: _Landed) -> _Landed:
        if landed.released:
            return landed
        try:
            self._clock.release(reservation=landed.reservation)
        except TransientFailure:
            log.warning("could not release a date_added block; retrying", exc_info=True)
            return landed
        return dataclasses.replace(landed, released=True)

    def _await_with_retries(self) -> bool:
        """True once a refresh has been awaited; False after the last failed attempt."""
        # While the index is unreachable readers fail too, so holding the blocks costs
        # nothing; after the last attempt they are released rather than held forever.
        for attempt in range(_ATTEMPTS):
            try:
                self._store.await_searchable()
                return True
            except Exception:  # any failure of the wait is retried, then given up
                log.warning(
                    "waiting for the TAXII store refresh failed (attempt %d of %d)",
                    attempt + 1,
                    _ATTEMPTS,
                    exc_info=True,
                )
                if attempt + 1 < _ATTEMPTS:
                    time.sleep(_FIRST_BACKOFF_S * 2**attempt)
        return False


def _passed(horizon: int | None, reservation: Reservation) -> bool:
    """True if readers, who stop at horizon, see every value of the reservation."""
    return horizon is None or horizon >= reservation.start + reservation.count - 1
