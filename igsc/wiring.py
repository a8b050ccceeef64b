"""Builds the adapter for each port from the settings' URLs; embedded SQLite is the default."""

from __future__ import annotations

from urllib.parse import urlsplit

from igsc.adapters.sqlite_db import path_from_url
from igsc.ports import Index, State, Stream
from igsc.settings import Settings


def build_stream(settings: Settings) -> Stream:
    """Kafka for kafka://, the embedded log for sqlite://."""
    url = settings.stream_target
    if urlsplit(url).scheme == "kafka":
        from igsc.adapters.kafka_stream import KafkaStream

        tuning = settings.stream
        return KafkaStream(
            url=url,
            partitions=tuning.partitions,
            fetch_min_bytes=tuning.fetch_min_bytes,
            fetch_max_wait_ms=tuning.fetch_max_wait_ms,
        )
    from igsc.adapters.sqlite_stream import SqliteStream

    return SqliteStream(
        path=path_from_url(url, key="stream_url"), partitions=settings.stream.partitions
    )


def build_index(settings: Settings) -> Index:
    """Elasticsearch for http(s)://, the embedded index for sqlite://."""
    url = settings.index_target
    if urlsplit(url).scheme in ("http", "https"):
        from igsc.adapters.es_index import ElasticsearchIndex

        return ElasticsearchIndex(
            url=url,
            prefix=settings.namespace,
            refresh_ms=settings.index.refresh_ms,
            catch_up_refresh_ms=settings.index.catch_up_refresh_ms,
        )
    from igsc.adapters.sqlite_index import SqliteIndex

    return SqliteIndex(path=path_from_url(url, key="index_url"), prefix=settings.namespace)


def build_state(settings: Settings) -> State:
    """Redis for redis://, the embedded key-value table for sqlite://."""
    url = settings.state_target
    if urlsplit(url).scheme in ("redis", "rediss"):
        from igsc.adapters.redis_state import RedisState

        return RedisState(url=url, namespace=settings.namespace)
    from igsc.adapters.sqlite_state import SqliteState

    return SqliteState(path=path_from_url(url, key="state_url"), namespace=settings.namespace)


def topic(settings: Settings, name: str) -> str:
    """A topic name inside this installation's namespace."""
    return f"{settings.namespace}.{name}"
