"""Decoding the rejected and quarantine topics for `igsc rejected`: never a crash."""

from __future__ import annotations

import orjson

from igsc.app.dead_letters import QUARANTINED_REASON, dead_letter_of, top_reasons
from igsc.records import rejection


def test_a_rejection_keeps_stage_partner_id_reason_and_time() -> None:
    record = rejection(
        stage="push", reason="bad id", partner="cert-de", stix_id="x--1", payload={"a": 1}
    )
    letter = dead_letter_of(topic_name="rejected", value=record.to_bytes())
    assert (letter.stage, letter.partner, letter.stix_id, letter.reason) == (
        "push",
        "cert-de",
        "x--1",
        "bad id",
    )
    assert letter.at == record.rejected_at


def test_a_quarantined_envelope_without_a_reason_gets_the_default_one() -> None:
    envelope = {
        "partner": "cert-fr",
        "received_at": "2026-01-01T00:00:00Z",
        "object": {"id": "i--1"},
    }
    letter = dead_letter_of(topic_name="quarantine", value=orjson.dumps(envelope))
    assert (letter.stix_id, letter.reason, letter.stage) == ("i--1", QUARANTINED_REASON, "extract")
    with_reason = dead_letter_of(
        topic_name="quarantine", value=orjson.dumps(envelope | {"reason": "modified in 2099"})
    )
    assert with_reason.reason == "modified in 2099"


def test_unreadable_bytes_are_listed_not_raised() -> None:
    for value in (b"\xff", b"[1, 2]", b"null"):
        assert dead_letter_of(topic_name="rejected", value=value).reason == "unreadable record"


def test_top_reasons_are_the_five_most_frequent() -> None:
    reasons = [f"r{i}" for i in range(7) for _ in range(i + 1)]
    assert top_reasons(reasons) == [("r6", 7), ("r5", 6), ("r4", 5), ("r3", 4), ("r2", 3)]
