"""Which on-call teams get a ticket for an incident: those of the affected countries."""

from __future__ import annotations

from collections.abc import Sequence

from igsc.respond_settings import Team
from respond.model import Incident


def teams_for(*, incident: Incident, teams: Sequence[Team]) -> tuple[Team, ...]:
    """The teams of the incident's countries, sorted by id.

    A team limited to some sectors (a sector CSIRT) gets the incident only if some evidence
    was sighted at an identity in one of them; reports carry no sector, so they never do."""
    countries = set(incident.countries)
    sighted = {sector for item in incident.evidence for sector in item.sectors}
    chosen = [
        team
        for team in teams
        if team.country in countries and (not team.sectors or sighted & set(team.sectors))
    ]
    return tuple(sorted(chosen, key=lambda team: team.id))
