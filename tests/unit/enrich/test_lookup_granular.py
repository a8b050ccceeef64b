"""Granular TLP markings through the whole pipeline: what an analyst's lookup shows at each TLP.

Indicators go in through `igsc publish`'s engine, run through extract and merge on the
embedded adapters, and come back through lookup_observable from both the index and the
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
from igsc.tlp import TLP2_IDS, Tlp
from igsc.wiring import Ports, open_ports
from ingest.publish import publish_objects
from tests.support.modes import pipeline_settings

CERT_DE = SAMPLE_PARTNERS[0]
SECRET = "Operation Nightjar: the source is an insider at the registrar"
SECRET_NAME = "Nightjar phishing kit"


def _indicator(n: int, domain: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "pattern": f"[domain-name:value = '{domain}']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
        "labels": ["phishing"],
        "object_marking_refs": [TLP2_IDS[Tlp.GREEN]],
        **fields,
    }


def _marked(level: Tlp, *selectors: str) -> list[dict[str, Any]]:
    return [{"marking_ref": TLP2_IDS[level], "selectors": list(selectors)}]


OBJECTS = [
    _indicator(
        1,
        "red-description.example",
        description=SECRET,
        name="Login page",
        granular_markings=_marked(Tlp.RED, "description"),
    ),
    _indicator(2, "red-pattern.example", granular_markings=_marked(Tlp.RED, "pattern")),
    _indicator(
        3,
        "strict-name.example",
        name=SECRET_NAME,
        description="Credential harvesting",
        granular_markings=_marked(Tlp.AMBER_STRICT, "name"),
    ),
    _indicator(
        4,
        "green-description.example",
        description="Shared with the community",
        granular_markings=_marked(Tlp.GREEN, "description"),
    ),
    _indicator(5, "unmarked.example", description="Shared with the community"),
]


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


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    home: Path = tmp_path_factory.mktemp("granular")
    settings = pipeline_settings(
        mode="embedded", home=home, namespace="granular", partners=SAMPLE_PARTNERS
    )
    ports = open_ports(settings)
    try:
        published = publish_objects(
            settings=settings, stream=ports.stream, partner=CERT_DE, objects=OBJECTS
        )
        assert published.rejected == 0, published.reasons
        enrichers = enrichers_for(settings)
        drain_pipeline(settings=settings, ports=ports, enrichers=enrichers)
        yield Pipeline(ports=ports, records=MergedRecords(state=ports.state, enrichers=enrichers))
    finally:
        ports.close()


BOTH = pytest.mark.parametrize("from_state", [False, True], ids=["index", "state"])


@BOTH
def test_a_red_description_is_never_shown_to_green_readers(
    pipeline: Pipeline, from_state: bool
) -> None:
    result = pipeline.lookup("red-description.example", Tlp.GREEN, from_state=from_state)
    assert result.document is not None
    assert result.document["description"] == "Login page"  # the name stays, green as the object
    assert result.document["source_tlps"] == ["green"]
    assert SECRET not in orjson.dumps(result.document).decode()
    # The entry is built without it, so even a RED reader gets it only from the TAXII store.
    red = pipeline.lookup("red-description.example", Tlp.RED, from_state=from_state)
    assert SECRET not in orjson.dumps(red.document).decode()


@BOTH
def test_a_red_pattern_withholds_the_observable_below_red(
    pipeline: Pipeline, from_state: bool
) -> None:
    for clearance in (Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT):
        result = pipeline.lookup("red-pattern.example", clearance, from_state=from_state)
        assert result.withheld and result.document is None, clearance
    found = pipeline.lookup("red-pattern.example", Tlp.RED, from_state=from_state)
    assert found.document is not None and found.document["source_tlps"] == ["red"]


@BOTH
def test_an_amber_strict_name_is_absent_at_green(pipeline: Pipeline, from_state: bool) -> None:
    result = pipeline.lookup("strict-name.example", Tlp.GREEN, from_state=from_state)
    assert result.document is not None
    assert result.document["description"] == "Credential harvesting"
    assert SECRET_NAME not in orjson.dumps(result.document).decode()


@BOTH
def test_a_green_marking_on_a_green_object_changes_nothing(
    pipeline: Pipeline, from_state: bool
) -> None:
    marked = pipeline.lookup("green-description.example", Tlp.GREEN, from_state=from_state)
    plain = pipeline.lookup("unmarked.example", Tlp.GREEN, from_state=from_state)
    assert marked.document is not None and plain.document is not None
    differs = {"key", "doc_id", "value", "value_text", "stix_ids", "sources", "registered_domain"}
    same = {k: v for k, v in marked.document.items() if k not in differs}
    assert same == {k: v for k, v in plain.document.items() if k not in differs}
    assert marked.document["description"] == "Shared with the community"
