"""The `igsc` command as a new user meets it: options, bad input, what it prints."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import orjson
import pytest

from igsc.app import cli
from igsc.app.cli import main
from igsc.app.stages import stage_names
from igsc.settings import Settings

INDICATOR_ID = "indicator--0b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a"


@pytest.fixture
def home(igsc_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IGSC_HOME", str(igsc_home))
    for name in ("IGSC_CONFIG", "IGSC_STREAM_URL", "IGSC_INDEX_URL", "IGSC_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    return igsc_home


def _config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "partners:\n  - id: cert-de\n    name: CERT DE\n    country: DE\n" + text, encoding="utf-8"
    )
    return path


def _indicator(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": INDICATOR_ID,
        "created": "2026-11-20T08:00:00.000Z",
        "modified": "2026-11-20T08:00:00.000Z",
        "pattern": "[domain-name:value = 'one.example']",
        "pattern_type": "stix",
        "valid_from": "2026-11-20T08:00:00Z",
    }
    return obj | changes


def _write_json(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(document))
    return path


@pytest.mark.parametrize("before", [True, False])
def test_config_is_accepted_before_or_after_the_subcommand(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], before: bool
) -> None:
    config = _config(tmp_path)
    single = _write_json(tmp_path, "one.json", _indicator())
    tail = ["publish", str(single), "--partner", "cert-de"]
    argv = ["--config", str(config), *tail] if before else [*tail, "--config", str(config)]
    assert main(argv) == 0
    assert "published 1 object as cert-de; rejected 0" in capsys.readouterr().out


def test_a_missing_config_file_is_one_line_and_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--config", "nowhere.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere.yaml does not exist" in err


def test_serve_host_and_port_override_the_settings(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Settings] = []
    monkeypatch.setattr("ingest.server.app.serve", lambda *, settings: served.append(settings))
    assert main(["serve", "--host", "0.0.0.0", "--port", "18123"]) == 0
    assert (served[0].taxii.host, served[0].taxii.port) == ("0.0.0.0", 18123)
    assert main(["serve"]) == 0
    assert (served[1].taxii.host, served[1].taxii.port) == ("127.0.0.1", 8000)


def test_serve_refuses_a_port_outside_1_to_65535(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--port", "70000"])
    assert stopped.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_publish_prints_the_top_rejection_reasons(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objects = [
        _indicator(),
        _indicator(id="not-an-id"),
        _indicator(id="not-an-id-either"),
        {"type": "indicator"},
    ]
    bundle = {"type": "bundle", "id": "bundle--" + INDICATOR_ID[11:], "objects": objects}
    path = _write_json(tmp_path, "bundle.json", bundle)
    assert (
        main(["--config", str(_config(tmp_path)), "publish", str(path), "--partner", "cert-de"])
        == 1
    )
    out = capsys.readouterr().out
    assert "published 1 object as cert-de; rejected 3" in out
    lines = out.splitlines()
    reasons = lines[lines.index("top reasons:") + 1 :]
    assert len(reasons) == 2
    assert reasons[0].split()[0] == "2" and "id" in reasons[0]  # the most frequent first


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read"),
        (b"not json at all", "is not valid JSON"),
        (b'{"hello": "world"}', "expected a STIX bundle"),
    ],
)
def test_publish_of_a_bad_file_is_one_line_on_stderr_and_exit_2(
    home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: bytes | None,
    expected: str,
) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_bytes(content)
    assert main(["publish", str(path), "--partner", "cert-de"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and expected in captured.err
    assert "Traceback" not in captured.err


def test_publish_as_an_unknown_partner_names_the_configured_ones(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_json(tmp_path, "one.json", _indicator())
    assert main(["--config", str(_config(tmp_path)), "publish", str(path), "--partner", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'x'" in err and "cert-de" in err


def test_rejected_lists_rejected_and_quarantined_records_newest_last(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(tmp_path))
    future = _indicator(
        id="indicator--1b9c4b1e-7f8e-4b6e-9d1a-2f4e5d6c7b8a",
        created="2099-01-01T00:00:00.000Z",
        modified="2099-01-01T00:00:00.000Z",
    )
    for name, objects in (("first", [{"type": "indicator"}]), ("second", [_indicator(id="bad")])):
        path = _write_json(tmp_path, f"{name}.json", [*objects, future])
        main(["--config", config, "publish", str(path), "--partner", "cert-de"])
    assert main(["--config", config, "run", "--once"]) == 0  # extract quarantines the future
    capsys.readouterr()

    assert main(["rejected", "--json", "--config", config]) == 0
    rows = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    rejected = [r for r in rows if r["topic"] == "rejected"]
    quarantined = [r for r in rows if r["topic"] == "quarantine"]
    assert [r["stix_id"] for r in rejected] == [None, "bad"]  # newest last
    assert all(r["partner"] == "cert-de" and r["stage"] == "push" for r in rejected)
    assert all(r["reason"] and r["at"] for r in rows)
    assert quarantined and quarantined[0]["stix_id"] == future["id"]

    assert main(["rejected", "--limit", "1", "--config", config]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"1 of {len(rows)} ")
    assert len(out) == 2


def test_rejected_on_a_fresh_home_says_so(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rejected"]) == 0
    assert capsys.readouterr().out == "no rejected or quarantined records\n"


def test_run_once_counts_what_was_rejected_during_the_run(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(tmp_path))
    path = _write_json(tmp_path, "bad.json", [{"type": "indicator"}])
    main(["--config", config, "publish", str(path), "--partner", "cert-de"])
    capsys.readouterr()
    assert main(["--config", config, "run", "--once"]) == 0
    # The publish's rejection came before this run: it is not this run's.
    assert "rejected: 0\n" in capsys.readouterr().out


def test_config_example_round_trips_through_config_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "example"]) == 0
    example = capsys.readouterr().out
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    assert main(["config", "check", str(path)]) == 0
    assert "valid" in capsys.readouterr().out


def test_config_example_partners_use_the_collections_its_taxii_section_serves() -> None:
    import yaml

    example = yaml.safe_load((Path(cli.__file__).parent / "config_example.yaml").read_text())
    served = {c["id"] for root in example["taxii"]["api_roots"] for c in root["collections"]}
    for partner in example["partners"]:
        assert set(partner["can_read"]) | set(partner["can_write"]) <= served


def test_config_check_reports_every_invalid_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "stream:\n  partitions: 0\n  batch_size: -1\nstrem_url: x\nindex_url: ftp://x\n",
        encoding="utf-8",
    )
    assert main(["config", "check", str(path)]) == 2
    err = capsys.readouterr().err
    for key in ("stream.partitions", "stream.batch_size", "strem_url", "index_url"):
        assert f"{path}: {key}: " in err
    assert "4 invalid setting(s)" in err


def test_worker_offers_every_registered_stage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    usage = capsys.readouterr().out
    assert "{" + ",".join(stage_names()) + "}" in usage
    with pytest.raises(SystemExit) as stopped:
        main(["worker", "respond-not-yet"])
    assert stopped.value.code == 2


def test_demo_prints_a_lookup_command_that_finds_its_records(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    marker = "look one up"
    assert marker in out
    command = out[out.index(marker) :].splitlines()[1].strip()
    words = shlex.split(command)
    assert words[0] == f"IGSC_HOME={home}" and words[1:3] == ["igsc", "lookup"]
    assert words[-2] == "--tlp"
    assert main(words[2:]) == 0  # the printed clearance is enough
    assert orjson.loads(capsys.readouterr().out)["key"]
    assert main([*words[2:-2], "--tlp", "clear"]) == 1  # and it is needed
