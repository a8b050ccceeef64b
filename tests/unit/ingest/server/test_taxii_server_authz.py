"""Authorization per partner and collection: hidden (404), read-only and write-only (403)."""

from __future__ import annotations

from taxii_server_fixtures import OTHER_ROOT_COLL, PRIVATE, SHARED, Server, indicator


def _collections(server: Server, who: str) -> dict[str, dict[str, object]]:
    response = server.get("/main/collections/", who)
    assert response.status_code == 200
    return {c["id"]: c for c in response.json()["collections"]}


def test_collections_list_only_what_the_partner_may_read_or_write(server: Server) -> None:
    alpha = _collections(server, "alpha")
    assert set(alpha) == {SHARED, PRIVATE}
    assert alpha[PRIVATE]["can_read"] is True and alpha[PRIVATE]["can_write"] is True
    charlie = _collections(server, "charlie")
    assert set(charlie) == {SHARED}
    assert (charlie[SHARED]["can_read"], charlie[SHARED]["can_write"]) == (True, False)
    writer = _collections(server, "writer")
    assert (writer[SHARED]["can_read"], writer[SHARED]["can_write"]) == (False, True)
    assert _collections(server, "outsider") == {}
    assert PRIVATE not in server.get("/main/collections/", "bravo").text


def test_a_collection_the_partner_cannot_use_is_404_everywhere(server: Server) -> None:
    obj = indicator()
    assert server.post([obj], who="alpha", collection=PRIVATE).status_code == 202
    base = f"/main/collections/{PRIVATE}/"
    paths = [
        base,
        f"{base}objects/",
        f"{base}manifest/",
        f"{base}objects/{obj['id']}/",
        f"{base}objects/{obj['id']}/versions/",
    ]
    for path in paths:
        hidden = server.get(path, "bravo")
        unknown = server.get(path.replace(PRIVATE, "99999999-9999-4999-8999-999999999999"), "bravo")
        assert hidden.status_code == unknown.status_code == 404, path
        assert hidden.json() == unknown.json()
    assert server.post([indicator()], who="bravo", collection=PRIVATE).status_code == 404
    deleted = server.client.delete(f"{base}objects/{obj['id']}/", headers=server.headers("bravo"))
    assert deleted.status_code == 404


def test_collection_in_another_api_root_is_not_reachable_here(server: Server) -> None:
    assert server.get(f"/main/collections/{OTHER_ROOT_COLL}/", "alpha").status_code == 404
    assert server.get(f"/second/collections/{SHARED}/", "alpha").status_code == 404


def test_reading_without_can_read_is_403(server: Server) -> None:
    base = f"/main/collections/{SHARED}/"
    for path in (
        f"{base}objects/",
        f"{base}manifest/",
        f"{base}objects/x--1/",
        f"{base}objects/x--1/versions/",
    ):
        response = server.get(path, "writer")
        assert response.status_code == 403, path
        assert response.json()["http_status"] == "403"
    assert server.get(base, "writer").status_code == 200  # it may still see the collection


def test_writing_without_can_write_is_403_and_lands_nothing(server: Server) -> None:
    response = server.post([indicator()], who="charlie")
    assert response.status_code == 403
    assert response.json()["http_status"] == "403"
    assert server.read_all("alpha") == []


def test_write_only_partner_can_post(server: Server) -> None:
    response = server.post([indicator()], who="writer")
    assert response.status_code == 202
    assert response.json()["success_count"] == 1


def test_api_root_information(server: Server) -> None:
    body = server.get("/main/", "outsider").json()
    assert body["versions"] == ["application/taxii+json;version=2.1"]
    assert body["max_content_length"] == 64 * 1024
    assert body["title"] == "Main"
    discovery = server.get("/taxii2/", "outsider").json()
    assert discovery["api_roots"] == ["http://testserver/main/", "http://testserver/second/"]
    assert discovery["default"] == "http://testserver/main/"
