"""Tickets rendered from playbooks: redacted for the team, escaped in HTML, sandboxed,
checked at start-up, deterministic, with due times that add up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

import igsc
from igsc.errors import ConfigError
from igsc.partners import Partner
from igsc.respond_settings import EvidenceKind, Playbook, Rule, Team
from igsc.settings import load_settings
from respond.model import (
    EvidenceItem,
    Incident,
    IncidentStatus,
    RenderedTicket,
    Ticket,
    TicketState,
)
from respond.render import CompiledPlaybooks, compile_playbooks, render_escalation

RED_TIME = "2026-11-30T12:13:14Z"
RED_REF = "indicator--7d3f6b52-0a8e-4c47-9d61-5e2b1c9a0f13"
CREATED = "2026-11-30T13:00:00Z"

REGISTRY = (
    Partner(id="cert-lv", name="A", country="LV"),
    Partner(
        id="cert-de", name="B", country="DE", sharing_groups=("eu",), amber_to_sharing_groups=True
    ),
    Partner(id="cert-fr", name="C", country="FR", sharing_groups=("eu",)),
)
DE = Team(id="de-oncall", country="DE", partner="cert-de", clearance="amber")
FR = Team(id="fr-oncall", country="FR", partner="cert-fr", clearance="amber")
LV = Team(id="lv-oncall", country="LV", partner="cert-lv", clearance="amber")
RULE = Rule(
    id="cross-border",
    title="Cross-border campaign",
    at_least=3,
    within="24h",
    playbook="p",
    severity="high",
)


def playbook(*texts: str, due: tuple[str, ...] = ("30m", "2h", "1d"), **extra: Any) -> Playbook:
    steps = [{"title": f"Step {n}", "due_in": due[n], "text": text} for n, text in enumerate(texts)]
    return Playbook(id="p", title="P", steps=steps, **extra)


PLAYBOOK = playbook(
    "Check {{ incident.subject_label }}.{% for e in evidence %} {{ e.partner }}/{{ e.ref }}"
    "{% endfor %}",
    "Block it; {{ withheld | join('; ') or 'nothing withheld' }}.",
    due=("30m", "2h"),
    summary="Seen in {{ incident.countries | join(', ') }} by {{ incident.partners | join(', ') }}",
)


def incident(*, subject: str = "domain-name|evil.example", distinct_count: int = 3) -> Incident:
    evidence = (
        EvidenceItem(
            kind=EvidenceKind.REPORT,
            ref="indicator--de",
            partner="cert-de",
            country="DE",
            tlp="amber",
            at="2026-11-30T10:00:00Z",
        ),
        EvidenceItem(
            kind=EvidenceKind.SIGHTING,
            ref="sighting--fr",
            partner="cert-fr",
            country="FR",
            tlp="green",
            at="2026-11-30T11:00:00Z",
            count=4,
        ),
        EvidenceItem(
            kind=EvidenceKind.REPORT,
            ref=RED_REF,
            partner="cert-lv",
            country="LV",
            tlp="red",
            at=RED_TIME,
        ),
    )
    return Incident(
        id="incident--0b6f1f8e-6a52-5d0b-9c3e-2f4d7a8b9c01",
        rule="cross-border",
        playbook="p",
        title="Cross-border campaign",
        severity="high",
        subject=subject,
        subject_kind="observable",
        epoch=1,
        status=IncidentStatus.OPEN,
        distinct="country",
        threshold=3,
        window_s=86_400,
        distinct_count=distinct_count,
        countries=("DE", "FR", "LV"),
        partners=("cert-de", "cert-fr", "cert-lv"),
        score=70.0,
        opened_at=RED_TIME,  # the RED report brought the count to the threshold
        updated_at=RED_TIME,
        evidence=evidence,
        timeline=(),
        version=1,
    )


def render(
    team: Team,
    *,
    compiled: CompiledPlaybooks | None = None,
    subject: str = "domain-name|evil.example",
    distinct_count: int = 3,
) -> RenderedTicket:
    compiled = compiled or compile_playbooks(playbooks=[PLAYBOOK])
    return compiled.render_ticket(
        incident=incident(subject=subject, distinct_count=distinct_count),
        team=team,
        rule=RULE,
        registry=REGISTRY,
        created_at=CREATED,
        ticket_id=f"ticket--{team.id}",
    )


def everything(ticket: RenderedTicket) -> str:
    return "\n".join([ticket.subject, ticket.body, ticket.html, *(s.text for s in ticket.steps)])


def test_a_team_not_cleared_for_red_gets_its_count_and_nothing_else() -> None:
    ticket = render(FR)
    for part in (ticket.body, ticket.html):
        assert "1 further report under TLP:RED" in part
        assert "evil.example" in part
        assert "cert-de" in part and "sighting--fr" in part  # the peer's shared AMBER and GREEN
    shown = everything(ticket)
    for hidden in ("cert-lv", "LV", RED_REF, RED_TIME):
        assert hidden not in shown


def test_the_red_publishers_own_team_sees_its_red_in_full() -> None:
    ticket = render(LV)
    for part in (ticket.body, ticket.html):
        for shown in ("cert-lv", "LV", RED_REF, RED_TIME, "TLP:RED"):
            assert shown in part
    assert "under TLP:RED" not in ticket.body
    # cert-de shares its AMBER with its sharing groups only, and cert-lv is in none of them.
    assert "1 further report under TLP:AMBER" in ticket.body
    assert "cert-de" not in ticket.body


def test_sightings_are_counted_as_sightings() -> None:
    ticket = render(Team(id="x", country="DE", partner="cert-lv", clearance="clear"))
    assert "1 further report under TLP:AMBER" in ticket.body
    assert "1 further sighting under TLP:GREEN" in ticket.body


def test_html_escapes_what_partners_sent_while_the_text_keeps_it_verbatim() -> None:
    ticket = render(FR, subject="domain-name|<script>alert(1)</script>.example")
    assert "<script>" not in ticket.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.example" in ticket.html
    assert "<script>alert(1)</script>.example" in ticket.body


def test_the_body_has_the_layout_and_tells_how_to_acknowledge() -> None:
    ticket = render(FR)
    for part in (ticket.body, ticket.html):
        assert "igsc tickets ack ticket--fr-oncall" in part
        assert "3 distinct countries (threshold 3 within 24h)" in part
        assert "national-csirt-oncall" in part
        assert "Seen in DE, FR by cert-de, cert-fr" in part
    assert ticket.subject == "[HIGH] Cross-border campaign: evil.example"


def test_due_times_add_up_from_the_ticket_creation() -> None:
    compiled = compile_playbooks(playbooks=[playbook("a", "b", "c", due=("30m", "2h", "1d"))])
    ticket = render(FR, compiled=compiled)
    assert [s.due_at for s in ticket.steps] == [
        "2026-11-30T13:30:00Z",
        "2026-11-30T15:30:00Z",
        "2026-12-01T15:30:00Z",
    ]
    assert ticket.due_at == "2026-11-30T13:30:00Z"
    assert "due 2026-12-01T15:30:00Z" in ticket.body


def test_rendering_twice_gives_byte_identical_tickets() -> None:
    assert render(FR) == render(FR)
    assert render(FR, compiled=compile_playbooks(playbooks=[PLAYBOOK])) == render(FR)


@pytest.mark.parametrize(
    "escape",
    ["{{ ''.__class__ }}", "{{ rule.__init__ }}", "{{ team.clear() }}", "{{ 'x' * 100000000 }}"],
)
def test_the_sandbox_refuses_an_escape_at_start_up(escape: str) -> None:
    with pytest.raises(ConfigError) as refused:
        compile_playbooks(playbooks=[playbook("fine", escape)])
    assert refused.value.key == "playbooks[p].steps[1].text"
    assert "unsafe" in refused.value.problem or "too long" in refused.value.problem


def test_an_escape_behind_a_condition_fails_to_render_and_never_runs() -> None:
    compiled = compile_playbooks(
        playbooks=[playbook("{% if incident.distinct_count > 50 %}{{ ''.__class__ }}{% endif %}")]
    )
    assert render(FR, compiled=compiled).steps[0].text == ""
    with pytest.raises(ConfigError) as refused:
        render(FR, compiled=compiled, distinct_count=99)
    assert refused.value.key == "playbooks[p].steps[0].text"
    assert "access to attribute '__class__' of 'str' object is unsafe" in refused.value.problem


def test_a_template_that_does_not_compile_stops_start_up_naming_it() -> None:
    with pytest.raises(ConfigError) as bad_step:
        compile_playbooks(playbooks=[playbook("ok", "line one\n{{ incident.title ")])
    assert bad_step.value.key == "playbooks[p].steps[1].text"
    assert "line 2" in bad_step.value.problem
    with pytest.raises(ConfigError) as bad_subject:
        compile_playbooks(playbooks=[playbook("ok", subject="{% if %}")])
    assert bad_subject.value.key == "playbooks[p].subject"


def test_a_misspelt_variable_stops_start_up_naming_it() -> None:
    with pytest.raises(ConfigError) as unknown:
        compile_playbooks(playbooks=[playbook("ok", summary="{{ incidnet.title }}")])
    assert unknown.value.key == "playbooks[p].summary"
    assert "incidnet" in unknown.value.problem


def test_an_escalation_says_which_step_was_due_when_and_nothing_more() -> None:
    rendered = render(FR)
    ticket = Ticket(
        id="ticket--fr-oncall",
        incident="incident--0b6f1f8e-6a52-5d0b-9c3e-2f4d7a8b9c01",
        incident_version=1,
        rule="cross-border",
        team="fr-oncall",
        country="FR",
        severity="high",
        state=TicketState.OPEN,
        revision=1,
        subject=rendered.subject,
        body=rendered.body,
        html=rendered.html,
        steps=rendered.steps,
        due_at=rendered.due_at,
        created_at=CREATED,
        updated_at=CREATED,
    )
    subject, text, html = render_escalation(ticket=ticket, step=1)
    assert subject == "[ESCALATION] step 2 overdue: [HIGH] Cross-border campaign: evil.example"
    for part in (text, html):
        assert "Step 1" in part  # the title of ticket.steps[1]
        assert "2026-11-30T15:30:00Z" in part
        assert "ticket--fr-oncall" in part
        assert "incident--0b6f1f8e-6a52-5d0b-9c3e-2f4d7a8b9c01" in part
        assert "cert-de" not in part and "sighting--fr" not in part
    assert render_escalation(ticket=ticket, step=1) == (subject, text, html)


def test_the_example_configuration_renders_a_ticket_for_every_rule() -> None:
    example = Path(igsc.__file__).parent / "app" / "config_example.yaml"
    settings = load_settings(config_file=example)
    compiled = compile_playbooks(playbooks=settings.playbooks)
    team = settings.teams[0]
    for rule in settings.rules:
        ticket = compiled.render_ticket(
            incident=msgspec.structs.replace(incident(), playbook=rule.playbook, rule=rule.id),
            team=team,
            rule=rule,
            registry=settings.partners,
            created_at=CREATED,
            ticket_id="ticket--example",
        )
        assert "igsc tickets ack ticket--example" in ticket.body
        assert len(ticket.steps) >= 2 and all(step.text for step in ticket.steps)
