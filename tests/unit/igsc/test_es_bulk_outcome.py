"""How one Elasticsearch bulk response is read: written, stale, throttled, refused."""

from __future__ import annotations

from typing import Any

from igsc.adapters.es_index import _BulkOutcome
from igsc.ports import IndexDoc


def _docs(n: int) -> list[IndexDoc]:
    return [IndexDoc(id=f"d{i}", version=1, body={"value": i}) for i in range(n)]


def test_items_are_counted_by_status_and_throttled_ones_come_back_for_retry() -> None:
    docs = _docs(4)
    items: list[dict[str, Any]] = [
        {"index": {"status": 201}},
        {"index": {"status": 409}},
        {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        {"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "x"}}},
    ]
    outcome = _BulkOutcome()
    retry = outcome.tally(docs, items, last=False)
    assert (outcome.written, outcome.stale) == (1, 1)
    assert [d.id for d in retry] == ["d2"]
    assert [(f.id, f.reason) for f in outcome.failed] == [("d3", "mapper_parsing_exception: x")]


def test_on_the_last_attempt_a_throttled_item_is_a_failure_naming_the_status() -> None:
    outcome = _BulkOutcome()
    retry = outcome.tally(_docs(1), [{"index": {"status": 429}}], last=True)
    assert retry == []
    assert [f.reason for f in outcome.failed] == ["status 429"]
