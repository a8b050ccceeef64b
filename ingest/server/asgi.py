"""ASGI entry point for several uvicorn workers: each process builds its app from IGSC_CONFIG."""

from __future__ import annotations

import os
from pathlib import Path

from igsc.settings import load_settings
from igsc.wiring import open_ports
from ingest.server.app import create_app

# A process boundary: the worker reads which config to load from its environment.
_config = os.environ.get("IGSC_CONFIG")
_settings = load_settings(config_file=Path(_config) if _config else None)
_ports = open_ports(_settings)
app = create_app(settings=_settings, stream=_ports.stream, index=_ports.index, state=_ports.state)
# The worker process closes its ports when uvicorn shuts it down.
app.router.on_shutdown.append(_ports.close)
