"""Threat subjects: a campaign, intrusion-set or malware that many observables point to.

The observables of one threat live on different partitions of the indicators topic, so no
respond worker sees them all. The respond stage therefore re-keys: for every document with
threat references and every threat rule, it publishes the document's counted evidence to the
`threat-evidence` topic keyed by the threat id. This stage reads that topic (one writer per
threat), keeps each observable's latest evidence per (rule, threat) in State, and feeds the
union to the same pure `next_incident` as observable subjects, through the same sink.

An observable counts for a threat when its merged record points to it (any partner's
relationship); the reports counted are those of the observable, as for observable rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from igsc.ports import Message, State
from igsc.records import Rejection, rejection
from igsc.respond_settings import Rule, SubjectKind
from igsc.worker import StageOutput
from respond.evidence import RuleScope, Timed
from respond.incidents import Findings, next_incident
from respond.model import EvidenceItem, Incident
from respond.sink import IncidentSink

THREAT_EVIDENCE_TOPIC = "threat-evidence"
THREATS_TABLE = "respond-threats"
# A threat's row keeps at most this many observables (the newest evidence wins): a campaign
# with more still crosses on them, and the row stays a few megabytes at most.
MAX_OBSERVABLES = 10_000


class ThreatEvidence(msgspec.Struct, frozen=True, kw_only=True):
    """One observable's counted evidence for one (rule, threat), at one document version."""

    rule: str
    threat: str
    observable: str  # the canonical key
    version: int  # of the indicator document: an older one never replaces a newer one
    score: float
    newest_us: int
    evidence: tuple[EvidenceItem, ...]  # empty: the observable no longer counts (withdrawn)


class ObservableEvidence(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    score: float
    newest_us: int
    evidence: tuple[EvidenceItem, ...]


class ThreatRow(msgspec.Struct, frozen=True, kw_only=True):
    """The correlation state of one (rule, threat)."""

    observables: dict[str, ObservableEvidence]
    incident: Incident | None = None


_ENCODER = msgspec.json.Encoder()
_EVIDENCE = msgspec.json.Decoder(ThreatEvidence)
_ROW = msgspec.json.Decoder(ThreatRow)


def threat_records(
    *, scopes: Sequence[RuleScope], doc: Mapping[str, Any], newest_us: int
) -> list[tuple[bytes, bytes]]:
    """(threat id, ThreatEvidence JSON) for every threat rule and threat the document names."""
    threats = doc.get("threats") or ()
    if not threats:
        return []
    out: list[tuple[bytes, bytes]] = []
    for scope in scopes:
        counted = scope.evidence(doc=doc) if scope.admits(doc=doc) else []
        for threat in threats:
            record = ThreatEvidence(
                rule=scope.rule.id,
                threat=str(threat),
                observable=str(doc["key"]),
                version=int(doc.get("version") or 0),
                score=float(doc.get("score") or 0),
                newest_us=newest_us,
                evidence=tuple(t.item for t in counted),
            )
            out.append((record.threat.encode(), _ENCODER.encode(record)))
    return out


class ThreatStage:
    """threat-evidence → incidents on threat subjects (topic, index, tickets)."""

    name = "respond-threats"

    def __init__(self, *, state: State, rules: Sequence[Rule], sink: IncidentSink) -> None:
        self._state = state
        self._rules = {r.id: r for r in rules if r.subject is SubjectKind.THREAT}
        self._sink = sink

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Fold the batch's evidence into each (rule, threat) row; emit what changed."""
        rejected: list[Rejection] = []
        updates: dict[bytes, list[ThreatEvidence]] = {}
        for message in messages:
            try:
                record = _EVIDENCE.decode(message.value)
            except msgspec.DecodeError as exc:
                rejected.append(_bad(message.value, f"not threat evidence: {exc}"))
                continue
            if record.rule not in self._rules:
                continue  # a rule removed from the config since
            updates.setdefault(_row_key(record.rule, record.threat), []).append(record)
        if not updates:
            return StageOutput(rejected=rejected)
        stored = self._state.get_rows(table=THREATS_TABLE, keys=list(updates))
        rows = {key: _ROW.decode(data) for key, data in stored.items()}
        previous = [r.incident for r in rows.values() if r.incident is not None]
        resolved = self._sink.resolutions(previous)
        changed: list[Incident] = []
        saved: dict[bytes, bytes] = {}
        for key, records in updates.items():
            row = _folded(rows.get(key), records)
            first = records[0]
            before = row.incident
            after = next_incident(
                previous=before,
                found=_findings(rule=self._rules[first.rule], threat=first.threat, row=row),
                resolved_at=resolved.get(before.id) if before is not None else None,
            )
            if after is not None and after != before:
                changed.append(after)
            row = msgspec.structs.replace(row, incident=after or before)
            saved[key] = _ENCODER.encode(row)
        if not changed:
            # Evidence below the threshold still has to be kept for the next batch.
            return StageOutput(
                rejected=rejected,
                after_publish=lambda: self._state.put_rows(table=THREATS_TABLE, rows=saved),
            )
        return self._sink.emit(incidents=changed, rows=saved, rejected=rejected)


def _folded(row: ThreatRow | None, records: Sequence[ThreatEvidence]) -> ThreatRow:
    observables = dict(row.observables) if row is not None else {}
    for record in records:
        held = observables.get(record.observable)
        if held is not None and held.version > record.version:
            continue
        observables[record.observable] = ObservableEvidence(
            version=record.version,
            score=record.score,
            newest_us=record.newest_us,
            evidence=record.evidence,
        )
    if len(observables) > MAX_OBSERVABLES:
        newest = sorted(observables.items(), key=lambda kv: kv[1].newest_us)[-MAX_OBSERVABLES:]
        observables = dict(newest)
    return ThreatRow(observables=observables, incident=row.incident if row else None)


def _findings(*, rule: Rule, threat: str, row: ThreatRow) -> Findings:
    items = {item for held in row.observables.values() for item in held.evidence}
    timed = [Timed(at_us=_us(item.at), item=item) for item in items]
    timed.sort(key=lambda t: (t.at_us, t.item.ref, t.item.country, t.item.partner))
    held = list(row.observables.values())
    return Findings(
        rule=rule,
        subject=threat,
        subject_kind=SubjectKind.THREAT.value,
        score=max((h.score for h in held), default=0.0),
        evidence=timed,
        newest_us=max((h.newest_us for h in held), default=0),
    )


def _us(at: str) -> int:
    from igsc.stix_time import instant_ns

    return instant_ns(at) // 1000


def _row_key(rule: str, threat: str) -> bytes:
    return hashlib.blake2b(f"{rule}|{threat}".encode(), digest_size=16).digest()


def _bad(value: bytes, reason: str) -> Rejection:
    return rejection(
        stage=ThreatStage.name,
        reason=reason,
        partner=None,
        stix_id=None,
        payload=value.decode("utf-8", "replace"),
    )
