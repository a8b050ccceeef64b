"""Merge and extract state rows: exact round trips, and small enough for the dedup budget."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.extract_codec import IndicatorVersions, PartnerVersion, decode_sid, encode_sid
from enrich.merge_codec import decode_record, encode_record, row_key
from enrich.record import IndicatorRecord, SightingEntry, SourceEntry
from igsc.packing import CorruptRow, NameTable, Packer


class _Table(NameTable):
    def __init__(self) -> None:
        super().__init__()
        self.strings: list[str] = []

    def id_of(self, value: str) -> int | None:
        if value not in self.strings:
            self.strings.append(value)
        return self.strings.index(value)

    def string(self, name_id: int) -> str:
        return self.strings[name_id]


_UUID = st.uuids().map(str)
_TIME = st.one_of(
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.text(max_size=12),
)
_WORDS = st.lists(st.text(max_size=8), max_size=3).map(tuple)
_SOURCE = st.builds(
    SourceEntry,
    stix_id=st.one_of(_UUID.map(lambda u: f"indicator--{u}"), st.text(max_size=20)),
    version=_TIME,
    partner=st.sampled_from(["cert-de", "cert-fr", "x\x1fy"]),
    country=st.sampled_from(["DE", "FR"]),
    tlp=st.sampled_from(["clear", "green", "amber", "amber+strict", "red"]),
    confidence=st.one_of(st.none(), st.integers(0, 100)),
    reliability=st.floats(0, 1),
    created_by=st.one_of(st.none(), _UUID.map(lambda u: f"identity--{u}")),
    valid_from=st.one_of(st.none(), _TIME),
    labels=_WORDS,
    kill_chain_phases=_WORDS,
    description=st.text(max_size=40),
    received_at=st.one_of(st.none(), _TIME),
    revoked=st.booleans(),
    valid_until=st.one_of(st.none(), _TIME),
)
_SIGHTING = st.builds(
    SightingEntry,
    sighting_id=_UUID.map(lambda u: f"sighting--{u}"),
    version=_TIME,
    partner=st.sampled_from(["cert-de", "cert-nl"]),
    countries=_WORDS,
    count=st.integers(0, 10**9),
    first_seen=st.one_of(st.none(), _TIME),
    last_seen=st.one_of(st.none(), _TIME),
    tlp=st.sampled_from(["clear", "green", "amber", "amber+strict", "red", "white"]),
    received_at=st.one_of(st.none(), _TIME),
    sectors=_WORDS,
)


@settings(max_examples=300)
@given(
    value=st.text(min_size=1, max_size=60),
    flags=_WORDS,
    sources=st.lists(_SOURCE, max_size=4).map(tuple),
    sightings=st.lists(_SIGHTING, max_size=3).map(tuple),
    techniques=_WORDS,
    threats=_WORDS,
    version=st.integers(0, 10**6),
)
def test_merge_rows_round_trip_exactly(**fields: Any) -> None:
    key = f"domain-name|{fields.pop('value')}"
    kind, _, value = key.partition("|")
    record = IndicatorRecord(key=key, kind=kind, value=value, **fields)
    names = _Table()
    assert decode_record(key, encode_record(record, names=names), names=names) == record


def test_a_usual_one_source_record_packs_under_sixty_bytes() -> None:
    source = SourceEntry(
        stix_id="indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a",
        version="2026-11-20T08:00:00.000Z",
        partner="cert-de",
        country="DE",
        tlp="green",
        confidence=85,
        reliability=0.9,
        created_by="identity--5a1f1d0e-3f0e-4c59-9d5b-0f3c1a2b3c4d",
        valid_from="2026-11-20T08:00:00Z",
        labels=("malicious-activity",),
        kill_chain_phases=(),
        description="ind-123456",
    )
    key = "file:hashes.'SHA-256'|" + "ab" * 32
    record = IndicatorRecord(key=key, kind="x", value="y", flags=(), sources=(source,), version=3)
    packed = encode_record(record, names=_Table())
    assert len(packed) + len(row_key(key)) < 60


def test_a_sighting_keeps_its_tlp_in_the_row() -> None:
    sighting = SightingEntry(
        sighting_id="sighting--7c1e0d2a-5b3f-4e6a-8d9c-0a1b2c3d4e5f",
        version="2026-11-21T10:00:00.000Z",
        partner="cert-fr",
        countries=("FR",),
        count=3,
        first_seen="2026-11-21T09:00:00Z",
        last_seen=None,
        tlp="green",
    )
    record = IndicatorRecord(
        key="k|v", kind="k", value="v", flags=(), sources=(), sightings=(sighting,)
    )
    names = _Table()
    decoded = decode_record("k|v", encode_record(record, names=names), names=names)
    assert decoded.sightings == (sighting,) and decoded.sightings[0].tlp == "green"


def test_a_sighting_in_a_row_written_before_sightings_had_a_tlp_reads_as_red() -> None:
    names = _Table()
    p = Packer(names=names)  # the layout encode_record wrote until then
    p.uint(1)  # format
    p.uint(4)  # version
    p.name("")  # flags
    p.name("")  # techniques
    p.uint(0)  # sources
    p.uint(1)  # sightings
    p.uint(0)  # no first_seen, no last_seen, and no TLP bit
    p.stix_id("sighting--7c1e0d2a-5b3f-4e6a-8d9c-0a1b2c3d4e5f")
    p.time("2026-11-21T10:00:00.000Z")
    p.name("cert-fr")
    p.name("FR")
    p.uint(3)
    decoded = decode_record("k|v", p.done(), names=names)
    assert decoded.version == 4
    [sighting] = decoded.sightings
    assert (sighting.partner, sighting.countries, sighting.count) == ("cert-fr", ("FR",), 3)
    assert sighting.tlp == "red"


def test_a_row_from_before_arrival_times_withdrawals_sectors_and_threats_reads() -> None:
    names = _Table()
    p = Packer(names=names)  # the layout encode_record wrote until then
    p.uint(1)  # format 1: no threats
    p.uint(2)  # version
    p.name("")  # flags
    p.name("T1566")  # techniques
    p.uint(1)  # sources
    p.uint(1)  # confidence only: no received_at, valid_until or revoked bit
    p.stix_id("indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a")
    p.time("2026-11-20T08:00:00.000Z")
    p.name("cert-de\x1fDE\x1f0.9\x1f")  # partner, country, reliability, creator
    p.name("green")
    p.name("")  # labels
    p.name("")  # kill chain phases
    p.uint(85)  # confidence
    p.uint(1)  # sightings
    p.uint(4)  # the TLP bit only: no received_at, no sectors
    p.stix_id("sighting--7c1e0d2a-5b3f-4e6a-8d9c-0a1b2c3d4e5f")
    p.time("2026-11-21T10:00:00.000Z")
    p.name("cert-fr")
    p.name("FR")
    p.uint(3)
    p.name("amber")
    decoded = decode_record("k|v", p.done(), names=names)
    [source] = decoded.sources
    assert (source.partner, source.country, source.confidence) == ("cert-de", "DE", 85)
    assert (source.received_at, source.revoked, source.valid_until) == (None, False, None)
    [sighting] = decoded.sightings
    assert (sighting.tlp, sighting.received_at, sighting.sectors) == ("amber", None, ())
    assert (decoded.techniques, decoded.threats, decoded.version) == (("T1566",), (), 2)


def test_a_record_without_threats_keeps_the_old_row_layout() -> None:
    record = IndicatorRecord(key="k|v", kind="k", value="v", flags=(), sources=(), version=1)
    names = _Table()
    assert encode_record(record, names=names)[0] == 1  # readable by the previous code too
    threatened = IndicatorRecord(
        key="k|v", kind="k", value="v", flags=(), sources=(), threats=("campaign--x",)
    )
    packed = encode_record(threatened, names=names)
    assert decode_record("k|v", packed, names=names).threats == ("campaign--x",)


def test_a_usual_source_with_its_arrival_time_packs_under_seventy_bytes() -> None:
    source = SourceEntry(
        stix_id="indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a",
        version="2026-11-20T08:00:00.000Z",
        partner="cert-de",
        country="DE",
        tlp="green",
        confidence=85,
        reliability=0.9,
        created_by="identity--5a1f1d0e-3f0e-4c59-9d5b-0f3c1a2b3c4d",
        valid_from="2026-11-20T08:00:00Z",
        labels=("malicious-activity",),
        description="ind-123456",
        received_at="2026-11-20T08:00:03.123456Z",
    )
    key = "file:hashes.'SHA-256'|" + "ab" * 32
    record = IndicatorRecord(key=key, kind="x", value="y", flags=(), sources=(source,), version=3)
    packed = encode_record(record, names=_Table())
    assert len(packed) + len(row_key(key)) < 70


def test_row_keys_are_twelve_bytes_and_distinct() -> None:
    keys = [f"ipv4-addr|10.0.{i // 256}.{i % 256}" for i in range(20000)]
    rows = {row_key(k) for k in keys}
    assert len(rows) == len(keys) and {len(r) for r in rows} == {12}


def test_a_row_from_another_format_is_refused() -> None:
    with pytest.raises(CorruptRow):
        decode_record("ipv4-addr|1.2.3.4", b"\x07\x01", names=_Table())


_PARTNER_VERSION = st.builds(
    PartnerVersion,
    partner=st.sampled_from(["cert-de", "cert-fr", "cert-nl"]),
    version=_TIME,
    keys=st.lists(
        st.tuples(st.sampled_from(["ipv4-addr", "url"]), st.text(max_size=30)).map("|".join),
        max_size=4,
    ).map(tuple),
)


@given(
    creator=st.one_of(st.none(), _UUID.map(lambda u: f"identity--{u}")),
    partners=st.lists(_PARTNER_VERSION, max_size=3, unique_by=lambda p: p.partner).map(tuple),
)
def test_extract_rows_round_trip_exactly(
    creator: str | None, partners: tuple[PartnerVersion, ...]
) -> None:
    record = IndicatorVersions(creator=creator, partners=partners)
    names = _Table()
    assert decode_sid(encode_sid(record, names=names), names=names) == record


def test_a_new_version_replaces_only_that_partners_and_keeps_the_first_creator() -> None:
    de = PartnerVersion(partner="cert-de", version="2024-05-01T10:00:00Z", keys=("url|a",))
    fr = PartnerVersion(partner="cert-fr", version="2024-05-01T10:00:00Z", keys=("url|b",))
    record = IndicatorVersions(creator="identity--1", partners=(de, fr))
    newer = PartnerVersion(partner="cert-de", version="2024-05-01T10:00:00.5Z", keys=("url|c",))
    updated = record.with_version(newer, creator="identity--2")
    assert updated.creator == "identity--1"
    assert updated.partners == (newer, fr)
    assert updated.observable_keys() == ["url|b", "url|c"]
    assert record.of("cert-de") == de  # the original is unchanged
