"""Exact lookups from the dedup state give the very documents merge indexed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enrich.lookup import lookup_observable
from enrich.merged_records import MergedRecords
from enrich.pipeline import drain_pipeline
from enrich.schema import INDICATORS
from igsc.adapters.index_common import DOC_ID_FIELD
from igsc.pipeline_run import close_ports, enrichers_for, open_ports
from igsc.ports import SearchQuery
from igsc.samples import SAMPLE_PARTNERS, sample_objects
from igsc.settings import load_settings
from igsc.tlp import Tlp
from ingest.publish import publish_objects


def test_every_state_document_equals_the_indexed_one(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={
            "home": tmp_path,
            "partners": SAMPLE_PARTNERS,
            "stream": {"poll_timeout_s": 0.05},
        }
    )
    ports = open_ports(settings)
    try:
        for partner in SAMPLE_PARTNERS:
            publish_objects(
                settings=settings,
                stream=ports.stream,
                partner=partner,
                objects=sample_objects()[partner.id],
            )
        enrichers = enrichers_for(settings)
        drain_pipeline(settings=settings, ports=ports, enrichers=enrichers)
        page = ports.index.search(schema=INDICATORS, query=SearchQuery(size=1000))
        # The index adds its own id field for stable paging; everything else must match.
        indexed: dict[str, dict[str, Any]] = {
            str(h["key"]): {k: v for k, v in h.items() if k != DOC_ID_FIELD} for h in page.hits
        }
        records = MergedRecords(state=ports.state, enrichers=enrichers)
        assert len(indexed) >= 8
        for key, doc in indexed.items():
            assert records.document(key=key) == doc, key
        assert records.document(key="domain-name|never-reported.example") is None
        typed = lookup_observable(
            index=ports.index, text="EVIL-LOGIN.example.", clearance=Tlp.RED, records=records
        )
        assert typed.document == indexed["domain-name|evil-login.example"]
    finally:
        close_ports(ports)
