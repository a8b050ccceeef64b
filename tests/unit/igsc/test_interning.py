"""Interned names: every worker and every restart agrees on each id."""

from __future__ import annotations

import threading
from pathlib import Path

from igsc.adapters.sqlite_state import SqliteState
from igsc.interning import Interner


def test_ids_are_stable_across_instances_and_reopening(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "s.db", namespace="t")
    first = Interner(state=state, table="merge")
    ids = [first.id_of(v) for v in ("cert-de", "cert-fr", "cert-de")]
    assert ids == [0, 1, 0]
    state.close()
    reopened = SqliteState(path=tmp_path / "s.db", namespace="t")
    second = Interner(state=reopened, table="merge")
    assert (second.string(1), second.string(0)) == ("cert-fr", "cert-de")
    assert second.id_of("cert-fr") == 1
    reopened.close()


def test_concurrent_workers_never_hand_out_one_id_twice(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    results: list[dict[str, int | None]] = []

    def worker(n: int) -> None:
        state = SqliteState(path=path, namespace="t")
        names = Interner(state=state, table="merge")
        results.append({v: names.id_of(v) for v in (f"w{n}-{i}" for i in range(30))})
        state.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = {value: name_id for r in results for value, name_id in r.items()}
    assert len(seen) == 120
    assert sorted(i for i in seen.values() if i is not None) == list(range(120))
    check = Interner(state=SqliteState(path=path, namespace="t"), table="merge")
    assert all(check.string(i) == v for v, i in seen.items() if i is not None)


def test_a_full_table_returns_none_and_tables_are_separate(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "s.db", namespace="t")
    small = Interner(state=state, table="a", limit=2)
    assert [small.id_of(v) for v in ("x", "y", "z")] == [0, 1, None]
    assert Interner(state=state, table="b").id_of("z") == 0
    state.close()
