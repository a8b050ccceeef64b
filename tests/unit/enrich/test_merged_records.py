"""Exact lookups from the dedup state give the very documents merge indexed."""

from __future__ import annotations

from pathlib import Path

from enrich.lookup import lookup_observable
from enrich.merged_records import MergedRecords
from enrich.pipeline import enrichers_for
from igsc.app.samples import SAMPLE_PARTNERS
from igsc.app.stages import drain_pipeline
from igsc.tlp import Tlp
from igsc.wiring import open_ports
from tests.support.modes import pipeline_settings
from tests.support.samples_run import indexed_documents, publish_samples


def test_every_state_document_equals_the_indexed_one(tmp_path: Path) -> None:
    settings = pipeline_settings(
        mode="embedded", home=tmp_path, namespace="records", partners=SAMPLE_PARTNERS
    )
    ports = open_ports(settings)
    try:
        publish_samples(settings, ports)
        enrichers = enrichers_for(settings)
        drain_pipeline(settings=settings, ports=ports, enrichers=enrichers)
        indexed = indexed_documents(ports.index)
        records = MergedRecords(state=ports.state, enrichers=enrichers)
        assert len(indexed) >= 8
        for key, doc in indexed.items():
            assert records.document(key=key) == doc, key
        assert records.document(key="domain-name|never-reported.example") is None
        typed = lookup_observable(
            index=ports.index,
            text="EVIL-LOGIN.example.",
            clearance=Tlp.RED,
            records=records,
            half_life_days=settings.enrich.decay_half_life_days,
        )
        assert typed.document is not None
        assert {**typed.document, "decayed_score": None} == {
            **indexed["domain-name|evil-login.example"],
            "decayed_score": None,
        }
    finally:
        ports.close()
