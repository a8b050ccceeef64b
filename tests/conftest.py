"""Shared fixtures: real-service addresses, and a rule that CI never skips a missing service."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

SERVICE_PORTS = {
    "kafka": int(os.environ.get("IGSC_KAFKA_PORT", "9092")),
    "elasticsearch": int(os.environ.get("IGSC_ES_PORT", "9200")),
    "redis": int(os.environ.get("IGSC_REDIS_PORT", "6379")),
}


def services_required() -> bool:
    """Under CI (or `make test`) a missing real service is a failure, never a skip."""
    return os.environ.get("CI") == "true" or os.environ.get("IGSC_REQUIRE_SERVICES") == "1"


def require_service(name: str) -> str:
    """host:port of a running real service, or fail/skip as services_required() says."""
    port = SERVICE_PORTS[name]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return f"127.0.0.1:{port}"
    except OSError:
        message = (
            f"{name} is not reachable on 127.0.0.1:{port}; start it with "
            f"`deploy/local/services up {name}`"
        )
        if services_required():
            pytest.fail(message + " (real services are required under CI=true)")
        pytest.skip(message)


@pytest.fixture
def unique() -> str:
    """A short name no other test uses."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def igsc_home(tmp_path: Path) -> Path:
    """A fresh IGSC_HOME for one test."""
    home = tmp_path / "igsc-home"
    home.mkdir()
    return home
