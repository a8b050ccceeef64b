"""TLP 1.0/2.0 visibility: who may read an object, stored as tokens the index filters on.

CLEAR/WHITE and GREEN: everyone with read access ("*"). AMBER: the publisher, plus partners
sharing a sharing group with it when it set amber_to_sharing_groups ("amber:<publisher>",
resolved against the current partner registry at read time). AMBER+STRICT and RED: only
the publisher. Unknown markings count as RED (igsc.tlp).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from igsc.partners import Partner
from igsc.tlp import TLP_BY_NAME, TLP_MARKING_IDS, Tlp, resolve_tlp

EVERYONE = "*"
# Granular markings on these fields mark the object's identity and version, which every
# read path (manifest, versions, headers) exposes, so they count as object-level markings.
IDENTITY_FIELDS = frozenset({"id", "type", "spec_version", "created", "modified"})


def amber_token(publisher: str) -> str:
    """The token that lets a publisher's sharing-group peers read its TLP:AMBER."""
    return f"amber:{publisher}"


def _identity_marking_refs(obj: Mapping[str, Any]) -> list[str]:
    refs: list[str] = []
    for marking in obj.get("granular_markings") or ():
        ref = marking.get("marking_ref")
        selectors = marking.get("selectors") or ()
        if isinstance(ref, str) and any(s in IDENTITY_FIELDS for s in selectors):
            refs.append(ref)
    return refs


def object_tlp(obj: Mapping[str, Any], *, default: Tlp) -> Tlp:
    """The object's TLP: most restrictive object marking, or the publisher's default."""
    if obj.get("id") in TLP_MARKING_IDS:
        return Tlp.CLEAR  # the public TLP marking definitions themselves
    level = resolve_tlp(obj.get("object_marking_refs") or (), default=default)
    identity = _identity_marking_refs(obj)
    return max(level, resolve_tlp(identity, default=Tlp.CLEAR)) if identity else level


def visible_to(*, publisher: str, level: Tlp) -> list[str]:
    """Tokens of the readers allowed to see an object of this level from this publisher."""
    if level <= Tlp.GREEN:
        return [publisher, EVERYONE]
    if level == Tlp.AMBER:
        return [publisher, amber_token(publisher)]
    return [publisher]


@dataclass(frozen=True, slots=True)
class Reader:
    """A partner reading the feed, with the visibility tokens it holds."""

    partner_id: str
    tokens: tuple[str, ...]

    def may_see(self, *, level: Tlp, publisher: str) -> bool:
        """True if this reader is cleared for content of this level from this publisher."""
        if level <= Tlp.GREEN or publisher == self.partner_id:
            return True
        return level == Tlp.AMBER and amber_token(publisher) in self.tokens


def reader_for(*, partner: Partner, registry: Sequence[Partner]) -> Reader:
    """The reader's tokens: itself, everyone, and AMBER of group peers that share it."""
    groups = set(partner.sharing_groups)
    tokens = [partner.id, EVERYONE]
    for other in registry:
        if (
            other.id != partner.id
            and other.amber_to_sharing_groups
            and groups & set(other.sharing_groups)
        ):
            tokens.append(amber_token(other.id))
    return Reader(partner_id=partner.id, tokens=tuple(tokens))


def default_tlp(partner: Partner) -> Tlp:
    """The level given to the partner's objects that carry no TLP marking."""
    return TLP_BY_NAME[partner.default_tlp]
