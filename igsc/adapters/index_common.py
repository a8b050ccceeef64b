"""Field-type checks and helpers shared by the Index adapters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from igsc.ports import IndexSchema

DOC_ID_FIELD = "doc_id"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def type_problem(schema: IndexSchema, body: Mapping[str, Any]) -> str | None:
    """Why a body does not fit the schema's field types, or None if it does."""
    for name in schema.numeric:
        for v in _values(body.get(name)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                return f"field [{name}] expects a number, got {v!r}"
    for name in schema.date:
        for v in _values(body.get(name)):
            if v is not None and not (isinstance(v, str) and _ISO_DATE.match(v)):
                return f"field [{name}] expects an ISO 8601 date, got {v!r}"
    for name in schema.keyword:
        for v in _values(body.get(name)):
            if v is not None and not isinstance(v, str | int | float):
                return f"field [{name}] expects a keyword string, got {type(v).__name__}"
    return None


def filterable(schema: IndexSchema, field: str) -> None:
    """Raise ValueError unless field can be filtered, sorted or faceted on."""
    allowed = {*schema.keyword, *schema.date, *schema.numeric, DOC_ID_FIELD}
    if field not in allowed:
        raise ValueError(
            f"field {field!r} is not a keyword, date or numeric field of {schema.name}"
        )
