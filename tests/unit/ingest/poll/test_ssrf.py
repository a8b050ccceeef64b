"""SSRF guard on the real client path: real local servers, real taxii2-client, real sockets.

Server B (on 127.0.0.2, another host) records every request; the partner's credential must
never reach it. `loopback_only` fences the test so a broken guard could not reach a real
metadata or private address either.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from igsc.wiring import build_state, build_stream
from ingest.poll import PollResult, PollTarget, poll_one
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

TOKEN = "s3cr3t-token-for-partner-a"


@pytest.fixture
def other_host() -> Iterator[LocalServer]:
    """A server on another loopback host that records whatever reaches it."""
    with LocalServer(lambda seen: Reply(body={"title": "elsewhere"}), host="127.0.0.2") as server:
        yield server


def _poll(tmp_path: Path, url: str, **extra: Any) -> tuple[PollResult, Any, Any]:
    entry = partner("cert-a", url, auth={"kind": "bearer", "token": {"value": TOKEN}}, **extra)
    settings = make_settings(home=tmp_path, partners=[entry], max_retries=1, backoff_base_s=0.01)
    stream, state = build_stream(settings), build_state(settings)
    result = poll_one(
        settings=settings,
        stream=stream,
        state=state,
        target=PollTarget(partner="cert-a", start_url=url, collection=COLLECTION),
    )
    return result, settings, stream


def _credential_seen(server: LocalServer) -> bool:
    return any(TOKEN in s.headers.get("Authorization", "") for s in server.seen)


def test_discovery_naming_another_host_is_refused_before_any_request_goes_there(
    tmp_path: Path, other_host: LocalServer, loopback_only: list[Any]
) -> None:
    def home(seen: Seen) -> Reply:
        return Reply(body={"title": "t", "api_roots": [f"{other_host.base}/api/"]})

    with LocalServer(home) as server:
        result, _, _ = _poll(tmp_path, f"{server.base}/taxii2/")
    assert result.error is not None
    assert "cert-a" in result.error and f"{other_host.base}/api/" in result.error
    assert _credential_seen(server)  # the configured host did get the credential
    assert other_host.seen == []
    assert loopback_only == []


def test_redirect_to_another_host_is_refused(
    tmp_path: Path, other_host: LocalServer, loopback_only: list[Any]
) -> None:
    def home(seen: Seen) -> Reply:
        return Reply(status=302, headers={"Location": f"{other_host.base}/taxii2/"})

    with LocalServer(home) as server:
        result, _, _ = _poll(tmp_path, f"{server.base}/taxii2/")
    assert result.error is not None and "refused" in result.error
    assert other_host.seen == []
    assert len(server.seen) == 1  # no retry of a refused target either


def test_redirect_on_the_same_host_is_followed_with_credentials(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(3)])

    def app(seen: Seen) -> Reply:
        if seen.path == "/old/":
            return Reply(status=302, headers={"Location": "/taxii2/"})
        return tiny(seen)

    with LocalServer(app) as server:
        tiny.base = server.base
        result, _, _ = _poll(tmp_path, f"{server.base}/old/")
        assert result.error is None, result.error
        assert result.published == 3
        assert all(TOKEN in s.headers.get("Authorization", "") for s in server.seen)


def test_redirect_to_the_metadata_address_is_refused_even_if_host_is_allowed(
    tmp_path: Path, loopback_only: list[Any]
) -> None:
    def home(seen: Seen) -> Reply:
        return Reply(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    with LocalServer(home) as server:
        result, _, _ = _poll(tmp_path, f"{server.base}/taxii2/", allowed_hosts=["169.254.169.254"])
    assert result.error is not None
    assert "169.254.169.254" in result.error and "link-local" in result.error
    assert loopback_only == []


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/taxii2/", "http://[::ffff:169.254.169.254]/taxii2/"]
)
def test_configured_metadata_address_is_refused_at_connect_time(
    tmp_path: Path, url: str, loopback_only: list[Any]
) -> None:
    result, _, _ = _poll(tmp_path, url, allow_private_network=False)
    assert result.error is not None and "cert-a" in result.error and "refused" in result.error
    assert loopback_only == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_targets_are_refused_without_allow_private_network(
    tmp_path: Path, host: str, loopback_only: list[Any]
) -> None:
    tiny = TinyTaxii([indicator(1)])
    with LocalServer(tiny) as server:
        url = f"http://{host}:{server.port}/taxii2/"
        result, _, _ = _poll(tmp_path, url, allow_private_network=False)
    assert result.error is not None and "allow_private_network" in result.error
    assert server.seen == []


def test_a_next_page_url_on_another_host_is_refused(
    tmp_path: Path, other_host: LocalServer
) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(2)])

    def app(seen: Seen) -> Reply:
        reply = tiny(seen)
        if seen.path.endswith("/objects/"):
            body = dict(reply.body)  # type: ignore[arg-type]
            body.update(more=True, next=f"{other_host.base}/api/collections/x/objects/?next=9")
            return Reply(body=body, headers=reply.headers)
        return reply

    with LocalServer(app) as server:
        tiny.base = server.base
        result, settings, stream = _poll(tmp_path, f"{server.base}/taxii2/")
    assert result.error is not None and other_host.base in result.error
    assert other_host.seen == []
    raw = read_topic(stream, f"{settings.namespace}.raw")
    assert len(raw) == 2  # the page that came from the partner itself is kept
