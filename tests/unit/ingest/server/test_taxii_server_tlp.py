"""TLP 1.0/2.0 on every read path; granular markings remove fields a reader is not cleared for.

alpha, bravo, charlie share the sharing group 'north'; only bravo lets its group read its
TLP:AMBER. delta is in 'south' and defaults unmarked objects to GREEN; alpha defaults to AMBER.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from taxii_server_fixtures import (
    AMBER,
    AMBER_STRICT,
    CLEAR,
    GREEN,
    RED,
    SHARED,
    TLP1_AMBER,
    TLP1_RED,
    TLP1_WHITE,
    Server,
    indicator,
)

from igsc.tlp import Tlp
from ingest.server.granular import redact

READERS = ("alpha", "bravo", "charlie", "delta")


def _who_sees(server: Server, obj: dict[str, Any]) -> set[str]:
    """Readers that get the object from the objects endpoint, by id, and in the manifest."""
    seen = set()
    for reader in READERS:
        listed = obj["id"] in {o["id"] for o in server.read_all(reader)}
        by_id = server.get(f"{server.objects_url()}{obj['id']}/", reader).status_code == 200
        manifest = server.read_all(reader, f"/main/collections/{SHARED}/manifest/")
        in_manifest = obj["id"] in {m["id"] for m in manifest}
        assert listed == by_id == in_manifest, reader
        if listed:
            seen.add(reader)
    return seen


@pytest.mark.parametrize("marking", [CLEAR, GREEN, TLP1_WHITE])
def test_clear_and_green_reach_every_reader(server: Server, marking: str) -> None:
    obj = indicator(markings=(marking,))
    server.post([obj], who="alpha")
    assert _who_sees(server, obj) == set(READERS)


@pytest.mark.parametrize("marking", [AMBER, TLP1_AMBER])
def test_amber_stays_with_the_publisher_unless_it_shares_with_its_groups(
    server: Server, marking: str
) -> None:
    from_alpha = indicator(markings=(marking,))
    server.post([from_alpha], who="alpha")
    assert _who_sees(server, from_alpha) == {"alpha"}
    from_bravo = indicator(markings=(marking,))
    server.post([from_bravo], who="bravo")
    assert _who_sees(server, from_bravo) == {"alpha", "bravo", "charlie"}  # not delta (south)


@pytest.mark.parametrize(
    "markings",
    [
        (AMBER_STRICT,),
        (RED,),
        (TLP1_RED,),
        (f"marking-definition--{uuid.uuid4()}",),  # unknown: RED
        (CLEAR, RED),  # most restrictive wins
        (GREEN, AMBER_STRICT),
    ],
)
def test_amber_strict_red_and_unknown_reach_only_the_publisher(
    server: Server, markings: tuple[str, ...]
) -> None:
    obj = indicator(markings=markings)
    server.post([obj], who="bravo")
    assert _who_sees(server, obj) == {"bravo"}


def test_unmarked_objects_get_the_publishers_default_tlp(server: Server) -> None:
    from_alpha, from_delta = indicator(), indicator()
    server.post([from_alpha], who="alpha")  # default amber, not shared with groups
    server.post([from_delta], who="delta")  # default green
    assert _who_sees(server, from_alpha) == {"alpha"}
    assert _who_sees(server, from_delta) == set(READERS)


def test_a_hidden_object_is_a_404_exactly_like_a_missing_one(server: Server) -> None:
    secret = indicator(markings=(RED,))
    server.post([secret], who="alpha")
    missing = indicator()
    for suffix in ("", "versions/"):
        hidden = server.get(f"{server.objects_url()}{secret['id']}/{suffix}", "bravo")
        absent = server.get(f"{server.objects_url()}{missing['id']}/{suffix}", "bravo")
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json() == absent.json()
        assert secret["id"] not in hidden.text
        assert dict(hidden.headers) == dict(absent.headers) | {
            "content-length": hidden.headers["content-length"]
        }


def test_a_hidden_newer_version_is_invisible_on_every_path(server: Server) -> None:
    ident = indicator()["id"]
    v1 = indicator(ident, modified="2024-01-01T00:00:00.000Z", markings=(GREEN,))
    v2 = indicator(ident, modified="2024-06-01T00:00:00.000Z", markings=(RED,), name="secret")
    server.post([v1, v2], who="alpha")
    url = f"{server.objects_url()}{ident}/"
    for version in ("last", "first", "all"):
        got = server.read_all("bravo", **{"match[version]": version})
        assert [o["modified"] for o in got] == [v1["modified"]]
        by_id = server.get(url, "bravo", **{"match[version]": version}).json()["objects"]
        assert [o["modified"] for o in by_id] == [v1["modified"]]
    assert server.get(f"{url}versions/", "bravo").json()["versions"] == [v1["modified"]]
    manifest = server.read_all("bravo", f"/main/collections/{SHARED}/manifest/")
    assert [m["version"] for m in manifest] == [v1["modified"]]
    exact = server.get(url, "bravo", **{"match[version]": v2["modified"]})
    assert exact.json()["objects"] == []
    assert "secret" not in exact.text and v2["modified"] not in exact.text
    # The publisher sees its newest version as the last one.
    assert [o["name"] for o in server.read_all("alpha")] == ["secret"]


def test_paging_counts_and_headers_ignore_hidden_objects(server: Server) -> None:
    hidden = [indicator(markings=(RED,)) for _ in range(5)]
    shown = [indicator(markings=(CLEAR,)) for _ in range(3)]
    server.post(hidden[:2] + shown[:1] + hidden[2:4] + shown[1:] + hidden[4:], who="alpha")
    response = server.get(server.objects_url(), "bravo", limit=3)
    body = response.json()
    assert [o["id"] for o in body["objects"]] == [o["id"] for o in shown]
    assert body["more"] is False
    dates = [
        m["date_added"] for m in server.read_all("bravo", f"/main/collections/{SHARED}/manifest/")
    ]
    assert response.headers["X-TAXII-Date-Added-First"] == dates[0]
    assert response.headers["X-TAXII-Date-Added-Last"] == dates[-1]


def _granular(marking: str, *selectors: str) -> dict[str, Any]:
    return {"marking_ref": marking, "selectors": list(selectors)}


def test_granular_markings_remove_fields_above_the_readers_clearance(server: Server) -> None:
    obj = indicator(
        markings=(CLEAR,),
        description="the secret description",
        labels=["public-label", "secret-label", "green-label"],
        external_references=[
            {"source_name": "public", "url": "https://example.org/open"},
            {"source_name": "case", "url": "https://example.org/secret-case"},
        ],
        granular_markings=[
            _granular(RED, "description", "labels.[1]", "external_references.[1].url"),
            _granular(GREEN, "labels.[2]", "external_references.[1].source_name"),
        ],
    )
    server.post([obj], who="alpha")
    [seen] = server.read_all("bravo")
    assert "description" not in seen
    assert seen["labels"] == ["public-label", "green-label"]
    assert seen["external_references"] == [
        {"source_name": "public", "url": "https://example.org/open"},
        {"source_name": "case"},
    ]
    # Surviving granular markings still point at the right fields after the removal.
    assert seen["granular_markings"] == [
        _granular(GREEN, "labels.[1]", "external_references.[1].source_name")
    ]
    [own] = server.read_all("alpha")
    assert own == obj


def test_granular_amber_follows_the_sharing_group_rule(server: Server) -> None:
    obj = indicator(
        markings=(GREEN,),
        description="group only",
        granular_markings=[_granular(AMBER, "description")],
    )
    server.post([obj], who="bravo")
    assert server.read_all("charlie")[0]["description"] == "group only"
    assert "description" not in server.read_all("delta")[0]


def test_granular_marking_on_the_identity_hides_the_whole_object(server: Server) -> None:
    obj = indicator(markings=(CLEAR,), granular_markings=[_granular(RED, "id", "name")])
    server.post([obj], who="alpha")
    assert _who_sees(server, obj) == {"alpha"}


def test_redact_handles_nested_paths_and_unknown_markings() -> None:
    obj: dict[str, Any] = {
        "id": "x--1",
        "a": {"b": {"c": 1, "d": 2}, "keep": True},
        "granular_markings": [
            _granular("marking-definition--unknown", "a.b.c"),
            {"lang": "de", "selectors": ["a.keep"]},
        ],
    }
    out = redact(obj, cleared=lambda level: level <= Tlp.AMBER)
    assert out["a"] == {"b": {"d": 2}, "keep": True}
    assert out["granular_markings"] == [{"lang": "de", "selectors": ["a.keep"]}]
    assert obj["a"]["b"] == {"c": 1, "d": 2}  # the stored object is untouched
    assert redact(obj, cleared=lambda level: True) is obj
