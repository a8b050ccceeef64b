"""`igsc worker STAGE --nice N`: a worker that yields the CPU to searches on a shared host."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IGSC_")}
    return env | {"IGSC_HOME": str(home)}


def test_a_worker_runs_at_the_priority_it_was_given_and_stops_on_sigterm(tmp_path: Path) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "igsc.app.cli", "worker", "extract", "--nice", "7"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while os.getpriority(os.PRIO_PROCESS, worker.pid) != os.nice(0) + 7:
            assert worker.poll() is None, worker.communicate()[0].decode()[-2000:]
            assert time.monotonic() < deadline, "the worker never lowered its priority"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out.decode()[-2000:]


def test_a_priority_outside_0_to_19_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "igsc.app.cli", "worker", "merge", "--nice", "25"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--nice" in done.stderr
