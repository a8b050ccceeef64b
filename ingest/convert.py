"""STIX objects from a partner → raw-topic envelopes and rejected-topic rejections.

Shared by polling (via="poll"), `igsc publish` and the TAXII server (via="push").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from igsc.errors import RejectedInput
from igsc.partners import Partner
from igsc.records import Envelope, rejection, utc_now_iso
from igsc.stix import check_object
from igsc.tlp import TLP_BY_NAME, object_tlp

Record = tuple[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Batch:
    """What one page becomes: records for the raw topic and for the rejected topic."""

    raw: tuple[Record, ...]
    rejected: tuple[Record, ...]


def _encodable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return False
    return True


def _encode(envelope: Envelope) -> bytes:
    try:
        return envelope.to_bytes()
    except orjson.JSONEncodeError as exc:  # e.g. an integer beyond 64 bits
        raise RejectedInput("object cannot be encoded as JSON", detail=str(exc)) from exc


def _marking_refs(obj: dict[str, Any]) -> list[str]:
    refs = obj.get("object_marking_refs", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        raise RejectedInput("object_marking_refs must be a list of marking-definition ids")
    return refs


class ObjectConverter:
    """Checks each object and wraps it for the raw or the rejected topic."""

    def __init__(self, *, partner: Partner, collection: str, via: str) -> None:
        self._partner = partner
        self._collection = collection
        self._via = via
        self._default_tlp = TLP_BY_NAME[partner.default_tlp]

    def convert(self, *, objects: tuple[Any, ...], date_added: str | None) -> Batch:
        """Envelopes for the valid objects; rejections (with reason) for the others."""
        received_at = utc_now_iso()
        raw: list[Record] = []
        rejected: list[Record] = []
        for obj in objects:
            try:
                envelope = self._envelope(obj, date_added=date_added, received_at=received_at)
                raw.append((envelope.key, _encode(envelope)))
            except RejectedInput as exc:
                rejected.append(self._rejection(obj, exc))
        return Batch(tuple(raw), tuple(rejected))

    def _envelope(self, obj: Any, *, date_added: str | None, received_at: str) -> Envelope:
        checked = check_object(obj)
        _marking_refs(checked)
        tlp = object_tlp(checked, default=self._default_tlp)
        return Envelope(
            partner=self._partner.id,
            country=self._partner.country,
            collection=self._collection,
            date_added=date_added,
            received_at=received_at,
            tlp=tlp.label,
            via=self._via,
            object=checked,
        )

    def _rejection(self, obj: Any, error: RejectedInput) -> Record:
        stix_id = obj.get("id") if isinstance(obj, dict) else None
        record = rejection(
            stage=self._via,
            reason=str(error),
            partner=self._partner.id,
            stix_id=stix_id if isinstance(stix_id, str) else None,
            payload=obj if _encodable(obj) else repr(obj),
        )
        key = record.stix_id or self._partner.id
        return key.encode(), record.to_bytes()
