"""Embedded SQLite setup: workers starting together on a new state file all open it."""

from __future__ import annotations

import threading
from pathlib import Path

from igsc.adapters.sqlite_db import connect


def _start_workers_on(path: Path, *, workers: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def start_one() -> None:
        try:
            conn = connect(path)
            conn.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB)")
            conn.execute("INSERT OR IGNORE INTO kv VALUES ('started', x'01')")
            conn.close()
        except BaseException as exc:  # the assertion names it
            errors.append(exc)

    threads = [threading.Thread(target=start_one) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_workers_starting_together_on_a_new_file_never_see_database_locked(
    tmp_path: Path,
) -> None:
    # Switching a new file to WAL can fail with "database is locked" without waiting
    # for the busy timeout; it hit about one start in sixty before the retry.
    for attempt in range(200):
        path = tmp_path / f"state-{attempt}.db"
        assert _start_workers_on(path, workers=4) == []
        check = connect(path)
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        check.close()
