"""Canonical observables: the same threat spelled differently by partners gives one key."""

from __future__ import annotations

import pytest

from enrich.observables import Observable, canonical_url, observables_from
from enrich.patterns import parse_pattern
from igsc.errors import RejectedInput

SHA256 = "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"
PAYPAL_CYRILLIC_A = "p\N{CYRILLIC SMALL LETTER A}ypal.com"


def observed(pattern: str) -> tuple[Observable, ...]:
    return observables_from(parsed=parse_pattern(pattern=pattern))


def keys(pattern: str) -> list[str]:
    return [o.key for o in observed(pattern)]


SAME_THREAT = {
    "domain": [
        "[domain-name:value='evil.example']",
        "[ domain-name:value = 'EVIL.Example.' ]",
        "[domain-name:'value' == 'evil.example']",
        "[domain-name:value = ' evil.example ']",
        "([domain-name:value = 'Evil.Example'])",
    ],
    "idn": [
        "[domain-name:value = 'xn--bcher-kva.example']",
        "[domain-name:value = 'b\u00fccher.example']",
        "[domain-name:value = 'B\u00dcCHER.Example.']",
        "[domain-name:value = 'XN--BCHER-KVA.EXAMPLE']",
        "[domain-name:value = 'bu\u0308cher.example']",  # decomposed u + combining diaeresis
        "[domain-name:value = 'b\u00fccher\u3002example']",  # ideographic full stop
    ],
    "sha256": [
        f"[file:hashes.'SHA-256' = '{SHA256.upper()}']",
        f"[file:hashes.SHA256 = '{SHA256}']",
        f"[file:hashes.'sha-256' = '{SHA256}']",
        f"[file:hashes.'sha_256' = ' {SHA256} ']",
    ],
    "ipv6": [
        "[ipv6-addr:value = '2001:db8:0:0::1']",
        "[ipv6-addr:value = '2001:DB8::1']",
        "[ipv6-addr:value = '2001:0db8:0000:0000:0000:0000:0000:0001']",
        "[ipv6-addr:value = '2001:db8::1/128']",
    ],
    "ipv4": [
        "[ipv4-addr:value = '198.51.100.7']",
        "[ipv4-addr:value = '198.51.100.7/32']",
        "[network-traffic:dst_ref.value = '198.51.100.7']",
    ],
    "url": [
        "[url:value = 'http://Example.com:80']",
        "[url:value = 'HTTP://EXAMPLE.COM']",
        "[url:value = 'http://example.com/']",
        "[url:value = 'http://example.com.:80/']",
    ],
    "url-escapes": [
        "[url:value = 'http://example.com/a%2fb%7e?q=%c3%a9']",
        "[url:value = 'http://example.com/a%2Fb~?q=%C3%A9']",
        "[url:value = 'http://example.com/a%2Fb%7E?q=\u00e9']",
    ],
    "url-idn": [
        "[url:value = 'https://b\u00fccher.example:443/Pfad?Q=1']",
        "[url:value = 'https://xn--bcher-kva.example/Pfad?Q=1']",
        "[url:value = 'https://xn--bcher-kva.example/Pf%61d?Q=1']",  # %61 is 'a', unreserved
    ],
    "email": [
        "[email-addr:value = 'Alice@Example.ORG.']",
        "[email-addr:value = 'Alice@example.org']",
        "[email-message:from_ref.value = 'Alice@EXAMPLE.org']",
    ],
}


@pytest.mark.parametrize("group", sorted(SAME_THREAT))
def test_same_threat_spelled_differently_gives_one_key(group: str) -> None:
    found = {tuple(keys(pattern)) for pattern in SAME_THREAT[group]}
    assert len(found) == 1, found
    assert len(found.pop()) == 1


def test_canonical_forms_are_the_documented_ones() -> None:
    assert keys(SAME_THREAT["idn"][1]) == ["domain-name|xn--bcher-kva.example"]
    assert keys(SAME_THREAT["ipv6"][0]) == ["ipv6-addr|2001:db8::1"]
    assert keys(SAME_THREAT["url"][0]) == ["url|http://example.com/"]
    assert keys(SAME_THREAT["sha256"][0]) == [f"file:hashes.SHA-256|{SHA256}"]
    assert keys(SAME_THREAT["email"][0]) == ["email-addr|Alice@example.org"]


def test_different_threats_stay_apart() -> None:
    assert keys("[url:value = 'http://x.example/A']") != keys("[url:value = 'http://x.example/a']")
    assert keys("[url:value = 'http://x.example:8080/']") != keys(
        "[url:value = 'http://x.example/']"
    )
    assert keys("[url:value = 'https://x.example/']") != keys("[url:value = 'http://x.example/']")
    assert keys("[email-addr:value = 'alice@x.example']") != keys(
        "[email-addr:value = 'Alice@x.example']"
    )
    assert keys("[ipv4-addr:value = '10.0.0.0/24']") != keys("[ipv4-addr:value = '10.0.0.0']")


@pytest.mark.parametrize("url", ["http://x.example/%%341", "http://x.example/100%", "http://x/%zz"])
def test_stray_percent_signs_are_escaped_so_canonical_urls_are_stable(url: str) -> None:
    once = canonical_url(value=url)
    assert canonical_url(value=once) == once
    assert "%25" in once


def test_cidr_keeps_its_network() -> None:
    assert keys("[ipv4-addr:value = '10.0.0.77/24']") == ["ipv4-addr|10.0.0.0/24"]
    assert keys("[ipv6-addr:value = '2001:DB8::77/32']") == ["ipv6-addr|2001:db8::/32"]


def test_ipv4_mapped_ipv6_uses_the_dotted_form() -> None:
    assert keys("[ipv6-addr:value = '::FFFF:c000:0280']") == ["ipv6-addr|::ffff:192.0.2.128"]


def test_homoglyph_domain_stays_separate_and_is_flagged() -> None:
    (spoof,) = observed(f"[domain-name:value = '{PAYPAL_CYRILLIC_A}']")
    (real,) = observed("[domain-name:value = 'paypal.com']")
    assert spoof.key != real.key
    assert real.flags == ()
    assert {"homoglyph", "mixed-script", "lookalike:paypal.com"} <= set(spoof.flags)
    # the same spoof sent as punycode is the same observable
    (as_punycode,) = observed(f"[domain-name:value = '{spoof.value}']")
    assert as_punycode == spoof


def test_whole_label_in_another_script_is_flagged_as_lookalike() -> None:
    cyrillic_paypal = "\u0440\u0430\u0443\u0440\u0430\u04cf.com"  # all Cyrillic letters
    (spoof,) = observed(f"[domain-name:value = '{cyrillic_paypal}']")
    assert "lookalike:paypal.com" in spoof.flags and "homoglyph" in spoof.flags
    assert "mixed-script" not in spoof.flags  # one script: only the skeleton gives it away


def test_ordinary_idn_domains_are_not_flagged() -> None:
    for domain in (
        "\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",  # пример.рф
        "b\u00fccher.example",
        "\u3072\u3089\u304c\u306a\u30ab\u30bf\u30ab\u30ca\u6f22\u5b57.jp",  # Japanese mix
    ):
        (found,) = observed(f"[domain-name:value = '{domain}']")
        assert found.flags == (), domain


def test_homoglyph_hosts_in_urls_and_emails_are_flagged() -> None:
    (url,) = observed(f"[url:value = 'https://{PAYPAL_CYRILLIC_A}/login']")
    (email,) = observed(f"[email-addr:value = 'billing@{PAYPAL_CYRILLIC_A}']")
    assert "lookalike:paypal.com" in url.flags and "lookalike:paypal.com" in email.flags
    assert url.value.startswith("https://xn--")


def test_only_positive_equality_names_an_observable() -> None:
    pattern = (
        "[domain-name:value != 'a.example' AND domain-name:value NOT = 'b.example' "
        "AND domain-name:value LIKE '%.c.example' AND domain-name:value NOT IN ('d.example')]"
    )
    assert observed(pattern) == ()


def test_in_lists_give_each_member_once() -> None:
    pattern = "[domain-name:value IN ('a.example', 'A.example.', 'b.example')]"
    assert keys(pattern) == ["domain-name|a.example", "domain-name|b.example"]


def test_other_properties_keep_a_generic_kind() -> None:
    assert keys("[file:name = 'Invoice.PDF.exe']") == ["file:name|Invoice.PDF.exe"]
    assert keys("[autonomous-system:number = 64496]") == ["autonomous-system:number|64496"]
    assert keys("[mac-addr:value = 'AA-BB-CC-00-11-22']") == ["mac-addr|aa:bb:cc:00:11:22"]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[domain-name:value = 'xn--zz.example']", "fails IDNA"),
        ("[domain-name:value = 'i\u2764.example']", "fails IDNA"),
        ("[domain-name:value = 'a..example']", "invalid label"),
        ("[domain-name:value = 'bad domain.example']", "invalid label"),
        ("[file:hashes.'sha_256' = 'abc123']", "not a SHA-256 hash"),
        ("[ipv4-addr:value = '2001:db8::1']", "not an IPv4 address"),
        ("[ipv4-addr:value = '300.1.1.1']", "not an IPv4 address"),
        ("[url:value = 'example.com/path']", "no scheme"),
        ("[url:value = 'http://example.com:99999/']", "invalid port"),
        ("[email-addr:value = 'no-at-sign.example']", "local@domain"),
    ],
)
def test_malformed_observables_are_rejected_with_a_reason(pattern: str, reason: str) -> None:
    with pytest.raises(RejectedInput) as caught:
        observed(pattern)
    assert reason in caught.value.reason
