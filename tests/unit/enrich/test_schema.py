"""The index document of a merged record: what analysts search, filter and facet on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.record import IndicatorRecord, SightingEntry, SourceEntry
from enrich.schema import general_doc, indicator_doc


def source(partner: str, country: str, **fields: object) -> SourceEntry:
    values: dict[str, object] = {
        "stix_id": f"indicator--{partner}",
        "version": "2026-11-20T08:00:00.000Z",
        "tlp": "amber",
        "confidence": None,
        "reliability": 0.5,
        "created_by": None,
        "valid_from": None,
    }
    values.update(fields)
    return SourceEntry(partner=partner, country=country, **values)  # type: ignore[arg-type]


RECORD = IndicatorRecord(
    key="domain-name|evil.example",
    kind="domain-name",
    value="evil.example",
    flags=(),
    sources=(
        source(
            "cert-nl",
            "NL",
            tlp="green",
            confidence=40,
            labels=("phishing", "c2"),
            description="login page",
            valid_from="2026-11-01T00:00:00Z",
        ),
        source("cert-de", "DE", confidence=90, labels=("c2",), description="beacon"),
        source("cert-de", "DE", stix_id="indicator--a", tlp="mystery", version="2026-11-25T00Z"),
    ),
    sightings=(
        SightingEntry(
            sighting_id="sighting--1",
            version="v",
            partner="cert-fr",
            countries=("BE", "FR"),
            count=4,
            first_seen="2026-11-21T09:00:00.123456Z",
            last_seen="2026-11-26T10:00:00Z",
            tlp="green",
        ),
    ),
    score=71.23456,
    version=7,
)


def test_reporters_and_sighters_are_summed_up_once_each() -> None:
    doc = indicator_doc(RECORD)
    assert doc["countries"] == ["BE", "DE", "FR", "NL"] and doc["country_count"] == 4
    assert doc["partners"] == ["cert-de", "cert-fr", "cert-nl"] and doc["partner_count"] == 3
    assert doc["sighting_countries"] == ["BE", "FR"] and doc["sighting_count"] == 4
    assert doc["stix_ids"] == ["indicator--a", "indicator--cert-de", "indicator--cert-nl"]
    assert [s["stix_id"] for s in doc["sources"]] == doc["stix_ids"]  # by partner, then id


def test_least_restrictive_tlp_highest_confidence_and_merged_text() -> None:
    doc = indicator_doc(RECORD)
    assert doc["tlp_min"] == "green"  # an unknown label counts as red, green still wins
    assert doc["source_tlps"] == ["amber", "green", "mystery"]
    assert doc["confidence"] == 90
    assert doc["labels"] == ["c2", "phishing"]
    assert doc["description"] == "beacon | login page"
    assert (doc["score"], doc["version"], doc["active"]) == (71.235, 7, "true")


def test_a_sightings_tlp_joins_the_levels_that_withhold_the_document() -> None:
    red = replace(RECORD.sightings[0], tlp="red")
    doc = indicator_doc(replace(RECORD, sightings=(red,)))
    assert doc["source_tlps"] == ["amber", "green", "mystery", "red"]
    assert doc["sightings"][0]["tlp"] == "red"
    assert doc["tlp_min"] == "green"  # the least restrictive source, as before


def test_first_and_last_seen_span_sources_and_sightings_in_milliseconds() -> None:
    doc = indicator_doc(RECORD)
    assert doc["first_seen"] == "2026-11-01T00:00:00.000Z"  # a source's valid_from
    assert doc["last_seen"] == "2026-11-26T10:00:00.000Z"  # the sighting's last_seen


def test_a_record_without_sources_is_inactive_and_red() -> None:
    doc = indicator_doc(IndicatorRecord(key="k|v", kind="k", value="v", flags=(), sources=()))
    assert (doc["active"], doc["tlp_min"], doc["first_seen"], doc["confidence"]) == (
        "false",
        "red",
        None,
        None,
    )


@settings(max_examples=200, deadline=None)
@given(
    tlp=st.sampled_from(["clear", "green", "amber", "amber+strict", "red", "mystery"]),
    confidence=st.one_of(st.none(), st.integers(0, 100)),
    labels=st.lists(st.sampled_from(["c2", "phishing", ""]), max_size=3).map(tuple),
    description=st.sampled_from(["", "beacon"]),
    valid_from=st.one_of(
        st.none(), st.sampled_from(["", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00.5Z"])
    ),
)
def test_the_one_source_shortcut_builds_the_general_document(**fields: Any) -> None:
    record = IndicatorRecord(
        key="ipv4-addr|198.51.100.1",
        kind="ipv4-addr",
        value="198.51.100.1",
        flags=("x",),
        sources=(source("cert-fr", "FR", **fields),),
        score=41.23456,
        version=3,
    )
    assert indicator_doc(record) == general_doc(record)


def test_a_revoked_source_is_shown_withdrawn_and_left_out_of_the_summary() -> None:
    nl, de, de_other = RECORD.sources
    revoked = replace(nl, revoked=True, received_at="2026-11-27T00:00:00Z")
    doc = indicator_doc(replace(RECORD, sources=(revoked, de, de_other)))
    status = {s["stix_id"]: s["status"] for s in doc["sources"]}
    assert status == {"indicator--cert-nl": "revoked", **dict.fromkeys(doc["stix_ids"], "active")}
    assert doc["countries"] == ["BE", "DE", "FR"] and doc["country_count"] == 3
    assert doc["partners"] == ["cert-de", "cert-fr"] and doc["partner_count"] == 2
    assert doc["stix_ids"] == ["indicator--a", "indicator--cert-de"]
    assert (doc["labels"], doc["description"], doc["confidence"]) == (["c2"], "beacon", 90)
    assert doc["first_seen"] == "2026-11-20T08:00:00.000Z"  # nl's valid_from is gone
    assert doc["withdrawn_count"] == 1 and doc["active"] == "true"
    # Its content is still in the document, so its level still withholds and admits it.
    assert doc["source_tlps"] == ["amber", "green", "mystery"] and doc["tlp_min"] == "green"


def test_a_source_expires_at_the_newest_arrival_never_by_the_clock() -> None:
    nl, de, de_other = RECORD.sources
    until = replace(de, valid_until="2026-11-22T00:00:00Z", received_at="2026-11-20T08:00:00Z")
    seen = replace(RECORD.sightings[0], received_at="2026-11-21T23:59:59.999Z")
    doc = indicator_doc(replace(RECORD, sources=(nl, until, de_other), sightings=(seen,)))
    assert [s["status"] for s in doc["sources"]] == ["active", "active", "active"]
    assert doc["sources"][1]["valid_until"] == "2026-11-22T00:00:00Z"
    arrived = replace(seen, received_at="2026-11-22T00:00:00.000Z")  # the same instant
    doc = indicator_doc(replace(RECORD, sources=(nl, until, de_other), sightings=(arrived,)))
    assert [s["status"] for s in doc["sources"]] == ["active", "expired", "active"]
    assert doc["confidence"] == 40 and doc["description"] == "login page"
    assert doc["withdrawn_count"] == 1


def test_a_lone_withdrawn_source_leaves_an_inactive_document() -> None:
    for withdrawn in (
        replace(RECORD.sources[0], revoked=True),
        replace(
            RECORD.sources[0],
            received_at="2026-11-02T00:00:00Z",
            valid_until="2026-11-02T00:00:00Z",
        ),
    ):
        record = IndicatorRecord(key="k|v", kind="k", value="v", flags=(), sources=(withdrawn,))
        doc = indicator_doc(record)
        assert (doc["active"], doc["countries"], doc["partners"], doc["stix_ids"]) == (
            "false",
            [],
            [],
            [],
        )
        assert (doc["country_count"], doc["withdrawn_count"], doc["confidence"]) == (0, 1, None)
        assert doc["source_tlps"] == ["green"] and doc["tlp_min"] == "green"
        assert doc["sources"][0]["status"] in ("revoked", "expired")


def test_sightings_carry_their_sectors_and_arrival() -> None:
    seen = replace(
        RECORD.sightings[0], sectors=("energy", "water"), received_at="2026-11-26T00:00:00Z"
    )
    other = replace(seen, sighting_id="sighting--2", sectors=("banking", "energy"))
    doc = indicator_doc(replace(RECORD, sightings=(other, seen)))
    assert [g["sectors"] for g in doc["sightings"]] == [["energy", "water"], ["banking", "energy"]]
    assert doc["sightings"][0]["received_at"] == "2026-11-26T00:00:00Z"
    assert doc["sighting_sectors"] == ["banking", "energy", "water"]


def test_threats_are_a_document_field() -> None:
    doc = indicator_doc(replace(RECORD, threats=("campaign--1", "malware--2")))
    assert doc["threats"] == ["campaign--1", "malware--2"]


@settings(max_examples=200, deadline=None)
@given(
    revoked=st.booleans(),
    received_at=st.one_of(
        st.none(), st.sampled_from(["2026-11-20T08:00:00Z", "2026-12-02T00:00:00Z"])
    ),
    valid_until=st.one_of(
        st.none(), st.sampled_from(["2026-11-20T08:00:00.000Z", "2026-12-01T00:00:00Z"])
    ),
)
def test_the_one_source_shortcut_agrees_on_withdrawn_sources(**fields: Any) -> None:
    record = IndicatorRecord(
        key="url|http://x.example/",
        kind="url",
        value="http://x.example/",
        flags=(),
        sources=(source("cert-de", "DE", confidence=70, labels=("c2",), **fields),),
    )
    assert indicator_doc(record) == general_doc(record)
