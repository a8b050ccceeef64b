"""igsc's TAXII server under real uvicorn, driven by the real taxii2-client and by raw HTTP."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from taxii2client.common import TokenAuth
from taxii2client.v21 import Collection, Server, Status, as_pages

from igsc.settings import Settings
from igsc.wiring import build_index, build_state, build_stream
from ingest.server.app import create_app
from ingest.server.store import SCHEMA
from tests.conftest import require_service
from tests.support.taxii_serving import serving
from tests.unit.ingest.server.taxii_server_fixtures import (
    AMBER_STRICT,
    CLEAR,
    GREEN,
    LIMIT,
    RED,
    SHARED,
    TAXII,
    default_partners,
    indicator,
    taxii_settings,
)


@dataclass
class Live:
    """A running server and where to reach it."""

    base: str
    settings: Settings
    needs_refresh: bool  # its store makes writes readable only at the next refresh

    def url(self, path: str) -> str:
        return self.base + path


@contextmanager
def _serving(settings: Settings) -> Iterator[Live]:
    stream, index, state = build_stream(settings), build_index(settings), build_state(settings)
    app = create_app(settings=settings, stream=stream, index=index, state=state)
    try:
        with serving(app) as base:
            yield Live(base=base, settings=settings, needs_refresh=not index.searchable_on_write)
    finally:
        if not index.searchable_on_write:  # a shared service: leave nothing behind
            index.drop(schema=SCHEMA)
            state.delete(keys=state.scan(prefix=""))
        stream.close()
        index.close()
        state.close()


def _settings(tmp_path: Path, **services: Any) -> Settings:
    return Settings(
        home=tmp_path,
        namespace="t" + uuid.uuid4().hex[:8],
        partners=default_partners(),
        taxii=taxii_settings(),
        **services,
    )


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with _serving(_settings(tmp_path)) as running:
        yield running


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("elasticsearch", marks=[pytest.mark.elasticsearch, pytest.mark.redis]),
    ]
)
def any_live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    """The server on the embedded store, then on Elasticsearch and Redis."""
    if request.param == "embedded":
        settings = _settings(tmp_path)
    else:
        es, redis = require_service("elasticsearch"), require_service("redis")
        settings = _settings(tmp_path, index_url=f"http://{es}", state_url=f"redis://{redis}/0")
    with _serving(settings) as running:
        yield running


def _shared(live: Live, user: str = "alpha") -> Collection:
    server = Server(live.url("/taxii2/"), user=user, password=f"{user}-password")
    assert server.title
    [main] = [r for r in server.api_roots if r.url.endswith("/main/")]
    assert main.versions == [TAXII]
    [collection] = [c for c in main.collections if c.id == SHARED]
    return collection


def test_taxii2_client_adds_objects_and_reads_them_back(any_live: Live) -> None:
    live = any_live
    collection = _shared(live)
    assert collection.can_read and collection.can_write
    ident = indicator()["id"]
    versions = [indicator(ident, modified=f"2024-0{m}-01T00:00:00.000Z") for m in (1, 2, 3)]
    malware = {
        "type": "malware",
        "spec_version": "2.1",
        "id": f"malware--{uuid.uuid4()}",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "m",
        "is_family": False,
    }
    bad = {"type": "indicator", "id": "indicator--nope"}
    # taxii2-client polls the status until complete, then this reads back at once.
    status = collection.add_objects({"objects": [*versions, malware, bad]}, poll_interval=0.05)
    assert status.status == "complete"
    assert (status.success_count, status.failure_count, status.pending_count) == (4, 1, 0)
    assert status.total_count == 5
    status.refresh()
    assert status.success_count == 4 and {s["id"] for s in status.successes} == {
        ident,
        malware["id"],
    }
    main = Server(live.url("/taxii2/"), user="alpha", password="alpha-password").api_roots[0]
    assert main.get_status(status.id).failure_count == 1

    assert [o["id"] for o in collection.get_objects(type="malware")["objects"]] == [malware["id"]]
    lasts = collection.get_objects(type="indicator")["objects"]
    assert [o["modified"] for o in lasts] == [versions[-1]["modified"]]
    everything = collection.get_objects(version="all")["objects"]
    assert len(everything) == 4
    assert collection.get_object(ident, version="first")["objects"] == [versions[0]]
    listed = collection.object_versions(ident)["versions"]
    assert listed == [v["modified"] for v in versions]
    manifest = collection.get_manifest(version="all")["objects"]
    assert {(m["id"], m["version"]) for m in manifest} == {
        (o["id"], o["modified"]) for o in [*versions, malware]
    }
    newest = max(m["date_added"] for m in manifest)
    assert collection.get_objects(added_after=newest) == {"more": False, "objects": []}


def test_as_pages_returns_every_object_exactly_once(any_live: Live) -> None:
    live = any_live
    writer = _shared(live, "alpha")
    posted = [indicator(markings=(GREEN,)) for _ in range(230)]
    for i in range(0, 230, 100):
        batch = posted[i : i + 100]
        status = writer.add_objects({"objects": batch}, poll_interval=0.05)
        assert status.status == "complete" and status.success_count == len(batch)
    reader = Collection(live.url(f"/main/collections/{SHARED}/"), auth=TokenAuth("tok-bravo"))
    pages = list(as_pages(reader.get_objects, per_request=40))
    assert len(pages) == 6
    counts = Counter(o["id"] for page in pages for o in page["objects"])
    assert set(counts) == {o["id"] for o in posted} and set(counts.values()) == {1}
    manifest_pages = list(as_pages(reader.get_manifest, per_request=100))
    assert len(manifest_pages) == 3
    assert sum(len(p["objects"]) for p in manifest_pages) == 230


def _until_complete(status: Status) -> Status:
    """The status, refreshed until it says complete (at most 10 s)."""
    deadline = time.monotonic() + 10
    while status.status != "complete" and time.monotonic() < deadline:
        time.sleep(0.01)
        status.refresh()
    return status


def test_taxii2_client_reads_everything_back_right_after_complete(any_live: Live) -> None:
    collection = _shared(any_live)
    posted = [indicator() for _ in range(5)]
    ids = sorted(o["id"] for o in posted)
    answer = collection.add_objects({"objects": posted}, wait_for_completion=False)
    if any_live.needs_refresh:  # stored, but not readable before the next refresh
        assert answer.status == "pending" and answer.success_count == 0
        assert sorted(p["id"] for p in answer.pendings) == ids
    done = _until_complete(answer)
    assert done.status == "complete", "not complete within 10 s"
    assert (done.success_count, done.pending_count, done.total_count) == (5, 0, 5)
    assert sorted(s["id"] for s in done.successes) == ids

    # No waiting from here on: complete means readable.
    assert sorted(o["id"] for o in collection.get_objects()["objects"]) == ids
    pages = list(as_pages(collection.get_objects, per_request=2))
    assert len(pages) == 3
    assert sorted(o["id"] for page in pages for o in page["objects"]) == ids
    assert sorted(m["id"] for m in collection.get_manifest()["objects"]) == ids
    one = posted[3]
    assert collection.get_objects(id=one["id"])["objects"] == [one]

    newer = indicator(one["id"], modified="2024-07-01T00:00:00.000Z")
    again = _until_complete(collection.add_objects({"objects": [newer]}, wait_for_completion=False))
    assert again.status == "complete" and again.success_count == 1
    both = collection.get_objects(id=one["id"], version="all")["objects"]
    assert both == [one, newer]
    assert collection.get_objects(id=one["id"])["objects"] == [newer]


def _raw(who: str | None, **extra: str) -> dict[str, str]:
    headers = {"Accept": TAXII}
    if who:
        headers["Authorization"] = f"Bearer tok-{who}"
    headers.update(extra)
    return headers


def test_raw_http_negotiation_and_refusals(live: Live) -> None:
    objects_url = live.url(f"/main/collections/{SHARED}/objects/")
    with httpx.Client(timeout=10) as client:
        ok = client.get(objects_url, headers=_raw("alpha", Accept="application/taxii+json"))
        assert ok.status_code == 200 and ok.headers["content-type"] == TAXII
        assert ok.headers["X-TAXII-Date-Added-First"] and ok.headers["X-TAXII-Date-Added-Last"]
        assert (
            client.get(objects_url, headers=_raw("alpha", Accept="application/json")).status_code
            == 406
        )
        body = orjson.dumps({"objects": [indicator()]})
        wrong_type = client.post(
            objects_url, content=body, headers=_raw("alpha", **{"Content-Type": "application/json"})
        )
        assert wrong_type.status_code == 415
        unauthenticated = client.get(objects_url, headers=_raw(None))
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["www-authenticate"].startswith("Basic")
        assert unauthenticated.json()["http_status"] == "401"
        assert client.get(objects_url, headers=_raw("writer")).status_code == 403
        read_only = client.post(
            objects_url, content=body, headers=_raw("charlie", **{"Content-Type": TAXII})
        )
        assert read_only.status_code == 403
        for response in (wrong_type, read_only):
            assert response.headers["content-type"] == TAXII and response.json()["title"]


def test_chunked_oversized_body_gets_413(live: Live) -> None:
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        yield b'{"objects": ['
        for _ in range(4 * LIMIT // 1000):
            piece = orjson.dumps(indicator(description="z" * 800)) + b","
            sent += len(piece)
            yield piece
        yield b"{}]}"

    with httpx.Client(timeout=10) as client:
        response = client.post(
            live.url(f"/main/collections/{SHARED}/objects/"),
            content=body(),
            headers=_raw("alpha", **{"Content-Type": TAXII}),
        )
        assert response.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert response.json()["http_status"] == "413"
        assert sent > LIMIT
        listed = client.get(live.url(f"/main/collections/{SHARED}/objects/"), headers=_raw("alpha"))
        assert listed.json()["objects"] == []


SERVE = """
import sys, orjson
from igsc.settings import load_settings
from ingest.server.app import serve
serve(settings=load_settings(overrides=orjson.loads(sys.argv[1])))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_runs_the_default_configuration(tmp_path: Path) -> None:
    port = _free_port()
    [alpha] = [p for p in default_partners() if p.id == "alpha"]
    overrides = {
        "home": str(tmp_path),
        "partners": [
            alpha.model_dump(mode="json")
            | {"inbound": {"token_hashes": list(alpha.inbound.token_hashes)}}
        ],
        "taxii": {"port": port},
    }
    proc = subprocess.Popen([sys.executable, "-c", SERVE, orjson.dumps(overrides).decode()])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/taxii2/", headers=_raw("alpha"), timeout=2
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None, "serve() exited"
                assert time.monotonic() < deadline, "serve() did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["api_roots"] == [f"http://127.0.0.1:{port}/shared/"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _texts(response: httpx.Response) -> list[str]:
    """Everything a response shows: body, headers, and the decoded payload of any next token."""
    texts = [response.text, orjson.dumps(dict(response.headers)).decode()]
    if response.headers.get("content-type") == TAXII and response.content:
        token = response.json().get("next") if response.status_code == 200 else None
        if token:
            payload = token.split(".")[0]
            texts.append(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode())
    return texts


def _walk(client: httpx.Client, url: str, who: str, params: dict[str, str]) -> list[httpx.Response]:
    """Every page of a paged read, one object per page, following next."""
    responses = [client.get(url, params={**params, "limit": "1"}, headers=_raw(who))]
    while responses[-1].status_code == 200 and responses[-1].json().get("more"):
        token = responses[-1].json()["next"]
        responses.append(
            client.get(url, params={**params, "limit": "1", "next": token}, headers=_raw(who))
        )
    return responses


def test_tlp_red_and_amber_strict_never_leak_to_another_partner(live: Live) -> None:
    tag = uuid.uuid4().hex
    red_v1 = indicator(markings=(RED,), name=f"red-secret-{tag}")
    red_v2 = indicator(
        red_v1["id"],
        modified="2024-05-05T05:05:05.555Z",
        markings=(RED,),
        name=f"red-secret-v2-{tag}",
    )
    strict = indicator(
        markings=(AMBER_STRICT,), name=f"strict-secret-{tag}", modified="2024-06-06T06:06:06.666Z"
    )
    clear = indicator(markings=(CLEAR,), name=f"clear-{tag}")
    coll = live.url(f"/main/collections/{SHARED}/")
    with httpx.Client(timeout=10) as client:
        posted = client.post(
            coll + "objects/",
            content=orjson.dumps({"objects": [red_v1, clear, strict, red_v2]}),
            headers=_raw("alpha", **{"Content-Type": TAXII}),
        ).json()
        assert posted["success_count"] == 4
        alpha_manifest = client.get(
            coll + "manifest/", params={"match[version]": "all"}, headers=_raw("alpha")
        ).json()["objects"]
        hidden_ids = {red_v1["id"], strict["id"]}
        hidden_dates = {m["date_added"] for m in alpha_manifest if m["id"] in hidden_ids}
        secrets = (
            hidden_ids
            | hidden_dates
            | {
                f"red-secret-{tag}",
                f"red-secret-v2-{tag}",
                f"strict-secret-{tag}",
                red_v2["modified"],
                strict["modified"],
            }
        )
        assert len(hidden_dates) == 3

        seen: list[httpx.Response] = []
        for version in (
            None,
            "last",
            "first",
            "all",
            "first,last",
            red_v2["modified"],
            strict["modified"],
            red_v1["modified"],
        ):
            params = {"match[version]": version} if version else {}
            seen += _walk(client, coll + "objects/", "bravo", params)
            seen += _walk(client, coll + "manifest/", "bravo", params)
            for ident in (red_v1["id"], strict["id"], clear["id"]):
                seen += _walk(client, f"{coll}objects/{ident}/", "bravo", params)
                seen += _walk(client, f"{coll}objects/{ident}/versions/", "bravo", {})
        for params in (
            {"match[id]": ",".join([*hidden_ids, clear["id"]])},
            {"match[type]": "indicator"},
            {"added_after": "1970-01-01T00:00:00Z"},
            {"match[spec_version]": "2.1"},
        ):
            seen += _walk(client, coll + "objects/", "bravo", params)
            seen += _walk(client, coll + "manifest/", "bravo", params)
        seen.append(client.get(live.url(f"/main/status/{posted['id']}/"), headers=_raw("bravo")))
        seen.append(client.get(live.url("/main/collections/"), headers=_raw("bravo")))
        seen.append(client.get(coll, headers=_raw("bravo")))
        for ident in hidden_ids:
            seen.append(client.delete(f"{coll}objects/{ident}/", headers=_raw("bravo")))

        shown = "\n".join(text for response in seen for text in _texts(response))
        leaked = sorted(s for s in secrets if s in shown)
        assert leaked == [], f"partner B saw {leaked}"
        assert clear["id"] in shown and f"clear-{tag}" in shown
        assert {r.status_code for r in seen} <= {200, 404}
        bravo_all = client.get(coll + "objects/", headers=_raw("bravo")).json()["objects"]
        assert [o["id"] for o in bravo_all] == [clear["id"]]

        # The publisher sees all three, on every path.
        alpha_objects = client.get(coll + "objects/", headers=_raw("alpha")).json()["objects"]
        assert {o["id"] for o in alpha_objects} == hidden_ids | {clear["id"]}
        for obj in (red_v2, strict, clear):
            by_id = client.get(f"{coll}objects/{obj['id']}/", headers=_raw("alpha"))
            assert by_id.json()["objects"] == [obj]
        assert {m["id"] for m in alpha_manifest} == hidden_ids | {clear["id"]}
