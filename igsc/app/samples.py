"""A small, realistic cross-border sample: three CERTs report one threat, spelled differently."""

from __future__ import annotations

import uuid
from typing import Any

from igsc.app.corpus import identity, indicator, sighting, stix_id, tlp_marking
from igsc.partners import Partner
from igsc.tlp import Tlp

SAMPLE_NAMESPACE = uuid.UUID("6f1d8a52-58c4-4c8e-9b43-0d6f6f1c2a10")

SAMPLE_PARTNERS = (
    Partner(
        id="cert-de",
        name="CERT DE (sample)",
        country="DE",
        sharing_groups=("eu",),
        reliability=0.9,
        default_tlp="green",
    ),
    Partner(
        id="cert-fr",
        name="CERT FR (sample)",
        country="FR",
        sharing_groups=("eu",),
        reliability=0.8,
        default_tlp="amber",
    ),
    Partner(
        id="cert-nl",
        name="CERT NL (sample)",
        country="NL",
        sharing_groups=("eu",),
        reliability=0.7,
        default_tlp="green",
    ),
)


_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_SPELLINGS: dict[str, tuple[str, str, str]] = {
    # name: (DE spelling, FR spelling, NL spelling) of the same observable
    "phishing domain": (
        "[domain-name:value = 'evil-login.example']",
        "[domain-name:value='EVIL-LOGIN.Example.']",
        "[ domain-name:value  =  'evil-login.example.' ]",
    ),
    "c2 address": (
        "[ipv6-addr:value = '2001:db8:0:0::1']",
        "[ipv6-addr:value = '2001:DB8::1']",
        "[ipv6-addr:value = '2001:0db8:0000:0000:0000:0000:0000:0001']",
    ),
    "dropper hash": (
        "[file:hashes.'SHA-256' = '" + _HASH.upper() + "']",
        "[file:hashes.'SHA-256' = '" + _HASH + "']",
        "[file:hashes.'SHA-256'='" + _HASH.capitalize() + "']",
    ),
    "idn lure": (
        "[domain-name:value = 'xn--bcher-kva.example']",
        "[domain-name:value = 'bücher.example']",
        "[domain-name:value = 'BÜCHER.example.']",
    ),
}


def sample_id(*, kind: str, name: str) -> str:
    """A stable STIX id for a sample object."""
    return stix_id(kind=kind, name=name, namespace=SAMPLE_NAMESPACE)


def _indicator(
    *, partner: Partner, name: str, pattern: str, tlp: Tlp, confidence: int, description: str
) -> dict[str, Any]:
    return indicator(
        partner=partner,
        name=name,
        pattern=pattern,
        marking=tlp_marking(tlp=tlp),
        confidence=confidence,
        description=description,
        kill_chain_phase="initial-access",
        namespace=SAMPLE_NAMESPACE,
    )


def sample_objects() -> dict[str, list[dict[str, Any]]]:
    """STIX objects per sample partner id."""
    tlps = {"cert-de": Tlp.GREEN, "cert-fr": Tlp.AMBER, "cert-nl": Tlp.CLEAR}
    out: dict[str, list[dict[str, Any]]] = {}
    for i, partner in enumerate(SAMPLE_PARTNERS):
        objects = [identity(partner=partner, namespace=SAMPLE_NAMESPACE)]
        for name, spellings in _SPELLINGS.items():
            objects.append(
                _indicator(
                    partner=partner,
                    name=name,
                    pattern=spellings[i],
                    tlp=tlps[partner.id],
                    confidence=60 + 10 * i,
                    description=f"{name} seen by {partner.name}",
                )
            )
        out[partner.id] = objects
    de, nl = out["cert-de"], out["cert-nl"]
    de.append(
        _indicator(
            partner=SAMPLE_PARTNERS[0],
            name="bank brand",
            pattern="[domain-name:value = 'paypal.com']",
            tlp=Tlp.GREEN,
            confidence=40,
            description="brand watch",
        )
    )
    nl.append(
        _indicator(
            partner=SAMPLE_PARTNERS[2],
            name="homoglyph lure",
            pattern="[domain-name:value = 'p\u0430ypal.com']",
            tlp=Tlp.CLEAR,
            confidence=80,
            description="look-alike of a bank brand",
        )
    )
    nl.append(
        _indicator(
            partner=SAMPLE_PARTNERS[2],
            name="compound",
            pattern=(
                "[ipv4-addr:value = '203.0.113.7']"
                " OR [url:value = 'HTTP://Evil-Login.example:80/login']"
            ),
            tlp=Tlp.CLEAR,
            confidence=70,
            description="phishing kit host",
        )
    )
    nl.append(
        sighting(
            name="nl-phish",
            sighting_of_ref=sample_id(kind="indicator", name="cert-nlphishing domain"),
            count=12,
            where_sighted_refs=(sample_id(kind="identity", name="cert-nl"),),
            namespace=SAMPLE_NAMESPACE,
        )
    )
    return out
