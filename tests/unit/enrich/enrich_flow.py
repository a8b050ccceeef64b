"""Extract and merge run back to back on embedded state: raw envelopes in, documents out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from enrich.extract import ExtractStage
from enrich.merge import MergeStage
from enrich.record import Enricher
from enrich.schema import INDICATORS
from igsc.adapters.sqlite_index import SqliteIndex
from igsc.adapters.sqlite_state import SqliteState
from igsc.ports import Message
from igsc.records import Envelope, Rejection

STAMP = "2026-11-20T08:00:00.000Z"
_PARTNERS = {"cert-de": "DE", "cert-fr": "FR", "cert-nl": "NL"}


def envelope(
    obj: dict[str, Any], *, partner: str = "cert-de", received_at: str, tlp: str = "green"
) -> bytes:
    """The raw-topic bytes of one object as the entrance writes them."""
    return Envelope(
        partner=partner,
        country=_PARTNERS[partner],
        collection="c",
        date_added=None,
        received_at=received_at,
        tlp=tlp,
        via="push",
        object=obj,
    ).to_bytes()


def stix(kind: str, ident: str, *, modified: str = STAMP, **fields: Any) -> dict[str, Any]:
    """A STIX 2.1 object of this type and id."""
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": ident,
        "created": STAMP,
        "modified": modified,
        **fields,
    }


class Flow:
    """One extract and one merge stage over their own SQLite state and index."""

    def __init__(
        self,
        home: Path,
        *,
        clock: datetime = datetime(2026, 12, 1, tzinfo=UTC),
        enrichers: Sequence[Enricher] = (),
    ) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.state = SqliteState(path=home / "state.db", namespace="t")
        self.index = SqliteIndex(path=home / "index.db", prefix="t")
        self.extract = ExtractStage(
            state=self.state,
            observations_topic="obs",
            quarantine_topic="quarantine",
            reliability_of={"cert-de": 0.9, "cert-fr": 0.7, "cert-nl": 0.8},
            clock=lambda: clock,
        )
        self.merge = MergeStage(
            state=self.state, index=self.index, indicators_topic="ind", enrichers=enrichers
        )
        self.rejected: list[Rejection] = []
        self.observations: list[bytes] = []

    def send(self, *raw: bytes) -> dict[str, dict[str, Any]]:
        """The documents merge publishes for these envelopes, by observable key."""
        out = self.extract.process(messages=_messages("raw", [(b"", r) for r in raw]))
        self.rejected += out.rejected
        if out.after_publish:
            out.after_publish()
        observations = list(out.records["obs"])
        self.observations += [value for _, value in observations]
        merged = self.merge.process(messages=_messages("obs", observations))
        self.rejected += merged.rejected
        if merged.after_publish:
            merged.after_publish()
        return {key.decode(): orjson.loads(doc) for key, doc in merged.records["ind"]}

    def document(self, key: str) -> dict[str, Any] | None:
        """The indexed document of an observable."""
        found = self.index.get(schema=INDICATORS, doc_id=key)
        return dict(found) if found is not None else None

    def close(self) -> None:
        self.index.close()
        self.state.close()


def _messages(topic: str, records: Sequence[tuple[bytes, bytes]]) -> list[Message]:
    return [
        Message(topic=topic, partition=0, offset=i, key=key, value=value)
        for i, (key, value) in enumerate(records)
    ]
