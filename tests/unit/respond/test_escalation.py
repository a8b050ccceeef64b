"""SLA escalation with a test clock: every breached step of an open ticket, exactly once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from igsc.adapters.sqlite_index import SqliteIndex
from igsc.adapters.sqlite_state import SqliteState
from igsc.ports import State
from igsc.respond_settings import Team
from respond.escalation import due_escalations
from respond.model import Incident, IncidentStatus, RenderedTicket, StepDue
from respond.tickets import TicketStore

OPENED = "2026-12-01T10:00:00.000000Z"
STEP1_DUE = "2026-12-01T10:30:00.000000Z"
STEP2_DUE = "2026-12-01T12:00:00.000000Z"
DE = Team(id="de-oncall", country="DE", partner="cert-de")
FR = Team(id="fr-oncall", country="FR", partner="cert-fr")


def incident() -> Incident:
    return Incident(
        id="incident--0b6f1f8e-6a52-5d0b-9c3e-2f4d7a8b9c01",
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
        opened_at=OPENED,
        updated_at=OPENED,
        evidence=(),
        timeline=(),
        version=1,
    )


RENDERED = RenderedTicket(
    subject="[HIGH] cross-border: evil.example",
    body="Seen in DE, FR.\n",
    html="<p>Seen in DE, FR.</p>",
    steps=(
        StepDue(title="Block", owner="national-csirt-oncall", due_at=STEP1_DUE, text="Block."),
        StepDue(title="Report", owner="coordinating-hub", due_at=STEP2_DUE, text="Report."),
    ),
    due_at=STEP1_DUE,
)


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[tuple[TicketStore, str, Path]]:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    index = SqliteIndex(path=tmp_path / "index.db", prefix="t")
    store = TicketStore(state=state, index=index)
    change = store.open_or_update(incident=incident(), team=DE, rendered=RENDERED, now=OPENED)
    assert change is not None
    yield store, change.ticket.id, tmp_path
    state.close()
    index.close()


def steps(store: TicketStore, now: str) -> list[tuple[str, int]]:
    return [(e.ticket.team, e.step) for e in due_escalations(store=store, now=now)]


def test_each_breached_step_escalates_exactly_once(opened: tuple[TicketStore, str, Path]) -> None:
    store, tid, _ = opened
    assert steps(store, "2026-12-01T10:29:59.999999Z") == []
    assert steps(store, STEP1_DUE) == [("de-oncall", 0)]  # due at that instant: breached
    assert steps(store, STEP1_DUE) == []  # the same beat tick again
    assert steps(store, "2026-12-01T11:00:00.000000Z") == []  # later, same step: not again
    assert steps(store, STEP2_DUE) == [("de-oncall", 1)]
    assert steps(store, "2026-12-02T00:00:00.000000Z") == []
    ticket = store.require(ticket_id=tid)
    assert ticket.escalated_steps == (0, 1)
    escalated = [a for a in ticket.audit if a.action == "escalated"]
    assert [(a.at, a.note) for a in escalated] == [
        (STEP1_DUE, f"step 1 was due {STEP1_DUE}"),
        (STEP2_DUE, f"step 2 was due {STEP2_DUE}"),
    ]


def test_a_sweep_long_after_both_due_times_escalates_both_steps_once(
    opened: tuple[TicketStore, str, Path],
) -> None:
    store, _, _ = opened
    assert steps(store, "2026-12-03T00:00:00.000000Z") == [("de-oncall", 0), ("de-oncall", 1)]
    assert steps(store, "2026-12-04T00:00:00.000000Z") == []


def test_an_acknowledged_ticket_never_escalates(opened: tuple[TicketStore, str, Path]) -> None:
    store, tid, _ = opened
    store.acknowledge(ticket_id=tid, by="alice", note="on it", now="2026-12-01T10:10:00Z")
    assert steps(store, STEP1_DUE) == []
    assert steps(store, "2026-12-09T00:00:00.000000Z") == []
    assert store.require(ticket_id=tid).escalated_steps == ()


def test_acknowledging_after_a_breach_stops_the_later_steps(
    opened: tuple[TicketStore, str, Path],
) -> None:
    store, tid, _ = opened
    assert steps(store, STEP1_DUE) == [("de-oncall", 0)]
    store.acknowledge(ticket_id=tid, by="alice", note="", now="2026-12-01T10:40:00Z")
    assert steps(store, STEP2_DUE) == []
    store.resolve(ticket_id=tid, by="alice", note="", now="2026-12-01T11:00:00Z")
    assert steps(store, "2026-12-09T00:00:00.000000Z") == []


def test_only_open_tickets_of_every_team_are_swept(opened: tuple[TicketStore, str, Path]) -> None:
    store, tid, _ = opened
    other = store.open_or_update(incident=incident(), team=FR, rendered=RENDERED, now=OPENED)
    assert other is not None
    store.resolve(ticket_id=tid, by="alice", note="", now="2026-12-01T10:10:00Z")
    assert steps(store, STEP1_DUE) == [("fr-oncall", 0)]


class _RivalFirst:
    """A State whose first compare_and_set lets a rival beat process sweep first."""

    def __init__(self, inner: State, rival: TicketStore, now: str) -> None:
        self._inner, self._now = inner, now
        self._rival: TicketStore | None = rival
        self.rival_won: list[int] = []

    def get_many(self, *, keys: Sequence[str]) -> dict[str, bytes]:
        return self._inner.get_many(keys=keys)

    def compare_and_set(self, *, key: str, expected: bytes | None, new: bytes) -> bool:
        rival, self._rival = self._rival, None
        if rival is not None:
            self.rival_won += [e.step for e in due_escalations(store=rival, now=self._now)]
        return self._inner.compare_and_set(key=key, expected=expected, new=new)

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_two_beat_processes_racing_escalate_each_step_once(
    opened: tuple[TicketStore, str, Path],
) -> None:
    store, tid, home = opened
    index = SqliteIndex(path=home / "index.db", prefix="t")
    rival = TicketStore(state=SqliteState(path=home / "state.db", namespace="t"), index=index)
    racing_state = _RivalFirst(SqliteState(path=home / "state.db", namespace="t"), rival, STEP2_DUE)
    racing = TicketStore(state=racing_state, index=index)  # type: ignore[arg-type]
    ours = [e.step for e in due_escalations(store=racing, now=STEP2_DUE)]
    assert sorted(ours + racing_state.rival_won) == [0, 1]  # each step once between them
    assert racing_state.rival_won == [0, 1] and ours == []  # the rival read and won first
    assert store.require(ticket_id=tid).escalated_steps == (0, 1)
