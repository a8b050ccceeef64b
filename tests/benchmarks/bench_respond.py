"""The respond half in the benchmark: its configuration, a webhook receiver, the crossings of
the latency phase, and its figures (CPU share, incidents, tickets, crossing to ticket stored).

Configuration: the shipped example rules and playbooks (igsc/app/config_example.yaml, read as
they ship) and one on-call team per bench partner country, each with the ticket store and a
Standard Webhooks channel to a receiver in the bench runner (its secret is generated per run
and passed to the workers in the environment, never written to a file).

The e2e corpus crosses borders by itself: `OVERLAP` (30%) of each partner's indicators name
observables every partner reports, so every shared observable is reported from all bench
countries and opens one incident of the cross-border rule (3 countries within 24 h).

The latency phase POSTs observables nobody reported before, from one partner: none of them
would cross. So every CROSS_EVERY-th of them is first reported by two partners in two other
countries (published to the raw topic before the phase, and waited for until searchable);
the POSTer's own report, sent during the phase, is then the third country: the crossing.
Crossing to ticket stored = the moment the ticket store recorded the last of the incident's
tickets (the `store` delivery record's `delivered_at`, written by the Celery worker after the
ticket's compare-and-set in Redis and its mirror in the tickets index) minus the moment the
crossing report's POST was sent (the bench runner's clock; same machine, same clock).
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import Elasticsearch
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from igsc.app.corpus import indicator, tlp_marking
from igsc.partners import Partner
from igsc.stix_time import instant_ns
from igsc.tlp import Tlp
from tests.benchmarks.bench_config import CROSS_EVERY, REPO
from tests.benchmarks.bench_latency import SAMPLE_EVERY
from tests.benchmarks.bench_search import percentile

EXAMPLE_CONFIG = REPO / "igsc/app/config_example.yaml"
CROSS_RULE = "cross-border-campaign"
BROKER_DB = 14  # the Celery broker's Redis database: queues are named by the run's namespace
SECRET_ENV = "IGSC_BENCH_WEBHOOK_SECRET"  # not BENCH_*: those are printed with the command
TARGET_CPU_SHARE = 0.15
TARGET_P99_S = 2.0
SETTINGS_KEYS = ("rules", "playbooks", "teams", "respond", "celery_broker_url")


def broker_url(redis_host: str) -> str:
    return f"redis://{redis_host}/{BROKER_DB}"


def webhook_secret() -> str:
    """This run's webhook secret, made once and shared with every child via the environment."""
    if SECRET_ENV not in os.environ:
        os.environ[SECRET_ENV] = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    return os.environ[SECRET_ENV]


def team_id(partner: Partner) -> str:
    return f"{partner.country.lower()}-oncall"


def respond_values(
    *, partners: Sequence[Partner], webhook_url: str | None, broker: str | None
) -> dict[str, Any]:
    """igsc settings values: the shipped rules and playbooks, one team per partner country."""
    example = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    teams = []
    for partner in partners:
        team: dict[str, Any] = {
            "id": team_id(partner),
            "name": f"{partner.name} on-call",
            "country": partner.country,
            "partner": partner.id,
            "clearance": "amber",
        }
        if webhook_url:
            team["channels"] = {
                "webhook": {
                    "url": f"{webhook_url}/{team['id']}",
                    "secret": {"env": SECRET_ENV},
                    "allow_private_network": True,
                }
            }
        teams.append(team)
    values: dict[str, Any] = {
        "rules": example["rules"],
        "playbooks": example["playbooks"],
        "teams": teams,
        "respond": {
            "allowlist": example["respond"]["allowlist"],
            "critical_sectors": example["respond"]["critical_sectors"],
        },
    }
    if broker:
        values["celery_broker_url"] = broker
    return values


@dataclass
class WebhookSink:
    """A team's webhook receiver: verifies each Standard Webhooks signature, answers 204."""

    secret: str
    verified: int = 0
    unverified: int = 0
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebhookSink:
        sink, hook = self, Webhook(self.secret)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    hook.verify(body, headers)
                    ok = True
                except WebhookVerificationError:
                    ok = False
                with sink._lock:
                    if ok:
                        sink.verified += 1
                    else:
                        sink.unverified += 1
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="webhooks", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {"verified": self.verified, "unverified": self.unverified}


@contextmanager
def webhook_sink() -> Iterator[WebhookSink]:
    sink = WebhookSink(secret=webhook_secret()).start()
    try:
        yield sink
    finally:
        sink.stop()


def crossing_positions(count: int, every: int) -> list[int]:
    """Which of the latency phase's indicators cross: one in `every`, never a watched one
    (the watcher would find its observable searchable already, reported by the others)."""
    positions = [p + 1 if p % SAMPLE_EVERY == 0 else p for p in range(every // 2, count, every)]
    return [p for p in positions if p < count]


def seed_crossings(
    *,
    config: Path,
    made: list[tuple[dict[str, Any], tuple[str, ...]]],
    others: Sequence[Partner],
    es_url: str,
    index_name: str,
    every: int = CROSS_EVERY,
    timeout_s: float = 120.0,
) -> dict[str, str]:
    """Two other countries' reports of every crossing observable, published to the raw topic
    and waited for until searchable with both; {stix id of the POSTer's report: key}."""
    from igsc.settings import load_settings
    from igsc.wiring import build_stream
    from ingest.publish import publish_objects

    positions = crossing_positions(len(made), every)
    chosen = {made[p][0]["id"]: made[p][1][0] for p in positions}
    patterns = {made[p][1][0]: made[p][0]["pattern"] for p in positions}
    settings = load_settings(config_file=config)
    stream = build_stream(settings)
    try:
        for partner in others:
            objects = [
                indicator(
                    partner=partner,
                    name=f"seed-{key}",
                    pattern=pattern,
                    marking=tlp_marking(tlp=Tlp.GREEN),
                    confidence=70,
                )
                for key, pattern in patterns.items()
            ]
            for start in range(0, len(objects), 500):
                publish_objects(
                    settings=settings,
                    stream=stream,
                    partner=settings.partner(partner.id),
                    objects=objects[start : start + 500],
                )
    finally:
        stream.close()
    _wait_reported(
        keys=list(patterns), by=len(others), es_url=es_url, index=index_name, timeout_s=timeout_s
    )
    return chosen


def _wait_reported(*, keys: list[str], by: int, es_url: str, index: str, timeout_s: float) -> None:
    es = Elasticsearch(es_url, request_timeout=30)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            found = 0
            for start in range(0, len(keys), 1000):
                found += int(
                    es.count(
                        index=index,
                        query={
                            "bool": {
                                "filter": [
                                    {"ids": {"values": keys[start : start + 1000]}},
                                    {"range": {"partner_count": {"gte": by}}},
                                ]
                            }
                        },
                    )["count"]
                )
            if found == len(keys):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {found} of {len(keys)} seeded observables searchable")
            time.sleep(0.5)
    finally:
        es.close()


def crossing_latency(
    *,
    es_url: str,
    namespace: str,
    sent: dict[str, tuple[float, str]],
    teams_per_incident: int,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Crossing (the third country's POST sent) → every affected team's ticket stored.

    `sent`: stix id of each crossing report → (POST sent at, observable key)."""
    by_key = {key: at for at, key in sent.values()}
    es = Elasticsearch(es_url, request_timeout=30)
    deadline = time.monotonic() + timeout_s
    incidents: dict[str, dict[str, Any]] = {}
    tickets: dict[str, list[dict[str, Any]]] = {}
    try:
        while True:
            incidents = _incidents_of(es, namespace, list(by_key))
            tickets = _tickets_of(es, namespace, list(incidents))
            stored = sum(
                1
                for found in tickets.values()
                if len(found) >= teams_per_incident and all(_stored_at(t) for t in found)
            )
            if stored >= len(by_key) or time.monotonic() > deadline:
                break
            time.sleep(1.0)
    finally:
        es.close()
    to_ticket, to_webhook, opened_to_ticket = [], [], []
    for incident_id, incident in incidents.items():
        crossed = by_key[incident["subject"]]
        found = tickets.get(incident_id, [])
        if len(found) < teams_per_incident or not all(_stored_at(t) for t in found):
            continue
        last = max(_stored_at(t) or 0.0 for t in found)
        to_ticket.append(last - crossed)
        opened_to_ticket.append(last - instant_ns(incident["opened_at"]) / 1e9)
        hooks = [_delivered_at(t, "webhook") for t in found]
        if all(hooks):
            to_webhook.append(max(h or 0.0 for h in hooks) - crossed)
    to_ticket.sort()
    return {
        "crossings_posted": len(by_key),
        "incidents_opened": len(incidents),
        "incidents_with_all_tickets": len(to_ticket),
        "tickets_stored": sum(len(t) for t in tickets.values()),
        "teams_per_incident": teams_per_incident,
        "p50_s": _q(to_ticket, 50),
        "p90_s": _q(to_ticket, 90),
        "p99_s": _q(to_ticket, 99),
        "max_s": round(to_ticket[-1], 3) if to_ticket else None,
        "opened_at_to_ticket": {
            "p50_s": _q(opened_to_ticket, 50),
            "p99_s": _q(opened_to_ticket, 99),
        },
        "to_webhook_delivered": {
            "n": len(to_webhook),
            "p50_s": _q(to_webhook, 50),
            "p99_s": _q(to_webhook, 99),
        },
    }


def _q(values: list[float], q: float) -> float | None:
    return round(percentile(sorted(values), q), 3) if values else None


def _incidents_of(es: Elasticsearch, namespace: str, keys: list[str]) -> dict[str, dict[str, Any]]:
    index = f"{namespace}-incidents"
    if not es.indices.exists(index=index):
        return {}
    es.indices.refresh(index=index)
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 1000):
        found = es.search(
            index=index,
            query={
                "bool": {
                    "filter": [
                        {"terms": {"subject": keys[start : start + 1000]}},
                        {"term": {"rule": CROSS_RULE}},
                    ]
                }
            },
            source_includes=["id", "subject", "opened_at", "epoch"],
            size=10_000,
        )
        for hit in found["hits"]["hits"]:
            doc = hit["_source"]
            if doc.get("epoch") == 1:
                out[doc["id"]] = doc
    return out


def _tickets_of(
    es: Elasticsearch, namespace: str, incident_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    index = f"{namespace}-tickets"
    if not incident_ids or not es.indices.exists(index=index):
        return {}
    es.indices.refresh(index=index)
    out: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(incident_ids), 500):
        found = es.search(
            index=index,
            query={"terms": {"incident": incident_ids[start : start + 500]}},
            source_includes=["id", "incident", "team", "created_at", "deliveries"],
            size=10_000,
        )
        for hit in found["hits"]["hits"]:
            out.setdefault(hit["_source"]["incident"], []).append(hit["_source"])
    return out


def _delivered_at(ticket: dict[str, Any], channel: str) -> float | None:
    for record in ticket.get("deliveries") or ():
        if (
            record.get("channel") == channel
            and record.get("purpose") == "ticket"
            and record.get("revision") == 1
            and record.get("delivered_at")
        ):
            return instant_ns(record["delivered_at"]) / 1e9
    return None


def _stored_at(ticket: dict[str, Any]) -> float | None:
    return _delivered_at(ticket, "store")


def cpu_share(cpu: dict[str, Any], *, mode: str) -> dict[str, Any]:
    """What respond (its workers and, in real mode, the Celery workers) adds to the pipeline's
    Python CPU (poller, extract, merge) over the same corpus, so also per indicator.

    `cpu`: an E2EResult's windows. The rest of the pipeline counts until the last document
    was searchable (its work is done then; it only idles through respond's drain), respond
    until it drained."""
    rest_groups = (cpu.get("to_searchable") or {}).get("groups_core_s") or {}
    groups = (cpu.get("to_respond_drained") or {}).get("groups_core_s") or {}
    worker = groups.get(f"{mode}-respond", 0.0) + groups.get(f"{mode}-respond-threats", 0.0)
    celery = groups.get(f"{mode}-celery", 0.0)
    respond = worker + celery
    rest = sum(rest_groups.get(f"{mode}-{name}", 0.0) for name in ("poller", "extract", "merge"))
    services = ("service: elasticsearch", "service: kafka", "service: redis")
    return {
        "respond_core_s": round(respond, 2),
        "respond_worker_core_s": worker,
        "celery_worker_core_s": celery,
        "rest_of_pipeline_core_s": round(rest, 2),
        # Not in the share (it is Python CPU only): what the services used during the drain.
        "services_core_s_to_searchable": {s: rest_groups.get(s) for s in services},
        "services_core_s_to_respond_drained": {s: groups.get(s) for s in services},
        # respond / (poller + extract + merge): the target's "adds at most 15%"
        "added_share": round(respond / rest, 3) if rest else None,
        # respond / (poller + extract + merge + respond)
        "share_of_total": round(respond / (rest + respond), 3) if rest + respond else None,
    }


def purge_queue(*, broker: str, namespace: str) -> int:
    """Drop the respond tasks still waiting (a run that did not drain), so the next phase
    measures its own tickets, not this backlog; how many were dropped."""
    import redis

    client = redis.Redis.from_url(broker, socket_timeout=30)
    try:
        queues = [f"{namespace}.respond", f"{namespace}.respond.tickets"]
        waiting = sum(int(client.llen(queue)) for queue in queues)
        client.delete(*queues)
        return waiting
    finally:
        client.close()


def clean_broker(*, broker: str, namespace: str) -> None:
    """Remove the run's Celery queue (and kombu's bindings of it) from the broker database."""
    import redis

    client = redis.Redis.from_url(broker, socket_timeout=30)
    try:
        mine = list(client.scan_iter(match=f"*{namespace}.respond*", count=1000))
        if mine:
            client.unlink(*mine)
    finally:
        client.close()
