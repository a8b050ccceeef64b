"""Catch-up mode starts after a run of full batches and ends after a run of short ones."""

from __future__ import annotations

from igsc.pacing import CatchUpSwitch


def test_catch_up_starts_after_three_full_batches_in_a_row() -> None:
    switch = CatchUpSwitch()
    assert [switch.report(behind=True) for _ in range(2)] == [None, None]
    assert switch.report(behind=True) is True
    assert switch.catching_up
    assert switch.report(behind=True) is None  # already catching up: nothing to change


def test_a_burst_is_not_a_backlog() -> None:
    switch = CatchUpSwitch()
    reports = [True, True, False, True, True, False]
    assert [switch.report(behind=b) for b in reports] == [None] * 6
    assert not switch.catching_up


def test_catch_up_ends_after_three_short_batches_in_a_row() -> None:
    switch = CatchUpSwitch(enter_after=1)
    assert switch.report(behind=True) is True
    # The rest of a fetch is a short batch inside a backlog: one alone changes nothing.
    assert [switch.report(behind=b) for b in (False, True, False, False)] == [None] * 4
    assert switch.catching_up
    assert switch.report(behind=False) is False
    assert switch.report(behind=False) is None


def test_an_unapplied_change_is_made_again_by_the_next_report() -> None:
    switch = CatchUpSwitch()
    assert [switch.report(behind=True) for _ in range(3)] == [None, None, True]
    switch.undo()  # e.g. Elasticsearch refused the settings change
    assert not switch.catching_up
    assert switch.report(behind=True) is True  # not three more reports
    assert [switch.report(behind=False) for _ in range(3)] == [None, None, False]
    switch.undo()
    assert switch.catching_up
    assert switch.report(behind=False) is False
