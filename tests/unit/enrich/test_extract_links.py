"""Objects extract reads beside indicators: ATT&CK links and where a sighting was seen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from enrich.pipeline import enrichers_for
from enrich.schema import INDICATORS
from igsc.app.samples import SAMPLE_PARTNERS
from igsc.app.stages import drain_pipeline
from igsc.ports import SearchQuery
from igsc.settings import Settings, load_settings
from igsc.wiring import Ports, open_ports
from ingest.publish import publish_objects

DE, FR = SAMPLE_PARTNERS[0], SAMPLE_PARTNERS[1]
STAMP = "2026-11-20T08:00:00.000Z"
INDICATOR_ID = "indicator--1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
ATTACK_ID = "attack-pattern--2e3f4051-6b7c-4d8e-9fa0-1b2c3d4e5f60"
LOCATION_ID = "location--3f405162-7c8d-4e9f-a0b1-2c3d4e5f6071"


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


def _common(kind: str, ident: str) -> dict[str, Any]:
    return {"type": kind, "spec_version": "2.1", "id": ident, "created": STAMP, "modified": STAMP}


def _run(
    settings: Settings, ports: Ports, partner: Any, *objects: dict[str, Any]
) -> dict[str, Any]:
    publish_objects(settings=settings, stream=ports.stream, partner=partner, objects=list(objects))
    drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
    page = ports.index.search(schema=INDICATORS, query=SearchQuery(size=100))
    return {h["key"]: h for h in page.hits}


INDICATOR = {
    **_common("indicator", INDICATOR_ID),
    "pattern": "[domain-name:value = 'phish.example']",
    "pattern_type": "stix",
    "valid_from": STAMP,
}


def test_an_indicates_relationship_to_an_attack_pattern_links_its_technique(env: Any) -> None:
    settings, ports = env
    attack = {
        **_common("attack-pattern", ATTACK_ID),
        "name": "Spearphishing Link",
        "external_references": [
            {"source_name": "capec", "external_id": "CAPEC-163"},
            {"source_name": "mitre-attack", "external_id": "T1566.002"},
        ],
    }
    link = {
        **_common("relationship", "relationship--40516273-8d9e-4fa0-b1c2-3d4e5f607182"),
        "relationship_type": "indicates",
        "source_ref": INDICATOR_ID,
        "target_ref": ATTACK_ID,
    }
    _run(settings, ports, DE, attack, INDICATOR)  # keyed by STIX id: any partition order
    docs = _run(settings, ports, DE, link)
    assert docs["domain-name|phish.example"]["techniques"] == ["T1566.002"]


def test_a_link_that_comes_before_its_indicator_waits_for_it(env: Any) -> None:
    settings, ports = env
    attack = {
        **_common("attack-pattern", ATTACK_ID),
        "name": "Data Encrypted for Impact",
        "external_references": [{"source_name": "mitre-attack", "external_id": "T1486"}],
    }
    link = {
        **_common("relationship", "relationship--40516273-8d9e-4fa0-b1c2-3d4e5f607184"),
        "relationship_type": "uses",
        "source_ref": INDICATOR_ID,
        "target_ref": ATTACK_ID,
    }
    assert _run(settings, ports, DE, attack, link) == {}  # the indicator is not known yet
    docs = _run(settings, ports, DE, INDICATOR)
    assert docs["domain-name|phish.example"]["techniques"] == ["T1486"]
    again = _run(settings, ports, DE, {**INDICATOR, "modified": "2026-11-21T08:00:00.000Z"})
    assert again["domain-name|phish.example"]["techniques"] == ["T1486"]  # taken once, kept


def test_a_relationship_of_another_type_links_nothing(env: Any) -> None:
    settings, ports = env
    attack = {
        **_common("attack-pattern", ATTACK_ID),
        "name": "Spearphishing Link",
        "external_references": [{"source_name": "mitre-attack", "external_id": "T1566.002"}],
    }
    link = {
        **_common("relationship", "relationship--40516273-8d9e-4fa0-b1c2-3d4e5f607183"),
        "relationship_type": "related-to",
        "source_ref": INDICATOR_ID,
        "target_ref": ATTACK_ID,
    }
    _run(settings, ports, DE, attack, INDICATOR)
    docs = _run(settings, ports, DE, link)
    assert docs["domain-name|phish.example"]["techniques"] == []


def test_a_sighting_counts_for_the_country_of_the_location_where_it_was_seen(env: Any) -> None:
    settings, ports = env
    location = {**_common("location", LOCATION_ID), "country": "be"}
    _run(settings, ports, DE, INDICATOR, location)
    sighting = {
        **_common("sighting", "sighting--5162738a-9eaf-4b01-82d3-4e5f60718293"),
        "sighting_of_ref": INDICATOR_ID,
        "where_sighted_refs": [LOCATION_ID],
        "count": 2,
    }
    doc = _run(settings, ports, FR, sighting)["domain-name|phish.example"]
    assert doc["sighting_count"] == 2
    assert doc["sighting_countries"] == ["BE"]
