"""Host name -> registered domain and public suffix, from tldextract's bundled PSL snapshot only.

Applies to domain-name values, the host of url values and the domain of email-addr values.
The extractor is built with no suffix-list URLs and no cache directory, so it never fetches
or writes anything: it parses the Public Suffix List snapshot shipped inside the wheel.
Hosts that are IP addresses, and names with no known suffix (localhost, corp.internal), get
nothing.
"""

from __future__ import annotations

import functools
import ipaddress
import pkgutil
import re
from urllib.parse import urlsplit

import tldextract

from enrich.record import IndicatorRecord, evolve
from igsc.enrich_settings import EnrichSettings

_PSL_VERSION = re.compile(rb"^// VERSION: (\S+)", re.MULTILINE)
HOST_KINDS = frozenset({"domain-name", "url", "email-addr"})  # the kinds host_of reads


def psl_snapshot_version() -> str | None:
    """The VERSION line of the Public Suffix List snapshot bundled with tldextract."""
    data = pkgutil.get_data("tldextract", ".tld_set_snapshot") or b""
    found = _PSL_VERSION.search(data)
    return found.group(1).decode("ascii") if found else None


def _is_ip(host: str) -> bool:
    if ":" not in host and not host.replace(".", "").isdigit():
        return False  # IPv4 text is digits and dots only, IPv6 text always has a colon
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_of_url(value: str) -> str | None:
    try:
        # A URL without a scheme ("example.com/x") would otherwise parse as a bare path.
        return urlsplit(value if "://" in value else "//" + value).hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None


def host_of(*, kind: str, value: str) -> str | None:
    """The DNS name carried by a record value of this kind, or None if it carries none."""
    if kind == "domain-name":
        host: str | None = value
    elif kind == "url":
        host = _host_of_url(value)
    elif kind == "email-addr":
        local, at, domain = value.rpartition("@")
        host = domain if at and local else None
    else:
        return None
    host = (host or "").strip().rstrip(".").lower()
    return host if host and not _is_ip(host) else None


class DomainEnricher:
    """Adds registered_domain and public_suffix to domain, URL and email records."""

    name = "domain"

    def __init__(self, *, settings: EnrichSettings) -> None:
        self._extract = tldextract.TLDExtract(
            cache_dir=None,
            suffix_list_urls=(),
            fallback_to_snapshot=True,
            include_psl_private_domains=settings.psl_private_domains,
        )
        self.psl_version = psl_snapshot_version()
        self.data_date = self.psl_version[:10] if self.psl_version else None
        self.split = functools.lru_cache(maxsize=settings.cache_size)(self._split)
        # Per record value: the facts depend on nothing else, and values repeat across batches.
        self.facts_of = functools.lru_cache(maxsize=settings.cache_size)(self._facts_of)
        self._split("example.com")  # parse the snapshot now, not on the first record

    def _split(self, host: str) -> tuple[str | None, str | None]:
        parts = self._extract(host)
        if not parts.suffix:
            return None, None
        return parts.top_domain_under_public_suffix or None, parts.suffix

    def _facts_of(self, kind: str, value: str) -> tuple[str | None, str | None] | None:
        host = host_of(kind=kind, value=value)
        return None if host is None else self.split(host)

    def process(self, *, record: IndicatorRecord) -> IndicatorRecord:
        """The record with the registered domain and suffix of its host, if it has one.

        The record itself comes back when it already holds those facts (it is immutable).
        """
        if record.kind not in HOST_KINDS:
            return record
        facts = self.facts_of(record.kind, record.value)
        if facts is None or facts == (record.registered_domain, record.public_suffix):
            return record
        registered, suffix = facts
        return evolve(record=record, registered_domain=registered, public_suffix=suffix)
