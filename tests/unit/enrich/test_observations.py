"""Observation records: what extract writes, merge reads back exactly, in the same bytes."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest

from enrich.observations import (
    Observation,
    RetractOp,
    SightingOp,
    SourceOp,
    TechniquesOp,
    ThreatsOp,
    decode_observation,
    encode_observation,
)
from enrich.record import SightingEntry, SourceEntry

ENTRY = SourceEntry(
    stix_id="indicator--0b6c3e0e-8a4f-4d6b-9f0e-6a8f7d0c2b11",
    version="2026-11-20T08:00:00.000Z",
    partner="cert-fr",
    country="FR",
    tlp="amber",
    confidence=None,
    reliability=0.8,
    created_by="identity--x",
    valid_from=None,
    labels=("malicious-activity", "phishing"),
    kill_chain_phases=("mitre-attack:initial-access",),
    description="login page",
)
SIGHTING = SightingEntry(
    sighting_id="sighting--1",
    version="2026-11-21T10:00:00.000Z",
    partner="cert-de",
    countries=("AT", "DE"),
    count=3,
    first_seen="2026-11-21T09:00:00Z",
    last_seen=None,
    tlp="amber",
)
SOURCE = SourceOp(key="url|v", kind="url", value="v", flags=("x",), entry=ENTRY)
OPS: list[Observation] = [
    SOURCE,
    RetractOp(key="url|v", partner="cert-fr", stix_id=ENTRY.stix_id, version=ENTRY.version),
    SightingOp(key="url|v", entry=SIGHTING),
    TechniquesOp(key="url|v", techniques=("T1566",)),
    ThreatsOp(key="url|v", threats=("campaign--9d0e1f2a-3b4c-4d5e-9f6a-7b8c9d0e1f2a",)),
]


@pytest.mark.parametrize("op", OPS, ids=lambda op: type(op).__name__)
def test_every_observation_survives_the_topic_unchanged(op: Any) -> None:
    assert decode_observation(encode_observation(op)) == op


def test_the_wire_format_is_the_json_merge_always_read() -> None:
    source = orjson.loads(encode_observation(SOURCE))
    assert source["op"] == "source" and source["entry"]["labels"] == list(ENTRY.labels)
    assert encode_observation(SOURCE) == orjson.dumps(
        {
            "op": "source",
            "key": "url|v",
            "kind": "url",
            "value": "v",
            "flags": ["x"],
            "entry": ENTRY,
        }
    )
    assert orjson.loads(encode_observation(OPS[1])) == {
        "op": "retract",
        "key": "url|v",
        "partner": "cert-fr",
        "stix_id": ENTRY.stix_id,
        "version": ENTRY.version,
    }


def test_an_entry_without_its_optional_fields_takes_the_defaults() -> None:
    raw: dict[str, Any] = orjson.loads(encode_observation(SOURCE))
    del raw["entry"]["description"], raw["entry"]["labels"]
    op = decode_observation(orjson.dumps(raw))
    assert isinstance(op, SourceOp)
    assert op.entry.description == "" and op.entry.labels == ()


def test_an_observation_sent_before_arrival_times_existed_reads_them_as_unknown() -> None:
    raw: dict[str, Any] = orjson.loads(encode_observation(SOURCE))
    del raw["entry"]["received_at"], raw["entry"]["revoked"], raw["entry"]["valid_until"]
    op = decode_observation(orjson.dumps(raw))
    assert isinstance(op, SourceOp)
    assert (op.entry.received_at, op.entry.revoked, op.entry.valid_until) == (None, False, None)
    sighting = orjson.loads(encode_observation(SightingOp(key="url|v", entry=SIGHTING)))
    del sighting["entry"]["received_at"], sighting["entry"]["sectors"]
    old = decode_observation(orjson.dumps(sighting))
    assert isinstance(old, SightingOp) and (old.entry.received_at, old.entry.sectors) == (None, ())


def test_a_threat_link_is_tagged_threats_on_the_wire() -> None:
    assert orjson.loads(encode_observation(OPS[-1])) == {
        "op": "threats",
        "key": "url|v",
        "threats": ["campaign--9d0e1f2a-3b4c-4d5e-9f6a-7b8c9d0e1f2a"],
    }


def test_a_sighting_travels_with_its_tlp() -> None:
    raw = orjson.loads(encode_observation(SightingOp(key="url|v", entry=SIGHTING)))
    assert raw["entry"]["tlp"] == "amber"


def test_a_sighting_sent_before_sightings_had_a_tlp_decodes_as_red() -> None:
    raw: dict[str, Any] = orjson.loads(encode_observation(SightingOp(key="url|v", entry=SIGHTING)))
    del raw["entry"]["tlp"]
    op = decode_observation(orjson.dumps(raw))
    assert isinstance(op, SightingOp) and op.entry.tlp == "red"
    assert op.entry.countries == SIGHTING.countries


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda raw: raw["entry"].pop("partner"), "partner"),
        (lambda raw: raw.update(op="merge-everything"), "op"),
        (lambda raw: raw["entry"].update(confidence="high"), "confidence"),
        (lambda raw: raw.pop("key"), "key"),
    ],
)
def test_a_malformed_observation_is_refused_naming_the_field(change: Any, named: str) -> None:
    raw: dict[str, Any] = orjson.loads(encode_observation(SOURCE))
    change(raw)
    with pytest.raises(msgspec.ValidationError, match=named):
        decode_observation(orjson.dumps(raw))
