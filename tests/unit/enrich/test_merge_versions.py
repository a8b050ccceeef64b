"""Merge orders source and sighting versions by instant, whatever their precision."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from enrich.merge import MergeStage, apply
from enrich.observations import RetractOp, SightingOp, SourceOp, ThreatsOp, encode_observation
from enrich.record import IndicatorRecord, SightingEntry, SourceEntry
from igsc.adapters.sqlite_index import SqliteIndex
from igsc.adapters.sqlite_state import SqliteState
from igsc.ports import Message

KEY = "domain-name|evil.example"
STIX_ID = "indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a"


def _source(version: str, description: str) -> SourceOp:
    entry = SourceEntry(
        stix_id=STIX_ID,
        version=version,
        partner="cert-de",
        country="DE",
        tlp="green",
        confidence=50,
        reliability=0.9,
        created_by=None,
        valid_from=None,
        description=description,
    )
    return SourceOp(key=KEY, kind="domain-name", value="evil.example", flags=(), entry=entry)


def _sighting(version: str, count: int) -> SightingOp:
    entry = SightingEntry(
        sighting_id="sighting--7c1e0d2a-5b3f-4e6a-8d9c-0a1b2c3d4e5f",
        version=version,
        partner="cert-fr",
        countries=("FR",),
        count=count,
        first_seen=None,
        last_seen=None,
    )
    return SightingOp(key=KEY, entry=entry)


def _record() -> IndicatorRecord:
    record = apply(None, _source("2024-05-01T10:00:00Z", "whole seconds"))
    assert record is not None
    return record


def test_a_later_fraction_replaces_a_whole_second_and_an_earlier_one_does_not() -> None:
    record = apply(_record(), _source("2024-05-01T10:00:00.5Z", "half a second later"))
    assert record is not None and record.sources[0].description == "half a second later"
    unchanged = apply(record, _source("2024-05-01T10:00:00.25Z", "older"))
    assert unchanged is record
    same_instant = apply(record, _source("2024-05-01T10:00:00.500Z", "same instant"))
    assert same_instant is record


def test_a_retraction_in_finer_precision_removes_the_older_source() -> None:
    kept = apply(
        _record(),
        RetractOp(key=KEY, partner="cert-de", stix_id=STIX_ID, version="2024-05-01T09:59:59.9Z"),
    )
    assert kept is not None and len(kept.sources) == 1  # the retraction is older: no effect
    gone = apply(
        _record(),
        RetractOp(key=KEY, partner="cert-de", stix_id=STIX_ID, version="2024-05-01T10:00:00.1Z"),
    )
    assert gone is not None and gone.sources == ()


def test_sighting_versions_are_ordered_by_instant() -> None:
    record = apply(_record(), _sighting("2024-05-02T10:00:00Z", 1))
    record = apply(record, _sighting("2024-05-02T10:00:00.5Z", 7))
    record = apply(record, _sighting("2024-05-02T10:00:00.25Z", 3))
    assert record is not None and [g.count for g in record.sightings] == [7]


def test_threat_links_add_up_sorted_and_a_repeated_one_changes_nothing() -> None:
    record = apply(_record(), ThreatsOp(key=KEY, threats=("malware--b",)))
    record = apply(record, ThreatsOp(key=KEY, threats=("campaign--a",)))
    assert record is not None and record.threats == ("campaign--a", "malware--b")
    assert apply(record, ThreatsOp(key=KEY, threats=("malware--b",))) is record
    assert apply(None, ThreatsOp(key=KEY, threats=("malware--b",))) is None  # nobody reported it


def test_a_later_revoked_version_replaces_the_active_one() -> None:
    revoked = _source("2024-05-02T10:00:00Z", "withdrawn")
    revoked = SourceOp(
        key=KEY,
        kind=revoked.kind,
        value=revoked.value,
        flags=(),
        entry=replace(revoked.entry, revoked=True),
    )
    record = apply(_record(), revoked)
    assert record is not None and [s.revoked for s in record.sources] == [True]


def test_an_observation_with_a_bad_arrival_time_is_dead_lettered_naming_it(
    tmp_path: Path,
) -> None:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    index = SqliteIndex(path=tmp_path / "index.db", prefix="t")
    stage = MergeStage(state=state, index=index, indicators_topic="ind", enrichers=())
    bad = orjson.loads(encode_observation(_source("2024-05-01T10:00:00Z", "x")))
    bad["entry"]["received_at"] = "yesterday"
    message = Message(topic="obs", partition=0, offset=0, key=KEY.encode(), value=orjson.dumps(bad))
    out = stage.process(messages=[message])
    [refused] = out.rejected
    assert (
        refused.reason.startswith("bad observation: received_at: ")
        and "yesterday" in refused.reason
    )
    assert out.records["ind"] == []
    index.close()
    state.close()


def test_bad_observations_are_dead_lettered_and_the_rest_merged(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    index = SqliteIndex(path=tmp_path / "index.db", prefix="t")
    stage = MergeStage(state=state, index=index, indicators_topic="ind", enrichers=())
    bad_version = orjson.loads(encode_observation(_source("2024-05-01T10:00:00Z", "x")))
    bad_version["entry"]["version"] = "2024-13-01T10:00:00Z"  # month 13: old data, unchecked
    values = [
        b'{"op": "merge-everything", "key": "k"}',
        b"not json",
        orjson.dumps(bad_version),
        encode_observation(_source("2024-05-01T10:00:00Z", "fine")),
    ]
    messages = [
        Message(topic="obs", partition=0, offset=i, key=KEY.encode(), value=v)
        for i, v in enumerate(values)
    ]
    out = stage.process(messages=messages)
    reasons = [r.reason for r in out.rejected]
    assert len(reasons) == 3, reasons
    assert any("$.op" in r for r in reasons) and any("malformed" in r for r in reasons)
    assert any("version" in r and "2024-13-01" in r for r in reasons)
    [(key, document)] = out.records["ind"]
    assert key == KEY.encode() and orjson.loads(document)["description"] == "fine"
    index.close()
    state.close()
