"""Content negotiation, body limits and error bodies: 406, 415, 413, 422, 404, 405, 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from taxii_server_fixtures import LIMIT, SHARED, TAXII, Server, indicator, make_server

from igsc.settings import Settings
from igsc.wiring import build_state, build_stream
from ingest.server.app import create_app


def _is_taxii_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == TAXII
    body = response.json()
    assert body["http_status"] == str(status)
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["description"], str)
    assert "detail" not in body


@pytest.mark.parametrize(
    "accept",
    [
        TAXII,
        "application/taxii+json",
        "application/taxii+json; version=2.1",
        "APPLICATION/TAXII+JSON;VERSION=2.1",
        "*/*",
        "application/*",
        "text/html, application/taxii+json;q=0.5",
        "",
    ],
)
def test_taxii_21_accept_headers_are_served(server: Server, accept: str) -> None:
    response = server.client.get(
        server.objects_url(), headers={"Accept": accept, "Authorization": "Bearer tok-alpha"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "text/html",
        "application/taxii+json;version=2.0",
        "application/stix+json;version=2.1",
        "application/taxii+json;q=0",
    ],
)
def test_other_accept_headers_get_406(server: Server, accept: str) -> None:
    for path in ("/taxii2/", "/main/collections/", server.objects_url()):
        response = server.client.get(
            path, headers={"Accept": accept, "Authorization": "Bearer tok-alpha"}
        )
        _is_taxii_error(response, 406)


def _post(server: Server, body: bytes | Iterator[bytes], **headers: str) -> httpx.Response:
    base = {"Accept": TAXII, "Authorization": "Bearer tok-alpha"}
    url = server.objects_url()
    response: httpx.Response = server.client.post(url, headers={**base, **headers}, content=body)
    return response


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/taxii+json;version=2.0", "text/plain"],
)
def test_post_with_another_content_type_gets_415(server: Server, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = orjson.dumps({"objects": [indicator()]})
    _is_taxii_error(_post(server, body, **headers), 415)
    assert server.read_all("alpha") == []


@pytest.mark.parametrize("content_type", [TAXII, "application/taxii+json"])
def test_versionless_content_type_is_accepted(server: Server, content_type: str) -> None:
    response = _post(
        server, orjson.dumps({"objects": [indicator()]}), **{"Content-Type": content_type}
    )
    assert response.status_code == 202
    assert response.json()["success_count"] == 1


@pytest.mark.parametrize(
    "body",
    [b"{", b"not json", b"[1, 2]", b'"objects"', b'{"objects": {"a": 1}}', b'{"more": false}'],
)
def test_malformed_or_non_envelope_bodies_get_422(server: Server, body: bytes) -> None:
    _is_taxii_error(_post(server, body, **{"Content-Type": TAXII}), 422)


def test_declared_length_over_the_limit_gets_413(server: Server) -> None:
    body = orjson.dumps({"objects": [indicator(description="x" * LIMIT)]})
    assert len(body) > LIMIT
    _is_taxii_error(_post(server, body, **{"Content-Type": TAXII}), 413)
    assert server.read_all("alpha") == []


def test_chunked_body_over_the_limit_gets_413_without_content_length(server: Server) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"objects": ['
        for _ in range(LIMIT // 1000 + 10):
            piece = orjson.dumps(indicator(description="y" * 800)) + b","
            sent.append(len(piece))
            yield piece
        yield orjson.dumps(indicator()) + b"]}"

    response = _post(server, chunks(), **{"Content-Type": TAXII})
    _is_taxii_error(response, 413)
    assert sum(sent) > LIMIT
    assert server.read_all("alpha") == []


def test_body_at_the_limit_is_read(server: Server) -> None:
    padding = b" " * LIMIT
    body = orjson.dumps({"objects": [indicator()]})
    exact = body + padding[: LIMIT - len(body)]
    assert len(exact) == LIMIT
    assert _post(server, exact, **{"Content-Type": TAXII}).status_code == 202


def test_unknown_paths_and_methods_get_taxii_errors(server: Server) -> None:
    headers = server.headers("alpha")
    _is_taxii_error(server.client.get("/nowhere/at/all/", headers=headers), 404)
    _is_taxii_error(server.client.get("/unknown-root/", headers=headers), 404)
    response = server.client.put(server.objects_url(), headers=headers)
    _is_taxii_error(response, 405)
    assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]
    _is_taxii_error(server.client.patch("/taxii2/", headers=headers), 405)


class _BrokenIndex:
    """An Index whose searches fail with a bug, to see the 500 path."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def search(self, **_: Any) -> Any:
        raise RuntimeError("boom: internal detail that must not leak")


def test_unexpected_failures_are_a_taxii_500_without_internals(tmp_path: Path) -> None:
    made = make_server(tmp_path)
    settings: Settings = made.settings
    app = create_app(
        settings=settings,
        stream=build_stream(settings),
        index=_BrokenIndex(made.index),
        state=build_state(settings),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"/main/collections/{SHARED}/objects/", headers=made.headers("alpha"))
    _is_taxii_error(response, 500)
    assert "boom" not in response.text


def test_fastapi_validation_errors_are_taxii_errors(server: Server) -> None:
    app = cast(FastAPI, server.client.app)

    @app.get("/probe/{number}/")
    def probe(number: int) -> dict[str, int]:
        return {"number": number}

    response = server.client.get("/probe/not-a-number/", headers=server.headers("alpha"))
    _is_taxii_error(response, 422)
    assert "number" in response.json()["description"]
