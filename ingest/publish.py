"""Publish a local STIX bundle as a partner: the `igsc publish` command's engine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from igsc.errors import RejectedInput
from igsc.partners import Partner
from igsc.ports import Stream
from igsc.records import RAW_TOPIC, REJECTED_TOPIC, make_envelope, rejection
from igsc.settings import Settings
from igsc.stix import check_object
from igsc.wiring import topic


@dataclass(frozen=True, slots=True)
class PublishResult:
    """How many objects went to the raw topic, and the reasons of those that did not."""

    published: int
    rejected: tuple[str, ...]


def objects_of(document: Any) -> list[Any]:
    """The objects of a STIX bundle or TAXII envelope, or a bare list of objects."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and isinstance(document.get("objects"), list):
        return list(document["objects"])
    raise RejectedInput("expected a STIX bundle, a TAXII envelope or a list of objects")


def publish_objects(
    *,
    settings: Settings,
    stream: Stream,
    partner: Partner,
    objects: Iterable[Any],
    collection: str = "local",
) -> PublishResult:
    """Check each object, publish the valid ones in one call, dead-letter the rest."""
    good: list[tuple[bytes, bytes]] = []
    bad: list[tuple[bytes, bytes]] = []
    reasons: list[str] = []
    for obj in objects:
        try:
            checked = check_object(obj)
        except RejectedInput as exc:
            stix_id = obj.get("id") if isinstance(obj, dict) else None
            reasons.append(f"{stix_id or '(no id)'}: {exc}")
            dead = rejection(
                stage="publish",
                reason=str(exc),
                partner=partner.id,
                stix_id=str(stix_id) if stix_id else None,
                payload=obj,
            )
            bad.append(
                ((stix_id or "").encode() if isinstance(stix_id, str) else b"", dead.to_bytes())
            )
            continue
        env = make_envelope(
            partner=partner, collection=collection, obj=checked, via="push", date_added=None
        )
        good.append((env.key, env.to_bytes()))
    stream.publish(topic=topic(settings, RAW_TOPIC), records=good)
    stream.publish(topic=topic(settings, REJECTED_TOPIC), records=bad)
    return PublishResult(published=len(good), rejected=tuple(reasons))
