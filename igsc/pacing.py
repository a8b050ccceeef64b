"""Catch-up pacing: while a writer is behind, fresher search results only cost indexing work.

A backlog (a partner back after an outage, a bulk import) is searchable minutes late anyway;
refreshing the index every 500 ms meanwhile writes a small segment each time, and merging
them costs Elasticsearch CPU the backlog needs. Writers report, batch by batch, whether they
are behind; the index refreshes less often until they are not.
"""

from __future__ import annotations

ENTER_AFTER = 3  # full batches in a row before catching up: one burst is not a backlog


class CatchUpSwitch:
    """Decides from a writer's batch-by-batch reports when catch-up mode starts and ends."""

    def __init__(self, *, enter_after: int = ENTER_AFTER) -> None:
        self._enter_after = enter_after
        self._behind_in_a_row = 0
        self.catching_up = False

    def report(self, *, behind: bool) -> bool | None:
        """The new mode (True: catching up) if this report changes it, else None.

        Catch-up starts after `enter_after` reports of being behind in a row and ends with
        the first report of not being behind, so fresh data is never held back for long.
        """
        self._behind_in_a_row = self._behind_in_a_row + 1 if behind else 0
        wanted = self._behind_in_a_row >= self._enter_after
        if wanted == self.catching_up:
            return None
        self.catching_up = wanted
        return wanted

    def undo(self) -> None:
        """Forget the last change (it could not be applied): the next report decides again."""
        self.catching_up = not self.catching_up
