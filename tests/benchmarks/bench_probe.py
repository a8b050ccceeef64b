"""Progress probes: whether the workers joined their groups, how many documents are searchable,
and how far the respond stage is behind.

One probe for the real services (Kafka group state, Elasticsearch _count) and one for the
embedded SQLite files. Kafka offsets are not used to count records: the Kafka adapter packs a
batch's records into frames (igsc/adapters/kafka_frames.py), so offsets count frames; the
respond stage's lag (frames of the indicators topic its group has not committed) is only ever
compared with 0.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Protocol

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition


class Probe(Protocol):
    def indexed(self) -> int: ...

    def sources(self) -> int: ...

    def joined(self, *, groups: list[str]) -> bool: ...

    def respond(self, *, refresh: bool = False) -> dict[str, int]:
        """lag (offsets of the indicators and threat-evidence topics the respond and
        respond-threats groups have not committed), queue (Celery
        tasks waiting in the broker or running), incidents and tickets (documents in their
        indices; `refresh`: refreshed first, so every document written so far counts)."""
        ...

    def close(self) -> None: ...


class RealProbe:
    """Kafka end/committed offsets and the Elasticsearch document count."""

    def __init__(
        self, *, kafka: str, es_url: str, namespace: str, broker_url: str | None = None
    ) -> None:
        self._ns = namespace
        self._index = f"{namespace}-indicators"
        self._kafka = kafka
        self._admin = KafkaAdminClient(bootstrap_servers=[kafka])
        self._es = Elasticsearch(es_url, request_timeout=30)
        self._broker_url = broker_url
        self._consumer: KafkaConsumer | None = None

    def indexed(self) -> int:
        return self._count(self._index)

    def _count(self, index: str) -> int:
        for attempt in range(20):
            try:
                return int(self._es.count(index=index)["count"])
            except NotFoundError:
                return 0
            except ApiError as exc:  # 503 while a new index's shards start
                if exc.meta.status != 503 or attempt == 19:
                    raise
                time.sleep(0.25)
        return 0

    def respond(self, *, refresh: bool = False) -> dict[str, int]:
        if refresh:
            names = f"{self._ns}-incidents,{self._ns}-tickets"
            self._es.indices.refresh(index=names, ignore_unavailable=True)
        return {
            "lag": self._lag(topic=f"{self._ns}.indicators", group=f"{self._ns}.respond")
            + self._lag(topic=f"{self._ns}.threat-evidence", group=f"{self._ns}.respond-threats"),
            "queue": self._queue(),
            "incidents": self._count(f"{self._ns}-incidents"),
            "tickets": self._count(f"{self._ns}-tickets"),
        }

    def _lag(self, *, topic: str, group: str) -> int:
        if self._consumer is None:
            self._consumer = KafkaConsumer(bootstrap_servers=[self._kafka])
        parts = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic) or ()]
        if not parts:
            return 0
        ends = self._consumer.end_offsets(parts)
        committed = self._admin.list_group_offsets({group: parts}).get(group, {})
        lag = 0
        for part in parts:
            done = committed.get(part)
            start = done.offset if done is not None and done.offset >= 0 else 0
            lag += max(0, ends[part] - start)
        return lag

    def _queue(self) -> int:
        if not self._broker_url:
            return 0
        import redis

        queue = f"{self._ns}.respond"  # and f"{queue}.tickets"
        client = redis.Redis.from_url(self._broker_url)
        try:
            waiting = int(client.llen(queue)) + int(client.llen(f"{queue}.tickets"))
            # Taken by a worker and not yet acknowledged (late acks): kombu's `unacked` hash,
            # shared by every queue of the broker database: count this queue's own.
            running = sum(1 for _, raw in client.hscan_iter("unacked") if queue.encode() in raw)
            return waiting + running
        finally:
            client.close()

    def sources(self) -> int:
        """Sum of partner_count over the index: (observable, partner) reports searchable."""
        try:
            found = self._es.search(
                index=self._index, size=0, aggs={"s": {"sum": {"field": "partner_count"}}}
            )
        except NotFoundError:
            return 0
        return int(found["aggregations"]["s"]["value"] or 0)

    def joined(self, *, groups: list[str]) -> bool:
        states = {g["group_id"]: g.get("group_state") for g in self._admin.list_groups()}
        return all(states.get(g) == "Stable" for g in groups)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
        self._admin.close()
        self._es.close()


class EmbeddedProbe:
    """The same numbers read from the embedded SQLite stream and index files."""

    def __init__(self, *, home: Path, namespace: str) -> None:
        self._home = home
        self._ns = namespace

    def _query(self, db: str, sql: str, args: tuple[object, ...]) -> int:
        path = self._home / db
        if not path.exists():
            return 0
        conn = sqlite3.connect(path, timeout=30)
        try:
            row = conn.execute(sql, args).fetchone()
        except sqlite3.OperationalError:  # table not created yet
            return 0
        finally:
            conn.close()
        return int(row[0] or 0) if row else 0

    def indexed(self) -> int:
        return self._query("index.db", f"SELECT count(*) FROM {self._table}", ())

    def respond(self, *, refresh: bool = False) -> dict[str, int]:
        lag = 0
        for name, group in (("indicators", "respond"), ("threat-evidence", "respond-threats")):
            topic = f"{self._ns}.{name}"
            ends = self._query(
                "stream.db", "SELECT sum(next_off) FROM heads WHERE topic = ?", (topic,)
            )
            done = self._query(
                "stream.db",
                "SELECT sum(next_off) FROM commits WHERE grp = ? AND topic = ?",
                (f"{self._ns}.{group}", topic),
            )
            lag += max(0, ends - done)
        tables = {
            name: "docs_" + f"{self._ns}_{name}".replace("-", "_")
            for name in ("incidents", "tickets")
        }
        counts = {
            name: self._query("index.db", f"SELECT count(*) FROM {table}", ())
            for name, table in tables.items()
        }
        return {"lag": lag, "queue": 0, **counts}

    def sources(self) -> int:
        sql = f"SELECT sum(json_extract(body, '$.partner_count')) FROM {self._table}"
        return self._query("index.db", sql, ())

    @property
    def _table(self) -> str:
        return "docs_" + self._ns.replace("-", "_") + "_indicators"

    def joined(self, *, groups: list[str]) -> bool:
        marks = ",".join("?" * len(groups))
        sql = f"SELECT count(DISTINCT grp) FROM members WHERE grp IN ({marks})"
        return self._query("stream.db", sql, tuple(groups)) == len(groups)

    def close(self) -> None:
        pass
