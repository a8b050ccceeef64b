"""Builds the adapter for each port from the settings' URLs; embedded SQLite is the default.

`open_ports` is the one way a process opens its ports and `Ports.close` the one way it closes
them: the CLI runners, the Celery app and the TAXII server all go through it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

from igsc.adapters.sqlite_db import path_from_url
from igsc.ports import Index, State, Stream
from igsc.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ports:
    """The three ports a process runs on; a context manager that closes all of them."""

    stream: Stream
    index: Index
    state: State

    def close(self) -> None:
        """Close every port, even if closing one fails; the first failure is raised after."""
        _close_all((self.stream.close, self.index.close, self.state.close))

    def __enter__(self) -> Ports:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _close_all(closers: tuple[Callable[[], None], ...]) -> None:
    first: BaseException | None = None
    for close in closers:
        try:
            close()
        except Exception as exc:  # noqa: BLE001 - the other ports must still be closed
            log.warning("closing a port failed: %s", exc)
            first = first or exc
    if first is not None:
        raise first


def open_ports(settings: Settings) -> Ports:
    """The stream, index and state the settings select; use as `with open_ports(s) as ports`.

    If one port cannot be built, those already built are closed before the error propagates.
    """
    stream = build_stream(settings)
    try:
        index = build_index(settings)
    except BaseException:
        _close_all((stream.close,))
        raise
    try:
        state = build_state(settings)
    except BaseException:
        _close_all((stream.close, index.close))
        raise
    return Ports(stream=stream, index=index, state=state)


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
            plain_topics=frozenset(topic(settings, name) for name in tuning.plain_topics),
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


class LazyPorts:
    """The ports of one process, opened on first use (after a worker forks), or given.

    Celery apps hold one: a prefork pool child opens its own connections on its first task;
    an in-process (eager) app is handed the ports of the process that runs it.
    """

    def __init__(self, *, settings: Settings, ports: Ports | None = None) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._ports = ports
        self._owned = ports is None  # ports handed in are closed by whoever opened them

    def get(self) -> Ports:
        """The process's ports."""
        with self._lock:
            if self._ports is None:
                self._ports = open_ports(self._settings)
                self._owned = True
            return self._ports

    def close(self) -> None:
        """Close the ports if this opened them; the next get() opens them again."""
        with self._lock:
            ports, self._ports = self._ports, None
            owned, self._owned = self._owned, True
        if ports is not None and owned:
            ports.close()
