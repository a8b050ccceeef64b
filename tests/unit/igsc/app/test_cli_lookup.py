"""`igsc lookup TEXT`: the document as JSON, exit 1 when not found, 2 on unreadable input."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from enrich.record import IndicatorRecord, SourceEntry
from enrich.schema import INDICATORS, indicator_doc
from igsc.app.cli import main
from igsc.ports import IndexDoc
from igsc.settings import load_settings
from igsc.wiring import build_index
from respond.exclusions import BENIGN, BenignMatch

KEY = "domain-name|evil.example"


@pytest.fixture
def home(igsc_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IGSC_HOME", str(igsc_home))
    for name in ("IGSC_CONFIG", "IGSC_INDEX_URL", "IGSC_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    return igsc_home


def _index_one(key: str, *, tlp: str = "green") -> None:
    kind, _, value = key.partition("|")
    source = SourceEntry(
        stix_id="indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a",
        version="2026-11-20T08:00:00.000Z",
        partner="cert-de",
        country="DE",
        tlp=tlp,
        confidence=80,
        reliability=0.9,
        created_by=None,
        valid_from=None,
    )
    record = IndicatorRecord(key=key, kind=kind, value=value, flags=(), sources=(source,))
    index = build_index(load_settings(config_file=None))
    try:
        index.ensure(schema=INDICATORS)
        index.bulk_upsert(
            schema=INDICATORS, docs=[IndexDoc(id=key, version=1, body=indicator_doc(record))]
        )
    finally:
        index.close()


def test_lookup_prints_the_indexed_document(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _index_one(KEY)
    assert main(["lookup", "EVIL.Example."]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed["key"] == KEY and printed["value"] == "evil.example"


def test_lookup_says_which_list_kept_a_rule_from_correlating_it(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _index_one(KEY)
    index = build_index(load_settings(config_file=None))
    try:  # what the respond stage records when the allowlist stops a crossing
        index.ensure(schema=BENIGN)
        match = BenignMatch(
            subject=KEY, rule="cross-border", list_name="allowlist", at="2026-11-20T08:00:00Z",
            version=3,
        )  # fmt: skip
        index.bulk_upsert(schema=BENIGN, docs=[match.index_doc()])
    finally:
        index.close()
    assert main(["lookup", "evil.example"]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed["benign"] == [
        {"rule": "cross-border", "list": "allowlist", "at": "2026-11-20T08:00:00Z"}
    ]
    _index_one("domain-name|other.example")
    assert main(["lookup", "other.example"]) == 0
    assert "benign" not in orjson.loads(capsys.readouterr().out)


def test_lookup_of_an_unknown_observable_exits_1_naming_the_key(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _index_one(KEY)
    assert main(["lookup", "other.example"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "domain-name|other.example" in captured.err


def test_lookup_on_a_fresh_home_exits_1(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lookup", "198.51.100.7"]) == 1
    assert "ipv4-addr|198.51.100.7" in capsys.readouterr().err


def test_lookup_of_unreadable_text_exits_2_with_the_reason(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lookup", "198.51.100.300"]) == 2
    assert "not an IP or MAC address" in capsys.readouterr().err
    assert list(home.iterdir()) == []  # refused before any index was opened or created


def test_lookup_withholds_a_document_marked_above_the_clearance(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _index_one(KEY, tlp="amber")
    assert main(["lookup", "evil.example"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "above TLP:GREEN" in captured.err
    assert main(["lookup", "--tlp", "amber", "evil.example"]) == 0
    assert orjson.loads(capsys.readouterr().out)["source_tlps"] == ["amber"]


def test_lookup_from_state_reads_what_the_pipeline_merged(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert main(["lookup", "--from-state", "--tlp", "red", "EVIL-LOGIN.example."]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed["key"] == "domain-name|evil-login.example"
    assert printed["countries"] == ["DE", "FR", "NL"]
