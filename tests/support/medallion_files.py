"""medallion (the OASIS TAXII 2.1 reference server) as a peer: its memory-backend files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TAXII = "application/taxii+json;version=2.1"
STIX_MEDIA = "application/stix+json;version=2.1"


def write_medallion_files(
    *,
    workdir: Path,
    base: str,
    api_root: str,
    collection: dict[str, Any],
    users: dict[str, str],
    page_size: int,
    max_content_length: int = 100_000_000,
    session_timeout_s: int = 300,
) -> Path:
    """Data and config files for one API root with one collection; the config's path."""
    root_url = f"{base}/{api_root}/"
    data = {
        "/discovery": {"title": "medallion", "default": root_url, "api_roots": [root_url]},
        api_root: {
            "information": {
                "title": api_root,
                "versions": [TAXII],
                "max_content_length": max_content_length,
            },
            "status": [],
            "collections": [
                {"can_read": True, "can_write": True, "media_types": [STIX_MEDIA], **collection}
            ],
        },
    }
    data_path = workdir / "medallion-data.json"
    data_path.write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(data_path),
            "session_timeout": session_timeout_s,
        },
        "users": users,
        "taxii": {"max_page_size": page_size},
    }
    config_path = workdir / "medallion-config.json"
    config_path.write_text(json.dumps(config))
    return config_path


def medallion_argv(*, port: int, config: Path) -> list[str]:
    """The command that runs medallion on 127.0.0.1:port."""
    return [
        sys.executable, "-m", "medallion.scripts.run", "--host", "127.0.0.1",
        "--port", str(port), str(config),
    ]  # fmt: skip
