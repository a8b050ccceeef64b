"""Server timestamps: validated, compared exactly, never invented."""

from __future__ import annotations

import pytest

from ingest.poll.timestamps import parse_server_time


@pytest.mark.parametrize("value", [None, "", "undefined", "null", "2024-13-01", "1714521600"])
def test_values_that_are_not_timestamps_are_refused(value: str | None) -> None:
    assert parse_server_time(value) is None


def test_text_is_kept_verbatim_and_offsets_compare_by_instant() -> None:
    utc = parse_server_time("2024-05-01T10:00:00.123456Z")
    shifted = parse_server_time("2024-05-01T12:00:00.123456+02:00")
    assert utc is not None and shifted is not None
    assert utc.text == "2024-05-01T10:00:00.123456Z"
    assert utc == shifted


def test_sub_microsecond_precision_orders_correctly() -> None:
    a = parse_server_time("2024-05-01T10:00:00.123456789Z")
    b = parse_server_time("2024-05-01T10:00:00.123456788Z")
    assert a is not None and b is not None
    assert b < a


@pytest.mark.parametrize(
    "value",
    ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.5Z", "2024-05-01T10:00:00.123456789Z"],
)
def test_tick_before_is_strictly_earlier_and_within_two_microseconds(value: str) -> None:
    t = parse_server_time(value)
    assert t is not None
    before = parse_server_time(t.tick_before())
    assert before is not None
    assert before < t
    gap_ns = t.nanos - before.nanos
    assert 0 < gap_ns <= 2000
