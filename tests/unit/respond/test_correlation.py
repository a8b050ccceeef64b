"""Rules over evidence: exact distinct counts in a true sliding window, and incidents that
open once, update with later evidence, fall below the threshold and start a new epoch only
after they were resolved."""

from __future__ import annotations

import uuid
from typing import Any

from igsc.respond_settings import Rule
from igsc.stix_time import format_us, instant_ns
from respond.evidence import RuleScope
from respond.incidents import Findings, next_incident
from respond.model import IncidentStatus, TimelineEvent, incident_id
from respond.window import first_crossing

HOUR = 3600
T0 = "2026-11-30T10:00:00Z"


def at(hours: float) -> str:
    return format_us(instant_ns(T0) // 1000 + int(hours * HOUR * 1_000_000))


def rule(**overrides: Any) -> Rule:
    values: dict[str, Any] = {
        "id": "cross-border",
        "distinct": "country",
        "at_least": 3,
        "within": "24h",
        "playbook": "p",
        "severity": "high",
    }
    values.update(overrides)
    return Rule(**values)


def source(partner: str, country: str, hours: float, **extra: Any) -> dict[str, Any]:
    return {
        "partner": partner,
        "country": country,
        "stix_id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'{partner}/{hours}')}",
        "version": at(hours),
        "received_at": at(hours),
        "tlp": "green",
        "confidence": 80,
        "status": "active",
        **extra,
    }


def doc(*sources: dict[str, Any], sightings: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    countries = sorted({s["country"] for s in sources if s.get("status", "active") == "active"})
    return {
        "key": "domain-name|evil.example",
        "kind": "domain-name",
        "value": "evil.example",
        "score": 70.0,
        "countries": countries,
        "partner_count": len({s["partner"] for s in sources}),
        "sources": list(sources),
        "sightings": list(sightings),
        "techniques": [],
        "tactics": [],
    }


def findings(r: Rule, d: dict[str, Any]) -> Findings:
    scope = RuleScope.of(rule=r, critical_sectors=("energy",))
    return Findings(
        rule=r,
        subject=d["key"],
        subject_kind="observable",
        score=d["score"],
        evidence=scope.evidence(doc=d),
        newest_us=max(instant_ns(s["received_at"]) // 1000 for s in d["sources"]),
    )


def evidence_of(r: Rule, d: dict[str, Any]) -> Any:
    return RuleScope.of(rule=r, critical_sectors=()).evidence(doc=d)


def test_three_countries_within_the_window_cross_at_the_third_report() -> None:
    d = doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 5), source("cert-it", "IT", 23))
    crossing = first_crossing(
        evidence=evidence_of(rule(), d), distinct="country", at_least=3, within_s=24 * HOUR
    )
    assert crossing is not None
    assert format_us(crossing.crossed_at_us) == at(23)
    assert crossing.best_count == 3


def test_the_window_slides_instead_of_resetting() -> None:
    # Fixed 24 h buckets would hold DE, FR and ES, IT: two each. FR at 22, ES at 43 and
    # IT at 45 lie within 24 h of each other: a true sliding window finds them.
    d = doc(
        source("cert-de", "DE", 0),
        source("cert-fr", "FR", 22),
        source("cert-es", "ES", 43),
        source("cert-it", "IT", 45),
    )
    crossing = first_crossing(
        evidence=evidence_of(rule(), d), distinct="country", at_least=3, within_s=24 * HOUR
    )
    assert crossing is not None and format_us(crossing.crossed_at_us) == at(45)


def test_a_window_exactly_as_long_as_within_does_not_hold_both_ends() -> None:
    d = doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 12), source("cert-it", "IT", 24))
    assert (
        first_crossing(
            evidence=evidence_of(rule(), d), distinct="country", at_least=3, within_s=24 * HOUR
        )
        is None
    )


def test_two_partners_of_one_country_count_once_for_country_and_twice_for_partner() -> None:
    d = doc(source("cert-de", "DE", 0), source("bsi-lab", "DE", 1))
    ev = evidence_of(rule(), d)
    assert first_crossing(evidence=ev, distinct="country", at_least=2, within_s=HOUR * 24) is None
    assert (
        first_crossing(evidence=ev, distinct="partner", at_least=2, within_s=HOUR * 24) is not None
    )


def test_evidence_above_max_tlp_and_withdrawn_reports_are_not_counted() -> None:
    d = doc(
        source("cert-de", "DE", 0),
        source("cert-fr", "FR", 1, tlp="red"),
        source("cert-it", "IT", 2, status="revoked"),
        source("cert-es", "ES", 3, status="expired"),
    )
    ev = evidence_of(rule(where={"max_tlp": "amber"}), d)
    assert [t.item.country for t in ev] == ["DE"]


def test_a_sighting_counts_at_its_last_seen_once_per_country_and_only_on_its_sectors() -> None:
    sighting = {
        "sighting_id": "sighting--11111111-1111-4111-8111-111111111111",
        "partner": "cert-fr",
        "countries": ["FR", "BE"],
        "count": 4,
        "first_seen": at(1),
        "last_seen": at(2),
        "received_at": at(30),
        "tlp": "green",
        "sectors": ["energy"],
    }
    d = doc(source("cert-de", "DE", 0), sightings=(sighting,))
    ev = evidence_of(rule(), d)
    assert [(t.item.kind.value, t.item.country, t.item.at) for t in ev] == [
        ("report", "DE", at(0)),
        ("sighting", "BE", at(2)),
        ("sighting", "FR", at(2)),
    ]
    only_health = RuleScope.of(
        rule=rule(where={"sighted_sectors": ["healthcare"]}), critical_sectors=()
    ).evidence(doc=d)
    assert [t.item.kind.value for t in only_health] == ["report"]
    critical = RuleScope.of(
        rule=rule(where={"sighted_sectors": ["critical"]}), critical_sectors=("energy",)
    ).evidence(doc=d)
    assert len(critical) == 3


def test_one_incident_opens_with_a_stable_id_and_a_fourth_country_updates_it() -> None:
    r = rule()
    three = doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2))
    opened = next_incident(previous=None, found=findings(r, three), resolved_at=None)
    assert opened is not None
    assert opened.id == incident_id(
        rule="cross-border", subject="domain-name|evil.example", epoch=1
    )
    assert opened.countries == ("DE", "FR", "IT")
    assert opened.opened_at == at(2) and opened.status is IncidentStatus.OPEN
    assert next_incident(previous=opened, found=findings(r, three), resolved_at=None) is opened

    four = doc(*three["sources"], source("cert-es", "ES", 30))
    updated = next_incident(previous=opened, found=findings(r, four), resolved_at=None)
    assert updated is not None and updated.id == opened.id
    assert updated.countries == ("DE", "ES", "FR", "IT")
    assert updated.version == opened.version + 1
    assert updated.timeline[-1].event is TimelineEvent.EVIDENCE
    assert updated.timeline[-1].values == ("ES",)
    assert updated.opened_at == opened.opened_at


def test_all_at_once_gives_the_same_incident_as_one_by_one_apart_from_versions() -> None:
    r = rule()
    three = doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2))
    four = doc(*three["sources"], source("cert-es", "ES", 3))
    stepwise = next_incident(
        previous=next_incident(previous=None, found=findings(r, three), resolved_at=None),
        found=findings(r, four),
        resolved_at=None,
    )
    at_once = next_incident(previous=None, found=findings(r, four), resolved_at=None)
    assert stepwise is not None and at_once is not None
    assert stepwise.evidence == at_once.evidence
    assert stepwise.countries == at_once.countries
    assert [e.values for e in stepwise.timeline] == [e.values for e in at_once.timeline]


def test_a_revoked_report_drops_the_incident_below_its_threshold_and_back() -> None:
    r = rule()
    live = [source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2)]
    opened = next_incident(previous=None, found=findings(r, doc(*live)), resolved_at=None)
    revoked = [*live[:2], {**live[2], "status": "revoked", "received_at": at(5)}]
    below = next_incident(previous=opened, found=findings(r, doc(*revoked)), resolved_at=None)
    assert below is not None and below.status is IncidentStatus.BELOW_THRESHOLD
    assert below.countries == ("DE", "FR")
    assert below.timeline[-1].event is TimelineEvent.BELOW_THRESHOLD
    assert below.timeline[-1].at == at(5)
    back = [*revoked, source("cert-es", "ES", 6)]
    again = next_incident(previous=below, found=findings(r, doc(*back)), resolved_at=None)
    assert again is not None and again.status is IncidentStatus.OPEN and again.id == opened.id


def test_a_new_epoch_starts_only_after_resolution_and_only_with_new_evidence() -> None:
    r = rule()
    three = doc(source("cert-de", "DE", 0), source("cert-fr", "FR", 1), source("cert-it", "IT", 2))
    opened = next_incident(previous=None, found=findings(r, three), resolved_at=None)
    assert opened is not None
    resolved = next_incident(previous=opened, found=findings(r, three), resolved_at=at(10))
    assert resolved is not None and resolved.status is IncidentStatus.RESOLVED
    assert (
        next_incident(previous=resolved, found=findings(r, three), resolved_at=at(10)) is resolved
    )
    later = doc(
        *three["sources"],
        source("cert-de", "DE", 11),
        source("cert-fr", "FR", 12),
        source("cert-es", "ES", 13),
    )
    second = next_incident(previous=resolved, found=findings(r, later), resolved_at=at(10))
    assert second is not None and second.epoch == 2
    assert second.id == incident_id(rule=r.id, subject="domain-name|evil.example", epoch=2)
    assert second.countries == ("DE", "ES", "FR")
    assert second.epoch_start == at(10)
