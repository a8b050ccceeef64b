"""The optional index stage rebuilds an index from the indicators topic, document for document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enrich.pipeline import Ports, build_worker, drain_pipeline
from enrich.schema import INDICATORS
from igsc.adapters.sqlite_index import SqliteIndex
from igsc.pipeline_run import close_ports, enrichers_for, open_ports
from igsc.ports import Index, SearchQuery
from igsc.samples import SAMPLE_PARTNERS, sample_objects
from igsc.settings import load_settings
from ingest.publish import publish_objects


def _all(index: Index) -> dict[str, dict[str, Any]]:
    page = index.search(schema=INDICATORS, query=SearchQuery(size=1000))
    return {h["key"]: dict(h) for h in page.hits}


def test_the_index_stage_rebuilds_what_merge_indexed(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={
            "home": tmp_path,
            "partners": SAMPLE_PARTNERS,
            "stream": {"poll_timeout_s": 0.05},
        }
    )
    ports = open_ports(settings)
    fresh = SqliteIndex(path=tmp_path / "rebuilt.db", prefix="rebuilt")
    try:
        for partner in SAMPLE_PARTNERS:
            publish_objects(
                settings=settings,
                stream=ports.stream,
                partner=partner,
                objects=sample_objects()[partner.id],
            )
        drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
        merged = _all(ports.index)
        assert len(merged) >= 8
        rebuild = build_worker(
            name="index",
            settings=settings,
            ports=Ports(stream=ports.stream, index=fresh, state=ports.state),
            enrichers=(),
        )
        rebuild.drain()
        rebuild.close()
        assert _all(fresh) == merged
    finally:
        fresh.close()
        close_ports(ports)
