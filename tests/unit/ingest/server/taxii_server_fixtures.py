"""Helpers for the TAXII server tests: partners with known credentials, a server, STIX objects."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from igsc.partners import InboundAuth, Partner
from igsc.ports import Index, State, Stream
from igsc.server_settings import ApiRootSettings, CollectionSettings, TaxiiServerSettings
from igsc.settings import Settings
from igsc.tlp import TLP2_IDS, Tlp
from igsc.wiring import build_index, build_state, build_stream
from ingest.server.app import create_app
from ingest.server.auth import hash_secret, hash_token

SHARED = "11111111-1111-4111-8111-111111111111"
PRIVATE = "22222222-2222-4222-8222-222222222222"
OTHER_ROOT_COLL = "33333333-3333-4333-8333-333333333333"
TAXII = "application/taxii+json;version=2.1"
LIMIT = 64 * 1024

CLEAR = TLP2_IDS[Tlp.CLEAR]
GREEN = TLP2_IDS[Tlp.GREEN]
AMBER = TLP2_IDS[Tlp.AMBER]
AMBER_STRICT = TLP2_IDS[Tlp.AMBER_STRICT]
RED = TLP2_IDS[Tlp.RED]
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP1_RED = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"


@functools.cache
def password_hash(password: str) -> str:
    """scrypt is slow on purpose; hash each test password once per session."""
    return hash_secret(secret=password)


def partner(pid: str, **overrides: Any) -> Partner:
    """A partner whose token is 'tok-<id>' and Basic password '<id>-password'."""
    values: dict[str, Any] = {
        "id": pid,
        "name": pid.title(),
        "country": "DE",
        "inbound": InboundAuth(
            username=pid,
            password_hash=password_hash(f"{pid}-password"),
            token_hashes=(hash_token(token=f"tok-{pid}"),),
        ),
        "can_read": (SHARED,),
        "can_write": (SHARED,),
    }
    values.update(overrides)
    return Partner(**values)


def default_partners() -> tuple[Partner, ...]:
    """alpha/bravo/charlie share group 'north'; bravo shares AMBER with it; delta is apart."""
    return (
        partner(
            "alpha",
            sharing_groups=("north",),
            can_read=(SHARED, PRIVATE),
            can_write=(SHARED, PRIVATE),
        ),
        partner("bravo", country="FR", sharing_groups=("north",), amber_to_sharing_groups=True),
        partner("charlie", country="NL", sharing_groups=("north",), can_write=()),
        partner("delta", country="IT", sharing_groups=("south",), default_tlp="green"),
        partner("writer", country="AT", can_read=()),
        partner("outsider", country="PL", can_read=(), can_write=()),
    )


def taxii_settings(**overrides: Any) -> TaxiiServerSettings:
    """Two API roots; 'main' has a shared and an alpha-only collection."""
    values: dict[str, Any] = {
        "api_roots": (
            ApiRootSettings(
                id="main",
                title="Main",
                max_content_length=LIMIT,
                collections=(
                    CollectionSettings(id=SHARED, title="shared"),
                    CollectionSettings(id=PRIVATE, title="private"),
                ),
            ),
            ApiRootSettings(
                id="second",
                title="Second",
                collections=(CollectionSettings(id=OTHER_ROOT_COLL, title="other"),),
            ),
        ),
        "page_size_default": 50,
        "page_size_max": 200,
    }
    values.update(overrides)
    return TaxiiServerSettings(**values)


@dataclass
class Server:
    """The app under test, its ports, and request helpers."""

    client: TestClient
    settings: Settings
    stream: Stream
    index: Index
    state: State

    def headers(self, who: str | None, **extra: str) -> dict[str, str]:
        base = {"Accept": TAXII}
        if who:
            base["Authorization"] = f"Bearer tok-{who}"
        base.update(extra)
        return base

    def get(self, path: str, who: str | None = "alpha", **params: Any) -> Any:
        return self.client.get(path, headers=self.headers(who), params=params)

    def objects_url(self, collection: str = SHARED, root: str = "main") -> str:
        return f"/{root}/collections/{collection}/objects/"

    def post(
        self, objects: list[dict[str, Any]], who: str = "alpha", collection: str = SHARED
    ) -> Any:
        return self.client.post(
            self.objects_url(collection),
            headers=self.headers(who, **{"Content-Type": TAXII}),
            json={"objects": objects},
        )

    def read_all(self, who: str, path: str | None = None, **params: Any) -> list[Any]:
        """Every item of a paged read, following next."""
        url = path or self.objects_url()
        items: list[Any] = []
        next_token = None
        while True:
            query = dict(params, **({"next": next_token} if next_token else {}))
            response = self.get(url, who, **query)
            assert response.status_code == 200, response.text
            body = response.json()
            items.extend(body.get("objects", body.get("versions", [])))
            next_token = body.get("next")
            if not body["more"]:
                return items


def make_server(home: Path, *, partners: tuple[Partner, ...] | None = None, **taxii: Any) -> Server:
    """A fresh server over embedded adapters under home."""
    settings = Settings(
        home=home,
        namespace="t" + uuid.uuid4().hex[:8],
        partners=partners if partners is not None else default_partners(),
        taxii=taxii_settings(**taxii),
    )
    stream, index, state = build_stream(settings), build_index(settings), build_state(settings)
    app = create_app(settings=settings, stream=stream, index=index, state=state)
    return Server(
        client=TestClient(app, raise_server_exceptions=False),
        settings=settings,
        stream=stream,
        index=index,
        state=state,
    )


def sid(kind: str = "indicator") -> str:
    """A fresh STIX id."""
    return f"{kind}--{uuid.uuid4()}"


def indicator(
    ident: str | None = None,
    *,
    modified: str = "2024-01-01T00:00:00.000Z",
    markings: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A minimal valid STIX 2.1 indicator."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": ident or sid(),
        "created": "2024-01-01T00:00:00.000Z",
        "modified": modified,
        "name": "bad address",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    if markings:
        obj["object_marking_refs"] = list(markings)
    obj.update(extra)
    return obj
