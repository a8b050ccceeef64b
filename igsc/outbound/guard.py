"""SSRF guard: which URLs and peer addresses an outbound request may reach.

Shared by the TAXII poller (a partner's server only tells us where to go next: API roots,
`next` values, redirects) and the respond half's webhooks (a team's receiver): the operator's
configuration decides where we may go. Addresses are checked after DNS resolution, on the
very address the socket then connects to (igsc.outbound.session), so DNS rebinding cannot
slip past.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from igsc.errors import RejectedInput
from igsc.partners import Partner

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Cloud metadata services and other link-local hosts are never a partner's TAXII server nor
# a team's receiver, so they stay refused even for peers allowed onto private networks.
_ALWAYS_REFUSED = (
    ipaddress.IPv4Network("169.254.0.0/16"),
    ipaddress.IPv6Network("fe80::/10"),
    ipaddress.IPv4Network("0.0.0.0/8"),
    ipaddress.IPv6Network("::/128"),
)


class UnsafeTarget(RejectedInput):
    """A URL or peer address the policy forbids; never retried.

    `peer` names whom the policy is for, as the message shows it: "partner 'cert-x'"."""

    def __init__(self, *, peer: str, url: str, why: str) -> None:
        super().__init__(f"{peer}: refused {url}", detail=why)
        self.peer = peer
        self.url = url


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host and port of a URL: the unit of trust."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of an absolute http(s) URL; ValueError if it has none."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("not an absolute http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError("credentials inside a URL are not accepted")
        return cls(scheme, parts.hostname.lower(), parts.port or _DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HostRule:
    """One `allowed_hosts` entry: 'host', 'host:port' or 'scheme://host[:port]'."""

    host: str
    port: int | None = None
    scheme: str | None = None

    @classmethod
    def parse(cls, entry: str) -> HostRule:
        """Read an allowed_hosts entry."""
        text = entry.strip()
        if "://" in text:
            parts = urlsplit(text)
            return cls(host=(parts.hostname or "").lower(), port=parts.port, scheme=parts.scheme)
        parts = urlsplit("//" + text)
        return cls(host=(parts.hostname or "").lower(), port=parts.port)

    def matches(self, origin: Origin) -> bool:
        """True if the origin is covered by this rule."""
        return (
            origin.host == self.host
            and (self.port is None or self.port == origin.port)
            and (self.scheme is None or self.scheme == origin.scheme)
        )


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_private_address(ip: IpAddress) -> bool:
    """True for anything that is not a public unicast address (v4, v6 or v4 inside v6)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:  # the packets end up at the embedded IPv4 address
            return is_private_address(inner)
        if ip.is_site_local:
            return True
    return (
        not ip.is_global
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def is_always_refused(ip: IpAddress) -> bool:
    """True for link-local (cloud metadata), unspecified and multicast addresses."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and is_always_refused(inner):
            return True
    return ip.is_multicast or any(ip in net for net in _ALWAYS_REFUSED if net.version == ip.version)


def parse_ip(text: str) -> IpAddress:
    """An address from getaddrinfo, without an IPv6 zone suffix."""
    return ipaddress.ip_address(text.split("%", 1)[0])


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """Where requests for one peer may connect and where its credentials may go.

    Credentials go to the configured origin only, or to a host the operator listed in
    `credential_hosts`: a host in `allowed_hosts` may be reached (an API root in discovery,
    a `next` URL, a redirect) but gets no Authorization, cookie or client certificate.
    """

    peer: str  # whom the policy is for, as errors name it: "partner 'cert-x'", "team 'nl'"
    home: Origin
    allowed: tuple[HostRule, ...] = ()
    allow_private: bool = False
    credential_rules: tuple[HostRule, ...] = ()

    @classmethod
    def for_partner(cls, partner: Partner) -> TargetPolicy:
        """The policy of a configured partner (its taxii_url must be set)."""
        peer = f"partner {partner.id!r}"
        url = partner.taxii_url or ""
        try:
            home = Origin.of(url)
        except ValueError as exc:
            raise UnsafeTarget(peer=peer, url=url, why=f"taxii_url: {exc}") from exc
        return cls(
            peer=peer,
            home=home,
            allowed=tuple(HostRule.parse(h) for h in partner.allowed_hosts),
            allow_private=partner.allow_private_network,
            credential_rules=tuple(HostRule.parse(h) for h in partner.credential_hosts),
        )

    @classmethod
    def single_origin(cls, *, peer: str, url: str, allow_private: bool) -> TargetPolicy:
        """A policy reaching the URL's origin and nothing else (e.g. a webhook receiver)."""
        try:
            home = Origin.of(url)
        except ValueError as exc:
            raise UnsafeTarget(peer=peer, url=url, why=str(exc)) from exc
        return cls(peer=peer, home=home, allow_private=allow_private)

    def _trusted(self, origin: Origin) -> bool:
        # A host trusted with credentials may be reached too.
        return self._gets_credentials(origin) or any(rule.matches(origin) for rule in self.allowed)

    def _gets_credentials(self, origin: Origin) -> bool:
        return origin == self.home or any(rule.matches(origin) for rule in self.credential_rules)

    def check_url(self, url: str) -> Origin:
        """The URL's origin if the peer may be reached there, else UnsafeTarget."""
        try:
            origin = Origin.of(url)
        except ValueError as exc:
            raise UnsafeTarget(peer=self.peer, url=url, why=str(exc)) from exc
        if not self._trusted(origin):
            raise UnsafeTarget(
                peer=self.peer,
                url=url,
                why=f"{origin} is neither the configured host {self.home} nor in allowed_hosts",
            )
        return origin

    def may_send_credentials(self, url: str) -> bool:
        """Credentials go only to the configured origin and to `credential_hosts`."""
        try:
            return self._gets_credentials(Origin.of(url))
        except ValueError:
            return False

    def check_addresses(self, *, host: str, addresses: Iterable[str]) -> None:
        """Refuse a host if any address it resolves to is off-limits for this peer."""
        for text in addresses:
            ip = parse_ip(text)
            if is_always_refused(ip):
                why = f"{host} resolves to {ip}, a link-local/multicast/unspecified address"
            elif is_private_address(ip) and not self.allow_private:
                why = (
                    f"{host} resolves to {ip}, a private/loopback/reserved address "
                    "(set allow_private_network to allow it)"
                )
            else:
                continue
            raise UnsafeTarget(peer=self.peer, url=f"{host} ({ip})", why=why)
