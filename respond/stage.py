"""Respond stage: merged records on the indicators topic → incidents, and their tickets.

The indicators topic is keyed by observable, so one worker owns every (rule, observable)
subject: its correlation state (the subject's current incident) has one writer. Each batch:
documents → evidence per rule → the next incident of each subject (a pure function of the
evidence, respond/incidents.py) → the incidents index and, if configured, the incidents TAXII
collection (the sink) and ticket dispatch →
the incidents topic → the correlation state (after_publish, once the outputs are durable).
A redelivered batch recomputes the same incidents, which the index, the dispatch and the
ticket store all take as no-ops. Rules on threat subjects are re-keyed here: each document's
evidence goes to the threat-evidence topic by threat id (respond/threats.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from igsc.ports import Index, Message, State
from igsc.records import Rejection, rejection
from igsc.respond_settings import Distinct, Rule, SubjectKind
from igsc.stix_time import StixTimeError, format_us, instant_ns
from igsc.worker import StageOutput
from respond.evidence import RuleScope
from respond.exclusions import BENIGN, BenignMatch, Exclusions
from respond.incidents import Findings, next_incident
from respond.model import Incident, decode_incident, encode
from respond.sink import IncidentSink
from respond.threats import threat_records

log = logging.getLogger(__name__)

CORRELATION_TABLE = "respond"


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
        rules: Sequence[Rule],
        critical_sectors: tuple[str, ...],
        exclusions: Exclusions,
        sink: IncidentSink,
        threat_evidence_topic: str,
    ) -> None:
        self._state = state
        self._index = index
        index.ensure(schema=BENIGN)
        scopes = [RuleScope.of(rule=rule, critical_sectors=critical_sectors) for rule in rules]
        self._scopes = tuple(s for s in scopes if s.rule.subject is SubjectKind.OBSERVABLE)
        self._threat_scopes = tuple(s for s in scopes if s.rule.subject is SubjectKind.THREAT)
        self._threat_topic = threat_evidence_topic
        self._exclusions = exclusions
        self._sink = sink

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Evaluate every rule on the batch's documents; publish what changed."""
        rejected: list[Rejection] = []
        benign: list[BenignMatch] = []
        docs = _latest_documents(messages, rejected)
        rekeyed = self._threat_evidence(docs, rejected)
        subjects = self._candidates(docs, benign)
        if benign:  # why these opened nothing, for `igsc lookup` (versioned: replays no-op)
            self._sink.index_docs(
                schema=BENIGN, docs=[b.index_doc() for b in benign], rejected=rejected
            )
        previous = self._load([s.key for s in subjects]) if subjects else {}
        resolved = self._sink.resolutions(previous.values())
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
        out = self._sink.emit(
            incidents=list(changed.values()),
            rows={_row_key(key): encode(incident) for key, incident in changed.items()},
            rejected=rejected,
        )
        if rekeyed:
            out = StageOutput(
                records={**out.records, self._threat_topic: rekeyed},
                rejected=out.rejected,
                after_publish=out.after_publish,
            )
        return out

    def _threat_evidence(
        self, docs: Sequence[dict[str, Any]], rejected: list[Rejection]
    ) -> list[tuple[bytes, bytes]]:
        """Each document's evidence for every threat rule, keyed by the threats it names."""
        if not self._threat_scopes:
            return []
        found: list[tuple[bytes, bytes]] = []
        for doc in docs:
            if not doc.get("threats"):
                continue
            try:
                found += threat_records(
                    scopes=self._threat_scopes, doc=doc, newest_us=_newest_us(doc)
                )
            except (KeyError, TypeError, ValueError, StixTimeError) as exc:
                rejected.append(_bad_document(doc, exc))
        return found

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
