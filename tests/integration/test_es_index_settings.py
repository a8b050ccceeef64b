"""Elasticsearch index settings follow the configuration, also for an index that exists."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from igsc.adapters.es_index import ElasticsearchIndex
from igsc.ports import IndexSchema
from tests.conftest import require_service

SCHEMA = IndexSchema(name="tuned", keyword=("value",))


def test_a_changed_refresh_interval_applies_to_the_existing_index(unique: str) -> None:
    url = f"http://{require_service('elasticsearch')}"
    first = ElasticsearchIndex(url=url, prefix=unique, refresh_ms=1000)
    first.ensure(schema=SCHEMA)
    client = Elasticsearch(url)
    try:
        name = f"{unique}-tuned"
        shown = client.indices.get_settings(index=name)[name]["settings"]["index"]
        assert shown["refresh_interval"] == "1000ms"
        second = ElasticsearchIndex(url=url, prefix=unique, refresh_ms=250)
        second.ensure(schema=SCHEMA)
        shown = client.indices.get_settings(index=name)[name]["settings"]["index"]
        assert shown["refresh_interval"] == "250ms"
        second.close()
    finally:
        first.drop(schema=SCHEMA)
        first.close()
        client.close()
