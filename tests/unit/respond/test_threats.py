"""Threat subjects: observables on different partitions that point to one campaign open one
incident on the campaign, through the re-keyed threat-evidence topic."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from igsc.adapters.sqlite_index import SqliteIndex
from igsc.adapters.sqlite_state import SqliteState
from igsc.ports import Message
from igsc.respond_settings import Rule
from respond.exclusions import Exclusions
from respond.model import Incident, IncidentStatus, decode_incident
from respond.sink import IncidentSink
from respond.stage import CORRELATION_TABLE, RespondStage
from respond.threats import THREATS_TABLE, ThreatStage
from tests.unit.respond.test_correlation import doc, source

CAMPAIGN = "campaign--6f1d3c1e-2b8a-4c55-9a7e-0d2f1b3c4a5e"
INCIDENTS, EVIDENCE = "t.incidents", "t.threat-evidence"


class Recorder:
    def __init__(self) -> None:
        self.incidents: list[Incident] = []

    def dispatch(self, *, incidents: Sequence[Incident]) -> None:
        self.incidents.extend(incidents)


@dataclass
class Stages:
    respond: RespondStage
    threats: ThreatStage
    tickets: Recorder
    offset: int = 0

    def feed(self, *docs: dict[str, Any]) -> list[Incident]:
        """Documents through the respond stage, its threat evidence through the threat stage;
        the incident changes published on the incidents topic."""
        batch = [self._message("t.indicators", d["key"].encode(), orjson.dumps(d)) for d in docs]
        out = complete(self.respond.process(messages=batch))
        rekeyed = [self._message(EVIDENCE, k, v) for k, v in out.records.get(EVIDENCE, ())]
        changes = complete(self.threats.process(messages=rekeyed))
        return [decode_incident(v) for _, v in changes.records.get(INCIDENTS, ())]

    def _message(self, topic: str, key: bytes, value: bytes) -> Message:
        self.offset += 1
        return Message(topic=topic, partition=0, offset=self.offset, key=key, value=value)


def complete(out: Any) -> Any:
    assert not out.rejected, out.rejected
    if out.after_publish is not None:
        out.after_publish()
    return out


@pytest.fixture
def stages(tmp_path: Path) -> Iterator[Stages]:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    index = SqliteIndex(path=tmp_path / "index.db", prefix="t")
    tickets = Recorder()
    rules = [
        Rule(id="shared-campaign", subject="threat", at_least=3, within="24h", playbook="p",
             severity="high"),
        Rule(id="cross-border", at_least=3, within="24h", playbook="p", severity="high"),
    ]  # fmt: skip

    def sink(table: str) -> IncidentSink:
        return IncidentSink(stage="respond", state=state, index=index, incidents_topic=INCIDENTS,
                            table=table, dispatch=tickets)  # fmt: skip

    yield Stages(
        respond=RespondStage(
            state=state,
            index=index,
            rules=rules,
            critical_sectors=(),
            exclusions=Exclusions(allowlist=(), warninglists=()),
            sink=sink(CORRELATION_TABLE),
            threat_evidence_topic=EVIDENCE,
        ),
        threats=ThreatStage(state=state, rules=rules, sink=sink(THREATS_TABLE)),
        tickets=tickets,
    )
    state.close()
    index.close()


def observable(name: str, *sources: dict[str, Any], version: int = 1) -> dict[str, Any]:
    made = doc(*sources)
    return {**made, "key": f"domain-name|{name}", "value": name, "threats": [CAMPAIGN],
            "version": version}  # fmt: skip


def test_three_countries_reporting_different_indicators_of_one_campaign_open_one_incident(
    stages: Stages,
) -> None:
    assert stages.feed(observable("a.example", source("cert-de", "DE", 0))) == []
    assert stages.feed(observable("b.example", source("cert-fr", "FR", 1))) == []
    [incident] = stages.feed(observable("c.example", source("cert-it", "IT", 2)))
    assert (incident.subject, incident.subject_kind) == (CAMPAIGN, "threat")
    assert incident.rule == "shared-campaign" and incident.countries == ("DE", "FR", "IT")
    assert [i.id for i in stages.tickets.incidents] == [incident.id]
    # Each observable alone never crossed the observable rule.
    assert {i.rule for i in stages.tickets.incidents} == {"shared-campaign"}


def test_a_fourth_country_updates_and_a_replay_changes_nothing(stages: Stages) -> None:
    reports = [
        observable("a.example", source("cert-de", "DE", 0)),
        observable("b.example", source("cert-fr", "FR", 1)),
        observable("c.example", source("cert-it", "IT", 2)),
    ]
    [opened] = stages.feed(*reports)
    [updated] = stages.feed(observable("d.example", source("cert-es", "ES", 3)))
    assert updated.id == opened.id and updated.version == opened.version + 1
    assert updated.countries == ("DE", "ES", "FR", "IT")
    assert stages.feed(*reports) == []  # the same documents again: nothing new


def test_a_withdrawn_report_takes_the_campaign_below_its_threshold(stages: Stages) -> None:
    stages.feed(
        observable("a.example", source("cert-de", "DE", 0)),
        observable("b.example", source("cert-fr", "FR", 1)),
        observable("c.example", source("cert-it", "IT", 2)),
    )
    revoked = observable("c.example", source("cert-it", "IT", 2, status="revoked"), version=2)
    [below] = stages.feed(revoked)
    assert below.status is IncidentStatus.BELOW_THRESHOLD
    stale = observable("c.example", source("cert-it", "IT", 2), version=1)
    assert stages.feed(stale) == []  # an older version never brings the report back


def test_unreadable_threat_evidence_is_dead_lettered_and_the_rest_goes_on(stages: Stages) -> None:
    docs = [
        observable("a.example", source("cert-de", "DE", 0)),
        observable("b.example", source("cert-fr", "FR", 1)),
        observable("c.example", source("cert-it", "IT", 2)),
    ]
    rekeyed = stages.respond.process(
        messages=[
            Message(topic="t.indicators", partition=0, offset=i, key=b"k", value=orjson.dumps(d))
            for i, d in enumerate(docs)
        ]
    ).records[EVIDENCE]
    junk = Message(topic=EVIDENCE, partition=0, offset=99, key=b"x", value=b'{"rule": 1}')
    out = stages.threats.process(
        messages=[
            junk,
            *(Message(topic=EVIDENCE, partition=0, offset=i, key=k, value=v)
              for i, (k, v) in enumerate(rekeyed)),
        ]
    )  # fmt: skip
    assert [r.reason.split(":")[0] for r in out.rejected] == ["not threat evidence"]
    assert len(out.records[INCIDENTS]) == 1
