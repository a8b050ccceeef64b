"""SIGKILL on the respond side, on real Kafka + Elasticsearch + Redis with real worker processes.

- The Celery worker is killed right after storing the first team's ticket (a crash point),
  then again while a webhook request is in flight (the receiver holds it): after restarts,
  exactly one ticket per team, and the redelivered webhook carries the same `webhook-id`.
- The respond worker (`igsc worker respond`) is killed mid-batch, after queueing the ticket
  work and before the incidents topic, its correlation state and its offsets: restarted, it
  recomputes the same incident and still one ticket per team.
Both end with a replay of every topic from the start, which changes no incident, no ticket
and delivers nothing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from igsc.wiring import topic
from respond.model import INCIDENTS_TOPIC, Ticket
from tests.support.respond_world import (
    REPO,
    World,
    all_delivered,
    celery_worker,
    open_world,
    stop,
    wait_for,
)

TEAMS = ("de-oncall", "fr-oncall", "it-oncall")
REPORTS = (
    ("cert-de", "indicator--a1111111-1111-4111-8111-111111111111", "Evil-Campaign.Example"),
    ("cert-fr", "indicator--b2222222-2222-4222-8222-222222222222", "evil-campaign.example."),
    ("cert-it", "indicator--c3333333-3333-4333-8333-333333333333", "EVIL-CAMPAIGN.EXAMPLE"),
)
VISIBILITY_TIMEOUT_S = 5  # how soon Redis hands a dead worker's task to the next one


def quick_redelivery(values: dict[str, Any]) -> None:
    values["respond"]["delivery"] |= {"visibility_timeout_s": VISIBILITY_TIMEOUT_S}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(mode="real", tmp_path=tmp_path, configure=quick_redelivery) as made:
        yield made


def killed(process: subprocess.Popen[bytes], *, timeout_s: float = 60) -> None:
    """Wait for a child that is meant to die by SIGKILL, and check that it did."""
    process.wait(timeout=timeout_s)
    assert process.returncode == -signal.SIGKILL


def one_ticket_per_team(world: World) -> dict[str, Ticket]:
    stored = world.store.search()
    assert sorted(t.team for t in stored) == sorted(TEAMS), [t.id for t in stored]
    return {t.team: t for t in stored}


def webhook_ids(world: World, team: str) -> set[str]:
    return {a.webhook_id for a in world.receiver.of(team, event="ticket.created")}


def assert_replay_changes_nothing(world: World) -> None:
    incidents = [(i["id"], i["version"]) for i in world.incidents()]
    tickets = {t.id: (t.revision, t.seq) for t in world.store.search()}
    sent = (len(world.receiver.arrivals), len(world.smtp.messages))
    world.drain(generation="-replay")
    time.sleep(3.0)  # the Celery worker would have delivered anything queued by now
    assert [(i["id"], i["version"]) for i in world.incidents()] == incidents
    assert {t.id: (t.revision, t.seq) for t in world.store.search()} == tickets
    assert (len(world.receiver.arrivals), len(world.smtp.messages)) == sent


def incident_changes(world: World) -> list[dict[str, Any]]:
    """Every message on the incidents topic, read by a new consumer group."""
    consumer = world.ports.stream.consumer(
        group=f"reader-{uuid.uuid4().hex[:8]}", topics=[topic(world.settings, INCIDENTS_TOPIC)]
    )
    try:
        found: list[dict[str, Any]] = []
        while batch := consumer.poll(max_records=100, timeout_s=2.0):
            found += [orjson.loads(m.value) for m in batch]
        return found
    finally:
        consumer.close()


def respond_worker(
    world: World, *, log: Path, crash_at: Path | None = None
) -> subprocess.Popen[bytes]:
    """`igsc worker respond`, with the incidents-dispatched crash point armed if asked."""
    igsc = ["igsc.app.cli", "--config", str(world.config), "worker", "respond"]
    armed = ["tests.support.crash_points", "incidents-dispatched", str(crash_at)]
    return subprocess.Popen(
        [sys.executable, "-m", *(armed if crash_at is not None else []), *igsc],
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_celery_worker_killed_while_creating_tickets_and_mid_webhook(
    world: World, tmp_path: Path
) -> None:
    log = tmp_path / "celery.log"
    for partner, stix_id, spelling in REPORTS:
        world.publish(partner, stix_id, spelling)

    # 1. Killed after the first team's ticket was stored, before any delivery was queued.
    marker = tmp_path / "ticket-stored.crashed"
    first = celery_worker(world, log=log, crash_at=("ticket-stored", marker))
    world.drain()
    killed(first)
    [stored] = world.store.search()
    assert stored.team == "de-oncall" and world.receiver.arrivals == []
    print(f"injected: SIGKILL of the Celery worker after storing {stored.id}")

    # 2. Restarted, it gets the task again and is killed while a webhook is in flight.
    world.receiver.hold.set()
    second = celery_worker(world, log=log)
    started = time.monotonic()
    wait_for(lambda: len(world.receiver.arrivals) >= 1, what="a held webhook", timeout_s=90)
    redelivered_after_s = time.monotonic() - started
    held = world.receiver.arrivals[0]
    second.send_signal(signal.SIGKILL)
    killed(second)
    world.receiver.hold.clear()
    print(f"injected: SIGKILL of the Celery worker mid-webhook to {held.team} ({held.webhook_id})")

    # 3. Restarted again: everything is delivered, once per ticket, under stable ids.
    third = celery_worker(world, log=log)
    try:
        started = time.monotonic()
        wait_for(
            lambda: all_delivered(world, TEAMS, revision=1), what="every delivery", timeout_s=120
        )
        recovered_s = time.monotonic() - started
        tickets = one_ticket_per_team(world)
        again = world.receiver.of(held.team, event="ticket.created")
        assert len(again) >= 2, "the interrupted webhook was sent again"
        assert {a.webhook_id for a in again} == {held.webhook_id}
        for team in TEAMS:
            assert len(webhook_ids(world, team)) == 1, team
            mails = world.smtp.to(f"oncall@{team[:2]}.example")
            assert mails and len({m["Message-ID"] for m in mails}) == 1, team
        assert {t.incident for t in tickets.values()} == {world.incidents()[0]["id"]}
        assert_replay_changes_nothing(world)
        print(
            f"measured: task redelivered {redelivered_after_s:.1f} s after restart, "
            f"all delivered {recovered_s:.1f} s after the last restart, "
            f"{len(again)} arrivals of the interrupted webhook under one id, duplicates: 0"
        )
    finally:
        stop(third)


def test_respond_worker_killed_mid_batch(world: World, tmp_path: Path) -> None:
    celery = celery_worker(world, log=tmp_path / "celery.log")
    try:
        for partner, stix_id, spelling in REPORTS:
            world.publish(partner, stix_id, spelling)
        world.drain(stages=("extract", "merge"))

        marker = tmp_path / "incidents-dispatched.crashed"
        killed(respond_worker(world, log=tmp_path / "respond.log", crash_at=marker))
        print("injected: SIGKILL of the respond worker after dispatching its batch's tickets")
        # The batch's sink ran (the incidents index) but nothing after the dispatch did.
        [incident] = world.incidents()
        assert incident["version"] == 1

        # Restarted: the group hands its partitions over once the dead member's session
        # expires, and the batch is done again.
        restarted = respond_worker(world, log=tmp_path / "respond.log")
        try:
            started = time.monotonic()
            wait_for(
                lambda: all_delivered(world, TEAMS, revision=1), what="every delivery", timeout_s=90
            )
            # ... and its batch done: the change it never published is on the topic now.
            wait_for(lambda: len(incident_changes(world)) == 1, what="the incidents topic")
            recovered_s = time.monotonic() - started
        finally:
            stop(restarted)
        assert [c["version"] for c in incident_changes(world)] == [1]
        tickets = one_ticket_per_team(world)
        [after] = world.incidents()
        assert (after["id"], after["version"]) == (incident["id"], 1)
        assert {t.incident for t in tickets.values()} == {incident["id"]}
        assert all(t.revision == 1 for t in tickets.values())
        for team in TEAMS:
            assert len(webhook_ids(world, team)) == 1, team
        assert_replay_changes_nothing(world)
        print(
            f"measured: delivered {recovered_s:.1f} s after the restart; one incident "
            "(version 1), one ticket per team, duplicates: 0"
        )
    finally:
        stop(celery)
