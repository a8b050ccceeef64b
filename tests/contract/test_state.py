"""One contract for every State adapter: the same assertions on SQLite and on Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from igsc.adapters.redis_state import RedisState
from igsc.adapters.sqlite_state import SqliteState
from igsc.ports import State
from tests.conftest import require_service


def _make(kind: str, tmp_path: Path, namespace: str) -> State:
    if kind == "redis":
        return RedisState(url=f"redis://{require_service('redis')}/0", namespace=namespace)
    return SqliteState(path=tmp_path / "state.db", namespace=namespace)


@pytest.fixture(params=["sqlite", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def state(kind: str, tmp_path: Path, unique: str) -> Iterator[State]:
    made = _make(kind, tmp_path, unique)
    yield made
    made.delete(keys=made.scan(prefix=""))
    made.close()


def test_put_many_then_get_many_returns_only_existing_keys(state: State) -> None:
    state.put_many(items={f"k{i}": f"v{i}".encode() for i in range(1200)})
    got = state.get_many(keys=[f"k{i}" for i in range(0, 1300, 100)])
    assert got == {f"k{i}": f"v{i}".encode() for i in range(0, 1200, 100)}


def test_compare_and_set_only_succeeds_on_the_expected_value(state: State) -> None:
    assert state.compare_and_set(key="cp", expected=None, new=b"1")
    assert not state.compare_and_set(key="cp", expected=None, new=b"2")
    assert not state.compare_and_set(key="cp", expected=b"0", new=b"2")
    assert state.compare_and_set(key="cp", expected=b"1", new=b"2")
    assert state.get_many(keys=["cp"]) == {"cp": b"2"}


def test_scan_lists_keys_under_a_prefix_even_with_glob_characters(state: State) -> None:
    state.put_many(items={"cp:a*": b"1", "cp:b": b"2", "cpx": b"3", "dedup:x": b"4"})
    assert state.scan(prefix="cp:") == ["cp:a*", "cp:b"]
    assert state.scan(prefix="cp:a*") == ["cp:a*"]
    state.delete(keys=["cp:b"])
    assert state.scan(prefix="cp") == ["cp:a*", "cpx"]


def test_namespaces_never_see_each_other(kind: str, tmp_path: Path, unique: str) -> None:
    one, two = _make(kind, tmp_path, unique + "a"), _make(kind, tmp_path, unique + "b")
    one.put_many(items={"k": b"one"})
    assert two.get_many(keys=["k"]) == {}
    assert two.scan(prefix="") == []
    one.delete(keys=["k"])
    one.close()
    two.close()


def test_values_survive_reopening(kind: str, tmp_path: Path, unique: str) -> None:
    first = _make(kind, tmp_path, unique)
    first.put_many(items={"checkpoint": b"2026-01-01T00:00:00.000000Z"})
    first.close()
    second = _make(kind, tmp_path, unique)
    assert second.get_many(keys=["checkpoint"]) == {"checkpoint": b"2026-01-01T00:00:00.000000Z"}
    second.delete(keys=["checkpoint"])
    second.close()


def test_rows_round_trip_binary_keys_and_values_per_table(state: State) -> None:
    rows = {i.to_bytes(4, "big") + b"\x00\xff": bytes([i % 256]) * (i % 300) for i in range(1500)}
    state.put_rows(table="m", rows=rows)
    state.put_rows(table="other", rows={b"\x00\x00\x00\x01\x00\xff": b"elsewhere"})
    # Every third key of 1,600 (some missing): reads span several calls in both adapters.
    wanted = [i.to_bytes(4, "big") + b"\x00\xff" for i in range(0, 1600, 3)]
    got = state.get_rows(table="m", keys=wanted)
    assert got == {k: rows[k] for k in wanted if k in rows}
    assert state.get_rows(table="other", keys=[b"\x00\x00\x00\x01\x00\xff"]) == {
        b"\x00\x00\x00\x01\x00\xff": b"elsewhere"
    }


def test_put_rows_overwrites_and_keys_do_not_see_rows(state: State) -> None:
    state.put_rows(table="m", rows={b"a": b"1", b"b": b"2"})
    state.put_rows(table="m", rows={b"a": b"3"})
    assert state.get_rows(table="m", keys=[b"a", b"b", b"c"]) == {b"a": b"3", b"b": b"2"}
    assert state.get_many(keys=["a", "m:a"]) == {}


def test_rows_survive_reopening(kind: str, tmp_path: Path, unique: str) -> None:
    first = _make(kind, tmp_path, unique)
    first.put_rows(table="sid", rows={b"\x01" * 16: b"v1"})
    first.close()
    second = _make(kind, tmp_path, unique)
    assert second.get_rows(table="sid", keys=[b"\x01" * 16]) == {b"\x01" * 16: b"v1"}
    second.delete(keys=second.scan(prefix=""))
    second.close()
