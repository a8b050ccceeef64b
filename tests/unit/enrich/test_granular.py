"""indicator_view: the level and the fields a source entry may carry under granular markings."""

from __future__ import annotations

from typing import Any

import pytest

from enrich.granular import indicator_view
from igsc.stix_schema import Indicator, parse_object
from igsc.tlp import TLP2_IDS, Tlp

RED = TLP2_IDS[Tlp.RED]
AMBER = TLP2_IDS[Tlp.AMBER]
AMBER_STRICT = TLP2_IDS[Tlp.AMBER_STRICT]
GREEN = TLP2_IDS[Tlp.GREEN]
UNKNOWN = "marking-definition--00000000-0000-4000-8000-00000000abcd"


def indicator(*markings: dict[str, Any]) -> Indicator:
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--00000000-0000-4000-8000-000000000001",
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "pattern": "[domain-name:value = 'evil.example']",
        "pattern_type": "stix",
        "valid_from": "2026-11-01T00:00:00Z",
        "name": "Evil login page",
        "description": "Seen in a phishing wave against ministries",
        "labels": ["phishing", "credential-theft"],
        "confidence": 80,
        "indicator_types": ["malicious-activity"],
        "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}],
        "external_references": [{"source_name": "case", "external_id": "CASE-1"}],
        "object_marking_refs": [GREEN],
        "granular_markings": list(markings),
    }
    typed = parse_object(obj)
    assert isinstance(typed, Indicator)
    return typed


def marking(ref: str, *selectors: str) -> dict[str, Any]:
    return {"marking_ref": ref, "selectors": list(selectors)}


def test_an_unmarked_indicator_keeps_its_level_and_every_field() -> None:
    plain = indicator()
    view = indicator_view(indicator=plain, level=Tlp.GREEN)
    assert view.level is Tlp.GREEN
    assert (view.name, view.description, view.confidence) == (
        plain.name,
        plain.description,
        80,
    )
    assert view.labels == ("phishing", "credential-theft")
    assert view.kill_chain_phases == plain.kill_chain_phases
    assert view.indicator_types == ("malicious-activity",)
    assert view.external_references == plain.external_references


def test_a_red_description_is_withheld_from_a_green_entry_and_nothing_else() -> None:
    view = indicator_view(indicator=indicator(marking(RED, "description")), level=Tlp.GREEN)
    assert view.level is Tlp.GREEN
    assert view.description is None
    assert view.name == "Evil login page" and view.labels == ("phishing", "credential-theft")


@pytest.mark.parametrize("selector", ["pattern", "pattern_type", "valid_from", "modified", "id"])
def test_a_marking_on_an_observable_bearing_field_raises_the_entry(selector: str) -> None:
    view = indicator_view(indicator=indicator(marking(RED, selector)), level=Tlp.GREEN)
    assert view.level is Tlp.RED


def test_a_raised_entry_keeps_fields_marked_at_or_below_its_new_level() -> None:
    marked = indicator(marking(RED, "pattern"), marking(AMBER, "description", "name"))
    view = indicator_view(indicator=marked, level=Tlp.GREEN)
    assert view.level is Tlp.RED
    assert view.description is not None and view.name is not None


def test_amber_strict_on_the_name_is_withheld_from_green_and_amber() -> None:
    marked = indicator(marking(AMBER_STRICT, "name"))
    assert indicator_view(indicator=marked, level=Tlp.GREEN).name is None
    assert indicator_view(indicator=marked, level=Tlp.AMBER).name is None
    assert indicator_view(indicator=marked, level=Tlp.AMBER_STRICT).name == "Evil login page"


@pytest.mark.parametrize(
    ("selector", "field"),
    [
        ("labels.[1]", "labels"),
        ("kill_chain_phases.[0].phase_name", "kill_chain_phases"),
        ("external_references.[0].external_id", "external_references"),
        ("confidence", "confidence"),
        ("indicator_types", "indicator_types"),
    ],
)
def test_a_marking_on_part_of_a_field_withholds_the_whole_field(selector: str, field: str) -> None:
    view = indicator_view(indicator=indicator(marking(AMBER, selector)), level=Tlp.GREEN)
    assert getattr(view, field) in ((), None)
    assert view.level is Tlp.GREEN and view.name == "Evil login page"


def test_an_unrecognised_marking_counts_as_red() -> None:
    assert (
        indicator_view(indicator=indicator(marking(UNKNOWN, "pattern")), level=Tlp.GREEN).level
        is Tlp.RED
    )
    hidden = indicator_view(indicator=indicator(marking(UNKNOWN, "name")), level=Tlp.AMBER)
    assert hidden.name is None


def test_a_lang_marking_is_no_tlp_marking() -> None:
    marked = indicator({"lang": "de", "selectors": ["pattern", "description"]})
    view = indicator_view(indicator=marked, level=Tlp.GREEN)
    assert view.level is Tlp.GREEN and view.description is not None


def test_a_marking_no_stricter_than_the_entry_changes_nothing() -> None:
    marked = indicator(marking(GREEN, "description", "pattern"))
    assert indicator_view(indicator=marked, level=Tlp.GREEN) == indicator_view(
        indicator=indicator(), level=Tlp.GREEN
    )
