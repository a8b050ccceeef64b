"""Field-type checks the embedded index applies before writing a document."""

from __future__ import annotations

from typing import Any

import pytest

from igsc.adapters.index_common import type_problem
from igsc.ports import IndexSchema

SCHEMA = IndexSchema(
    name="t", keyword=("kind", "countries"), date=("seen",), numeric=("score", "sizes")
)
GOOD: dict[str, Any] = {
    "kind": "url",
    "countries": ["DE", "FR"],
    "seen": "2026-11-20T08:00:00.000Z",
    "score": 12.5,
    "sizes": [1, 2.5],
}


def test_a_fitting_document_has_no_problem() -> None:
    assert type_problem(SCHEMA, GOOD) is None
    assert type_problem(SCHEMA, {}) is None  # absent fields are fine
    assert type_problem(SCHEMA, {**GOOD, "countries": ("DE", 7, None), "score": 3}) is None


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("score", True, "field [score] expects a number, got True"),
        ("score", "7", "field [score] expects a number, got '7'"),
        ("sizes", [1, False], "field [sizes] expects a number, got False"),
        ("seen", "yesterday", "field [seen] expects an ISO 8601 date, got 'yesterday'"),
        ("seen", ["2026-01-01", 5], "field [seen] expects an ISO 8601 date, got 5"),
        ("kind", {"a": 1}, "field [kind] expects a keyword string, got dict"),
        ("countries", ["DE", ["FR"]], "field [countries] expects a keyword string, got list"),
    ],
)
def test_a_misfit_names_its_field_and_value(field: str, value: object, expected: str) -> None:
    assert type_problem(SCHEMA, {**GOOD, field: value}) == expected


def test_numbers_are_checked_before_dates_and_keywords() -> None:
    body = {**GOOD, "kind": {"x": 1}, "seen": "soon", "score": "high"}
    assert type_problem(SCHEMA, body) == "field [score] expects a number, got 'high'"
