"""One ticket per affected country's team; sector desks only for sightings in their sector."""

from __future__ import annotations

from igsc.respond_settings import EvidenceKind, Team
from respond.model import EvidenceItem, Incident, IncidentStatus
from respond.routing import teams_for


def incident(*evidence: EvidenceItem) -> Incident:
    return Incident(
        id="incident--1",
        rule="r",
        playbook="p",
        title="t",
        severity="high",
        subject="domain-name|evil.example",
        subject_kind="observable",
        epoch=1,
        status=IncidentStatus.OPEN,
        distinct="country",
        threshold=2,
        window_s=86_400,
        distinct_count=len({e.country for e in evidence}),
        countries=tuple(sorted({e.country for e in evidence})),
        partners=tuple(sorted({e.partner for e in evidence})),
        score=50.0,
        opened_at="2026-11-30T10:00:00Z",
        updated_at="2026-11-30T10:00:00Z",
        evidence=evidence,
        timeline=(),
        version=1,
    )


def report(country: str) -> EvidenceItem:
    return EvidenceItem(
        kind=EvidenceKind.REPORT,
        ref=f"indicator--{country}",
        partner=f"cert-{country.lower()}",
        country=country,
        tlp="green",
        at="2026-11-30T10:00:00Z",
    )


def sighting(country: str, *sectors: str) -> EvidenceItem:
    return EvidenceItem(
        kind=EvidenceKind.SIGHTING,
        ref=f"sighting--{country}",
        partner=f"cert-{country.lower()}",
        country=country,
        tlp="green",
        at="2026-11-30T10:00:00Z",
        sectors=sectors,
    )


def team(team_id: str, country: str, *sectors: str) -> Team:
    return Team(id=team_id, country=country, partner=f"cert-{country.lower()}", sectors=sectors)


TEAMS = (
    team("fr-oncall", "FR"),
    team("de-oncall", "DE"),
    team("nl-oncall", "NL"),
    team("de-energy", "DE", "energy"),
)


def ids(chosen: tuple[Team, ...]) -> list[str]:
    return [t.id for t in chosen]


def test_the_teams_of_the_affected_countries_get_the_incident_sorted_by_id() -> None:
    chosen = teams_for(incident=incident(report("FR"), report("DE")), teams=TEAMS)
    assert ids(chosen) == ["de-oncall", "fr-oncall"]


def test_a_sector_desk_gets_the_incident_only_when_its_sector_was_sighted() -> None:
    plain = teams_for(incident=incident(report("DE"), sighting("FR", "water")), teams=TEAMS)
    energy = teams_for(incident=incident(report("DE"), sighting("FR", "energy")), teams=TEAMS)
    assert "de-energy" not in ids(plain)
    assert ids(energy) == ["de-energy", "de-oncall", "fr-oncall"]


def test_no_team_of_an_affected_country_means_no_ticket() -> None:
    assert teams_for(incident=incident(report("PL"), report("CZ")), teams=TEAMS) == ()
