"""A shared campaign as the subject: three countries each report a different domain, each
linked (`indicates`) to one campaign. No domain crosses a border; the campaign does, and
opens one incident with one ticket per country's team. Embedded, and on the real services
with a real Celery worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.publish import publish_objects
from tests.support.respond_world import (
    World,
    all_delivered,
    celery_worker,
    open_world,
    stop,
    wait_for,
)

CAMPAIGN = "campaign--0c6e2f55-8f5e-4b1a-9d3c-7a2b1c0d9e8f"
TEAMS = ("de-oncall", "fr-oncall", "it-oncall")


def with_campaign_rule(values: dict[str, Any]) -> None:
    values["rules"].append(
        {
            "id": "shared-campaign",
            "title": "One campaign reported from three countries",
            "subject": "threat",
            "distinct": "country",
            "at_least": 3,
            "within": "7d",
            "severity": "critical",
            "playbook": "cross-border",
        }
    )


@pytest.fixture(params=["embedded", "real"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    with open_world(mode=request.param, tmp_path=tmp_path, configure=with_campaign_rule) as made:
        worker = celery_worker(made, log=tmp_path / "celery.log") if made.mode == "real" else None
        try:
            yield made
        finally:
            if worker is not None:
                stop(worker)


def report(world: World, *, partner: str, domain: str) -> str:
    """The partner's indicator of its own domain, linked to the shared campaign."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    indicator = f"indicator--{uuid.uuid5(uuid.NAMESPACE_DNS, domain)}"
    common = {"spec_version": "2.1", "created": stamp, "modified": stamp}
    objects = [
        {**common, "type": "campaign", "id": CAMPAIGN, "name": "Operation Lantern"},
        {**common, "type": "indicator", "id": indicator, "name": "C2 domain",
         "pattern": f"[domain-name:value = '{domain}']", "pattern_type": "stix",
         "valid_from": stamp},
        {**common, "type": "relationship", "relationship_type": "indicates",
         "id": f"relationship--{uuid.uuid5(uuid.NAMESPACE_DNS, 'rel/' + domain)}",
         "source_ref": indicator, "target_ref": CAMPAIGN},
    ]  # fmt: skip
    result = publish_objects(
        settings=world.settings,
        stream=world.ports.stream,
        partner=world.settings.partner(partner),
        objects=objects,
    )
    assert result.published == len(objects), result.reasons
    return indicator


def test_a_campaign_reported_from_three_countries_opens_one_incident(world: World) -> None:
    refs = [
        report(world, partner="cert-de", domain="lantern-one.example"),
        report(world, partner="cert-fr", domain="lantern-two.example"),
        report(world, partner="cert-it", domain="lantern-three.example"),
    ]
    world.drain()
    wait_for(lambda: all_delivered(world, TEAMS, revision=1), what="three delivered tickets")

    [incident] = world.incidents()
    assert (incident["subject"], incident["subject_kind"]) == (CAMPAIGN, "threat")
    assert incident["rule"] == "shared-campaign" and incident["countries"] == ["DE", "FR", "IT"]
    tickets = world.tickets()
    assert sorted(tickets) == sorted(TEAMS)
    for team, ticket in tickets.items():
        assert ticket.incident == incident["id"]
        assert CAMPAIGN in ticket.body
        [hook] = world.receiver.of(team)
        assert hook.payload is not None and hook.payload["data"]["body"] == ticket.body
    de_body = tickets["de-oncall"].body
    assert all(ref in de_body for ref in refs)  # every report is TLP:GREEN: all visible

    # Replaying every topic, the re-keyed threat evidence included, changes nothing.
    before = {t.id: (t.revision, t.seq) for t in world.store.search()}
    sent = len(world.receiver.arrivals)
    world.drain(generation="-replay")
    time.sleep(3.0 if world.mode == "real" else 0)
    [replayed] = world.incidents()
    assert replayed["version"] == incident["version"]
    assert {t.id: (t.revision, t.seq) for t in world.store.search()} == before
    assert len(world.receiver.arrivals) == sent
