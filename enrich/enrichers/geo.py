"""IP address -> country (ISO 3166 alpha-2), AS number and AS organisation, from offline data.

Sources, per fact: a MaxMind-format database the operator configures (EnrichSettings
`geoip_country_mmdb`, `geoip_asn_mmdb`; GeoLite2/GeoIP2, DB-IP lite and IPinfo lite layouts
are read), else the GeoLite2-derived file bundled with geoip2fast. That bundled file carries
countries and AS organisation names but no AS numbers, so `asn` stays None without an ASN
mmdb. A CIDR is looked up by its network address. Private, loopback, link-local, shared,
documentation, reserved and multicast addresses get no facts at all.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import maxminddb

from enrich.record import IndicatorRecord, evolve
from igsc.enrich_settings import EnrichSettings

IP_KINDS = frozenset({"ipv4-addr", "ipv6-addr"})
BUNDLED_FILE = "geoip2fast-asn-ipv6.dat.gz"  # country + AS organisation, IPv4 and IPv6
_ISO2 = re.compile(r"[A-Z]{2}")
_DATE_SUFFIX = re.compile(r"(\d{4})(\d{2})(\d{2})$")


@dataclass(frozen=True, slots=True)
class GeoFacts:
    """What the data says about one address; None where it says nothing."""

    country: str | None = None
    asn: int | None = None
    as_org: str | None = None


NOTHING = GeoFacts()


class GeoSource(Protocol):
    """One offline data file that answers for single addresses."""

    data_date: str | None

    def lookup(self, *, address: str) -> GeoFacts:
        """The facts for one canonical address string."""
        ...


def _iso2(value: Any) -> str | None:
    text = value.upper() if isinstance(value, str) else ""
    return text if _ISO2.fullmatch(text) else None


def _country_of(found: dict[str, Any]) -> str | None:
    # GeoIP2/GeoLite2 and DB-IP nest the code; IPinfo lite keeps it flat.
    for key in ("country", "registered_country"):
        nested = found.get(key)
        if isinstance(nested, dict) and _iso2(nested.get("iso_code")):
            return _iso2(nested.get("iso_code"))
    return _iso2(found.get("country_code"))


def _asn_of(found: dict[str, Any]) -> tuple[int | None, str | None]:
    number = found.get("autonomous_system_number")
    org = found.get("autonomous_system_organization")
    if number is None and isinstance(found.get("asn"), str):  # IPinfo lite: "AS15169"
        text = found["asn"].upper().removeprefix("AS")
        number = int(text) if text.isdigit() else None
        org = found.get("as_name")
    asn = number if isinstance(number, int) and number > 0 else None
    return asn, (org if isinstance(org, str) and org else None)


def facts_from_mmdb(found: dict[str, Any]) -> GeoFacts:
    """Country and AS facts from one MaxMind-format record, whatever vendor layout it uses."""
    asn, org = _asn_of(found)
    return GeoFacts(country=_country_of(found), asn=asn, as_org=org)


class MmdbSource:
    """Facts from one MaxMind-format (.mmdb) file, memory-mapped."""

    def __init__(self, *, path: Path) -> None:
        self._reader = maxminddb.open_database(str(path), mode=maxminddb.MODE_AUTO)
        meta = self._reader.metadata()
        self.database_type: str = meta.database_type
        self.data_date: str | None = (
            datetime.fromtimestamp(meta.build_epoch, tz=UTC).date().isoformat()
        )

    def lookup(self, *, address: str) -> GeoFacts:
        """The facts the file holds for this address."""
        try:
            found = self._reader.get(address)
        except ValueError:  # an IPv6 address asked of an IPv4-only file
            return NOTHING
        return facts_from_mmdb(found) if isinstance(found, dict) else NOTHING


@functools.cache
def _bundled_geoip2fast() -> Any:
    # geoip2fast keeps its tables in module globals, so a process can hold one file only;
    # cached so every enricher shares it. It also sets two environment variables on
    # import, which we put back so child processes are not affected.
    saved = {name: os.environ.get(name) for name in ("PYTHONWARNINGS", "PYTHONIOENCODING")}
    import geoip2fast

    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    # An absolute path: given a bare name it would first unpickle a file of that name
    # from the current directory.
    data_file = resources.files("geoip2fast").joinpath(BUNDLED_FILE)
    return geoip2fast.GeoIP2Fast(geoip2fast_data_file=str(data_file))


class BundledSource:
    """Country and AS organisation (no AS number) from the file shipped with geoip2fast."""

    def __init__(self) -> None:
        self._geo = _bundled_geoip2fast()
        self.source_info: str = str(self._geo.source_info)
        found = _DATE_SUFFIX.search(self.source_info)
        self.data_date: str | None = "-".join(found.groups()) if found else None

    def lookup(self, *, address: str) -> GeoFacts:
        """The facts the bundled file holds for this address."""
        detail = self._geo.lookup(address)
        if detail.is_private:
            return NOTHING
        org = detail.asn_name if isinstance(detail.asn_name, str) and detail.asn_name else None
        return GeoFacts(country=_iso2(detail.country_code), as_org=org)


def _not_global_v4() -> tuple[list[int], list[int]]:
    """Sorted starts and ends of the IPv4 ranges ipaddress calls non-global or multicast."""
    constants = getattr(ipaddress.IPv4Address, "_constants", None)
    networks = [
        *getattr(constants, "_private_networks", ()),
        getattr(constants, "_public_network", None),  # 100.64.0.0/10, despite the name
        ipaddress.IPv4Network("224.0.0.0/4"),
    ]
    spans = sorted(
        (int(n.network_address), int(n.broadcast_address)) for n in networks if n is not None
    )
    return [a for a, _ in spans], [b for _, b in spans]


_V4_STARTS, _V4_ENDS = _not_global_v4()


def _plain_ipv4(value: str) -> str | bool | None:
    """lookup_address for canonical dotted-quad text in C calls; False when it is not one."""
    try:
        packed = socket.inet_pton(socket.AF_INET, value)
    except OSError:
        return False
    if socket.inet_ntoa(packed) != value:
        return False  # not canonical (e.g. leading zeros): leave it to ipaddress
    number = int.from_bytes(packed, "big")
    i = bisect.bisect_right(_V4_STARTS, number) - 1
    return None if i >= 0 and number <= _V4_ENDS[i] else value


def lookup_address(value: str) -> str | None:
    """The address to look up for an IP or CIDR value, or None when it has no public facts."""
    if _V4_STARTS and "/" not in value and ":" not in value:
        fast = _plain_ipv4(value)
        if fast is not False:
            return fast if isinstance(fast, str) else None
    try:
        if "/" in value:
            address = ipaddress.ip_network(value, strict=False).network_address
        else:
            address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return None
    return str(address)


class GeoEnricher:
    """Adds geo_country, asn and as_org to IP address records."""

    name = "geo"

    def __init__(self, *, settings: EnrichSettings) -> None:
        bundled = None
        if settings.geoip_country_mmdb is None or settings.geoip_asn_mmdb is None:
            bundled = BundledSource()
        self._country = _source(path=settings.geoip_country_mmdb, fallback=bundled)
        self._asn = _source(path=settings.geoip_asn_mmdb, fallback=bundled)
        self.data_dates = {"country": self._country.data_date, "asn": self._asn.data_date}
        known = [d for d in self.data_dates.values() if d is not None]
        self.data_date: str | None = min(known) if known else None  # the older one counts
        self.facts_of = functools.lru_cache(maxsize=settings.cache_size)(self._facts_of)

    def _facts_of(self, value: str) -> GeoFacts:
        address = lookup_address(value)
        if address is None:
            return NOTHING
        found = self._country.lookup(address=address)
        if self._asn is self._country:  # the bundled file answers both at once
            return found
        as_facts = self._asn.lookup(address=address)
        return GeoFacts(country=found.country, asn=as_facts.asn, as_org=as_facts.as_org)

    def process(self, *, record: IndicatorRecord) -> IndicatorRecord:
        """The record with its address's country and AS, if it is an IP address.

        The record itself comes back when it already holds those facts (it is immutable).
        """
        if record.kind not in IP_KINDS:
            return record
        facts = self.facts_of(record.value)
        if (record.geo_country, record.asn, record.as_org) == (
            facts.country,
            facts.asn,
            facts.as_org,
        ):
            return record
        return evolve(record=record, geo_country=facts.country, asn=facts.asn, as_org=facts.as_org)


def _source(*, path: Path | None, fallback: GeoSource | None) -> GeoSource:
    if path is not None:
        return MmdbSource(path=path)
    assert fallback is not None
    return fallback
