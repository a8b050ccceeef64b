"""Analyst lookup on a real Elasticsearch: typed spellings find the document by id."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from enrich.lookup import LookupResult, lookup_observable
from enrich.record import IndicatorRecord, SightingEntry, SourceEntry
from enrich.schema import INDICATORS, indicator_doc
from igsc.adapters.es_index import ElasticsearchIndex
from igsc.ports import IndexDoc
from igsc.tlp import Tlp
from tests.conftest import require_service

HALF_LIFE = 30.0  # days
SHA256 = hashlib.sha256(b"loader").hexdigest()
KEYS = ("ipv6-addr|2001:db8::1", "url|http://example.com/a", f"file:hashes.SHA-256|{SHA256}")


@pytest.fixture
def index(unique: str) -> Iterator[ElasticsearchIndex]:
    made = ElasticsearchIndex(url=f"http://{require_service('elasticsearch')}", prefix=unique)
    made.ensure(schema=INDICATORS)
    docs = []
    for key in KEYS:
        kind, _, value = key.partition("|")
        record = IndicatorRecord(key=key, kind=kind, value=value, flags=(), sources=())
        docs.append(IndexDoc(id=key, version=1, body=indicator_doc(record)))
    made.bulk_upsert(schema=INDICATORS, docs=docs)
    yield made
    made.drop(schema=INDICATORS)
    made.close()


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("2001:0DB8:0:0::1", KEYS[0]),
        ("HTTP://Example.com:80/a", KEYS[1]),
        (SHA256.upper(), KEYS[2]),
    ],
)
def test_a_typed_spelling_finds_the_document_without_waiting_for_a_refresh(
    index: ElasticsearchIndex, typed: str, key: str
) -> None:
    result = lookup_observable(index=index, text=typed, clearance=Tlp.RED, half_life_days=HALF_LIFE)
    assert result.key == key
    assert result.document is not None and result.document["value"] == key.partition("|")[2]


def test_an_absent_observable_and_a_missing_index_are_not_found(
    index: ElasticsearchIndex, unique: str
) -> None:
    assert not lookup_observable(
        index=index, text="absent.example", clearance=Tlp.RED, half_life_days=HALF_LIFE
    ).found
    other = ElasticsearchIndex(
        url=f"http://{require_service('elasticsearch')}", prefix=f"{unique}-none"
    )
    try:
        assert not lookup_observable(
            index=other, text="2001:db8::1", clearance=Tlp.RED, half_life_days=HALF_LIFE
        ).found
    finally:
        other.close()


def test_a_document_read_from_elasticsearch_decays_by_its_last_seen(
    index: ElasticsearchIndex,
) -> None:
    key = "domain-name|stale.example"
    source = SourceEntry(
        stix_id="indicator--00000000-0000-4000-8000-000000000003",
        version="2026-10-28T12:00:00.000Z",
        partner="cert-de",
        country="DE",
        tlp="green",
        confidence=80,
        reliability=0.9,
        created_by=None,
        valid_from=None,
    )
    record = IndicatorRecord(
        key=key, kind="domain-name", value="stale.example", flags=(), sources=(source,), score=80
    )
    index.bulk_upsert(
        schema=INDICATORS, docs=[IndexDoc(id=key, version=1, body=indicator_doc(record))]
    )
    result = lookup_observable(
        index=index,
        text="stale.example",
        clearance=Tlp.GREEN,
        half_life_days=HALF_LIFE,
        now=datetime(2026, 11, 27, 12, 0, tzinfo=UTC),  # one half-life later
    )
    assert result.document is not None
    assert (result.document["score"], result.document["decayed_score"]) == (80.0, 40.0)


def _sighted(domain: str, *, tlp: str) -> IndexDoc:
    """A GREEN indicator from cert-de, sighted in France by cert-fr at `tlp`."""
    key = f"domain-name|{domain}"
    source = SourceEntry(
        stix_id="indicator--00000000-0000-4000-8000-000000000004",
        version="2026-11-01T00:00:00.000Z",
        partner="cert-de",
        country="DE",
        tlp="green",
        confidence=80,
        reliability=0.9,
        created_by=None,
        valid_from=None,
    )
    sighting = SightingEntry(
        sighting_id="sighting--00000000-0000-4000-8000-000000000004",
        version="2026-11-02T00:00:00.000Z",
        partner="cert-fr",
        countries=("FR",),
        count=5,
        first_seen="2026-11-02T00:00:00Z",
        last_seen=None,
        tlp=tlp,
    )
    record = IndicatorRecord(
        key=key,
        kind="domain-name",
        value=domain,
        flags=(),
        sources=(source,),
        sightings=(sighting,),
    )
    return IndexDoc(id=key, version=1, body=indicator_doc(record))


def test_a_red_sighting_read_from_elasticsearch_withholds_the_document_below_red(
    index: ElasticsearchIndex,
) -> None:
    docs = [
        _sighted("red-sighted.example", tlp="red"),
        _sighted("green-sighted.example", tlp="green"),
    ]
    index.bulk_upsert(schema=INDICATORS, docs=docs)

    def look(text: str, clearance: Tlp) -> LookupResult:
        return lookup_observable(
            index=index, text=text, clearance=clearance, half_life_days=HALF_LIFE
        )

    green = look("red-sighted.example", Tlp.GREEN)
    assert green.withheld and green.document is None
    assert "FR" not in repr(green) and "cert-fr" not in repr(green)
    red = look("red-sighted.example", Tlp.RED)
    assert red.document is not None
    assert red.document["countries"] == ["DE", "FR"] and red.document["sighting_count"] == 5
    shared = look("green-sighted.example", Tlp.GREEN)
    assert shared.document is not None and shared.document["partners"] == ["cert-de", "cert-fr"]
