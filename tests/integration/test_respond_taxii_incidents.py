"""Incidents in a shared TAXII collection, read back with the real taxii2-client.

Three countries report one domain (cert-it's report is TLP:RED) and the pipeline opens one
incident, which the respond stage publishes as a STIX 2.1 `incident` with its evidence.
igsc's TAXII server (real uvicorn) serves the collection: cert-it, which reported the RED
indicator, reads the RED evidence relationship; cert-fr reads the incident with its counts
and the GREEN evidence, never the RED relationship (not in objects, manifest or by id). A
fourth country adds an incident version and one relationship; a replay adds nothing.
Embedded adapters, then Kafka + Elasticsearch + Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from taxii2client.v21 import Collection

from igsc.settings import Settings
from igsc.stix_time import instant_ns
from igsc.wiring import Ports
from ingest.server.access import Target
from ingest.server.app import create_app
from ingest.server.clock import DateAddedClock
from ingest.server.direct_add import DirectAdd
from ingest.server.store import SCHEMA, VersionStore
from respond.incidents import INCIDENTS
from respond.stix_incidents import HUB_PUBLISHER, INCIDENT_CORE_EXTENSION
from tests.support.respond_world import World, open_world
from tests.support.taxii_serving import serving
from tests.unit.ingest.server.taxii_server_fixtures import password_hash

INCIDENTS_COLLECTION = "5b1d9c8e-4f7a-4c2b-9e3d-6a0f1b2c3d4e"
DE_REPORT = "indicator--a1111111-1111-4111-8111-111111111111"
FR_REPORT = "indicator--b2222222-2222-4222-8222-222222222222"
IT_REPORT = "indicator--c3333333-3333-4333-8333-333333333333"
ES_REPORT = "indicator--d4444444-4444-4444-8444-444444444444"


@dataclass
class Hub:
    world: World
    base: str = ""

    @property
    def settings(self) -> Settings:
        return self.world.settings

    @property
    def ports(self) -> Ports:
        return self.world.ports

    def publish(self, partner: str, stix_id: str, spelling: str) -> None:
        self.world.publish(partner, stix_id, spelling)

    def drain(self, generation: str = "") -> None:
        self.world.drain(generation)

    def collection(self, partner: str) -> Collection:
        url = f"{self.base}/incidents/collections/{INCIDENTS_COLLECTION}/"
        return Collection(url, user=partner, password=f"{partner}-password")

    def writer(self) -> DirectAdd:
        configured = self.settings.respond.incidents_collection
        assert configured is not None
        root, collection = configured.resolve(self.settings.taxii.api_roots)
        return DirectAdd(
            store=VersionStore(index=self.ports.index),
            clock=DateAddedClock(state=self.ports.state),
            target=Target(root=root, collection=collection),
        )

    def objects(self, partner: str) -> list[dict[str, Any]]:
        envelope = self.collection(partner).get_objects()
        assert not envelope.get("more"), "one page is enough here"
        return list(envelope.get("objects", []))


def _shared_incidents(values: dict[str, Any]) -> None:
    """Every partner reads the incidents collection; cert-it reports under TLP:RED."""
    for partner in values["partners"]:
        if partner["id"] == "cert-it":
            partner["default_tlp"] = "red"  # its unmarked reports are TLP:RED
        partner["inbound"] = {
            "username": partner["id"],
            "password_hash": password_hash(f"{partner['id']}-password"),
        }
        partner["can_read"] = [INCIDENTS_COLLECTION]
    values["taxii"] = {
        "api_roots": [
            {
                "id": "incidents",
                "title": "Joint response",
                "collections": [
                    {"id": INCIDENTS_COLLECTION, "title": "incidents", "alias": "incidents"}
                ],
            }
        ]
    }
    values["respond"]["incidents_collection"] = {"api_root": "incidents", "collection": "incidents"}
    values.pop("celery_broker_url", None)  # tickets in-process: this test reads the collection


@pytest.fixture(
    params=[
        "embedded",
        pytest.param(
            "real", marks=[pytest.mark.kafka, pytest.mark.elasticsearch, pytest.mark.redis]
        ),
    ]
)
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    with open_world(
        mode=request.param,
        tmp_path=tmp_path,
        clearance={"it-oncall": "red"},
        configure=_shared_incidents,
    ) as world:
        made = Hub(world=world)
        ports = world.ports
        try:
            app = create_app(
                settings=world.settings, stream=ports.stream, index=ports.index, state=ports.state
            )
            with serving(app) as base:
                made.base = base
                yield made
        finally:
            if request.param == "real":  # shared services: leave no indexes behind
                for schema in (SCHEMA, INCIDENTS):
                    ports.index.drop(schema=schema)


def by_type(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] == kind]


def test_each_reader_sees_the_incident_and_only_the_evidence_it_is_cleared_for(hub: Hub) -> None:
    hub.publish("cert-de", DE_REPORT, "Evil-Campaign.Example")
    hub.publish("cert-fr", FR_REPORT, "evil-campaign.example.")
    hub.publish("cert-it", IT_REPORT, "EVIL-CAMPAIGN.EXAMPLE")
    hub.drain()

    # cert-it reported the RED indicator: it reads its RED evidence relationship.
    it_objects = hub.objects("cert-it")
    [incident] = by_type(it_objects, "incident")
    it_targets = {r["target_ref"]: r for r in by_type(it_objects, "relationship")}
    assert set(it_targets) == {DE_REPORT, FR_REPORT, IT_REPORT}
    red = it_targets[IT_REPORT]
    assert red["source_ref"] == incident["id"]
    assert red["x_igsc_evidence"]["partner"] == "cert-it"
    assert red["x_igsc_evidence"]["tlp"] == "red"

    # cert-fr is not cleared for it: the incident and its counts, the GREEN evidence only.
    fr_objects = hub.objects("cert-fr")
    [fr_incident] = by_type(fr_objects, "incident")
    assert fr_incident == incident
    fr_targets = {r["target_ref"] for r in by_type(fr_objects, "relationship")}
    assert fr_targets == {DE_REPORT, FR_REPORT}
    assert fr_incident["x_igsc_evidence_total"] == 3
    assert fr_incident["x_igsc_distinct_count"] == 3
    assert {"tlp": "red", "count": 1} in fr_incident["x_igsc_evidence_by_tlp"]
    assert fr_incident["x_igsc_countries"] == ["DE", "FR"]
    assert fr_incident["x_igsc_subject"] == "domain-name|evil-campaign.example"
    extension = fr_incident["extensions"][INCIDENT_CORE_EXTENSION]
    assert extension["determination"] == "suspected"
    assert extension["investigation_status"] == "open"
    seen = orjson.dumps(fr_objects).decode()
    assert IT_REPORT not in seen and "cert-it" not in seen and red["id"] not in seen
    fr = hub.collection("cert-fr")
    assert red["id"] not in {o["id"] for o in fr.get_manifest().get("objects", [])}
    with pytest.raises(requests.HTTPError) as missing:
        fr.get_object(red["id"])
    assert missing.value.response.status_code == 404
    assert hub.collection("cert-it").get_object(red["id"])["objects"] == [red]
    assert [o["type"] for o in by_type(fr_objects, "identity")] == ["identity"]  # the hub

    # A fourth country: a new incident version and one new relationship, for everyone.
    hub.publish("cert-es", ES_REPORT, "evil-campaign.example")
    hub.drain()
    fr_after = hub.objects("cert-fr")
    versions = hub.collection("cert-fr").object_versions(incident["id"])["versions"]
    assert len(versions) == 2 and instant_ns(versions[0]) < instant_ns(versions[1])
    latest = hub.collection("cert-fr").get_object(incident["id"])["objects"]
    assert [o["modified"] for o in latest] == [versions[1]]
    assert latest[0]["x_igsc_countries"] == ["DE", "ES", "FR"]
    assert latest[0]["x_igsc_evidence_total"] == 4
    assert {r["target_ref"] for r in by_type(fr_after, "relationship")} == {
        DE_REPORT,
        FR_REPORT,
        ES_REPORT,
    }

    # The same incident version and evidence again: the store already holds them.
    landed = hub.writer().add(objects=[(HUB_PUBLISHER, latest[0]), ("cert-it", red)])
    assert (landed.landed, landed.already) == (0, 2)

    # Replaying every topic recomputes the same incidents: the collection does not change.
    manifest = {
        who: sorted((o["id"], o["version"]) for o in hub.collection(who).get_manifest()["objects"])
        for who in ("cert-fr", "cert-it")
    }
    hub.drain(generation="-replay")
    for who, before in manifest.items():
        after = sorted(
            (o["id"], o["version"]) for o in hub.collection(who).get_manifest()["objects"]
        )
        assert after == before
