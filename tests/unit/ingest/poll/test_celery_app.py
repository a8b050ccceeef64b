"""The Celery app: in-process (eager) without a broker, and beat's schedule."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from igsc.wiring import build_stream
from ingest import celery_app
from ingest.celery_app import TASK_NAME, make_celery
from tests.unit.ingest.poll.taxii_fakes import (
    COLLECTION,
    LocalServer,
    TinyTaxii,
    indicator,
    make_settings,
    partner,
    read_topic,
)


def test_without_a_broker_the_task_runs_in_process_and_publishes(tmp_path: Path) -> None:
    tiny = TinyTaxii([indicator(i) for i in range(7)])
    with LocalServer(tiny) as server:
        tiny.base = server.base
        url = f"{server.base}/taxii2/"
        settings = make_settings(home=tmp_path, partners=[partner("cert-c", url)])
        app = make_celery(settings=settings)
        assert app.conf.task_always_eager is True
        assert app.conf.broker_url == "memory://localhost/"
        result = app.tasks[TASK_NAME].delay("cert-c", url, COLLECTION).get(timeout=30)
    assert result["error"] is None and result["published"] == 7
    assert result["new_checkpoint"] == tiny.last_header
    raw = read_topic(build_stream(settings), f"{settings.namespace}.raw")
    assert sorted(e["object"]["id"] for e in raw) == sorted(indicator(i)["id"] for i in range(7))


def test_beat_has_one_entry_per_partner_collection_at_its_interval(tmp_path: Path) -> None:
    partners = [
        partner("cert-d", "https://d.example/taxii2/", poll_interval_s=60,
                collections=["c-1", "c-2"]),
        partner("cert-e", "https://e.example/api1/", poll_interval_s=900, collections=["c-3"]),
        {"id": "cert-f", "name": "F", "country": "PL", "collections": ["c-4"]},  # push only
    ]  # fmt: skip
    settings = make_settings(home=tmp_path, partners=partners)
    schedule = make_celery(settings=settings).conf.beat_schedule
    got = {
        tuple(entry["args"]): entry["schedule"]
        for entry in schedule.values()
        if entry["task"] == TASK_NAME
    }
    assert got == {
        ("cert-d", "https://d.example/taxii2/", "c-1"): timedelta(seconds=60),
        ("cert-d", "https://d.example/taxii2/", "c-2"): timedelta(seconds=60),
        ("cert-e", "https://e.example/api1/", "c-3"): timedelta(seconds=900),
    }
    assert len(schedule) == 3


def test_with_a_broker_url_tasks_are_not_eager(tmp_path: Path) -> None:
    settings = make_settings(home=tmp_path, partners=[])
    settings = settings.model_copy(update={"celery_broker_url": "redis://127.0.0.1:6379/9"})
    app = make_celery(settings=settings)
    assert not app.conf.task_always_eager
    assert app.conf.broker_url == "redis://127.0.0.1:6379/9"
    assert app.conf.task_default_queue == f"{settings.namespace}.poll"


def test_module_app_for_the_celery_cli_reads_igsc_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "igsc.yaml"
    entry = partner("cert-g", "https://g.example/taxii2/", poll_interval_s=120)
    config.write_text(
        yaml.safe_dump({"home": str(tmp_path), "namespace": "cli", "partners": [entry]})
    )
    monkeypatch.setenv("IGSC_CONFIG", str(config))
    monkeypatch.setattr(celery_app, "_app", None)
    app = celery_app.app
    assert celery_app.app is app  # built once per process
    (entry_,) = app.conf.beat_schedule.values()
    assert entry_["args"] == ("cert-g", "https://g.example/taxii2/", COLLECTION)
    assert entry_["schedule"] == timedelta(seconds=120)
    assert app.conf.task_default_queue == "cli.poll"
