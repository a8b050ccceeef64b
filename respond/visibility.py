"""What one on-call team may read of one incident.

A team reads its own partner's evidence in full (its RED too). Anyone else's evidence it
reads only if the level is within the team's clearance AND the TAXII server would let the
team's partner read it (igsc.visibility: AMBER only from sharing-group peers that share it,
AMBER+STRICT and RED never). Withheld evidence is reduced to a count per TLP label and kind:
no content, partner, country, STIX id, time or sector leaves this module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from igsc.errors import ConfigError
from igsc.partners import Partner
from igsc.respond_settings import EvidenceKind, Team
from igsc.tlp import TLP_BY_NAME, Tlp
from igsc.visibility import Reader, reader_for
from respond.model import EvidenceItem, Incident

WITHHELD = "(withheld)"


def tlp_level(label: str) -> Tlp:
    """The level of a TLP label; a label nobody recognises is RED."""
    return TLP_BY_NAME.get(label.lower(), Tlp.RED)


def tlp_label(label: str) -> str:
    """The canonical label of a TLP label ('white' reads 'clear', unknown reads 'red')."""
    return tlp_level(label).label


def team_may_see(*, team: Team, item: EvidenceItem, reader: Reader) -> bool:
    """Whether the team may read this evidence item; `reader` is its partner's reader."""
    if item.partner == team.partner:
        return True
    level = tlp_level(item.tlp)
    if level > TLP_BY_NAME[team.clearance]:
        return False
    return reader.may_see(level=level, publisher=item.partner)


def team_reader(*, team: Team, registry: Sequence[Partner]) -> Reader:
    """The TAXII reader of the team's partner, with the AMBER of peers that share it."""
    for partner in registry:
        if partner.id == team.partner:
            return reader_for(partner=partner, registry=registry)
    # igsc.settings checks this reference; reaching here means a registry out of step.
    raise ConfigError(f"teams[{team.id}].partner", f"partner {team.partner!r} is not configured")


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamView:
    """One incident as one team may read it."""

    visible: tuple[EvidenceItem, ...]
    withheld: tuple[tuple[str, int], ...]  # (TLP label, items withheld), least restrictive first
    withheld_by_kind: tuple[tuple[str, str, int], ...]  # (kind, TLP label, items withheld)
    visible_countries: tuple[str, ...]
    visible_partners: tuple[str, ...]
    subject_label: str  # the subject's value, or "(withheld)" when nothing is visible
    # The incident's times, unless one is only the time of withheld evidence: then "(withheld)"
    # (the RED report that crossed the threshold must not be dated through opened_at).
    opened_at: str
    updated_at: str

    @property
    def withheld_total(self) -> int:
        """How many evidence items the team may not read."""
        return sum(count for _, count in self.withheld)


def subject_value(subject: str) -> str:
    """The value of a canonical key ('evil.example' of 'domain-name|evil.example')."""
    kind, sep, value = subject.partition("|")
    return value if sep else kind


def withheld_lines(view: TeamView) -> tuple[str, ...]:
    """'2 further reports under TLP:RED', one line per kind and label."""
    lines = []
    for kind, label, count in view.withheld_by_kind:
        noun = "sighting" if kind == EvidenceKind.SIGHTING else "report"
        plural = "" if count == 1 else "s"
        lines.append(f"{count} further {noun}{plural} under TLP:{label.upper()}")
    return tuple(lines)


def team_view(*, incident: Incident, team: Team, registry: Sequence[Partner]) -> TeamView:
    """What the team may read of the incident's evidence, and counts of the rest."""
    reader = team_reader(team=team, registry=registry)
    visible: list[EvidenceItem] = []
    withheld: list[EvidenceItem] = []
    for item in incident.evidence:
        (visible if team_may_see(team=team, item=item, reader=reader) else withheld).append(item)
    by_label = Counter(tlp_label(item.tlp) for item in withheld)
    by_kind = Counter((str(item.kind), tlp_label(item.tlp)) for item in withheld)
    order = {level.label: int(level) for level in Tlp}
    seen_times = {item.at for item in visible}
    hidden_times = {item.at for item in withheld} - seen_times

    def safe(at: str) -> str:
        return WITHHELD if at in hidden_times else at

    return TeamView(
        visible=tuple(visible),
        withheld=tuple(sorted(by_label.items(), key=lambda kv: order[kv[0]])),
        withheld_by_kind=tuple(
            (kind, label, count)
            for (kind, label), count in sorted(
                by_kind.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])
            )
        ),
        visible_countries=tuple(sorted({item.country for item in visible})),
        visible_partners=tuple(sorted({item.partner for item in visible})),
        subject_label=subject_value(incident.subject) if visible else WITHHELD,
        opened_at=safe(incident.opened_at),
        updated_at=safe(incident.updated_at),
    )
