"""Progress probes: whether the workers joined their groups, and how many documents are searchable.

One probe for the real services (Kafka group state, Elasticsearch _count) and one for the
embedded SQLite files. Kafka offsets are not used to count records: the Kafka adapter packs a
batch's records into frames (igsc/adapters/kafka_frames.py), so offsets count frames.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol

from elasticsearch import Elasticsearch, NotFoundError
from kafka import KafkaAdminClient


class Probe(Protocol):
    def indexed(self) -> int: ...

    def sources(self) -> int: ...

    def joined(self, *, groups: list[str]) -> bool: ...

    def close(self) -> None: ...


class RealProbe:
    """Kafka end/committed offsets and the Elasticsearch document count."""

    def __init__(self, *, kafka: str, es_url: str, namespace: str) -> None:
        self._index = f"{namespace}-indicators"
        self._admin = KafkaAdminClient(bootstrap_servers=[kafka])
        self._es = Elasticsearch(es_url, request_timeout=30)

    def indexed(self) -> int:
        try:
            return int(self._es.count(index=self._index)["count"])
        except NotFoundError:
            return 0

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
