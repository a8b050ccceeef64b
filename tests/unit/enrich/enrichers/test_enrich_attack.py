"""AttackEnricher: technique names and ATT&CK tactics from the bundled ATT&CK release."""

from __future__ import annotations

import pytest
from enricher_records import record, source

from enrich.enrichers.attack import AttackEnricher, normalise_phase


def test_sub_technique_resolves_to_its_own_name(attack: AttackEnricher) -> None:
    out = attack.process(
        record=record(kind="domain-name", value="x.example.com", techniques=("T1566.001",))
    )
    assert out.technique_names == ("Spearphishing Attachment",)


def test_names_follow_technique_order_and_unknown_ids_add_none(attack: AttackEnricher) -> None:
    techniques = ("T1566", "T9999", "t1059", "T1566", "not-a-technique", "T1071.001")
    out = attack.process(record=record(kind="url", value="http://x.test/", techniques=techniques))
    assert out.technique_names == (
        "Phishing",
        "Command and Scripting Interpreter",
        "Web Protocols",
    )
    assert out.techniques == techniques  # kept as given, unknown ones included


def test_record_without_techniques_gets_no_names(attack: AttackEnricher) -> None:
    out = attack.process(record=record(kind="ipv4-addr", value="203.0.113.9"))
    assert out.technique_names == ()


def test_tactics_come_from_attack_kill_chain_phases_only(attack: AttackEnricher) -> None:
    sources = (
        source(
            partner="cert-fr",
            kill_chain_phases=(
                "mitre-attack:Initial Access",
                "lockheed-martin-cyber-kill-chain:delivery",
            ),
        ),
        source(
            partner="cert-ee",
            kill_chain_phases=("mitre-attack:defense_evasion", "MITRE-ATTACK:TA0011"),
        ),
    )
    out = attack.process(record=record(kind="domain-name", value="x.example", sources=sources))
    assert out.tactics == ("command-and-control", "defense-evasion", "initial-access")


def test_existing_tactics_are_kept_and_enriching_twice_changes_nothing(
    attack: AttackEnricher,
) -> None:
    before = record(
        kind="domain-name",
        value="x.example",
        tactics=("Exfiltration",),
        techniques=("T1041",),
        sources=(source(kill_chain_phases=("mitre-attack:exfiltration",)),),
    )
    once = attack.process(record=before)
    assert once.tactics == ("exfiltration",)
    assert attack.process(record=once) == once


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Initial Access", "initial-access"),
        ("  privilege_escalation ", "privilege-escalation"),
        ("command-and-control", "command-and-control"),
        ("Lateral   Movement", "lateral-movement"),
    ],
)
def test_phase_names_are_normalised(phase: str, expected: str) -> None:
    assert normalise_phase(phase) == expected


def test_attack_release_is_exposed(attack: AttackEnricher) -> None:
    assert attack.attack_version.split(".")[0].isdigit()
    assert len(attack.technique_names) > 500  # techniques and sub-techniques
    assert attack.tactic_shortnames["TA0001"] == "initial-access"
