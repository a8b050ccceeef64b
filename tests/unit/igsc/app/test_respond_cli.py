"""`igsc incidents` and `igsc tickets` as an on-call engineer types them, wrong input too."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from igsc.app.cli import main
from igsc.ports import IndexDoc
from igsc.settings import load_settings
from igsc.wiring import open_ports
from respond.incidents import INCIDENTS, incident_doc
from respond.model import (
    DeliveryRecord,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    RenderedTicket,
    StepDue,
)
from respond.tickets import TicketStore

OPENED = "2026-12-01T10:00:00.000000Z"
DUE = "2026-12-01T10:30:00.000000Z"
BODY = "Cross-border campaign seen in DE, FR.\n\nAcknowledge with:  igsc tickets ack ...\n"


@pytest.fixture
def config(igsc_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IGSC_HOME", str(igsc_home))
    for name in ("IGSC_CONFIG", "IGSC_STREAM_URL", "IGSC_INDEX_URL", "IGSC_STATE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("IGSC_NAMESPACE", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(
        "partners:\n  - id: cert-de\n    name: CERT DE\n    country: DE\n"
        "teams:\n  - id: de-oncall\n    name: CERT-Bund on-call\n    country: DE\n"
        "    partner: cert-de\n",
        encoding="utf-8",
    )
    return path


def _incident() -> Incident:
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
        countries=("FR", "DE"),
        partners=("cert-de", "cert-fr"),
        score=70.0,
        opened_at=OPENED,
        updated_at=OPENED,
        evidence=(),
        timeline=(),
        version=1,
    )


def _open_ticket(config: Path) -> str:
    """What the respond stage and its delivery task leave behind: an incident, a ticket."""
    settings = load_settings(config_file=config)
    incident = _incident()
    rendered = RenderedTicket(
        subject="[HIGH] cross-border: evil.example",
        body=BODY,
        html="<p>Cross-border</p>",
        steps=(StepDue(title="Block", owner="national-csirt-oncall", due_at=DUE, text="Block."),),
        due_at=DUE,
    )
    with open_ports(settings) as ports:
        ports.index.ensure(schema=INCIDENTS)
        ports.index.bulk_upsert(
            schema=INCIDENTS,
            docs=[IndexDoc(id=incident.id, version=1, body=incident_doc(incident))],
        )
        store = TicketStore(state=ports.state, index=ports.index)
        change = store.open_or_update(
            incident=incident, team=settings.teams[0], rendered=rendered, now=OPENED
        )
        assert change is not None
        store.record_delivery(
            ticket_id=change.ticket.id,
            record=DeliveryRecord(
                delivery_id="msg_1",
                channel="email",
                purpose="ticket",
                revision=1,
                status=DeliveryStatus.DELIVERED,
                attempts=1,
                delivered_at=OPENED,
            ),
            now=OPENED,
        )
        return change.ticket.id


def _json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    out = capsys.readouterr().out
    rows: list[dict[str, object]] = orjson.loads(out)
    return rows


def test_a_fresh_installation_lists_nothing(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["incidents", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "no incidents\n"
    assert main(["tickets", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "no tickets\n"
    assert main(["incidents", "--json", "--config", str(config)]) == 0
    assert _json(capsys) == []
    assert main(["tickets", "--json", "--team", "de-oncall", "--config", str(config)]) == 0
    assert _json(capsys) == []


def test_incidents_list_with_their_tickets(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tid = _open_ticket(config)
    assert main(["incidents", "--json", "--config", str(config)]) == 0
    [row] = _json(capsys)
    assert row["id"] == _incident().id and row["rule"] == "cross-border"
    assert row["subject"] == "domain-name|evil.example"
    assert row["countries"] == ["DE", "FR"]  # sorted
    assert row["partners"] == ["cert-de", "cert-fr"]
    assert (row["severity"], row["status"]) == ("high", "open")
    assert (row["opened_at"], row["updated_at"]) == (OPENED, OPENED)
    assert row["tickets"] == [tid]
    assert main(["incidents", "--config", str(config)]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "ID", "STATUS", "SEVERITY", "RULE", "COUNTRIES", "TICKETS", "OPENED", "SUBJECT"
    ]  # fmt: skip
    assert line.split() == [
        _incident().id, "open", "high", "cross-border", "DE,FR", "1", OPENED,
        "domain-name|evil.example",
    ]  # fmt: skip
    assert header.index("STATUS") == line.index("open")  # the columns line up


def test_tickets_list_as_delivered(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tid = _open_ticket(config)
    assert main(["tickets", "--json", "--team", "de-oncall", "--config", str(config)]) == 0
    [row] = _json(capsys)
    assert row["id"] == tid and row["incident"] == _incident().id
    assert (row["team"], row["country"], row["state"], row["due_at"]) == (
        "de-oncall",
        "DE",
        "open",
        DUE,
    )
    assert row["body"] == BODY  # exactly as delivered
    assert row["deliveries"] == [
        {
            "channel": "email",
            "purpose": "ticket",
            "revision": 1,
            "status": "delivered",
            "attempts": 1,
            "last_error": "",
            "delivered_at": OPENED,
        }
    ]
    assert main(["tickets", "--config", str(config)]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split()[:3] == ["ID", "STATE", "TEAM"]
    assert line.split()[:7] == [tid, "open", "de-oncall", "DE", "high", DUE, "email:delivered"]
    assert header.index("DUE") == line.index(DUE)


def test_ack_then_resolve_resolves_the_incident(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = _open_ticket(config)
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("LOGNAME", "alice")
    assert main(["tickets", "ack", tid, "--note", "on it", "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"acknowledged {tid} (team de-oncall) as alice\n"
    argv = ["tickets", "comment", tid, "--note", "blocked at the resolver", "--by", "bob"]
    assert main([*argv, "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"commented on {tid} (team de-oncall) as bob\n"
    assert main(["tickets", "resolve", tid, "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"resolved {tid} (team de-oncall) as alice; incident ")
    assert out.count("\n") == 1 and "is resolved" in out
    assert main(["tickets", "--json", "--config", str(config)]) == 0
    [row] = _json(capsys)
    assert row["state"] == "resolved"
    audit = row["audit"]
    assert isinstance(audit, list)
    assert [(a["action"], a["by"]) for a in audit] == [
        ("created", "igsc"),
        ("delivered", "igsc"),
        ("acknowledged", "alice"),
        ("commented", "bob"),
        ("resolved", "alice"),
    ]
    assert audit[2]["at"].endswith("Z") and len(audit[2]["at"]) == len(OPENED)


def test_invalid_transitions_exit_2_with_the_reason(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tid = _open_ticket(config)
    assert main(["tickets", "resolve", tid, "--by", "alice", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["tickets", "resolve", tid, "--by", "bob", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already resolved (by alice" in err
    assert main(["tickets", "ack", tid, "--by", "bob", "--config", str(config)]) == 2
    assert "only an open ticket can be acknowledged" in capsys.readouterr().err


def test_a_wrong_ticket_id_exits_2_naming_it(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _open_ticket(config)
    for action in ("ack", "resolve"):
        assert main(["tickets", action, "ticket--nope", "--config", str(config)]) == 2
        assert capsys.readouterr().err == "igsc: no ticket ticket--nope\n"
    assert main(["tickets", "comment", "ticket--nope", "--note", "x", "--config", str(config)]) == 2
    assert capsys.readouterr().err == "igsc: no ticket ticket--nope\n"


def test_a_wrong_team_exits_2_naming_the_known_teams(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tickets", "--team", "fr-oncall", "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "igsc: no team 'fr-oncall' in the configuration (configured: de-oncall)\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["tickets", "comment", "ticket--x"],  # a comment without --note
        ["tickets", "ack"],  # no id
        ["tickets", "close", "ticket--x"],  # no such action
        ["tickets", "ack", "ticket--x", "--json"],  # --json belongs to the listing
        ["incidents", "--team", "de-oncall"],
    ],
)
def test_malformed_commands_are_usage_errors(
    config: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--config", str(config)])
    assert exited.value.code == 2
    assert "usage: igsc" in capsys.readouterr().err


def test_an_empty_by_is_refused(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tid = _open_ticket(config)
    assert main(["tickets", "ack", tid, "--by", "", "--config", str(config)]) == 2
    assert "--by NAME" in capsys.readouterr().err
