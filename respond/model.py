"""The records of the respond half: incidents and tickets, immutable and typed.

They travel as JSON (msgspec): on the `incidents` topic (one message per incident change,
keyed by incident id, plain JSON for Kafka's console consumer and Kafka Connect), in the
correlation state, in Celery task arguments and in the ticket store. Every struct is built by
keyword only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

import msgspec

from igsc.respond_settings import EvidenceKind

# Ids are UUIDv5 under this namespace: the same (rule, subject, epoch) is the same incident
# on every worker, after every restart and in every replay.
IGSC_NAMESPACE = uuid.UUID("6f1c2d3e-8a4b-5c6d-9e0f-1a2b3c4d5e6f")

INCIDENTS_TOPIC = "incidents"


class IncidentStatus(StrEnum):
    """Where an incident stands."""

    OPEN = "open"
    BELOW_THRESHOLD = "below-threshold"  # evidence withdrawn or expired under the threshold
    RESOLVED = "resolved"


class TimelineEvent(StrEnum):
    """What happened to an incident."""

    OPENED = "opened"
    EVIDENCE = "evidence"  # a new country/partner or more sightings
    BELOW_THRESHOLD = "below-threshold"
    ABOVE_THRESHOLD = "above-threshold"  # back over the threshold before anyone resolved it
    RESOLVED = "resolved"


class EvidenceItem(msgspec.Struct, frozen=True, kw_only=True):
    """One partner's report or sighting that a rule counted, at its evidence time.

    `at` is when the report reached igsc (the envelope's received_at, recorded on the raw
    topic), or a sighting's last_seen where given: a replay sees the same times."""

    kind: EvidenceKind
    ref: str  # the STIX id of the indicator or sighting
    partner: str
    country: str
    tlp: str
    at: str  # RFC 3339, UTC
    count: int = 1  # a sighting's count
    confidence: int | None = None
    sectors: tuple[str, ...] = ()  # sectors of the sighted identity, for sightings


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One timeline entry of an incident."""

    at: str  # the evidence time that caused it (not the wall clock: replays agree)
    event: TimelineEvent
    values: tuple[str, ...] = ()  # the countries (or partners) it concerns
    detail: str = ""


class Incident(msgspec.Struct, frozen=True, kw_only=True):
    """One crossing of one rule by one subject, until it is resolved (then a new epoch)."""

    id: str  # incident--<uuid5(rule, subject, epoch)>
    rule: str
    playbook: str
    title: str
    severity: str
    subject: str  # the canonical key, e.g. "domain-name|evil.example", or a threat's STIX id
    subject_kind: str  # "observable" or "threat"
    epoch: int
    # Evidence at or before this time belongs to an earlier, resolved epoch ("" in epoch 1).
    epoch_start: str = ""
    status: IncidentStatus
    distinct: str  # "country" or "partner": what the rule counts
    threshold: int
    window_s: int
    distinct_count: int  # in the best window, exact
    countries: tuple[str, ...]  # sorted, of the counted evidence
    partners: tuple[str, ...]  # sorted, of the counted evidence
    score: float
    opened_at: str  # the evidence time at which the count reached the threshold
    updated_at: str
    evidence: tuple[EvidenceItem, ...]
    timeline: tuple[Event, ...]
    version: int  # one more on every change; the index and the tickets follow it


def resolved_marker_key(*, incident_id: str) -> str:
    """The State key of an incident's write-once resolution time (every ticket resolved):
    written by the ticket store, read by the respond stage to start the next epoch."""
    return f"incidents/{incident_id}/resolved"


def incident_id(*, rule: str, subject: str, epoch: int) -> str:
    """The id of a rule's incident for a subject in one epoch."""
    return f"incident--{uuid.uuid5(IGSC_NAMESPACE, f'{rule}|{subject}|{epoch}')}"


class TicketState(StrEnum):
    """A ticket's lifecycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class DeliveryStatus(StrEnum):
    """Where one delivery of one ticket revision stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt failed: dead-lettered with the reason


class DeliveryRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One channel's delivery of one ticket revision (or of one escalation)."""

    delivery_id: str  # stable over retries: the webhook-id, the e-mail's Message-ID part
    channel: str  # "store", "webhook", "email"
    purpose: str  # "ticket" or "escalation"
    revision: int
    status: DeliveryStatus
    attempts: int = 0
    last_error: str = ""
    last_attempt_at: str | None = None  # with attempts, when the next retry is due
    delivered_at: str | None = None


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One transition of a ticket: who did what, when."""

    at: str
    by: str
    action: str  # created, updated, delivered, acknowledged, commented, resolved, escalated
    note: str = ""


class StepDue(msgspec.Struct, frozen=True, kw_only=True):
    """One playbook step as the ticket carries it: who, what, by when."""

    title: str
    owner: str
    due_at: str
    text: str  # rendered


class Ticket(msgspec.Struct, frozen=True, kw_only=True):
    """What one team is asked to do about one incident; updated, never duplicated."""

    id: str  # ticket--<uuid5(incident id, team)>
    incident: str
    incident_version: int  # the incident version this revision was rendered from
    rule: str
    team: str
    country: str
    severity: str
    state: TicketState
    revision: int  # one more whenever the rendered content changes
    seq: int = 0  # one more on every change at all (deliveries, audit): the index version
    subject: str
    body: str  # the rendered text, exactly as delivered
    html: str
    steps: tuple[StepDue, ...]
    due_at: str  # the first step's due time: the SLA
    escalated_steps: tuple[int, ...] = ()  # steps whose breach has been escalated (once)
    deliveries: tuple[DeliveryRecord, ...] = ()
    audit: tuple[AuditEntry, ...] = ()
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedTicket:
    """What a playbook renders for one team from one incident, already redacted for it."""

    subject: str
    body: str  # text/plain, exactly as delivered
    html: str  # text/html alternative, autoescaped
    steps: tuple[StepDue, ...]
    due_at: str  # the first step's due time


def ticket_id(*, incident: str, team: str) -> str:
    """The one ticket of a team for an incident."""
    return f"ticket--{uuid.uuid5(IGSC_NAMESPACE, f'{incident}|{team}')}"


def delivery_id(*, ticket: str, purpose: str, revision: int, channel: str) -> str:
    """Stable per (ticket, purpose, revision, channel): every retry sends the same id."""
    digest = uuid.uuid5(IGSC_NAMESPACE, f"{ticket}|{purpose}|{revision}|{channel}")
    return f"msg_{digest.hex}"


_ENCODER = msgspec.json.Encoder()
_INCIDENT = msgspec.json.Decoder(Incident)
_TICKET = msgspec.json.Decoder(Ticket)


def encode(record: Incident | Ticket) -> bytes:
    """JSON bytes of an incident or a ticket."""
    return _ENCODER.encode(record)


def decode_incident(data: bytes | str) -> Incident:
    """An incident from its JSON; msgspec.ValidationError names what is wrong."""
    return _INCIDENT.decode(data)


def decode_ticket(data: bytes | str) -> Ticket:
    """A ticket from its JSON."""
    return _TICKET.decode(data)
