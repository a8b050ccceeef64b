"""Objects that once stalled or crashed a road or a stage: now each is rejected naming the field.

Every reproducer goes, between two valid indicators, through each road to the raw topic
(TAXII POST, poll, `igsc publish`) and then through extract + merge on the embedded ports.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.unit.ingest.entrance_roads import (
    READERS,
    STAMP,
    Pipeline,
    fresh_id,
    neighbour,
    poll_road,
    post_road,
    publish_road,
    stage_crashes,
)


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"k": value}
    return value


@dataclass(frozen=True)
class Reproducer:
    name: str
    kind: str  # indicator, sighting or attack-pattern
    change: Callable[[dict[str, Any]], None]
    field: str  # the rejection reason must name it


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda obj: obj.update(values)


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda obj: obj.pop(name)


REPRODUCERS = [
    Reproducer(
        "where_sighted_refs-7", "sighting", _set(where_sighted_refs=7), "where_sighted_refs"
    ),
    Reproducer("count-many", "sighting", _set(count="many"), "count"),
    Reproducer("count-list-of-null", "sighting", _set(count=[None]), "count"),
    Reproducer("count-2**64", "sighting", _set(count=2**64), "count"),
    Reproducer("no-pattern", "indicator", _drop("pattern"), "pattern"),
    Reproducer("labels-5", "indicator", _set(labels=5), "labels"),
    Reproducer("labels-null", "indicator", _set(labels=None), "labels"),
    Reproducer("kill_chain_phases-5", "indicator", _set(kill_chain_phases=5), "kill_chain_phases"),
    Reproducer(
        "kill_chain_phases-null", "indicator", _set(kill_chain_phases=None), "kill_chain_phases"
    ),
    Reproducer(
        "external_references-5", "attack-pattern", _set(external_references=5), "external_refer"
    ),
    Reproducer(
        "external_references-null",
        "attack-pattern",
        _set(external_references=None),
        "external_references",
    ),
    Reproducer(
        "created_by_ref-list-of-null", "indicator", _set(created_by_ref=[None]), "created_by_ref"
    ),
    Reproducer("modified-month-13", "indicator", _set(modified="2024-13-01T00:00:00Z"), "modified"),
    Reproducer(
        "granular_markings-list-of-null",
        "indicator",
        _set(granular_markings=[None]),
        "granular_markings",
    ),
    Reproducer(
        "granular_markings-not-a-list",
        "indicator",
        _set(granular_markings={"selectors": ["name"], "lang": "en"}),
        "granular_markings",
    ),
    Reproducer(
        "granular_markings-marking_ref-list",
        "indicator",
        _set(granular_markings=[{"marking_ref": ["x"], "selectors": ["description"]}]),
        "marking_ref",
    ),
    # The reason must say which property is too deep, not only that the object is.
    Reproducer("nested-300-levels", "indicator", _set(x_deep=_deep(300)), "x_deep"),
    Reproducer(
        "created-after-modified", "indicator", _set(created="2024-06-01T00:00:00.000Z"), "created"
    ),
    Reproducer("confidence-2**64", "indicator", _set(confidence=2**64), "confidence"),
]


@dataclass
class Case:
    """One reproducer between two valid indicators."""

    bad: dict[str, Any]
    bad_address: str | None  # the address a bad indicator's pattern names
    neighbours: list[dict[str, Any]]
    addresses: list[str]
    field: str

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [self.neighbours[0], self.bad, self.neighbours[1]]


def make_case(reproducer: Reproducer) -> Case:
    (first, a1), (second, a2) = neighbour(), neighbour()
    bad_address: str | None = None
    if reproducer.kind == "indicator":
        bad, bad_address = neighbour()
    elif reproducer.kind == "sighting":
        bad = {
            "type": "sighting",
            "spec_version": "2.1",
            "id": fresh_id("sighting"),
            "created": STAMP,
            "modified": STAMP,
            "sighting_of_ref": first["id"],
            "count": 3,
        }
    else:
        bad = {
            "type": "attack-pattern",
            "spec_version": "2.1",
            "id": fresh_id("attack-pattern"),
            "created": STAMP,
            "modified": STAMP,
            "name": "Phishing",
            "external_references": [{"source_name": "mitre-attack", "external_id": "T1566"}],
        }
    bad = copy.deepcopy(bad)
    reproducer.change(bad)
    return Case(bad, bad_address, [first, second], [a1, a2], reproducer.field)


def assert_stages_took_it(pipeline: Pipeline, case: Case, *, dead_lettered: bool) -> None:
    """extract + merge: no exception, neighbours indexed, bad one not, offsets at the end."""
    handled = pipeline.drain()
    assert handled["extract"] >= 2, handled
    for address in case.addresses:
        assert pipeline.indexed(address), f"valid neighbour {address} is not indexed"
    if case.bad_address is not None:
        assert not pipeline.indexed(case.bad_address), "the rejected indicator was indexed"
    rejections = pipeline.rejected()
    assert stage_crashes(rejections) == [], "a stage raised on an object the entrance admitted"
    if dead_lettered:
        mine = [r for r in rejections if r.get("stix_id") == case.bad["id"]]
        assert mine, f"{case.bad['id']} is not on the rejected topic: {rejections}"
        assert any(case.field in r["reason"] for r in mine), [r["reason"] for r in mine]
    sizes = pipeline.topic_sizes()
    assert sizes["raw"] >= 2 and sizes["observations"] >= 2, sizes
    assert pipeline.uncommitted() == {"extract": 0, "merge": 0}


@pytest.fixture(params=REPRODUCERS, ids=[r.name for r in REPRODUCERS])
def case(request: pytest.FixtureRequest) -> Case:
    return make_case(request.param)


def test_post_fails_the_object_naming_the_field_and_lands_its_neighbours(
    tmp_path: Path, case: Case
) -> None:
    with post_road(tmp_path) as road:
        response = road.post(case.objects)
        assert response.status_code == 202, response.text
        status = response.json()
        failures = [f for f in status["failures"] if f["id"] == case.bad["id"]]
        assert len(failures) == 1, status
        assert case.field in failures[0]["message"], failures[0]
        listed = {s["id"] for s in status["successes"]} | {p["id"] for p in status["pendings"]}
        assert {n["id"] for n in case.neighbours} <= listed, status
        assert case.bad["id"] not in listed
        for reader in READERS:
            codes, _ = road.read_all(reader)
            assert set(codes) == {200}, (reader, codes)
        _, visible = road.read_all("alpha")
        assert sorted(o["id"] for o in visible) == sorted(n["id"] for n in case.neighbours)
        assert case.bad["id"] not in road.pipeline.raw_ids()
        assert_stages_took_it(road.pipeline, case, dead_lettered=False)


def test_poll_publishes_the_neighbours_dead_letters_the_object_and_moves_the_checkpoint(
    tmp_path: Path, case: Case
) -> None:
    with poll_road(tmp_path) as road:
        result = road.poll(case.objects)
        assert result.error is None, result
        assert (result.published, result.rejected) == (2, 1), result
        assert road.checkpoint() == result.new_checkpoint == road.tiny.last_header
        [rejection] = [r for r in road.pipeline.rejected() if r.get("stix_id") == case.bad["id"]]
        assert rejection["partner"] == "cert-b"
        assert case.field in rejection["reason"], rejection
        assert sorted(road.pipeline.raw_ids()) == sorted(n["id"] for n in case.neighbours)
        assert_stages_took_it(road.pipeline, case, dead_lettered=True)


def test_publish_exits_non_zero_prints_the_reason_and_publishes_the_neighbours(
    tmp_path: Path, case: Case
) -> None:
    with publish_road(tmp_path) as road:
        done = road.publish(case.objects, process=True)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.code == 1, (done.code, done.stdout, done.stderr)
        assert "published 2 objects" in done.stdout and "rejected 1" in done.stdout, done.stdout
        assert case.field in done.stdout + done.stderr, done.stdout
        assert sorted(road.pipeline.raw_ids()) == sorted(n["id"] for n in case.neighbours)
        assert_stages_took_it(road.pipeline, case, dead_lettered=True)


def test_a_duplicate_id_and_version_in_one_post_is_one_success_and_one_failure(
    tmp_path: Path,
) -> None:
    (dup, dup_address), (other, other_address) = neighbour(), neighbour()
    with post_road(tmp_path) as road:
        status = road.post([dup, other, copy.deepcopy(dup)]).json()
        done = [s["id"] for s in status["successes"]] + [p["id"] for p in status["pendings"]]
        assert sorted(done) == sorted([dup["id"], other["id"]]), status
        [failure] = status["failures"]
        assert failure["id"] == dup["id"] and failure["version"] == dup["modified"]
        assert status["total_count"] == 3
        road.pipeline.drain()
        assert road.pipeline.indexed(dup_address) and road.pipeline.indexed(other_address)
        assert road.pipeline.raw_ids().count(dup["id"]) == 1
        assert road.pipeline.uncommitted() == {"extract": 0, "merge": 0}


def test_an_object_a_post_refuses_is_dead_lettered_on_the_rejected_topic(tmp_path: Path) -> None:
    """docs/architecture.md: "Rejected input goes to the `rejected` topic with its reason",
    as poll and publish do; `igsc rejected` is where an operator looks."""
    bad = make_case(REPRODUCERS[1])  # a sighting `count` of "many"
    with post_road(tmp_path) as road:
        assert road.post(bad.objects).status_code == 202
        mine = [r for r in road.pipeline.rejected() if r.get("stix_id") == bad.bad["id"]]
        assert mine and "count" in mine[0]["reason"]


def test_publish_of_a_file_of_only_bad_granular_markings_fails_without_a_traceback(
    tmp_path: Path,
) -> None:
    objects = []
    for markings in ([None], "TLP:GREEN"):
        bad, _ = neighbour()
        bad["granular_markings"] = markings
        objects.append(bad)
    with publish_road(tmp_path) as road:
        done = road.publish(objects, process=True)
        assert done.code == 1 and "Traceback" not in done.stderr, done
        assert "published 0 objects" in done.stdout and "rejected 2" in done.stdout, done.stdout
        assert "granular_markings" in done.stdout
        assert road.pipeline.raw_ids() == []
        reasons = [r["reason"] for r in road.pipeline.rejected()]
        assert len(reasons) == 2 and all("granular_markings" in r for r in reasons), reasons
