"""Sightings carry their TLP: a reader never sees facts from a sighting above their clearance.

Partner A (cert-de) shares GREEN indicators; partners B (cert-fr) and C (cert-nl) sight them.
Everything goes in through `igsc publish`'s engine, runs through extract and merge on the
embedded adapters, and comes back through lookup_observable from both the index and the
dedup state (MergedRecords), as `igsc lookup --tlp ...` reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from enrich.lookup import LookupResult, lookup_observable
from enrich.merged_records import MergedRecords
from enrich.pipeline import enrichers_for
from igsc.app.samples import SAMPLE_PARTNERS
from igsc.app.stages import drain_pipeline
from igsc.partners import Partner
from igsc.settings import Settings
from igsc.tlp import TLP2_IDS, Tlp
from igsc.wiring import Ports, open_ports
from ingest.publish import publish_objects
from tests.support.modes import pipeline_settings

CERT_DE, CERT_FR, CERT_NL = SAMPLE_PARTNERS


def _indicator(n: int, domain: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "pattern": f"[domain-name:value = '{domain}']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
        "object_marking_refs": [TLP2_IDS[Tlp.GREEN]],
    }


def _sighting(n: int, of: int, level: Tlp, **fields: Any) -> dict[str, Any]:
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--00000000-0000-4000-8000-{n:012d}",
        "created": "2026-11-02T00:00:00.000Z",
        "modified": "2026-11-02T00:00:00.000Z",
        "sighting_of_ref": f"indicator--00000000-0000-4000-8000-{of:012d}",
        "count": 7,
        "first_seen": "2026-11-02T00:00:00Z",
        "object_marking_refs": [TLP2_IDS[level]],
        **fields,
    }


RED_SIGHTED, GREEN_SIGHTED, MARKED_COUNT, SIGHTED_FIRST = (
    "red-sighting.example",
    "green-sighting.example",
    "red-count.example",
    "sighted-first.example",
)


@dataclass(frozen=True)
class Pipeline:
    ports: Ports
    records: MergedRecords

    def lookup(self, text: str, clearance: Tlp, *, from_state: bool) -> LookupResult:
        return lookup_observable(
            index=self.ports.index,
            text=text,
            clearance=clearance,
            records=self.records if from_state else None,
            half_life_days=30,
        )


def _publish(settings: Settings, ports: Ports, partner: Partner, objects: list[Any]) -> None:
    published = publish_objects(
        settings=settings, stream=ports.stream, partner=partner, objects=objects
    )
    assert published.rejected == 0, published.reasons


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    home: Path = tmp_path_factory.mktemp("sightings")
    settings = pipeline_settings(
        mode="embedded", home=home, namespace="sightings", partners=SAMPLE_PARTNERS
    )
    ports = open_ports(settings)
    enrichers = enrichers_for(settings)
    try:
        # B's RED sighting arrives before its indicator: it waits in extract's pending state.
        _publish(settings, ports, CERT_FR, [_sighting(4, of=4, level=Tlp.RED)])
        drain_pipeline(settings=settings, ports=ports, enrichers=enrichers)
        indicators = [
            _indicator(1, RED_SIGHTED),
            _indicator(2, GREEN_SIGHTED),
            _indicator(3, MARKED_COUNT),
            _indicator(4, SIGHTED_FIRST),
        ]
        _publish(settings, ports, CERT_DE, indicators)
        drain_pipeline(settings=settings, ports=ports, enrichers=enrichers)
        _publish(settings, ports, CERT_FR, [_sighting(1, of=1, level=Tlp.RED)])
        red_count = {"marking_ref": TLP2_IDS[Tlp.RED], "selectors": ["count"]}
        _publish(
            settings,
            ports,
            CERT_NL,
            [
                _sighting(2, of=2, level=Tlp.GREEN),
                _sighting(3, of=3, level=Tlp.GREEN, granular_markings=[red_count]),
            ],
        )
        drain_pipeline(settings=settings, ports=ports, enrichers=enrichers)
        yield Pipeline(ports=ports, records=MergedRecords(state=ports.state, enrichers=enrichers))
    finally:
        ports.close()


BOTH = pytest.mark.parametrize("from_state", [False, True], ids=["index", "state"])
BELOW_RED = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT)


def _nothing_of_b(result: LookupResult) -> None:
    assert result.withheld and result.document is None
    shown = repr(result)
    assert "FR" not in shown and CERT_FR.id not in shown


@BOTH
def test_a_red_sighting_withholds_a_green_indicator_below_red(
    pipeline: Pipeline, from_state: bool
) -> None:
    for clearance in BELOW_RED:
        _nothing_of_b(pipeline.lookup(RED_SIGHTED, clearance, from_state=from_state))
    red = pipeline.lookup(RED_SIGHTED, Tlp.RED, from_state=from_state)
    assert red.document is not None
    assert red.document["countries"] == ["DE", "FR"]
    assert red.document["partners"] == [CERT_DE.id, CERT_FR.id]
    assert red.document["sighting_count"] == 7
    assert red.document["source_tlps"] == ["green", "red"]
    assert [g["tlp"] for g in red.document["sightings"]] == ["red"]


@BOTH
def test_a_green_sighting_shows_at_green(pipeline: Pipeline, from_state: bool) -> None:
    result = pipeline.lookup(GREEN_SIGHTED, Tlp.GREEN, from_state=from_state)
    assert result.document is not None
    assert result.document["countries"] == ["DE", "NL"]
    assert result.document["partners"] == [CERT_DE.id, CERT_NL.id]
    assert result.document["sighting_count"] == 7
    assert result.document["sightings"][0]["tlp"] == "green"
    assert pipeline.lookup(GREEN_SIGHTED, Tlp.CLEAR, from_state=from_state).withheld


@BOTH
def test_a_red_granular_marking_on_the_count_makes_the_sighting_red(
    pipeline: Pipeline, from_state: bool
) -> None:
    for clearance in BELOW_RED:
        result = pipeline.lookup(MARKED_COUNT, clearance, from_state=from_state)
        assert result.withheld and result.document is None
        assert CERT_NL.id not in repr(result)
    red = pipeline.lookup(MARKED_COUNT, Tlp.RED, from_state=from_state)
    assert red.document is not None and red.document["source_tlps"] == ["green", "red"]


@BOTH
def test_a_red_sighting_that_waited_for_its_indicator_keeps_its_tlp(
    pipeline: Pipeline, from_state: bool
) -> None:
    _nothing_of_b(pipeline.lookup(SIGHTED_FIRST, Tlp.GREEN, from_state=from_state))
    red = pipeline.lookup(SIGHTED_FIRST, Tlp.RED, from_state=from_state)
    assert red.document is not None and red.document["countries"] == ["DE", "FR"]
    assert "FR" in orjson.dumps(red.document).decode()
