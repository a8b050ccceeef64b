"""The optional index stage rebuilds an index from the indicators topic, document for document."""

from __future__ import annotations

from pathlib import Path

from enrich.pipeline import enrichers_for
from igsc.adapters.sqlite_index import SqliteIndex
from igsc.app.samples import SAMPLE_PARTNERS
from igsc.app.stages import build_worker, drain_pipeline, stage_spec
from igsc.wiring import Ports, open_ports
from tests.support.modes import pipeline_settings
from tests.support.samples_run import indexed_documents, publish_samples


def test_the_index_stage_rebuilds_what_merge_indexed(tmp_path: Path) -> None:
    settings = pipeline_settings(
        mode="embedded", home=tmp_path, namespace="rebuild", partners=SAMPLE_PARTNERS
    )
    ports = open_ports(settings)
    fresh = SqliteIndex(path=tmp_path / "rebuilt.db", prefix="rebuilt")
    try:
        publish_samples(settings, ports)
        drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
        merged = indexed_documents(ports.index)
        assert len(merged) >= 8
        rebuild = build_worker(
            spec=stage_spec("index"),
            settings=settings,
            ports=Ports(stream=ports.stream, index=fresh, state=ports.state),
            enrichers=(),
        )
        rebuild.drain()
        rebuild.close()
        assert indexed_documents(fresh) == merged
    finally:
        fresh.close()
        ports.close()
