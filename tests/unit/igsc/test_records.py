"""Records on the stream: the raw envelope a stage reads is the envelope the entrance writes."""

from __future__ import annotations

from dataclasses import fields

import msgspec
import orjson

from igsc.records import Envelope, RawEnvelope


def test_raw_envelope_has_exactly_the_envelope_fields() -> None:
    assert RawEnvelope.__struct_fields__ == tuple(f.name for f in fields(Envelope))


def test_an_envelope_reads_back_with_its_object_as_the_same_json() -> None:
    obj = {"type": "indicator", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}
    written = Envelope(
        partner="cert-de",
        country="DE",
        collection="c",
        date_added=None,
        received_at="2026-12-01T00:00:00.000000Z",
        tlp="green",
        via="push",
        object=obj,
    ).to_bytes()
    read = msgspec.json.decode(written, type=RawEnvelope)
    assert (read.partner, read.country, read.tlp, read.via) == ("cert-de", "DE", "green", "push")
    assert orjson.loads(bytes(read.object)) == obj
