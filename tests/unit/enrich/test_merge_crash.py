"""A merge batch lost after its index write, then redelivered ending later, still converges."""

from __future__ import annotations

from pathlib import Path

from enrich.merge import MergeStage
from enrich.observations import SourceOp, encode_observation
from enrich.record import SourceEntry
from enrich.schema import INDICATORS
from igsc.adapters.sqlite_index import SqliteIndex
from igsc.adapters.sqlite_state import SqliteState
from igsc.ports import Message

KEY = "ipv4-addr|203.0.113.50"


def _op(partner: str, country: str, offset: int) -> Message:
    entry = SourceEntry(
        stix_id=f"indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b{offset:02d}",
        version="2026-11-20T08:00:00.000Z",
        partner=partner,
        country=country,
        tlp="green",
        confidence=50,
        reliability=0.8,
        created_by=None,
        valid_from=None,
    )
    value = encode_observation(
        SourceOp(key=KEY, kind="ipv4-addr", value="203.0.113.50", flags=(), entry=entry)
    )
    return Message(topic="obs", partition=0, offset=offset, key=KEY.encode(), value=value)


def test_a_redelivered_batch_that_ends_later_replaces_the_lost_one(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "state.db", namespace="t")
    index = SqliteIndex(path=tmp_path / "index.db", prefix="t")
    stage = MergeStage(state=state, index=index, indicators_topic="ind", enrichers=())
    nl, fr, de = _op("cert-nl", "NL", 1), _op("cert-fr", "FR", 2), _op("cert-de", "DE", 3)
    saved = stage.process(messages=[nl]).after_publish
    assert saved is not None
    saved()  # version 1 = NL, state saved, offsets committed
    stage.process(messages=[fr])  # version 2 = NL+FR indexed, then the worker dies: no state
    again = stage.process(messages=[fr, de]).after_publish  # redelivered, and ending later
    assert again is not None
    again()
    doc = index.get(schema=INDICATORS, doc_id=KEY)
    assert doc is not None
    assert (doc["version"], doc["countries"]) == (2, ["DE", "FR", "NL"])
    index.close()
    state.close()
