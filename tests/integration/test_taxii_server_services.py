"""The TAXII server on the real Index and State (Elasticsearch, Redis): same rules at scale."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from igsc.settings import Settings
from igsc.wiring import build_index, build_state, build_stream
from ingest.server.app import create_app
from ingest.server.store import SCHEMA
from tests.conftest import require_service
from tests.unit.ingest.server.taxii_server_fixtures import (
    CLEAR,
    GREEN,
    RED,
    SHARED,
    Server,
    default_partners,
    indicator,
    taxii_settings,
)

pytestmark = [pytest.mark.elasticsearch, pytest.mark.redis]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    es, redis = require_service("elasticsearch"), require_service("redis")
    settings = Settings(
        home=tmp_path,
        namespace="t" + uuid.uuid4().hex[:10],
        index_url=f"http://{es}",
        state_url=f"redis://{redis}/0",
        partners=default_partners(),
        taxii=taxii_settings(),
    )
    stream, index, state = build_stream(settings), build_index(settings), build_state(settings)
    app = create_app(settings=settings, stream=stream, index=index, state=state)
    made = Server(
        client=TestClient(app, raise_server_exceptions=False),
        settings=settings,
        stream=stream,
        index=index,
        state=state,
    )
    yield made
    made.client.close()
    index.drop(schema=SCHEMA)
    state.delete(keys=state.scan(prefix=""))
    for port in (stream, index, state):
        port.close()


def _complete(server: Server, posted: dict[str, Any], who: str = "alpha") -> dict[str, Any]:
    """The POST's status, read until it says complete (at most 10 s): its objects are
    readable from then on."""
    deadline = time.monotonic() + 10
    status = posted
    while status["status"] != "complete" and time.monotonic() < deadline:
        time.sleep(0.01)
        status = server.get(f"/main/status/{posted['id']}/", who).json()
    assert status["status"] == "complete", status
    return status


def test_posted_objects_become_readable_at_the_next_refresh_without_forcing_one(
    server: Server,
) -> None:
    obj = indicator(markings=(GREEN,))
    started = time.monotonic()
    posted = server.post([obj], who="alpha").json()
    # Stored, not yet readable: pending until the store's next refresh.
    assert posted["status"] == "pending" and posted["pending_count"] == 1
    assert [p["id"] for p in posted["pendings"]] == [obj["id"]]
    done = _complete(server, posted)
    waited = time.monotonic() - started
    assert [s["id"] for s in done["successes"]] == [obj["id"]]
    assert [o["id"] for o in server.read_all("bravo")] == [obj["id"]]
    # One refresh interval (500 ms) plus the refresh itself, with room for a loaded machine.
    assert waited < 5


def test_paging_on_elasticsearch_returns_every_visible_object_once(server: Server) -> None:
    shown = [indicator(markings=(GREEN,)) for _ in range(120)]
    hidden = [indicator(markings=(RED,)) for _ in range(40)]
    statuses = []
    for i in range(0, 120, 30):
        batch = shown[i : i + 30] + hidden[i // 3 : i // 3 + 10]
        statuses.append(server.post(batch, who="alpha").json())
        assert statuses[-1]["total_count"] == 40
    assert [_complete(server, s)["success_count"] for s in statuses] == [40] * 4
    seen = server.read_all("bravo", limit=17)
    counts = Counter(o["id"] for o in seen)
    assert set(counts) == {o["id"] for o in shown} and set(counts.values()) == {1}
    assert len(server.read_all("alpha", limit=50)) == 160
    dates = [
        m["date_added"]
        for m in server.read_all("alpha", f"/main/collections/{SHARED}/manifest/", limit=64)
    ]
    assert len(set(dates)) == 160 and dates == sorted(dates)


def test_versions_last_and_delete_on_elasticsearch(server: Server) -> None:
    ident = indicator()["id"]
    mods = ["2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"]
    _complete(
        server,
        server.post([indicator(ident, modified=m, markings=(CLEAR,)) for m in mods[::-1]]).json(),
    )
    url = f"{server.objects_url()}{ident}/"
    latest = server.get(url, "bravo").json()
    assert [o["modified"] for o in latest["objects"]] == [mods[-1]]
    assert server.get(url + "versions/", "bravo").json()["versions"] == mods[::-1]
    deleted = server.client.delete(
        url, headers=server.headers("alpha"), params={"match[version]": "last"}
    )
    assert deleted.status_code == 200
    assert [o["modified"] for o in server.get(url, "bravo").json()["objects"]] == [mods[1]]
    posted = server.post([indicator()], who="alpha").json()
    done = _complete(server, posted)
    assert {k: v for k, v in done.items() if k not in ("status", "successes", "pendings")} == {
        **{k: v for k, v in posted.items() if k not in ("status", "successes", "pendings")},
        "success_count": 1,
        "pending_count": 0,
    }
    assert server.get(f"/main/status/{posted['id']}/", "bravo").status_code == 404
