"""The ticket store: one authoritative copy of each ticket in State, mirrored into an index.

Each ticket is one State key, `tickets/<ticket id>`, changed only by read-modify-compare-and-
set: a Celery task, a redelivered task, a CLI acknowledgement and the escalation beat racing
on one ticket never lose a change (whoever loses the CAS applies its change on the winner's
copy). Every change increments `seq`, the ticket's version in the `tickets` index, so a late
mirror is a no-op and the index never goes back in time. Searches find ids in the index and
return the State copies. The store reads no clock: every operation is given `now`.

When the last unresolved ticket of an incident is resolved, the store writes the incident's
write-once marker (`respond.model.resolved_marker_key`) holding the resolve time; the respond
stage reads it and opens a new epoch (a new incident) on the subject's next evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from igsc.errors import RejectedInput, TransientFailure
from igsc.ports import Index, IndexDoc, IndexSchema, SearchQuery, SortKey, State
from igsc.respond_settings import Team
from igsc.stix_time import instant_ns
from respond.incidents import INCIDENTS, incident_doc, incident_from_doc, resolved_incident
from respond.model import (
    AuditEntry,
    DeliveryRecord,
    Incident,
    IncidentStatus,
    RenderedTicket,
    Ticket,
    TicketState,
    decode_ticket,
    encode,
    resolved_marker_key,
    ticket_id,
)
from respond.ticket_rules import (
    SYSTEM,
    created_ticket,
    refuse_transition,
    version_note,
    with_deliveries,
)

TICKETS = IndexSchema(
    name="tickets",
    keyword=("id", "incident", "rule", "team", "country", "state", "severity"),
    date=("due_at", "created_at", "updated_at"),
    numeric=("revision", "seq"),
    stored_only=(
        "subject",
        "body",
        "html",
        "steps",
        "deliveries",
        "audit",
        "escalated_steps",
        "incident_version",
    ),
)

CAS_ATTEMPTS = 32  # then the ticket is too contended: the caller retries later
_PAGE = 500


class TicketNotFound(RejectedInput):
    """No ticket has this id: the caller named a wrong one."""

    def __init__(self, *, ticket_id: str) -> None:
        super().__init__(f"no ticket {ticket_id}")
        self.ticket_id = ticket_id


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketChange:
    """What open_or_update did: the ticket now, and whether it was created or re-rendered."""

    ticket: Ticket
    created: bool
    revised: bool


# (the copy before, the copy after or None if nothing changed)
_Outcome = tuple[Ticket | None, Ticket | None]


def ticket_key(*, ticket_id: str) -> str:
    """The State key of a ticket's authoritative copy."""
    return f"tickets/{ticket_id}"


def ticket_doc(ticket: Ticket) -> dict[str, Any]:
    """The tickets-index document: the ticket's own fields, as plain data."""
    doc: dict[str, Any] = msgspec.to_builtins(ticket)
    return doc


class TicketStore:
    """Tickets in State (authoritative, changed by CAS) mirrored into the TICKETS index."""

    def __init__(self, *, state: State, index: Index) -> None:
        self._state = state
        self._index = index
        self._ensured = False

    def get(self, *, ticket_id: str) -> Ticket | None:
        """The ticket, or None."""
        key = ticket_key(ticket_id=ticket_id)
        raw = self._state.get_many(keys=[key]).get(key)
        return decode_ticket(raw) if raw is not None else None

    def get_many(self, *, ticket_ids: Sequence[str]) -> dict[str, Ticket]:
        """The stored tickets among these ids, in one State read (no index involved)."""
        keys = {ticket_key(ticket_id=t): t for t in ticket_ids}
        found = self._state.get_many(keys=list(keys)) if keys else {}
        return {keys[k]: decode_ticket(raw) for k, raw in found.items()}

    def require(self, *, ticket_id: str) -> Ticket:
        """The ticket; TicketNotFound naming the id if there is none."""
        ticket = self.get(ticket_id=ticket_id)
        if ticket is None:
            raise TicketNotFound(ticket_id=ticket_id)
        return ticket

    def search(
        self,
        *,
        team: str | None = None,
        incident: str | None = None,
        state: TicketState | None = None,
        limit: int = 1000,
    ) -> list[Ticket]:
        """Tickets matching every filter given, oldest first (created_at, then id).

        The index finds them (refreshed first, so a CLI sees what was just written); the
        copies returned are the authoritative ones from State, filtered again in case the
        index mirror is a moment behind."""
        self._ensure()
        self._index.refresh(schema=TICKETS)
        wanted = {"team": team, "incident": incident, "state": state}
        terms = {name: [value] for name, value in wanted.items() if value is not None}
        ids: list[str] = []
        after: tuple[Any, ...] | None = None
        while len(ids) < limit:
            page = self._index.search(
                schema=TICKETS,
                query=SearchQuery(
                    terms=terms,
                    sort=(SortKey(field="created_at"),),
                    size=min(_PAGE, limit - len(ids)),
                    after=after,
                ),
            )
            ids += [str(hit["id"]) for hit in page.hits]
            if page.after is None:
                break
            after = page.after
        keys = [ticket_key(ticket_id=i) for i in ids]
        stored = self._state.get_many(keys=keys) if keys else {}
        found = (decode_ticket(stored[k]) for k in keys if k in stored)
        return [t for t in found if all(v in (None, getattr(t, k)) for k, v in wanted.items())]

    def incident_resolved(self, *, incident_id: str) -> str | None:
        """When every ticket of the incident was resolved, or None while one is not."""
        key = resolved_marker_key(incident_id=incident_id)
        raw = self._state.get_many(keys=[key]).get(key)
        return raw.decode() if raw is not None else None

    def open_or_update(
        self,
        *,
        incident: Incident,
        team: Team,
        rendered: RenderedTicket,
        now: str,
        deliveries: Callable[[Ticket], Sequence[DeliveryRecord]] | None = None,
    ) -> TicketChange | None:
        """Create the team's ticket of the incident, or follow a newer incident version.

        A new version re-renders the ticket (revision + 1, audit "updated") only if its
        subject, body or html changed; its state never changes here (a resolved ticket stays
        resolved and records the update). The same or an older version (a redelivered task)
        changes nothing: None. `deliveries`: the records the new copy starts with (its
        deliveries to do), written in the same change."""
        tid = ticket_id(incident=incident.id, team=team.id)

        def apply(current: Ticket | None) -> Ticket | None:
            made = follow(current)
            if made is None or deliveries is None:
                return made
            return with_deliveries(made, records=deliveries(made), now=now)

        def follow(current: Ticket | None) -> Ticket | None:
            if current is None:
                return created_ticket(
                    tid=tid, incident=incident, team=team, rendered=rendered, now=now
                )
            if incident.version <= current.incident_version:
                return None
            followed = msgspec.structs.replace(
                current, incident_version=incident.version, severity=incident.severity
            )
            if (rendered.subject, rendered.body, rendered.html) == (
                current.subject,
                current.body,
                current.html,
            ):
                return followed
            return msgspec.structs.replace(
                followed,
                revision=current.revision + 1,
                subject=rendered.subject,
                body=rendered.body,
                html=rendered.html,
                steps=rendered.steps,
                due_at=rendered.due_at,
                audit=(
                    *current.audit,
                    AuditEntry(at=now, by=SYSTEM, action="updated", note=version_note(incident)),
                ),
                updated_at=now,
            )

        before, after = self._change(ticket_id=tid, apply=apply)
        if after is None:
            return None
        revised = before is not None and after.revision > before.revision
        return TicketChange(ticket=after, created=before is None, revised=revised)

    def record_delivery(self, *, ticket_id: str, record: DeliveryRecord, now: str) -> Ticket:
        """Put this delivery's record on the ticket (replacing the one with its delivery_id).

        A record that would move a delivery back (delivered to pending or failed, failed to
        pending, fewer attempts) is a late retry and is ignored. A change to delivered or
        failed is audited once."""
        return self.record_deliveries(ticket_id=ticket_id, records=(record,), now=now)

    def record_deliveries(
        self, *, ticket_id: str, records: Sequence[DeliveryRecord], now: str
    ) -> Ticket:
        """record_delivery of several records in one change (one CAS, one mirror)."""

        def apply(current: Ticket | None) -> Ticket | None:
            if current is None:
                raise TicketNotFound(ticket_id=ticket_id)
            changed = with_deliveries(current, records=records, now=now)
            return None if changed is current else changed

        return _now_of(self._change(ticket_id=ticket_id, apply=apply))

    def acknowledge(self, *, ticket_id: str, by: str, note: str, now: str) -> Ticket:
        """An on-call engineer took the open ticket: its escalations stop."""
        to = TicketState.ACKNOWLEDGED
        return self._act(ticket_id=ticket_id, by=by, note=note, now=now, to=to)

    def comment(self, *, ticket_id: str, by: str, note: str, now: str) -> Ticket:
        """A note on the ticket, in any state."""
        if not note.strip():
            raise RejectedInput("a comment needs a note (--note TEXT)")
        return self._act(ticket_id=ticket_id, by=by, note=note, now=now, to=None)

    def resolve(self, *, ticket_id: str, by: str, note: str, now: str) -> Ticket:
        """The team is done; resolving the incident's last unresolved ticket resolves the
        incident (its write-once marker, see the module docstring)."""
        to = TicketState.RESOLVED
        resolved = self._act(ticket_id=ticket_id, by=by, note=note, now=now, to=to)
        # Checked after our own CAS: of two teams resolving the last two tickets at once,
        # at least the later one sees both resolved.
        siblings = {t.id: t for t in self.search(incident=resolved.incident, limit=100_000)}
        siblings[resolved.id] = resolved
        if all(t.state is TicketState.RESOLVED for t in siblings.values()):
            key = resolved_marker_key(incident_id=resolved.incident)
            self._state.compare_and_set(key=key, expected=None, new=now.encode())
            self._show_resolved(incident_id=resolved.incident)
        return resolved

    def _show_resolved(self, *, incident_id: str) -> None:
        """The incidents index says resolved at once, not when the subject's next evidence
        reaches the respond stage: the same version and content the stage will write then
        (from the marker's time, whoever wrote it), so its later write changes nothing."""
        at = self.incident_resolved(incident_id=incident_id)
        self._index.ensure(schema=INCIDENTS)
        page = self._index.search(
            schema=INCIDENTS, query=SearchQuery(terms={"id": [incident_id]}, size=1)
        )
        if at is None or not page.hits:
            return
        shown = incident_from_doc(dict(page.hits[0]))
        if shown.status is IncidentStatus.RESOLVED:
            return
        after = resolved_incident(shown, at=at)
        self._index.bulk_upsert(
            schema=INCIDENTS,
            docs=[IndexDoc(id=after.id, version=after.version, body=incident_doc(after))],
        )

    def claim_escalation(self, *, ticket_id: str, step: int, now: str) -> Ticket | None:
        """Mark step `step` (0-based) of a still-open ticket escalated, once: the ticket if
        this call won the claim, None if it is no longer open, the step is not due by `now`,
        or someone (another beat process) escalated it already."""

        def apply(current: Ticket | None) -> Ticket | None:
            if current is None or current.state is not TicketState.OPEN:
                return None
            if step in current.escalated_steps or not 0 <= step < len(current.steps):
                return None
            due = current.steps[step]
            if instant_ns(due.due_at) > instant_ns(now):
                return None
            entry = AuditEntry(
                at=now, by=SYSTEM, action="escalated", note=f"step {step + 1} was due {due.due_at}"
            )
            return msgspec.structs.replace(
                current,
                escalated_steps=tuple(sorted((*current.escalated_steps, step))),
                audit=(*current.audit, entry),
                updated_at=now,
            )

        return self._change(ticket_id=ticket_id, apply=apply)[1]

    def _act(
        self, *, ticket_id: str, by: str, note: str, now: str, to: TicketState | None
    ) -> Ticket:
        """A person's action on a ticket (a move to `to`, or a comment), audited by name."""
        if not by.strip():
            raise RejectedInput("say who acts on the ticket (--by NAME)")

        def apply(current: Ticket | None) -> Ticket | None:
            if current is None:
                raise TicketNotFound(ticket_id=ticket_id)
            refuse_transition(current, to=to)
            entry = AuditEntry(at=now, by=by, action=str(to or "commented"), note=note)
            return msgspec.structs.replace(
                current, state=to or current.state, audit=(*current.audit, entry), updated_at=now
            )

        return _now_of(self._change(ticket_id=ticket_id, apply=apply))

    def _change(
        self, *, ticket_id: str, apply: Callable[[Ticket | None], Ticket | None]
    ) -> _Outcome:
        """Read, apply, compare-and-set until the CAS holds; mirror the winner."""
        key = ticket_key(ticket_id=ticket_id)
        for _ in range(CAS_ATTEMPTS):
            raw = self._state.get_many(keys=[key]).get(key)
            current = decode_ticket(raw) if raw is not None else None
            changed = apply(current)
            if changed is None:
                if current is not None:
                    # A no-op is often a retry after a failed mirror: write it again (an
                    # equal version replaces, so this is harmless when it is not).
                    self._mirror(current)
                return current, None
            changed = msgspec.structs.replace(changed, seq=(current.seq if current else 0) + 1)
            if self._state.compare_and_set(key=key, expected=raw, new=encode(changed)):
                self._mirror(changed)
                return current, changed
        raise TransientFailure(
            f"ticket {ticket_id} changed under every one of {CAS_ATTEMPTS} attempts; retry"
        )

    def _ensure(self) -> None:
        if not self._ensured:
            self._index.ensure(schema=TICKETS)
            self._ensured = True

    def _mirror(self, ticket: Ticket) -> None:
        self._ensure()
        result = self._index.bulk_upsert(
            schema=TICKETS,
            docs=[IndexDoc(id=ticket.id, version=ticket.seq, body=ticket_doc(ticket))],
        )
        if result.failed:
            # State holds the change; the caller's retry (a no-op) mirrors it again.
            raise TransientFailure(
                f"ticket {ticket.id} is saved but the tickets index refused it: "
                f"{result.failed[0].reason}"
            )


def _now_of(outcome: _Outcome) -> Ticket:
    before, after = outcome
    if after is not None:
        return after
    if before is None:  # apply raises TicketNotFound first; kept for the type checker
        raise RejectedInput("no such ticket")
    return before
