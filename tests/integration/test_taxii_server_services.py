"""The TAXII server on the real Index and State (Elasticsearch, Redis): same rules at scale."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
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


def _eventually(read: Callable[[], Any], *, until: Callable[[Any], bool]) -> Any:
    """The read once `until` holds: a POST's objects become readable at the next refresh."""
    deadline = time.monotonic() + 10
    got = read()
    while not until(got) and time.monotonic() < deadline:
        time.sleep(0.05)
        got = read()
    return got


def test_posted_objects_become_readable_at_the_next_refresh_without_forcing_one(
    server: Server,
) -> None:
    obj = indicator(markings=(GREEN,))
    started = time.monotonic()
    assert server.post([obj], who="alpha").json()["success_count"] == 1
    seen = _eventually(lambda: server.read_all("bravo"), until=lambda got: len(got) == 1)
    waited = time.monotonic() - started
    assert [o["id"] for o in seen] == [obj["id"]]
    # One refresh interval (500 ms) plus the refresh itself, with room for a loaded machine.
    assert waited < 5


def test_paging_on_elasticsearch_returns_every_visible_object_once(server: Server) -> None:
    shown = [indicator(markings=(GREEN,)) for _ in range(120)]
    hidden = [indicator(markings=(RED,)) for _ in range(40)]
    for i in range(0, 120, 30):
        batch = shown[i : i + 30] + hidden[i // 3 : i // 3 + 10]
        assert server.post(batch, who="alpha").json()["success_count"] == 40
    seen = _eventually(lambda: server.read_all("bravo", limit=17), until=lambda s: len(s) >= 120)
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
    server.post([indicator(ident, modified=m, markings=(CLEAR,)) for m in mods[::-1]])
    url = f"{server.objects_url()}{ident}/"
    # Searchable first (200, no objects yet: their date_added block is still held), then
    # readable once the releaser has seen the refresh.
    latest = _eventually(
        lambda: server.get(url, "bravo"),
        until=lambda r: r.status_code == 200 and bool(r.json()["objects"]),
    ).json()
    assert [o["modified"] for o in latest["objects"]] == [mods[-1]]
    assert server.get(url + "versions/", "bravo").json()["versions"] == mods[::-1]
    deleted = server.client.delete(
        url, headers=server.headers("alpha"), params={"match[version]": "last"}
    )
    assert deleted.status_code == 200
    assert [o["modified"] for o in server.get(url, "bravo").json()["objects"]] == [mods[1]]
    posted = server.post([indicator()], who="alpha").json()
    assert server.get(f"/main/status/{posted['id']}/", "alpha").json() == posted
    assert server.get(f"/main/status/{posted['id']}/", "bravo").status_code == 404
