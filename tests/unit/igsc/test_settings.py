"""Settings: validated at start-up, errors name the key, environment wins over the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from igsc.errors import ConfigError
from igsc.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_are_embedded_under_home(tmp_path: Path) -> None:
    settings = load_settings(overrides={"home": tmp_path})
    assert settings.stream_target == f"sqlite:///{tmp_path / 'stream.db'}"
    assert settings.index_target.startswith("sqlite:///")
    assert settings.state_target.startswith("sqlite:///")
    assert settings.embedded_celery


def test_a_wrong_url_scheme_names_the_key_and_the_expected_form(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=write(tmp_path, "stream_url: amqp://x\n"))
    assert err.value.key == "stream_url"
    assert "kafka://" in str(err.value)


def test_a_bad_partner_field_names_its_path(tmp_path: Path) -> None:
    text = "partners:\n  - id: cert-x\n    name: X\n    country: germany\n"
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=write(tmp_path, text))
    assert err.value.key == "partners[cert-x].country"  # named by id, not by position


def test_an_invalid_rule_is_named_by_its_id_and_its_problem(tmp_path: Path) -> None:
    text = (
        "playbooks:\n  - id: p\n    title: P\n    steps: [{title: Triage, due_in: 1h}]\n"
        "rules:\n  - {id: fine, at_least: 2, within: 1h, playbook: p}\n"
        "  - {id: broken, at_least: 1, within: 24h, playbook: p}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=write(tmp_path, text))
    assert err.value.key == "rules[broken].at_least"
    assert "greater than or equal to 2" in err.value.problem


def test_a_rule_naming_a_missing_playbook_stops_start_up(tmp_path: Path) -> None:
    text = "rules:\n  - {id: lonely, at_least: 2, within: 1d, playbook: nowhere}\n"
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=write(tmp_path, text))
    assert "rule 'lonely'" in str(err.value) and "'nowhere' does not exist" in str(err.value)


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(config_file=write(tmp_path, "strem_url: kafka://x:1\n"))
    assert err.value.key == "strem_url"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IGSC_STREAM__BATCH_SIZE", "777")
    monkeypatch.setenv("IGSC_INDEX_URL", "http://127.0.0.1:9200")
    settings = load_settings(config_file=write(tmp_path, "stream:\n  batch_size: 5\n"))
    assert settings.stream.batch_size == 777
    assert settings.index_target == "http://127.0.0.1:9200"


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(overrides={"home": tmp_path})
    with pytest.raises(ValueError, match="frozen"):
        settings.namespace = "other"  # type: ignore[misc]


def _igsc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "igsc.app.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_config_example_is_complete_and_passes_config_check(tmp_path: Path) -> None:
    example = _igsc("config", "example", cwd=tmp_path)
    assert example.returncode == 0
    path = write(tmp_path, example.stdout)
    checked = _igsc("config", "check", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "partners=1" in checked.stdout


def assert_check_refuses(tmp_path: Path, *, yaml: str, key: str) -> None:
    """`igsc config check` on this file exits 2 and names the key."""
    checked = _igsc("config", "check", str(write(tmp_path, yaml)), cwd=tmp_path)
    assert checked.returncode == 2
    assert key in checked.stderr


def test_config_check_exits_non_zero_naming_the_key(tmp_path: Path) -> None:
    assert_check_refuses(tmp_path, yaml="stream:\n  partitions: 0\n", key="stream.partitions")


def test_kafka_fetch_tuning_is_validated_and_reaches_the_adapter(tmp_path: Path) -> None:
    from igsc.adapters.kafka_stream import KafkaStream
    from igsc.wiring import build_stream

    assert_check_refuses(
        tmp_path, yaml="stream:\n  fetch_min_bytes: 0\n", key="stream.fetch_min_bytes"
    )
    settings = load_settings(
        overrides={
            "stream_url": "kafka://127.0.0.1:9",
            "stream": {"fetch_min_bytes": 4096, "fetch_max_wait_ms": 20},
        }
    )
    stream = build_stream(settings)
    assert isinstance(stream, KafkaStream)
    assert stream.fetch_tuning == (4096, 20)


def test_index_refresh_interval_is_validated_and_reaches_the_adapter(tmp_path: Path) -> None:
    from igsc.adapters.es_index import ElasticsearchIndex
    from igsc.wiring import build_index

    assert_check_refuses(tmp_path, yaml="index:\n  refresh_ms: 5\n", key="index.refresh_ms")
    settings = load_settings(
        overrides={"index_url": "http://127.0.0.1:9", "index": {"refresh_ms": 250}}
    )
    index = build_index(settings)
    assert isinstance(index, ElasticsearchIndex)
    assert index.refresh_interval == "250ms"


def test_catch_up_refresh_is_validated_and_reaches_the_adapter(tmp_path: Path) -> None:
    from igsc.adapters.es_index import ElasticsearchIndex
    from igsc.wiring import build_index

    slower_than_catch_up = "index:\n  refresh_ms: 2000\n  catch_up_refresh_ms: 1000\n"
    assert_check_refuses(tmp_path, yaml=slower_than_catch_up, key="catch_up_refresh_ms")
    default = build_index(load_settings(overrides={"index_url": "http://127.0.0.1:9"}))
    assert isinstance(default, ElasticsearchIndex)
    assert default.catch_up_interval == "5000ms"
    never = build_index(
        load_settings(
            overrides={"index_url": "http://127.0.0.1:9", "index": {"catch_up_refresh_ms": None}}
        )
    )
    assert isinstance(never, ElasticsearchIndex)
    assert never.catch_up_interval is None
