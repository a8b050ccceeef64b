"""Embedded State: a SQLite key-value table."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from igsc.adapters.sqlite_db import connect

_CHUNK = 500  # stays under SQLite's bound-parameter limit


class SqliteState:
    """State port over one SQLite file, namespaced so installations never collide."""

    def __init__(self, *, path: Path, namespace: str) -> None:
        self._conn = connect(path)
        self._ns = namespace + ":"
        self._lock = threading.Lock()
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) "
            "WITHOUT ROWID"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS rows (tbl TEXT NOT NULL, key BLOB NOT NULL, "
            "value BLOB NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID"
        )

    def get_many(self, *, keys: Sequence[str]) -> dict[str, bytes]:
        """Values of the keys that exist."""
        out: dict[str, bytes] = {}
        with self._lock:
            for i in range(0, len(keys), _CHUNK):
                chunk = [self._ns + k for k in keys[i : i + _CHUNK]]
                marks = ",".join("?" for _ in chunk)
                rows = self._conn.execute(
                    f"SELECT key, value FROM kv WHERE key IN ({marks})", chunk
                ).fetchall()
                out.update({k[len(self._ns) :]: bytes(v) for k, v in rows})
        return out

    def put_many(self, *, items: Mapping[str, bytes]) -> None:
        """Set all items in one transaction."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO kv VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                [(self._ns + k, v) for k, v in items.items()],
            )
            self._conn.execute("COMMIT")

    def compare_and_set(self, *, key: str, expected: bytes | None, new: bytes) -> bool:
        """Atomic across processes thanks to BEGIN IMMEDIATE."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            row = self._conn.execute(
                "SELECT value FROM kv WHERE key=?", (self._ns + key,)
            ).fetchone()
            current = bytes(row[0]) if row else None
            if current != expected:
                self._conn.execute("ROLLBACK")
                return False
            self._conn.execute(
                "INSERT INTO kv VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (self._ns + key, new),
            )
            self._conn.execute("COMMIT")
            return True

    def get_rows(self, *, table: str, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """Rows that exist."""
        out: dict[bytes, bytes] = {}
        tbl = self._ns + table
        with self._lock:
            for i in range(0, len(keys), _CHUNK):
                chunk = list(keys[i : i + _CHUNK])
                marks = ",".join("?" for _ in chunk)
                found = self._conn.execute(
                    f"SELECT key, value FROM rows WHERE tbl=? AND key IN ({marks})", [tbl, *chunk]
                ).fetchall()
                out.update({bytes(k): bytes(v) for k, v in found})
        return out

    def put_rows(self, *, table: str, rows: Mapping[bytes, bytes]) -> None:
        """Set all rows in one transaction."""
        if not rows:
            return
        tbl = self._ns + table
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO rows VALUES (?, ?, ?) "
                "ON CONFLICT(tbl, key) DO UPDATE SET value=excluded.value",
                [(tbl, k, v) for k, v in rows.items()],
            )
            self._conn.execute("COMMIT")

    def delete(self, *, keys: Sequence[str]) -> None:
        """Remove the keys."""
        with self._lock:
            self._conn.executemany("DELETE FROM kv WHERE key=?", [(self._ns + k,) for k in keys])

    def scan(self, *, prefix: str) -> list[str]:
        """Keys starting with prefix, sorted."""
        low = self._ns + prefix
        with self._lock:
            rows = self._conn.execute(
                "SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key",
                (low, low + "\U0010ffff"),
            ).fetchall()
        return [r[0][len(self._ns) :] for r in rows]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
