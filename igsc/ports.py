"""The three ports every pipeline stage talks to: Stream, Index and State.

Each has an embedded adapter (SQLite, no server) and a real one (Kafka, Elasticsearch, Redis);
tests/contract runs one suite of assertions over every adapter of a port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

# ---------------------------------------------------------------- Stream


@dataclass(frozen=True, slots=True)
class Message:
    """One record read from a topic partition."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


class Consumer(Protocol):
    """A member of a consumer group; offsets advance only through commit()."""

    def poll(self, *, max_records: int, timeout_s: float) -> list[Message]:
        """Up to max_records messages, in offset order per partition; [] after timeout_s."""
        ...

    def commit(self, *, messages: Sequence[Message]) -> None:
        """Mark these messages (and all before them in their partitions) done for the group."""
        ...

    def assignment(self) -> set[tuple[str, int]]:
        """The (topic, partition) pairs this member owns now."""
        ...

    def close(self) -> None:
        """Leave the group without committing anything further."""
        ...


@runtime_checkable
class Stream(Protocol):
    """A partitioned, durable log of keyed records."""

    def publish(self, *, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Append (key, value) records; durable when this returns; same key, same partition."""
        ...

    def consumer(self, *, group: str, topics: Sequence[str]) -> Consumer:
        """Join a consumer group that resumes from the group's committed offsets."""
        ...

    def close(self) -> None:
        """Flush and release connections."""
        ...


# ---------------------------------------------------------------- Index


@dataclass(frozen=True, slots=True)
class IndexSchema:
    """Field types of one index, shared by every Index adapter."""

    name: str
    keyword: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    date: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    stored_only: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexDoc:
    """A document to upsert; a version below the stored one is a no-op, an equal one replaces.

    Equal replaces because a version recomputed after a crash may hold more than the copy
    written before it (a redelivered batch can end later): the last write of a version wins.
    """

    id: str
    version: int
    body: Mapping[str, Any]
    # The body as JSON when the caller has serialised it already (it must encode `body`):
    # an adapter then sends these bytes instead of encoding the body a second time.
    encoded: bytes | None = None


@dataclass(frozen=True, slots=True)
class BulkFailure:
    """One document the index refused, and why."""

    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What a bulk upsert did: written, skipped as stale or duplicate, refused."""

    written: int = 0
    stale: int = 0
    failed: tuple[BulkFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class SortKey:
    """One sort criterion; the document id is always the final tie-breaker."""

    field: str
    order: Literal["asc", "desc"] = "asc"


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Full-text query, exact filters on keyword fields, ranges, sort and a cursor."""

    text: str | None = None
    terms: Mapping[str, Sequence[str]] = field(default_factory=dict)
    ranges: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    sort: tuple[SortKey, ...] = ()
    size: int = 20
    after: tuple[Any, ...] | None = None
    # Keyword fields to count values of among all matches, answered with the page (a
    # search page and its facets in one pass, as an analyst's result screen needs them).
    facets: tuple[str, ...] = ()


FACET_SIZE = 20  # values per facet, most frequent first


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of hits; pass `after` back in the next SearchQuery to continue."""

    hits: tuple[Mapping[str, Any], ...]
    total: int
    after: tuple[Any, ...] | None
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@runtime_checkable
class Index(Protocol):
    """Searchable documents with external versions."""

    def ensure(self, *, schema: IndexSchema) -> None:
        """Create the index (or template) for this schema if it does not exist."""
        ...

    def bulk_upsert(self, *, schema: IndexSchema, docs: Sequence[IndexDoc]) -> BulkResult:
        """Write many documents in as few round trips as possible."""
        ...

    def get(self, *, schema: IndexSchema, doc_id: str) -> Mapping[str, Any] | None:
        """The stored body, or None."""
        ...

    def search(self, *, schema: IndexSchema, query: SearchQuery) -> SearchPage:
        """Matching documents, sorted, one page at a time."""
        ...

    def facets(
        self, *, schema: IndexSchema, field: str, query: SearchQuery, size: int = FACET_SIZE
    ) -> dict[str, int]:
        """Document counts per value of a keyword field among the query's matches."""
        ...

    def refresh(self, *, schema: IndexSchema) -> None:
        """Make everything written so far searchable."""
        ...

    # True when every acknowledged write is already searchable (refresh is a no-op).
    searchable_on_write: bool

    def await_refresh(self, *, schema: IndexSchema) -> None:
        """Return once everything written before the call is searchable, riding the index's
        next scheduled refresh instead of forcing one (no new segment, no extra merge work)."""
        ...

    def pace(self, *, schema: IndexSchema, behind: bool) -> None:
        """A writer's report after each batch: whether it is behind (a backlog is waiting).

        While writers are behind, an index may refresh less often (igsc.pacing); writes and
        await_refresh keep their guarantees either way.
        """
        ...

    def drop(self, *, schema: IndexSchema) -> None:
        """Delete the index and all its documents."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


# ---------------------------------------------------------------- State


@runtime_checkable
class State(Protocol):
    """Small durable values: checkpoints, dedup and correlation state.

    Keys are for few, named values; rows are for millions of small binary records, which an
    adapter may pack more densely than keys (Redis keeps them in hash buckets).
    """

    def get_many(self, *, keys: Sequence[str]) -> dict[str, bytes]:
        """Values of the keys that exist."""
        ...

    def put_many(self, *, items: Mapping[str, bytes]) -> None:
        """Set all the items at once."""
        ...

    def compare_and_set(self, *, key: str, expected: bytes | None, new: bytes) -> bool:
        """Set key to new only if it currently holds expected (None: absent)."""
        ...

    def get_rows(self, *, table: str, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """Rows of a compact table (binary keys, one row per observable or object) that exist."""
        ...

    def put_rows(self, *, table: str, rows: Mapping[bytes, bytes]) -> None:
        """Set rows of a compact table all at once."""
        ...

    def delete(self, *, keys: Sequence[str]) -> None:
        """Remove the keys."""
        ...

    def scan(self, *, prefix: str) -> list[str]:
        """Keys that start with prefix, sorted."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
