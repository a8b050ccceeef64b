"""Respond stage: merged records on the indicators topic → incidents, and their tickets.

The indicators topic is keyed by observable, so one worker owns every (rule, observable)
subject: its correlation state (the subject's current incident) has one writer. Each batch:
documents → evidence per rule → the next incident of each subject (a pure function of the
evidence, respond/incidents.py) → the incidents index and, if configured, the incidents TAXII
collection (the sink) and ticket dispatch →
the incidents topic → the correlation state (after_publish, once the outputs are durable).
A redelivered batch recomputes the same incidents, which the index, the dispatch and the
ticket store all take as no-ops.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from igsc.ports import Index, IndexDoc, IndexSchema, Message, State
from igsc.records import Rejection, rejection
from igsc.respond_settings import Distinct, Rule, SubjectKind
from igsc.stix_time import StixTimeError, format_us, instant_ns
from igsc.worker import StageOutput
from respond.evidence import RuleScope
from respond.exclusions import BENIGN, BenignMatch, Exclusions
from respond.incidents import INCIDENTS, Findings, incident_doc, next_incident
from respond.model import Incident, decode_incident, encode, resolved_marker_key

log = logging.getLogger(__name__)

CORRELATION_TABLE = "respond"


class IncidentPublication(Protocol):
    """Writes incident changes to a shared TAXII collection (respond/stix_incidents.py)."""

    def publish(self, *, incidents: Sequence[Incident]) -> None:
        """Store every change durably, or raise: part of the sink, like the index write."""
        ...


class TicketDispatch(Protocol):
    """Hands changed incidents to ticket creation (Celery tasks); idempotent per version."""

    def dispatch(self, *, incidents: Sequence[Incident]) -> None:
        """Queue (or, in-process, run) the ticket work of each incident change."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class _Subject:
    """One rule's view of one document."""

    scope: RuleScope
    doc: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.scope.rule.id}|{self.doc['key']}"


class RespondStage:
    """indicators → incidents (topic, index, correlation state) and ticket dispatch."""

    name = "respond"

    def __init__(
        self,
        *,
        state: State,
        index: Index,
        incidents_topic: str,
        rules: Sequence[Rule],
        critical_sectors: tuple[str, ...],
        exclusions: Exclusions,
        dispatch: TicketDispatch,
        publication: IncidentPublication | None = None,
    ) -> None:
        self._state = state
        self._index = index
        index.ensure(schema=INCIDENTS)
        index.ensure(schema=BENIGN)
        self._incidents_topic = incidents_topic
        # Threat subjects (a campaign shared by many observables) span partitions of the
        # indicators topic and need a re-keyed evidence topic: not evaluated here (yet).
        self._scopes = tuple(
            RuleScope.of(rule=rule, critical_sectors=critical_sectors)
            for rule in rules
            if rule.subject is SubjectKind.OBSERVABLE
        )
        self._exclusions = exclusions
        self._dispatch = dispatch
        self._publication = publication

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Evaluate every rule on the batch's documents; publish what changed."""
        rejected: list[Rejection] = []
        benign: list[BenignMatch] = []
        subjects = self._candidates(_latest_documents(messages, rejected), benign)
        if benign:  # why these opened nothing, for `igsc lookup` (versioned: replays no-op)
            self._index_docs(BENIGN, [b.index_doc() for b in benign], rejected)
        if not subjects:
            return StageOutput(rejected=rejected)
        previous = self._load([s.key for s in subjects])
        resolved = self._resolutions(previous.values())
        changed: dict[str, Incident] = {}
        for subject in subjects:
            try:
                found = _findings(subject)
            except (KeyError, TypeError, ValueError, StixTimeError) as exc:
                rejected.append(_bad_document(subject.doc, exc))
                continue
            before = previous.get(subject.key)
            after = next_incident(
                previous=before,
                found=found,
                resolved_at=resolved.get(before.id) if before is not None else None,
            )
            if after is not None and after != before:
                changed[subject.key] = after
        if not changed:
            return StageOutput(rejected=rejected)
        incidents = list(changed.values())
        self._index_incidents(incidents, rejected)  # the sink first
        if self._publication is not None:  # the TAXII collection is part of the sink
            self._publication.publish(incidents=incidents)
        self._dispatch.dispatch(incidents=incidents)
        rows = {_row_key(key): encode(incident) for key, incident in changed.items()}
        return StageOutput(
            records={self._incidents_topic: [(i.id.encode(), encode(i)) for i in incidents]},
            rejected=rejected,
            after_publish=lambda: self._state.put_rows(table=CORRELATION_TABLE, rows=rows),
        )

    def _candidates(
        self, docs: Sequence[dict[str, Any]], benign: list[BenignMatch]
    ) -> list[_Subject]:
        """(rule, document) pairs that may cross or may change an incident.

        A document whose distinct countries (or partners) are fewer than the threshold and
        that withdrew nothing can neither open nor change an incident: most documents stop
        here, without a state read."""
        found: list[_Subject] = []
        for doc in docs:
            for scope in self._scopes:
                rule = scope.rule
                reach = (
                    len(doc.get("countries") or ())
                    if rule.distinct is Distinct.COUNTRY
                    else int(doc.get("partner_count") or 0)
                )
                if reach < rule.at_least and not doc.get("withdrawn_count"):
                    continue
                if not scope.admits(doc=doc):
                    continue
                listed = self._exclusions.matching(
                    key=str(doc.get("key")),
                    value=str(doc.get("value")),
                    use_warninglists=rule.exclude_warninglists,
                )
                if listed is not None:
                    log.info(
                        "rule %s: %s is on %s, not correlated", rule.id, doc.get("key"), listed
                    )
                    benign.append(
                        BenignMatch(
                            subject=str(doc.get("key")),
                            rule=rule.id,
                            list_name=listed,
                            at=_benign_time(doc),
                            version=int(doc.get("version") or 0),
                        )
                    )
                    continue
                found.append(_Subject(scope=scope, doc=doc))
        return found

    def _load(self, keys: list[str]) -> dict[str, Incident]:
        by_row = {_row_key(k): k for k in keys}
        stored = self._state.get_rows(table=CORRELATION_TABLE, keys=list(by_row))
        return {by_row[row]: decode_incident(data) for row, data in stored.items()}

    def _resolutions(self, incidents: Any) -> dict[str, str]:
        """When each open incident was resolved (every ticket resolved), if it was."""
        ids = [i.id for i in incidents]
        if not ids:
            return {}
        keys = {resolved_marker_key(incident_id=i): i for i in ids}
        found = self._state.get_many(keys=list(keys))
        return {keys[k]: v.decode() for k, v in found.items()}

    def _index_incidents(self, incidents: list[Incident], rejected: list[Rejection]) -> None:
        docs = [IndexDoc(id=i.id, version=i.version, body=incident_doc(i)) for i in incidents]
        self._index_docs(INCIDENTS, docs, rejected)

    def _index_docs(
        self, schema: IndexSchema, docs: list[IndexDoc], rejected: list[Rejection]
    ) -> None:
        result = self._index.bulk_upsert(schema=schema, docs=docs)
        for failure in result.failed:
            rejected.append(
                rejection(
                    stage=self.name,
                    reason=f"{schema.name} index refused {failure.id}: {failure.reason}",
                    partner=None,
                    stix_id=None,
                    payload=failure.id,
                )
            )


def _findings(subject: _Subject) -> Findings:
    doc = subject.doc
    return Findings(
        rule=subject.scope.rule,
        subject=str(doc["key"]),
        subject_kind=SubjectKind.OBSERVABLE.value,
        score=float(doc.get("score") or 0),
        evidence=subject.scope.evidence(doc=doc),
        newest_us=_newest_us(doc),
    )


def _newest_us(doc: dict[str, Any]) -> int:
    """The newest time anywhere in the record, withdrawn reports included (a revocation's
    own arrival time is when its incident fell below the threshold)."""
    times = [0]
    for source in doc.get("sources") or ():
        for name in ("received_at", "version"):
            if source.get(name):
                times.append(instant_ns(source[name]) // 1000)
                break
    for sighting in doc.get("sightings") or ():
        for name in ("last_seen", "received_at", "version"):
            if sighting.get(name):
                times.append(instant_ns(sighting[name]) // 1000)
                break
    return max(times)


def _benign_time(doc: dict[str, Any]) -> str:
    try:
        return format_us(_newest_us(doc))
    except (KeyError, TypeError, ValueError, StixTimeError):
        return ""  # the time is only shown; a bad one must not stop the batch


def _latest_documents(
    messages: Sequence[Message], rejected: list[Rejection]
) -> list[dict[str, Any]]:
    """One document per observable: its highest version in the batch."""
    latest: dict[str, dict[str, Any]] = {}
    for m in messages:
        try:
            doc = orjson.loads(m.value)
            key, version = doc["key"], int(doc.get("version") or 0)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            rejected.append(
                rejection(
                    stage="respond",
                    reason=f"not an indicator document: {exc}",
                    partner=None,
                    stix_id=None,
                    payload=m.value.decode("utf-8", "replace"),
                )
            )
            continue
        held = latest.get(key)
        if held is None or int(held.get("version") or 0) <= version:
            latest[key] = doc
    return list(latest.values())


def _bad_document(doc: dict[str, Any], exc: Exception) -> Rejection:
    return rejection(
        stage="respond",
        reason=f"indicator document {doc.get('key')!r} cannot be correlated: {exc}",
        partner=None,
        stix_id=None,
        payload=orjson.dumps(doc).decode(),
    )


def _row_key(subject_key: str) -> bytes:
    """16-byte digest of "rule|subject": one correlation row per rule and subject."""
    return hashlib.blake2b(subject_key.encode(), digest_size=16).digest()
