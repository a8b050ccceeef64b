"""TLP 1.0/2.0 visibility: who may read an object, stored as tokens the index filters on.

CLEAR/WHITE and GREEN: everyone with read access ("*"). AMBER: the publisher, plus partners
sharing a sharing group with it when it set amber_to_sharing_groups ("amber:<publisher>",
resolved against the current partner registry at read time). AMBER+STRICT and RED: only
the publisher. Unknown markings count as RED (igsc.tlp).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from igsc.partners import Partner
from igsc.tlp import TLP_BY_NAME, Tlp

EVERYONE = "*"


def amber_token(publisher: str) -> str:
    """The token that lets a publisher's sharing-group peers read its TLP:AMBER."""
    return f"amber:{publisher}"


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
