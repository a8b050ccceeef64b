"""The one place that builds STIX objects for samples, tests and benchmarks.

Builders (`stix_id`, `identity`, `indicator`, `sighting`, `tlp_marking`) make STIX 2.1 objects
with deterministic ids; `corpus_with_keys` generates a realistic synthetic corpus with them:
overlapping observables across partners, spelled differently, with compound patterns and
sightings. Deterministic for a given seed. The demo scenario (igsc.app.samples) uses the same
builders.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from igsc.partners import Partner
from igsc.tlp import TLP2_IDS, TLP_MARKING_IDS, Tlp

CORPUS_NAMESPACE = uuid.UUID("0b6c3e0e-8a4f-4d6b-9f0e-6a8f7d0c2b11")
_CREATED = "2026-11-20T08:00:00.000Z"
_VALID_FROM = "2026-11-20T08:00:00Z"
_SIGHTED = "2026-11-21T10:00:00.000Z"
_TLPS = [Tlp.CLEAR, Tlp.GREEN, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED]
_TLP1_GREEN = next(k for k, v in TLP_MARKING_IDS.items() if v is Tlp.GREEN)
_TLP1_GREEN_SHARE = 0.3


def _uuid5(namespace: uuid.UUID, name: str) -> str:
    """uuid.uuid5(namespace, name) as text, without building UUID objects (3x faster)."""
    digest = hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def stix_id(*, kind: str, name: str, namespace: uuid.UUID = CORPUS_NAMESPACE) -> str:
    """A deterministic STIX id: `kind--uuid5(namespace, name)`."""
    return f"{kind}--{_uuid5(namespace, name)}"


@functools.lru_cache(maxsize=4096)
def _identity_id(partner_id: str, namespace: uuid.UUID) -> str:
    return stix_id(kind="identity", name=partner_id, namespace=namespace)


def tlp_marking(*, tlp: Tlp, rng: random.Random | None = None) -> str:
    """The marking-definition id for `tlp`: TLP 2.0, or (given an rng) sometimes TLP 1.0 GREEN."""
    if rng is not None and tlp is Tlp.GREEN and rng.random() < _TLP1_GREEN_SHARE:
        return _TLP1_GREEN
    return TLP2_IDS[tlp]


def identity(*, partner: Partner, namespace: uuid.UUID = CORPUS_NAMESPACE) -> dict[str, Any]:
    """The STIX identity of a partner (the `created_by_ref` of its indicators)."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": _identity_id(partner.id, namespace),
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "name": partner.name,
        "identity_class": "organization",
        "x_country": partner.country,
    }


def indicator(
    *,
    partner: Partner,
    name: str,
    pattern: str,
    marking: str,
    confidence: int,
    description: str | None = None,
    kill_chain_phase: str | None = None,
    namespace: uuid.UUID = CORPUS_NAMESPACE,
) -> dict[str, Any]:
    """One STIX 2.1 indicator from a partner; its id follows from the partner and `name`."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id(kind="indicator", name=partner.id + name, namespace=namespace),
        "created": _CREATED,
        "modified": _CREATED,
        "created_by_ref": _identity_id(partner.id, namespace),
        "name": name,
    }
    if description is not None:
        obj["description"] = description
    obj["pattern"] = pattern
    obj["pattern_type"] = "stix"
    obj["valid_from"] = _VALID_FROM
    obj["confidence"] = confidence
    obj["labels"] = ["malicious-activity"]
    if kill_chain_phase is not None:
        obj["kill_chain_phases"] = [
            {"kill_chain_name": "mitre-attack", "phase_name": kill_chain_phase}
        ]
    obj["object_marking_refs"] = [marking]
    return obj


def sighting(
    *,
    name: str,
    sighting_of_ref: str,
    count: int,
    where_sighted_refs: tuple[str, ...] = (),
    namespace: uuid.UUID = CORPUS_NAMESPACE,
) -> dict[str, Any]:
    """One STIX 2.1 sighting of an indicator, seen `count` times in one hour."""
    obj: dict[str, Any] = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": stix_id(kind="sighting", name=name, namespace=namespace),
        "created": _SIGHTED,
        "modified": _SIGHTED,
        "sighting_of_ref": sighting_of_ref,
    }
    if where_sighted_refs:
        obj["where_sighted_refs"] = list(where_sighted_refs)
    obj["count"] = count
    obj["first_seen"] = "2026-11-21T09:00:00Z"
    obj["last_seen"] = "2026-11-21T10:00:00Z"
    return obj


def random_indicator(
    *, partner: Partner, pattern: str, name: str, rng: random.Random
) -> dict[str, Any]:
    """An indicator with a TLP (and TLP version) and confidence drawn from `rng`."""
    marking = tlp_marking(tlp=rng.choice(_TLPS), rng=rng)
    confidence = rng.choice([30, 50, 70, 85, 95])
    return indicator(
        partner=partner, name=name, pattern=pattern, marking=marking, confidence=confidence
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Observable:
    """A generated observable with its canonical key and ways to spell it."""

    kind: str
    canonical: str
    spellings: tuple[str, ...]  # pattern fragments `[type:path = 'value']`

    @property
    def key(self) -> str:
        return f"{self.kind}|{self.canonical}"


def _domain(*, rng: random.Random, index: int) -> Observable:
    word = rng.choice(["login", "cdn", "update", "mail", "secure"])
    name = f"{word}-{index}.example{rng.randint(0, 9)}.com"
    return Observable(
        kind="domain-name",
        canonical=name,
        spellings=(
            f"[domain-name:value = '{name}']",
            f"[domain-name:value='{name.upper()}.']",
            f"[ domain-name:value  =  '{name.capitalize()}' ]",
        ),
    )


def _ipv4(*, rng: random.Random, index: int) -> Observable:
    addr = str(ipaddress.IPv4Address(0x0B000000 + index * 2 + rng.randint(0, 1)))  # 11.0.0.0 on
    return Observable(
        kind="ipv4-addr",
        canonical=addr,
        spellings=(
            f"[ipv4-addr:value = '{addr}']",
            f"[ipv4-addr:value='{addr}/32']",
            f"[ ipv4-addr:value = '{addr}' ]",
        ),
    )


def _ipv6(*, rng: random.Random, index: int) -> Observable:
    addr = ipaddress.IPv6Address((0x2001_0DB8 << 96) + index)
    return Observable(
        kind="ipv6-addr",
        canonical=str(addr),
        spellings=(
            f"[ipv6-addr:value = '{addr.compressed}']",
            f"[ipv6-addr:value = '{addr.exploded.upper()}']",
            f"[ipv6-addr:value = '{addr.exploded}']",
        ),
    )


def _url(*, rng: random.Random, index: int) -> Observable:
    host = f"dl{index}.bad{rng.randint(0, 99)}.net"
    return Observable(
        kind="url",
        canonical=f"http://{host}/p/{index}",
        spellings=(
            f"[url:value = 'http://{host}/p/{index}']",
            f"[url:value = 'HTTP://{host.upper()}:80/p/{index}']",
            f"[url:value='http://{host}:80/p/{index}']",
        ),
    )


def _sha256(*, rng: random.Random, index: int) -> Observable:
    digest = f"{rng.getrandbits(256):064x}"
    return Observable(
        kind="file:hashes.SHA-256",
        canonical=digest,
        spellings=(
            f"[file:hashes.'SHA-256' = '{digest}']",
            f"[file:hashes.'SHA-256' = '{digest.upper()}']",
            f"[file:hashes.'SHA-256'='{digest}']",
        ),
    )


def _md5(*, rng: random.Random, index: int) -> Observable:
    digest = f"{rng.getrandbits(128):032x}"
    return Observable(
        kind="file:hashes.MD5",
        canonical=digest,
        spellings=(
            f"[file:hashes.MD5 = '{digest}']",
            f"[file:hashes.MD5 = '{digest.upper()}']",
            f"[file:hashes.'MD5' = '{digest}']",
        ),
    )


def _email(*, rng: random.Random, index: int) -> Observable:
    local, domain = f"ceo{index}", f"phish{rng.randint(0, 50)}.org"
    return Observable(
        kind="email-addr",
        canonical=f"{local}@{domain}",
        spellings=(
            f"[email-addr:value = '{local}@{domain}']",
            f"[email-addr:value = '{local}@{domain.upper()}']",
            f"[email-addr:value='{local}@{domain}']",
        ),
    )


_Maker = Callable[..., Observable]
_MIX: list[tuple[_Maker, int]] = [
    (_ipv4, 30),
    (_domain, 25),
    (_url, 15),
    (_sha256, 12),
    (_md5, 5),
    (_ipv6, 8),
    (_email, 5),
]


def observables(*, count: int, seed: int, offset: int = 0) -> list[Observable]:
    """`count` distinct observables in the realistic mix; distinct offsets never collide."""
    rng = random.Random(seed)
    makers = [m for m, w in _MIX for _ in range(w)]
    return [rng.choice(makers)(rng=rng, index=offset + i) for i in range(count)]


def corpus(
    *,
    partners: list[Partner],
    per_partner: int,
    overlap: float,
    seed: int,
    compound_share: float = 0.07,
    sighting_share: float = 0.03,
) -> Iterator[tuple[Partner, dict[str, Any]]]:
    """(partner, object) pairs: `overlap` of each partner's indicators share observables."""
    for partner, obj, _ in corpus_with_keys(
        partners=partners,
        per_partner=per_partner,
        overlap=overlap,
        seed=seed,
        compound_share=compound_share,
        sighting_share=sighting_share,
    ):
        yield partner, obj


def corpus_with_keys(
    *,
    partners: list[Partner],
    per_partner: int,
    overlap: float,
    seed: int,
    compound_share: float = 0.07,
    sighting_share: float = 0.03,
) -> Iterator[tuple[Partner, dict[str, Any], tuple[str, ...]]]:
    """Like corpus(), with the canonical observable keys each object's pattern names."""
    rng = random.Random(seed)
    shared = observables(count=int(per_partner * overlap), seed=seed)
    for p_index, partner in enumerate(partners):
        own = observables(
            count=per_partner - len(shared), seed=seed + p_index + 1, offset=(p_index + 1) * 10**7
        )
        for i, obs in enumerate(shared + own):
            spelling = obs.spellings[p_index % len(obs.spellings)]
            keys: tuple[str, ...] = (obs.key,)
            if rng.random() < compound_share:
                other = observables(count=1, seed=rng.getrandbits(32), offset=9 * 10**8 + i)[0]
                spelling = f"{spelling} OR {other.spellings[0]}"
                keys = (obs.key, other.key)
            name = f"ind-{i}"
            obj = random_indicator(partner=partner, pattern=spelling, name=name, rng=rng)
            yield partner, obj, keys
            if rng.random() < sighting_share:
                seen = sighting(
                    name=partner.id + name, sighting_of_ref=obj["id"], count=rng.randint(1, 20)
                )
                yield partner, seen, ()


def fresh_indicators(
    *, partner: Partner, count: int, seed: int, tag: str, block: int = 0
) -> list[tuple[dict[str, Any], tuple[str, ...]]]:
    """Indicators whose observables appear nowhere in the corpus, with their keys.

    Each `block` (0, 1, ...) is a range of observables of its own, so runs never overlap.
    """
    rng = random.Random(seed)
    made: list[tuple[dict[str, Any], tuple[str, ...]]] = []
    offset = (5 + block) * 10**8
    for i, obs in enumerate(observables(count=count, seed=seed + block, offset=offset)):
        name = f"{tag}-{i}"
        obj = random_indicator(partner=partner, pattern=obs.spellings[0], name=name, rng=rng)
        made.append((obj, (obs.key,)))
    return made
