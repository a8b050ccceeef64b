"""Delete An Object: only the partner that published it may delete its versions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from igsc.visibility import Reader
from ingest.server.access import Target
from ingest.server.clock import DateAddedClock
from ingest.server.errors import TaxiiError
from ingest.server.filters import OBJECT_FILTERS, Filters, VersionFilter, parse_filters
from ingest.server.reads import NO_OBJECT
from ingest.server.store import Hit, ReadQuery, VersionStore


@dataclass(frozen=True, slots=True)
class DeleteRequest:
    """A DELETE of one object (all versions, or those match[version] selects)."""

    reader: Reader
    target: Target
    object_id: str
    params: Mapping[str, Sequence[str]]


def _chosen(own: Sequence[Hit], filters: Filters) -> list[Hit]:
    """The publisher's own versions that match[version] and match[spec_version] select."""
    if filters.spec_versions:
        own = [h for h in own if h["spec_version"] in filters.spec_versions]
    if not own:
        return []
    versions: VersionFilter = filters.versions
    keys = [str(h["version_key"]) for h in own]
    newest, oldest = max(keys), min(keys)
    return [
        h
        for h, key in zip(own, keys, strict=True)
        if versions.all
        or key in versions.exact
        or (versions.last and key == newest)
        or (versions.first and key == oldest)
    ]


class DeleteObject:
    """Stage: tombstone the requester's versions of an object, or refuse with 403/404."""

    def __init__(self, *, store: VersionStore, clock: DateAddedClock) -> None:
        self._store = store
        self._clock = clock

    def process(self, *, request: DeleteRequest) -> int:
        """Delete and return how many versions went; 404 if unseen, 403 if not the publisher."""
        filters = parse_filters(
            params=request.params,
            allowed=OBJECT_FILTERS,
            default_version="all",
            page_default=1,
            page_max=1,
        )
        root, collection = request.target.root.id, request.target.collection.id
        own = self._store.published_by(
            api_root=root,
            collection=collection,
            stix_id=request.object_id,
            publisher=request.reader.partner_id,
        )
        if not own:
            query = ReadQuery(
                api_root=root,
                collection=collection,
                tokens=request.reader.tokens,
                filters=Filters(),
                horizon=None,
            )
            if self._store.visible(query=query, stix_id=request.object_id):
                raise TaxiiError(403, "Only the partner that published an object may delete it.")
            raise TaxiiError(404, NO_OBJECT)
        chosen = _chosen(own, filters)
        if not chosen:
            raise TaxiiError(404, NO_OBJECT)
        reservation = self._clock.reserve(
            scope=f"{root}:{collection}", count=len(chosen), in_flight=False
        )
        self._store.tombstone(hits=chosen, first_version=reservation.start)
        return len(chosen)
