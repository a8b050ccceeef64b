"""Analyst lookup: one observable as typed → its canonical key(s) → the indicator document.

Every indexed document's id is its canonical key "{kind}|{value}", so a lookup is a GET by id,
not a search. The text goes through the pipeline's own canonicalisation (observable_of over a
`kind:path = 'text'` comparison), so any spelling the pipeline merges finds the same document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from enrich.enrichers.score import decayed_score
from enrich.merged_records import MergedRecords
from enrich.observables import observable_of
from enrich.pattern_model import STAR, Step, make_comparison, unescape
from enrich.schema import INDICATORS
from igsc.errors import RejectedInput
from igsc.ports import Index
from igsc.tlp import TLP_BY_NAME, Tlp

# Hex digests by algorithm, most common first: a digest of an ambiguous length (40, 56, 64,
# 96, 128) is tried as each algorithm of that length in this order, the first hit wins.
_HEX_ALGORITHMS = (
    "MD5",
    "SHA-1",
    "SHA-256",
    "SHA-512",
    "SHA-224",
    "SHA-384",
    "RIPEMD-160",
    "SHA3-256",
    "SHA3-512",
    "SHA3-224",
    "SHA3-384",
    "WHIRLPOOL",
)
_HEX_LENGTHS = frozenset((32, 40, 56, 64, 96, 128))
_HEX = re.compile(r"[0-9A-Fa-f]+")
_IPV4_LIKE = re.compile(r"[0-9./]+")
# "object_type:path" as Observable.key writes it (path keys bare or quoted, [n] and [*]).
_KIND = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)(?::([A-Za-z0-9_'\[][^|]*))?")
_PATH_STEP = re.compile(r"\.?(?:([A-Za-z0-9_-]+)|('(?:[^'\\]|\\['\\])*'))|\[(\*|[0-9]+)\]")
_UNKNOWN = "not an IP address, domain, URL, e-mail address, hash or kind|value key"


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The keys a lookup tried, in order, and the first one found with its document."""

    text: str
    candidates: tuple[str, ...]
    key: str | None = None
    document: Mapping[str, Any] | None = None
    withheld: bool = False  # indexed, but marked above the reader's clearance

    @property
    def found(self) -> bool:
        """Whether any candidate key is indexed."""
        return self.document is not None


def lookup_observable(
    *,
    index: Index,
    text: str,
    clearance: Tlp,
    half_life_days: float,
    records: MergedRecords | None = None,
    now: datetime | None = None,
) -> LookupResult:
    """The indicator document of an observable as an analyst types it (one read per candidate).

    With `records`, documents come from the dedup state, the record of truth the index is
    written from (fresher, and untouched by the indexing load); without, from the index. A
    document is withheld unless every source and every sighting behind it is marked at or
    below `clearance` (all their levels are in `source_tlps`): its merged fields (countries,
    partners, sighting count, score, description...) carry the facts of each of them.

    The document comes with `decayed_score`: its stored score halved every `half_life_days`
    since its `last_seen`, at `now` (the wall clock unless given); stored scores never decay.
    """
    candidates = candidate_keys(text=text)
    for key in candidates:
        if records is not None:
            document = records.document(key=key)
        else:
            document = index.get(schema=INDICATORS, doc_id=key)
        if document is None:
            continue
        if highest_tlp(document) > clearance:
            return LookupResult(text=text, candidates=candidates, key=key, withheld=True)
        decayed = with_decayed_score(
            document=document, now=now or datetime.now(UTC), half_life_days=half_life_days
        )
        return LookupResult(text=text, candidates=candidates, key=key, document=decayed)
    return LookupResult(text=text, candidates=candidates)


def with_decayed_score(
    *, document: Mapping[str, Any], now: datetime, half_life_days: float
) -> dict[str, Any]:
    """The document with `decayed_score`, its score decayed by age since its last_seen."""
    last_seen = document.get("last_seen")
    score = decayed_score(
        score=float(document.get("score") or 0.0),
        last_seen=last_seen if isinstance(last_seen, str) else None,
        now=now,
        half_life_days=half_life_days,
    )
    return {**document, "decayed_score": round(score, 3)}


def highest_tlp(document: Mapping[str, Any]) -> Tlp:
    """The most restrictive marking among a document's sources and sightings (its
    `source_tlps`); RED if unknown or none."""
    levels = [TLP_BY_NAME.get(str(t), Tlp.RED) for t in document.get("source_tlps") or ()]
    return max(levels, default=Tlp.RED)


def candidate_keys(*, text: str) -> tuple[str, ...]:
    """Canonical keys the text may name, most likely first; RejectedInput if it names none."""
    typed = text.strip()
    if not typed:
        raise RejectedInput("nothing to look up: the text is empty")
    explicit = _explicit_key(typed)
    if explicit is not None:
        return (explicit,)
    if "://" in typed:
        return (_key("url", ("value",), typed),)
    if "@" in typed:
        return (_key("email-addr", ("value",), typed),)
    if len(typed) in _HEX_LENGTHS and _HEX.fullmatch(typed):
        return _hash_keys(typed)
    if ":" in typed or _IPV4_LIKE.fullmatch(typed):
        return (_address_key(typed),)
    return (_typed_key("mac-addr", typed) or _key("domain-name", ("value",), typed, _UNKNOWN),)


def _explicit_key(typed: str) -> str | None:
    """The canonical key of "kind|value" text, or None if the text before '|' is no kind."""
    head, bar, value = typed.partition("|")
    kind = _KIND.fullmatch(head) if bar else None
    if kind is None:
        return None
    object_type, path = kind.groups()
    if path is not None:
        return _key(object_type, _path_steps(path, head), value)
    # A bare kind ("domain-name") is one the pipeline writes for `type:value` comparisons;
    # only those types canonicalise, so only they can reject the value.
    key = _key(object_type, ("value",), value)
    return key if key.startswith(f"{head}|") else None


def _key(object_type: str, steps: tuple[Step, ...], value: str, reason: str = "") -> str:
    """The pipeline's key for `object_type:steps = value`; RejectedInput prefixed by reason."""
    try:
        comparison = make_comparison(
            object_type=object_type, steps=steps, operator="=", value=value
        )
        return observable_of(comparison=comparison, value=value).key
    except RejectedInput as exc:
        if not reason:
            raise
        raise RejectedInput(reason, detail=f"{value[:120]!r}: {exc.reason}") from None


def _typed_key(object_type: str, value: str) -> str | None:
    try:
        return _key(object_type, ("value",), value)
    except RejectedInput:
        return None


def _address_key(typed: str) -> str:
    """An IP address or network, else a MAC address (aa:bb:.. or aabb.ccdd.eeff)."""
    ip_kind = "ipv6-addr" if ":" in typed else "ipv4-addr"
    found = _typed_key(ip_kind, typed) or _typed_key("mac-addr", typed)
    if found is None:
        raise RejectedInput("not an IP or MAC address", detail=repr(typed[:160]))
    return found


def _hash_keys(digest: str) -> tuple[str, ...]:
    """A file hash key per algorithm whose digests have this length."""
    keys: list[str] = []
    for algorithm in _HEX_ALGORITHMS:
        try:
            keys.append(_key("file", ("hashes", algorithm), digest))
        except RejectedInput:
            continue  # another length: not this algorithm
    return tuple(keys)


def _path_steps(path: str, kind: str) -> tuple[Step, ...]:
    """The steps of a kind's path as Observable.key renders them (render_path inverted)."""
    steps: list[Step] = []
    pos = 0
    while pos < len(path):
        match = _PATH_STEP.match(path, pos)
        if match is None or (pos == 0 and path.startswith(".")):
            raise RejectedInput("key has a malformed kind", detail=repr(kind[:160]))
        bare, quoted, index = match.groups()
        if index is not None:
            steps.append(STAR if index == "*" else int(index))
        else:
            steps.append(bare if bare is not None else unescape(literal=quoted))
        pos = match.end()
    return tuple(steps)
