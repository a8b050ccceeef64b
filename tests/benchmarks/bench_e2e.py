"""End-to-end throughput: local TAXII feeds → poller → raw → extract → merge → index, and
the respond stage reading merge's indicators topic (incidents, tickets).

The clock starts when the first feed serves its first objects page and stops when the index
holds one searchable document per expected observable. Workers are `igsc worker` children
(started and joined before the poller starts); the poller is a child running poll_all_once.
With a Celery broker configured (real mode) the respond tasks run in `celery worker`
children; embedded, in the respond worker itself. After the clock stops, the run waits for
respond to drain (its group's lag 0, no Celery task waiting or running, the incidents and
tickets indices unchanged over two refreshed counts): that wait is reported on its own
(`respond`), outside the indicators/s figure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.benchmarks.bench_corpus import COLLECTION, CorpusFiles, bench_partners
from tests.benchmarks.bench_feed import feed_processes
from tests.benchmarks.bench_probe import Probe
from tests.benchmarks.bench_procs import ProcessSet, cpu_between, write_config
from tests.benchmarks.bench_profile import start_profile, summarise

# merge writes the index itself; respond-threats folds the threat-evidence respond re-keys
STAGES = ("extract", "merge", "respond", "respond-threats")
Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class E2EPlan:
    """What one end-to-end run does."""

    mode: str  # "real" or "embedded"
    corpus: CorpusFiles
    base_config: dict[str, Any]  # igsc settings without partners
    workers: dict[str, int]  # stage -> how many processes
    out: Path
    timeout_s: float
    stall_s: float = 120.0
    respond_drain_s: float = 600.0  # how long to wait for respond after the last document
    profile_s: int = 0
    partner_extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> fields
    nice: int = 0  # CPU priority of the workers (searches keep theirs)
    poller_nice: int = 0  # and of the poller


@dataclass
class E2EResult:
    """What the run measured."""

    mode: str
    indicators: int
    objects: int
    expected_docs: int
    indexed_docs: int = 0
    complete: bool = False
    elapsed_s: float = 0.0
    indicators_per_s: float = 0.0
    first_page_at: float = 0.0
    poll: dict[str, Any] = field(default_factory=dict)
    samples: list[dict[str, float]] = field(default_factory=list)
    profiles: dict[str, Any] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)
    respond: dict[str, Any] = field(default_factory=dict)
    # CPU per process group from the start to the last document searchable, and to the
    # respond stage drained (cpu_between of RssSampler snapshots)
    cpu: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def partner_entries(
    feeds: list[Any], corpus: CorpusFiles, extra: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Configured partners, each pointing at its local feed."""
    people = bench_partners(len(corpus.files))
    return [
        p.model_dump(mode="json")
        | {
            "taxii_url": feed.discovery_url,
            "collections": [COLLECTION],
            "allow_private_network": True,
        }
        | extra.get(p.id, {})
        for p, feed in zip(people, feeds, strict=True)
    ]


def run_e2e(*, plan: E2EPlan, procs: ProcessSet, probe: Probe, log: Log) -> E2EResult:
    """One end-to-end run; every child it starts is stopped by `procs` afterwards."""
    result = E2EResult(
        mode=plan.mode,
        indicators=plan.corpus.indicators,
        objects=plan.corpus.objects,
        expected_docs=plan.corpus.expected_keys,
        workers=dict(plan.workers),
    )
    files = list(plan.corpus.files.values())
    watch = procs.sampler.watch if procs.sampler else None
    snap = procs.sampler.snapshot if procs.sampler else None
    start = snap() if snap else None
    with feed_processes(
        files=files,
        collection=COLLECTION,
        log=plan.out / "feeds.log",
        on_start=(lambda name, pid: watch(name=name, pid=pid)) if watch else None,
    ) as feeds:
        config = write_config(
            plan.out / f"{plan.mode}.yaml",
            plan.base_config
            | {"partners": partner_entries(feeds, plan.corpus, plan.partner_extra)},
        )
        names = _start_workers(plan, procs, config)
        namespace = plan.base_config["namespace"]
        if plan.base_config.get("celery_broker_url"):
            names += _start_celery(plan, procs, config, namespace)
        _wait_joined(probe, [f"{namespace}.{s}" for s in STAGES], procs, names)
        poll_out = plan.out / f"{plan.mode}-poll.json"
        procs.start(
            name=f"{plan.mode}-poller",
            argv=[
                *(("nice", "-n", str(plan.poller_nice)) if plan.poller_nice else ()),
                *(sys.executable, "-m", "tests.benchmarks.bench_poll", str(config), str(poll_out)),
            ],
        )
        log(f"[{plan.mode}] poller started; waiting for {plan.corpus.expected_keys} documents")
        done_at = _watch(plan, procs, probe, names, result, log, feeds)
        first = min(float(f.stats()["first_page_at"] or time.time()) for f in feeds)
        if done_at is not None:
            searchable = snap() if snap else None
            result.respond = _wait_respond(plan, procs, probe, names, log, first, done_at)
            if snap and start and searchable:
                cores = os.cpu_count() or 1
                result.cpu = {
                    "to_searchable": cpu_between(start, searchable, cores=cores),
                    "to_respond_drained": cpu_between(start, snap(), cores=cores),
                }
        procs.stop(f"{plan.mode}-poller", timeout_s=30)
        result.poll = orjson.loads(poll_out.read_bytes()) if poll_out.exists() else {}
    result.first_page_at = float(first)
    for sample in result.samples:
        sample["t"] = round(sample.pop("at") - result.first_page_at, 3)
    if done_at is not None:
        result.complete = True
        result.elapsed_s = round(done_at - result.first_page_at, 3)
        result.indicators_per_s = round(result.indicators / result.elapsed_s, 1)
    return result


def _start_workers(plan: E2EPlan, procs: ProcessSet, config: Path) -> list[str]:
    names = []
    for i in range(max(plan.workers.values())):
        if i:
            # Workers starting together all create the index and topics at once: stagger them.
            time.sleep(3)
        for stage in STAGES:
            if i < plan.workers.get(stage, 1):
                name = f"{plan.mode}-{stage}-{i + 1}"
                procs.start_worker(name=name, config=config, stage=stage, nice=plan.nice)
                names.append(name)
    return names


def _start_celery(plan: E2EPlan, procs: ProcessSet, config: Path, namespace: str) -> list[str]:
    names = []
    for i in range(plan.workers.get("celery", 1)):
        name = f"{plan.mode}-celery-{i + 1}"
        node = f"{namespace}-{i + 1}@localhost"
        procs.start_celery_worker(name=name, config=config, node=node, nice=plan.nice)
        names.append(name)
    return names


def _wait_respond(
    plan: E2EPlan,
    procs: ProcessSet,
    probe: Probe,
    names: list[str],
    log: Log,
    first_page_at: float,
    searchable_at: float,
) -> dict[str, Any]:
    """Wait for the respond stage and its tickets to drain; how long after searchable."""
    at_searchable = probe.respond()
    log(f"[{plan.mode}] respond when all documents were searchable: {at_searchable}")
    started = last_change = time.time()
    previous: dict[str, int] = {}
    stable = 0
    drained = False
    while True:
        now = time.time()
        idle = previous.get("lag") == 0 and previous.get("queue") == 0
        state = probe.respond(refresh=idle)  # refreshed counts only once nothing is queued
        if state != previous:
            last_change, stable = now, 0
        elif state["lag"] == 0 and state["queue"] == 0:
            stable += 1
        previous = state
        if stable >= 2:
            drained = True
            break
        _check_alive(procs, names)
        if now - last_change > plan.stall_s or now - started > plan.respond_drain_s:
            log(f"[{plan.mode}] respond did not drain: {state}")
            break
        time.sleep(0.5 if not idle else 1.0)
    done = last_change if drained else time.time()
    summary = {
        "drained": drained,
        "at_searchable": at_searchable,
        "final": previous,
        "drain_after_searchable_s": round(max(0.0, done - searchable_at), 3),
        "complete_s": round(done - first_page_at, 3),
    }
    log(f"[{plan.mode}] respond: {summary}")
    return summary


def _wait_joined(probe: Probe, groups: list[str], procs: ProcessSet, names: list[str]) -> None:
    deadline = time.monotonic() + 90
    while not probe.joined(groups=groups):
        _check_alive(procs, names)
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers did not join their groups {groups} within 90 s")
        time.sleep(0.5)
    time.sleep(1.0)  # let the last member's first poll settle


def _check_alive(procs: ProcessSet, names: list[str]) -> None:
    for name in names:
        proc = procs.procs.get(name)
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{procs.log_of(name)}")


def _watch(
    plan: E2EPlan,
    procs: ProcessSet,
    probe: Probe,
    names: list[str],
    result: E2EResult,
    log: Log,
    feeds: list[Any],
) -> float | None:
    """Sample progress until every expected document is searchable; the time it was."""
    want = plan.corpus.expected_keys
    started = last_change = time.time()
    last_log, previous = started, (0, 0)
    spies: dict[str, tuple[Any, Path]] = {}
    while True:
        now = time.time()
        fetched = sum(int(f.stats()["objects_served"]) for f in feeds)
        indexed = probe.indexed()
        result.indexed_docs = indexed
        sample = {"at": now, "fetched": fetched, "indexed": indexed}
        if len(result.samples) % 4 == 0 or indexed >= want:  # an aggregation: every ~2 s
            sample["sources"] = probe.sources()
        result.samples.append(sample)
        if indexed >= want:
            log(f"[{plan.mode}] all {want} documents searchable after {now - started:.1f} s")
            _finish_profiles(spies, result)
            return now
        if (fetched, indexed) != previous:
            last_change, previous = now, (fetched, indexed)
        if now - last_log >= 5:
            _log_rate(plan.mode, result.samples, log)
            last_log = now
        if plan.profile_s and not spies and indexed > 0.4 * want:
            spies = _start_profiles(plan, procs, names)
        _check_alive(procs, names)
        stalled = now - last_change > plan.stall_s
        if stalled or now - started > plan.timeout_s:
            why = f"no progress for {plan.stall_s:.0f} s" if stalled else "timeout"
            result.note = f"stopped ({why}) at {indexed}/{want} documents"
            log(f"[{plan.mode}] {result.note}")
            _finish_profiles(spies, result)
            return None
        time.sleep(0.25 if indexed > 0.97 * want else 0.5)


def _log_rate(mode: str, samples: list[dict[str, float]], log: Log) -> None:
    last = samples[-1]
    window = [s for s in samples if s["at"] >= last["at"] - 5.0]
    first = window[0]
    span = max(last["at"] - first["at"], 1e-6)
    log(
        f"[{mode}] fetched={int(last['fetched'])} "
        f"({(last['fetched'] - first['fetched']) / span:.0f}/s) indexed={int(last['indexed'])} "
        f"({(last['indexed'] - first['indexed']) / span:.0f} docs/s)"
    )


def _start_profiles(plan: E2EPlan, procs: ProcessSet, names: list[str]) -> dict[str, Any]:
    spies = {}
    for name in names:
        proc = procs.procs.get(name)
        out = plan.out / f"profile-{name}.txt"
        spy = start_profile(pid=proc.pid, duration_s=plan.profile_s, out=out) if proc else None
        if spy is not None:
            spies[name] = (spy, out)
    return spies


def _finish_profiles(spies: dict[str, Any], result: E2EResult) -> None:
    for name, (spy, out) in spies.items():
        try:
            spy.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a profiler that hangs must not hang the benchmark
            spy.kill()
            spy.wait()
        result.profiles[name] = summarise(path=out)
