"""Index stage: documents from the `indicators` topic into the Index port, in bulk."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from enrich.schema import INDICATORS
from igsc.errors import TransientFailure
from igsc.ports import Index, IndexDoc, Message
from igsc.records import rejection
from igsc.worker import StageOutput


class IndexStage:
    """indicators → Index; the bulk write is acknowledged before offsets move."""

    name = "index"

    def __init__(self, *, index: Index) -> None:
        self._index = index
        index.ensure(schema=INDICATORS)

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Bulk-upsert the newest document per key; stale versions are no-ops."""
        newest: dict[str, IndexDoc] = {}
        for m in messages:
            body = orjson.loads(m.value)
            doc = IndexDoc(id=body["key"], version=int(body["version"]), body=body)
            if doc.id not in newest or newest[doc.id].version < doc.version:
                newest[doc.id] = doc
        result = self._index.bulk_upsert(schema=INDICATORS, docs=list(newest.values()))
        if any("429" in f.reason or "unavailable" in f.reason.lower() for f in result.failed):
            raise TransientFailure(f"index refused {len(result.failed)} documents for now")
        return StageOutput(
            rejected=[
                rejection(
                    stage=self.name,
                    reason=f.reason,
                    partner=None,
                    stix_id=f.id,
                    payload=newest[f.id].body,
                )
                for f in result.failed
            ]
        )
