"""A page of TAXII objects becomes raw envelopes and dead-letter rejections."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from igsc.partners import Partner
from igsc.records import Envelope
from igsc.tlp import TLP2_IDS, Tlp
from ingest.convert import ObjectConverter
from ingest.poll.pages import parse_envelope
from ingest.poll.retry import MalformedResponse
from tests.unit.ingest.poll.taxii_fakes import COLLECTION, indicator

PARTNER = Partner(id="cert-y", name="Y", country="NL", default_tlp="green")


def _convert(objects: list[Any], date_added: str | None = "2024-05-01T00:00:00.1Z") -> Any:
    converter = ObjectConverter(partner=PARTNER, collection=COLLECTION, via="poll")
    return converter.convert(objects=tuple(objects), date_added=date_added)


def test_valid_objects_become_envelopes_keyed_by_stix_id() -> None:
    obj = indicator(1)
    batch = _convert([obj])
    assert batch.rejected == ()
    ((key, value),) = batch.raw
    envelope = Envelope.from_bytes(value)
    assert key == obj["id"].encode()
    assert envelope.object == obj
    assert (envelope.partner, envelope.country, envelope.collection) == ("cert-y", "NL", COLLECTION)
    assert envelope.date_added == "2024-05-01T00:00:00.1Z"
    assert envelope.via == "poll"
    assert envelope.received_at.endswith("Z")


def test_tlp_comes_from_markings_else_the_partner_default() -> None:
    strict = indicator(2, object_marking_refs=[TLP2_IDS[Tlp.AMBER_STRICT]])
    unknown = indicator(
        3, object_marking_refs=["marking-definition--" + "0" * 8 + "-0000-4000-8000-" + "0" * 12]
    )
    plain = indicator(4)
    tlps = [Envelope.from_bytes(v).tlp for _, v in _convert([strict, unknown, plain]).raw]
    assert tlps == ["amber+strict", "red", "green"]


def test_invalid_objects_are_rejected_with_reason_and_valid_ones_kept() -> None:
    bad_id = indicator(5, id="indicator--not-a-uuid")
    bad_markings = indicator(6, object_marking_refs="marking-definition--x")
    huge_int = indicator(7, x_count=2**70)
    batch = _convert([indicator(8), bad_id, "not an object", bad_markings, huge_int, indicator(9)])
    assert len(batch.raw) == 2
    rejections = [orjson.loads(v) for _, v in batch.rejected]
    assert [r["stage"] for r in rejections] == ["poll"] * 4
    assert {r["partner"] for r in rejections} == {"cert-y"}
    reasons = " | ".join(r["reason"] for r in rejections)
    fragments = ("id: Expected a STIX identifier", "JSON object", "object_marking_refs", "encoded")
    for fragment in fragments:
        assert fragment in reasons
    assert rejections[2]["stix_id"] == bad_markings["id"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "JSON object"),
        ({"objects": {"a": 1}}, "'objects' must be a list"),
        ({"objects": [], "more": "yes"}, "'more' must be a boolean"),
        ({"objects": [], "more": True, "next": ["x"]}, "'next'"),
    ],
)
def test_bodies_that_are_not_envelopes_are_malformed(body: Any, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_envelope(body)


def test_an_empty_envelope_is_an_empty_last_page() -> None:
    page = parse_envelope({})
    assert (page.objects, page.more, page.next) == ((), False, None)
