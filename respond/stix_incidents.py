"""Incidents as STIX 2.1 in a shared TAXII collection: one `incident`, its evidence beside it.

Each incident change becomes:

- the `incident` object (id = the incident's id; `created` = `opened_at`; `modified`, see
  below), with the Incident Core Extension (`extension-definition--ef765651-...`, version
  2.0: `determination` from incident-determination-enum, `investigation_status` from
  incident-investigation-ov) and igsc's own `x_igsc_*` properties, marked TLP:CLEAR and
  published by the hub, so every reader of the collection sees it;
- per counted evidence item, one object that links the incident to the partner's STIX
  object, marked with the evidence's own TLP and stored as published by the evidence's
  partner: the TAXII server's one visibility rule (igsc.visibility, applied by
  ingest.server's write path) shows it exactly to the readers the partner's own object
  is visible to. A report is a `related-to` relationship from the incident to the
  indicator. A sighting is a `note` whose `object_refs` name the incident and the sighting:
  STIX forbids a relationship to point at a sighting (an SRO);
- the hub's `identity` (the `created_by_ref` of all of them; settings name no hub identity,
  so it is derived from the installation's namespace), marked TLP:CLEAR.

The incident object carries no restricted content, only counts: the evidence total, the
counts per TLP label, the distinct count and the threshold. Countries are those of evidence
every reader may see (TLP:CLEAR/GREEN). The subject (`x_igsc_subject`, the observable's
canonical key) came from partners' reports too, so it is there only when at least one
counted evidence item is TLP:CLEAR or GREEN: then any reader can read that report and the
value anyway; otherwise a reader not cleared for the rest would learn the value of an AMBER
or RED report from the incident. No partner, country, STIX id or sector of other evidence
appears on it. One thing it does share: `created` is `opened_at` and `modified` comes from
the timeline, evidence times both, so when the report that crossed the threshold was RED,
every reader learns when (never what, whose or from where) it arrived; tickets
(respond/visibility.py) withhold such times, but a STIX object cannot omit them.

The extension-definition object itself is not published: objects name an extension by its
id, and the definition is OASIS's (cti-stix-common-objects); a copy under igsc's name would
be a second publisher's version of an object igsc does not own.

`modified` must increase strictly from version to version, also when two versions share a
time (a resolution right after an update, a change that only withdrew evidence).
`updated_at` alone is not enough: it is the newest time in the record, which can move back
(a sighting re-sent with an earlier `last_seen`). The timeline is append-only, so its newest
entry never moves back; `modified` is that instant plus `version` microseconds, which
therefore grows by at least one microsecond per version and stays after `created` (the
first entry is the opening).

Ids are deterministic, so publishing the same incident version twice stores nothing new
(the TAXII store keys documents by id, version and publisher). An evidence object's id is
UUIDv5 of the incident id and the evidence item's full content: evidence facts are
immutable, a changed item (a sighting's new count) is a new object, and each version adds
only the objects of items not published before.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

from igsc.respond_settings import EvidenceKind, Severity
from igsc.stix_time import format_us, instant_ns
from igsc.tlp import TLP2_IDS, Tlp
from respond.model import IGSC_NAMESPACE, EvidenceItem, Incident, IncidentStatus
from respond.visibility import tlp_level

INCIDENT_CORE_EXTENSION = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
# Who the TAXII store records as the publisher of the hub's own objects. A partner id never
# contains ':' (igsc.partners), so no partner can be taken for the hub, nor delete them.
HUB_PUBLISHER = "igsc:hub"
_HUB_CREATED = "2024-01-01T00:00:00.000Z"  # fixed: the identity has one version

# incident-investigation-ov: tickets go out when an incident opens, so it is being worked.
_INVESTIGATION = {
    IncidentStatus.OPEN: "open",
    IncidentStatus.BELOW_THRESHOLD: "open",  # still worked until every ticket is resolved
    IncidentStatus.RESOLVED: "closed",
}
# Appendix A of the extension, "5 Qualitative" scale.
_CRITICALITY = {Severity.LOW: 15, Severity.MEDIUM: 40, Severity.HIGH: 70, Severity.CRITICAL: 95}
_EVERYONE = Tlp.GREEN  # at or below: every reader of the collection (igsc.visibility)

Published = tuple[str, dict[str, Any]]  # (publisher, STIX object)

_ITEM = msgspec.json.Encoder()


def hub_identity(*, namespace: str) -> dict[str, Any]:
    """The hub's STIX identity: the same id for the same installation namespace."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid5(IGSC_NAMESPACE, f'hub|{namespace}')}",
        "created": _HUB_CREATED,
        "modified": _HUB_CREATED,
        "name": f"igsc coordinating hub ({namespace})",
        "identity_class": "system",
        "object_marking_refs": [TLP2_IDS[Tlp.CLEAR]],
    }


def stix_modified(incident: Incident) -> str:
    """The incident object's `modified`: strictly later for every later version."""
    times = [incident.opened_at, *(event.at for event in incident.timeline)]
    newest_us = max(instant_ns(t) // 1000 for t in times)
    return format_us(newest_us + incident.version)


def _public(item: EvidenceItem) -> bool:
    return tlp_level(item.tlp) <= _EVERYONE


def incident_object(incident: Incident, *, hub: str) -> dict[str, Any]:
    """The `incident` object every reader sees: counts, never restricted evidence."""
    public = [item for item in incident.evidence if _public(item)]
    by_level = Counter(tlp_level(item.tlp) for item in incident.evidence)
    by_kind = Counter(str(item.kind) for item in incident.evidence)
    obj: dict[str, Any] = {
        "type": "incident",
        "spec_version": "2.1",
        "id": incident.id,
        "created": incident.opened_at,
        "modified": stix_modified(incident),
        "created_by_ref": hub,
        "name": incident.title,
        "object_marking_refs": [TLP2_IDS[Tlp.CLEAR]],
        "extensions": {
            INCIDENT_CORE_EXTENSION: {
                "extension_type": "property-extension",
                # igsc correlates reports; whether harm was done is for the teams to find.
                "determination": "suspected",
                "investigation_status": _INVESTIGATION[incident.status],
                "criticality": _CRITICALITY[Severity(incident.severity)],
                "detection_methods": ["automated-tool"],
            }
        },
        "x_igsc_rule": incident.rule,
        "x_igsc_severity": incident.severity,
        "x_igsc_status": str(incident.status),
        "x_igsc_version": incident.version,
        "x_igsc_epoch": incident.epoch,
        "x_igsc_distinct": incident.distinct,
        "x_igsc_distinct_count": incident.distinct_count,
        "x_igsc_threshold": incident.threshold,
        "x_igsc_window_s": incident.window_s,
        "x_igsc_evidence_total": len(incident.evidence),
        "x_igsc_evidence_by_tlp": [
            {"tlp": level.label, "count": count} for level, count in sorted(by_level.items())
        ],
        "x_igsc_evidence_by_kind": [
            {"kind": kind, "count": count} for kind, count in sorted(by_kind.items())
        ],
        "x_igsc_countries": sorted({item.country for item in public}),
    }
    if public:
        obj["x_igsc_subject"] = incident.subject
    return obj


def evidence_id(*, incident: Incident, item: EvidenceItem) -> str:
    """The UUID of an evidence item's object: the same item of the same incident, the same id."""
    return str(uuid.uuid5(IGSC_NAMESPACE, f"{incident.id}|{_ITEM.encode(item).decode()}"))


def evidence_object(incident: Incident, item: EvidenceItem, *, hub: str) -> Published:
    """(the evidence's partner, the object linking the incident to its report or sighting)."""
    level = tlp_level(item.tlp)
    evidence: dict[str, Any] = {
        "kind": str(item.kind),
        "partner": item.partner,
        "country": item.country,
        "tlp": level.label,
        "at": item.at,
        "count": item.count,
    }
    if item.confidence is not None:
        evidence["confidence"] = item.confidence
    if item.sectors:
        evidence["sectors"] = list(item.sectors)
    common: dict[str, Any] = {
        "spec_version": "2.1",
        "created": item.at,
        "modified": item.at,
        "created_by_ref": hub,
        "object_marking_refs": [TLP2_IDS[level]],
        "x_igsc_evidence": evidence,
    }
    ident = evidence_id(incident=incident, item=item)
    if item.kind is EvidenceKind.SIGHTING:
        noun = "sighting" if item.count == 1 else f"sighting (count {item.count})"
        obj = {
            "type": "note",
            "id": f"note--{ident}",
            **common,
            "content": f"{item.partner}'s {noun} in {item.country} counted toward this incident",
            "object_refs": [incident.id, item.ref],
        }
    else:
        obj = {
            "type": "relationship",
            "id": f"relationship--{ident}",
            **common,
            "relationship_type": "related-to",
            "source_ref": incident.id,
            "target_ref": item.ref,
            "description": f"{item.partner}'s report counted toward this incident",
        }
    return item.partner, obj


def incident_objects(incident: Incident, *, hub: str) -> list[Published]:
    """What one incident version publishes: the incident, then one object per evidence item."""
    found: list[Published] = [(HUB_PUBLISHER, incident_object(incident, hub=hub))]
    found += [evidence_object(incident, item, hub=hub) for item in incident.evidence]
    return found


class ObjectWriter(Protocol):
    """The TAXII store's own write path for objects igsc adds (ingest.server DirectAdd)."""

    def add(self, *, objects: Sequence[Published]) -> Any:
        """Store what is not stored yet; readable on return; raises if it could not."""
        ...


class IncidentCollection:
    """Publishes incident changes into one TAXII collection, idempotently."""

    def __init__(self, *, writer: ObjectWriter, namespace: str) -> None:
        self._writer = writer
        self._hub = hub_identity(namespace=namespace)

    def publish(self, *, incidents: Sequence[Incident]) -> None:
        """Write each incident's new version and its not yet published evidence; raises
        (TransientFailure: the batch is retried) unless the store has them all."""
        if not incidents:
            return
        hub = str(self._hub["id"])
        objects: list[Published] = [(HUB_PUBLISHER, self._hub)]
        for incident in incidents:
            objects += incident_objects(incident, hub=hub)
        self._writer.add(objects=objects)
