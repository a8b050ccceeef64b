"""What a team may read of an incident: its own partner's evidence in full, others' only
within its clearance and the TAXII rule; the rest is a count per TLP label, nothing more."""

from __future__ import annotations

from igsc.partners import Partner
from igsc.respond_settings import EvidenceKind, Team
from igsc.visibility import reader_for
from respond.model import EvidenceItem, Incident, IncidentStatus
from respond.visibility import team_may_see, team_view

REGISTRY = (
    Partner(id="cert-a", name="A", country="LV", sharing_groups=("baltic",)),
    Partner(
        id="cert-b",
        name="B",
        country="DE",
        sharing_groups=("eu",),
        amber_to_sharing_groups=True,
    ),
    Partner(id="cert-c", name="C", country="FR", sharing_groups=("eu",)),
    Partner(id="cert-d", name="D", country="NL"),
)


def team(partner: str, *, clearance: str = "amber", country: str = "DE") -> Team:
    return Team(id=f"t-{partner}", country=country, partner=partner, clearance=clearance)


def item(
    partner: str,
    tlp: str,
    *,
    country: str = "DE",
    at: str = "2026-11-30T10:00:00Z",
    kind: EvidenceKind = EvidenceKind.REPORT,
    ref: str = "",
) -> EvidenceItem:
    return EvidenceItem(
        kind=kind,
        ref=ref or f"indicator--{partner}-{tlp}",
        partner=partner,
        country=country,
        tlp=tlp,
        at=at,
    )


def sees(viewer: Team, evidence: EvidenceItem) -> bool:
    partner = next(p for p in REGISTRY if p.id == viewer.partner)
    reader = reader_for(partner=partner, registry=REGISTRY)
    return team_may_see(team=viewer, item=evidence, reader=reader)


def incident(
    *evidence: EvidenceItem,
    opened_at: str = "2026-11-30T10:00:00Z",
    updated_at: str = "2026-11-30T10:00:00Z",
) -> Incident:
    return Incident(
        id="incident--1",
        rule="cross-border",
        playbook="p",
        title="Cross-border",
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
        opened_at=opened_at,
        updated_at=updated_at,
        evidence=evidence,
        timeline=(),
        version=1,
    )


def test_a_team_reads_its_own_partners_red_even_with_a_green_clearance() -> None:
    assert sees(team("cert-a", clearance="green"), item("cert-a", "red"))


def test_amber_shared_with_sharing_groups_reaches_a_group_peer_but_not_an_outsider() -> None:
    amber = item("cert-b", "amber")
    assert sees(team("cert-c"), amber)
    assert not sees(team("cert-d", clearance="red"), amber)


def test_a_team_cleared_for_green_sees_no_amber_even_from_a_sharing_peer() -> None:
    assert not sees(team("cert-c", clearance="green"), item("cert-b", "amber"))
    assert sees(team("cert-c", clearance="green"), item("cert-b", "green"))


def test_amber_of_a_partner_that_does_not_share_it_stays_with_that_partner() -> None:
    assert not sees(team("cert-b"), item("cert-c", "amber"))


def test_red_and_amber_strict_of_others_stay_hidden_whatever_the_clearance() -> None:
    cleared = team("cert-c", clearance="red")
    assert not sees(cleared, item("cert-b", "red"))
    assert not sees(cleared, item("cert-b", "amber+strict"))


def test_an_unknown_tlp_label_counts_as_red() -> None:
    odd = item("cert-b", "purple")
    assert not sees(team("cert-c", clearance="red"), odd)
    assert sees(team("cert-b", clearance="clear"), odd)
    view = team_view(incident=incident(odd), team=team("cert-c"), registry=REGISTRY)
    assert view.withheld == (("red", 1),)


def test_withheld_evidence_is_counted_per_label_and_reveals_nothing_else() -> None:
    secret_time = "2026-11-30T12:13:14Z"
    evidence = (
        item("cert-b", "green", country="DE"),
        item("cert-a", "red", country="LV", at=secret_time, ref="indicator--secret-red"),
        item(
            "cert-a",
            "amber+strict",
            country="LV",
            at=secret_time,
            kind=EvidenceKind.SIGHTING,
            ref="sighting--secret-strict",
        ),
        item("cert-d", "red", country="NL", at=secret_time, ref="indicator--secret-nl"),
    )
    view = team_view(
        incident=incident(*evidence, updated_at=secret_time),
        team=team("cert-c"),
        registry=REGISTRY,
    )
    assert view.withheld == (("amber+strict", 1), ("red", 2))
    assert view.withheld_by_kind == (("report", "red", 2), ("sighting", "amber+strict", 1))
    assert view.visible_countries == ("DE",)
    assert view.visible_partners == ("cert-b",)
    assert view.updated_at == "(withheld)"  # the latest evidence was withheld: so is its time
    shown = repr(view)
    for hidden in ("cert-a", "cert-d", "LV", "NL", secret_time, "secret"):
        assert hidden not in shown


def test_the_subject_is_named_only_when_some_evidence_is_visible() -> None:
    shown = team_view(
        incident=incident(item("cert-b", "green")), team=team("cert-d"), registry=REGISTRY
    )
    hidden = team_view(
        incident=incident(item("cert-b", "red")), team=team("cert-d"), registry=REGISTRY
    )
    assert shown.subject_label == "evil.example"
    assert hidden.subject_label == "(withheld)"
    assert hidden.visible == ()
