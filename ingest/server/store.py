"""Collection contents on the Index port: one document per (collection, object, version, publisher).

Visibility is part of every query (terms on `visible_to`), so paging, `more` and the date
headers only ever see what the reader may see. `last`/`first` are decided per reader among
the versions it may see, so a hidden newer version never hides or reveals anything. The
same (id, version) sent by two publishers is two documents; a reader gets the one added first.
Deletion writes tombstones (higher external version), since the Index port has no delete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from igsc.coalesce import Coalesced
from igsc.ports import BulkResult, Index, IndexDoc, IndexSchema, SearchQuery, SortKey
from ingest.server.filters import Filters

SCHEMA = IndexSchema(
    name="taxii_versions",
    keyword=(
        "api_root",
        "collection",
        "stix_id",
        "type",
        "spec_version",
        "publisher",
        "tlp",
        "visible_to",
        "version_key",
        "date_added",
        "state",
        "scope",
    ),
    stored_only=("object", "version"),
)
LIVE, DELETED = "live", "deleted"
_CHUNK = 1000
_MAX_PAGE = 10_000  # Elasticsearch's default result window
SCAN_BUDGET = 10_000  # documents looked at per request before answering with more=true
_BY_DATE = (SortKey(field="date_added"),)

Hit = Mapping[str, Any]


def doc_id(*, api_root: str, collection: str, stix_id: str, slot: str, publisher: str) -> str:
    """A fixed-length, opaque document id (it ends up inside next tokens)."""
    raw = "\n".join((api_root, collection, stix_id, slot, publisher)).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def scope_of(*, api_root: str, collection: str, state: str) -> str:
    """One keyword for collection and state, so the embedded index filters on one field."""
    return f"{api_root}|{collection}|{state}"


def position(hit: Hit) -> tuple[str, str]:
    """A document's place in date_added order."""
    return str(hit["date_added"]), str(hit["doc_id"])


@dataclass(frozen=True, slots=True)
class ReadQuery:
    """One reader's view of one collection, narrowed by filters."""

    api_root: str
    collection: str
    tokens: tuple[str, ...]
    filters: Filters
    horizon: str | None  # last date_added readable now (in-flight writes are later)


@dataclass(frozen=True, slots=True)
class Selected:
    """One page of documents, and where the next page starts if there is more."""

    hits: tuple[Hit, ...]
    more: bool
    cursor: tuple[str, str] | None


def _terms(query: ReadQuery) -> dict[str, Sequence[str]]:
    f = query.filters
    terms: dict[str, Sequence[str]] = {
        "scope": [scope_of(api_root=query.api_root, collection=query.collection, state=LIVE)],
        "visible_to": list(query.tokens),
    }
    optional = {"stix_id": f.ids, "type": f.types, "spec_version": f.spec_versions}
    terms.update({name: list(values) for name, values in optional.items() if values})
    if f.versions.only_exact:
        terms["version_key"] = sorted(f.versions.exact)
    return terms


def _readable(doc: Hit, query: ReadQuery) -> bool:
    """The visibility and spec_version filters of a query, applied to one document."""
    spec_versions = query.filters.spec_versions
    return bool(set(doc["visible_to"]) & set(query.tokens)) and (
        not spec_versions or doc["spec_version"] in spec_versions
    )


class VersionStore:
    """Reads and writes the taxii_versions index."""

    def __init__(self, *, index: Index) -> None:
        self._index = index
        index.ensure(schema=SCHEMA)
        # Concurrent requests share refreshes: each small refresh is a new Lucene segment.
        self._refresh = Coalesced(action=lambda: index.refresh(schema=SCHEMA))
        self.searchable_on_write = index.searchable_on_write

    def _pages(self, query: SearchQuery) -> Iterator[Hit]:
        after = query.after
        while True:
            page = self._index.search(
                schema=SCHEMA,
                query=SearchQuery(
                    terms=query.terms,
                    ranges=query.ranges,
                    sort=query.sort,
                    size=query.size,
                    after=after,
                ),
            )
            yield from page.hits
            if page.after is None or len(page.hits) < query.size:
                return
            after = page.after

    def live_by_id(self, *, doc_ids: Sequence[str]) -> dict[str, Hit]:
        """Live documents among these ids."""
        found: dict[str, Hit] = {}
        for i in range(0, len(doc_ids), _CHUNK):
            chunk = list(doc_ids[i : i + _CHUNK])
            query = SearchQuery(
                terms={"doc_id": chunk, "state": [LIVE]}, sort=_BY_DATE, size=_CHUNK
            )
            found.update({str(h["doc_id"]): h for h in self._pages(query)})
        return found

    def write(self, *, docs: Sequence[IndexDoc]) -> BulkResult:
        """Upsert and make the documents searchable before returning."""
        if not docs:
            return BulkResult()
        result = self.land(docs=docs)
        self._refresh()
        return result

    def land(self, *, docs: Sequence[IndexDoc]) -> BulkResult:
        """Upsert durably; the documents are searchable after the next refresh."""
        if not docs:
            return BulkResult()
        return self._index.bulk_upsert(schema=SCHEMA, docs=docs)

    def await_searchable(self) -> None:
        """Return once everything landed so far is searchable, by the next scheduled refresh."""
        self._index.await_refresh(schema=SCHEMA)

    def tombstone(self, *, hits: Sequence[Hit], first_version: int) -> BulkResult:
        """Mark documents deleted; versions first_version, first_version + 1, ..."""
        docs = [
            IndexDoc(
                id=str(hit["doc_id"]),
                version=first_version + i,
                body={
                    **{k: v for k, v in hit.items() if k != "object"},
                    "state": DELETED,
                    "scope": scope_of(
                        api_root=str(hit["api_root"]),
                        collection=str(hit["collection"]),
                        state=DELETED,
                    ),
                },
            )
            for i, hit in enumerate(hits)
        ]
        return self.write(docs=docs)

    def select(self, *, query: ReadQuery, after: tuple[str, str] | None) -> Selected:
        """Up to filters.limit documents the reader may see, in date_added order."""
        limit = query.filters.limit
        ranges: dict[str, tuple[Any, Any]] = {}
        if query.filters.added_after_low or query.horizon:
            ranges["date_added"] = (query.filters.added_after_low, query.horizon)
        kept: list[Hit] = []
        scanned, cursor = 0, after
        while scanned < SCAN_BUDGET:
            size = min(limit + 1, _MAX_PAGE)
            page = self._index.search(
                schema=SCHEMA,
                query=SearchQuery(
                    terms=_terms(query),
                    ranges=ranges,
                    sort=_BY_DATE,
                    size=size,
                    after=cursor,
                ),
            )
            for hit, keep in zip(page.hits, self._keep(query, page.hits), strict=True):
                if keep and len(kept) == limit:
                    return Selected(hits=tuple(kept), more=True, cursor=position(kept[-1]))
                if keep:
                    kept.append(hit)
                cursor = position(hit)
            scanned += len(page.hits)
            if len(page.hits) < size:
                return Selected(hits=tuple(kept), more=False, cursor=None)
        return Selected(hits=tuple(kept), more=True, cursor=cursor)

    def _keep(self, query: ReadQuery, hits: Sequence[Hit]) -> list[bool]:
        """Which hits the filters select: the version wanted, once per (id, version)."""
        if not hits:
            return []
        versions = query.filters.versions
        # Only scope and ids go to the index (each term costs a pass over the embedded
        # index); visibility and spec_version are applied here to the few documents found.
        terms: dict[str, Sequence[str]] = {
            "scope": [scope_of(api_root=query.api_root, collection=query.collection, state=LIVE)],
            "stix_id": sorted({str(h["stix_id"]) for h in hits}),
        }
        ranges = {"date_added": (None, query.horizon)} if query.horizon else {}
        size = min(max(2 * len(hits), _CHUNK), _MAX_PAGE)
        newest: dict[str, str] = {}
        oldest: dict[str, str] = {}
        canonical: dict[tuple[str, str], str] = {}
        related = SearchQuery(terms=terms, ranges=ranges, sort=_BY_DATE, size=size)
        for doc in self._pages(related):
            if not _readable(doc, query):
                continue
            sid, key = str(doc["stix_id"]), str(doc["version_key"])
            newest[sid] = max(newest.get(sid, key), key)
            oldest[sid] = min(oldest.get(sid, key), key)
            canonical.setdefault((sid, key), str(doc["doc_id"]))
        flags: list[bool] = []
        for hit in hits:
            sid, key = str(hit["stix_id"]), str(hit["version_key"])
            if canonical.get((sid, key)) != hit["doc_id"]:
                flags.append(False)
                continue
            flags.append(
                versions.all
                or key in versions.exact
                or (versions.last and key == newest[sid])
                or (versions.first and key == oldest[sid])
            )
        return flags

    def visible(self, *, query: ReadQuery, stix_id: str) -> bool:
        """True if the reader may see any live version of the object (filters aside)."""
        terms = {
            "scope": [scope_of(api_root=query.api_root, collection=query.collection, state=LIVE)],
            "visible_to": list(query.tokens),
            "stix_id": [stix_id],
        }
        page = self._index.search(schema=SCHEMA, query=SearchQuery(terms=terms, size=1))
        return bool(page.hits)

    def published_by(
        self, *, api_root: str, collection: str, stix_id: str, publisher: str
    ) -> list[Hit]:
        """Every live version of an object this publisher added, oldest first."""
        terms = {
            "scope": [scope_of(api_root=api_root, collection=collection, state=LIVE)],
            "stix_id": [stix_id],
            "publisher": [publisher],
        }
        return list(self._pages(SearchQuery(terms=terms, sort=_BY_DATE, size=_CHUNK)))
