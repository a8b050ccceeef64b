"""The one entrance: every STIX object on its way to the raw topic is admitted here.

Polling (via="poll"), `igsc publish` and the TAXII server's Add Objects (via="push") all call
`admit`: the object is checked against the declared schema (`igsc.stix_schema`), bounded in
depth and size, and given its TLP level. An invalid object is rejected with a reason naming
the field; the objects beside it go on. Stages downstream decode the same schema and trust it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from igsc.errors import RejectedInput
from igsc.partners import Partner
from igsc.records import Envelope, rejection, utc_now_iso
from igsc.stix_schema import MAX_OBJECT_BYTES, StixObject, parse_object
from igsc.tlp import TLP_BY_NAME, Tlp, object_tlp

Record = tuple[bytes, bytes]

# The raw topic, the indexes and the TAXII store each wrap an object in a few more levels,
# and orjson refuses to encode past 254: deeper objects would fail every one of them later.
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Admitted:
    """An object that passed the entrance: as received, typed, and its TLP level."""

    obj: dict[str, Any]
    typed: StixObject
    level: Tlp

    @property
    def version(self) -> str | None:
        """Its version timestamp (`modified`, or `created` for a marking definition); None
        for an object that is never versioned (SCOs)."""
        return self.typed.version


def admit(obj: Any, *, default_tlp: Tlp) -> Admitted:
    """The admitted object; RejectedInput naming the field if it may not enter."""
    typed = parse_object(obj)
    _check_bounds(obj)
    return Admitted(obj=obj, typed=typed, level=object_tlp(obj, default=default_tlp))


def _check_bounds(obj: Mapping[str, Any]) -> None:
    for name, value in obj.items():
        if isinstance(value, dict | list) and _deeper_than(value, limit=MAX_DEPTH - 1):
            raise RejectedInput(
                f"{name}: nested deeper than {MAX_DEPTH} levels, more than the stream and the "
                "indexes can encode"
            )
    try:
        size = len(orjson.dumps(obj))
    except orjson.JSONEncodeError as exc:  # in-process callers: non-string keys, huge ints
        raise RejectedInput("object: cannot be encoded as JSON", detail=str(exc)) from exc
    if size > MAX_OBJECT_BYTES:
        raise RejectedInput(f"object: {size} bytes, more than the {MAX_OBJECT_BYTES} allowed")


def _deeper_than(value: dict[str, Any] | list[Any], *, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


@dataclass(frozen=True, slots=True)
class Batch:
    """What one page becomes: records for the raw topic and for the rejected topic."""

    raw: tuple[Record, ...]
    rejected: tuple[Record, ...]


class ObjectConverter:
    """Admits each object and wraps it for the raw or the rejected topic."""

    def __init__(self, *, partner: Partner, collection: str, via: str) -> None:
        self._partner = partner
        self._collection = collection
        self._via = via
        self._default_tlp = TLP_BY_NAME[partner.default_tlp]

    def convert(self, *, objects: tuple[Any, ...], date_added: str | None) -> Batch:
        """Envelopes for the admitted objects; rejections (with reason) for the others."""
        received_at = utc_now_iso()
        raw: list[Record] = []
        rejected: list[Record] = []
        for obj in objects:
            try:
                admitted = admit(obj, default_tlp=self._default_tlp)
            except RejectedInput as exc:
                rejected.append(self.rejection(obj=obj, reason=str(exc)))
                continue
            envelope = self.envelope(
                admitted=admitted, date_added=date_added, received_at=received_at
            )
            raw.append((envelope.key, envelope.to_bytes()))
        return Batch(tuple(raw), tuple(rejected))

    def envelope(self, *, admitted: Admitted, date_added: str | None, received_at: str) -> Envelope:
        """The raw-topic envelope of an admitted object."""
        return Envelope(
            partner=self._partner.id,
            country=self._partner.country,
            collection=self._collection,
            date_added=date_added,
            received_at=received_at,
            tlp=admitted.level.label,
            via=self._via,
            object=admitted.obj,
        )

    def rejection(self, *, obj: Any, reason: str) -> Record:
        """The rejected-topic record of an object that may not enter."""
        stix_id = obj.get("id") if isinstance(obj, dict) else None
        record = rejection(
            stage=self._via,
            reason=reason,
            partner=self._partner.id,
            stix_id=stix_id if isinstance(stix_id, str) else None,
            payload=_printable(obj),
        )
        key = record.stix_id or self._partner.id
        return key.encode(), record.to_bytes()


def _printable(obj: Any) -> Any:
    try:
        orjson.dumps(obj)
    except orjson.JSONEncodeError:
        return repr(obj)[:8192]
    return obj
