"""Objects igsc adds to a collection itself, stored exactly as a partner's POST would be."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from igsc.errors import TransientFailure
from igsc.ports import IndexDoc
from igsc.tlp import Tlp
from ingest.convert import admit
from ingest.server.access import Target
from ingest.server.clock import DateAddedClock
from ingest.server.documents import CollectionDocuments, ValidObject, valid_object
from ingest.server.store import VersionStore


@dataclass(frozen=True, slots=True)
class Landed:
    """What one DirectAdd call did."""

    landed: int  # documents written now
    already: int  # (id, version, publisher) already stored: nothing written


class DirectAdd:
    """Objects igsc adds to one collection itself (the respond stage's incidents).

    Each object is stored exactly as Add Objects stores a partner's POST: admitted by the
    same entrance (`admit`), deduplicated by the same document ids, dated by the same
    date_added clock, written as the same documents (`CollectionDocuments`: `visible_to`
    from igsc.visibility for the object's TLP and its publisher), so GET objects, manifest
    and versions, and deletion by the publisher, treat them like any posted object. Unlike
    a POST they are not forwarded to the raw topic (they come out of the pipeline;
    forwarding would feed them back in) and get no status resource: `add` returns once they
    are readable, or raises.
    """

    def __init__(self, *, store: VersionStore, clock: DateAddedClock, target: Target) -> None:
        self._versions = store
        self._clock = clock
        self._target = target

    def add(self, *, objects: Sequence[tuple[str, dict[str, Any]]]) -> Landed:
        """Store (publisher, object) pairs not stored yet; readable when this returns.

        RejectedInput if an object fails the entrance (nothing is stored then);
        TransientFailure if the store refused a document or could not be reached.
        """
        target = self._target
        unique: dict[str, tuple[str, ValidObject]] = {}
        for publisher, obj in objects:
            one = valid_object(admit(obj, default_tlp=Tlp.RED), target=target, publisher=publisher)
            unique.setdefault(one.doc_id, (publisher, one))
        if not unique:
            return Landed(landed=0, already=0)
        existing = self._versions.live_by_id(doc_ids=list(unique))
        fresh = [pair for ident, pair in unique.items() if ident not in existing]
        if not fresh:
            return Landed(landed=0, already=len(existing))
        scope = f"{target.root.id}:{target.collection.id}"
        reservation = self._clock.reserve(scope=scope, count=len(fresh))
        try:
            docs: list[IndexDoc] = []
            bodies: dict[str, CollectionDocuments] = {}
            for offset, (publisher, one) in enumerate(fresh):
                shared = bodies.setdefault(
                    publisher, CollectionDocuments(target=target, publisher=publisher)
                )
                docs += shared.docs(objects=[one], start=reservation.start + offset)[0]
            result = self._versions.land(docs=docs)
            if result.failed:
                reasons = "; ".join(f"{f.id}: {f.reason}" for f in result.failed[:3])
                raise TransientFailure(
                    f"the TAXII store refused {len(result.failed)} of {len(docs)} "
                    f"documents ({reasons})"
                )
            if not self._versions.searchable_on_write:
                # Readers never pass a reserved block, so the block is released only once
                # its documents are searchable: after the store's next scheduled refresh.
                self._versions.await_searchable()
        finally:
            self._clock.release(reservation=reservation)
        return Landed(landed=len(docs), already=len(existing))
