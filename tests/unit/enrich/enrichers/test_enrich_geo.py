"""GeoEnricher: country and AS of IP records, from the bundled file or operator .mmdb files."""

from __future__ import annotations

import ipaddress
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mmdb_writer
import pytest
from enricher_records import record
from netaddr import IPSet
from pydantic import ValidationError

from enrich.enrichers import EnrichSettings
from enrich.enrichers.geo import GeoEnricher, lookup_address

BUILT = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)


def test_google_dns_is_us_and_google(geo: GeoEnricher) -> None:
    out = geo.process(record=record(kind="ipv4-addr", value="8.8.8.8"))
    assert out.geo_country == "US"
    assert out.as_org == "GOOGLE"
    assert out.asn is None  # the bundled file has AS names but no AS numbers


def test_cloudflare_resolver_has_an_as_name(geo: GeoEnricher) -> None:
    out = geo.process(record=record(kind="ipv4-addr", value="1.1.1.1"))
    assert out.as_org is not None and "CLOUDFLARE" in out.as_org.upper()
    assert out.geo_country is not None and re.fullmatch(r"[A-Z]{2}", out.geo_country)


def test_ipv6_address_resolves(geo: GeoEnricher) -> None:
    out = geo.process(record=record(kind="ipv6-addr", value="2001:4860:4860::8888"))
    assert (out.geo_country, out.as_org) == ("US", "GOOGLE")


def test_cidr_is_looked_up_by_its_network_address(geo: GeoEnricher) -> None:
    out = geo.process(record=record(kind="ipv4-addr", value="8.8.8.0/24"))
    assert (out.geo_country, out.as_org) == ("US", "GOOGLE")


def test_ipv4_mapped_ipv6_is_looked_up_as_ipv4(geo: GeoEnricher) -> None:
    out = geo.process(record=record(kind="ipv6-addr", value="::ffff:8.8.8.8"))
    assert out.geo_country == "US"


@pytest.mark.parametrize(
    "value",
    [
        "10.0.0.1",
        "192.168.1.20",
        "172.16.5.4",
        "127.0.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "192.0.2.1",
        "224.0.0.251",
        "10.0.0.0/8",
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
        "ff02::1",
    ],
)
def test_private_and_reserved_addresses_get_nothing(geo: GeoEnricher, value: str) -> None:
    kind = "ipv6-addr" if ":" in value else "ipv4-addr"
    out = geo.process(record=record(kind=kind, value=value))
    assert (out.geo_country, out.asn, out.as_org) == (None, None, None)


def test_other_kinds_are_left_alone(geo: GeoEnricher) -> None:
    before = record(kind="domain-name", value="8.8.8.8.example.com")
    out = geo.process(record=before)
    assert out == before  # nothing added; an immutable record may come back as it is


def test_bundled_data_date_is_exposed(geo: GeoEnricher) -> None:
    assert geo.data_date is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", geo.data_date)
    assert geo.data_dates == {"country": geo.data_date, "asn": geo.data_date}


def test_repeated_addresses_are_served_from_the_cache(geo: GeoEnricher) -> None:
    geo.process(record=record(kind="ipv4-addr", value="9.9.9.9"))
    hits = geo.facts_of.cache_info().hits
    geo.process(record=record(kind="ipv4-addr", value="9.9.9.9"))
    assert geo.facts_of.cache_info().hits == hits + 1


def test_garbage_values_get_nothing_rather_than_raising() -> None:
    assert lookup_address("not-an-ip") is None
    assert lookup_address("8.8.8.8/99") is None


# ---------------------------------------------------------------- operator .mmdb files


def _write_mmdb(
    path: Path, rows: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> Path:
    writer = mmdb_writer.MMDBWriter(
        ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Test"
    )
    for cidr, content in rows.items():
        writer.insert_network(IPSet([cidr]), content)
    with monkeypatch.context() as patch:  # the writer stamps build_epoch from the clock
        patch.setattr(time, "time", BUILT.timestamp)
        writer.to_db_file(str(path))
    return path


@pytest.fixture
def geolite_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    country = _write_mmdb(
        tmp_path / "country.mmdb",
        {
            "8.8.8.0/24": {"country": {"iso_code": "US"}, "registered_country": {"iso_code": "US"}},
            "2001:4860::/32": {"country": {"iso_code": "US"}},
            "193.0.0.0/21": {"registered_country": {"iso_code": "NL"}},
        },
        monkeypatch,
    )
    asn = _write_mmdb(
        tmp_path / "asn.mmdb",
        {
            "8.8.8.0/24": {
                "autonomous_system_number": 15169,
                "autonomous_system_organization": "GOOGLE",
            },
            "2001:4860::/32": {
                "autonomous_system_number": 15169,
                "autonomous_system_organization": "GOOGLE",
            },
        },
        monkeypatch,
    )
    return country, asn


def test_operator_mmdb_files_give_country_and_as_number(geolite_files: tuple[Path, Path]) -> None:
    country, asn = geolite_files
    geo = GeoEnricher(settings=EnrichSettings(geoip_country_mmdb=country, geoip_asn_mmdb=asn))
    v4 = geo.process(record=record(kind="ipv4-addr", value="8.8.8.8"))
    v6 = geo.process(record=record(kind="ipv6-addr", value="2001:4860:4860::8888"))
    assert (v4.geo_country, v4.asn, v4.as_org) == ("US", 15169, "GOOGLE")
    assert (v6.geo_country, v6.asn, v6.as_org) == ("US", 15169, "GOOGLE")
    assert geo.data_date == "2026-09-01"


def test_registered_country_is_used_when_the_file_has_no_country(
    geolite_files: tuple[Path, Path],
) -> None:
    country, asn = geolite_files
    geo = GeoEnricher(settings=EnrichSettings(geoip_country_mmdb=country, geoip_asn_mmdb=asn))
    out = geo.process(record=record(kind="ipv4-addr", value="193.0.6.139"))
    assert (out.geo_country, out.asn) == ("NL", None)


def test_address_missing_from_the_mmdb_gets_nothing(geolite_files: tuple[Path, Path]) -> None:
    country, asn = geolite_files
    geo = GeoEnricher(settings=EnrichSettings(geoip_country_mmdb=country, geoip_asn_mmdb=asn))
    out = geo.process(record=record(kind="ipv4-addr", value="81.2.69.142"))
    assert (out.geo_country, out.asn, out.as_org) == (None, None, None)


def test_only_an_asn_file_keeps_bundled_countries(geolite_files: tuple[Path, Path]) -> None:
    _, asn = geolite_files
    geo = GeoEnricher(settings=EnrichSettings(geoip_asn_mmdb=asn))
    out = geo.process(record=record(kind="ipv4-addr", value="8.8.8.8"))
    assert (out.geo_country, out.asn, out.as_org) == ("US", 15169, "GOOGLE")
    assert geo.data_dates["asn"] == "2026-09-01"
    assert geo.data_date == geo.data_dates["country"]  # the older of the two


def test_ipinfo_lite_layout_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lite = _write_mmdb(
        tmp_path / "ipinfo_lite.mmdb",
        {"1.1.1.0/24": {"country_code": "AU", "asn": "AS13335", "as_name": "Cloudflare, Inc."}},
        monkeypatch,
    )
    geo = GeoEnricher(settings=EnrichSettings(geoip_country_mmdb=lite, geoip_asn_mmdb=lite))
    out = geo.process(record=record(kind="ipv4-addr", value="1.1.1.1"))
    assert (out.geo_country, out.asn, out.as_org) == ("AU", 13335, "Cloudflare, Inc.")


def test_a_missing_mmdb_file_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="geoip_asn_mmdb"):
        EnrichSettings(geoip_asn_mmdb=tmp_path / "GeoLite2-ASN.mmdb")


def _by_ipaddress(value: str) -> str | None:
    address = ipaddress.ip_address(value)
    return None if not address.is_global or address.is_multicast else str(address)


def test_the_ipv4_shortcut_agrees_with_ipaddress_at_every_range_edge_and_at_random() -> None:
    rng = random.Random(7)
    edges = [
        int(ipaddress.ip_network(net).network_address) + delta
        for net in (
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
            "172.16.0.0/12", "192.0.0.0/29", "192.0.0.170/31", "192.0.2.0/24", "192.168.0.0/16",
            "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        )
        for delta in (-1, 0, 1, 255, 256)
    ]  # fmt: skip
    numbers = [n for n in edges if 0 <= n < 2**32] + [rng.getrandbits(32) for _ in range(20000)]
    for number in numbers:
        text = str(ipaddress.IPv4Address(number))
        assert lookup_address(text) == _by_ipaddress(text), text
    assert lookup_address("255.255.255.255") is None
    assert lookup_address("8.8.8.8") == "8.8.8.8"
