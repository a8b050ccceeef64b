"""Embedded Stream: a durable SQLite append-only log with partitions and consumer groups.

Several processes on one machine may publish and consume at once; group members share
partitions by a deterministic assignment over the live members (heartbeats in the database).
"""

from __future__ import annotations

import threading
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from igsc.adapters.sqlite_db import connect
from igsc.ports import Message

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS heads (topic TEXT, part INTEGER, next_off INTEGER NOT NULL,
    PRIMARY KEY (topic, part)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (topic TEXT, part INTEGER, off INTEGER, key BLOB, value BLOB,
    PRIMARY KEY (topic, part, off)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commits (grp TEXT, topic TEXT, part INTEGER, next_off INTEGER,
    PRIMARY KEY (grp, topic, part)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (grp TEXT, member TEXT, heartbeat REAL,
    PRIMARY KEY (grp, member)) WITHOUT ROWID;
"""


def partition_for(key: bytes, partitions: int) -> int:
    """The partition a key always lands in."""
    return zlib.crc32(key) % partitions


class SqliteStream:
    """Stream port over one SQLite file."""

    def __init__(self, *, path: Path, partitions: int, session_timeout_s: float = 10.0) -> None:
        self._path = path
        self._partitions = partitions
        self._session_timeout_s = session_timeout_s
        self._lock = threading.Lock()
        self._conn = connect(path)
        self._conn.executescript(_SCHEMA)

    def _topic_partitions(self, topic: str) -> int:
        self._conn.execute("INSERT OR IGNORE INTO topics VALUES (?, ?)", (topic, self._partitions))
        row = self._conn.execute("SELECT partitions FROM topics WHERE name=?", (topic,)).fetchone()
        return int(row[0])

    def publish(self, *, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Append records in one transaction."""
        if not records:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._append(topic, records)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _append(self, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        partitions = self._topic_partitions(topic)
        by_part: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        for key, value in records:
            by_part[partition_for(key, partitions)].append((key, value))
        for part, items in by_part.items():
            row = self._conn.execute(
                "SELECT next_off FROM heads WHERE topic=? AND part=?", (topic, part)
            ).fetchone()
            start = int(row[0]) if row else 0
            self._conn.executemany(
                "INSERT INTO log VALUES (?, ?, ?, ?, ?)",
                [(topic, part, start + i, k, v) for i, (k, v) in enumerate(items)],
            )
            self._conn.execute(
                "INSERT INTO heads VALUES (?, ?, ?) ON CONFLICT(topic, part) "
                "DO UPDATE SET next_off=excluded.next_off",
                (topic, part, start + len(items)),
            )

    def consumer(self, *, group: str, topics: Sequence[str]) -> SqliteConsumer:
        """Join a consumer group."""
        with self._lock:
            partitions = {t: self._topic_partitions(t) for t in topics}
        return SqliteConsumer(
            path=self._path,
            group=group,
            partitions=partitions,
            session_timeout_s=self._session_timeout_s,
        )

    def end_offsets(self, *, topic: str) -> dict[int, int]:
        """Next offset to be written, per partition."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT part, next_off FROM heads WHERE topic=?", (topic,)
            ).fetchall()
        return {int(p): int(o) for p, o in rows}

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


class SqliteConsumer:
    """One member of a consumer group on the embedded log."""

    def __init__(
        self,
        *,
        path: Path,
        group: str,
        partitions: dict[str, int],
        session_timeout_s: float,
    ) -> None:
        self._conn = connect(path)
        self._group = group
        self._all = sorted((t, p) for t, n in partitions.items() for p in range(n))
        self._member = uuid.uuid4().hex
        self._session_timeout_s = session_timeout_s
        self._positions: dict[tuple[str, int], int] = {}
        self._cursor_start = 0

    def _heartbeat_and_assign(self) -> list[tuple[str, int]]:
        now = time.time()
        self._conn.execute(
            "INSERT INTO members VALUES (?, ?, ?) ON CONFLICT(grp, member) "
            "DO UPDATE SET heartbeat=excluded.heartbeat",
            (self._group, self._member, now),
        )
        rows = self._conn.execute(
            "SELECT member FROM members WHERE grp=? AND heartbeat>=? ORDER BY member",
            (self._group, now - self._session_timeout_s),
        ).fetchall()
        members = [r[0] for r in rows]
        mine = members.index(self._member)
        assigned = [tp for i, tp in enumerate(self._all) if i % len(members) == mine]
        for tp in list(self._positions):
            if tp not in assigned:
                del self._positions[tp]  # another member owns it now: drop our in-flight view
        for tp in assigned:
            if tp not in self._positions:
                self._positions[tp] = self._committed(tp)
        return assigned

    def _committed(self, tp: tuple[str, int]) -> int:
        row = self._conn.execute(
            "SELECT next_off FROM commits WHERE grp=? AND topic=? AND part=?",
            (self._group, tp[0], tp[1]),
        ).fetchone()
        return int(row[0]) if row else 0

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member owns now."""
        return set(self._heartbeat_and_assign())

    def poll(self, *, max_records: int, timeout_s: float) -> list[Message]:
        """Read up to max_records from the owned partitions, waiting up to timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            batch = self._read(max_records)
            if batch or time.monotonic() >= deadline:
                return batch
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def _read(self, max_records: int) -> list[Message]:
        assigned = self._heartbeat_and_assign()
        if not assigned:
            return []
        out: list[Message] = []
        # Rotate the starting partition so one busy partition cannot starve the others.
        self._cursor_start = (self._cursor_start + 1) % len(assigned)
        order = assigned[self._cursor_start :] + assigned[: self._cursor_start]
        for topic, part in order:
            room = max_records - len(out)
            if room <= 0:
                break
            start = self._positions[(topic, part)]
            rows = self._conn.execute(
                "SELECT off, key, value FROM log WHERE topic=? AND part=? AND off>=? "
                "ORDER BY off LIMIT ?",
                (topic, part, start, room),
            ).fetchall()
            for off, key, value in rows:
                out.append(Message(topic, part, int(off), bytes(key), bytes(value)))
            if rows:
                self._positions[(topic, part)] = int(rows[-1][0]) + 1
        return out

    def commit(self, *, messages: Sequence[Message]) -> None:
        """Advance the group's offsets past these messages."""
        highest: dict[tuple[str, int], int] = {}
        for m in messages:
            tp = (m.topic, m.partition)
            highest[tp] = max(highest.get(tp, -1), m.offset)
        self._conn.executemany(
            "INSERT INTO commits VALUES (?, ?, ?, ?) ON CONFLICT(grp, topic, part) "
            "DO UPDATE SET next_off=max(next_off, excluded.next_off)",
            [(self._group, t, p, off + 1) for (t, p), off in highest.items()],
        )

    def close(self) -> None:
        """Leave the group so the others take over its partitions at once."""
        self._conn.execute(
            "DELETE FROM members WHERE grp=? AND member=?", (self._group, self._member)
        )
        self._conn.close()
