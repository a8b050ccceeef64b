"""Incidents as STIX 2.1: valid objects (OASIS stix2-validator), the Incident Core Extension,
deterministic ids, `modified` strictly increasing per version, and nothing restricted on the
incident object every reader sees."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from stix2validator import ValidationOptions, validate_instance

from igsc.errors import ConfigError
from igsc.respond_settings import Rule
from igsc.settings import load_settings
from igsc.stix_time import format_us, instant_ns
from igsc.tlp import TLP2_IDS, Tlp
from ingest.convert import admit
from respond.evidence import RuleScope
from respond.incidents import Findings, next_incident
from respond.model import Incident, IncidentStatus
from respond.stix_incidents import (
    HUB_PUBLISHER,
    INCIDENT_CORE_EXTENSION,
    hub_identity,
    incident_object,
    incident_objects,
    stix_modified,
)

HOUR = 3600
T0 = "2026-11-30T10:00:00Z"
HUB = hub_identity(namespace="igsc")["id"]
RED_REPORT = "indicator--c3333333-3333-4333-8333-333333333333"
# incident-determination-enum and incident-investigation-ov of the extension (version 2.0)
DETERMINATIONS = {
    "blocked",
    "successful-attempt",
    "failed-attempt",
    "false-positive",
    "low-value",
    "suspected",
}
INVESTIGATION = {"new", "open", "closed"}


def at(hours: float) -> str:
    return format_us(instant_ns(T0) // 1000 + int(hours * HOUR * 1_000_000))


RULE = Rule(
    id="cross-border",
    title="Cross-border campaign",
    distinct="country",
    at_least=3,
    within="24h",
    playbook="p",
    severity="high",
)


def source(partner: str, country: str, hours: float, *, tlp: str = "green") -> dict[str, Any]:
    ref = (
        RED_REPORT
        if tlp == "red"
        else f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'{partner}/{hours}')}"
    )
    return {
        "partner": partner,
        "country": country,
        "stix_id": ref,
        "version": at(hours),
        "received_at": at(hours),
        "tlp": tlp,
        "confidence": 80,
        "status": "active",
    }


def sighting(partner: str, country: str, hours: float, *, count: int = 1) -> dict[str, Any]:
    return {
        "sighting_id": f"sighting--{uuid.uuid5(uuid.NAMESPACE_URL, f's/{partner}/{hours}')}",
        "partner": partner,
        "countries": [country],
        "tlp": "amber",
        "last_seen": at(hours),
        "count": count,
        "sectors": ["energy"],
    }


def findings(*sources: dict[str, Any], sightings: tuple[dict[str, Any], ...] = ()) -> Findings:
    doc = {"sources": list(sources), "sightings": list(sightings)}
    times = [s["received_at"] for s in sources] + [s["last_seen"] for s in sightings]
    return Findings(
        rule=RULE,
        subject="domain-name|evil.example",
        subject_kind="observable",
        score=70.0,
        evidence=RuleScope.of(rule=RULE, critical_sectors=()).evidence(doc=doc),
        newest_us=max([0, *(instant_ns(t) // 1000 for t in times)]),
    )


def opened(*sources: dict[str, Any], **kw: Any) -> Incident:
    incident = next_incident(previous=None, found=findings(*sources, **kw), resolved_at=None)
    assert incident is not None
    return incident


def three_countries_one_red() -> Incident:
    return opened(
        source("cert-de", "DE", 0),
        source("cert-fr", "FR", 1),
        source("cert-it", "IT", 2, tlp="red"),
        sightings=(sighting("cert-es", "ES", 3, count=4),),
    )


def valid(obj: dict[str, Any]) -> None:
    # Strict mode would also demand UUIDv4 ids (a SHOULD of the spec); igsc's ids are
    # UUIDv5 on purpose (the same incident everywhere, idempotent re-publishing).
    result = validate_instance(obj, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]


def test_every_object_is_valid_stix_21_and_passes_igsc_entrance() -> None:
    incident = three_countries_one_red()
    published = incident_objects(incident, hub=HUB)
    for _, obj in [(HUB_PUBLISHER, hub_identity(namespace="igsc")), *published]:
        valid(obj)
        admit(obj, default_tlp=Tlp.RED)  # what the TAXII store's write path admits
    assert [o["type"] for _, o in published] == ["incident", "relationship", "relationship",
                                                 "relationship", "note"]  # fmt: skip


def test_incident_carries_the_core_extension() -> None:
    obj = incident_object(three_countries_one_red(), hub=HUB)
    extension = obj["extensions"][INCIDENT_CORE_EXTENSION]
    assert extension["extension_type"] == "property-extension"
    assert extension["determination"] in DETERMINATIONS
    assert extension["investigation_status"] in INVESTIGATION
    assert extension["investigation_status"] == "open"
    assert extension["criticality"] == 70  # high, on the extension's qualitative scale
    assert obj["created"] == three_countries_one_red().opened_at
    assert obj["created_by_ref"] == HUB and obj["name"] == "Cross-border campaign"


def test_resolved_incident_is_closed() -> None:
    incident = three_countries_one_red()
    resolved = next_incident(previous=incident, found=findings(), resolved_at=at(5))
    assert resolved is not None and resolved.status is IncidentStatus.RESOLVED
    extension = incident_object(resolved, hub=HUB)["extensions"][INCIDENT_CORE_EXTENSION]
    assert extension["investigation_status"] == "closed"


def test_incident_object_holds_counts_never_red_or_amber_evidence() -> None:
    incident = three_countries_one_red()
    obj = incident_object(incident, hub=HUB)
    text = orjson.dumps(obj).decode()
    assert obj["object_marking_refs"] == [TLP2_IDS[Tlp.CLEAR]]
    for secret in ("cert-it", RED_REPORT, '"IT"', "cert-es", '"ES"', "sighting--", "energy"):
        assert secret not in text
    assert obj["x_igsc_evidence_total"] == 4
    assert obj["x_igsc_evidence_by_tlp"] == [
        {"tlp": "green", "count": 2},
        {"tlp": "amber", "count": 1},
        {"tlp": "red", "count": 1},
    ]
    assert obj["x_igsc_distinct_count"] == 4 and obj["x_igsc_threshold"] == 3
    assert obj["x_igsc_countries"] == ["DE", "FR"]  # of evidence every reader may see
    assert obj["x_igsc_subject"] == "domain-name|evil.example"  # a GREEN report shows it


def test_subject_is_left_out_when_no_evidence_is_for_every_reader() -> None:
    incident = opened(
        source("cert-de", "DE", 0, tlp="amber"),
        source("cert-fr", "FR", 1, tlp="amber+strict"),
        source("cert-it", "IT", 2, tlp="red"),
    )
    obj = incident_object(incident, hub=HUB)
    assert "x_igsc_subject" not in obj and "evil.example" not in orjson.dumps(obj).decode()
    assert obj["x_igsc_countries"] == [] and obj["x_igsc_evidence_total"] == 3


def test_each_evidence_object_is_marked_and_published_like_its_evidence() -> None:
    incident = three_countries_one_red()
    published = incident_objects(incident, hub=HUB)[1:]
    assert [p for p, _ in published] == [i.partner for i in incident.evidence]
    for (_, obj), item in zip(published, incident.evidence, strict=True):
        level = admit(obj, default_tlp=Tlp.CLEAR).level
        assert level.label == item.tlp
        assert obj["object_marking_refs"] == [TLP2_IDS[level]]
        assert obj["x_igsc_evidence"]["partner"] == item.partner
        if obj["type"] == "relationship":
            assert (obj["source_ref"], obj["target_ref"]) == (incident.id, item.ref)
            assert obj["relationship_type"] == "related-to"
        else:  # STIX forbids relationships to sightings: a note names both
            assert obj["object_refs"] == [incident.id, item.ref]
            assert obj["x_igsc_evidence"]["count"] == 4


def test_ids_are_deterministic_and_new_evidence_gets_new_ids_only() -> None:
    first = incident_objects(three_countries_one_red(), hub=HUB)
    again = incident_objects(three_countries_one_red(), hub=HUB)
    assert first == again
    incident = three_countries_one_red()
    later = next_incident(
        previous=incident,
        found=findings(
            source("cert-de", "DE", 0),
            source("cert-fr", "FR", 1),
            source("cert-it", "IT", 2, tlp="red"),
            source("cert-nl", "NL", 4),
            sightings=(sighting("cert-es", "ES", 3, count=4),),
        ),
        resolved_at=None,
    )
    assert later is not None and later.version == incident.version + 1
    before = {o["id"] for _, o in first[1:]}
    after = {o["id"] for _, o in incident_objects(later, hub=HUB)[1:]}
    assert before < after and len(after - before) == 1  # only NL's report is new
    assert len({o["id"] for _, o in first}) == len(first)


def test_modified_strictly_increases_with_every_version_even_at_the_same_time() -> None:
    sources = [source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2)]
    v1 = opened(*sources)
    v2 = next_incident(
        previous=v1, found=findings(*sources, source("cert-nl", "NL", 3)), resolved_at=None
    )
    assert v2 is not None
    # Resolved at the very instant of the last evidence: the same time, a new version.
    v3 = next_incident(previous=v2, found=findings(), resolved_at=at(3))
    assert v3 is not None and v3.updated_at == v2.updated_at and v3.version == v2.version + 1
    stamps = [stix_modified(v) for v in (v1, v2, v3)]
    instants = [instant_ns(s) for s in stamps]
    assert instants == sorted(set(instants))
    assert all(instant_ns(s) >= instant_ns(v1.opened_at) for s in stamps)


def test_modified_never_moves_back_when_updated_at_does() -> None:
    late = sighting("cert-es", "ES", 10)
    sources = [source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2)]
    v1 = opened(*sources, sightings=(late,))
    redated = {**late, "last_seen": at(4)}  # the partner corrected its sighting's time
    v2 = next_incident(
        previous=v1, found=findings(*sources, sightings=(redated,)), resolved_at=None
    )
    assert v2 is not None and v2.version == v1.version + 1
    assert instant_ns(v2.updated_at) < instant_ns(v1.updated_at)
    assert instant_ns(stix_modified(v2)) > instant_ns(stix_modified(v1))


def _with_collection(**collection: str) -> dict[str, Any]:
    return {"respond": {"incidents_collection": collection}}


def test_the_incidents_collection_must_be_a_configured_one() -> None:
    settings = load_settings(
        overrides=_with_collection(api_root="shared", collection="shared-feed")
    )
    configured = settings.respond.incidents_collection
    assert configured is not None
    root, collection = configured.resolve(settings.taxii.api_roots)
    assert (root.id, collection.alias) == ("shared", "shared-feed")
    with pytest.raises(ConfigError, match=r"respond\.incidents_collection\.api_root.*'nowhere'"):
        load_settings(overrides=_with_collection(api_root="nowhere", collection="x"))
    with pytest.raises(ConfigError, match=r"respond\.incidents_collection\.collection.*'nope'"):
        load_settings(overrides=_with_collection(api_root="shared", collection="nope"))
    assert load_settings().respond.incidents_collection is None  # default: not published
