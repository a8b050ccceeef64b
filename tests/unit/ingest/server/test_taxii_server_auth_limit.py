"""Failed logins are limited per partner and per client address: 429 with Retry-After."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from taxii_server_fixtures import TAXII, Server, make_server

from ingest.server.auth import Authenticator
from ingest.server.routes import Services

PATH = "/main/collections/"


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Accept": TAXII, "Authorization": f"Basic {token}"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _with_clock(server: Server, clock: FakeClock) -> None:
    """Rebuild the server's authenticator with an injected clock (defaults: 10 in 60 s)."""
    app = server.client.app
    services: Services = app.state.taxii
    auth = Authenticator(partners=server.settings.partners, clock=clock)
    app.state.taxii = replace(services, auth=auth)


def _assert_429(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == TAXII
    body = response.json()
    assert body["http_status"] == "429" and body["title"] == "Too Many Requests"
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    return wait


def test_the_eleventh_wrong_password_answers_429_and_a_right_one_too(
    tmp_path: Path,
) -> None:
    server = make_server(tmp_path)
    clock = FakeClock()
    _with_clock(server, clock)
    wrong = _basic("alpha", "guess")
    for _ in range(10):
        assert server.client.get(PATH, headers=wrong).status_code == 401
        clock.now += 1
    wait = _assert_429(server.client.get(PATH, headers=wrong))
    assert wait == 50  # now 1010; the first failure (at 1000) leaves the window at 1060
    # While locked, the right password gets the same answer: no oracle for the guess.
    _assert_429(server.client.get(PATH, headers=_basic("alpha", "alpha-password")))

    # Another partner from another address is not affected.
    elsewhere = TestClient(server.client.app, client=("192.0.2.9", 40000))
    assert elsewhere.get(PATH, headers=_basic("bravo", "bravo-password")).status_code == 200
    # alpha is locked from any address (by partner id)...
    _assert_429(elsewhere.get(PATH, headers=_basic("alpha", "alpha-password")))
    # ...and the first address for any partner (by address).
    _assert_429(server.client.get(PATH, headers=_basic("bravo", "bravo-password")))

    clock.now += wait
    ok = server.client.get(PATH, headers=_basic("alpha", "alpha-password"))
    assert ok.status_code == 200, "logins work again once the window has passed"


def test_successful_and_missing_logins_do_not_count(tmp_path: Path) -> None:
    server = make_server(tmp_path)
    _with_clock(server, FakeClock())
    right = _basic("alpha", "alpha-password")
    for _ in range(15):
        assert server.client.get(PATH, headers=right).status_code == 200
        assert server.client.get(PATH, headers={"Accept": TAXII}).status_code == 401
    for _ in range(9):
        assert server.client.get(PATH, headers=_basic("alpha", "guess")).status_code == 401
    assert server.client.get(PATH, headers=right).status_code == 200


def test_wrong_tokens_count_against_the_address(tmp_path: Path) -> None:
    server = make_server(tmp_path)
    _with_clock(server, FakeClock())
    for _ in range(10):
        bad = {"Accept": TAXII, "Authorization": "Bearer not-a-token"}
        assert server.client.get(PATH, headers=bad).status_code == 401
    _assert_429(server.client.get(PATH, headers=server.headers("alpha")))
    other = TestClient(server.client.app, client=("192.0.2.10", 40000))
    assert other.get(PATH, headers=server.headers("alpha")).status_code == 200


def test_the_limit_comes_from_the_taxii_server_settings(tmp_path: Path) -> None:
    server = make_server(tmp_path, login_max_failures=2, login_failure_window_s=600)
    wrong = _basic("alpha", "guess")
    assert [server.client.get(PATH, headers=wrong).status_code for _ in range(3)] == [
        401,
        401,
        429,
    ]
    assert int(server.client.get(PATH, headers=wrong).headers["retry-after"]) > 60
