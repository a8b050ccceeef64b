"""DELETE object: only the publisher (with can_write); all versions or match[version]."""

from __future__ import annotations

from typing import Any

import httpx
from taxii_server_fixtures import CLEAR, RED, SHARED, Server, indicator


def _delete(server: Server, obj_id: str, who: str, **params: Any) -> httpx.Response:
    response: httpx.Response = server.client.delete(
        f"{server.objects_url()}{obj_id}/", headers=server.headers(who), params=params
    )
    return response


def _versions(server: Server, obj_id: str, who: str = "alpha") -> list[str]:
    response = server.get(f"{server.objects_url()}{obj_id}/versions/", who)
    return list(response.json()["versions"]) if response.status_code == 200 else []


def _three_versions(server: Server, **extra: Any) -> tuple[str, list[str]]:
    ident = indicator()["id"]
    mods = ["2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"]
    server.post([indicator(ident, modified=m, **extra) for m in mods], who="alpha")
    return ident, mods


def test_publisher_deletes_every_version(server: Server) -> None:
    ident, _ = _three_versions(server, markings=(CLEAR,))
    response = _delete(server, ident, "alpha")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/taxii+json;version=2.1"
    for reader in ("alpha", "bravo"):
        assert server.get(f"{server.objects_url()}{ident}/", reader).status_code == 404
        assert server.read_all(reader) == []
        assert server.read_all(reader, f"/main/collections/{SHARED}/manifest/") == []
    assert _delete(server, ident, "alpha").status_code == 404


def test_match_version_deletes_only_the_chosen_versions(server: Server) -> None:
    ident, mods = _three_versions(server)
    assert _delete(server, ident, "alpha", **{"match[version]": "last"}).status_code == 200
    assert _versions(server, ident) == mods[:2]
    assert _delete(server, ident, "alpha", **{"match[version]": mods[0]}).status_code == 200
    assert _versions(server, ident) == mods[1:2]
    assert _delete(server, ident, "alpha", **{"match[version]": mods[0]}).status_code == 404


def test_another_partner_may_not_delete_a_visible_object(server: Server) -> None:
    ident, mods = _three_versions(server, markings=(CLEAR,))
    refused = _delete(server, ident, "bravo")
    assert refused.status_code == 403
    assert refused.json()["http_status"] == "403"
    assert _versions(server, ident, "bravo") == mods


def test_deleting_a_hidden_object_is_a_404_like_a_missing_one(server: Server) -> None:
    ident, _ = _three_versions(server, markings=(RED,))
    hidden = _delete(server, ident, "bravo")
    missing = _delete(server, indicator()["id"], "bravo")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == missing.json()
    assert len(_versions(server, ident)) == 3


def test_deleting_needs_can_write(server: Server) -> None:
    obj = indicator(markings=(CLEAR,))
    server.post([obj], who="alpha")
    assert _delete(server, obj["id"], "charlie").status_code == 403  # read-only partner
    assert server.read_all("charlie")[0]["id"] == obj["id"]


def test_a_deleted_object_can_be_added_again(server: Server) -> None:
    obj = indicator()
    server.post([obj])
    [first] = server.read_all("alpha", f"/main/collections/{SHARED}/manifest/")
    _delete(server, obj["id"], "alpha")
    assert server.post([obj]).json()["success_count"] == 1
    [again] = server.read_all("alpha", f"/main/collections/{SHARED}/manifest/")
    assert again["date_added"] > first["date_added"]
    assert server.read_all("alpha") == [obj]


def test_deleting_removes_only_the_deleters_copy(server: Server) -> None:
    obj = indicator(markings=(CLEAR,))
    server.post([obj], who="alpha")
    server.post([obj], who="bravo")
    assert _delete(server, obj["id"], "alpha").status_code == 200
    assert server.read_all("charlie") == [obj]  # bravo's copy remains
