"""Field-type checks and helpers shared by the Index adapters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from igsc.ports import IndexDoc, IndexSchema

DOC_ID_FIELD = "doc_id"
_DOC_ID_MEMBER = b',"' + DOC_ID_FIELD.encode() + b'":'
_NUMBERS = (int, float)  # exact types: bool is an int subclass and is no number here
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _values(value: Any) -> list[Any] | tuple[Any, ...]:
    if isinstance(value, list | tuple):
        return value
    return (value,)


def type_problem(schema: IndexSchema, body: Mapping[str, Any]) -> str | None:
    """Why a body does not fit the schema's field types, or None if it does."""
    for name in schema.numeric:
        value = body.get(name)
        if value is None or type(value) in _NUMBERS:  # the common case, decided at once
            continue
        for v in _values(value):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                return f"field [{name}] expects a number, got {v!r}"
    for name in schema.date:
        for v in _values(body.get(name)):
            if v is not None and not (isinstance(v, str) and _ISO_DATE.match(v)):
                return f"field [{name}] expects an ISO 8601 date, got {v!r}"
    for name in schema.keyword:
        value = body.get(name)
        if value is None or type(value) is str:  # the common cases, decided at once
            continue
        if type(value) is list:
            for v in value:  # inline: a call per list field costs as much as the check
                if type(v) is not str:
                    break
            else:
                continue
        for v in _values(value):
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


def stored_source(doc: IndexDoc) -> bytes:
    """The body as stored: its JSON with the document id added as DOC_ID_FIELD."""
    if doc.encoded is None or not doc.body or DOC_ID_FIELD in doc.body:
        return orjson.dumps({**doc.body, DOC_ID_FIELD: doc.id})
    # Spliced into the caller's bytes: the body is a non-empty JSON object ending in "}".
    return doc.encoded[:-1] + _DOC_ID_MEMBER + orjson.dumps(doc.id) + b"}"
