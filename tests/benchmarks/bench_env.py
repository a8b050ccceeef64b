"""The machine and versions a run measured, and the dedup state it left in Redis."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import random
import re
import subprocess
from pathlib import Path
from typing import Any

import psutil
import redis
import requests

_PACKAGES = ("kafka-python", "elasticsearch", "redis", "orjson", "stix2", "stix2-patterns",
             "taxii2-client", "fastapi", "uvicorn", "pydantic", "medallion", "celery")  # fmt: skip
_SAMPLE = 2000
RESPOND_PREFIXES = frozenset({"~respond", "tickets/", "incidents/"})


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def _kafka_version(repo: Path) -> str:
    try:
        out = subprocess.run(
            [str(repo / "deploy/local/services"), "status", "kafka"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"version=(\S+)", out)
    return match.group(1) if match else "unknown"


def _code_state(repo: Path) -> dict[str, Any]:
    """The commit measured and the files changed on top of it (read-only git calls)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(repo), *args],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return done.stdout

    # Porcelain lines are "XY path": the two status columns may both be spaces.
    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if len(line) > 3]
    return {"commit": git("rev-parse", "HEAD").strip(), "uncommitted_changes": changed}


def machine_info(*, repo: Path, es_url: str | None, redis_url: str | None) -> dict[str, Any]:
    """Cores, memory, OS, and the versions of the services and key packages."""
    versions: dict[str, str] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    if es_url:
        # GET / answers 405 on this node; the nodes API names the version as well.
        nodes = requests.get(f"{es_url}/_nodes/_local", timeout=10).json()["nodes"]
        versions["elasticsearch_server"] = next(iter(nodes.values()))["version"]
        versions["kafka_server"] = _kafka_version(repo)
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        versions["redis_server"] = str(client.info("server")["redis_version"])
        client.close()
    return {
        "code": _code_state(repo),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
    }


def redis_used_memory(redis_url: str) -> int:
    """INFO memory used_memory, in bytes."""
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def dedup_state(*, redis_url: str, namespace: str, unique: int, seed: int) -> dict[str, Any]:
    """Bytes of state per unique observable: MEMORY USAGE on a sample of keys per prefix."""
    client = redis.Redis.from_url(redis_url, socket_timeout=60)
    rng = random.Random(seed)
    prefixes: dict[str, dict[str, Any]] = {}
    try:
        by_prefix: dict[str, list[bytes]] = {}
        for key in client.scan_iter(match=f"{namespace}:*", count=10_000):
            # ~m:3 (a bucket), tickets/ticket--... (the respond half's keys: one per ticket)
            prefix = re.split(r"(?<=/)", key.decode().split(":", 2)[1], maxsplit=1)[0]
            by_prefix.setdefault(prefix, []).append(key)
        for prefix, keys in sorted(by_prefix.items()):
            sample = rng.sample(keys, min(_SAMPLE, len(keys)))
            pipe = client.pipeline(transaction=False)
            for key in sample:
                pipe.memory_usage(key, samples=0)
            usage = [int(u or 0) for u in pipe.execute()]
            mean = sum(usage) / len(usage)
            prefixes[prefix] = {
                "keys": len(keys),
                "mean_bytes": round(mean, 1),
                "total_mb": round(mean * len(keys) / 2**20, 1),
            }
    finally:
        client.close()
    merge = prefixes.get("~m", {"keys": 0, "mean_bytes": 0.0})
    respond = {k: v for k, v in prefixes.items() if k in RESPOND_PREFIXES}
    total = sum(p["mean_bytes"] * p["keys"] for k, p in prefixes.items() if k not in respond)
    return {
        "method": "Redis MEMORY USAGE (samples=0) on a random sample of up to 2,000 keys per "
        "prefix, mean x key count; ~m: = hash buckets of packed merge rows (one per "
        "observable), ~sid: = buckets of packed extract version rows (one per STIX indicator), "
        "intern: = interned-name tables, pend: = sightings waiting for their indicator; "
        "the respond half's keys (~respond: correlation rows, tickets/, incidents/) are "
        "counted apart (respond_state_mb), not in the pipeline state per observable",
        "unique_observables": unique,
        "prefixes": prefixes,
        "merge_bytes_per_observable": round(
            merge["mean_bytes"] * merge["keys"] / max(unique, 1), 1
        ),
        "all_state_bytes_per_observable": round(total / max(unique, 1), 1),
        "respond_state_mb": round(
            sum(p["mean_bytes"] * p["keys"] for p in respond.values()) / 2**20, 1
        ),
    }


def clean_namespace(
    *, redis_url: str | None, es_url: str | None, kafka: str | None, namespace: str
) -> None:
    """Remove what a run left in the real services: keys, indices, topics."""
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=60)
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{namespace}:*", count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
        client.close()
    if es_url:
        # Wildcard deletes are refused by default (action.destructive_requires_name).
        for name in ("indicators", "taxii_versions", "incidents", "tickets"):
            requests.delete(f"{es_url}/{namespace}-{name}", timeout=60)
            requests.delete(f"{es_url}/_index_template/{namespace}-{name}", timeout=60)
    if kafka:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=[kafka])
        try:
            mine = [t for t in admin.list_topics() if t.startswith(f"{namespace}.")]
            if mine:
                admin.delete_topics(mine, raise_errors=False)
        finally:
            admin.close()
