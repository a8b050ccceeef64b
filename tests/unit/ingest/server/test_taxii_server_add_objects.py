"""Add Objects: status resources, failures, strict bundles, duplicates, publishing to raw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from taxii_server_fixtures import (
    AMBER_STRICT,
    CLEAR,
    SHARED,
    TAXII,
    Server,
    indicator,
    make_server,
)

from igsc.errors import ServiceUnavailable
from igsc.records import RAW_TOPIC, Envelope
from igsc.wiring import topic


def _raw(server: Server) -> list[tuple[bytes, Envelope]]:
    consumer = server.stream.consumer(
        group="test-reader", topics=[topic(server.settings, RAW_TOPIC)]
    )
    messages = []
    while batch := consumer.poll(max_records=10_000, timeout_s=0.2):
        messages.extend(batch)
    consumer.close()
    return [(m.key, Envelope.from_bytes(m.value)) for m in messages]


def _check_counts(status: dict[str, Any]) -> None:
    assert status["total_count"] == (
        status["success_count"] + status["failure_count"] + status["pending_count"]
    )
    assert len(status["successes"]) == status["success_count"]
    assert len(status["failures"]) == status["failure_count"]
    assert len(status["pendings"]) == status["pending_count"]


def test_valid_objects_land_and_invalid_ones_are_listed_with_a_reason(server: Server) -> None:
    good = [indicator(markings=(CLEAR,)), indicator()]
    bad_spec = indicator(spec_version="2.0")
    bad_id = indicator(id="indicator--not-a-uuid")
    bad_markings = indicator(object_marking_refs="not-a-list")
    response = server.post([good[0], bad_spec, good[1], bad_id, "just a string", bad_markings])
    assert response.status_code == 202
    assert response.headers["content-type"] == TAXII
    status = response.json()
    _check_counts(status)
    assert status["status"] == "complete"
    assert status["total_count"] == 6
    assert [s["id"] for s in status["successes"]] == [o["id"] for o in good]
    assert all(s["version"] == "2024-01-01T00:00:00.000Z" for s in status["successes"])
    failures = {f["id"]: f for f in status["failures"]}
    assert "spec_version" in failures[bad_spec["id"]]["message"]
    assert failures[bad_spec["id"]]["version"] == bad_spec["modified"]
    assert "id" in failures["indicator--not-a-uuid"]["message"]
    assert "object_marking_refs" in failures[bad_markings["id"]]["message"]
    assert status["failure_count"] == 4
    assert sorted(o["id"] for o in server.read_all("alpha")) == sorted(o["id"] for o in good)


def test_strict_bundles_land_nothing_when_one_object_is_invalid(tmp_path: Path) -> None:
    strict = make_server(tmp_path, strict_bundles=True)
    good = [indicator(), indicator()]
    status = strict.post([*good, indicator(id="nope")]).json()
    _check_counts(status)
    assert status["success_count"] == 0
    assert status["failure_count"] == 3
    assert strict.read_all("alpha") == []
    assert _raw(strict) == []
    assert strict.post(good).json()["success_count"] == 2


def test_a_stix_bundle_is_accepted_as_the_body(server: Server) -> None:
    obj = indicator()
    bundle = {
        "type": "bundle",
        "id": "bundle--0c3f1f5b-0000-4000-8000-000000000000",
        "objects": [obj],
    }
    response = server.client.post(
        server.objects_url(),
        headers=server.headers("alpha", **{"Content-Type": TAXII}),
        content=orjson.dumps(bundle),
    )
    assert response.json()["success_count"] == 1
    assert [o["id"] for o in server.read_all("alpha")] == [obj["id"]]


def test_reposting_the_same_version_keeps_its_date_added(server: Server) -> None:
    obj = indicator()
    server.post([obj, obj])
    manifest_url = f"/main/collections/{SHARED}/manifest/"
    [before] = server.read_all("alpha", manifest_url)
    status = server.post([obj]).json()
    assert status["success_count"] == 1
    assert server.read_all("alpha", manifest_url) == [before]


def test_same_id_and_version_from_two_publishers_is_served_once(server: Server) -> None:
    obj = indicator(markings=(CLEAR,))
    server.post([obj], who="alpha")
    server.post([{**obj, "name": "bravo's copy"}], who="bravo")
    for reader in ("alpha", "bravo", "charlie"):
        got = server.read_all(reader, **{"match[version]": "all"})
        assert [o["name"] for o in got] == ["bad address"], reader


def test_accepted_objects_are_published_to_raw_as_push_envelopes(server: Server) -> None:
    strict = indicator(markings=(AMBER_STRICT,))
    plain = indicator()
    server.post([strict, plain, indicator(id="bad")], who="bravo")
    manifest = {
        m["id"]: m["date_added"]
        for m in server.read_all("bravo", f"/main/collections/{SHARED}/manifest/")
    }
    published = _raw(server)
    # Partitioned by key: order holds per partition only.
    assert sorted(key for key, _ in published) == sorted(
        [strict["id"].encode(), plain["id"].encode()]
    )
    envelopes = {e.object["id"]: e for _, e in published}
    assert envelopes[strict["id"]].tlp == "amber+strict"
    assert envelopes[plain["id"]].tlp == "amber"  # bravo's default
    for obj in (strict, plain):
        envelope = envelopes[obj["id"]]
        assert envelope.via == "push"
        assert (envelope.partner, envelope.country) == ("bravo", "FR")
        assert envelope.collection == SHARED
        assert envelope.date_added == manifest[obj["id"]]
        assert envelope.object == obj
        assert envelope.received_at.endswith("Z")


class _DownStream:
    """A Stream whose publish fails as a broker outage would."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def publish(self, **_: Any) -> None:
        raise ServiceUnavailable("broker down")


def test_unpublished_objects_are_pending_not_complete(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from igsc.wiring import build_index, build_state, build_stream
    from ingest.server.app import create_app

    made = make_server(tmp_path)
    settings = made.settings
    app = create_app(
        settings=settings,
        stream=_DownStream(build_stream(settings)),
        index=build_index(settings),
        state=build_state(settings),
    )
    obj = indicator()
    with TestClient(app) as client:
        status = client.post(
            made.objects_url(),
            headers=made.headers("alpha", **{"Content-Type": TAXII}),
            json={"objects": [obj]},
        ).json()
    _check_counts(status)
    assert status["status"] == "pending"
    assert status["pending_count"] == 1 and status["success_count"] == 0
    assert "send the envelope again" in status["pendings"][0]["message"]
    # Sending it again once the stream is back completes it, without a second copy in the store.
    again = made.post([obj]).json()
    assert again["status"] == "complete" and again["success_count"] == 1
    assert len(made.read_all("alpha", **{"match[version]": "all"})) == 1
    assert [e.object["id"] for _, e in _raw(made)] == [obj["id"]]


def test_status_is_only_for_the_partner_that_posted(server: Server) -> None:
    posted = server.post([indicator()], who="alpha").json()
    url = f"/main/status/{posted['id']}/"
    mine = server.get(url, "alpha")
    assert mine.status_code == 200
    assert mine.json() == posted
    for other in ("bravo", "outsider"):
        refused = server.get(url, other)
        assert refused.status_code == 404
        assert refused.json() == server.get("/main/status/no-such-status/", other).json()
    assert server.get(f"/second/status/{posted['id']}/", "alpha").status_code == 404


def test_empty_envelope_gives_an_empty_complete_status(server: Server) -> None:
    status = server.post([]).json()
    _check_counts(status)
    assert (status["status"], status["total_count"]) == ("complete", 0)


def test_observables_are_versioned_by_date_added_and_deduplicated(server: Server) -> None:
    address = {
        "type": "ipv4-addr",
        "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd",
        "value": "198.51.100.3",
        "object_marking_refs": [CLEAR],
    }
    first = server.post([address], who="alpha").json()
    [manifest] = server.read_all("alpha", f"/main/collections/{SHARED}/manifest/")
    assert first["successes"][0]["version"] == manifest["date_added"] == manifest["version"]
    again = server.post([address], who="alpha").json()
    assert again["successes"] == first["successes"]
    # Another publisher's copy of the same observable is its own version.
    server.post([address], who="bravo")
    versions = server.get(f"{server.objects_url()}{address['id']}/versions/", "charlie").json()
    assert len(versions["versions"]) == 2
    assert server.read_all("charlie") == [address]
