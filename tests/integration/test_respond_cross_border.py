"""Cross-border response end to end, on real Kafka + Elasticsearch + Redis with a real Celery
worker process, and on the embedded defaults with Celery in-process.

Partners in three countries report one domain, each spelling it differently: one incident,
one ticket per affected country's team, delivered to the store, to a webhook receiver that
verifies signatures with the `standardwebhooks` package, and over SMTP (aiosmtpd). A fourth
country updates the incident and gets the only new ticket. A team not cleared for TLP:RED
reads the RED report as a count; the reporting partner's team reads it in full. An
unacknowledged ticket escalates once after its SLA (a test clock), and replaying every topic
changes nothing.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from igsc.stix_time import format_us, instant_ns
from respond.celery_app import make_respond_celery
from respond.delivery import first_message_id
from respond.model import TicketState
from tests.conftest import require_service
from tests.support.respond_peers import text_and_html
from tests.support.respond_world import (
    REPO,
    World,
    all_delivered,
    celery_worker,
    open_world,
    stop,
    wait_for,
)

IT_REPORT = "indicator--c3333333-3333-4333-8333-333333333333"
SUBJECT = "domain-name|evil-campaign.example"
TEAMS = ("de-oncall", "fr-oncall", "it-oncall")


def it_reports_red(values: dict[str, Any]) -> None:
    for partner in values["partners"]:
        if partner["id"] == "cert-it":
            partner["default_tlp"] = "red"  # its unmarked reports are TLP:RED


@pytest.fixture(params=["embedded", "real"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with open_world(
        mode=request.param,
        tmp_path=tmp_path,
        clearance={"it-oncall": "red"},
        configure=it_reports_red,
    ) as made:
        worker = celery_worker(made, log=tmp_path / "celery.log") if made.mode == "real" else None
        try:
            yield made
        finally:
            if worker is not None:
                stop(worker)


def console_consumer(topic: str, *, want: int) -> list[tuple[str, dict[str, Any]]]:
    """(key, JSON value) of each message, read by Kafka's own console consumer."""
    done = subprocess.run(
        [str(REPO / "deploy/local/services"), "kafka-tool",
         "org.apache.kafka.tools.consumer.ConsoleConsumer",
         "--bootstrap-server", require_service("kafka"), "--topic", topic, "--from-beginning",
         "--max-messages", str(want), "--timeout-ms", "20000",
         "--property", "print.key=true", "--property", "key.separator=\t"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == want, (done.stdout, done.stderr)
    return [(key, orjson.loads(value)) for key, value in (ln.split("\t", 1) for ln in lines)]


def test_three_countries_open_one_incident_and_each_team_gets_one_ticket(world: World) -> None:
    world.publish(
        "cert-de", "indicator--a1111111-1111-4111-8111-111111111111", "Evil-Campaign.Example"
    )
    world.publish(
        "cert-fr", "indicator--b2222222-2222-4222-8222-222222222222", "evil-campaign.example."
    )
    world.publish("cert-it", IT_REPORT, "EVIL-CAMPAIGN.EXAMPLE")
    world.drain()
    wait_for(lambda: all_delivered(world, TEAMS, revision=1), what="three delivered tickets")

    [incident] = world.incidents()
    assert incident["subject"] == SUBJECT
    assert incident["countries"] == ["DE", "FR", "IT"]
    tickets = world.tickets()
    assert sorted(tickets) == sorted(TEAMS)
    assert {t.incident for t in tickets.values()} == {incident["id"]}
    for team in TEAMS:
        [hook] = world.receiver.of(team)
        assert hook.payload is not None and hook.payload["type"] == "ticket.created"
        assert hook.payload["data"]["id"] == tickets[team].id
        assert hook.payload["data"]["body"] == tickets[team].body  # exactly as stored
        [mail] = world.smtp.to(f"oncall@{team[:2]}.example")
        assert mail["Message-ID"] == first_message_id(ticket_id=tickets[team].id)
        assert text_and_html(mail)[0] == tickets[team].body

    # TLP: FR (cleared for AMBER) sees IT's RED report as a count, nothing of it beyond that.
    [fr_hook] = world.receiver.of("fr-oncall")
    fr_text, fr_html = text_and_html(world.smtp.to("oncall@fr.example")[0])
    for delivered_text in (fr_hook.body.decode(), fr_text, fr_html):
        assert "1 further report under TLP:RED" in delivered_text
        assert "cert-it" not in delivered_text
        assert IT_REPORT not in delivered_text
        assert not re.search(r"\bIT\b", delivered_text)
    it_text, _ = text_and_html(world.smtp.to("oncall@it.example")[0])
    assert IT_REPORT in it_text and "cert-it" in it_text and "further report" not in it_text

    # A fourth country updates the incident; only its team gets a new ticket.
    world.publish(
        "cert-es", "indicator--d4444444-4444-4444-8444-444444444444", "evil-campaign.example"
    )
    world.drain()
    wait_for(lambda: all_delivered(world, ("es-oncall",), revision=1), what="the ES ticket")
    wait_for(lambda: all_delivered(world, TEAMS, revision=2), what="three updated tickets")
    [updated] = world.incidents()
    assert updated["id"] == incident["id"] and updated["countries"] == ["DE", "ES", "FR", "IT"]
    if world.mode == "real":
        # The incidents topic is for other tools: one keyed JSON message per change.
        changes = console_consumer(f"{world.settings.namespace}.incidents", want=2)
        assert [key for key, _ in changes] == [incident["id"]] * 2
        assert [(c["id"], c["version"], c["countries"]) for _, c in changes] == [
            (incident["id"], incident["version"], ["DE", "FR", "IT"]),
            (incident["id"], updated["version"], ["DE", "ES", "FR", "IT"]),
        ]
    tickets = world.tickets()
    assert len(world.store.search()) == 4 and sorted(tickets) == [
        "de-oncall",
        "es-oncall",
        "fr-oncall",
        "it-oncall",
    ]
    assert [a.payload["type"] for a in world.receiver.of("es-oncall")] == ["ticket.created"]  # type: ignore[index]
    for team in TEAMS:
        events = [a.payload["type"] for a in world.receiver.of(team)]  # type: ignore[index]
        assert events == ["ticket.created", "ticket.updated"]
        [first, reply] = world.smtp.to(f"oncall@{team[:2]}.example")
        assert reply["In-Reply-To"] == first["Message-ID"]

    # SLA: with a test clock past the first step's due time, every unacknowledged ticket
    # escalates once; an acknowledged one never does; a second sweep sends nothing.
    world.store.acknowledge(
        ticket_id=tickets["de-oncall"].id,
        by="alice",
        note="on it",
        now=format_us(time.time_ns() // 1000),
    )
    app = make_respond_celery(
        settings=world.settings, ports=world.ports if world.mode == "embedded" else None
    )
    late = format_us(max(instant_ns(t.due_at) for t in tickets.values()) // 1000 + 1_000_000)
    assert app.sweep(now=late) == 3
    wait_for(
        lambda: all(
            world.receiver.of(f"{t}-escalation") for t in ("es-oncall", "fr-oncall", "it-oncall")
        ),
        what="three escalations",
    )
    assert app.sweep(now=late) == 0
    time.sleep(1.0 if world.mode == "real" else 0)
    for team in ("es-oncall", "fr-oncall", "it-oncall"):
        [escalated] = world.receiver.of(f"{team}-escalation")
        assert escalated.payload["type"] == "ticket.escalated"  # type: ignore[index]
    assert world.receiver.of("de-oncall-escalation") == []

    # Replaying every topic from the start (new consumer groups) changes nothing.
    arrivals, mails = len(world.receiver.arrivals), len(world.smtp.messages)
    before = {t.id: (t.revision, t.seq) for t in world.store.search()}
    world.drain(generation="-replay")
    time.sleep(3.0 if world.mode == "real" else 0)
    [replayed] = world.incidents()
    assert replayed["version"] == updated["version"]
    assert {t.id: (t.revision, t.seq) for t in world.store.search()} == before
    assert (len(world.receiver.arrivals), len(world.smtp.messages)) == (arrivals, mails)
    assert all(t.state is not TicketState.RESOLVED for t in world.store.search())
