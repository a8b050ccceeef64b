"""Analyst lookup on a real Elasticsearch: typed spellings find the document by id."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from enrich.lookup import lookup_observable
from enrich.record import IndicatorRecord
from enrich.schema import INDICATORS, indicator_doc
from igsc.adapters.es_index import ElasticsearchIndex
from igsc.ports import IndexDoc
from igsc.tlp import Tlp
from tests.conftest import require_service

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
    result = lookup_observable(index=index, text=typed, clearance=Tlp.RED)
    assert result.key == key
    assert result.document is not None and result.document["value"] == key.partition("|")[2]


def test_an_absent_observable_and_a_missing_index_are_not_found(
    index: ElasticsearchIndex, unique: str
) -> None:
    assert not lookup_observable(index=index, text="absent.example", clearance=Tlp.RED).found
    other = ElasticsearchIndex(
        url=f"http://{require_service('elasticsearch')}", prefix=f"{unique}-none"
    )
    try:
        assert not lookup_observable(index=other, text="2001:db8::1", clearance=Tlp.RED).found
    finally:
        other.close()
