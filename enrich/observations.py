"""Records extract publishes: observations for merge (keyed by observable) and quarantine.

Each observation is one msgspec struct tagged by its `op` field, so the bytes are the JSON
objects merge always read ({"op": "source", "key": ..., ...}); merge decodes any of them with
one decoder and applies them with `match` on the class.
"""

from __future__ import annotations

import msgspec

from enrich.record import SightingEntry, SourceEntry

OBSERVATIONS_TOPIC = "observations"
QUARANTINE_TOPIC = "quarantine"


class SourceOp(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", tag="source"):
    """A partner reports the observable through one indicator version."""

    key: str
    kind: str
    value: str
    flags: tuple[str, ...]
    entry: SourceEntry


class RetractOp(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", tag="retract"):
    """A newer indicator version (`version`) no longer carries the observable."""

    key: str
    partner: str
    stix_id: str
    version: str


class SightingOp(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", tag="sighting"):
    """A sighting of an indicator carrying the observable."""

    key: str
    entry: SightingEntry


class TechniquesOp(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", tag="techniques"):
    """ATT&CK techniques linked to an indicator carrying the observable."""

    key: str
    techniques: tuple[str, ...]


class ThreatsOp(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", tag="threats"):
    """Campaigns, intrusion sets or malware (STIX ids) an indicator carrying the observable
    indicates."""

    key: str
    threats: tuple[str, ...]


Observation = SourceOp | RetractOp | SightingOp | TechniquesOp | ThreatsOp

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(Observation)


def encode_observation(op: Observation) -> bytes:
    """The observations-topic bytes of one observation."""
    return _ENCODER.encode(op)


def decode_observation(data: bytes) -> Observation:
    """One observation; msgspec.ValidationError or DecodeError names what is wrong."""
    return _DECODER.decode(data)


class Quarantined(msgspec.Struct, frozen=True, kw_only=True):
    """An envelope held back, with why: `igsc rejected` shows the reason. The envelope is
    kept whole (not truncated like a rejection's payload), so it can be published again."""

    stage: str
    reason: str
    partner: str
    stix_id: str
    quarantined_at: str
    envelope: msgspec.Raw  # the raw-topic bytes, embedded as they arrived


def encode_quarantined(record: Quarantined) -> bytes:
    """The quarantine-topic bytes of a held envelope."""
    return _ENCODER.encode(record)
