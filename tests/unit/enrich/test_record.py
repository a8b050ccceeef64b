"""IndicatorRecord copies: evolve() must behave exactly like dataclasses.replace()."""

from __future__ import annotations

import copy
import dataclasses
import typing

import pytest

from enrich.record import IndicatorRecord, RecordChanges, SightingEntry, SourceEntry, evolve

SOURCE = SourceEntry(
    stix_id="indicator--1",
    version="2026-11-20T08:00:00.000Z",
    partner="cert-fr",
    country="FR",
    tlp="amber",
    confidence=70,
    reliability=0.8,
    created_by=None,
    valid_from=None,
)
RECORD = IndicatorRecord(
    key="url|http://a.example/",
    kind="url",
    value="http://a.example/",
    flags=("homoglyph",),
    sources=(SOURCE,),
    techniques=("T1566",),
    geo_country="FR",
    score=12.5,
    version=3,
)
CHANGES: list[RecordChanges] = [
    {"score": 99.0},
    {"version": 4, "geo_country": None},
    {
        "sources": (),
        "sightings": (
            SightingEntry(
                sighting_id="s",
                version="v",
                partner="cert-de",
                countries=("DE",),
                count=2,
                first_seen=None,
                last_seen=None,
            ),
        ),
    },
    {"registered_domain": "a.example", "public_suffix": "example", "asn": 3215, "as_org": "X"},
    {"key": "k", "kind": "k", "value": "v", "flags": (), "techniques": (), "tactics": ("x",)},
    {"technique_names": ("Phishing",)},
    {"threats": ("campaign--1", "malware--2")},
    {},
]


def test_changes_name_exactly_the_record_fields_with_their_types() -> None:
    hints = typing.get_type_hints(IndicatorRecord)
    assert typing.get_type_hints(RecordChanges) == hints
    assert list(RecordChanges.__annotations__) == [f.name for f in dataclasses.fields(RECORD)]


@pytest.mark.parametrize("changes", CHANGES)
def test_evolve_gives_what_replace_gives_and_leaves_the_input_alone(
    changes: RecordChanges,
) -> None:
    snapshot = copy.deepcopy(RECORD)
    assert evolve(record=RECORD, **changes) == dataclasses.replace(RECORD, **changes)
    assert snapshot == RECORD


def test_a_revoked_or_expired_report_no_longer_counts_for_its_partner_and_country() -> None:
    de = dataclasses.replace(
        SOURCE, stix_id="indicator--2", partner="cert-de", country="DE", received_at=SOURCE.version
    )
    revoked = dataclasses.replace(RECORD, sources=(dataclasses.replace(SOURCE, revoked=True), de))
    expired = dataclasses.replace(
        RECORD, sources=(dataclasses.replace(SOURCE, valid_until=SOURCE.version), de)
    )
    for record in (revoked, expired):
        assert (record.countries, record.partners) == (("DE",), ("cert-de",))
    both = dataclasses.replace(RECORD, sources=(SOURCE, de))
    assert (both.countries, both.partners) == (("DE", "FR"), ("cert-de", "cert-fr"))
