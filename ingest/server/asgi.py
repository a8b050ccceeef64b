"""ASGI entry point for several uvicorn workers: each process builds its app from IGSC_CONFIG."""

from __future__ import annotations

import os
from pathlib import Path

from igsc.settings import load_settings
from igsc.wiring import build_index, build_state, build_stream
from ingest.server.app import create_app

# A process boundary: the worker reads which config to load from its environment.
_config = os.environ.get("IGSC_CONFIG")
_settings = load_settings(config_file=Path(_config) if _config else None)
app = create_app(
    settings=_settings,
    stream=build_stream(_settings),
    index=build_index(_settings),
    state=build_state(_settings),
)
