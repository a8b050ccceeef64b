"""Exact distinct counts over a true sliding window of evidence times.

A window of length W ending at time t holds the evidence with t - W < at <= t. The rule fires
at the first evidence time at which some window holds `at_least` distinct values; counting is
exact (a dict of counts, never a sketch) and depends only on the evidence, so every worker,
every restart and every replay computes the same crossing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from respond.evidence import Timed


@dataclass(frozen=True, slots=True, kw_only=True)
class Crossing:
    """Where the evidence reached the threshold, and the most it ever held in one window."""

    crossed_at_us: int  # the evidence time that brought the count to the threshold
    window_start_us: int  # the oldest evidence time inside that first crossing window
    best_count: int  # the highest distinct count of any window


def first_crossing(
    *, evidence: Sequence[Timed], distinct: str, at_least: int, within_s: int
) -> Crossing | None:
    """The first crossing of `at_least` distinct values within `within_s`, or None.

    `evidence` must be sorted by time (RuleScope.evidence sorts it)."""
    width_us = within_s * 1_000_000
    counts: dict[str, int] = {}
    left = 0
    crossing: tuple[int, int] | None = None
    best = 0
    for right, timed in enumerate(evidence):
        value = timed.value(distinct=distinct)
        counts[value] = counts.get(value, 0) + 1
        while timed.at_us - evidence[left].at_us >= width_us:
            gone = evidence[left].value(distinct=distinct)
            counts[gone] -= 1
            if not counts[gone]:
                del counts[gone]
            left += 1
        # Equal times enter together: the window ending at this time holds all of them.
        if right + 1 < len(evidence) and evidence[right + 1].at_us == timed.at_us:
            continue
        best = max(best, len(counts))
        if crossing is None and len(counts) >= at_least:
            crossing = (timed.at_us, evidence[left].at_us)
    if crossing is None:
        return None
    return Crossing(crossed_at_us=crossing[0], window_start_us=crossing[1], best_count=best)
