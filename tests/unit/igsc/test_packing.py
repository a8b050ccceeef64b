"""Packed state rows round-trip every value exactly, compactly in the usual cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from igsc.packing import CorruptRow, NameTable, Packer, Unpacker, stix_id_bytes, time_bytes


class _Table(NameTable):
    """An in-memory Names table, optionally full from the start."""

    def __init__(self, *, limit: int = 100) -> None:
        super().__init__()
        self.strings: list[str] = []
        self.limit = limit

    def id_of(self, value: str) -> int | None:
        if value in self.strings:
            return self.strings.index(value)
        if len(self.strings) >= self.limit:
            return None
        self.strings.append(value)
        return len(self.strings) - 1

    def string(self, name_id: int) -> str:
        return self.strings[name_id]


def _round_trip(value: str, method: str) -> str:
    names = _Table()
    packer = Packer(names=names)
    getattr(packer, method)(value)
    reader = Unpacker(packer.done(), names=names)
    out: str = getattr(reader, method)()
    assert reader.at_end()
    return out


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T08:00:00Z",
        "2026-11-20T08:00:00.000Z",
        "2026-11-20T08:00:00.050Z",
        "2024-02-29T23:59:59.123456789Z",
        "1969-07-20T20:17:40Z",
        "0001-01-01T00:00:00Z",
        "2026-02-30T00:00:00Z",  # no such day: kept as text, still exact
        "2026-11-20T08:00:60Z",  # a leap second
        "2026-11-20T08:00:00+00:00",
        "not a time",
    ],
)
def test_timestamps_come_back_exactly_as_written(value: str) -> None:
    assert _round_trip(value, "time") == value


def test_usual_timestamps_take_six_bytes() -> None:
    assert len(time_bytes("2026-11-20T08:00:00.000Z")) == 6
    assert len(time_bytes("2026-11-20T08:00:00Z")) == 5


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_any_real_instant_round_trips(moment: datetime) -> None:
    for text in (
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
    ):
        assert _round_trip(text, "time") == text


def test_packed_times_order_like_the_instants() -> None:
    start = datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC)
    texts = [(start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(4)]
    assert [_round_trip(t, "time") for t in texts] == texts


@pytest.mark.parametrize(
    "value",
    [
        "indicator--0b7f2d6e-8c3a-4d1e-9f00-123456789abc",
        "sighting--0b7f2d6e-8c3a-4d1e-9f00-123456789abc",
        "x-custom--0b7f2d6e-8c3a-4d1e-9f00-123456789abc",
        "indicator--0B7F2D6E-8C3A-4D1E-9F00-123456789ABC",  # not canonical: kept as text
        "indicator--not-a-uuid",
        "no separator",
    ],
)
def test_stix_ids_come_back_exactly(value: str) -> None:
    assert _round_trip(value, "stix_id") == value


def test_usual_stix_ids_take_seventeen_bytes() -> None:
    assert len(stix_id_bytes("indicator--0b7f2d6e-8c3a-4d1e-9f00-123456789abc")) == 17


@given(st.lists(st.integers(min_value=0, max_value=2**64), max_size=20), st.text(max_size=50))
def test_numbers_and_texts_round_trip(numbers: list[int], text: str) -> None:
    names = _Table()
    packer = Packer(names=names)
    for n in numbers:
        packer.uint(n)
    packer.text(text)
    reader = Unpacker(packer.done(), names=names)
    assert [reader.uint() for _ in numbers] == numbers
    assert reader.text() == text
    assert reader.at_end()


def test_names_fall_back_to_text_when_the_table_is_full() -> None:
    names = _Table(limit=1)
    packer = Packer(names=names)
    for value in ("cert-de", "cert-fr", "cert-de"):
        packer.name(value)
    reader = Unpacker(packer.done(), names=names)
    assert [reader.name() for _ in range(3)] == ["cert-de", "cert-fr", "cert-de"]
    assert names.strings == ["cert-de"]


def test_a_truncated_row_is_reported_not_misread() -> None:
    names = _Table()
    packer = Packer(names=names)
    packer.text("a long enough description")
    with pytest.raises(CorruptRow):
        Unpacker(packer.done()[:-3], names=names).text()
    with pytest.raises(CorruptRow):
        Unpacker(b"\xff\xff", names=names).uint()
