"""Observation records: what extract writes, merge reads back exactly."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from enrich.observations import sighting_entry, sighting_op, source_entry, source_op
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
)


def test_entries_survive_the_topic_unchanged() -> None:
    op = orjson.loads(source_op(key="k", kind="url", value="v", flags=(), entry=ENTRY))
    assert source_entry(op["entry"]) == ENTRY
    assert sighting_entry(orjson.loads(sighting_op(key="k", entry=SIGHTING))["entry"]) == SIGHTING


def test_an_entry_without_its_optional_fields_takes_the_defaults() -> None:
    raw: dict[str, Any] = orjson.loads(orjson.dumps(ENTRY))
    del raw["description"]
    entry = source_entry(raw)
    assert entry.description == "" and entry.labels == ENTRY.labels


@pytest.mark.parametrize("change", ["extra", "missing"])
def test_a_malformed_entry_is_refused(change: str) -> None:
    raw: dict[str, Any] = orjson.loads(orjson.dumps(ENTRY))
    sighting: dict[str, Any] = orjson.loads(orjson.dumps(SIGHTING))
    if change == "extra":
        raw["surprise"] = sighting["surprise"] = 1
    else:
        del raw["partner"], sighting["partner"]
    with pytest.raises(TypeError):
        source_entry(raw)
    with pytest.raises(TypeError):
        sighting_entry(sighting)
