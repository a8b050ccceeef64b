"""Fixtures for the offline enrichers: records as the merge stage builds them, no network."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from enrich.enrichers import EnrichSettings
from enrich.enrichers.attack import AttackEnricher
from enrich.enrichers.domain import DomainEnricher
from enrich.enrichers.geo import GeoEnricher


@pytest.fixture(scope="session")
def settings() -> EnrichSettings:
    return EnrichSettings()


@pytest.fixture(scope="session")
def geo(settings: EnrichSettings) -> GeoEnricher:
    return GeoEnricher(settings=settings)


@pytest.fixture(scope="session")
def domain(settings: EnrichSettings) -> DomainEnricher:
    return DomainEnricher(settings=settings)


@pytest.fixture(scope="session")
def attack() -> AttackEnricher:
    return AttackEnricher()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Any attempt to resolve or connect raises, and is recorded."""
    attempts: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{name}{args!r}")
            raise OSError(f"network blocked in this test: {name}")

        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket.socket, "sendto", refuse("sendto"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "gethostbyname", refuse("gethostbyname"))
    yield attempts
