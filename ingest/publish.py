"""Publish a local STIX bundle as a partner: the `igsc publish` command's engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from igsc.errors import RejectedInput
from igsc.partners import Partner
from igsc.ports import Stream
from igsc.records import RAW_TOPIC, REJECTED_TOPIC
from igsc.settings import Settings
from igsc.wiring import topic
from ingest.convert import ObjectConverter


@dataclass(frozen=True, slots=True)
class PublishResult:
    """How many objects went to the raw topic, and why the dead-lettered ones were refused."""

    published: int
    rejected: int
    reasons: tuple[str, ...] = ()  # one per rejected object, in input order


def objects_of(document: Any) -> list[Any]:
    """The objects of a STIX bundle or TAXII envelope, a bare list, or one STIX object."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        if isinstance(document.get("objects"), list):
            return list(document["objects"])
        kind = document.get("type")
        if kind == "bundle" and "objects" not in document:
            return []  # an empty bundle may leave `objects` out
        if isinstance(kind, str) and kind != "bundle":
            return [document]
    raise RejectedInput(
        "expected a STIX bundle, a TAXII envelope, a list of objects or one STIX object"
    )


def _reason(value: bytes) -> str:
    try:
        reason = orjson.loads(value).get("reason")
    except (orjson.JSONDecodeError, AttributeError):
        reason = None
    return reason if isinstance(reason, str) else "(no reason given)"


def publish_objects(
    *,
    settings: Settings,
    stream: Stream,
    partner: Partner,
    objects: Sequence[Any],
    collection: str = "local",
) -> PublishResult:
    """Check each object, publish the valid ones in one call, dead-letter the rest."""
    batch = ObjectConverter(partner=partner, collection=collection, via="push").convert(
        objects=tuple(objects), date_added=None
    )
    stream.publish(topic=topic(settings, RAW_TOPIC), records=batch.raw)
    stream.publish(topic=topic(settings, REJECTED_TOPIC), records=batch.rejected)
    return PublishResult(
        published=len(batch.raw),
        rejected=len(batch.rejected),
        reasons=tuple(_reason(value) for _, value in batch.rejected),
    )
