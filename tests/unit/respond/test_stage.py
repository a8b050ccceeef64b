"""The respond stage on embedded state and index: documents in, one incident per subject out
(index, topic, dispatch), with redelivery and replays changing nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from igsc.adapters.sqlite_index import SqliteIndex
from igsc.adapters.sqlite_state import SqliteState
from igsc.ports import Message, SearchQuery
from igsc.respond_settings import Rule
from respond.exclusions import BENIGN, Exclusions, benign_matches
from respond.incidents import INCIDENTS
from respond.model import Incident, decode_incident
from respond.sink import IncidentSink
from respond.stage import CORRELATION_TABLE, RespondStage
from tests.unit.respond.test_correlation import at, doc, source

TOPIC = "t.incidents"


class Recorder:
    """A ticket dispatch that remembers what it was handed."""

    def __init__(self) -> None:
        self.incidents: list[Incident] = []

    def dispatch(self, *, incidents: Sequence[Incident]) -> None:
        self.incidents.extend(incidents)


def messages(*docs: dict[str, Any], start: int = 0) -> list[Message]:
    return [
        Message(
            topic="t.indicators",
            partition=0,
            offset=start + i,
            key=d["key"].encode(),
            value=orjson.dumps(d),
        )
        for i, d in enumerate(docs)
    ]


@pytest.fixture
def stage(tmp_path: Path) -> Any:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    index = SqliteIndex(path=tmp_path / "index.db", prefix="t")
    recorder = Recorder()
    rule = Rule(id="cross-border", at_least=3, within="24h", playbook="p", severity="high")
    built = RespondStage(
        state=state,
        index=index,
        rules=[rule],
        critical_sectors=(),
        exclusions=Exclusions(allowlist=("domain-name|benign.example",), warninglists=()),
        sink=IncidentSink(
            stage="respond",
            state=state,
            index=index,
            incidents_topic=TOPIC,
            table=CORRELATION_TABLE,
            dispatch=recorder,
        ),
        threat_evidence_topic="t.threat-evidence",
    )
    yield built, recorder, state, index
    state.close()
    index.close()


def run(stage: RespondStage, batch: list[Message]) -> list[tuple[bytes, bytes]]:
    out = stage.process(messages=batch)
    if out.after_publish is not None:
        out.after_publish()
    assert not out.rejected, out.rejected
    return list(out.records.get(TOPIC, ()))


def versioned(d: dict[str, Any], version: int) -> dict[str, Any]:
    return {**d, "version": version}


def test_a_crossing_opens_one_incident_in_the_index_on_the_topic_and_in_dispatch(
    stage: Any,
) -> None:
    respond, recorder, _, index = stage
    two = versioned(doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 1)), 2)
    assert run(respond, messages(two)) == []  # two countries: below the threshold
    three = versioned(doc(*two["sources"], source("cert-it", "IT", 2)), 3)
    published = run(respond, messages(three, start=1))
    assert len(published) == 1
    key, value = published[0]
    incident = decode_incident(value)
    assert key == incident.id.encode()
    assert orjson.loads(value)["countries"] == ["DE", "FR", "IT"]  # plain JSON, not frames
    assert [i.id for i in recorder.incidents] == [incident.id]
    index.refresh(schema=INCIDENTS)
    page = index.search(schema=INCIDENTS, query=SearchQuery(terms={"rule": ["cross-border"]}))
    assert page.total == 1 and page.hits[0]["subject"] == "domain-name|evil.example"


def test_redelivery_and_a_replay_change_nothing(stage: Any) -> None:
    respond, recorder, _, _ = stage
    three = versioned(
        doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2)),
        3,
    )
    run(respond, messages(three))
    assert run(respond, messages(three)) == []  # the same batch again
    assert run(respond, messages(versioned(doc(*three["sources"][:2]), 2), three)) == []
    assert len(recorder.incidents) == 1


def test_a_fourth_country_updates_the_same_incident(stage: Any) -> None:
    respond, recorder, _, _ = stage
    live = [source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2)]
    run(respond, messages(versioned(doc(*live), 3)))
    [(_, value)] = run(
        respond, messages(versioned(doc(*live, source("cert-es", "ES", 4)), 4), start=1)
    )
    updated = decode_incident(value)
    assert updated.id == recorder.incidents[0].id and updated.version == 2
    assert updated.countries == ("DE", "ES", "FR", "IT")
    assert updated.updated_at == at(4)


def test_an_allowlisted_value_never_opens_an_incident(stage: Any) -> None:
    respond, recorder, _, index = stage
    benign = doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2))
    benign = {**benign, "key": "domain-name|benign.example", "value": "benign.example"}
    assert run(respond, messages(benign)) == []
    assert recorder.incidents == []
    index.refresh(schema=BENIGN)
    assert benign_matches(index=index, subject="domain-name|benign.example") == [
        {"rule": "cross-border", "list": "allowlist", "at": at(2)}
    ]


def test_a_bad_document_is_dead_lettered_and_the_rest_of_the_batch_goes_on(stage: Any) -> None:
    respond, _, _, _ = stage
    good = versioned(
        doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2)),
        3,
    )
    broken = {**good, "key": "domain-name|broken.example"}
    broken["sources"] = [
        {**s, "received_at": "yesterday", "version": "soon"} for s in good["sources"]
    ]
    junk = Message(topic="t.indicators", partition=0, offset=9, key=b"x", value=b"{not json")
    out = respond.process(messages=[*messages(good, broken), junk])
    reasons = [r.reason for r in out.rejected]
    assert any("not an indicator document" in r for r in reasons)
    assert len(out.records[TOPIC]) == 1  # the good one still opened its incident


def test_a_value_on_a_misp_warninglist_never_opens_an_incident(stage: Any) -> None:
    respond, recorder, _, index = stage
    popular = doc(
        source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2)
    )
    popular = {**popular, "key": "domain-name|google.com", "value": "google.com"}
    assert run(respond, messages(popular)) == []
    assert recorder.incidents == []
    index.refresh(schema=BENIGN)
    [match] = benign_matches(index=index, subject="domain-name|google.com")
    assert match["rule"] == "cross-border" and match["list"] != "allowlist"
    assert match["list"] in Exclusions(allowlist=(), warninglists=()).lists_with("google.com")
    lists = Exclusions(allowlist=(), warninglists=())
    assert lists.matching(key="domain-name|google.com", value="google.com", use_warninglists=True)
    assert not lists.matching(key="k", value="google.com", use_warninglists=False)
