"""A status says `complete` only once its objects can be read back, on either kind of store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from taxii_server_fixtures import SHARED, Server, indicator, make_server

from igsc.adapters.sqlite_state import SqliteState
from igsc.ports import IndexSchema
from igsc.wiring import build_index, build_state, build_stream
from ingest.server.app import create_app
from ingest.server.clock import DateAddedClock
from ingest.server.release import SearchableReleaser
from ingest.server.status import Outcome, StatusStore
from ingest.server.store import VersionStore

WAIT_S = 10.0


def _until(done: Callable[[], bool], *, timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def status_when_complete(server: Server, posted: dict[str, Any], who: str = "alpha") -> Any:
    """GET the status until it says complete (at most WAIT_S); the last status read."""
    url = f"/main/status/{posted['id']}/"
    latest = posted
    deadline = time.monotonic() + WAIT_S
    while latest["status"] != "complete" and time.monotonic() < deadline:
        time.sleep(0.01)
        latest = server.get(url, who).json()
    return latest


def read_back_right_after_complete(server: Server) -> dict[str, Any]:
    """POST, wait for complete, then every read path shows the objects at once; the
    status the first POST answered."""
    posted = [indicator() for _ in range(5)]
    answer: dict[str, Any] = server.post(posted).json()
    done = status_when_complete(server, answer)
    assert done["status"] == "complete", done
    assert {s["id"] for s in done["successes"]} == {o["id"] for o in posted}
    assert (done["success_count"], done["pending_count"], done["total_count"]) == (5, 0, 5)

    objects = server.get(server.objects_url()).json()["objects"]
    assert sorted(o["id"] for o in objects) == sorted(o["id"] for o in posted)
    paged = server.read_all("alpha", limit=2)
    assert sorted(o["id"] for o in paged) == sorted(o["id"] for o in posted)
    manifest = server.read_all("alpha", f"/main/collections/{SHARED}/manifest/")
    assert sorted(m["id"] for m in manifest) == sorted(o["id"] for o in posted)
    one = posted[2]
    found = server.get(server.objects_url(), **{"match[id]": one["id"]}).json()["objects"]
    assert found == [one]

    newer = indicator(one["id"], modified="2024-06-01T00:00:00.000Z")
    assert status_when_complete(server, server.post([newer]).json())["status"] == "complete"
    both = server.get(
        server.objects_url(), **{"match[id]": one["id"], "match[version]": "all"}
    ).json()["objects"]
    assert [o["modified"] for o in both] == [one["modified"], newer["modified"]]
    return answer


def test_on_the_embedded_store_a_post_is_complete_at_once_and_reads_back(
    server: Server,
) -> None:
    answer = read_back_right_after_complete(server)
    assert answer["status"] == "complete" and answer["success_count"] == 5


class _RefreshOnCue:
    """The embedded index, behaving like one that needs a refresh: await_refresh returns
    only once the test lets a refresh happen."""

    searchable_on_write = False

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.refreshed = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def await_refresh(self, *, schema: IndexSchema) -> None:
        self.refreshed.wait()


@pytest.fixture
def cued(tmp_path: Path) -> Iterator[tuple[Server, _RefreshOnCue]]:
    made = make_server(tmp_path)
    index = _RefreshOnCue(build_index(made.settings))
    app = create_app(
        settings=made.settings,
        stream=build_stream(made.settings),
        index=index,
        state=build_state(made.settings),
    )
    made.client = TestClient(app, raise_server_exceptions=False)
    yield made, index
    index.refreshed.set()
    made.client.close()


def test_objects_waiting_for_a_refresh_are_pending_until_it_happens(
    cued: tuple[Server, _RefreshOnCue],
) -> None:
    server, index = cued
    obj = indicator()
    answer = server.post([obj]).json()
    assert answer["status"] == "pending"
    assert [p["id"] for p in answer["pendings"]] == [obj["id"]]
    assert (answer["success_count"], answer["pending_count"], answer["total_count"]) == (0, 1, 1)
    time.sleep(0.2)  # the release thread is waiting for the refresh
    url = f"/main/status/{answer['id']}/"
    assert server.get(url).json()["status"] == "pending"
    assert server.get(server.objects_url()).json()["objects"] == []

    index.refreshed.set()
    done = status_when_complete(server, answer)
    assert done["status"] == "complete"
    assert [(s["id"], s["version"]) for s in done["successes"]] == [(obj["id"], obj["modified"])]
    assert done["pendings"] == [] and "message" not in done["successes"][0]
    # Complete means readable: no waiting after it.
    assert [o["id"] for o in server.get(server.objects_url()).json()["objects"]] == [obj["id"]]


def test_objects_already_stored_are_successes_at_once(cued: tuple[Server, _RefreshOnCue]) -> None:
    server, index = cued
    old, new = indicator(), indicator()
    first = server.post([old]).json()
    index.refreshed.set()
    assert status_when_complete(server, first)["status"] == "complete"
    index.refreshed.clear()
    answer = server.post([old, new]).json()
    assert [s["id"] for s in answer["successes"]] == [old["id"]]
    assert [p["id"] for p in answer["pendings"]] == [new["id"]]
    index.refreshed.set()
    assert status_when_complete(server, answer)["success_count"] == 2


def test_the_embedded_store_runs_the_whole_read_back_flow_as_if_it_needed_refreshes(
    cued: tuple[Server, _RefreshOnCue],
) -> None:
    server, index = cued
    index.refreshed.set()  # refreshes happen, but only the release thread may say complete
    answer = read_back_right_after_complete(server)
    assert answer["status"] == "pending" and answer["pending_count"] == 5


def test_a_status_stays_pending_while_an_older_block_still_hides_its_objects(
    tmp_path: Path,
) -> None:
    settings = make_server(tmp_path).settings
    state = build_state(settings)
    statuses = StatusStore(state=state, retention_s=86400)
    clock = DateAddedClock(state=state)
    releaser = SearchableReleaser(
        store=VersionStore(index=build_index(settings)), clock=clock, statuses=statuses
    )
    older = clock.reserve(scope="main:c", count=3)  # another request, still landing
    mine = clock.reserve(scope="main:c", count=2)
    statuses.save(partner="alpha", api_root="main", outcome=_waiting("s-1"))
    assert releaser.release_when_searchable(reservation=mine, status_id="s-1") is False

    def status() -> str:
        found = statuses.load(partner="alpha", api_root="main", status_id="s-1")
        assert found is not None
        return str(found["status"])

    time.sleep(0.2)
    assert status() == "pending"
    clock.release(reservation=older)
    assert _until(lambda: status() == "complete")
    # With nothing older in flight, the embedded store answers readable at once.
    assert releaser.release_when_searchable(
        reservation=clock.reserve(scope="main:c", count=1), status_id="s-2"
    )


def _waiting(status_id: str, *, unforwarded: int = 0) -> Outcome:
    return Outcome(
        id=status_id,
        request_timestamp="2024-01-01T00:00:00.000000Z",
        successes=({"id": "indicator--a", "version": "v"},),
        failures=({"id": "", "version": "", "message": "bad"},),
        unforwarded=tuple({"id": f"indicator--u{i}", "version": "v"} for i in range(unforwarded)),
        unreadable=({"id": "indicator--b", "version": "v", "message": "stored"},),
    )


def test_a_status_marked_readable_by_another_worker_before_it_is_saved_is_complete(
    tmp_path: Path,
) -> None:
    # Three workers on one State: the releaser may mark before the poster saves.
    states = [SqliteState(path=tmp_path / "state.db", namespace="t") for _ in range(3)]
    marker, poster, reader = (StatusStore(state=s, retention_s=86400) for s in states)
    marker.mark_readable(status_ids=["s-1"])
    poster.save(partner="alpha", api_root="main", outcome=_waiting("s-1"))
    poster.save(partner="alpha", api_root="main", outcome=_waiting("s-2"))
    done = reader.load(partner="alpha", api_root="main", status_id="s-1")
    assert done is not None and done["status"] == "complete"
    assert [s["id"] for s in done["successes"]] == ["indicator--a", "indicator--b"]
    assert (done["success_count"], done["failure_count"], done["pending_count"]) == (2, 1, 0)
    # Never marked (its process died before the refresh): honestly still pending.
    waiting = reader.load(partner="alpha", api_root="main", status_id="s-2")
    assert waiting is not None and waiting["status"] == "pending"
    assert [p["id"] for p in waiting["pendings"]] == ["indicator--b"]
    assert waiting["total_count"] == 3
    for state in states:
        state.close()


def test_unforwarded_objects_stay_pending_once_readable() -> None:
    status = _waiting("s", unforwarded=1).resource(readable=True)
    assert status["status"] == "pending"
    assert [p["id"] for p in status["pendings"]] == ["indicator--u0"]
    assert [s["id"] for s in status["successes"]] == ["indicator--a", "indicator--b"]
    assert status["total_count"] == 4


def test_readable_markers_are_swept_with_their_status(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    now = [1_700_000_000.0]
    store = StatusStore(state=state, retention_s=86400, now_s=lambda: now[0])
    store.save(partner="alpha", api_root="main", outcome=_waiting("s-1"))
    now[0] += 7200  # marked in a later expiry hour than the status was saved
    store.mark_readable(status_ids=["s-1"])
    now[0] += 86400 + 4 * 3600
    store.sweep()
    assert state.scan(prefix="taxii:status") == ["taxii:status-swept"]
    state.close()


def test_post_answers_fast_while_a_refresh_is_awaited(cued: tuple[Server, _RefreshOnCue]) -> None:
    server, _ = cued
    started = time.monotonic()
    for _ in range(5):
        assert server.post([indicator()]).status_code == 202
    # The POSTs never wait for the refresh (which here never comes).
    assert time.monotonic() - started < 5
