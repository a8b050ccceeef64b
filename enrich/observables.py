"""Canonical observables: one (kind, value) key per threat, however a country spelled it."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import idna

from enrich.homoglyphs import homoglyph_flags
from enrich.patterns import Comparison, ParsedPattern
from igsc.errors import RejectedInput


@dataclass(frozen=True, slots=True)
class Observable:
    """One canonical observable; `flags` never take part in its key."""

    kind: str
    value: str
    flags: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The identity of the observable across partners: kind|value."""
        return f"{self.kind}|{self.value}"


# name without '-', '_' or spaces, upper case → (canonical name, hex length or 0 if not hex)
_HASHES = {
    "MD5": ("MD5", 32),
    "SHA1": ("SHA-1", 40),
    "SHA224": ("SHA-224", 56),
    "SHA256": ("SHA-256", 64),
    "SHA384": ("SHA-384", 96),
    "SHA512": ("SHA-512", 128),
    "SHA3224": ("SHA3-224", 56),
    "SHA3256": ("SHA3-256", 64),
    "SHA3384": ("SHA3-384", 96),
    "SHA3512": ("SHA3-512", 128),
    "RIPEMD160": ("RIPEMD-160", 40),
    "WHIRLPOOL": ("WHIRLPOOL", 128),
    "SSDEEP": ("SSDEEP", 0),
    "TLSH": ("TLSH", 0),
}
_HEX = re.compile(r"[0-9a-f]+")
_ASCII_DOMAIN = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}")
_ASCII_LABEL = re.compile(r"[a-z0-9_-]{1,63}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_PORT = re.compile(r"[0-9]{1,5}")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_URL_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}|%|[^\x21-\x7e]")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_MAC = re.compile(
    r"[0-9a-f]{2}([:-]?)[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}|(?:[0-9a-f]{4}\.){2}[0-9a-f]{4}"
)
_EMAIL_REFS = frozenset(("from_ref", "sender_ref", "to_refs", "cc_refs", "bcc_refs"))
_OCTET = r"(?:0|[1-9][0-9]?|1[0-9]{2}|2[0-4][0-9]|25[0-5])"  # as ipaddress reads it: no 01
# A dotted quad is already in canonical form; ipaddress is only needed for anything else.
_DOTTED_QUAD = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}(/32)?")
_HASH_NAME_NOISE = re.compile(r"[-_\s]")
_DIGITS_AND_DOTS = re.compile(r"[0-9.]+")
_NOT_HEX = re.compile(r"[^0-9a-f]")


def observables_from(*, parsed: ParsedPattern) -> tuple[Observable, ...]:
    """Canonical observables of the non-negated `=` and `IN` comparisons, first spelling first."""
    found: dict[str, Observable] = {}
    for comparison in parsed.comparisons:
        for value in _equal_values(comparison):
            observable = observable_of(comparison=comparison, value=value)
            found.setdefault(observable.key, observable)
    return tuple(found.values())


def observable_of(*, comparison: Comparison, value: str) -> Observable:
    """The canonical observable that `object_type:path = value` names."""
    object_type, steps, path = comparison.object_type, comparison.steps, comparison.path
    if path == "value" and object_type in _BY_TYPE:
        return _BY_TYPE[object_type](value)
    if len(steps) == 2 and steps[0] == "hashes" and isinstance(steps[1], str):
        name, digest = canonical_hash(algorithm=steps[1], value=value)
        return Observable(kind=f"{object_type}:hashes.{name}", value=digest)
    if _is_reference_value(steps):
        return _referenced(comparison, value)
    return Observable(kind=f"{object_type}:{path}", value=value)


def canonical_domain(*, value: str) -> str:
    """A domain name lower case, without its trailing dot, every IDN label as its A-label."""
    return _domain(value.strip())[0]


def canonical_ip(*, value: str, version: int) -> str:
    """An IPv4/IPv6 address or CIDR as canonical (RFC 5952) text; /32 and /128 are dropped."""
    text = value.strip()
    quad = _DOTTED_QUAD.fullmatch(text) if version == 4 else None
    if quad is not None:
        return text[: quad.start(1)] if quad.group(1) else text  # /32 is the address itself
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            address, prefix = net.network_address, net.prefixlen
            full = prefix == net.max_prefixlen
        else:
            address, full, prefix = ipaddress.ip_address(text), True, 0
    except ValueError as exc:
        raise RejectedInput(f"not an IPv{version} address", detail=str(exc)[:160]) from None
    if address.version != version:
        raise RejectedInput(f"not an IPv{version} address", detail=text[:160])
    return _ip_text(address) if full else f"{_ip_text(address)}/{prefix}"


def canonical_hash(*, algorithm: str, value: str) -> tuple[str, str]:
    """(canonical algorithm name, digest); hex digests lower case and checked for length."""
    spelled = _HASH_NAME_NOISE.sub("", algorithm).upper()
    name, length = _HASHES.get(spelled, (algorithm.strip(), 0))
    digest = value.strip()
    if name == "TLSH":
        return name, digest.upper()
    if length == 0:
        return name, digest
    digest = digest.lower()
    if len(digest) != length or not _HEX.fullmatch(digest):
        raise RejectedInput(f"not a {name} hash", detail=repr(value)[:160])
    return name, digest


def canonical_url(*, value: str) -> str:
    """A URL with scheme and host canonical, default port dropped, '/' for an empty path."""
    return _url(value.strip())[0]


def canonical_email(*, value: str) -> str:
    """An e-mail address with its domain canonical and its local part kept as written."""
    return _email(value.strip())[0]


def _equal_values(comparison: Comparison) -> tuple[str, ...]:
    if comparison.negated or comparison.literal not in ("string", "int"):
        return ()
    if comparison.operator == "=":
        return (str(comparison.value),)
    if comparison.operator == "IN" and isinstance(comparison.value, tuple):
        return tuple(str(v) for v in comparison.value)
    return ()


def _ip_text(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        # RFC 5952 §5 wants dotted form here; ipaddress's text for it varies by Python version.
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


@lru_cache(maxsize=65536)
def _domain(text: str) -> tuple[str, tuple[str, ...]]:
    """(canonical domain, homoglyph flags) of stripped text; cached, domains repeat a lot."""
    if text.isascii():
        text = text.lower().removesuffix(".")
        if _ASCII_DOMAIN.fullmatch(text) and "xn--" not in text:
            return _checked_length(text), ()
    else:
        try:
            text = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except UnicodeError as exc:  # idna.IDNAError is a UnicodeError
            raise RejectedInput("domain name fails IDNA", detail=f"{text[:120]}: {exc}") from None
        text = text.removesuffix(".")
    labels = [_label(label, text) for label in text.split(".")]
    domain = _checked_length(".".join(a for a, _ in labels))
    return domain, homoglyph_flags(unicode_domain=".".join(u for _, u in labels))


def _label(label: str, domain: str) -> tuple[str, str]:
    """(A-label, U-label) of one label, or RejectedInput naming the domain."""
    try:
        if not label.isascii():
            return idna.alabel(label).decode("ascii"), label
        if label.startswith("xn--"):
            unicode_label = idna.ulabel(label)
            return idna.alabel(unicode_label).decode("ascii"), unicode_label
    except UnicodeError as exc:
        raise RejectedInput("domain name fails IDNA", detail=f"{domain[:120]}: {exc}") from None
    if not _ASCII_LABEL.fullmatch(label):
        raise RejectedInput("domain name has an empty, long or invalid label", detail=domain[:160])
    return label, label


def _checked_length(domain: str) -> str:
    if len(domain) > 253:
        raise RejectedInput("domain name is longer than 253 characters", detail=domain[:160])
    return domain


def _url(text: str) -> tuple[str, tuple[str, ...]]:
    scheme, sep, rest = text.partition("://")
    if not sep or not _SCHEME.fullmatch(scheme):
        raise RejectedInput("url has no scheme://", detail=text[:160])
    scheme = scheme.lower()
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    userinfo, at, hostport = authority.rpartition("@")
    host, flags, port = _host_port(hostport, scheme, text)
    tail, _, fragment = tail.partition("#")
    path, _, query = tail.partition("?")
    out = f"{scheme}://{userinfo}{at}{host}{port}{_escape(path) or '/'}"
    out += f"?{_escape(query)}" if query else ""
    out += f"#{_escape(fragment)}" if fragment else ""
    return out, flags


def _host_port(hostport: str, scheme: str, url: str) -> tuple[str, tuple[str, ...], str]:
    """(canonical host, its flags, ':port' or '') of a URL authority without userinfo."""
    if hostport.startswith("["):
        end = hostport.find("]")
        host, rest = hostport[1:end], hostport[end + 1 :]
        if end < 0 or (rest and not rest.startswith(":")):
            raise RejectedInput("url has a malformed [IPv6] host", detail=url[:160])
        return f"[{canonical_ip(value=host, version=6)}]", (), _port(rest[1:], scheme, url)
    host, colon, port = hostport.rpartition(":")
    if not colon:
        host, port = port, ""
    if ":" in host:
        raise RejectedInput("url has an IPv6 host without brackets", detail=url[:160])
    if not host:
        if scheme == "file":
            return "", (), _port(port, scheme, url)
        raise RejectedInput("url has no host", detail=url[:160])
    if _DIGITS_AND_DOTS.fullmatch(host):
        try:
            return str(ipaddress.IPv4Address(host)), (), _port(port, scheme, url)
        except ValueError:
            pass  # not a dotted quad: an all-digit host name
    domain, flags = _domain(host)
    return domain, flags, _port(port, scheme, url)


def _port(port: str, scheme: str, url: str) -> str:
    if not port:
        return ""
    if not _PORT.fullmatch(port) or int(port) > 65535:
        raise RejectedInput("url has an invalid port", detail=url[:160])
    number = int(port)
    return "" if _DEFAULT_PORTS.get(scheme) == number else f":{number}"


def _escape(part: str) -> str:
    """RFC 3986 §6.2.2 normalisation: decode unreserved, upper-case the rest, encode non-ASCII."""
    return _URL_ESCAPE.sub(_escape_one, part)


def _escape_one(match: re.Match[str]) -> str:
    text = match.group()
    if len(text) == 3:
        char = chr(int(text[1:], 16))
        return char if char in _UNRESERVED else text.upper()
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8", "surrogatepass"))


def _email(text: str) -> tuple[str, tuple[str, ...]]:
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise RejectedInput("email address has no local@domain form", detail=text[:160])
    canonical, flags = _domain(domain)
    return f"{local}@{canonical}", flags


def _mac(text: str) -> str:
    lowered = text.lower()
    if not _MAC.fullmatch(lowered):
        raise RejectedInput("not a MAC address", detail=text[:160])
    digits = _NOT_HEX.sub("", lowered)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _is_reference_value(steps: tuple[object, ...]) -> bool:
    if len(steps) < 2 or steps[-1] != "value":
        return False
    ref = steps[-2]
    if isinstance(ref, str):
        return ref.endswith("_ref")
    return len(steps) >= 3 and isinstance(steps[-3], str) and steps[-3].endswith("_refs")


def _referenced(comparison: Comparison, value: str) -> Observable:
    """A `*_ref.value` names another object: file it under that object's kind when clear."""
    text = value.strip()
    for version, kind in ((4, "ipv4-addr"), (6, "ipv6-addr")):
        try:
            return Observable(kind=kind, value=canonical_ip(value=text, version=version))
        except RejectedInput:
            continue
    ref = next(s for s in reversed(comparison.steps[:-1]) if isinstance(s, str))
    if comparison.object_type == "email-message" and ref in _EMAIL_REFS:
        return _BY_TYPE["email-addr"](value)
    return Observable(kind=f"{comparison.object_type}:{comparison.path}", value=value)


def _flagged(kind: str, canon: Callable[[str], tuple[str, tuple[str, ...]]]) -> _Maker:
    def make(value: str) -> Observable:
        canonical, flags = canon(value.strip())
        return Observable(kind=kind, value=canonical, flags=flags)

    return make


def _plain(kind: str, canon: Callable[[str], str]) -> _Maker:
    def make(value: str) -> Observable:
        return Observable(kind=kind, value=canon(value.strip()))

    return make


_Maker = Callable[[str], Observable]
_BY_TYPE: dict[str, _Maker] = {
    "domain-name": _flagged("domain-name", _domain),
    "url": _flagged("url", _url),
    "email-addr": _flagged("email-addr", _email),
    "ipv4-addr": _plain("ipv4-addr", lambda v: canonical_ip(value=v, version=4)),
    "ipv6-addr": _plain("ipv6-addr", lambda v: canonical_ip(value=v, version=6)),
    "mac-addr": _plain("mac-addr", _mac),
}
