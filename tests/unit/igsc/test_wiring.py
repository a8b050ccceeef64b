"""igsc.wiring.open_ports: one way to open the three ports, and to close all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from igsc.settings import load_settings
from igsc.wiring import Ports, open_ports


class _Port:
    def __init__(self, name: str, closed: list[str], *, fails: bool = False) -> None:
        self._name, self._closed, self._fails = name, closed, fails

    def close(self) -> None:
        self._closed.append(self._name)
        if self._fails:
            raise OSError(f"{self._name} would not close")


def test_closing_goes_on_past_a_port_that_fails_and_then_raises() -> None:
    closed: list[str] = []
    ports = Ports(
        stream=_Port("stream", closed, fails=True),  # type: ignore[arg-type]
        index=_Port("index", closed),  # type: ignore[arg-type]
        state=_Port("state", closed),  # type: ignore[arg-type]
    )
    with pytest.raises(OSError, match="stream would not close"):
        ports.close()
    assert closed == ["stream", "index", "state"]


def test_open_ports_is_a_context_manager_over_the_embedded_adapters(tmp_path: Path) -> None:
    settings = load_settings(overrides={"home": tmp_path})
    with open_ports(settings) as ports:
        ports.stream.publish(topic="t", records=[(b"k", b"v")])
        ports.state.put_many(items={"k": b"v"})
    with open_ports(settings) as again:
        assert again.state.get_many(keys=["k"]) == {"k": b"v"}
    assert {p.name for p in tmp_path.iterdir()} >= {"stream.db", "index.db", "state.db"}
