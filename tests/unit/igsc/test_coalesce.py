"""Coalesced: fewer runs than callers, and each caller covered by a run that began after it."""

from __future__ import annotations

import threading
import time

import pytest

from igsc.coalesce import Coalesced


def test_concurrent_callers_share_runs_that_began_after_they_called() -> None:
    runs: list[tuple[float, float]] = []

    def action() -> None:
        start = time.monotonic()
        time.sleep(0.02)
        runs.append((start, time.monotonic()))

    shared = Coalesced(action=action)
    calls: list[tuple[float, float]] = []
    lock = threading.Lock()

    def caller(delay: float) -> None:
        time.sleep(delay)
        called = time.monotonic()
        shared()
        with lock:
            calls.append((called, time.monotonic()))

    threads = [threading.Thread(target=caller, args=(i * 0.003,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 40
    assert len(runs) < 20  # shared, not one per caller
    for called, returned in calls:
        assert any(called <= start and end <= returned for start, end in runs), (called, runs)


def test_a_failed_run_fails_its_callers_and_the_next_call_runs_again() -> None:
    outcomes = iter([RuntimeError("refresh failed"), None])

    def action() -> None:
        error = next(outcomes)
        if error is not None:
            raise error

    shared = Coalesced(action=action)
    with pytest.raises(RuntimeError, match="refresh failed"):
        shared()
    shared()  # the second run succeeds
