"""Writing indicator documents to the Index port: merge does it inline; the index stage
re-reads the `indicators` topic into an index (a rebuild, or a second index), in bulk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from enrich.schema import INDICATORS
from igsc.errors import TransientFailure
from igsc.ports import Index, IndexDoc, Message
from igsc.records import Rejection, rejection
from igsc.worker import StageOutput


def upsert_documents(
    *,
    index: Index,
    docs: Sequence[Mapping[str, Any]],
    stage: str,
    encoded: Sequence[bytes] | None = None,
) -> list[Rejection]:
    """Bulk-upsert the newest document per key; refused ones come back as rejections.

    `encoded`, when given, holds each document's JSON (sent as is, not encoded again).
    Stale versions are no-ops; a 429 or an unavailable shard is TransientFailure (retry).
    """
    newest: dict[str, IndexDoc] = {}
    for i, body in enumerate(docs):
        doc = IndexDoc(
            id=body["key"],
            version=int(body["version"]),
            body=body,
            encoded=encoded[i] if encoded is not None else None,
        )
        if doc.id not in newest or newest[doc.id].version <= doc.version:
            newest[doc.id] = doc
    result = index.bulk_upsert(schema=INDICATORS, docs=list(newest.values()))
    if any("429" in f.reason or "unavailable" in f.reason.lower() for f in result.failed):
        raise TransientFailure(f"index refused {len(result.failed)} documents for now")
    return [
        rejection(
            stage=stage, reason=f.reason, partner=None, stix_id=f.id, payload=newest[f.id].body
        )
        for f in result.failed
    ]


class IndexStage:
    """indicators topic → Index; the bulk write is acknowledged before offsets move."""

    name = "index"

    def __init__(self, *, index: Index) -> None:
        self._index = index
        index.ensure(schema=INDICATORS)

    def pace(self, *, behind: bool) -> None:
        """Pass the worker's backlog report on to the index (igsc.pacing)."""
        self._index.pace(schema=INDICATORS, behind=behind)

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Bulk-upsert the newest document per key; stale versions are no-ops."""
        docs = [orjson.loads(m.value) for m in messages]
        encoded = [m.value for m in messages]
        rejected = upsert_documents(index=self._index, docs=docs, stage=self.name, encoded=encoded)
        return StageOutput(rejected=rejected)
