"""The poll task through a real Redis broker and a real Celery worker process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from igsc.settings import Settings, load_settings
from igsc.wiring import build_stream
from ingest.celery_app import TASK_NAME, make_celery
from tests.conftest import require_service
from tests.unit.ingest.poll.taxii_fakes import (
    COLLECTION,
    LocalServer,
    TinyTaxii,
    indicator,
    partner,
    read_topic,
)

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[tuple[Settings, TinyTaxii, LocalServer]]:
    """A TAXII server, a YAML config naming it, and a Celery worker started on that config."""
    host_port = require_service("redis")
    tiny = TinyTaxii([indicator(i) for i in range(60)])
    with LocalServer(tiny) as server:
        tiny.base = server.base
        config = {
            "home": str(tmp_path / "home"),
            "namespace": "t" + uuid.uuid4().hex[:10],
            "celery_broker_url": f"redis://{host_port}/13",
            "partners": [partner("cert-r", f"{server.base}/taxii2/")],
            "poll": {"page_size": 25},
        }
        path = tmp_path / "igsc.yaml"
        path.write_text(yaml.safe_dump(config))
        settings = load_settings(config_file=path)
        log = (tmp_path / "worker.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ingest.celery_app", "worker",
             "--pool=solo", "--loglevel=INFO", "--without-heartbeat", "--without-gossip",
             "--without-mingle", "-n", f"{config['namespace']}@localhost"],
            cwd=REPO, env={**os.environ, "IGSC_CONFIG": str(path)},
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield settings, tiny, server
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


def test_poll_task_runs_in_a_worker_and_publishes_to_the_shared_stream(
    worker: tuple[Settings, TinyTaxii, LocalServer], tmp_path: Path
) -> None:
    settings, tiny, server = worker
    app = make_celery(settings=settings)
    assert not app.conf.task_always_eager
    task = app.tasks[TASK_NAME]
    url = f"{server.base}/taxii2/"
    try:
        result = task.delay("cert-r", url, COLLECTION).get(timeout=90)
    except Exception:
        print((tmp_path / "worker.log").read_text()[-4000:])
        raise
    assert result["error"] is None, result["error"]
    assert (result["pages"], result["published"]) == (3, 60)
    assert result["new_checkpoint"] == tiny.last_header

    tiny.add([indicator(500 + i) for i in range(5)])
    again = task.delay("cert-r", url, COLLECTION).get(timeout=90)
    assert again["published"] == 5 and again["old_checkpoint"] == result["new_checkpoint"]

    envelopes = read_topic(build_stream(settings), f"{settings.namespace}.raw")
    ids = [e["object"]["id"] for e in envelopes]
    assert len(ids) == len(set(ids)) == 65
    assert {e["partner"] for e in envelopes} == {"cert-r"}
