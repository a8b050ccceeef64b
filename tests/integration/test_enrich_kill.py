"""Killing enrich workers mid-batch (SIGKILL, real Kafka/Elasticsearch/Redis) loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from enrich.pipeline import enrichers_for
from enrich.schema import INDICATORS
from igsc.app.corpus import corpus
from igsc.app.samples import SAMPLE_PARTNERS
from igsc.app.stages import drain_pipeline
from igsc.ports import Index, SearchQuery
from igsc.settings import Settings
from igsc.wiring import open_ports
from ingest.publish import publish_objects
from tests.support.modes import pipeline_settings

PER_PARTNER = 1500


def publish_corpus(settings: Settings) -> None:
    ports = open_ports(settings)
    by_partner: dict[str, list[dict[str, Any]]] = {}
    for partner, obj in corpus(
        partners=list(SAMPLE_PARTNERS), per_partner=PER_PARTNER, overlap=0.4, seed=7
    ):
        by_partner.setdefault(partner.id, []).append(obj)
    for partner in SAMPLE_PARTNERS:
        publish_objects(
            settings=settings, stream=ports.stream, partner=partner, objects=by_partner[partner.id]
        )
    ports.close()


def _without_arrivals(hit: Any) -> dict[str, Any]:
    doc = {k: v for k, v in hit.items() if k != "version"}
    for part in ("sources", "sightings"):
        entries = doc.get(part) or ()
        doc[part] = [{k: v for k, v in e.items() if k != "received_at"} for e in entries]
    return doc


def everything(index: Index) -> dict[str, dict[str, Any]]:
    index.refresh(schema=INDICATORS)
    docs: dict[str, dict[str, Any]] = {}
    query = SearchQuery(size=1000)
    while True:
        page = index.search(schema=INDICATORS, query=query)
        # Versions count merge steps, which depend on batch boundaries; content must not.
        # Arrival times belong to each publication (the reference is published separately).
        docs.update({h["key"]: _without_arrivals(h) for h in page.hits})
        if page.after is None:
            return docs
        query = SearchQuery(size=1000, after=page.after)


def start_worker(config: Path, stage: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "igsc.app.cli", "--config", str(config), "worker", stage],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_count(index: Index, *, want: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    count = -1
    while time.monotonic() < deadline:
        index.refresh(schema=INDICATORS)
        count = index.search(schema=INDICATORS, query=SearchQuery(size=1)).total
        if count >= want:
            return count
        time.sleep(0.5)
    return count


def test_sigkill_mid_batch_then_restart_gives_the_reference_index(
    tmp_path: Path, unique: str
) -> None:
    reference_settings = pipeline_settings(
        mode="embedded", home=tmp_path / "ref", namespace="ref", partners=SAMPLE_PARTNERS
    )
    publish_corpus(reference_settings)
    ref_ports = open_ports(reference_settings)
    drain_pipeline(
        settings=reference_settings, ports=ref_ports, enrichers=enrichers_for(reference_settings)
    )
    expected = everything(ref_ports.index)
    ref_ports.close()
    assert len(expected) > PER_PARTNER

    real = pipeline_settings(
        mode="real", home=tmp_path / "real", namespace=unique, partners=SAMPLE_PARTNERS
    )
    config = tmp_path / "igsc.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "home": str(real.home),
                "namespace": unique,
                "stream_url": real.stream_url,
                "index_url": real.index_url,
                "state_url": real.state_url,
                "stream": {"batch_size": 150, "partitions": 4, "poll_timeout_s": 0.5},
                "partners": [p.model_dump(mode="json") for p in SAMPLE_PARTNERS],
            }
        )
    )
    publish_corpus(real)
    log = tmp_path / "workers.log"
    workers = {s: start_worker(config, s, log) for s in ("extract", "merge")}
    ports = open_ports(real)
    try:
        ports.index.ensure(schema=INDICATORS)
        partial = wait_for_count(ports.index, want=len(expected) // 5, timeout_s=120)
        assert 0 < partial < len(expected), f"the kill must land mid-run ({partial} indexed)"
        for stage in ("extract", "merge"):
            workers[stage].send_signal(signal.SIGKILL)
            workers[stage].wait(timeout=10)
            workers[stage] = start_worker(config, stage, log)
        final = wait_for_count(ports.index, want=len(expected), timeout_s=240)
        assert final == len(expected), log.read_text()[-3000:]
        time.sleep(3)  # let redelivered batches land: they must change nothing
        got = everything(ports.index)
        differing = sorted(k for k in expected.keys() | got.keys() if got.get(k) != expected.get(k))
        assert not differing, (
            f"{len(differing)} documents differ; first: {differing[0]}\n"
            f"expected {expected.get(differing[0])}\ngot {got.get(differing[0])}"
        )
    finally:
        for proc in workers.values():
            proc.terminate()
        for proc in workers.values():
            proc.wait(timeout=30)
        ports.index.drop(schema=INDICATORS)
        ports.state.delete(keys=ports.state.scan(prefix=""))
        ports.close()
