"""Records that travel on the stream, serialised with orjson; immutable once built."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson

from igsc.errors import RejectedInput

RAW_TOPIC = "raw"
REJECTED_TOPIC = "rejected"
INDICATORS_TOPIC = "indicators"


def utc_now_iso() -> str:
    """The current UTC time as an RFC 3339 string with microseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One STIX object as received from a partner, with where and when it came from."""

    partner: str
    country: str
    collection: str
    date_added: str | None
    received_at: str
    tlp: str
    via: str  # "poll" (we fetched it) or "push" (the partner POSTed it to our server)
    object: dict[str, Any]

    @property
    def key(self) -> bytes:
        """Stream key: the STIX id, so every version of an object lands in one partition."""
        return str(self.object.get("id", "")).encode()

    def to_bytes(self) -> bytes:
        """orjson bytes of the envelope."""
        return orjson.dumps(self)  # orjson serialises dataclasses natively, and fast

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """Parse an envelope, rejecting anything that is not one."""
        try:
            raw = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise RejectedInput("envelope is not valid JSON", detail=str(exc)) from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("object"), dict):
            raise RejectedInput("envelope must be an object with an 'object' member")
        try:
            return cls(**raw)
        except TypeError as exc:
            raise RejectedInput("envelope has missing or unknown fields", detail=str(exc)) from exc


class RawEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """An Envelope as a stage reads it off the raw topic: the same fields (a test keeps them
    so), with the object left as JSON bytes until it is decoded, once, into its typed struct
    (cheaper than a dict and then a conversion)."""

    partner: str
    country: str
    collection: str
    date_added: str | None
    received_at: str
    tlp: str
    via: str
    object: msgspec.Raw


@dataclass(frozen=True, slots=True)
class Rejection:
    """Input that was dead-lettered, with the reason and enough context to trace it."""

    stage: str
    reason: str
    partner: str | None
    stix_id: str | None
    payload: str  # the offending input, truncated
    rejected_at: str

    def to_bytes(self) -> bytes:
        """orjson bytes of the rejection."""
        return orjson.dumps(self)  # orjson serialises dataclasses natively, and fast


def rejection(
    *, stage: str, reason: str, partner: str | None, stix_id: str | None, payload: Any
) -> Rejection:
    """A Rejection whose payload is kept to 8 KiB of text."""
    text = payload if isinstance(payload, str) else orjson.dumps(payload, default=str).decode()
    return Rejection(
        stage=stage,
        reason=reason,
        partner=partner,
        stix_id=stix_id,
        payload=text[:8192],
        rejected_at=utc_now_iso(),
    )
