"""A four-country respond world for end-to-end tests: settings, ports, peers, Celery workers.

`open_world` writes a config (embedded adapters, or real Kafka + Elasticsearch + Redis with a
Celery broker on Redis), opens the ports and hands back a `World` that publishes partners'
reports, drains the pipeline, and reads incidents and tickets as users would.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from enrich.pipeline import enrichers_for
from igsc.app.stages import build_worker, pipeline_stages
from igsc.ports import SearchQuery
from igsc.settings import Settings, load_settings
from igsc.wiring import Ports, open_ports
from ingest.publish import publish_objects
from respond.incidents import INCIDENTS
from respond.model import DeliveryStatus, Ticket
from respond.tickets import TicketStore
from tests.conftest import require_service
from tests.support.respond_peers import SmtpSink, WebhookReceiver, four_countries, indicator_bundle

REPO = Path(__file__).resolve().parents[2]


@dataclass
class World:
    """One installation under test and the peers it delivers to."""

    settings: Settings
    config: Path
    ports: Ports
    receiver: WebhookReceiver
    smtp: SmtpSink
    store: TicketStore
    mode: str

    def publish(self, partner: str, stix_id: str, spelling: str) -> None:
        """One partner's indicator of the domain, as POSTed to the TAXII server."""
        bundle = orjson.loads(indicator_bundle(stix_id=stix_id, spelling=spelling))
        result = publish_objects(
            settings=self.settings,
            stream=self.ports.stream,
            partner=self.settings.partner(partner),
            objects=bundle["objects"],
        )
        assert result.published == 1, result.reasons

    def drain(self, generation: str = "", *, stages: Sequence[str] | None = None) -> int:
        """Run the pipeline's stages (or the named ones) until idle; messages handled.

        A new `generation` reads every topic from the start in new consumer groups."""
        workers = [
            build_worker(
                spec=spec,
                settings=self.settings,
                ports=self.ports,
                enrichers=enrichers_for(self.settings),
                generation=generation,
            )
            for spec in pipeline_stages()
            if stages is None or spec.name in stages
        ]
        handled = 0
        try:
            while taken := sum(worker.drain(idle_polls=1) for worker in workers):
                handled += taken
        finally:
            for worker in workers:
                worker.close()
        return handled

    def incidents(self) -> list[dict[str, Any]]:
        self.ports.index.refresh(schema=INCIDENTS)
        page = self.ports.index.search(schema=INCIDENTS, query=SearchQuery(size=100))
        return [dict(hit) for hit in page.hits]

    def tickets(self) -> dict[str, Ticket]:
        """The stored tickets by team (a team holding two would show up in `store.search()`)."""
        return {t.team: t for t in self.store.search()}


def wait_for(check: Callable[[], bool], *, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def delivered(ticket: Ticket, channel: str, revision: int) -> bool:
    return any(
        d.channel == channel and d.revision == revision and d.status is DeliveryStatus.DELIVERED
        for d in ticket.deliveries
    )


def all_delivered(world: World, teams: tuple[str, ...], revision: int) -> bool:
    tickets = world.tickets()
    return all(
        team in tickets
        and all(delivered(tickets[team], ch, revision) for ch in ("store", "webhook", "email"))
        for team in teams
    )


@contextlib.contextmanager
def open_world(
    *,
    mode: str,
    tmp_path: Path,
    clearance: dict[str, str] | None = None,
    configure: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[World]:
    """A world on the embedded adapters ("embedded") or on the real services ("real")."""
    with WebhookReceiver() as receiver, SmtpSink() as smtp:
        values = four_countries(receiver=receiver, smtp=smtp, clearance=clearance)
        values |= {"home": str(tmp_path / "home"), "namespace": "r" + uuid.uuid4().hex[:10]}
        if mode == "real":
            values |= {
                "stream_url": f"kafka://{require_service('kafka')}",
                "index_url": f"http://{require_service('elasticsearch')}",
                "state_url": f"redis://{require_service('redis')}/0",
                "celery_broker_url": f"redis://{require_service('redis')}/12",
            }
        if configure is not None:
            configure(values)
        config = tmp_path / "igsc.yaml"
        config.write_text(yaml.safe_dump(values))
        settings = load_settings(config_file=config)
        with open_ports(settings) as ports:
            yield World(
                settings=settings,
                config=config,
                ports=ports,
                receiver=receiver,
                smtp=smtp,
                store=TicketStore(state=ports.state, index=ports.index),
                mode=mode,
            )


def celery_worker(
    world: World, *, log: Path, crash_at: tuple[str, Path] | None = None
) -> subprocess.Popen[bytes]:
    """A real `celery worker` process for the world's respond queue.

    `crash_at`: (point, marker) of tests/support/crash_points: the worker SIGKILLs itself
    there, once."""
    celery = ["celery", "-A", "respond.celery_app", "worker", "--pool=solo", "--loglevel=INFO",
              "--without-heartbeat", "--without-gossip", "--without-mingle",
              "-n", f"{world.settings.namespace}-{uuid.uuid4().hex[:6]}@localhost"]  # fmt: skip
    if crash_at is None:
        command = [sys.executable, "-m", *celery]
    else:
        point, marker = crash_at
        command = [sys.executable, "-m", "tests.support.crash_points", point, str(marker), *celery]
    return subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "IGSC_CONFIG": str(world.config), "PYTHONUNBUFFERED": "1"},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child and wait for it (killed if it does not stop in 20 s)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
