"""The three sample CERTs' objects through a pipeline, and what it indexed."""

from __future__ import annotations

from typing import Any

from enrich.schema import INDICATORS
from igsc.adapters.index_common import DOC_ID_FIELD
from igsc.app.samples import SAMPLE_PARTNERS, sample_objects
from igsc.ports import Index, SearchQuery
from igsc.settings import Settings
from igsc.wiring import Ports
from ingest.publish import publish_objects


def publish_samples(settings: Settings, ports: Ports) -> None:
    """Every sample partner's objects onto the raw topic, as `igsc publish` would."""
    for partner in SAMPLE_PARTNERS:
        publish_objects(
            settings=settings,
            stream=ports.stream,
            partner=partner,
            objects=sample_objects()[partner.id],
        )


def indexed_documents(index: Index) -> dict[str, dict[str, Any]]:
    """Every indicator document by key, without the adapter's own paging id."""
    index.refresh(schema=INDICATORS)
    page = index.search(schema=INDICATORS, query=SearchQuery(size=1000))
    return {str(h["key"]): {k: v for k, v in h.items() if k != DOC_ID_FIELD} for h in page.hits}
