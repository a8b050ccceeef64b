"""Embedded Index: SQLite documents with JSON bodies and an FTS5 table for the text fields."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from igsc.adapters.index_common import DOC_ID_FIELD, filterable, stored_source, type_problem
from igsc.adapters.sqlite_db import connect
from igsc.ports import (
    FACET_SIZE,
    BulkFailure,
    BulkResult,
    IndexDoc,
    IndexSchema,
    SearchPage,
    SearchQuery,
)

_TOKEN = re.compile(r"\w+", re.UNICODE)
_CHUNK = 500  # ids per IN (...) query, under SQLite's bound-parameter limit


def _fts_query(text: str) -> str:
    """User text as an FTS5 query: every word must match, no operator syntax leaks through."""
    return " ".join(f'"{tok}"' for tok in _TOKEN.findall(text))


def _stored_body(doc: IndexDoc) -> str:
    return stored_source(doc).decode()


def _text_of(schema: IndexSchema, body: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for name in schema.text:
        value = body.get(name)
        if isinstance(value, list | tuple):
            parts.extend(str(v) for v in value)
        elif value is not None:
            parts.append(str(value))
    return "\n".join(parts)


class SqliteIndex:
    """Index port over one SQLite file; one table pair per schema."""

    searchable_on_write = True  # a committed write is searchable

    def __init__(self, *, path: Path, prefix: str) -> None:
        self._conn = connect(path)
        self._prefix = re.sub(r"\W", "_", prefix)
        self._lock = threading.Lock()

    def _tables(self, schema: IndexSchema) -> tuple[str, str]:
        base = f"{self._prefix}_{re.sub(r'[^a-z0-9_]', '_', schema.name)}"
        return f"docs_{base}", f"fts_{base}"

    def ensure(self, *, schema: IndexSchema) -> None:
        """Create the tables for this schema."""
        docs, fts = self._tables(schema)
        with self._lock:
            self._conn.executescript(
                f"CREATE TABLE IF NOT EXISTS {docs} (rid INTEGER PRIMARY KEY, id TEXT UNIQUE, "
                f"version INTEGER NOT NULL, body TEXT NOT NULL);"
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(content, "
                f"tokenize='unicode61');"
            )

    def bulk_upsert(self, *, schema: IndexSchema, docs: Sequence[IndexDoc]) -> BulkResult:
        """Upsert in one transaction; a version below the stored one counts as stale."""
        docs_table, fts = self._tables(schema)
        failed: list[BulkFailure] = []
        fitting: list[IndexDoc] = []
        for doc in docs:
            problem = type_problem(schema, doc.body)
            if problem:
                failed.append(BulkFailure(doc.id, problem))
            else:
                fitting.append(doc)
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                written, stale = self._write(docs_table, fts, schema, fitting)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return BulkResult(written=written, stale=stale, failed=tuple(failed))

    def _write(
        self, docs: str, fts: str, schema: IndexSchema, batch: list[IndexDoc]
    ) -> tuple[int, int]:
        """A few statements per batch, with the outcome of upserting the documents in order."""
        stored = self._stored(docs, [d.id for d in batch])  # id -> (rid, version)
        versions = {i: v for i, (_, v) in stored.items()}
        final: dict[str, IndexDoc] = {}  # per id, the last document written: what stays
        written = 0
        for doc in batch:
            if doc.id not in versions or doc.version >= versions[doc.id]:
                versions[doc.id] = doc.version
                final[doc.id] = doc
                written += 1
        if not final:
            return 0, len(batch)
        self._conn.executemany(
            f"INSERT INTO {docs} (id, version, body) VALUES (?, ?, ?) "
            f"ON CONFLICT(id) DO UPDATE SET version=excluded.version, body=excluded.body",
            [(d.id, d.version, _stored_body(d)) for d in final.values()],
        )
        new = [i for i in final if i not in stored]
        rids = {i: rid for i, (rid, _) in self._stored(docs, new).items()}
        # Only replaced documents have text to drop: rows are never deleted, so a new rid
        # has no text yet.
        self._conn.executemany(
            f"DELETE FROM {fts} WHERE rowid=?", [(stored[i][0],) for i in final if i in stored]
        )
        rids.update((i, rid) for i, (rid, _) in stored.items())
        self._conn.executemany(
            f"INSERT INTO {fts} (rowid, content) VALUES (?, ?)",
            [(rids[i], _text_of(schema, d.body)) for i, d in final.items()],
        )
        return written, len(batch) - written

    def _stored(self, docs: str, ids: list[str]) -> dict[str, tuple[int, int]]:
        """(rid, version) of the stored documents among ids."""
        rows: dict[str, tuple[int, int]] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for i, rid, version in self._conn.execute(
                f"SELECT id, rid, version FROM {docs} WHERE id IN ({marks})", chunk
            ):
                rows[i] = (int(rid), int(version))
        return rows

    def get(self, *, schema: IndexSchema, doc_id: str) -> Mapping[str, Any] | None:
        """The stored body, or None (also when the index does not exist yet, as on ES)."""
        docs, _ = self._tables(schema)
        with self._lock:
            try:
                cursor = self._conn.execute(f"SELECT body FROM {docs} WHERE id=?", (doc_id,))
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
                return None
            row = cursor.fetchone()
        return orjson.loads(row[0]) if row else None

    def _where(self, schema: IndexSchema, query: SearchQuery) -> tuple[str, list[Any]]:
        _, fts = self._tables(schema)
        clauses: list[str] = ["1=1"]
        params: list[Any] = []
        if query.text:
            clauses.append(f"d.rid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?)")
            params.append(_fts_query(query.text) or '""')
        for field, values in query.terms.items():
            filterable(schema, field)
            marks = ",".join("?" for _ in values)
            clauses.append(
                f"EXISTS (SELECT 1 FROM json_each(d.body, ?) j WHERE j.value IN ({marks}))"
            )
            params.extend([f'$."{field}"', *values])
        for field, (low, high) in query.ranges.items():
            filterable(schema, field)
            if low is not None:
                clauses.append("json_extract(d.body, ?) >= ?")
                params.extend([f'$."{field}"', low])
            if high is not None:
                clauses.append("json_extract(d.body, ?) <= ?")
                params.extend([f'$."{field}"', high])
        return " AND ".join(clauses), params

    def search(self, *, schema: IndexSchema, query: SearchQuery) -> SearchPage:
        """One sorted page of matches after the cursor."""
        docs, _ = self._tables(schema)
        where, params = self._where(schema, query)
        keys = [(k.field, k.order) for k in query.sort] + [(DOC_ID_FIELD, "asc")]
        for field, _order in keys:
            filterable(schema, field)
        exprs = [
            "d.id" if f == DOC_ID_FIELD else f"json_extract(d.body, '$.\"{f}\"')" for f, _ in keys
        ]
        with self._lock:
            total = self._conn.execute(
                f"SELECT count(*) FROM {docs} d WHERE {where}", params
            ).fetchone()[0]
            page_where, page_params = where, list(params)
            if query.after is not None:
                cond, cond_params = _after_clause(exprs, [o for _, o in keys], query.after)
                page_where += f" AND ({cond})"
                page_params += cond_params
            order = ", ".join(f"{e} {o.upper()}" for e, (_, o) in zip(exprs, keys, strict=True))
            rows = self._conn.execute(
                f"SELECT body, {', '.join(exprs)} FROM {docs} d WHERE {page_where} "
                f"ORDER BY {order} LIMIT ?",
                [*page_params, query.size],
            ).fetchall()
        hits = tuple(orjson.loads(r[0]) for r in rows)
        after = tuple(rows[-1][1:]) if len(rows) == query.size else None
        counts = {f: self.facets(schema=schema, field=f, query=query) for f in query.facets}
        return SearchPage(hits=hits, total=int(total), after=after, facets=counts)

    def facets(
        self, *, schema: IndexSchema, field: str, query: SearchQuery, size: int = FACET_SIZE
    ) -> dict[str, int]:
        """Matching documents counted per value of field."""
        filterable(schema, field)
        docs, _ = self._tables(schema)
        where, params = self._where(schema, query)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT f.value, count(DISTINCT d.rid) c FROM {docs} d, "
                f"json_each(d.body, ?) f WHERE {where} GROUP BY f.value "
                f"ORDER BY c DESC, f.value LIMIT ?",
                [f'$."{field}"', *params, size],
            ).fetchall()
        return {str(v): int(c) for v, c in rows}

    def refresh(self, *, schema: IndexSchema) -> None:
        """Writes are visible at commit; nothing to do."""

    def await_refresh(self, *, schema: IndexSchema) -> None:
        """Writes are visible at commit; nothing to wait for."""

    def pace(self, *, schema: IndexSchema, behind: bool) -> None:
        """Writes are visible at commit and cost no refreshes: nothing to pace."""

    def drop(self, *, schema: IndexSchema) -> None:
        """Drop the tables."""
        docs, fts = self._tables(schema)
        with self._lock:
            self._conn.executescript(f"DROP TABLE IF EXISTS {docs}; DROP TABLE IF EXISTS {fts};")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def _after_clause(
    exprs: list[str], orders: list[str], after: Sequence[Any]
) -> tuple[str, list[Any]]:
    """Keyset pagination: rows strictly after the cursor in the sort order."""
    ors: list[str] = []
    params: list[Any] = []
    for i, (expr, order) in enumerate(zip(exprs, orders, strict=True)):
        op = ">" if order == "asc" else "<"
        eqs = [f"{exprs[j]} IS ?" for j in range(i)]
        ors.append("(" + " AND ".join([*eqs, f"{expr} {op} ?"]) + ")")
        params.extend([*after[:i], after[i]])
    return " OR ".join(ors), params
