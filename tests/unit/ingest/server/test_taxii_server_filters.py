"""Read filters: match[id|type|version|spec_version], added_after, limit."""

from __future__ import annotations

from typing import Any

import pytest
from taxii_server_fixtures import Server, indicator, sid


def _versions(server: Server, who: str = "alpha", **params: Any) -> list[tuple[str, str]]:
    return [(o["id"], o["modified"]) for o in server.read_all(who, **params)]


@pytest.fixture
def history(server: Server) -> dict[str, Any]:
    """Object one has three versions, posted out of order; two is a malware with one."""
    one = sid()
    two = sid("malware")
    v1, v2, v3 = ("2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00Z")
    malware = {
        "type": "malware",
        "spec_version": "2.1",
        "id": two,
        "created": v1,
        "modified": v1,
        "name": "x",
        "is_family": False,
    }
    assert server.post([indicator(one, modified=v2), malware]).status_code == 202
    assert (
        server.post([indicator(one, modified=v3), indicator(one, modified=v1)]).status_code == 202
    )
    return {"one": one, "two": two, "v1": v1, "v2": v2, "v3": v3}


def test_default_is_the_last_version_of_each_object(
    server: Server, history: dict[str, Any]
) -> None:
    assert sorted(_versions(server)) == sorted(
        [(history["one"], history["v3"]), (history["two"], history["v1"])]
    )


def test_match_version_first_all_and_exact(server: Server, history: dict[str, Any]) -> None:
    one, two = history["one"], history["two"]
    v1, v2, v3 = history["v1"], history["v2"], history["v3"]
    assert sorted(_versions(server, **{"match[version]": "first"})) == sorted(
        [(one, v1), (two, v1)]
    )
    assert sorted(_versions(server, **{"match[version]": "all"})) == sorted(
        [(one, v1), (one, v2), (one, v3), (two, v1)]
    )
    # An exact version matches whatever precision it is written in.
    assert _versions(server, **{"match[version]": "2024-02-01T00:00:00Z"}) == [(one, v2)]
    assert sorted(_versions(server, **{"match[version]": "first,last"})) == sorted(
        [(one, v1), (one, v3), (two, v1)]
    )


def test_match_id_type_and_spec_version(server: Server, history: dict[str, Any]) -> None:
    one, two = history["one"], history["two"]
    assert [i for i, _ in _versions(server, **{"match[type]": "malware"})] == [two]
    assert [i for i, _ in _versions(server, **{"match[id]": one})] == [one]
    both = _versions(server, **{"match[id]": f"{one},{two}", "match[version]": "all"})
    assert len(both) == 4
    assert len(_versions(server, **{"match[type]": "indicator,malware"})) == 2
    assert _versions(server, **{"match[spec_version]": "2.0"}) == []
    assert len(_versions(server, **{"match[spec_version]": "2.1"})) == 2


def test_added_after_is_strict_and_applies_after_last(
    server: Server, history: dict[str, Any]
) -> None:
    manifest = server.read_all("alpha", f"/main/collections/{_shared(server)}/manifest/")
    by_version = {(m["id"], m["version"]): m["date_added"] for m in manifest}
    malware_added = by_version[(history["two"], history["v1"])]
    after = _versions(server, added_after=malware_added)
    # The malware itself is not "after" its own date_added; the indicator's last version is.
    assert after == [(history["one"], history["v3"])]
    newest = max(by_version.values())
    assert _versions(server, added_after=newest) == []


def _shared(server: Server) -> str:
    return str(server.settings.taxii.api_roots[0].collections[0].id)


def test_out_of_order_versions_never_replace_the_newer_one(
    server: Server, history: dict[str, Any]
) -> None:
    """v1 was added last; the newest version (v3) is still what 'last' gives."""
    response = server.get(f"{server.objects_url()}{history['one']}/", "alpha")
    assert [o["modified"] for o in response.json()["objects"]] == [history["v3"]]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "0"),
        ("limit", "-3"),
        ("limit", "ten"),
        ("added_after", "yesterday"),
        ("added_after", "2024-13-01T00:00:00Z"),
        ("match[version]", "newest"),
        ("next", "garbage"),
    ],
)
def test_bad_parameters_get_400(server: Server, name: str, value: str) -> None:
    response = server.get(server.objects_url(), "alpha", **{name: value})
    assert response.status_code == 400
    assert response.json()["http_status"] == "400"


def test_limit_is_capped_at_page_size_max(server: Server) -> None:
    server.post([indicator() for _ in range(205)])
    body = server.get(server.objects_url(), "alpha", limit=5000).json()
    assert len(body["objects"]) == server.settings.taxii.page_size_max == 200
    assert body["more"] is True
    default = server.get(server.objects_url(), "alpha").json()
    assert len(default["objects"]) == server.settings.taxii.page_size_default
