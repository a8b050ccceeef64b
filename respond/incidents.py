"""Incidents: what one rule's crossing for one subject becomes, change by change.

`next_incident` is a pure function of the previous incident, the subject's current evidence
and whether the previous incident was resolved: the same inputs give the same incident on
every worker and in every replay, so replaying every topic changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from igsc.ports import IndexSchema
from igsc.respond_settings import Rule
from igsc.stix_time import format_us, instant_ns
from respond.evidence import Timed
from respond.model import (
    Event,
    EvidenceItem,
    Incident,
    IncidentStatus,
    TimelineEvent,
    incident_id,
)
from respond.window import Crossing, first_crossing

INCIDENTS = IndexSchema(
    name="incidents",
    keyword=(
        "id",
        "rule",
        "playbook",
        "subject",
        "subject_kind",
        "severity",
        "status",
        "countries",
        "partners",
        "distinct",
    ),
    text=("title",),
    date=("opened_at", "updated_at"),
    numeric=("epoch", "version", "distinct_count", "threshold", "score"),
    stored_only=("evidence", "timeline", "window_s", "epoch_start"),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Findings:
    """What a rule found for one subject: its counted evidence, oldest first."""

    rule: Rule
    subject: str
    subject_kind: str
    score: float
    evidence: Sequence[Timed]
    newest_us: int  # the newest time anywhere in the record (withdrawn reports too)


def next_incident(
    *, previous: Incident | None, found: Findings, resolved_at: str | None
) -> Incident | None:
    """The incident after this evidence; `previous` itself if nothing changed, None if the
    subject never crossed. `resolved_at`: when `previous` was resolved, if it was."""
    if previous is not None and resolved_at is not None:
        if previous.status is not IncidentStatus.RESOLVED:
            return _resolved(previous, at=resolved_at)
        return _open(found=found, epoch=previous.epoch + 1, after=resolved_at) or previous
    if previous is None:
        return _open(found=found, epoch=1, after="")
    return _updated(previous, found=found)


def _crossing(found: Findings, *, after: str) -> tuple[list[Timed], Crossing | None]:
    evidence = list(found.evidence)
    if after:
        cut = instant_ns(after) // 1000
        evidence = [t for t in evidence if t.at_us > cut]
    rule = found.rule
    crossing = first_crossing(
        evidence=evidence,
        distinct=rule.distinct.value,
        at_least=rule.at_least,
        within_s=rule.within,
    )
    return evidence, crossing


def _open(*, found: Findings, epoch: int, after: str) -> Incident | None:
    evidence, crossing = _crossing(found, after=after)
    if crossing is None:
        return None
    rule = found.rule
    counted = [t for t in evidence if t.at_us >= crossing.window_start_us]
    first = [t for t in counted if t.at_us <= crossing.crossed_at_us]
    opened_at = format_us(crossing.crossed_at_us)
    incident = Incident(
        id=incident_id(rule=rule.id, subject=found.subject, epoch=epoch),
        rule=rule.id,
        playbook=rule.playbook,
        title=rule.title or rule.id,
        severity=rule.severity.value,
        subject=found.subject,
        subject_kind=found.subject_kind,
        epoch=epoch,
        epoch_start=after,
        status=IncidentStatus.OPEN,
        distinct=rule.distinct.value,
        threshold=rule.at_least,
        window_s=rule.within,
        distinct_count=crossing.best_count,
        countries=_sorted_set(t.item.country for t in counted),
        partners=_sorted_set(t.item.partner for t in counted),
        score=round(found.score, 3),
        opened_at=opened_at,
        updated_at=format_us(max(t.at_us for t in counted)),
        evidence=tuple(t.item for t in counted),
        timeline=(
            Event(
                at=opened_at,
                event=TimelineEvent.OPENED,
                values=_sorted_set(t.value(distinct=rule.distinct.value) for t in first),
                detail=f"{len(_values(first, rule))} distinct {rule.distinct.value} values "
                f"within {_human(rule.within)}",
            ),
        ),
        version=1,
    )
    later = [t for t in counted if t.at_us > crossing.crossed_at_us]
    return _with_evidence(incident, previous_items=tuple(t.item for t in first), later=later)


def _updated(previous: Incident, *, found: Findings) -> Incident:
    evidence, crossing = _crossing(found, after=previous.epoch_start)
    rule = found.rule
    since_us = instant_ns(previous.evidence[0].at) // 1000 if previous.evidence else 0
    if crossing is not None:
        since_us = min(since_us, crossing.window_start_us)
    counted = [t for t in evidence if t.at_us >= since_us]
    items = tuple(t.item for t in counted)
    status = IncidentStatus.OPEN if crossing is not None else IncidentStatus.BELOW_THRESHOLD
    if items == previous.evidence and status is previous.status:
        return previous
    timeline = list(previous.timeline)
    newest = format_us(max([found.newest_us, *(t.at_us for t in counted)]))
    added = [t for t in counted if t.item not in set(previous.evidence)]
    if added:
        new_values = _values(added, rule) - _values_of_items(
            previous.evidence, distinct=rule.distinct.value
        )
        timeline.append(
            Event(
                at=format_us(max(t.at_us for t in added)),
                event=TimelineEvent.EVIDENCE,
                values=tuple(sorted(new_values)),
                detail=_evidence_detail(added, new_values, rule),
            )
        )
    if status is not previous.status:
        event = (
            TimelineEvent.ABOVE_THRESHOLD
            if status is IncidentStatus.OPEN
            else TimelineEvent.BELOW_THRESHOLD
        )
        best = crossing.best_count if crossing else _best_count(evidence, rule)
        timeline.append(
            Event(
                at=newest,
                event=event,
                detail=f"{best} distinct {rule.distinct.value} values within "
                f"{_human(rule.within)}, threshold {rule.at_least}",
            )
        )
    return _replace(
        previous,
        status=status,
        evidence=items,
        countries=_sorted_set(i.country for i in items),
        partners=_sorted_set(i.partner for i in items),
        distinct_count=crossing.best_count if crossing else _best_count(evidence, rule),
        score=round(found.score, 3),
        updated_at=newest,
        timeline=tuple(timeline),
    )


def _with_evidence(
    incident: Incident, *, previous_items: tuple[EvidenceItem, ...], later: list[Timed]
) -> Incident:
    """An incident opened with evidence that arrived after its crossing (a batch or a replay
    that brings it all at once) records that evidence as later timeline entries too."""
    if not later:
        return incident
    timeline = list(incident.timeline)
    seen = _values_of_items(previous_items, distinct=incident.distinct)
    for timed in later:
        value = timed.value(distinct=incident.distinct)
        new = {value} - seen
        seen.add(value)
        timeline.append(
            Event(
                at=timed.item.at,
                event=TimelineEvent.EVIDENCE,
                values=tuple(sorted(new)),
                detail=f"{timed.item.kind.value} from {timed.item.country}"
                if new
                else f"more {timed.item.kind.value}s",
            )
        )
    return _replace(incident, timeline=tuple(timeline))


def resolved_incident(previous: Incident, *, at: str) -> Incident:
    """The incident once every ticket was resolved at `at`: the step `next_incident` takes
    when the respond stage next sees the subject, so anyone may show it earlier."""
    return _resolved(previous, at=at)


def incident_from_doc(doc: dict[str, Any]) -> Incident:
    """An incident from its incidents-index document (the index adds fields of its own)."""
    fields = {name: doc[name] for name in Incident.__struct_fields__ if name in doc}
    return msgspec.convert(fields, Incident)


def _resolved(previous: Incident, *, at: str) -> Incident:
    event = Event(at=at, event=TimelineEvent.RESOLVED, detail="every ticket was resolved")
    return _replace(previous, status=IncidentStatus.RESOLVED, timeline=(*previous.timeline, event))


def _replace(incident: Incident, **changes: Any) -> Incident:
    fields = {name: getattr(incident, name) for name in incident.__struct_fields__}
    fields.update(changes)
    fields["version"] = incident.version + 1
    return Incident(**fields)


def _values(evidence: Sequence[Timed], rule: Rule) -> set[str]:
    return {t.value(distinct=rule.distinct.value) for t in evidence}


def _values_of_items(items: Sequence[EvidenceItem], *, distinct: str) -> set[str]:
    return {i.country if distinct == "country" else i.partner for i in items}


def _best_count(evidence: Sequence[Timed], rule: Rule) -> int:
    crossing = first_crossing(
        evidence=evidence, distinct=rule.distinct.value, at_least=1, within_s=rule.within
    )
    return crossing.best_count if crossing else 0


def _evidence_detail(added: list[Timed], new_values: set[str], rule: Rule) -> str:
    if new_values:
        return f"new {rule.distinct.value}: {', '.join(sorted(new_values))}"
    kinds = sorted({t.item.kind.value for t in added})
    return f"{len(added)} more {' and '.join(kinds)} evidence"


def _sorted_set(values: Any) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def _human(seconds: int) -> str:
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def incident_doc(incident: Incident) -> dict[str, Any]:
    """The incidents-index document: the incident's own fields, as plain data."""
    doc: dict[str, Any] = msgspec.to_builtins(incident)
    return doc
