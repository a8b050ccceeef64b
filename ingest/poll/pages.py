"""One TAXII envelope page: its objects, `more` and `next`, checked for shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ingest.poll.retry import MalformedResponse


@dataclass(frozen=True, slots=True)
class Page:
    """The parts of a TAXII 2.1 envelope the poller uses."""

    objects: tuple[Any, ...]
    more: bool
    next: str | None


def parse_envelope(body: Any) -> Page:
    """A Page, or MalformedResponse if the body is not a TAXII envelope."""
    if not isinstance(body, dict):
        raise MalformedResponse(f"envelope must be a JSON object, got {type(body).__name__}")
    objects = body.get("objects", [])
    more = body.get("more", False)
    token = body.get("next")
    if not isinstance(objects, list):
        raise MalformedResponse("envelope 'objects' must be a list")
    if not isinstance(more, bool):
        raise MalformedResponse("envelope 'more' must be a boolean")
    if token is not None and not isinstance(token, str | int):
        raise MalformedResponse("envelope 'next' must be a string")
    return Page(tuple(objects), more, None if token is None else str(token))
