"""The stage registry: each stage named once, with what it reads and how it is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrich.pipeline import enrichers_for
from igsc.app.stages import STAGES, build_worker, pipeline_stages, stage_names, stage_spec
from igsc.settings import load_settings
from igsc.wiring import open_ports


def test_names_are_unique_and_the_pipeline_is_extract_merge_respond() -> None:
    assert len(set(stage_names())) == len(STAGES)
    assert [s.name for s in pipeline_stages()] == ["extract", "merge", "respond", "respond-threats"]
    assert "index" in stage_names()


def test_an_unknown_stage_names_the_registered_ones() -> None:
    with pytest.raises(ValueError, match="extract, merge, index, respond, respond-threats"):
        stage_spec("nope")


def test_every_registered_factory_builds_its_stage_and_a_worker(tmp_path: Path) -> None:
    settings = load_settings(overrides={"home": tmp_path, "namespace": "ns"})
    enrichers = enrichers_for(settings)
    with open_ports(settings) as ports:
        for spec in STAGES:
            stage = spec.factory(settings=settings, ports=ports, enrichers=enrichers)
            assert stage.name == spec.name
            build_worker(spec=spec, settings=settings, ports=ports, enrichers=enrichers).close()
