"""The one STIX time module: versions order by instant, whatever their precision."""

from __future__ import annotations

import pytest

from igsc.stix_time import StixTimeError, instant_ns, is_later, rfc3339_ns, version_key

MIXED = [
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00.25Z",
    "2024-05-01T10:00:00.5Z",
    "2024-05-01T10:00:00.500001Z",
    "2024-05-01T10:00:00.5000011Z",
    "2024-05-01T10:00:01Z",
]


def test_mixed_precisions_order_by_instant_not_by_text() -> None:
    assert sorted(MIXED) != MIXED  # as strings, ':00Z' sorts after ':00.5Z'
    assert sorted(MIXED, key=instant_ns) == MIXED
    assert sorted(MIXED, key=version_key) == MIXED
    assert is_later("2024-05-01T10:00:00.5Z", than="2024-05-01T10:00:00Z")
    assert not is_later("2024-05-01T10:00:00.500Z", than="2024-05-01T10:00:00.5Z")


def test_fraction_digits_past_nanoseconds_are_accepted_but_do_not_order() -> None:
    ten = "2024-01-01T00:00:00.1234567890Z"
    assert instant_ns(ten) == instant_ns("2024-01-01T00:00:00.123456789Z")
    assert version_key(ten) == "2024-01-01T00:00:00.123456789Z"


@pytest.mark.parametrize(
    "text",
    [
        "2024-13-01T00:00:00Z",  # month 13
        "2023-02-29T00:00:00Z",  # not a leap year
        "2024-01-01T00:00:00",  # no Z
        "2024-01-01T00:00:00+01:00",  # STIX timestamps are UTC with Z
        "2024-01-01 00:00:00Z",
        "yesterday",
    ],
)
def test_what_is_not_a_stix_timestamp_is_refused(text: str) -> None:
    with pytest.raises(StixTimeError):
        instant_ns(text)


def test_server_headers_may_carry_an_offset_and_garbage_is_none() -> None:
    assert rfc3339_ns("2024-01-01T01:00:00+01:00") == instant_ns("2024-01-01T00:00:00Z")
    assert rfc3339_ns("undefined") is None
