"""The `server` fixture: a TAXII server on embedded adapters under tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from taxii_server_fixtures import Server, make_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    made = make_server(tmp_path)
    yield made
    made.client.close()
    made.stream.close()
    made.index.close()
    made.state.close()
