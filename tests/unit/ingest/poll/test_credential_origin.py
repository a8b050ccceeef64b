"""Credentials go only to the partner's configured origin (or its `credential_hosts`).

Real local HTTP servers record the Authorization header of every request: server A is the
configured host, server B another loopback host the partner's server sends us to.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from igsc.outbound.guard import TargetPolicy
from igsc.outbound.session import Credentials, GuardedSession
from igsc.partners import Partner
from igsc.poll_settings import PollSettings
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
)

BASIC = "Basic " + base64.b64encode(b"igsc:pa55word-of-cert-a").decode()


@pytest.fixture
def host_b() -> Iterator[tuple[LocalServer, TinyTaxii]]:
    """Server B, on another loopback host, serving a small TAXII API root."""
    tiny = TinyTaxii([indicator(i) for i in range(3)])
    with LocalServer(tiny, host="127.0.0.2") as server:
        tiny.base = server.base
        yield server, tiny


def _poll(tmp_path: Path, url: str, **extra: Any) -> PollResult:
    auth = {"kind": "basic", "username": "igsc", "password": {"value": "pa55word-of-cert-a"}}
    entry = partner("cert-a", url, auth=auth, **extra)
    settings = make_settings(home=tmp_path, partners=[entry], max_retries=0)
    return poll_one(
        settings=settings,
        stream=build_stream(settings),
        state=build_state(settings),
        target=PollTarget(partner="cert-a", start_url=url, collection=COLLECTION),
    )


def _authorizations(server: LocalServer) -> list[str | None]:
    return [s.headers.get("Authorization") for s in server.seen]


def _discovery_pointing_at(other: LocalServer) -> LocalServer:
    def home(seen: Seen) -> Reply:
        if seen.path == "/taxii2/":
            return Reply(body={"title": "a", "api_roots": [f"{other.base}/api/"]})
        return Reply(status=404, body={"title": "not here"})

    return LocalServer(home)


def test_an_allowed_api_root_on_another_host_gets_no_credentials(
    tmp_path: Path, host_b: tuple[LocalServer, TinyTaxii], loopback_only: list[Any]
) -> None:
    b, _ = host_b
    with _discovery_pointing_at(b) as a:
        result = _poll(tmp_path, f"{a.base}/taxii2/", allowed_hosts=[f"127.0.0.2:{b.port}"])
    assert result.error is None, result.error
    assert result.published == 3  # B was reached and polled...
    assert _authorizations(a) == [BASIC]
    assert b.seen and _authorizations(b) == [None] * len(b.seen)  # ...without the password
    assert loopback_only == []


def test_a_redirect_to_an_allowed_host_is_followed_without_credentials(
    tmp_path: Path, host_b: tuple[LocalServer, TinyTaxii]
) -> None:
    b, _ = host_b

    def moved(seen: Seen) -> Reply:
        return Reply(status=302, headers={"Location": f"{b.base}/taxii2/"})

    with LocalServer(moved) as a:
        result = _poll(tmp_path, f"{a.base}/taxii2/", allowed_hosts=[f"127.0.0.2:{b.port}"])
    assert result.error is None, result.error
    assert result.published == 3
    assert _authorizations(a) == [BASIC]
    assert b.seen and _authorizations(b) == [None] * len(b.seen)


def test_a_host_listed_in_credential_hosts_gets_the_credentials(
    tmp_path: Path, host_b: tuple[LocalServer, TinyTaxii]
) -> None:
    b, _ = host_b
    with _discovery_pointing_at(b) as a:
        result = _poll(tmp_path, f"{a.base}/taxii2/", credential_hosts=[f"127.0.0.2:{b.port}"])
    assert result.error is None, result.error
    assert result.published == 3
    assert b.seen and _authorizations(b) == [BASIC] * len(b.seen)


def test_a_session_cookie_goes_only_to_the_configured_origin(
    host_b: tuple[LocalServer, TinyTaxii],
) -> None:
    b, _ = host_b
    with LocalServer(lambda seen: Reply(body={"title": "a"})) as a:
        config = Partner(
            id="cert-a",
            name="A",
            country="DE",
            taxii_url=f"{a.base}/taxii2/",
            allow_private_network=True,
            allowed_hosts=(f"127.0.0.2:{b.port}",),
        )
        session = GuardedSession(
            policy=TargetPolicy.for_partner(config),
            credentials=Credentials(authorization=BASIC),
            settings=PollSettings(),
        )
        session.cookies.set("session", "s3ss10n")
        session.get(f"{a.base}/taxii2/")
        session.get(f"{b.base}/taxii2/")
        session.close()
    assert "s3ss10n" in a.seen[0].headers.get("Cookie", "")
    assert "Cookie" not in b.seen[0].headers
    assert "Authorization" not in b.seen[0].headers
