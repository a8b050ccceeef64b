"""Extract stage: raw envelopes → observations keyed by canonical observable.

Owns per-STIX-id state (the raw topic is keyed by STIX id, so one worker writes each id):
versioning (newer `modified` replaces, older or equal is a no-op, only the creator may version,
more than 5 minutes in the future is quarantined), pending sightings and location countries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from enrich.extract_codec import SID_TABLE, decode_sid, encode_sid, sid_row_key
from enrich.observables import observables_from
from enrich.observations import (
    retract_op,
    sighting_op,
    source_op,
    techniques_op,
)
from enrich.patterns import parse_pattern
from enrich.record import SightingEntry, SourceEntry
from igsc.errors import RejectedInput
from igsc.interning import Interner
from igsc.ports import Message, State
from igsc.records import Envelope, Rejection, rejection
from igsc.stix import check_object
from igsc.worker import StageOutput

FUTURE_TOLERANCE = timedelta(minutes=5)
_SID = "sid:"  # per-indicator version state: packed rows; other state keys stay JSON
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: str) -> datetime:
    """A STIX timestamp as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class _Batch:
    """Working set of one batch: state read once, written once after publishing."""

    state: dict[str, Any]
    horizon: datetime  # versions modified after this are quarantined
    dirty: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)  # state keys to delete
    out: list[tuple[bytes, bytes]] = field(default_factory=list)
    quarantined: list[tuple[bytes, bytes]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def put(self, key: str, value: Any) -> None:
        self.state[key] = value
        self.dirty.add(key)
        self.gone.discard(key)

    def drop(self, key: str) -> None:
        self.state.pop(key, None)
        self.dirty.discard(key)
        self.gone.add(key)


class ExtractStage:
    """raw → observations."""

    name = "extract"

    def __init__(
        self,
        *,
        state: State,
        observations_topic: str,
        quarantine_topic: str,
        reliability_of: dict[str, float],
        clock: Clock = _utc_now,
    ) -> None:
        self._state = state
        self._observations_topic = observations_topic
        self._quarantine_topic = quarantine_topic
        self._reliability_of = reliability_of
        self._clock = clock
        self._names = Interner(state=state, table="extract")

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Turn a batch of envelopes into observations; state is saved after publishing."""
        envelopes: list[Envelope] = []
        batch = _Batch(state={}, horizon=self._clock() + FUTURE_TOLERANCE)  # one clock read
        for m in messages:
            try:
                env = Envelope.from_bytes(m.value)
                check_object(env.object)
                envelopes.append(env)
            except RejectedInput as exc:
                batch.rejected.append(_reject(exc, payload=m.value.decode("utf-8", "replace")))
        batch.state = self._load_state(envelopes)
        for env in envelopes:
            try:
                self._dispatch(env, batch)
            except RejectedInput as exc:
                batch.rejected.append(_reject(exc, env=env))
        return StageOutput(
            records={
                self._observations_topic: batch.out,
                self._quarantine_topic: batch.quarantined,
            },
            rejected=batch.rejected,
            after_publish=self._saver(batch) if batch.dirty or batch.gone else None,
        )

    def _saver(self, batch: _Batch) -> Callable[[], None]:
        """Encodes now (ids are interned before any row uses them), writes after publishing."""
        rows: dict[bytes, bytes] = {}
        items: dict[str, bytes] = {}
        for key in batch.dirty:
            if key.startswith(_SID):
                rows[sid_row_key(key[len(_SID) :])] = encode_sid(
                    batch.state[key], names=self._names
                )
            else:
                items[key] = orjson.dumps(batch.state[key])

        gone = sorted(batch.gone)

        def save() -> None:
            self._state.put_rows(table=SID_TABLE, rows=rows)
            if items:
                self._state.put_many(items=items)
            if gone:
                self._state.delete(keys=gone)

        return save

    def _load_state(self, envelopes: list[Envelope]) -> dict[str, Any]:
        keys: set[str] = set()
        for env in envelopes:
            obj = env.object
            keys.add(f"sid:{obj['id']}")
            if obj["type"] == "indicator":
                keys.add(f"pend:{obj['id']}")
            elif obj["type"] == "sighting":
                keys.add(f"sid:{obj.get('sighting_of_ref', '')}")
                keys.update(f"loc:{ref}" for ref in obj.get("where_sighted_refs", ()))
            elif obj["type"] == "relationship":
                keys.add(f"sid:{obj.get('source_ref', '')}")
                keys.add(f"ap:{obj.get('target_ref', '')}")
        sids = {sid_row_key(k[len(_SID) :]): k for k in keys if k.startswith(_SID)}
        found = self._state.get_many(keys=sorted(k for k in keys if not k.startswith(_SID)))
        state = {k: orjson.loads(v) for k, v in found.items()}
        rows = self._state.get_rows(table=SID_TABLE, keys=list(sids))
        state.update((sids[row], decode_sid(data, names=self._names)) for row, data in rows.items())
        return state

    def _dispatch(self, env: Envelope, batch: _Batch) -> None:
        kind = env.object["type"]
        if kind == "indicator":
            self._indicator(env, batch)
        elif kind == "sighting":
            self._sighting(env, batch)
        elif kind == "location" and isinstance(env.object.get("country"), str):
            batch.put(f"loc:{env.object['id']}", env.object["country"].upper())
        elif kind == "identity":
            country = env.object.get("x_country") or env.object.get("country")
            if isinstance(country, str):
                batch.put(f"loc:{env.object['id']}", country.upper())
        elif kind == "attack-pattern":
            technique = _attack_id(env.object)
            if technique:
                batch.put(f"ap:{env.object['id']}", technique)
        elif kind == "relationship":
            self._relationship(env, batch)

    def _indicator(self, env: Envelope, batch: _Batch) -> None:
        obj = env.object
        version = str(obj["modified"])
        if parse_time(version) > batch.horizon:
            batch.quarantined.append((env.key, env.to_bytes()))
            return
        record = batch.state.get(f"sid:{obj['id']}") or {"by": None, "p": {}}
        creator = obj.get("created_by_ref")
        if record["by"] is not None and creator != record["by"]:
            raise RejectedInput(
                "only the creator may version an object",
                detail=f"{obj['id']} was created by {record['by']}, not {creator}",
            )
        previous = record["p"].get(env.partner)
        if previous is not None and version <= previous["v"]:
            return  # an older or identical version: nothing changes
        if obj.get("pattern_type", "stix") != "stix":
            return  # Sigma, YARA and others carry no STIX observables
        found = observables_from(parsed=parse_pattern(pattern=str(obj["pattern"])))
        entry = self._source_entry(env)
        keys: list[str] = []
        for o in found:
            key = o.key
            keys.append(key)
            op = source_op(key=key, kind=o.kind, value=o.value, flags=o.flags, entry=entry)
            batch.out.append(_keyed(key, op))
        keys.sort()  # observables_from gives each key once
        for gone in sorted(set(previous["k"] if previous else ()) - set(keys)):
            batch.out.append(
                _keyed(
                    gone,
                    retract_op(key=gone, partner=env.partner, stix_id=obj["id"], version=version),
                )
            )
        record = {
            "by": record["by"] or creator,
            "p": {**record["p"], env.partner: {"v": version, "k": keys}},
        }
        batch.put(f"sid:{obj['id']}", record)
        self._flush_pending(obj["id"], keys, batch)

    def _source_entry(self, env: Envelope) -> SourceEntry:
        obj = env.object
        phases = obj.get("kill_chain_phases", ())
        if phases != ():  # absent, the usual case, needs no generator
            phases = tuple(
                f"{p.get('kill_chain_name', '')}:{p.get('phase_name', '')}"
                for p in phases
                if isinstance(p, dict)
            )
        confidence = obj.get("confidence")
        # Positional, in field order: matching twelve keywords costs more than the fields.
        return SourceEntry(
            obj["id"],  # stix_id
            str(obj["modified"]),  # version
            env.partner,
            env.country,
            env.tlp,
            confidence if isinstance(confidence, int) else None,
            self._reliability_of.get(env.partner, 0.5),
            obj.get("created_by_ref"),
            obj.get("valid_from"),
            tuple(sorted(map(str, obj.get("labels", ())))),
            phases,
            f"{obj.get('name', '')} {obj.get('description', '')}".strip(),
        )

    def _sighting(self, env: Envelope, batch: _Batch) -> None:
        obj = env.object
        countries = sorted(
            {
                batch.state[f"loc:{r}"]
                for r in obj.get("where_sighted_refs", ())
                if f"loc:{r}" in batch.state
            }
            or {env.country}
        )
        entry = SightingEntry(
            sighting_id=obj["id"],
            version=str(obj["modified"]),
            partner=env.partner,
            countries=tuple(countries),
            count=int(obj.get("count", 1) or 1),
            first_seen=obj.get("first_seen"),
            last_seen=obj.get("last_seen") or obj.get("first_seen"),
        )
        target = str(obj.get("sighting_of_ref", ""))
        known = batch.state.get(f"sid:{target}")
        if known is None:
            pending = batch.state.get(f"pend:{target}", [])
            batch.put(f"pend:{target}", [*pending, orjson.loads(sighting_op(key="", entry=entry))])
            return
        for key in _keys_of(known):
            batch.out.append(_keyed(key, sighting_op(key=key, entry=entry)))

    def _flush_pending(self, indicator_id: str, keys: list[str], batch: _Batch) -> None:
        """Sightings that came before their indicator go out now; then they are forgotten."""
        pending = batch.state.get(f"pend:{indicator_id}")
        if pending is None:
            return
        for sighting in pending:
            for key in keys:
                batch.out.append(_keyed(key, orjson.dumps({**sighting, "key": key})))
        batch.drop(f"pend:{indicator_id}")

    def _relationship(self, env: Envelope, batch: _Batch) -> None:
        obj = env.object
        if obj.get("relationship_type") not in ("indicates", "uses"):
            return
        technique = batch.state.get(f"ap:{obj.get('target_ref', '')}")
        known = batch.state.get(f"sid:{obj.get('source_ref', '')}")
        if technique and known:
            for key in _keys_of(known):
                batch.out.append(_keyed(key, techniques_op(key=key, techniques=(technique,))))


def _keys_of(record: dict[str, Any]) -> list[str]:
    return sorted({k for partner in record["p"].values() for k in partner["k"]})


def _keyed(key: str, value: bytes) -> tuple[bytes, bytes]:
    return key.encode(), value


def _attack_id(obj: dict[str, Any]) -> str | None:
    for ref in obj.get("external_references", ()):
        if isinstance(ref, dict) and ref.get("source_name") == "mitre-attack":
            ext = ref.get("external_id")
            if isinstance(ext, str):
                return ext
    return None


def _reject(exc: RejectedInput, *, env: Envelope | None = None, payload: Any = None) -> Rejection:
    return rejection(
        stage="extract",
        reason=exc.reason if not exc.detail else f"{exc.reason}: {exc.detail}",
        partner=env.partner if env else None,
        stix_id=str(env.object.get("id")) if env else None,
        payload=env.object if env else payload,
    )
