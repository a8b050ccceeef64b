"""Fixtures for channel tests: a fence that keeps every socket on loopback."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Refuse (and record) any TCP connect to a non-loopback address from this test.

    A safety net, not the guard under test: a broken guard must not send traffic to a
    metadata or private address from a test run.
    """
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def fenced(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None:
            try:
                loopback = ipaddress.ip_address(str(host).split("%")[0]).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                attempts.append(address)
                raise OSError(f"test fence: connect to {address} refused")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", fenced)
    return attempts
