"""Three CERTs report the same threats spelled differently: one record per observable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from enrich.pipeline import enrichers_for
from enrich.schema import INDICATORS
from igsc.app.samples import SAMPLE_PARTNERS, sample_objects
from igsc.app.stages import drain_pipeline
from igsc.ports import SearchQuery
from igsc.settings import Settings
from igsc.wiring import Ports, open_ports
from tests.support.modes import pipeline_settings
from tests.support.samples_run import publish_samples


@pytest.fixture(params=["embedded", "real"])
def running(
    request: pytest.FixtureRequest, tmp_path: Path, unique: str
) -> Iterator[tuple[Settings, Ports]]:
    settings = pipeline_settings(
        mode=request.param, home=tmp_path, namespace=unique, partners=SAMPLE_PARTNERS
    )
    ports = open_ports(settings)
    yield settings, ports
    ports.index.drop(schema=INDICATORS)
    for key in ports.state.scan(prefix=""):
        ports.state.delete(keys=[key])
    ports.close()


def all_docs(ports: Ports) -> dict[str, dict[str, Any]]:
    ports.index.refresh(schema=INDICATORS)
    page = ports.index.search(schema=INDICATORS, query=SearchQuery(size=1000))
    return {h["key"]: dict(h) for h in page.hits}


def test_one_record_per_observable_lists_all_three_countries(
    running: tuple[Settings, Ports],
) -> None:
    settings, ports = running
    publish_samples(settings, ports)
    drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
    docs = all_docs(ports)
    for key in (
        "domain-name|evil-login.example",
        "ipv6-addr|2001:db8::1",
        "file:hashes.SHA-256|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ):
        assert docs[key]["countries"] == ["DE", "FR", "NL"], key
        assert len(docs[key]["sources"]) == 3
    idn = [d for d in docs.values() if d["kind"] == "domain-name" and "bcher" in d["value"]]
    assert len(idn) == 1 and idn[0]["countries"] == ["DE", "FR", "NL"]
    assert docs["domain-name|paypal.com"]["countries"] == ["DE"]
    lookalike = [d for d in docs.values() if "homoglyph" in d["flags"]]
    assert len(lookalike) == 1 and lookalike[0]["key"] != "domain-name|paypal.com"
    assert "lookalike:paypal.com" in lookalike[0]["flags"]
    assert docs["domain-name|evil-login.example"]["sighting_count"] == 12
    cross = ports.index.search(
        schema=INDICATORS, query=SearchQuery(ranges={"country_count": (3, None)}, size=100)
    )
    assert cross.total == 4


def test_replaying_the_raw_topic_leaves_the_index_content_unchanged(
    running: tuple[Settings, Ports],
) -> None:
    settings, ports = running
    publish_samples(settings, ports)
    drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
    before = all_docs(ports)
    publish_samples(settings, ports)  # every partner sends everything again
    drain_pipeline(settings=settings, ports=ports, enrichers=enrichers_for(settings))
    assert all_docs(ports) == before
    # Fresh consumer groups read every topic again from its start: a full replay.
    handled = drain_pipeline(
        settings=settings, ports=ports, enrichers=enrichers_for(settings), generation="-replay"
    )
    assert handled["extract"] == 2 * sum(len(v) for v in sample_objects().values())
    assert all_docs(ports) == before
