"""Property tests: canonical observables are idempotent and blind to spelling variations."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from enrich.observables import (
    canonical_domain,
    canonical_email,
    canonical_ip,
    canonical_url,
    observables_from,
)
from enrich.patterns import parse_pattern
from igsc.errors import RejectedInput

Draw = Callable[[st.SearchStrategy[Any]], Any]  # st.DrawFn and DataObject.draw alike
PROFILE = settings(derandomize=True, max_examples=200, deadline=None, database=None)
GRAMMAR_WS = st.sampled_from(["", " ", "  ", "\t", "\n", "\u3000", "\xa0", "\u2028"])
LATIN = "abcdefghijklmnopqrstuvwxyz0123456789"
# Latin with accents, Cyrillic and Greek: all valid in IDNA labels, some confusable.
UNICODE = "\u00e9\u00fc\u00f6\u00e7\u0430\u0435\u043e\u0434\u0436\u03b1\u03bf\u03bb"


@st.composite
def labels(draw: st.DrawFn) -> str:
    core = draw(st.text(alphabet=LATIN + UNICODE, min_size=1, max_size=12))
    # IDNA allows no '_' in a Unicode label; DNS host names in the wild do carry it
    joiners = ["", "-", "_"] if core.isascii() else ["", "-"]
    inner = draw(st.sampled_from(joiners)) if len(core) > 1 else ""
    return core[0] + inner + core[1:]


@st.composite
def domains(draw: st.DrawFn) -> str:
    """A domain that canonicalises (one script per label, so IDNA accepts it)."""
    parts = draw(st.lists(labels(), min_size=1, max_size=4))
    tld = draw(st.sampled_from(["com", "example", "org", "\u0440\u0444", "xn--p1ai"]))
    domain = ".".join([*parts, tld])
    try:
        canonical_domain(value=domain)
    except RejectedInput:
        assume(False)  # e.g. a label IDNA forbids; rare with this alphabet
    return domain


def vary_case(draw: Draw, text: str) -> str:
    """Flip the case of letters whose case round-trips (not ß, whose upper case is SS)."""
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(
        c.upper() if flip and len(c.upper()) == 1 and c.upper().lower() == c else c
        for c, flip in zip(text, flips, strict=True)
    )


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def key_of(pattern: str) -> str:
    (observable,) = observables_from(parsed=parse_pattern(pattern=pattern))
    return observable.key


@PROFILE
@given(domain=domains())
def test_domain_canonicalisation_is_idempotent(domain: str) -> None:
    once = canonical_domain(value=domain)
    assert canonical_domain(value=once) == once
    assert once.isascii() and once == once.lower()


@PROFILE
@given(data=st.data(), domain=domains())
def test_domain_spelling_variations_share_one_key(data: st.DataObject, domain: str) -> None:
    ws = [data.draw(GRAMMAR_WS) for _ in range(6)]
    variant = vary_case(data.draw, domain) + data.draw(st.sampled_from(["", "."]))
    path = data.draw(st.sampled_from(["value", "'value'"]))
    op = data.draw(st.sampled_from(["=", "=="]))
    plain = f"[domain-name:value = '{escape(domain)}']"
    spelled = (
        f"{ws[0]}[{ws[1]}domain-name:{path}{ws[2]}{op}{ws[3]}'{escape(variant)}'{ws[4]}]{ws[5]}"
    )
    assert key_of(spelled) == key_of(plain)


@PROFILE
@given(domain=domains())
def test_unicode_and_punycode_spellings_share_one_key(domain: str) -> None:
    a_labels = canonical_domain(value=domain)
    u_labels = ".".join(
        label.encode("ascii").decode("idna") if label.startswith("xn--") else label
        for label in a_labels.split(".")
    )
    assert key_of(f"[domain-name:value = '{u_labels}']") == key_of(
        f"[domain-name:value = '{a_labels}']"
    )


def ipv6_spellings(draw: Draw, address: ipaddress.IPv6Address) -> str:
    groups = address.exploded.split(":")
    style = draw(st.sampled_from(["exploded", "compressed", "unpadded", "upper", "cidr", "dotted"]))
    if style == "exploded":
        return address.exploded
    if style == "compressed":
        return address.compressed
    if style == "unpadded":
        return ":".join(g.lstrip("0") or "0" for g in groups)
    if style == "upper":
        return address.exploded.upper()
    if style == "cidr":
        return f"{address.compressed}/128"
    tail = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return ":".join(groups[:6]) + f":{tail}"


def expected_ipv6(address: ipaddress.IPv6Address) -> str:
    # ipaddress's text, except IPv4-mapped addresses which RFC 5952 §5 writes dotted.
    mapped = address.ipv4_mapped
    return str(address) if mapped is None else f"::ffff:{mapped}"


@PROFILE
@given(data=st.data(), number=st.integers(min_value=0, max_value=2**128 - 1))
def test_ipv6_in_any_textual_form_maps_to_canonical_text(data: st.DataObject, number: int) -> None:
    address = ipaddress.IPv6Address(number)
    text = ipv6_spellings(data.draw, address)
    assert canonical_ip(value=text, version=6) == expected_ipv6(address)
    assert key_of(f"[ipv6-addr:value = '{text}']") == f"ipv6-addr|{expected_ipv6(address)}"


@PROFILE
@given(
    data=st.data(),
    number=st.integers(min_value=0, max_value=2**32 - 1),
    prefix=st.integers(min_value=0, max_value=32),
)
def test_ipv4_in_any_textual_form_maps_to_canonical_text(
    data: st.DataObject, number: int, prefix: int
) -> None:
    address = ipaddress.IPv4Address(number)
    text = data.draw(st.sampled_from([str(address), f"{address}/32", f" {address} "]))
    assert canonical_ip(value=text, version=4) == str(address)
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    expected = str(network) if prefix < 32 else str(address)
    assert canonical_ip(value=f"{address}/{prefix}", version=4) == expected


OCTETS = ["0", "00", "01", "7", "99", "100", "199", "249", "255", "256", "999", "1000", "", "x"]


@PROFILE
@given(
    octets=st.lists(st.sampled_from(OCTETS), min_size=3, max_size=5),
    suffix=st.sampled_from(["", "/32", "/032", "/24", "/33", "/", " "]),
)
def test_ipv4_text_is_accepted_exactly_as_ipaddress_reads_it(
    octets: list[str], suffix: str
) -> None:
    text = ".".join(octets) + suffix
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        expected = None
    else:
        full = network.prefixlen == network.max_prefixlen
        expected = str(network.network_address) if full else str(network)
    try:
        got: str | None = canonical_ip(value=text, version=4)
    except RejectedInput:
        got = None
    assert got == expected


ALGORITHMS = {
    "MD5": ("MD5", "md5", "Md5"),
    "SHA-1": ("SHA-1", "SHA1", "sha-1", "sha1", "Sha_1"),
    "SHA-256": ("SHA-256", "SHA256", "sha-256", "sha256", "Sha_256"),
    "SHA-512": ("SHA-512", "SHA512", "sha-512", "sha512"),
}
LENGTHS = {"MD5": 16, "SHA-1": 20, "SHA-256": 32, "SHA-512": 64}


@PROFILE
@given(data=st.data(), name=st.sampled_from(sorted(ALGORITHMS)))
def test_hash_case_and_algorithm_spellings_collapse(data: st.DataObject, name: str) -> None:
    digest = data.draw(st.binary(min_size=LENGTHS[name], max_size=LENGTHS[name])).hex()
    spelled = data.draw(st.sampled_from(ALGORITHMS[name]))
    variant = vary_case(data.draw, digest)
    key = key_of(f"[file:hashes.'{spelled}' = '{variant}']")
    assert key == f"file:hashes.{name}|{digest}"


URL_TEXT = st.text(  # percent signs and hex digits often, to form (and break) %XX triplets
    alphabet=st.one_of(
        st.sampled_from("%%%4127eEfF"),
        st.characters(codec="utf-8", exclude_characters="#?"),
    ),
    max_size=20,
)


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "HTTPS", "ftp", "wss", "Http"]))
    host = draw(
        st.one_of(
            domains().map(lambda d: vary_case(draw, d)),
            st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n))),
            st.integers(0, 2**128 - 1).map(lambda n: f"[{ipaddress.IPv6Address(n).exploded}]"),
        )
    )
    port = draw(st.sampled_from(["", ":80", ":443", ":21", ":8080", ":0080", ":"]))
    path = draw(URL_TEXT.map(lambda p: "/" + p.lstrip("/") if p else ""))
    query = draw(st.one_of(st.just(""), URL_TEXT.map(lambda q: "?" + q)))
    fragment = draw(st.one_of(st.just(""), URL_TEXT.map(lambda f: "#" + f)))
    return f"{scheme}://{host}{port}{path}{query}{fragment}"


@PROFILE
@given(url=urls())
def test_url_canonicalisation_is_idempotent(url: str) -> None:
    once = canonical_url(value=url)
    assert canonical_url(value=once) == once
    scheme, _, rest = once.partition("://")
    assert scheme == scheme.lower() and once.isascii()
    assert "/" in rest  # an empty path became "/"


@PROFILE
@given(data=st.data(), domain=domains())
def test_url_default_port_and_host_case_do_not_matter(data: st.DataObject, domain: str) -> None:
    path = data.draw(st.sampled_from(["", "/", "/Login", "/a/B?c=D"]))
    if path == "/":
        path = ""
    plain = canonical_url(value=f"https://{domain}{path}")
    spelled = f"HTTPS://{vary_case(data.draw, domain)}{data.draw(st.sampled_from(['', ':443']))}"
    assert canonical_url(value=spelled + path) == plain


@PROFILE
@given(data=st.data(), domain=domains(), local=st.text(alphabet=LATIN + "._+-AZ", min_size=1))
def test_email_domain_is_canonical_local_part_kept(
    data: st.DataObject, domain: str, local: str
) -> None:
    once = canonical_email(value=f"{local}@{vary_case(data.draw, domain)}.")
    assert once == f"{local}@{canonical_domain(value=domain)}"
    assert canonical_email(value=once) == once
