"""Child processes of a benchmark run (workers, poller, servers) and their peak memory.

Every process is started through a ProcessSet, which stops all of them on exit, even when the
run fails. RssSampler records each process's peak RSS every 0.5 s (psutil).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import yaml

SERVE_TAXII = """
import sys
from pathlib import Path
from igsc.settings import load_settings
from ingest.server.app import serve
serve(settings=load_settings(config_file=Path(sys.argv[1])))
"""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(path: Path, values: dict[str, Any]) -> Path:
    """An igsc YAML config file."""
    path.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
    return path


class RssSampler:
    """Peak RSS and CPU seconds of named processes (children included), sampled every 0.5 s."""

    def __init__(self, *, interval_s: float = 0.5) -> None:
        self._interval_s = interval_s
        self._watched: dict[str, tuple[int, bool]] = {}  # name -> (pid, with its children)
        self.peak_mb: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}  # CPU seconds used so far, kept after a process ends
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def watch(self, *, name: str, pid: int, children: bool = True) -> None:
        """Sample this process (and its children, e.g. uvicorn workers) under `name`."""
        with self._lock:
            self._watched[name] = (pid, children)

    def unwatch(self, *, name: str) -> None:
        """Stop sampling a process (its peak is kept)."""
        with self._lock:
            self._watched.pop(name, None)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sample_once(self) -> None:
        """One sample of every watched process."""
        with self._lock:
            watched = dict(self._watched)
        for name, (pid, children) in watched.items():
            try:
                proc = psutil.Process(pid)
                family = [proc, *(proc.children(recursive=True) if children else ())]
                rss = sum(p.memory_info().rss for p in family)
                cpu = sum(sum(p.cpu_times()[:2]) for p in family)
            except psutil.Error:
                continue
            mb = rss / 2**20
            with self._lock:
                self.peak_mb[name] = round(max(self.peak_mb.get(name, 0.0), mb), 1)
                self.cpu_s[name] = max(self.cpu_s.get(name, 0.0), cpu)

    def snapshot(self) -> dict[str, Any]:
        """CPU seconds per watched name, machine-wide busy CPU seconds, and the time."""
        self.sample_once()
        times = psutil.cpu_times()
        with self._lock:
            return {
                "cpu_s": dict(self.cpu_s),
                "busy_s": sum(times) - times.idle - getattr(times, "iowait", 0.0),
                "at": time.monotonic(),
            }

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample_once()


def service_pids(ports: dict[str, int]) -> dict[str, int]:
    """The pid listening on each named loopback port (Kafka, Elasticsearch, Redis)."""
    found: dict[str, int] = {}
    wanted = {port: name for name, port in ports.items()}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.pid:
            name = wanted.get(conn.laddr.port)
            if name:
                found[name] = conn.pid
    return found


class ProcessSet:
    """Named child processes; stop_all() ends every one still running."""

    def __init__(self, *, logs: Path, sampler: RssSampler | None = None) -> None:
        self._logs = logs
        self.sampler = sampler
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, *, name: str, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a child with stdout and stderr in logs/<name>.log."""
        log = (self._logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.procs[name] = proc
        if self.sampler is not None:
            self.sampler.watch(name=name, pid=proc.pid)
        return proc

    def start_worker(
        self, *, name: str, config: Path, stage: str, nice: int = 0
    ) -> subprocess.Popen[bytes]:
        """`igsc --config F worker STAGE --nice N` as a child."""
        argv = [sys.executable, "-m", "igsc.app.cli", "--config", str(config), "worker", stage]
        return self.start(name=name, argv=[*argv, "--nice", str(nice)])

    def start_celery_worker(
        self, *, name: str, config: Path, node: str, nice: int = 0
    ) -> subprocess.Popen[bytes]:
        """A Celery worker for the respond tasks (`celery -A respond.celery_app worker`, one
        task at a time) as a child, reading its settings from IGSC_CONFIG."""
        argv = [
            *(("nice", "-n", str(nice)) if nice else ()),
            sys.executable, "-m", "celery", "-A", "respond.celery_app", "worker",
            "--pool=solo", "--loglevel=WARNING", "--without-heartbeat", "--without-gossip",
            "--without-mingle", "-n", node,
        ]  # fmt: skip
        return self.start(name=name, argv=argv, env={"IGSC_CONFIG": str(config)})

    def log_of(self, name: str) -> str:
        """The last 3,000 characters a child wrote."""
        path = self._logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self, name: str, *, timeout_s: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after timeout_s."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if self.sampler is not None:
            self.sampler.sample_once()
            self.sampler.unwatch(name=name)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@contextmanager
def process_set(*, logs: Path, sampler: RssSampler | None = None) -> Iterator[ProcessSet]:
    """A ProcessSet whose children are all stopped on exit."""
    procs = ProcessSet(logs=logs, sampler=sampler)
    try:
        yield procs
    finally:
        procs.stop_all()


def wait_http(url: str, *, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Wait until url answers at all (any status), or fail if the process exits."""
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s")


def start_taxii_server(
    procs: ProcessSet, *, name: str, config: Path, port: int
) -> subprocess.Popen[bytes]:
    """igsc's TAXII server (ingest.server.serve under uvicorn) as a child process."""
    # With taxii.workers > 1, serve() starts uvicorn workers that read IGSC_CONFIG.
    proc = procs.start(
        name=name,
        argv=[sys.executable, "-c", SERVE_TAXII, str(config)],
        env={"IGSC_CONFIG": str(config)},
    )
    wait_http(f"http://127.0.0.1:{port}/taxii2/", proc=proc)
    return proc


def cpu_between(before: dict[str, Any], after: dict[str, Any], *, cores: int) -> dict[str, Any]:
    """CPU seconds per process group between two snapshots, and what other processes used."""
    groups: dict[str, float] = {}
    for name, value in after["cpu_s"].items():
        used = value - before["cpu_s"].get(name, 0.0)
        group = name.rsplit("-", 1)[0] if name[-1].isdigit() else name
        groups[group] = groups.get(group, 0.0) + used
    wall = after["at"] - before["at"]
    busy = after["busy_s"] - before["busy_s"]
    ours = sum(groups.values())
    return {
        "wall_s": round(wall, 1),
        "capacity_core_s": round(wall * cores, 1),
        "busy_core_s": round(busy, 1),
        "groups_core_s": {k: round(v, 1) for k, v in sorted(groups.items(), key=lambda i: -i[1])},
        "other_processes_core_s": round(max(busy - ours, 0.0), 1),
    }
