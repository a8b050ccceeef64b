"""Property tests of the entrance: mutated STIX objects beside a valid indicator, on every road.

Valid objects of each kind are mutated (wrong types, missing and extra fields, nulls, huge
integers and strings, deep nesting, bad timestamps, ids and markings) and sent, beside a valid
indicator, through TAXII POST, a poll and `igsc publish`, then through extract + merge. Whatever
the mutant is, no road answers 5xx or raises, the neighbour is always indexed, the mutant is
either admitted or rejected with a reason, no stage raises on what the entrance admitted, and
every worker commits to the end of its input. Profiles: tests/unit/ingest/conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from stix2validator import ValidationOptions, validate_instance

from igsc.errors import RejectedInput
from igsc.tlp import Tlp
from ingest.convert import admit
from tests.unit.ingest.entrance_roads import (
    READERS,
    Pipeline,
    PollRoad,
    PostRoad,
    PublishRoad,
    neighbour,
    poll_road,
    post_road,
    publish_road,
    stage_crashes,
)
from tests.unit.ingest.server.taxii_server_fixtures import LIMIT, SHARED, TAXII

_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "entrance")
PROFILE = settings.get_profile(_PROFILE if _PROFILE.startswith("entrance") else "entrance")

STAMP = "2024-01-01T00:00:00.000Z"
LATER = "2024-02-01T00:00:00.000Z"
MARKING = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"  # TLP:GREEN (2.0)

# ---------------------------------------------------------------- valid objects


def _sdo(kind: str, u: uuid.UUID, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{u}",
        "created": STAMP,
        "modified": LATER,
        **fields,
    }


def valid_objects(u: uuid.UUID, address: str) -> dict[str, dict[str, Any]]:
    """One valid object of each kind, all with ids from u."""
    target = f"indicator--{u}"
    return {
        "indicator": _sdo(
            "indicator",
            u,
            name="bad host",
            description="seen in phishing",
            pattern=f"[ipv4-addr:value = '{address}']",
            pattern_type="stix",
            valid_from="2024-01-01T00:00:00Z",
            labels=["phishing"],
            confidence=60,
            kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}],
            object_marking_refs=[MARKING],
            granular_markings=[{"marking_ref": MARKING, "selectors": ["description"]}],
        ),
        "sighting": _sdo(
            "sighting",
            u,
            sighting_of_ref=target,
            where_sighted_refs=[f"identity--{u}"],
            count=4,
            first_seen="2024-01-01T00:00:00Z",
            last_seen="2024-01-02T00:00:00Z",
        ),
        "relationship": _sdo(
            "relationship",
            u,
            relationship_type="indicates",
            source_ref=target,
            target_ref=f"malware--{u}",
        ),
        "identity": _sdo("identity", u, name="CERT-X", identity_class="organization"),
        "location": _sdo("location", u, country="DE", region="europe"),
        "attack-pattern": _sdo(
            "attack-pattern",
            u,
            name="Phishing",
            external_references=[{"source_name": "mitre-attack", "external_id": "T1566"}],
        ),
        "marking-definition": {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": f"marking-definition--{u}",
            "created": STAMP,
            "definition_type": "statement",
            "definition": {"statement": "Copyright CERT-X"},
        },
        "ipv4-addr": {
            "type": "ipv4-addr",
            "spec_version": "2.1",
            "id": f"ipv4-addr--{u}",
            "value": address,
        },
        "x-acme-widget": _sdo("x-acme-widget", u, x_colour="blue", name="widget"),
    }


# ---------------------------------------------------------------- mutations

FIELDS = [
    "type",
    "id",
    "spec_version",
    "created",
    "modified",
    "created_by_ref",
    "labels",
    "confidence",
    "revoked",
    "lang",
    "external_references",
    "object_marking_refs",
    "granular_markings",
    "extensions",
    "pattern",
    "pattern_type",
    "valid_from",
    "valid_until",
    "kill_chain_phases",
    "name",
    "description",
    "sighting_of_ref",
    "where_sighted_refs",
    "observed_data_refs",
    "count",
    "first_seen",
    "last_seen",
    "relationship_type",
    "source_ref",
    "target_ref",
    "identity_class",
    "country",
    "region",
    "value",
    "definition_type",
    "definition",
    "x_custom",
    "custom_no_prefix",
]
TIMESTAMP_FIELDS = ("created", "modified", "valid_from", "valid_until", "first_seen", "last_seen")
ID_FIELDS = ("id", "created_by_ref", "sighting_of_ref", "source_ref", "target_ref")
LIST_ID_FIELDS = ("where_sighted_refs", "observed_data_refs", "object_marking_refs")

BAD_TIMESTAMPS = st.sampled_from(
    [
        "2024-13-01T00:00:00Z",
        "2024-00-10T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00+01:00",
        "2024-01-01T00:00:00.000+00:00",
        "2024-01-01T00:00:00.1234567890Z",
        "2024-01-01T00:00:00.123456789012Z",
        "2024-01-01 00:00:00Z",
        "2024-01-01t00:00:00z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T00:00:60Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "2024-1-1T00:00:00Z",
        "20240101T000000Z",
        "",
    ]
)


def _bad_ids(u: uuid.UUID) -> st.SearchStrategy[Any]:
    return st.sampled_from(
        [
            f"Indicator--{u}",
            f"INDICATOR--{u}",
            f"indicator-{u}",
            "indicator--",
            "indicator--not-a-uuid",
            f"malware--{u}",
            f"identity--{u}",
            str(u),
            f"indicator--{str(u).upper()}",
            f"indicator--{u}-extra",
            f"x_y--{u}",
            f"i--{u}",
            f"{'a' * 300}--{u}",
            f"indicator--{u}\n",
            5,
            None,
            [f"indicator--{u}"],
        ]
    )


def _bad_markings(u: uuid.UUID) -> st.SearchStrategy[tuple[str, Any]]:
    granular = st.sampled_from(
        [
            {"marking_ref": MARKING, "selectors": ["description"]},  # not a list
            [None],
            [5],
            "TLP:GREEN",
            [{"marking_ref": ["x"], "selectors": ["description"]}],
            [{"marking_ref": MARKING}],
            [{"selectors": ["description"]}],
            [{"marking_ref": MARKING, "selectors": []}],
            [{"marking_ref": MARKING, "selectors": "description"}],
            [{"marking_ref": MARKING, "selectors": [5]}],
            [{"marking_ref": MARKING, "selectors": [None]}],
            [{"marking_ref": MARKING, "selectors": ["no_such_property"]}],
            [{"marking_ref": MARKING, "selectors": ["labels.[7]"]}],
            [{"marking_ref": MARKING, "selectors": ["Description"]}],
            [{"marking_ref": MARKING, "lang": "en", "selectors": ["description"]}],
            [{"marking_ref": MARKING, "selectors": ["description"], "extra": 1}],
            [{"marking_ref": f"indicator--{u}", "selectors": ["description"]}],
            [{"lang": "not a language!", "selectors": ["description"]}],
            [{"lang": "en", "selectors": ["id"]}],
        ]
    )
    refs = st.sampled_from(
        [MARKING, [5], [None], ["x"], [[MARKING]], [f"identity--{u}"], {"id": MARKING}, []]
    )
    return st.one_of(
        st.tuples(st.just("granular_markings"), granular),
        st.tuples(st.just("object_marking_refs"), refs),
    )


def _deep(levels: int, as_list: bool) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value] if as_list else {"k": value}
    return value


DEPTHS = st.one_of(
    st.sampled_from([1, 2, 60, 61, 62, 63, 64, 65, 66, 100, 200, 254, 255, 300]),
    st.integers(1, 300),
)
HUGE_INTS = st.sampled_from([2**64, -(2**63) - 1, 2**63, 2**64 - 1, -(2**63), 10**30, -(10**30)])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    HUGE_INTS,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
HUGE_STRINGS = st.sampled_from([10_000, 100_000, 4_200_000]).map(lambda n: "A" * n)
VALUES = st.one_of(
    SCALARS,
    HUGE_STRINGS,
    st.lists(SCALARS, max_size=4),
    st.just([None]),
    st.dictionaries(st.text(max_size=10), SCALARS, max_size=3),
    st.tuples(DEPTHS, st.booleans()).map(lambda d: _deep(*d)),
)


@st.composite
def mutation(draw: st.DrawFn, u: uuid.UUID) -> tuple[str, str, Any]:
    """(operation, field, value)."""
    op = draw(st.sampled_from(["set", "drop", "timestamp", "id", "marking", "nest"]))
    if op == "drop":
        return op, draw(st.sampled_from(FIELDS)), None
    if op == "timestamp":
        return "set", draw(st.sampled_from(TIMESTAMP_FIELDS)), draw(BAD_TIMESTAMPS)
    if op == "id":
        name = draw(st.sampled_from(ID_FIELDS + LIST_ID_FIELDS))
        value = draw(_bad_ids(u))
        return "set", name, [value] if name in LIST_ID_FIELDS else value
    if op == "marking":
        name, value = draw(_bad_markings(u))
        return "set", name, value
    if op == "nest":
        return "set", draw(st.sampled_from(FIELDS)), _deep(*draw(st.tuples(DEPTHS, st.booleans())))
    return "set", draw(st.sampled_from(FIELDS)), draw(VALUES)


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """(kind, a valid object of that kind with 0 to 3 mutations)."""
    u = draw(st.uuids(version=4))
    n = draw(st.integers(0, 2**24 - 1))
    address = f"12.{n >> 16}.{(n >> 8) & 255}.{n & 255}"
    kind, obj = draw(st.sampled_from(sorted(valid_objects(u, address).items())))
    obj = json.loads(json.dumps(obj))
    for op, name, value in draw(st.lists(mutation(u), max_size=3)):
        note(f"{op} {name} = {repr(value)[:200]}")
        if op == "drop":
            obj.pop(name, None)
        else:
            obj[name] = value
    return kind, obj


# ---------------------------------------------------------------- the entrance's verdict


def verdict(obj: Any) -> str | None:
    """None if the entrance admits obj, else the reason it gives."""
    try:
        admit(obj, default_tlp=Tlp.AMBER)
    except RejectedInput as exc:
        return str(exc)
    return None


def as_orjson_reads_it(obj: Any) -> Any:
    """The object as the TAXII server and `igsc publish` read it (orjson.loads)."""
    return orjson.loads(json.dumps(obj))


def as_json_reads_it(obj: Any) -> Any:
    """The object as a poll reads it (the stdlib json under requests / taxii2-client)."""
    return json.loads(json.dumps(obj))


# ---------------------------------------------------------------- roads, kept across examples


@dataclass
class Roads:
    post: PostRoad
    poll: PollRoad
    publish: PublishRoad


@pytest.fixture(scope="module")
def roads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Roads]:
    post_home, poll_home = tmp_path_factory.mktemp("post"), tmp_path_factory.mktemp("poll")
    publish_home = tmp_path_factory.mktemp("publish")
    with (
        post_road(post_home) as post,
        poll_road(poll_home) as poll,
        publish_road(publish_home) as publish,
    ):
        yield Roads(post, poll, publish)


class Watch:
    """What arrived on a pipeline's rejected topic since the last look."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._old: list[dict[str, Any]] = []

    def new(self) -> list[dict[str, Any]]:
        every = self._pipeline.rejected()
        # A fresh reader visits partitions in turn: compare as multisets of records.
        fresh = _subtract(every, self._old)
        self._old = every
        return fresh


def _subtract(every: list[dict[str, Any]], old: list[dict[str, Any]]) -> list[dict[str, Any]]:
    left = [json.dumps(r, sort_keys=True) for r in old]
    out = []
    for record in every:
        text = json.dumps(record, sort_keys=True)
        if text in left:
            left.remove(text)
        else:
            out.append(record)
    return out


def _mutant_id(obj: dict[str, Any]) -> str | None:
    value = obj.get("id")
    return value if isinstance(value, str) else None


def check_post(road: PostRoad, mutant: dict[str, Any], nb: dict[str, Any]) -> None:
    body = json.dumps({"objects": [mutant, nb]}).encode()
    expected = verdict(as_orjson_reads_it(mutant))
    response = road.post([mutant, nb])
    if len(body) > LIMIT:  # the whole request is refused; the partner sends the rest again
        assert response.status_code == 413, response.text[:500]
        assert road.post([nb]).status_code == 202
        return
    assert response.status_code == 202, response.text[:2000]
    status = response.json()
    assert status["total_count"] == 2, status
    done = status["successes"] + status["pendings"]
    assert nb["id"] in [d["id"] for d in done], status
    failures = [f for f in status["failures"] if f["id"] != nb["id"]]
    if expected is None:
        assert len(done) == 2 and not status["failures"], (expected, status)
    else:
        assert len(failures) == 1 and failures[0].get("message"), status
    ids = ",".join(i for i in (nb["id"], _mutant_id(mutant)) if i)
    for reader in READERS:
        got = road.client.get(
            f"/main/collections/{SHARED}/objects/",
            headers={"Accept": TAXII, "Authorization": f"Bearer tok-{reader}"},
            params={"match[id]": ids},
        )
        assert got.status_code == 200, (reader, got.status_code, got.text[:1000])
        if reader == "alpha":
            assert nb["id"] in [o["id"] for o in got.json().get("objects", [])]


def check_poll(road: PollRoad, mutant: dict[str, Any], nb: dict[str, Any]) -> None:
    expected = verdict(as_json_reads_it(mutant))
    result = road.poll([mutant, nb])
    assert result.error is None, result
    assert result.published + result.rejected == 2, result
    assert result.rejected == (0 if expected is None else 1), (expected, result)
    assert road.checkpoint() == result.new_checkpoint == road.tiny.last_header


def check_publish(road: PublishRoad, mutant: dict[str, Any], nb: dict[str, Any]) -> None:
    expected = verdict(as_orjson_reads_it(mutant))
    done = road.publish([mutant, nb])
    assert done.raised is None, repr(done.raised)
    assert "Traceback" not in done.stderr, done.stderr
    if expected is None:
        assert done.code == 0 and "published 2 objects" in done.stdout, done
    else:
        assert done.code == 1 and "rejected 1" in done.stdout, done
        reasons = done.stdout.partition("top reasons:")[2]
        assert re.search(r"1 x \S", reasons), done.stdout


def check_stages(pipeline: Pipeline, watch: Watch, address: str, road: str) -> None:
    pipeline.drain()
    assert pipeline.indexed(address), f"{road}: the valid neighbour {address} is not indexed"
    new = watch.new()
    assert all(r.get("reason") for r in new), new
    crashes = stage_crashes(new)
    assert crashes == [], f"{road}: a stage raised on an admitted object: {crashes}"
    assert pipeline.uncommitted() == {"extract": 0, "merge": 0}, road


_watches: dict[int, Watch] = {}


def _watch(pipeline: Pipeline) -> Watch:
    return _watches.setdefault(id(pipeline), Watch(pipeline))


@settings(PROFILE)
@given(case=mutants())
def test_every_road_and_stage_takes_any_mutant_beside_a_valid_indicator(
    roads: Roads, case: tuple[str, dict[str, Any]]
) -> None:
    _, mutant = case
    nb, address = neighbour()
    check_post(roads.post, mutant, nb)
    check_poll(roads.poll, mutant, nb)
    check_publish(roads.publish, mutant, nb)
    for name, pipeline in (
        ("post", roads.post.pipeline),
        ("poll", roads.poll.pipeline),
        ("publish", roads.publish.pipeline),
    ):
        check_stages(pipeline, _watch(pipeline), address, name)


# ---------------------------------------------------------------- the standard, one way

# Refusals of values the validator accepts but igsc cannot carry (igsc.stix_schema docstring).
UNUSABLE = ("nested deeper than", "bytes, more than", "cannot be encoded as JSON")
_OPTIONS = ValidationOptions(strict=False)


def oasis_valid(obj: Any) -> bool:
    try:
        return bool(validate_instance(obj, _OPTIONS).is_valid)
    except Exception:
        return False


def test_every_valid_base_object_is_valid_for_the_validator_and_admitted() -> None:
    u = uuid.uuid4()
    for kind, obj in valid_objects(u, "12.0.0.1").items():
        assert oasis_valid(obj), kind
        assert verdict(obj) is None, (kind, verdict(obj))


@settings(PROFILE, max_examples=PROFILE.max_examples * 25)
@given(case=mutants())
def test_what_the_oasis_validator_accepts_the_entrance_admits(
    case: tuple[str, dict[str, Any]],
) -> None:
    _, mutant = case
    for read in (as_json_reads_it, as_orjson_reads_it):
        obj = read(mutant)
        if not oasis_valid(obj):
            continue
        reason = verdict(obj)
        if reason is not None and any(u in reason for u in UNUSABLE):
            note(f"valid for OASIS, refused as unusable here: {reason}")
            continue
        assert reason is None, f"the OASIS validator accepts it, igsc rejects it: {reason}"
