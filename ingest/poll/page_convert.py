"""A page's objects → raw and rejected records, isolating objects the converter chokes on.

A converter bug on one partner object must not hold back the rest of the page nor the
collection's checkpoint: if converting the page raises anything unexpected, the page is
converted object by object and each object that raises is dead-lettered with the error.
"""

from __future__ import annotations

import logging
from typing import Any

from ingest.convert import Batch, ObjectConverter, Record

log = logging.getLogger(__name__)


def convert_page(
    *, converter: ObjectConverter, objects: tuple[Any, ...], date_added: str | None, partner: str
) -> Batch:
    """The page as the converter makes it; object by object if that raises unexpectedly."""
    try:
        return converter.convert(objects=objects, date_added=date_added)
    except Exception as exc:  # noqa: BLE001 - record-isolation boundary: retried one by one below
        log.warning(
            "partner %s: converting a page raised %s: converting it object by object",
            partner,
            type(exc).__name__,
        )
    raw: list[Record] = []
    rejected: list[Record] = []
    for obj in objects:
        try:
            one = converter.convert(objects=(obj,), date_added=date_added)
        except Exception as exc:  # noqa: BLE001 - isolates this object; the page goes on
            rejected.append(_unexpected_rejection(obj, exc, converter=converter, partner=partner))
            continue
        raw += one.raw
        rejected += one.rejected
    return Batch(tuple(raw), tuple(rejected))


def _unexpected_rejection(
    obj: Any, error: Exception, *, converter: ObjectConverter, partner: str
) -> Record:
    found = obj.get("id") if isinstance(obj, dict) else None
    # Type only in the log: the object (and maybe the message) can hold TLP:RED content.
    log.warning(
        "partner %s: object %s dead-lettered: the converter raised %s",
        partner,
        found if isinstance(found, str) else None,
        type(error).__name__,
    )
    return converter.rejection(obj=obj, reason=f"{type(error).__name__}: {error}"[:1000])
