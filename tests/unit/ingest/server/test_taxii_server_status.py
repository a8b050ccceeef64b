"""Status retention: kept at least status_retention_s, then swept from State."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from igsc.adapters.sqlite_state import SqliteState
from ingest.server.status import Outcome, StatusStore


class _Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def _outcome(status_id: str) -> Outcome:
    return Outcome(
        id=status_id,
        request_timestamp="2024-01-01T00:00:00.000000Z",
        successes=(),
        failures=(),
        unforwarded=(),
        unreadable=(),
    )


def _status(status_id: str) -> dict[str, Any]:
    return _outcome(status_id).resource(readable=True)


def test_status_survives_the_retention_period_then_goes(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    clock = _Clock(1_700_000_000.0)
    store = StatusStore(state=state, retention_s=86400, now_s=clock)
    store.save(partner="alpha", api_root="main", outcome=_outcome("s-1"))
    clock.now += 86400 - 1
    assert store.load(partner="alpha", api_root="main", status_id="s-1") == _status("s-1")
    clock.now += 2
    assert store.load(partner="alpha", api_root="main", status_id="s-1") is None
    assert state.scan(prefix="taxii:status:") == ["taxii:status:s-1"]  # not yet swept
    clock.now += 3 * 3600
    assert store.sweep() == 1
    assert state.scan(prefix="taxii:status") == ["taxii:status-swept"]
    state.close()


def test_sweeping_keeps_statuses_that_are_still_retained(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    clock = _Clock(1_700_000_000.0)
    store = StatusStore(state=state, retention_s=2 * 86400, now_s=clock)
    store.save(partner="alpha", api_root="main", outcome=_outcome("old"))
    clock.now += 86400
    store.save(partner="alpha", api_root="main", outcome=_outcome("new"))
    clock.now += 86400 + 3 * 3600  # "old" is past retention, "new" is not
    store.sweep()
    assert store.load(partner="alpha", api_root="main", status_id="new") == _status("new")
    assert state.get_many(keys=["taxii:status:old"]) == {}
    state.close()


def test_status_belongs_to_one_partner_and_api_root(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    store = StatusStore(state=state, retention_s=86400)
    store.save(partner="alpha", api_root="main", outcome=_outcome("s"))
    assert store.load(partner="bravo", api_root="main", status_id="s") is None
    assert store.load(partner="alpha", api_root="other", status_id="s") is None
    assert store.load(partner="alpha", api_root="main", status_id="s") is not None
    state.close()
