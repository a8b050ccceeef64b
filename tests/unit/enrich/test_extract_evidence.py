"""What respond reads of each report and sighting, from the raw topic to the document: when
it reached igsc, whether it was withdrawn, which sectors were sighted, which threats."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from enrich_flow import STAMP, Flow, envelope, stix

from enrich.enrichers import EnrichSettings
from enrich.enrichers.score import ScoreEnricher

KEY = "domain-name|phish.example"
INDICATOR_ID = "indicator--1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
OTHER_ID = "indicator--6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
CREATOR = "identity--5a1f1d0e-3f0e-4c59-9d5b-0f3c1a2b3c4d"
BANK = "identity--7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e"
SIGHTING_ID = "sighting--8c9d0e1f-2a3b-4c4d-8e5f-6a7b8c9d0e1f"
CAMPAIGN = "campaign--9d0e1f2a-3b4c-4d5e-9f6a-7b8c9d0e1f2a"
ARRIVED = "2026-11-20T08:00:05.123456Z"


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[Flow]:
    flow = Flow(tmp_path / "a")
    yield flow
    flow.close()


def indicator(ident: str = INDICATOR_ID, *, modified: str = STAMP, **fields: Any) -> dict[str, Any]:
    return stix(
        "indicator",
        ident,
        modified=modified,
        created_by_ref=CREATOR,
        pattern="[domain-name:value = 'phish.example']",
        pattern_type="stix",
        valid_from=STAMP,
        **fields,
    )


def sighting(*, where: tuple[str, ...] = (BANK,)) -> dict[str, Any]:
    return stix(
        "sighting",
        SIGHTING_ID,
        sighting_of_ref=INDICATOR_ID,
        where_sighted_refs=list(where),
        count=2,
        last_seen="2026-11-21T09:00:00Z",
    )


def test_the_envelopes_arrival_reaches_sources_and_sightings(flow: Flow) -> None:
    flow.send(envelope(indicator(), received_at=ARRIVED))
    seen_at = "2026-11-21T10:00:00.000001Z"
    docs = flow.send(envelope(sighting(where=()), partner="cert-fr", received_at=seen_at))
    doc = docs[KEY]
    assert [s["received_at"] for s in doc["sources"]] == [ARRIVED]
    assert [g["received_at"] for g in doc["sightings"]] == [seen_at]
    assert flow.document(KEY) == {**doc, "doc_id": KEY}  # the index holds the same document
    assert not flow.rejected


def test_a_replay_reads_the_same_times_whatever_the_clock(flow: Flow, tmp_path: Path) -> None:
    raw = [
        envelope(indicator(), received_at=ARRIVED),
        envelope(sighting(where=()), partner="cert-fr", received_at="2026-11-22T00:00:00Z"),
    ]
    first = [flow.send(r) for r in raw][-1]
    replay = Flow(tmp_path / "replay", clock=datetime(2027, 6, 1, tzinfo=UTC))
    try:
        again = [replay.send(r) for r in raw][-1]
        assert replay.observations == flow.observations  # the same bytes on the topic
    finally:
        replay.close()
    assert again == first
    assert again[KEY]["sources"][0]["received_at"] == ARRIVED


def test_a_revoked_version_replaces_the_report_and_leaves_the_summary(flow: Flow) -> None:
    flow.send(
        envelope(indicator(), received_at=ARRIVED),
        envelope(indicator(OTHER_ID), partner="cert-fr", received_at=ARRIVED),
    )
    revoked = indicator(modified="2026-11-21T08:00:00.000Z", revoked=True)
    doc = flow.send(envelope(revoked, received_at="2026-11-21T08:00:01Z"))[KEY]
    by_partner = {s["partner"]: s for s in doc["sources"]}
    assert by_partner["cert-de"]["status"] == "revoked"
    assert by_partner["cert-de"]["version"] == "2026-11-21T08:00:00.000Z"  # replaced, not added
    assert by_partner["cert-fr"]["status"] == "active"
    assert (doc["countries"], doc["partners"], doc["country_count"]) == (["FR"], ["cert-fr"], 1)
    assert (doc["stix_ids"], doc["withdrawn_count"], doc["active"]) == ([OTHER_ID], 1, "true")


def test_an_earlier_version_does_not_undo_a_revocation(flow: Flow) -> None:
    flow.send(
        envelope(indicator(modified="2026-11-21T08:00:00Z", revoked=True), received_at=ARRIVED)
    )
    assert flow.send(envelope(indicator(), received_at="2026-11-22T00:00:00Z")) == {}
    doc = flow.document(KEY)
    assert doc is not None and doc["active"] == "false" and doc["countries"] == []


def test_only_the_creator_may_revoke(flow: Flow) -> None:
    flow.send(envelope(indicator(), received_at=ARRIVED))
    forged = {
        **indicator(modified="2026-11-21T08:00:00Z", revoked=True),
        "created_by_ref": BANK,
    }
    assert flow.send(envelope(forged, received_at=ARRIVED)) == {}
    [refused] = flow.rejected
    assert refused.reason.startswith("only the creator may version an object")
    doc = flow.document(KEY)
    assert doc is not None and doc["sources"][0]["status"] == "active"


def test_a_report_expires_once_something_newer_arrives_after_its_validity(flow: Flow) -> None:
    until = "2026-11-20T12:00:00Z"
    first = flow.send(envelope(indicator(valid_until=until), received_at=ARRIVED))[KEY]
    assert first["sources"][0]["status"] == "active" and first["active"] == "true"
    assert first["sources"][0]["valid_until"] == until
    later = flow.send(
        envelope(indicator(OTHER_ID), partner="cert-fr", received_at="2026-11-20T12:00:00Z")
    )[KEY]
    by_partner = {s["partner"]: s["status"] for s in later["sources"]}
    assert by_partner == {"cert-de": "expired", "cert-fr": "active"}
    assert (later["countries"], later["partner_count"], later["withdrawn_count"]) == (
        ["FR"],
        1,
        1,
    )


def test_sighted_sectors_reach_the_document(flow: Flow) -> None:
    bank = stix(
        "identity",
        BANK,
        name="Bank",
        identity_class="organization",
        sectors=["financial-services", "banking", "banking"],
        x_country="nl",
    )
    flow.send(envelope(bank, partner="cert-nl", received_at=ARRIVED))
    flow.send(envelope(indicator(), received_at=ARRIVED))
    doc = flow.send(envelope(sighting(), partner="cert-nl", received_at=ARRIVED))[KEY]
    [seen] = doc["sightings"]
    assert seen["sectors"] == ["banking", "financial-services"] and seen["countries"] == ["NL"]
    assert doc["sighting_sectors"] == ["banking", "financial-services"]


def test_a_sighting_before_its_indicator_keeps_its_sectors_and_arrival(flow: Flow) -> None:
    bank = stix("identity", BANK, name="Bank", sectors=["energy"])
    flow.send(envelope(bank, partner="cert-nl", received_at=ARRIVED))
    flow.send(envelope(sighting(), partner="cert-nl", received_at="2026-11-20T07:00:00Z"))
    doc = flow.send(envelope(indicator(), received_at=ARRIVED))[KEY]
    [seen] = doc["sightings"]
    assert (seen["sectors"], seen["received_at"]) == (["energy"], "2026-11-20T07:00:00Z")


def test_an_indicates_link_to_a_campaign_gives_its_threats(flow: Flow) -> None:
    def link(ident: str, target: str, kind: str = "indicates") -> bytes:
        rel = stix(
            "relationship",
            ident,
            relationship_type=kind,
            source_ref=INDICATOR_ID,
            target_ref=target,
        )
        return envelope(rel, received_at=ARRIVED)

    early = link("relationship--0e1f2a3b-4c5d-4e6f-8a7b-8c9d0e1f2a3b", CAMPAIGN)
    assert flow.send(early) == {}  # before its indicator: it waits for it
    assert flow.send(envelope(indicator(), received_at=ARRIVED))[KEY]["threats"] == [CAMPAIGN]
    malware = "malware--1f2a3b4c-5d6e-4f7a-9b8c-9d0e1f2a3b4c"
    docs = flow.send(
        link("relationship--2a3b4c5d-6e7f-4a8b-9c0d-0e1f2a3b4c5d", malware),
        link("relationship--3b4c5d6e-7f8a-4b9c-8d0e-1f2a3b4c5d6e", CAMPAIGN),
        link("relationship--4c5d6e7f-8a9b-4c0d-9e1f-2a3b4c5d6e7f", BANK),  # not a threat
        link("relationship--5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a", CAMPAIGN, kind="related-to"),
    )
    assert docs[KEY]["threats"] == [CAMPAIGN, malware]


def test_the_score_leaves_out_a_revoked_report(tmp_path: Path) -> None:
    def final_score(home: str, *, revoke: bool) -> float:
        flow = Flow(tmp_path / home, enrichers=(ScoreEnricher(settings=EnrichSettings()),))
        try:
            flow.send(envelope(indicator(), received_at=ARRIVED))
            other = indicator(OTHER_ID, modified="2026-11-21T00:00:00Z", revoked=revoke)
            flow.send(envelope(other, partner="cert-fr", received_at=ARRIVED))
            doc = flow.document(KEY)
            assert doc is not None
            return float(doc["score"])
        finally:
            flow.close()

    alone = Flow(tmp_path / "alone", enrichers=(ScoreEnricher(settings=EnrichSettings()),))
    try:
        only_de = alone.send(envelope(indicator(), received_at=ARRIVED))[KEY]["score"]
    finally:
        alone.close()
    assert final_score("revoked", revoke=True) == only_de
    assert final_score("active", revoke=False) > only_de
