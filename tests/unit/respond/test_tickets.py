"""The ticket store as the respond tasks, the CLI and the beat use it: on the embedded
adapters and once more on Redis + Elasticsearch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from igsc.adapters.es_index import ElasticsearchIndex
from igsc.adapters.redis_state import RedisState
from igsc.adapters.sqlite_index import SqliteIndex
from igsc.adapters.sqlite_state import SqliteState
from igsc.errors import RejectedInput, TransientFailure
from igsc.ports import Index, IndexDoc, State
from igsc.respond_settings import Rule, Team
from respond.incidents import (
    INCIDENTS,
    Findings,
    incident_doc,
    incident_from_doc,
    next_incident,
)
from respond.model import (
    DeliveryRecord,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    RenderedTicket,
    StepDue,
    TicketState,
    ticket_id,
)
from respond.ticket_rules import InvalidTransition
from respond.tickets import TICKETS, TicketNotFound, TicketStore, ticket_doc
from tests.conftest import require_service

T0 = "2026-12-01T10:00:00.000000Z"
T1 = "2026-12-01T10:05:00.000000Z"
T2 = "2026-12-01T10:10:00.000000Z"
DE = Team(id="de-oncall", country="DE", partner="cert-de")
RULE = Rule(id="cross-border", at_least=2, within="24h", playbook="p", severity="high")
NO_NEW_EVIDENCE = Findings(
    rule=RULE, subject="domain-name|evil.example", subject_kind="observable", score=70.0,
    evidence=(), newest_us=0,
)  # fmt: skip
FR = Team(id="fr-oncall", country="FR", partner="cert-fr")


def incident(*, version: int = 1, number: int = 1) -> Incident:
    return Incident(
        id=f"incident--0b6f1f8e-6a52-5d0b-9c3e-2f4d7a8b9c{number:02d}",
        rule="cross-border",
        playbook="p",
        title="Cross-border campaign",
        severity="high",
        subject="domain-name|evil.example",
        subject_kind="observable",
        epoch=1,
        status=IncidentStatus.OPEN,
        distinct="country",
        threshold=2,
        window_s=86_400,
        distinct_count=2,
        countries=("DE", "FR"),
        partners=("cert-de", "cert-fr"),
        score=70.0,
        opened_at=T0,
        updated_at=T0,
        evidence=(),
        timeline=(),
        version=version,
    )


def rendered(body: str = "Seen in DE, FR.\n") -> RenderedTicket:
    steps = (
        StepDue(title="Block", owner="national-csirt-oncall", due_at=T1, text="Block it."),
        StepDue(title="Report", owner="coordinating-hub", due_at=T2, text="Report back."),
    )
    return RenderedTicket(
        subject="[HIGH] cross-border: evil.example",
        body=body,
        html=f"<p>{body}</p>",
        steps=steps,
        due_at=T1,
    )


@dataclass(frozen=True, slots=True)
class Backend:
    """One storage: new State handles on it (separate connections, as separate processes
    have) and the index."""

    new_state: Callable[[], State]
    index: Index


@pytest.fixture(params=["sqlite", "redis+elasticsearch"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Iterator[Backend]:
    index: Index
    made: list[State] = []
    if request.param == "redis+elasticsearch":
        url = f"redis://{require_service('redis')}/0"
        index = ElasticsearchIndex(url=f"http://{require_service('elasticsearch')}", prefix=unique)

        def new_state() -> State:
            made.append(RedisState(url=url, namespace=unique))
            return made[-1]
    else:
        index = SqliteIndex(path=tmp_path / "index.db", prefix=unique)

        def new_state() -> State:
            made.append(SqliteState(path=tmp_path / "state.db", namespace=unique))
            return made[-1]

    yield Backend(new_state=new_state, index=index)
    if made:
        made[0].delete(keys=made[0].scan(prefix=""))
    for state in made:
        state.close()
    index.drop(schema=TICKETS)
    index.close()


@pytest.fixture
def store(backend: Backend) -> TicketStore:
    return TicketStore(state=backend.new_state(), index=backend.index)


def opened(store: TicketStore, *, team: Team = DE, number: int = 1, now: str = T0) -> str:
    change = store.open_or_update(
        incident=incident(number=number), team=team, rendered=rendered(), now=now
    )
    assert change is not None
    return change.ticket.id


def test_a_first_incident_opens_an_open_ticket_for_the_team(store: TicketStore) -> None:
    change = store.open_or_update(incident=incident(), team=DE, rendered=rendered(), now=T0)
    assert change is not None and change.created and not change.revised
    ticket = change.ticket
    assert ticket.id == ticket_id(incident=incident().id, team="de-oncall")
    assert (ticket.state, ticket.revision, ticket.seq, ticket.country) == (
        TicketState.OPEN,
        1,
        1,
        "DE",
    )
    assert (ticket.created_at, ticket.updated_at, ticket.due_at) == (T0, T0, T1)
    assert [s.title for s in ticket.steps] == ["Block", "Report"]
    assert [(a.action, a.by) for a in ticket.audit] == [("created", "igsc")]
    assert store.get(ticket_id=ticket.id) == ticket
    assert store.search(team="de-oncall") == [ticket]


def test_a_redelivered_task_changes_nothing(store: TicketStore) -> None:
    tid = opened(store)
    before = store.require(ticket_id=tid)
    again = store.open_or_update(incident=incident(), team=DE, rendered=rendered(), now=T2)
    assert again is None
    assert store.require(ticket_id=tid) == before


def test_a_newer_incident_version_revises_the_ticket_once(store: TicketStore) -> None:
    tid = opened(store)
    newer = rendered("Seen in DE, FR and LV.\n")
    change = store.open_or_update(incident=incident(version=2), team=DE, rendered=newer, now=T1)
    assert change is not None and change.revised and not change.created
    assert change.ticket.revision == 2 and change.ticket.body == "Seen in DE, FR and LV.\n"
    assert [a.action for a in change.ticket.audit] == ["created", "updated"]
    # The same version again (a redelivery) and an older one change nothing.
    assert (
        store.open_or_update(incident=incident(version=2), team=DE, rendered=newer, now=T2) is None
    )
    assert (
        store.open_or_update(incident=incident(version=1), team=DE, rendered=newer, now=T2) is None
    )
    # A newer version that renders the same ticket follows the version without a revision.
    same = store.open_or_update(incident=incident(version=3), team=DE, rendered=newer, now=T2)
    assert same is not None and not same.revised and not same.created
    assert (same.ticket.revision, same.ticket.incident_version) == (2, 3)
    assert store.require(ticket_id=tid).audit[-1].action == "updated"


def test_a_resolved_ticket_stays_resolved_but_records_the_update(store: TicketStore) -> None:
    tid = opened(store)
    store.resolve(ticket_id=tid, by="alice", note="blocked", now=T1)
    newer = rendered("Now also LV.\n")
    change = store.open_or_update(incident=incident(version=2), team=DE, rendered=newer, now=T2)
    assert change is not None and change.revised
    assert change.ticket.state is TicketState.RESOLVED
    assert [a.action for a in change.ticket.audit] == ["created", "resolved", "updated"]


class _Interleaved:
    """A State that runs `before_first_cas` just before its first compare_and_set, as if
    another process changed the ticket between this one's read and its write."""

    def __init__(self, inner: State, before_first_cas: Callable[[], object]) -> None:
        self._inner = inner
        self._hook: Callable[[], object] | None = before_first_cas

    def get_many(self, *, keys: Sequence[str]) -> dict[str, bytes]:
        return self._inner.get_many(keys=keys)

    def compare_and_set(self, *, key: str, expected: bytes | None, new: bytes) -> bool:
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()
        return self._inner.compare_and_set(key=key, expected=expected, new=new)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def _record(status: DeliveryStatus, *, did: str = "msg_1", attempts: int = 1) -> DeliveryRecord:
    return DeliveryRecord(
        delivery_id=did,
        channel="webhook",
        purpose="ticket",
        revision=1,
        status=status,
        attempts=attempts,
        last_error="503 from the receiver" if status is DeliveryStatus.FAILED else "",
    )


def test_an_acknowledgement_racing_a_delivery_record_loses_neither(
    backend: Backend, store: TicketStore
) -> None:
    tid = opened(store)
    cli = TicketStore(state=backend.new_state(), index=backend.index)

    def ack() -> None:
        cli.acknowledge(ticket_id=tid, by="alice", note="on it", now=T1)

    racing = TicketStore(state=_Interleaved(backend.new_state(), ack), index=backend.index)  # type: ignore[arg-type]
    racing.record_delivery(ticket_id=tid, record=_record(DeliveryStatus.DELIVERED), now=T1)
    ticket = store.require(ticket_id=tid)
    assert ticket.state is TicketState.ACKNOWLEDGED
    assert [d.status for d in ticket.deliveries] == [DeliveryStatus.DELIVERED]
    assert [a.action for a in ticket.audit] == ["created", "acknowledged", "delivered"]
    assert ticket.seq == 3
    # The index shows the last change, not the one that lost the race.
    assert store.search(state=TicketState.ACKNOWLEDGED) == [ticket]


def test_concurrent_writers_on_one_ticket_keep_every_change(backend: Backend) -> None:
    stores = [TicketStore(state=backend.new_state(), index=backend.index) for _ in range(2)]
    tid = opened(stores[0])

    def comment(n: int) -> None:
        for i in range(10):
            stores[n].comment(ticket_id=tid, by=f"writer{n}", note=f"note {i}", now=T1)

    threads = [threading.Thread(target=comment, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ticket = stores[0].require(ticket_id=tid)
    notes = sorted(a.note for a in ticket.audit if a.action == "commented")
    assert notes == sorted(f"note {i}" for i in range(10) for _ in range(2))
    assert ticket.seq == 21


class _AlwaysChanging:
    def __init__(self, inner: State) -> None:
        self._inner = inner

    def compare_and_set(self, *, key: str, expected: bytes | None, new: bytes) -> bool:
        return False

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_a_ticket_that_never_stops_changing_is_a_transient_failure(
    backend: Backend, store: TicketStore
) -> None:
    tid = opened(store)
    stuck = TicketStore(state=_AlwaysChanging(backend.new_state()), index=backend.index)  # type: ignore[arg-type]
    with pytest.raises(TransientFailure, match=tid):
        stuck.acknowledge(ticket_id=tid, by="alice", note="", now=T1)
    assert store.require(ticket_id=tid).state is TicketState.OPEN


def test_a_delivered_record_is_never_downgraded_by_a_late_retry(store: TicketStore) -> None:
    tid = opened(store)
    store.record_delivery(ticket_id=tid, record=_record(DeliveryStatus.PENDING), now=T0)
    store.record_delivery(ticket_id=tid, record=_record(DeliveryStatus.DELIVERED), now=T1)
    store.record_delivery(ticket_id=tid, record=_record(DeliveryStatus.PENDING), now=T2)
    late = store.record_delivery(ticket_id=tid, record=_record(DeliveryStatus.FAILED), now=T2)
    assert [(d.delivery_id, d.status) for d in late.deliveries] == [
        ("msg_1", DeliveryStatus.DELIVERED)
    ]
    assert [a.action for a in late.audit] == ["created", "delivered"]


def test_each_delivery_keeps_its_own_record_and_a_failure_is_audited_once(
    store: TicketStore,
) -> None:
    tid = opened(store)
    store.record_delivery(ticket_id=tid, record=_record(DeliveryStatus.PENDING), now=T0)
    store.record_delivery(ticket_id=tid, record=_record(DeliveryStatus.PENDING, attempts=2), now=T1)
    store.record_delivery(
        ticket_id=tid, record=_record(DeliveryStatus.PENDING, did="msg_2", attempts=0), now=T1
    )
    failed = _record(DeliveryStatus.FAILED, attempts=8)
    store.record_delivery(ticket_id=tid, record=failed, now=T2)
    ticket = store.record_delivery(ticket_id=tid, record=failed, now=T2)
    assert [(d.delivery_id, d.status, d.attempts) for d in ticket.deliveries] == [
        ("msg_1", DeliveryStatus.FAILED, 8),
        ("msg_2", DeliveryStatus.PENDING, 0),
    ]
    failures = [a for a in ticket.audit if a.action == "delivery-failed"]
    assert len(failures) == 1 and "503 from the receiver" in failures[0].note


def test_a_delivery_for_an_unknown_ticket_names_it(store: TicketStore) -> None:
    with pytest.raises(TicketNotFound, match="no ticket ticket--nope"):
        store.record_delivery(
            ticket_id="ticket--nope", record=_record(DeliveryStatus.PENDING), now=T0
        )


def test_acknowledge_comment_resolve_are_audited_by_name(store: TicketStore) -> None:
    tid = opened(store)
    store.acknowledge(ticket_id=tid, by="alice", note="looking", now=T1)
    store.comment(ticket_id=tid, by="bob", note="blocked at the resolver", now=T1)
    done = store.resolve(ticket_id=tid, by="alice", note="", now=T2)
    assert done.state is TicketState.RESOLVED and done.updated_at == T2
    assert [(a.action, a.by, a.note) for a in done.audit[1:]] == [
        ("acknowledged", "alice", "looking"),
        ("commented", "bob", "blocked at the resolver"),
        ("resolved", "alice", ""),
    ]
    # A comment is welcome after resolution too.
    after = store.comment(ticket_id=tid, by="carol", note="post-mortem filed", now=T2)
    assert after.state is TicketState.RESOLVED and after.audit[-1].action == "commented"


def test_invalid_transitions_say_why_and_change_nothing(store: TicketStore) -> None:
    tid = opened(store)
    store.acknowledge(ticket_id=tid, by="alice", note="", now=T1)
    with pytest.raises(InvalidTransition, match=r"already acknowledged \(by alice"):
        store.acknowledge(ticket_id=tid, by="bob", note="", now=T1)
    store.resolve(ticket_id=tid, by="alice", note="", now=T2)
    with pytest.raises(InvalidTransition, match=r"already resolved \(by alice.*twice"):
        store.resolve(ticket_id=tid, by="bob", note="", now=T2)
    with pytest.raises(InvalidTransition, match="only an open ticket can be acknowledged"):
        store.acknowledge(ticket_id=tid, by="bob", note="", now=T2)
    assert [a.action for a in store.require(ticket_id=tid).audit] == [
        "created",
        "acknowledged",
        "resolved",
    ]


def test_wrong_ids_missing_notes_and_nameless_actors_are_refused(store: TicketStore) -> None:
    tid = opened(store)
    with pytest.raises(TicketNotFound, match="no ticket ticket--missing"):
        store.require(ticket_id="ticket--missing")
    with pytest.raises(TicketNotFound, match="no ticket ticket--missing"):
        store.acknowledge(ticket_id="ticket--missing", by="alice", note="", now=T1)
    with pytest.raises(RejectedInput, match="needs a note"):
        store.comment(ticket_id=tid, by="alice", note="  ", now=T1)
    with pytest.raises(RejectedInput, match="--by"):
        store.resolve(ticket_id=tid, by="", note="", now=T1)
    assert store.get(ticket_id="ticket--missing") is None


def test_the_incident_is_resolved_when_its_last_ticket_is(store: TicketStore) -> None:
    de, fr = opened(store, team=DE), opened(store, team=FR)
    other = opened(store, team=DE, number=2)
    store.resolve(ticket_id=de, by="alice", note="", now=T1)
    assert store.incident_resolved(incident_id=incident().id) is None
    store.acknowledge(ticket_id=fr, by="jean", note="", now=T1)
    store.resolve(ticket_id=fr, by="jean", note="", now=T2)
    assert store.incident_resolved(incident_id=incident().id) == T2
    assert store.incident_resolved(incident_id=incident(number=2).id) is None
    assert store.require(ticket_id=other).state is TicketState.OPEN


def test_the_incidents_index_shows_the_resolution_at_once_as_the_stage_will_write_it(
    backend: Backend, store: TicketStore
) -> None:
    opened_incident = incident()
    backend.index.ensure(schema=INCIDENTS)
    backend.index.bulk_upsert(
        schema=INCIDENTS,
        docs=[IndexDoc(id=opened_incident.id, version=1, body=incident_doc(opened_incident))],
    )
    de, fr = opened(store, team=DE), opened(store, team=FR)
    store.resolve(ticket_id=de, by="alice", note="", now=T1)
    backend.index.refresh(schema=INCIDENTS)
    assert backend.index.get(schema=INCIDENTS, doc_id=opened_incident.id)["status"] == "open"  # type: ignore[index]
    store.resolve(ticket_id=fr, by="jean", note="", now=T2)
    backend.index.refresh(schema=INCIDENTS)
    shown = backend.index.get(schema=INCIDENTS, doc_id=opened_incident.id)
    assert shown is not None
    # What the respond stage computes on the subject's next evidence, from its own copy.
    later = next_incident(previous=opened_incident, found=NO_NEW_EVIDENCE, resolved_at=T2)
    assert later is not None and later.status is IncidentStatus.RESOLVED
    assert incident_from_doc(dict(shown)) == later
    backend.index.drop(schema=INCIDENTS)


def test_search_filters_and_lists_oldest_first(store: TicketStore) -> None:
    late = opened(store, team=DE, number=2, now=T2)
    early = opened(store, team=FR, number=1, now=T0)
    middle = opened(store, team=DE, number=1, now=T1)
    store.acknowledge(ticket_id=middle, by="alice", note="", now=T2)
    assert [t.id for t in store.search()] == [early, middle, late]
    assert [t.id for t in store.search(team="de-oncall")] == [middle, late]
    assert [t.id for t in store.search(state=TicketState.OPEN)] == [early, late]
    assert [t.id for t in store.search(incident=incident().id)] == [early, middle]
    assert [t.id for t in store.search(limit=2)] == [early, middle]
    assert store.search(team="nobody") == []


def test_a_late_mirror_never_takes_the_index_back(backend: Backend, store: TicketStore) -> None:
    tid = opened(store)
    first = store.require(ticket_id=tid)
    store.acknowledge(ticket_id=tid, by="alice", note="", now=T1)
    backend.index.bulk_upsert(
        schema=TICKETS, docs=[IndexDoc(id=tid, version=first.seq, body=ticket_doc(first))]
    )
    backend.index.refresh(schema=TICKETS)
    shown = backend.index.get(schema=TICKETS, doc_id=tid)
    assert shown is not None and shown["state"] == "acknowledged" and shown["seq"] == 2
