"""Add Objects when the store misbehaves: refused documents, a failed refresh, bad dates."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from taxii_server_fixtures import TAXII, Server, indicator, make_server

from igsc.errors import ServiceUnavailable
from igsc.ports import BulkFailure, BulkResult, IndexDoc, IndexSchema
from igsc.records import RAW_TOPIC, Envelope
from igsc.wiring import build_index, build_state, build_stream, topic
from ingest.server.app import create_app


class _FlakyIndex:
    """An Index that refuses documents whose body names a given STIX id, or whose waits for
    a refresh fail (it behaves like Elasticsearch: writes need a refresh to be searchable)."""

    searchable_on_write = False

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.refuse: set[str] = set()
        self.refresh_failures = 0
        self.awaited = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def bulk_upsert(self, *, schema: IndexSchema, docs: Sequence[IndexDoc]) -> BulkResult:
        kept = [d for d in docs if d.body.get("stix_id") not in self.refuse]
        refused = tuple(
            BulkFailure(d.id, "mapper_parsing_exception: no") for d in docs if d not in kept
        )
        result: BulkResult = self._inner.bulk_upsert(schema=schema, docs=kept)
        return BulkResult(written=result.written, stale=result.stale, failed=refused)

    def refresh(self, *, schema: IndexSchema) -> None:
        raise AssertionError("adding objects must not force a refresh")

    def await_refresh(self, *, schema: IndexSchema) -> None:
        self.awaited += 1
        if self.refresh_failures:
            self.refresh_failures -= 1
            raise ServiceUnavailable("index unreachable")
        self._inner.await_refresh(schema=schema)


def _server(home: Path) -> tuple[Server, _FlakyIndex, TestClient]:
    made = make_server(home)
    flaky = _FlakyIndex(build_index(made.settings))
    app = create_app(
        settings=made.settings,
        stream=build_stream(made.settings),
        index=flaky,
        state=build_state(made.settings),
    )
    return made, flaky, TestClient(app, raise_server_exceptions=False)


def _post(made: Server, client: TestClient, objects: list[dict[str, Any]]) -> Any:
    return client.post(
        made.objects_url(),
        headers=made.headers("alpha", **{"Content-Type": TAXII}),
        json={"objects": objects},
    )


def _raw_ids(server: Server) -> list[str]:
    consumer = server.stream.consumer(group="land-test", topics=[topic(server.settings, RAW_TOPIC)])
    ids = []
    while batch := consumer.poll(max_records=10_000, timeout_s=0.2):
        ids.extend(str(Envelope.from_bytes(m.value).object["id"]) for m in batch)
    consumer.close()
    return ids


def test_objects_the_store_refuses_are_failures_and_never_published(tmp_path: Path) -> None:
    made, flaky, client = _server(tmp_path)
    kept, refused = indicator(), indicator()
    flaky.refuse.add(refused["id"])
    status = _post(made, client, [kept, refused]).json()
    # Stored, but pending until the store's next refresh makes it readable.
    assert status["pending_count"] == 1 and status["pendings"][0]["id"] == kept["id"]
    assert status["failure_count"] == 1 and status["failures"][0]["id"] == refused["id"]
    assert status["failures"][0]["message"].startswith("not stored: mapper_parsing_exception")
    assert _raw_ids(made) == [kept["id"]]
    assert [o["id"] for o in made.read_all("alpha")] == [kept["id"]]
    _wait_until(lambda: _status(made, client, status["id"])["status"] == "complete")
    done = _status(made, client, status["id"])
    assert [s["id"] for s in done["successes"]] == [kept["id"]]
    assert done["failure_count"] == 1


def _status(made: Server, client: TestClient, status_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(
        f"/main/status/{status_id}/", headers=made.headers("alpha")
    ).json()
    return found


def _wait_until(done: Any) -> None:
    deadline = time.monotonic() + 10
    while not done() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_failed_wait_for_the_refresh_is_retried_and_holds_back_no_reader(
    tmp_path: Path,
) -> None:
    made, flaky, client = _server(tmp_path)
    obj = indicator()
    flaky.refresh_failures = 1
    # The answer does not wait for the refresh: the objects are stored and published.
    response = _post(made, client, [obj])
    assert response.status_code == 202 and response.json()["pending_count"] == 1
    # The failed wait is retried; the next post is served meanwhile.
    later = indicator()
    assert _post(made, client, [later]).json()["pending_count"] == 1
    _wait_until(lambda: flaky.awaited >= 2)
    assert flaky.awaited >= 2
    # Both blocks were released: a reader of this server sees both objects.
    read = lambda: client.get(made.objects_url(), headers=made.headers("alpha"))  # noqa: E731
    _wait_until(lambda: len(read().json().get("objects", [])) == 2)
    assert sorted(o["id"] for o in read().json()["objects"]) == sorted([obj["id"], later["id"]])
    # The retried wait succeeded, so the first status says complete.
    first = response.json()["id"]
    _wait_until(lambda: _status(made, client, first)["status"] == "complete")
    done = _status(made, client, first)
    assert done["success_count"] == 1 and done["pending_count"] == 0
    # Sending the first envelope again adds no second copy.
    again = _post(made, client, [obj]).json()
    assert again["status"] == "complete" and again["success_count"] == 1
    assert len(read().json()["objects"]) == 2


def test_impossible_dates_are_refused_per_object(server: Server) -> None:
    good = indicator()
    bad_day = indicator(modified="2023-02-29T00:00:00Z")
    bad_hour = indicator(modified="2024-01-01T24:00:00.5Z")
    status = server.post([good, bad_day, bad_hour]).json()
    assert [s["id"] for s in status["successes"]] == [good["id"]]
    failed = {f["id"]: f["message"] for f in status["failures"]}
    assert set(failed) == {bad_day["id"], bad_hour["id"]}
    assert all("not a valid date and time" in message for message in failed.values())
