"""Catch-up pacing: while a writer is behind, fresher search results only cost indexing work.

A backlog (a partner back after an outage, a bulk import) is searchable minutes late anyway;
refreshing the index every 500 ms meanwhile writes a small segment each time, and merging
them costs Elasticsearch CPU the backlog needs. Writers report, batch by batch, whether they
are behind; the index refreshes less often until they are not.
"""

from __future__ import annotations

ENTER_AFTER = 3  # full batches in a row before catching up: one burst is not a backlog
# Short batches in a row before leaving: a backlog also gives short ones (the rest of a fetch
# that filled one batch and part of the next), and each switch is a settings update.
LEAVE_AFTER = 3


class CatchUpSwitch:
    """Decides from a writer's batch-by-batch reports when catch-up mode starts and ends."""

    def __init__(self, *, enter_after: int = ENTER_AFTER, leave_after: int = LEAVE_AFTER) -> None:
        self._enter_after = enter_after
        self._leave_after = leave_after
        self._in_a_row = 0  # reports in a row that disagree with the current mode
        self.catching_up = False

    def report(self, *, behind: bool) -> bool | None:
        """The new mode (True: catching up) if this report changes it, else None.

        Catch-up starts after `enter_after` reports of being behind in a row and ends after
        `leave_after` reports of not being behind in a row (at a steady load below capacity
        every batch is short, so that is a few polls, well under a second).
        """
        if behind == self.catching_up:
            self._in_a_row = 0
            return None
        self._in_a_row += 1
        if self._in_a_row < self._needed():
            return None
        self._in_a_row = 0
        self.catching_up = behind
        return behind

    def undo(self) -> None:
        """Take back the last change (it could not be applied): the next report that still
        disagrees with the mode makes it again, without a new run of reports."""
        self.catching_up = not self.catching_up
        self._in_a_row = self._needed() - 1

    def _needed(self) -> int:
        return self._leave_after if self.catching_up else self._enter_after
