"""STIX versioning rules and dead-lettering, observed through the whole embedded pipeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from enrich.observations import QUARANTINE_TOPIC
from enrich.pipeline import enrichers_for
from enrich.schema import INDICATORS
from igsc.app.dead_letters import dead_letter_of
from igsc.app.samples import SAMPLE_PARTNERS
from igsc.app.stages import drain_pipeline
from igsc.ports import SearchQuery
from igsc.records import REJECTED_TOPIC
from igsc.settings import Settings, load_settings
from igsc.wiring import Ports, open_ports, topic
from ingest.publish import publish_objects

DE, FR = SAMPLE_PARTNERS[0], SAMPLE_PARTNERS[1]
IDENTITY_DE = "identity--5a1f1d0e-3f0e-4c59-9d5b-0f3c1a2b3c4d"


@pytest.fixture
def env(tmp_path: Path) -> Any:
    settings = load_settings(
        overrides={
            "home": tmp_path,
            "partners": SAMPLE_PARTNERS,
            "stream": {"poll_timeout_s": 0.05},
        }
    )
    ports = open_ports(settings)
    yield settings, ports
    ports.close()


def indicator(
    pattern: str, *, modified: str = "2026-11-20T08:00:00.000Z", **extra: Any
) -> dict[str, Any]:
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a",
        "created": "2026-11-20T08:00:00.000Z",
        "modified": modified,
        "created_by_ref": IDENTITY_DE,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-11-20T08:00:00Z",
        "confidence": 50,
    }
    obj.update(extra)
    return obj


def run(settings: Settings, ports: Ports, partner: Any, *objects: dict[str, Any]) -> dict[str, Any]:
    publish_objects(settings=settings, stream=ports.stream, partner=partner, objects=list(objects))
    drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
    page = ports.index.search(schema=INDICATORS, query=SearchQuery(size=100))
    return {h["key"]: h for h in page.hits}


def rejected(settings: Settings, ports: Ports) -> list[dict[str, Any]]:
    consumer = ports.stream.consumer(group="inspect", topics=[topic(settings, REJECTED_TOPIC)])
    found = [orjson.loads(m.value) for m in consumer.poll(max_records=1000, timeout_s=0.2)]
    consumer.close()
    return found


def test_a_newer_version_replaces_the_source_and_an_older_one_is_ignored(env: Any) -> None:
    settings, ports = env
    docs = run(settings, ports, DE, indicator("[ipv4-addr:value = '198.51.100.7']"))
    assert docs["ipv4-addr|198.51.100.7"]["confidence"] == 50
    newer = indicator(
        "[ipv4-addr:value = '198.51.100.7']", modified="2026-11-21T08:00:00.000Z", confidence=90
    )
    docs = run(settings, ports, DE, newer)
    assert docs["ipv4-addr|198.51.100.7"]["confidence"] == 90
    older = indicator("[ipv4-addr:value = '198.51.100.7']", confidence=10)
    docs = run(settings, ports, DE, older)
    assert docs["ipv4-addr|198.51.100.7"]["confidence"] == 90
    assert len(docs["ipv4-addr|198.51.100.7"]["sources"]) == 1


def test_a_new_version_with_another_pattern_retracts_the_old_observable(env: Any) -> None:
    settings, ports = env
    run(settings, ports, DE, indicator("[domain-name:value = 'old.example']"))
    docs = run(
        settings,
        ports,
        DE,
        indicator("[domain-name:value = 'new.example']", modified="2026-11-22T08:00:00.000Z"),
    )
    assert docs["domain-name|new.example"]["active"] == "true"
    assert docs["domain-name|old.example"]["active"] == "false"
    assert docs["domain-name|old.example"]["sources"] == []


def test_only_the_creator_may_version_an_object(env: Any) -> None:
    settings, ports = env
    run(settings, ports, DE, indicator("[domain-name:value = 'owned.example']"))
    forged = indicator(
        "[domain-name:value = 'owned.example']",
        modified="2026-11-23T08:00:00.000Z",
        created_by_ref="identity--11111111-2222-4333-8444-555555555555",
        confidence=1,
    )
    docs = run(settings, ports, FR, forged)
    assert docs["domain-name|owned.example"]["confidence"] == 50
    reasons = [r["reason"] for r in rejected(settings, ports)]
    assert any("only the creator may version" in r for r in reasons)


def test_a_version_from_the_future_is_quarantined_not_indexed(env: Any) -> None:
    settings, ports = env
    future = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    docs = run(
        settings, ports, DE, indicator("[domain-name:value = 'soon.example']", modified=future)
    )
    assert "domain-name|soon.example" not in docs
    consumer = ports.stream.consumer(group="q", topics=[topic(settings, "quarantine")])
    held = consumer.poll(max_records=10, timeout_s=0.2)
    consumer.close()
    assert len(held) == 1 and b"soon.example" in held[0].value
    record = orjson.loads(held[0].value)
    assert record["stage"] == "extract" and record["partner"] == DE.id
    assert record["stix_id"] == indicator("x")["id"]
    assert f"modified {future} is more than 5 minutes in the future" in record["reason"]
    assert record["envelope"]["object"]["modified"] == future  # kept whole, to publish again
    shown = dead_letter_of(topic_name=QUARANTINE_TOPIC, value=held[0].value)
    assert shown.reason == record["reason"] and shown.stix_id == record["stix_id"]


def test_versions_are_ordered_by_instant_whatever_their_precision(env: Any) -> None:
    settings, ports = env
    key = "ipv4-addr|198.51.100.77"
    pattern = "[ipv4-addr:value = '198.51.100.77']"
    seen: list[tuple[str, int, str]] = []
    for modified, description in [
        ("2024-05-01T10:00:00Z", "first"),
        ("2024-05-01T10:00:00.5Z", "half a second later"),
        ("2024-05-01T10:00:00.25Z", "older than the last one"),  # as text it sorts last
        ("2024-05-01T10:00:00.500001Z", "a microsecond later"),
    ]:
        obj = indicator(pattern, created="2024-05-01T10:00:00Z", modified=modified)
        docs = run(settings, ports, DE, {**obj, "description": description})
        doc = docs[key]
        seen.append((doc["description"], doc["version"], doc["sources"][0]["version"]))
    assert seen == [
        ("first", 1, "2024-05-01T10:00:00Z"),
        ("half a second later", 2, "2024-05-01T10:00:00.5Z"),
        ("half a second later", 2, "2024-05-01T10:00:00.5Z"),
        ("a microsecond later", 3, "2024-05-01T10:00:00.500001Z"),
    ]


def test_a_new_version_in_finer_precision_retracts_what_it_no_longer_names(env: Any) -> None:
    settings, ports = env
    created = "2024-05-01T10:00:00Z"
    run(
        settings,
        ports,
        DE,
        indicator("[url:value = 'http://a.example/']", created=created, modified=created),
    )
    docs = run(
        settings,
        ports,
        DE,
        indicator(
            "[url:value = 'http://b.example/']", created=created, modified="2024-05-01T10:00:00.1Z"
        ),
    )
    assert docs["url|http://a.example/"]["active"] == "false"
    assert docs["url|http://b.example/"]["active"] == "true"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[domain-name:value = 'unterminated]", "pattern"),
        ("[ipv4-addr:value = '999.1.1.1']", "IPv4"),
        ("[file:hashes.'SHA-256' = 'xyz']", "hash"),
        ("(" * 5000 + "[ipv4-addr:value = '1.2.3.4']" + ")" * 5000, "nest"),
    ],
)
def test_bad_patterns_are_dead_lettered_with_a_reason_and_the_rest_lands(
    env: Any, pattern: str, reason: str
) -> None:
    settings, ports = env
    good = indicator(
        "[domain-name:value = 'fine.example']", id="indicator--9f0e5e4d-1c2b-4a3b-8c7d-6e5f4a3b2c1d"
    )
    started = time.monotonic()
    docs = run(settings, ports, DE, indicator(pattern), good)
    assert time.monotonic() - started < 10
    assert "domain-name|fine.example" in docs
    reasons = [r["reason"] for r in rejected(settings, ports)]
    assert len(reasons) == 1 and reason.lower() in reasons[0].lower(), reasons


def test_invalid_json_and_invalid_stix_are_dead_lettered_and_valid_objects_land(env: Any) -> None:
    settings, ports = env
    ports.stream.publish(
        topic=topic(settings, "raw"), records=[(b"x", b"{not json"), (b"y", b'{"object": 5}')]
    )
    no_id = {"type": "indicator", "spec_version": "2.1", "pattern": "[ipv4-addr:value = '1.1.1.1']"}
    docs = run(settings, ports, DE, no_id, indicator("[domain-name:value = 'kept.example']"))
    assert list(docs) == ["domain-name|kept.example"]
    reasons = sorted(r["reason"] for r in rejected(settings, ports))
    assert len(reasons) == 3
    assert any("not valid JSON" in r for r in reasons)
    assert any(r.startswith("envelope:") and "partner" in r for r in reasons)
    assert any("`id`" in r for r in reasons)  # refused at the entrance, naming the field


def test_an_object_written_before_the_entrance_is_rejected_by_extract_with_the_reason(
    env: Any,
) -> None:
    settings, ports = env
    old = indicator("[domain-name:value = 'old.example']", count="many")
    del old["pattern"]
    envelope = {
        "partner": DE.id,
        "country": DE.country,
        "collection": "local",
        "date_added": None,
        "received_at": "2026-11-20T08:00:00.000000Z",
        "tlp": "green",
        "via": "push",
        "object": old,
    }
    ports.stream.publish(topic=topic(settings, "raw"), records=[(b"old", orjson.dumps(envelope))])
    docs = run(
        settings,
        ports,
        DE,
        indicator(
            "[domain-name:value = 'kept.example']",
            id="indicator--9f0e5e4d-1c2b-4a3b-8c7d-6e5f4a3b2c1d",
        ),
    )
    assert list(docs) == ["domain-name|kept.example"]
    [found] = rejected(settings, ports)
    assert found["stage"] == "extract" and found["partner"] == DE.id
    assert "pattern" in found["reason"]


def test_a_sighting_before_its_indicator_counts_once_it_arrives_and_is_then_forgotten(
    env: Any,
) -> None:
    settings, ports = env
    target = indicator("[ipv4-addr:value = '203.0.113.9']")
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": "sighting--7c1e0d2a-5b3f-4e6a-8d9c-0a1b2c3d4e5f",
        "created": "2026-11-20T09:00:00.000Z",
        "modified": "2026-11-20T09:00:00.000Z",
        "sighting_of_ref": target["id"],
        "count": 4,
    }
    docs = run(settings, ports, FR, sighting)
    assert "ipv4-addr|203.0.113.9" not in docs
    pending_key = f"pend:{target['id']}"
    assert ports.state.get_many(keys=[pending_key]) != {}
    docs = run(settings, ports, DE, target)
    doc = docs["ipv4-addr|203.0.113.9"]
    assert doc["sighting_count"] == 4
    assert doc["countries"] == ["DE", "FR"]
    assert ports.state.get_many(keys=[pending_key]) == {}


def test_sightings_waiting_in_separate_batches_all_count_once_the_indicator_arrives(
    env: Any,
) -> None:
    settings, ports = env
    target = indicator("[ipv4-addr:value = '203.0.113.10']")

    def sighting(uuid_tail: str, count: int) -> dict[str, Any]:
        return {
            "type": "sighting",
            "spec_version": "2.1",
            "id": f"sighting--7c1e0d2a-5b3f-4e6a-8d9c-{uuid_tail}",
            "created": "2026-11-20T09:00:00Z",
            "modified": "2026-11-20T09:00:00Z",
            "sighting_of_ref": target["id"],
            "count": count,
        }

    run(settings, ports, FR, sighting("0a1b2c3d4e51", 4))
    run(settings, ports, FR, sighting("0a1b2c3d4e52", 3))  # a later batch: added, not replacing
    run(settings, ports, FR, sighting("0a1b2c3d4e52", 3))  # redelivered: held once
    docs = run(settings, ports, DE, target)
    assert docs["ipv4-addr|203.0.113.10"]["sighting_count"] == 7
