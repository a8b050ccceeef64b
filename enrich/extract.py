"""Extract stage: raw envelopes → observations keyed by canonical observable.

Owns per-STIX-id state (the raw topic is keyed by STIX id, so one worker writes each id):
versioning (a later `modified` instant replaces, an earlier or equal one is a no-op, only the
creator may version, more than 5 minutes in the future is quarantined with the reason; a
revoked version is versioned like any other and published as a revoked source), pending
sightings, location countries, identity sectors and ATT&CK ids.

Entries carry their envelope's `received_at`: the time comes from the raw topic, never from
extract's clock, so a replay publishes the same observations.

Every object on the raw topic passed the entrance (`ingest/convert.py`), so extract decodes
it into its typed struct (`igsc.stix_schema`) and reads the fields without checking them
again. Data written before the entrance existed may not decode: it is rejected with the
reason, like any bad input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from enrich.extract_codec import IndicatorVersions, PartnerVersion
from enrich.extract_state import ExtractBatch, ExtractStateStore, StateNeeds
from enrich.granular import indicator_view, sighting_level
from enrich.observables import observables_from
from enrich.observations import (
    Observation,
    Quarantined,
    RetractOp,
    SightingOp,
    SourceOp,
    TechniquesOp,
    ThreatsOp,
    encode_observation,
    encode_quarantined,
)
from enrich.patterns import parse_pattern
from enrich.record import SightingEntry, SourceEntry
from igsc.errors import RejectedInput
from igsc.interning import Interner
from igsc.ports import Message, State
from igsc.records import RawEnvelope, Rejection, rejection
from igsc.stix_schema import (
    AttackPattern,
    Identity,
    Indicator,
    Location,
    Relationship,
    Sighting,
    StixObject,
    decode_object,
)
from igsc.stix_time import StixTimeError, format_us, instant_ns, is_later
from igsc.tlp import TLP_BY_NAME, Tlp
from igsc.worker import StageOutput

FUTURE_TOLERANCE = timedelta(minutes=5)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


_ENVELOPE = msgspec.json.Decoder(RawEnvelope)
# What an indicator `indicates` besides ATT&CK techniques, by STIX id prefix.
_THREAT_PREFIXES = ("campaign--", "intrusion-set--", "malware--")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Arrival:
    """One decoded raw record."""

    data: bytes  # the envelope as it came, for the quarantine topic
    env: RawEnvelope
    typed: StixObject


@dataclass(slots=True, kw_only=True)
class _Run:
    """One batch: its state, the clock read once, and what it produces."""

    state: ExtractBatch
    horizon_ns: int  # versions modified after this instant are quarantined
    now: str
    out: list[tuple[bytes, bytes]] = field(default_factory=list)
    quarantined: list[tuple[bytes, bytes]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def emit(self, op: Observation) -> None:
        self.out.append((op.key.encode(), encode_observation(op)))


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
        self._observations_topic = observations_topic
        self._quarantine_topic = quarantine_topic
        self._reliability_of = reliability_of
        self._clock = clock
        self._store = ExtractStateStore(state=state, names=Interner(state=state, table="extract"))

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Turn a batch of envelopes into observations; state is saved after publishing."""
        rejected: list[Rejection] = []
        arrivals = [a for m in messages if (a := _decode(m.value, rejected)) is not None]
        now = self._clock()  # one clock read per batch
        run = _Run(
            state=self._store.load(_needs(arrivals)),
            horizon_ns=_ns_since_epoch(now + FUTURE_TOLERANCE),
            now=format_us(_ns_since_epoch(now) // 1000),
            rejected=rejected,
        )
        for arrival in arrivals:
            try:
                self._dispatch(arrival, run)
            except (RejectedInput, StixTimeError) as exc:
                run.rejected.append(_reject(exc, arrival=arrival))
        return StageOutput(
            records={
                self._observations_topic: run.out,
                self._quarantine_topic: run.quarantined,
            },
            rejected=run.rejected,
            after_publish=self._store.saver(run.state),
        )

    def _dispatch(self, arrival: _Arrival, run: _Run) -> None:
        match arrival.typed:
            case Indicator() as ind:
                self._indicator(arrival, ind, run)
            case Sighting() as sig:
                self._sighting(arrival.env, sig, run)
            case Location(country=str() as country):
                run.state.set_country(arrival.typed.id, country.upper())
            case Identity() as ident:
                declared = ident.country_code
                if declared:
                    run.state.set_country(ident.id, declared.upper())
                if ident.sectors:  # like the country: a later version without any keeps them
                    run.state.set_sectors(ident.id, tuple(sorted(set(ident.sectors))))
            case AttackPattern() as ap:
                technique = _attack_id(ap)
                if technique:
                    run.state.set_technique(ap.id, technique)
            case Relationship() as rel:
                _relationship(rel, run)

    def _indicator(self, arrival: _Arrival, ind: Indicator, run: _Run) -> None:
        env, version = arrival.env, ind.modified
        if instant_ns(version) > run.horizon_ns:
            _quarantine(arrival, ind, run)
            return
        known = run.state.versions.get(ind.id) or IndicatorVersions(creator=None)
        creator = ind.created_by_ref
        if known.creator is not None and creator != known.creator:
            raise RejectedInput(
                "only the creator may version an object",
                detail=f"{ind.id} was created by {known.creator}, not {creator}",
            )
        previous = known.of(env.partner)
        if previous is not None and not is_later(version, than=previous.version):
            return  # an earlier or the same instant: nothing changes
        if ind.pattern_type != "stix":
            return  # Sigma, YARA and others carry no STIX observables
        found = observables_from(parsed=parse_pattern(pattern=ind.pattern))
        entry = self._source_entry(env=env, ind=ind)
        for o in found:
            run.emit(SourceOp(key=o.key, kind=o.kind, value=o.value, flags=o.flags, entry=entry))
        keys = tuple(sorted(o.key for o in found))  # observables_from gives each key once
        for gone in sorted(set(previous.keys if previous else ()) - set(keys)):
            run.emit(RetractOp(key=gone, partner=env.partner, stix_id=ind.id, version=version))
        seen = PartnerVersion(partner=env.partner, version=version, keys=keys)
        run.state.set_versions(ind.id, known.with_version(seen, creator=creator))
        # Sightings that came before their indicator go out now; then they are forgotten.
        for sighting in run.state.take_pending(ind.id):
            for key in keys:
                run.emit(SightingOp(key=key, entry=sighting))
        links = run.state.take_links(ind.id)
        if links is not None:
            for key in keys:
                if links.techniques:
                    run.emit(TechniquesOp(key=key, techniques=links.techniques))
                if links.threats:
                    run.emit(ThreatsOp(key=key, threats=links.threats))

    def _source_entry(self, *, env: RawEnvelope, ind: Indicator) -> SourceEntry:
        # Granular markings raise the entry's TLP or leave fields out (enrich/granular.py).
        level = TLP_BY_NAME.get(env.tlp, Tlp.RED)
        view = indicator_view(indicator=ind, level=level)
        phases = view.kill_chain_phases
        instant_ns(env.received_at)  # merge compares it: a bad one is rejected here
        return SourceEntry(
            stix_id=ind.id,
            version=ind.modified,
            partner=env.partner,
            country=env.country,
            tlp=env.tlp if view.level is level else view.level.label,
            confidence=view.confidence,
            reliability=self._reliability_of.get(env.partner, 0.5),
            created_by=ind.created_by_ref,
            valid_from=ind.valid_from,
            labels=tuple(sorted(view.labels)) if view.labels else (),
            kill_chain_phases=tuple(f"{p.kill_chain_name}:{p.phase_name}" for p in phases)
            if phases
            else (),
            description=f"{view.name or ''} {view.description or ''}".strip(),
            received_at=env.received_at,
            revoked=ind.revoked,
            valid_until=ind.valid_until,
        )

    def _sighting(self, env: RawEnvelope, sig: Sighting, run: _Run) -> None:
        located, sectored = run.state.countries, run.state.sectors
        countries = {located[r] for r in sig.where_sighted_refs if r in located}
        sectors = {x for r in sig.where_sighted_refs for x in sectored.get(r, ())}
        instant_ns(env.received_at)  # merge compares it: a bad one is rejected here
        # Granular markings on what the entry copies raise its TLP (enrich/granular.py).
        base = TLP_BY_NAME.get(env.tlp, Tlp.RED)
        level = sighting_level(sighting=sig, level=base)
        entry = SightingEntry(
            sighting_id=sig.id,
            version=sig.modified,
            partner=env.partner,
            countries=tuple(sorted(countries or {env.country})),
            count=sig.count or 1,
            first_seen=sig.first_seen,
            last_seen=sig.last_seen or sig.first_seen,
            tlp=env.tlp if level is base else level.label,
            received_at=env.received_at,
            sectors=tuple(sorted(sectors)),
        )
        known = run.state.versions.get(sig.sighting_of_ref)
        if known is None:
            run.state.add_pending(sig.sighting_of_ref, entry)
            return
        for key in known.observable_keys():
            run.emit(SightingOp(key=key, entry=entry))


def _relationship(rel: Relationship, run: _Run) -> None:
    if rel.relationship_type not in ("indicates", "uses"):
        return
    technique = run.state.techniques.get(rel.target_ref)
    threat = (
        rel.target_ref
        if not technique
        and rel.relationship_type == "indicates"
        and rel.target_ref.startswith(_THREAT_PREFIXES)
        else None
    )
    if not technique and threat is None:
        return
    known = run.state.versions.get(rel.source_ref)
    if not known:
        # A bundle's objects travel on different partitions: the link may come first. It
        # waits for its indicator, as sightings do.
        run.state.add_link(rel.source_ref, technique=technique or None, threat=threat)
        return
    for key in known.observable_keys():
        if technique:
            run.emit(TechniquesOp(key=key, techniques=(technique,)))
        if threat is not None:
            run.emit(ThreatsOp(key=key, threats=(threat,)))


def _quarantine(arrival: _Arrival, ind: Indicator, run: _Run) -> None:
    held = Quarantined(
        stage="extract",
        reason=(
            f"modified {ind.modified} is more than "
            f"{FUTURE_TOLERANCE.total_seconds() / 60:g} minutes in the future "
            f"(extract's clock read {run.now})"
        ),
        partner=arrival.env.partner,
        stix_id=ind.id,
        quarantined_at=run.now,
        envelope=msgspec.Raw(arrival.data),
    )
    run.quarantined.append((ind.id.encode(), encode_quarantined(held)))


def _needs(arrivals: list[_Arrival]) -> StateNeeds:
    needs = StateNeeds()
    for arrival in arrivals:
        match arrival.typed:
            case Indicator(id=stix_id):
                needs.versions.add(stix_id)
                needs.pending.add(stix_id)
                needs.links.add(stix_id)
            case Sighting() as sig:
                needs.versions.add(sig.sighting_of_ref)
                needs.countries.update(sig.where_sighted_refs)
                needs.sectors.update(sig.where_sighted_refs)
                needs.pending.add(sig.sighting_of_ref)  # appended to, not replaced
            case Relationship() as rel:
                needs.versions.add(rel.source_ref)
                needs.techniques.add(rel.target_ref)
                needs.links.add(rel.source_ref)  # appended to, if it waits
    return needs


def _attack_id(ap: AttackPattern) -> str | None:
    for ref in ap.external_references:
        if ref.source_name == "mitre-attack" and ref.external_id:
            return ref.external_id
    return None


def _ns_since_epoch(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _decode(data: bytes, rejected: list[Rejection]) -> _Arrival | None:
    """The envelope and its typed object; None (and a rejection with the reason) if either
    does not decode, such as records written before the entrance checked every object."""
    try:
        env = _ENVELOPE.decode(data)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        reason = f"envelope: {exc}" if isinstance(exc, msgspec.ValidationError) else None
        rejected.append(
            rejection(
                stage="extract",
                reason=reason or f"envelope is not valid JSON: {exc}",
                partner=None,
                stix_id=None,
                payload=data.decode("utf-8", "replace"),
            )
        )
        return None
    try:
        typed = decode_object(env.object)
    except RejectedInput as exc:
        rejected.append(
            rejection(
                stage="extract",
                reason=f"object does not match the STIX schema: {exc}",
                partner=env.partner,
                stix_id=None,
                payload=bytes(env.object).decode("utf-8", "replace"),
            )
        )
        return None
    return _Arrival(data=data, env=env, typed=typed)


def _reject(exc: RejectedInput | StixTimeError, *, arrival: _Arrival) -> Rejection:
    if isinstance(exc, RejectedInput):
        reason = exc.reason if not exc.detail else f"{exc.reason}: {exc.detail}"
    else:
        reason = f"bad timestamp: {exc}"
    return rejection(
        stage="extract",
        reason=reason,
        partner=arrival.env.partner,
        stix_id=arrival.typed.id,
        payload=bytes(arrival.env.object).decode("utf-8", "replace"),
    )
