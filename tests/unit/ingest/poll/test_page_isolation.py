"""An object that makes conversion raise unexpectedly is dead-lettered; its page goes on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ingest.convert import Batch, ObjectConverter
from tests.unit.ingest.poll.taxii_fakes import TinyTaxii, indicator
from tests.unit.ingest.poll.test_poller import harness


def _choke_on_null_granular_markings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the converter raise AttributeError on any batch holding `granular_markings: [null]`.

    It stands for a converter bug; the real validation may come to reject this object
    cleanly, and the poller must be robust either way. Returns the sizes of each call.
    """
    real = ObjectConverter.convert
    calls: list[int] = []

    def choking(
        self: ObjectConverter, *, objects: tuple[Any, ...], date_added: str | None
    ) -> Batch:
        calls.append(len(objects))
        if any(isinstance(o, dict) and o.get("granular_markings") == [None] for o in objects):
            raise AttributeError("'NoneType' object has no attribute 'get'")
        return real(self, objects=objects, date_added=date_added)

    monkeypatch.setattr(ObjectConverter, "convert", choking)
    return calls


def test_an_object_the_converter_chokes_on_is_dead_lettered_and_the_checkpoint_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _choke_on_null_granular_markings(monkeypatch)
    bad = indicator(2, granular_markings=[None])
    tiny = TinyTaxii([indicator(1), bad, indicator(3)])
    with harness(tmp_path, tiny) as h:
        first = h.poll()
        assert (first.error, first.published, first.rejected) == (None, 2, 1)
        assert h.checkpoint() == first.new_checkpoint == tiny.last_header
        assert sorted(e["object"]["id"] for e in h.raw()) == [
            indicator(1)["id"],
            indicator(3)["id"],
        ]
        (rejected,) = h.rejected()
        assert rejected["stix_id"] == bad["id"]
        assert rejected["partner"] == "cert-b"
        assert rejected["reason"] == "AttributeError: 'NoneType' object has no attribute 'get'"
        assert calls == [3, 1, 1, 1], "the whole page first, then object by object"

        before = len(h.object_requests())
        second = h.poll()
        again = h.object_requests()[before:]
    assert (second.error, second.published, second.rejected) == (None, 0, 0)
    assert [r.query["added_after"] for r in again] == [[first.new_checkpoint]]
    assert len(h.raw()) == 2, "the page was not fetched and published again"


def test_a_page_the_converter_handles_is_converted_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _choke_on_null_granular_markings(monkeypatch)
    with harness(tmp_path, TinyTaxii([indicator(i) for i in range(5)])) as h:
        result = h.poll()
    assert (result.error, result.published, result.rejected) == (None, 5, 0)
    assert calls == [5]
