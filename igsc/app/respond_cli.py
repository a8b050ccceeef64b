"""`igsc incidents` and `igsc tickets`: what the respond half opened, and the on-call actions.

Listings read the indexes (refreshed first, so what was just written shows); `tickets ack`,
`resolve` and `comment` change the ticket in the ticket store, stamped with the wall clock.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from igsc.app.cli_settings import settings_from
from igsc.errors import RejectedInput
from igsc.ports import Index, SearchQuery, SortKey
from igsc.stix_time import format_us, wall_clock_us
from igsc.wiring import open_ports
from respond.incidents import INCIDENTS
from respond.model import Ticket
from respond.tickets import TicketStore

_PAGE = 500


def add_respond_commands(
    subparsers: Any, *, parents: Sequence[argparse.ArgumentParser] = ()
) -> None:
    """Register `incidents` and `tickets` (with ack, resolve, comment) on the igsc parser."""
    common = list(parents)
    incidents = subparsers.add_parser(
        "incidents", parents=common, help="list the incidents the respond stage opened"
    )
    incidents.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    incidents.set_defaults(handler=cmd_incidents)

    tickets = subparsers.add_parser(
        "tickets", parents=common, help="list on-call tickets; ack, resolve or comment one"
    )
    tickets.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    tickets.add_argument("--team", metavar="ID", help="only this team's tickets")
    tickets.set_defaults(handler=cmd_tickets)
    actions = tickets.add_subparsers(dest="ticket_action", metavar="{ack,resolve,comment}")
    for name, summary in (
        ("ack", "acknowledge a ticket: its escalations stop"),
        ("resolve", "resolve a ticket (the incident resolves with its last ticket)"),
        ("comment", "add a note to a ticket"),
    ):
        action = actions.add_parser(name, parents=common, help=summary)
        action.add_argument("id", help="the ticket id, ticket--...")
        action.add_argument("--by", metavar="NAME", help="who acts (default: your login name)")
        action.add_argument(
            "--note",
            metavar="TEXT",
            required=name == "comment",
            default="",
            help="what to record with it" + (" (required)" if name == "comment" else ""),
        )
        action.set_defaults(handler=cmd_ticket_action)


def cmd_incidents(args: argparse.Namespace) -> int:
    """Print every incident, oldest first, with its tickets."""
    settings = settings_from(args)
    with open_ports(settings) as ports:
        ports.index.ensure(schema=INCIDENTS)
        found = _all_incidents(ports.index)
        by_incident: dict[str, list[str]] = {}
        for ticket in TicketStore(state=ports.state, index=ports.index).search(limit=1_000_000):
            by_incident.setdefault(ticket.incident, []).append(ticket.id)
    rows = [_incident_row(doc, tickets=by_incident.get(str(doc["id"]), [])) for doc in found]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no incidents")
        return 0
    _print_table(
        ("ID", "STATUS", "SEVERITY", "RULE", "COUNTRIES", "TICKETS", "OPENED", "SUBJECT"),
        [
            (
                r["id"],
                r["status"],
                r["severity"],
                r["rule"],
                ",".join(r["countries"]),
                str(len(r["tickets"])),
                r["opened_at"],
                r["subject"],
            )
            for r in rows
        ],
    )
    return 0


def cmd_tickets(args: argparse.Namespace) -> int:
    """Print the tickets (of one team with --team), oldest first."""
    settings = settings_from(args)
    known = sorted(t.id for t in settings.teams)
    if args.team is not None and args.team not in known:
        configured = ", ".join(known) if known else "none; add one under `teams:` in --config"
        return _fail(f"no team {args.team!r} in the configuration (configured: {configured})")
    with open_ports(settings) as ports:
        store = TicketStore(state=ports.state, index=ports.index)
        tickets = store.search(team=args.team, limit=1_000_000)
    if args.json:
        _print_json([_ticket_row(t) for t in tickets])
        return 0
    if not tickets:
        print("no tickets" + (f" for team {args.team}" if args.team else ""))
        return 0
    _print_table(
        ("ID", "STATE", "TEAM", "COUNTRY", "SEVERITY", "DUE", "DELIVERIES", "SUBJECT"),
        [
            (
                t.id,
                str(t.state),
                t.team,
                t.country,
                t.severity,
                t.due_at,
                " ".join(f"{d.channel}:{d.status}" for d in t.deliveries) or "-",
                t.subject,
            )
            for t in tickets
        ],
    )
    return 0


def cmd_ticket_action(args: argparse.Namespace) -> int:
    """Acknowledge, resolve or comment on one ticket; one line on success."""
    settings = settings_from(args)
    by = args.by if args.by is not None else _login_name()
    now = format_us(wall_clock_us())
    with open_ports(settings) as ports:
        store = TicketStore(state=ports.state, index=ports.index)
        act = {"ack": store.acknowledge, "resolve": store.resolve, "comment": store.comment}
        try:
            ticket = act[args.ticket_action](ticket_id=args.id, by=by, note=args.note, now=now)
        except RejectedInput as exc:  # a wrong id or a refused transition: the user's to fix
            return _fail(str(exc))
        resolved = store.incident_resolved(incident_id=ticket.incident)
    done = {"ack": "acknowledged", "resolve": "resolved", "comment": "commented on"}
    line = f"{done[args.ticket_action]} {ticket.id} (team {ticket.team}) as {by}"
    if args.ticket_action == "resolve" and resolved == now:
        line += f"; incident {ticket.incident} is resolved (every ticket is)"
    print(line)
    return 0


def _all_incidents(index: Index) -> list[dict[str, Any]]:
    index.refresh(schema=INCIDENTS)
    found: list[dict[str, Any]] = []
    after: tuple[Any, ...] | None = None
    while True:
        page = index.search(
            schema=INCIDENTS,
            query=SearchQuery(sort=(SortKey(field="opened_at"),), size=_PAGE, after=after),
        )
        found += [dict(hit) for hit in page.hits]
        if page.after is None:
            return found
        after = page.after


def _incident_row(doc: dict[str, Any], *, tickets: list[str]) -> dict[str, Any]:
    fields = ("id", "rule", "title", "subject", "subject_kind", "severity", "status")
    row: dict[str, Any] = {name: doc.get(name) for name in fields}
    row["countries"] = sorted(doc.get("countries") or ())
    row["partners"] = sorted(doc.get("partners") or ())
    for name in ("distinct_count", "threshold", "epoch", "version", "opened_at", "updated_at"):
        row[name] = doc.get(name)
    row["tickets"] = sorted(tickets)
    return row


def _ticket_row(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "incident": ticket.incident,
        "team": ticket.team,
        "country": ticket.country,
        "state": str(ticket.state),
        "severity": ticket.severity,
        "revision": ticket.revision,
        "subject": ticket.subject,
        "due_at": ticket.due_at,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "escalated_steps": list(ticket.escalated_steps),
        "body": ticket.body,
        "deliveries": [
            {
                "channel": d.channel,
                "purpose": d.purpose,
                "revision": d.revision,
                "status": str(d.status),
                "attempts": d.attempts,
                "last_error": d.last_error,
                "delivered_at": d.delivered_at,
            }
            for d in ticket.deliveries
        ],
        "audit": [
            {"at": a.at, "by": a.by, "action": a.action, "note": a.note} for a in ticket.audit
        ],
    }


def _print_json(rows: list[dict[str, Any]]) -> None:
    sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    # The last column (a subject) is free text: it is not padded.
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment or the password database
        return "unknown"


def _fail(message: str) -> int:
    """One line on stderr and the exit status of bad input (2)."""
    print(f"igsc: {message}", file=sys.stderr)
    return 2
