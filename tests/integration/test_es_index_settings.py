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


def test_a_writer_behind_slows_refreshes_until_it_has_caught_up(unique: str) -> None:
    url = f"http://{require_service('elasticsearch')}"
    index = ElasticsearchIndex(url=url, prefix=unique, refresh_ms=500, catch_up_refresh_ms=4000)
    index.ensure(schema=SCHEMA)
    client = Elasticsearch(url)
    name = f"{unique}-tuned"

    def interval() -> str:
        shown = client.indices.get_settings(index=name)[name]["settings"]["index"]
        return str(shown["refresh_interval"])

    try:
        for _ in range(3):
            index.pace(schema=SCHEMA, behind=True)
        assert interval() == "4000ms"
        for _ in range(3):
            index.pace(schema=SCHEMA, behind=False)
        assert interval() == "500ms"
        for _ in range(3):  # a worker that stopped while catching up...
            index.pace(schema=SCHEMA, behind=True)
        restarted = ElasticsearchIndex(url=url, prefix=unique, refresh_ms=500)
        restarted.ensure(schema=SCHEMA)  # ...leaves no slow index behind once one starts
        assert interval() == "500ms"
        restarted.close()
    finally:
        index.drop(schema=SCHEMA)
        index.close()
        client.close()
