"""Shared SQLite connection setup for the embedded adapters."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from urllib.parse import urlsplit

from igsc.errors import ConfigError


def path_from_url(url: str, *, key: str) -> Path:
    """The file path of a sqlite:///PATH URL."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or not parts.path:
        raise ConfigError(key, f"expected sqlite:///PATH, got {url!r}")
    return Path(parts.path)


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode that waits for other processes instead of failing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None, check_same_thread=False)
    _enable_wal(conn)
    # NORMAL in WAL mode survives a process crash; only power loss can drop the last commits.
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=60000")
    return conn


def _enable_wal(conn: sqlite3.Connection, *, wait_s: float = 60.0) -> None:
    """Switch to WAL, retrying while another process does the same on a new file."""
    # Changing the journal mode can return SQLITE_BUSY without calling the busy
    # handler, so workers starting together on a fresh file must retry themselves.
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
