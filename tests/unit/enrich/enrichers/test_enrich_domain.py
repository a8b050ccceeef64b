"""DomainEnricher: registered domain and public suffix from the bundled PSL snapshot."""

from __future__ import annotations

import re

import pytest
from enricher_records import record

from enrich.enrichers import EnrichSettings
from enrich.enrichers.domain import DomainEnricher, host_of


@pytest.mark.parametrize(
    ("kind", "value", "registered", "suffix"),
    [
        ("domain-name", "www.bbc.co.uk", "bbc.co.uk", "co.uk"),
        ("domain-name", "bbc.co.uk", "bbc.co.uk", "co.uk"),
        ("domain-name", "update.microsoft-cdn.com.", "microsoft-cdn.com", "com"),
        ("domain-name", "login.gouv.fr", "login.gouv.fr", "gouv.fr"),
        ("url", "https://user:pw@Login.Example.COM:8443/p?q=1#f", "example.com", "com"),
        ("url", "hxxp-less.example.org/payload.exe", "example.org", "org"),
        ("url", "http://cdn.shop.example.com.br/a.js", "example.com.br", "com.br"),
        ("email-addr", "finance@mail.example.co.jp", "example.co.jp", "co.jp"),
        ("email-addr", "ceo@Example.DE", "example.de", "de"),
    ],
)
def test_registered_domain_and_suffix(
    domain: DomainEnricher, kind: str, value: str, registered: str, suffix: str
) -> None:
    out = domain.process(record=record(kind=kind, value=value))
    assert (out.registered_domain, out.public_suffix) == (registered, suffix)


def test_dynamic_dns_customers_stay_apart_by_default(domain: DomainEnricher) -> None:
    out = domain.process(record=record(kind="domain-name", value="c2.evil.duckdns.org"))
    assert (out.registered_domain, out.public_suffix) == ("evil.duckdns.org", "duckdns.org")


def test_private_suffixes_can_be_switched_off() -> None:
    icann_only = DomainEnricher(settings=EnrichSettings(psl_private_domains=False))
    out = icann_only.process(record=record(kind="domain-name", value="c2.evil.duckdns.org"))
    assert (out.registered_domain, out.public_suffix) == ("duckdns.org", "org")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("url", "http://203.0.113.5/gate.php"),
        ("url", "http://[2001:db8::1]:8080/x"),
        ("url", "http://[2001:db8::1/x"),
        ("email-addr", "root@[192.0.2.1]"),
        ("email-addr", "no-at-sign.example.com"),
        ("domain-name", "localhost"),
        ("domain-name", "corp.internal"),
        ("file:hashes.SHA-256", "a" * 64),
        ("ipv4-addr", "8.8.8.8"),
    ],
)
def test_hosts_without_a_registered_domain_get_nothing(
    domain: DomainEnricher, kind: str, value: str
) -> None:
    before = record(kind=kind, value=value)
    out = domain.process(record=before)
    assert (out.registered_domain, out.public_suffix) == (None, None)
    assert out == before


def test_a_bare_public_suffix_has_a_suffix_but_no_registered_domain(
    domain: DomainEnricher,
) -> None:
    out = domain.process(record=record(kind="domain-name", value="co.uk"))
    assert (out.registered_domain, out.public_suffix) == (None, "co.uk")


def test_host_of_url_strips_credentials_port_and_case() -> None:
    assert host_of(kind="url", value="ftp://a:b@FILES.Example.net:2121/x") == "files.example.net"


def test_snapshot_version_is_exposed(domain: DomainEnricher) -> None:
    assert domain.psl_version is not None
    assert domain.data_date is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", domain.data_date)


def test_repeated_hosts_are_served_from_the_cache(domain: DomainEnricher) -> None:
    domain.process(record=record(kind="domain-name", value="a.b.example.net"))
    hits = domain.split.cache_info().hits
    domain.process(record=record(kind="url", value="https://a.b.example.net/other"))
    assert domain.split.cache_info().hits == hits + 1
