"""Merge stage: observations → one enriched record per observable, indexed and published.

Merge writes the index itself (one hop and one JSON decode less than a separate index stage)
and publishes the same documents on the `indicators` topic for whoever reacts to them.

The observations topic is keyed by observable, so one worker owns each record. Applying the
same observation twice changes nothing, which makes redelivery and replay harmless.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import orjson

from enrich.enrichers import enrich
from enrich.indexer import upsert_documents
from enrich.merge_codec import MERGE_TABLE, decode_record, encode_record, row_key
from enrich.observations import (
    Observation,
    RetractOp,
    SightingOp,
    SourceOp,
    TechniquesOp,
    ThreatsOp,
    decode_observation,
)
from enrich.record import Enricher, IndicatorRecord, SightingEntry, SourceEntry, evolve
from enrich.schema import INDICATORS, indicator_doc
from igsc.interning import Interner
from igsc.ports import Index, Message, State
from igsc.records import Rejection, rejection
from igsc.stix_time import StixTimeError, instant_ns, is_later
from igsc.worker import StageOutput

FIRST_VERSION = 1  # a record's first document; every later change adds one


def apply(record: IndicatorRecord | None, op: Observation) -> IndicatorRecord | None:
    """The record after one observation; None if there is still no record.

    Versions are compared as instants (igsc.stix_time), never as text: `...:00.5Z` is later
    than `...:00Z` although it sorts first."""
    match op:
        case SourceOp():
            if record is None:  # built once, with its first source and its first version
                return IndicatorRecord(
                    key=op.key,
                    kind=op.kind,
                    value=op.value,
                    flags=op.flags,
                    sources=(op.entry,),
                    version=FIRST_VERSION,
                )
            return _with_source(record, op.entry)
        case _ if record is None:
            return None  # a retraction, sighting or link for an observable nobody reported yet
        case RetractOp():
            retracted = instant_ns(op.version)
            kept = tuple(
                s
                for s in record.sources
                if not (
                    s.partner == op.partner
                    and s.stix_id == op.stix_id
                    and instant_ns(s.version) < retracted
                )
            )
            if len(kept) == len(record.sources):
                return record
            return evolve(record=record, sources=kept)
        case SightingOp():
            return _with_sighting(record, op.entry)
        case TechniquesOp():
            techniques = tuple(sorted({*record.techniques, *op.techniques}))
            if techniques == record.techniques:
                return record
            return evolve(record=record, techniques=techniques)
        case ThreatsOp():
            threats = tuple(sorted({*record.threats, *op.threats}))
            if threats == record.threats:
                return record
            return evolve(record=record, threats=threats)


def _with_source(record: IndicatorRecord, entry: SourceEntry) -> IndicatorRecord:
    same = [s for s in record.sources if (s.partner, s.stix_id) == (entry.partner, entry.stix_id)]
    if same and not is_later(entry.version, than=same[0].version):
        return record
    others = tuple(s for s in record.sources if s not in same)
    return evolve(record=record, sources=tuple(sorted((*others, entry), key=_source_order)))


def _source_order(s: SourceEntry) -> tuple[str, str]:
    return s.partner, s.stix_id


def _with_sighting(record: IndicatorRecord, entry: SightingEntry) -> IndicatorRecord:
    same = [g for g in record.sightings if g.sighting_id == entry.sighting_id]
    if same and not is_later(entry.version, than=same[0].version):
        return record
    others = tuple(g for g in record.sightings if g not in same)
    sightings = tuple(sorted((*others, entry), key=lambda g: g.sighting_id))
    return evolve(record=record, sightings=sightings)


class MergeStage:
    """observations → one document per observable in the index, and on the indicators topic."""

    name = "merge"

    def __init__(
        self,
        *,
        state: State,
        index: Index,
        indicators_topic: str,
        enrichers: Sequence[Enricher],
    ) -> None:
        self._state = state
        self._index = index
        index.ensure(schema=INDICATORS)
        self._indicators_topic = indicators_topic
        self._enrichers = tuple(enrichers)
        self._names = Interner(state=state, table=MERGE_TABLE)

    def pace(self, *, behind: bool) -> None:
        """Pass the worker's backlog report on to the index (igsc.pacing)."""
        self._index.pace(schema=INDICATORS, behind=behind)

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Merge a batch; changed records are published, then their state saved."""
        ops, rejected = _decode(messages)
        before = self._load(sorted({op.key for op in ops}))
        current: dict[str, IndicatorRecord | None] = dict(before)
        for op in ops:
            try:
                current[op.key] = apply(current.get(op.key), op)
            except StixTimeError as exc:  # a stored version written before anyone checked it
                rejected.append(
                    rejection(
                        stage=self.name,
                        reason=f"bad observation: version: {exc}",
                        partner=None,
                        stix_id=None,
                        payload=msgspec.to_builtins(op),
                    )
                )
        changed = _changed(before, current)
        docs = [indicator_doc(self._enrich(r)) for r in changed.values()]
        encoded = [orjson.dumps(d) for d in docs]  # once, for the index and the topic
        if docs:  # the sink first: offsets and state move only once the index has them
            rejected += upsert_documents(
                index=self._index, docs=docs, stage=self.name, encoded=encoded
            )
        records = [(d["key"].encode(), e) for d, e in zip(docs, encoded, strict=True)]
        rows = {row_key(k): encode_record(r, names=self._names) for k, r in changed.items()}
        return StageOutput(
            records={self._indicators_topic: records},
            rejected=rejected,
            after_publish=(lambda: self._state.put_rows(table=MERGE_TABLE, rows=rows))
            if rows
            else None,
        )

    def _load(self, keys: list[str]) -> dict[str, IndicatorRecord]:
        by_row = {row_key(k): k for k in keys}
        stored = self._state.get_rows(table=MERGE_TABLE, keys=list(by_row))
        return {
            by_row[row]: decode_record(by_row[row], data, names=self._names)
            for row, data in stored.items()
        }

    def _enrich(self, record: IndicatorRecord) -> IndicatorRecord:
        return enrich(record=record, enrichers=self._enrichers)


def _changed(
    before: dict[str, IndicatorRecord], current: dict[str, IndicatorRecord | None]
) -> dict[str, IndicatorRecord]:
    """Records that differ from their stored state, each one version above it."""
    changed: dict[str, IndicatorRecord] = {}
    for key, record in current.items():
        if record is None or record == before.get(key):
            continue
        version = before[key].version + 1 if key in before else FIRST_VERSION
        if record.version != version:
            record = evolve(record=record, version=version)
        changed[key] = record
    return changed


def _decode(messages: Sequence[Message]) -> tuple[list[Observation], list[Rejection]]:
    ops: list[Observation] = []
    rejected: list[Rejection] = []
    for m in messages:
        where = ""
        try:
            op = decode_observation(m.value)
            for name, stamp in _times_of(op):  # checked here: a bad one never reaches state
                where = name  # for the rejection's reason
                instant_ns(stamp)
            ops.append(op)
        except (msgspec.DecodeError, StixTimeError) as exc:  # ValidationError is a DecodeError
            where = f"{where}: " if isinstance(exc, StixTimeError) else ""
            rejected.append(
                rejection(
                    stage="merge",
                    reason=f"bad observation: {where}{exc}",
                    partner=None,
                    stix_id=None,
                    payload=m.value.decode("utf-8", "replace"),
                )
            )
    return ops, rejected


def _times_of(op: Observation) -> list[tuple[str, str]]:
    """The STIX timestamps merge compares, by name: the version an observation is ordered by,
    and the arrival and expiry times the document compares (a link has none)."""
    match op:
        case SourceOp():
            e = op.entry
            named = [("version", e.version), ("received_at", e.received_at)]
            return _given([*named, ("valid_until", e.valid_until)])
        case SightingOp():
            return _given([("version", op.entry.version), ("received_at", op.entry.received_at)])
        case RetractOp():
            return [("version", op.version)]
        case TechniquesOp() | ThreatsOp():
            return []


def _given(named: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in named if value is not None]
