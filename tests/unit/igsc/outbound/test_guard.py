"""The SSRF policy: which addresses and URLs an outbound request may reach."""

from __future__ import annotations

import pytest

from igsc.outbound.guard import (
    TargetPolicy,
    UnsafeTarget,
    is_always_refused,
    is_private_address,
    parse_ip,
)
from igsc.partners import Partner

PRIVATE = [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1",
    "169.254.169.254", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "64:ff9b::a00:1", "2002:a00:1::1", "2001:db8::1", "fec0::1",
]  # fmt: skip
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]


@pytest.mark.parametrize("text", PRIVATE)
def test_private_loopback_link_local_and_reserved_addresses_are_private(text: str) -> None:
    assert is_private_address(parse_ip(text))


@pytest.mark.parametrize("text", PUBLIC)
def test_public_unicast_addresses_are_not_private(text: str) -> None:
    assert not is_private_address(parse_ip(text))


@pytest.mark.parametrize(
    "text", ["169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "224.0.0.1", "0.0.0.0"]
)
def test_metadata_link_local_and_multicast_are_refused_even_on_private_networks(
    text: str,
) -> None:
    assert is_always_refused(parse_ip(text))
    policy = _policy(allow_private=True)
    with pytest.raises(UnsafeTarget, match="link-local"):
        policy.check_addresses(host="partner.example", addresses=[text])


def test_private_network_opt_in_allows_loopback_and_private_ranges() -> None:
    _policy(allow_private=True).check_addresses(
        host="partner.example", addresses=["127.0.0.1", "10.0.0.5", "fd00::1"]
    )
    with pytest.raises(UnsafeTarget, match="allow_private_network"):
        _policy(allow_private=False).check_addresses(
            host="partner.example", addresses=["93.184.216.34", "10.0.0.5"]
        )


def _policy(*, allow_private: bool = False, allowed: tuple[str, ...] = ()) -> TargetPolicy:
    partner = Partner(
        id="cert-x",
        name="X",
        country="FR",
        taxii_url="https://taxii.cert-x.example/taxii2/",
        allow_private_network=allow_private,
        allowed_hosts=allowed,
    )
    return TargetPolicy.for_partner(partner)


@pytest.mark.parametrize(
    "url",
    [
        "https://taxii.cert-x.example/api1/",
        "https://TAXII.cert-x.example:443/api1/collections/",
        "https://taxii.cert-x.example/api1/?next=abc",
    ],
)
def test_urls_on_the_configured_host_pass(url: str) -> None:
    assert str(_policy().check_url(url)) == "https://taxii.cert-x.example:443"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://evil.example/api1/", "neither the configured host"),
        ("https://taxii.cert-x.example:8443/api1/", "neither the configured host"),
        ("http://taxii.cert-x.example/api1/", "neither the configured host"),
        ("https://taxii.cert-x.example.evil.example/", "neither the configured host"),
        ("https://user:pw@taxii.cert-x.example/api1/", "credentials inside a URL"),
        ("file:///etc/passwd", "absolute http"),
        ("gopher://taxii.cert-x.example/", "absolute http"),
        ("/api1/", "absolute http"),
    ],
)
def test_urls_off_the_configured_host_are_refused_naming_partner_and_url(
    url: str, why: str
) -> None:
    with pytest.raises(UnsafeTarget, match=why) as caught:
        _policy().check_url(url)
    assert "cert-x" in str(caught.value)
    assert url in str(caught.value)


def test_allowed_hosts_entries_widen_the_policy_by_host_port_or_origin() -> None:
    policy = _policy(allowed=("mirror.example", "api.example:8443", "http://plain.example"))
    policy.check_url("https://mirror.example/api/")
    policy.check_url("http://mirror.example:8080/api/")
    policy.check_url("https://api.example:8443/api/")
    policy.check_url("http://plain.example/api/")
    for url in ("https://api.example/api/", "https://plain.example/api/"):
        with pytest.raises(UnsafeTarget):
            policy.check_url(url)


def test_credentials_only_go_to_the_configured_origin_or_credential_hosts() -> None:
    policy = _policy(allowed=("mirror.example",))
    assert policy.may_send_credentials("https://taxii.cert-x.example/api1/")
    assert not policy.may_send_credentials("https://mirror.example/api1/")  # reachable only
    assert not policy.may_send_credentials("https://evil.example/api1/")
    assert not policy.may_send_credentials("http://taxii.cert-x.example/api1/")
    assert not policy.may_send_credentials("https://taxii.cert-x.example:8443/api1/")
    trusted = TargetPolicy.for_partner(
        Partner(
            id="cert-x",
            name="X",
            country="FR",
            taxii_url="https://taxii.cert-x.example/taxii2/",
            credential_hosts=("auth.cert-x.example",),
        )
    )
    assert trusted.may_send_credentials("https://auth.cert-x.example/api1/")
    trusted.check_url("https://auth.cert-x.example/api1/")  # a credential host is reachable
