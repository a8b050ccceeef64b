"""Paging: every object exactly once, next tokens bound to partner and query, date headers."""

from __future__ import annotations

import re

from taxii_server_fixtures import GREEN, SHARED, Server, indicator

FIXED_WIDTH = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def test_pages_return_every_object_once_in_date_added_order(server: Server) -> None:
    posted = [indicator(markings=(GREEN,)) for _ in range(23)]
    for i in range(0, 23, 5):
        assert server.post(posted[i : i + 5]).status_code == 202
    seen: list[str] = []
    previous_last = ""
    next_token = None
    pages = 0
    while True:
        params = {"limit": 4, **({"next": next_token} if next_token else {})}
        response = server.get(server.objects_url(), "bravo", **params)
        body = response.json()
        first = response.headers["X-TAXII-Date-Added-First"]
        last = response.headers["X-TAXII-Date-Added-Last"]
        assert FIXED_WIDTH.match(first) and FIXED_WIDTH.match(last)
        assert previous_last < first <= last
        previous_last = last
        seen.extend(o["id"] for o in body["objects"])
        pages += 1
        if not body["more"]:
            assert "next" not in body
            break
        next_token = body["next"]
    assert pages == 6
    assert seen == [o["id"] for o in posted]


def test_manifest_dates_are_unique_fixed_width_and_increasing(server: Server) -> None:
    for _ in range(3):
        server.post([indicator() for _ in range(10)])
    manifest = server.read_all("alpha", f"/main/collections/{SHARED}/manifest/", limit=7)
    dates = [m["date_added"] for m in manifest]
    assert len(dates) == 30
    assert all(FIXED_WIDTH.match(d) for d in dates)
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert {m["media_type"] for m in manifest} == {"application/stix+json;version=2.1"}


def _first_page_token(server: Server, who: str, **params: str) -> str:
    body = server.get(server.objects_url(), who, limit=2, **params).json()
    assert body["more"] is True
    return str(body["next"])


def test_next_replayed_by_another_partner_is_refused(server: Server) -> None:
    server.post([indicator() for _ in range(5)])
    token = _first_page_token(server, "alpha")
    assert server.get(server.objects_url(), "alpha", limit=2, next=token).status_code == 200
    refused = server.get(server.objects_url(), "bravo", limit=2, next=token)
    assert refused.status_code == 400
    assert refused.json()["http_status"] == "400"


def test_next_with_other_filters_or_endpoint_is_refused(server: Server) -> None:
    server.post([indicator() for _ in range(5)])
    token = _first_page_token(server, "alpha", **{"match[type]": "indicator"})
    ok = server.get(
        server.objects_url(), "alpha", limit=3, next=token, **{"match[type]": "indicator"}
    )
    assert ok.status_code == 200  # a different limit is fine
    for changed in ({"match[type]": "malware"}, {}, {"match[version]": "all"}):
        response = server.get(server.objects_url(), "alpha", limit=2, next=token, **changed)
        assert response.status_code == 400
    manifest = server.get(
        f"/main/collections/{SHARED}/manifest/", "alpha", next=token, **{"match[type]": "indicator"}
    )
    assert manifest.status_code == 400


def test_tampered_next_is_refused(server: Server) -> None:
    server.post([indicator() for _ in range(5)])
    token = _first_page_token(server, "alpha")
    body, mac = token.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    assert server.get(server.objects_url(), "alpha", limit=2, next=forged).status_code == 400


def test_empty_results_still_carry_date_headers(server: Server) -> None:
    empty = server.get(server.objects_url(), "alpha")
    assert empty.status_code == 200
    assert empty.json() == {"more": False, "objects": []}
    assert empty.headers["X-TAXII-Date-Added-First"] == "1970-01-01T00:00:00.000000Z"
    assert empty.headers["X-TAXII-Date-Added-Last"] == "1970-01-01T00:00:00.000000Z"
    server.post([indicator()])
    after = "2999-01-01T00:00:00.5Z"
    later = server.get(server.objects_url(), "alpha", added_after=after)
    assert later.json()["objects"] == []
    assert later.headers["X-TAXII-Date-Added-Last"] == "2999-01-01T00:00:00.500000Z"
    versions = server.get(f"{server.objects_url()}{indicator()['id']}/versions/", "alpha")
    assert versions.status_code == 404  # no such object: an error, not an empty 200


def test_every_read_endpoint_sends_date_headers(server: Server) -> None:
    obj = indicator()
    server.post([obj])
    date_added = server.read_all("alpha", f"/main/collections/{SHARED}/manifest/")[0]["date_added"]
    for path in (
        server.objects_url(),
        f"{server.objects_url()}{obj['id']}/",
        f"{server.objects_url()}{obj['id']}/versions/",
        f"/main/collections/{SHARED}/manifest/",
    ):
        response = server.get(path, "alpha")
        assert response.status_code == 200
        assert response.headers["X-TAXII-Date-Added-First"] == date_added
        assert response.headers["X-TAXII-Date-Added-Last"] == date_added


def test_resuming_from_date_added_last_misses_nothing(server: Server) -> None:
    server.post([indicator() for _ in range(3)])
    first = server.get(server.objects_url(), "alpha")
    resume_from = first.headers["X-TAXII-Date-Added-Last"]
    newer = [indicator() for _ in range(2)]
    server.post(newer)
    again = server.get(server.objects_url(), "alpha", added_after=resume_from)
    assert [o["id"] for o in again.json()["objects"]] == [o["id"] for o in newer]
