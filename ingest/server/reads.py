"""Read endpoints (objects, object by id, versions, manifest): filter, page, redact, headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from igsc.stix_time import EPOCH_TEXT, format_us
from igsc.tlp import Tlp
from igsc.visibility import Reader
from ingest.server.access import Target
from ingest.server.clock import DateAddedClock
from ingest.server.errors import TaxiiError
from ingest.server.filters import (
    OBJECT_FILTERS,
    OBJECTS_FILTERS,
    VERSIONS_FILTERS,
    Filters,
    parse_filters,
)
from ingest.server.granular import redact
from ingest.server.store import Hit, ReadQuery, Selected, VersionStore
from ingest.server.tokens import PagePosition, PageTokens

Kind = Literal["objects", "object", "versions", "manifest"]
NO_OBJECT = "No such object in this collection."
_ALLOWED = {
    "objects": OBJECTS_FILTERS,
    "manifest": OBJECTS_FILTERS,
    "object": OBJECT_FILTERS,
    "versions": VERSIONS_FILTERS,
}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """A read of one collection by one partner."""

    kind: Kind
    reader: Reader
    target: Target
    params: Mapping[str, Sequence[str]]
    object_id: str | None = None


@dataclass(frozen=True, slots=True)
class ReadResult:
    """The TAXII resource to send, and its X-TAXII-Date-Added-* headers."""

    body: dict[str, Any]
    headers: dict[str, str]


def _media_type(hit: Hit) -> str:
    return f"application/stix+json;version={hit['spec_version']}"


class Reads:
    """Stage: one read request in, one page of what the reader may see out."""

    def __init__(
        self,
        *,
        store: VersionStore,
        clock: DateAddedClock,
        tokens: PageTokens,
        page_default: int,
        page_max: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._tokens = tokens
        self._page_default = page_default
        self._page_max = page_max

    def _filters(self, request: ReadRequest) -> Filters:
        filters = parse_filters(
            params=request.params,
            allowed=_ALLOWED[request.kind],
            default_version="all" if request.kind == "versions" else "last",
            page_default=self._page_default,
            page_max=self._page_max,
        )
        if request.object_id is None:
            return filters
        return Filters(
            ids=(request.object_id,),
            spec_versions=filters.spec_versions,
            versions=filters.versions,
            added_after=filters.added_after,
            limit=filters.limit,
            next=filters.next,
        )

    def process(self, *, request: ReadRequest) -> ReadResult:
        """Select, page and shape the resource the request asks for."""
        filters = self._filters(request)
        root, collection = request.target.root.id, request.target.collection.id
        scope = [request.kind, root, collection, request.object_id or ""]
        query_hash = filters.query_hash(scope=scope)
        partner = request.reader.partner_id
        start = (
            self._tokens.read(token=filters.next, partner=partner, query_hash=query_hash)
            if filters.next
            else None
        )
        horizon = self._clock.horizon(scope=f"{root}:{collection}")
        query = ReadQuery(
            api_root=root,
            collection=collection,
            tokens=request.reader.tokens,
            filters=filters,
            horizon=format_us(horizon) if horizon is not None else None,
        )
        selected = self._store.select(query=query, after=start.cursor if start else None)
        if (
            request.object_id
            and not selected.hits
            and start is None
            and not self._store.visible(query=query, stix_id=request.object_id)
        ):
            raise TaxiiError(404, NO_OBJECT)
        last_returned = (
            str(selected.hits[-1]["date_added"])
            if selected.hits
            else (start.last_returned if start else None)
        )
        body: dict[str, Any] = {"more": selected.more}
        if selected.more and selected.cursor is not None:
            position = PagePosition(cursor=selected.cursor, last_returned=last_returned)
            body["next"] = self._tokens.issue(
                partner=partner, query_hash=query_hash, position=position
            )
        body.update(self._shape(request, selected))
        fallback = last_returned or filters.added_after or EPOCH_TEXT
        return ReadResult(body=body, headers=_date_headers(selected, fallback=fallback))

    def _shape(self, request: ReadRequest, selected: Selected) -> dict[str, Any]:
        hits = selected.hits
        if request.kind == "versions":
            return {"versions": [h["version"] for h in hits]}
        if request.kind == "manifest":
            return {
                "objects": [
                    {
                        "id": h["stix_id"],
                        "date_added": h["date_added"],
                        "version": h["version"],
                        "media_type": _media_type(h),
                    }
                    for h in hits
                ]
            }
        return {"objects": [_redacted(h, request.reader) for h in hits]}


def _redacted(hit: Hit, reader: Reader) -> dict[str, Any]:
    """The stored object without the fields the reader is not cleared for."""
    publisher = str(hit["publisher"])

    def cleared(level: Tlp) -> bool:
        return reader.may_see(level=level, publisher=publisher)

    return redact(hit["object"], cleared=cleared)


def _date_headers(selected: Selected, *, fallback: str) -> dict[str, str]:
    """Dates of the first and last object returned.

    An empty page has no objects to date, so both headers carry the point the reader has
    already reached (the last date_added it was given on earlier pages, else its
    added_after, else the epoch): resuming from X-TAXII-Date-Added-Last then skips nothing
    and reveals nothing about objects the reader may not see.
    """
    if selected.hits:
        first, last = selected.hits[0]["date_added"], selected.hits[-1]["date_added"]
    else:
        first = last = fallback
    return {"X-TAXII-Date-Added-First": str(first), "X-TAXII-Date-Added-Last": str(last)}
