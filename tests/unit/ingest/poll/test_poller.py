"""One poll run against a local TAXII server: paging, checkpoints, garbage, retries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from igsc.errors import ServiceUnavailable
from igsc.wiring import build_state, build_stream
from ingest.poll import PollResult, PollTarget, checkpoint_key, poll_one
from tests.unit.ingest.poll.taxii_fakes import (
    COLLECTION,
    LocalServer,
    Reply,
    Seen,
    TinyTaxii,
    indicator,
    make_settings,
    partner,
    read_topic,
)

OBJECTS_PATH = f"/api/collections/{COLLECTION}/objects/"


class Harness:
    """A local TAXII server, embedded stream/state, and a way to poll it once."""

    def __init__(self, tmp_path: Path, server: LocalServer, **poll: Any) -> None:
        self.server = server
        self.url = f"{server.base}/taxii2/"
        tuning = {"page_size": 100, "max_retries": 1, "backoff_base_s": 0.01, **poll}
        self.settings = make_settings(
            home=tmp_path, partners=[partner("cert-b", self.url)], **tuning
        )
        self.stream = build_stream(self.settings)
        self.state = build_state(self.settings)
        self.key = checkpoint_key(
            partner="cert-b", api_root=f"{server.base}/api/", collection=COLLECTION
        )

    def poll(self, stream: Any = None) -> PollResult:
        return poll_one(
            settings=self.settings,
            stream=stream or self.stream,
            state=self.state,
            target=PollTarget(partner="cert-b", start_url=self.url, collection=COLLECTION),
        )

    def checkpoint(self) -> str | None:
        value = self.state.get_many(keys=[self.key]).get(self.key)
        return value.decode() if value is not None else None

    def raw(self) -> list[dict[str, Any]]:
        return read_topic(self.stream, f"{self.settings.namespace}.raw")

    def rejected(self) -> list[dict[str, Any]]:
        return read_topic(self.stream, f"{self.settings.namespace}.rejected")

    def object_requests(self) -> list[Seen]:
        return [s for s in self.server.seen if s.path == OBJECTS_PATH]


@contextmanager
def harness(
    tmp_path: Path,
    tiny: TinyTaxii,
    *,
    wrap: Callable[[Seen, Reply], Reply] | None = None,
    **poll: Any,
) -> Iterator[Harness]:
    def app(seen: Seen) -> Reply:
        reply = tiny(seen)
        return wrap(seen, reply) if wrap and seen.path == OBJECTS_PATH else reply

    with LocalServer(app) as server:
        tiny.base = server.base
        yield Harness(tmp_path, server, **poll)


def _ids(envelopes: list[dict[str, Any]]) -> list[str]:
    return [e["object"]["id"] for e in envelopes]


def test_pages_follow_next_with_the_same_added_after_and_checkpoint_is_server_time(
    tmp_path: Path,
) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(120)])
    with harness(tmp_path, tiny) as h:
        first = h.poll()
        assert (first.error, first.pages, first.published) == (None, 2, 120)
        assert h.checkpoint() == first.new_checkpoint == tiny.last_header
        tiny.add([indicator(1000 + i) for i in range(250)])
        before = len(h.object_requests())
        second = h.poll()
        requests_2 = h.object_requests()[before:]
    assert (second.error, second.pages, second.published) == (None, 3, 250)
    assert [r.query["added_after"] for r in requests_2] == [[first.new_checkpoint]] * 3
    assert [r.query.get("next") for r in requests_2] == [None, ["100"], ["200"]]
    assert all(r.query["limit"] == ["100"] for r in requests_2)
    ids = _ids(h.raw())
    assert len(ids) == len(set(ids)) == 370
    assert second.new_checkpoint == tiny.last_header


def test_page_cap_stops_the_run_and_the_next_run_resumes_without_gaps(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(250)])
    with harness(tmp_path, tiny, max_pages_per_run=2) as h:
        first = h.poll()
        second = h.poll()
    assert first.pages == 2 and first.published == 200 and "max_pages_per_run" in str(first.note)
    # Mid-collection the checkpoint stays just before the last instant seen (ties may follow).
    assert first.new_checkpoint is not None and first.new_checkpoint < tiny.rows[199][0]
    assert second.error is None and second.new_checkpoint == tiny.rows[-1][0]
    ids = _ids(h.raw())
    assert len(set(ids)) == 250
    assert len(ids) - 250 == second.published - 50  # only the boundary object came twice


def test_header_that_is_not_a_timestamp_never_moves_the_checkpoint(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(5)])

    def undefined(seen: Seen, reply: Reply) -> Reply:
        return Reply(body=reply.body, headers={"X-TAXII-Date-Added-Last": "undefined"})

    with harness(tmp_path, tiny, wrap=undefined) as h:
        h.state.put_many(items={h.key: b"2024-01-01T00:00:00.000000Z"})
        result = h.poll()
        assert result.error is None and result.published == 5
        assert h.checkpoint() == "2024-01-01T00:00:00.000000Z"
        assert "X-TAXII-Date-Added-Last" in str(result.note)
        assert all(e["date_added"] is None for e in h.raw())


def test_invalid_json_fails_the_run_publishes_nothing_and_keeps_the_checkpoint(
    tmp_path: Path,
) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(5)])

    def garbage(seen: Seen, reply: Reply) -> Reply:
        return Reply(body=b'{"objects": [', headers=reply.headers)

    with harness(tmp_path, tiny, wrap=garbage, max_retries=2) as h:
        h.state.put_many(items={h.key: b"2024-01-01T00:00:00.000000Z"})
        result = h.poll()
        assert result.error is not None and "gave up after 3 attempts" in result.error
        assert "Invalid JSON" in result.error or "malformed" in result.error
        assert len(h.object_requests()) == 3
        assert h.raw() == []
        assert h.checkpoint() == "2024-01-01T00:00:00.000000Z"


def test_a_json_body_that_is_not_an_envelope_fails_the_run(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(1)])

    def listing(seen: Seen, reply: Reply) -> Reply:
        return Reply(body=[indicator(1)], headers=reply.headers)

    with harness(tmp_path, tiny, wrap=listing) as h:
        result = h.poll()
        assert result.error is not None and "envelope must be a JSON object" in result.error
        assert h.raw() == [] and h.checkpoint() is None


def test_invalid_objects_are_dead_lettered_and_the_valid_ones_published(tmp_path: Path) -> None:
    broken = indicator(2)
    del broken["created"]
    tiny = TinyTaxii([indicator(1), broken, {"type": "x"}, indicator(3)])
    with harness(tmp_path, tiny) as h:
        result = h.poll()
        assert (result.error, result.published, result.rejected) == (None, 2, 2)
        assert sorted(_ids(h.raw())) == sorted([indicator(1)["id"], indicator(3)["id"]])
        rejected = h.rejected()
        assert {r["partner"] for r in rejected} == {"cert-b"}
        assert any("created" in r["reason"] for r in rejected)
        assert h.checkpoint() == tiny.last_header


def test_429_is_retried_after_retry_after_then_succeeds(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(3)])
    answered: list[float] = []

    def throttle_once(seen: Seen, reply: Reply) -> Reply:
        answered.append(time.monotonic())
        if len(answered) == 1:
            return Reply(status=429, body={"title": "slow down"}, headers={"Retry-After": "1"})
        return reply

    with harness(tmp_path, tiny, wrap=throttle_once) as h:
        result = h.poll()
    assert result.error is None and result.published == 3
    assert answered[1] - answered[0] >= 1.0


def test_a_server_that_repeats_the_same_page_forever_is_stopped(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(3)])

    def loop(seen: Seen, reply: Reply) -> Reply:
        return Reply(body={**reply.body, "more": True, "next": "0"}, headers=reply.headers)  # type: ignore[dict-item]

    with harness(tmp_path, tiny, wrap=loop) as h:
        result = h.poll()
        assert result.error is None and result.pages == 2
        assert "same page" in str(result.note)
        assert len(h.object_requests()) == 2


def test_an_empty_page_with_more_true_is_not_followed(tmp_path: Path) -> None:
    tiny = TinyTaxii([])

    def empty_more(seen: Seen, reply: Reply) -> Reply:
        return Reply(body={"more": True, "next": str(len(seen.query))})

    with harness(tmp_path, tiny, wrap=empty_more) as h:
        result = h.poll()
        assert result.pages == 1 and "empty page" in str(result.note)


class _DownStream:
    """A stream whose broker is down: publish fails."""

    def publish(self, *, topic: str, records: Any) -> None:
        raise ServiceUnavailable("broker down")


def test_checkpoint_is_not_saved_when_publishing_fails(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(3)])
    with harness(tmp_path, tiny) as h:
        result = h.poll(stream=_DownStream())
        assert result.error is not None and "broker down" in result.error
        assert h.checkpoint() is None
        again = h.poll()
        assert again.published == 3 and h.checkpoint() == tiny.last_header


def test_html_401_is_reported_as_an_auth_problem(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(1)])

    def unauthorized(seen: Seen, reply: Reply) -> Reply:
        return Reply(status=401, body=b"<html>Unauthorized Access</html>",
                     headers={"Content-Type": "text/html"})  # fmt: skip

    with harness(tmp_path, tiny, wrap=unauthorized) as h:
        result = h.poll()
        assert result.error is not None
        assert "HTTP 401" in result.error and "partners.auth" in result.error
        assert len(h.object_requests()) == 1


def test_a_response_above_the_size_cap_fails_the_run(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(20)])
    with harness(tmp_path, tiny, max_response_bytes=2048) as h:
        result = h.poll()
        assert result.error is not None and "exceeds 2048 bytes" in result.error
        assert h.raw() == [] and h.checkpoint() is None


def test_a_response_without_content_type_is_malformed_not_a_crash(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(1)])

    def untyped(seen: Seen, reply: Reply) -> Reply:
        return Reply(body=reply.body, headers={**reply.headers, "Content-Type": None})

    with harness(tmp_path, tiny, wrap=untyped) as h:
        result = h.poll()
        assert result.error is not None
        assert "gave up after 2 attempts" in result.error and "content-type" in result.error.lower()
        assert h.raw() == []
