"""`make bench`: end-to-end throughput, latency, search, memory and baselines in one run.

    python -m tests.benchmarks.run            # full run (BENCH_INDICATORS, default 1,000,000)
    BENCH_QUICK=1 python -m tests.benchmarks.run   # development run, 20,000 indicators
    python -m tests.benchmarks.run --render bench-out/run-STAMP   # docs/ from a saved run

Environment (all optional): BENCH_INDICATORS, BENCH_EMBEDDED_INDICATORS, BENCH_PARTNERS,
BENCH_SEED, BENCH_BASELINE_OBJECTS, BENCH_LATENCY_S, BENCH_LATENCY_RATE (a fixed offered
rate, for A/B runs), BENCH_WORKERS ("extract=2,merge=1,respond=1,celery=1"; celery: Celery
worker processes for the respond tasks, real mode), BENCH_PROFILE_S, BENCH_PHASES
("real,embedded,naive,taxii"), BENCH_OUT, BENCH_WRITE_DOCS, BENCH_KEEP.
Needs Kafka, Elasticsearch and Redis on 127.0.0.1 (deploy/local/services up).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from igsc.app.corpus import fresh_indicators
from igsc.server_settings import SHARED_FEED_ID
from ingest.server.auth import hash_token
from tests.benchmarks import bench_notes, bench_respond
from tests.benchmarks.bench_baselines import (
    medallion_get_scaling,
    run_medallion,
    run_naive,
    run_ours,
)
from tests.benchmarks.bench_config import REPO, BenchConfig, relative
from tests.benchmarks.bench_corpus import (
    CorpusFiles,
    bench_partners,
    build_corpus,
    sample_objects,
)
from tests.benchmarks.bench_e2e import E2EPlan, E2EResult, run_e2e
from tests.benchmarks.bench_env import clean_namespace, dedup_state, machine_info
from tests.benchmarks.bench_latency import LatencyPlan, run_latency
from tests.benchmarks.bench_probe import EmbeddedProbe, RealProbe
from tests.benchmarks.bench_procs import (
    ProcessSet,
    RssSampler,
    cpu_between,
    free_port,
    process_set,
    service_pids,
    start_taxii_server,
    write_config,
)
from tests.benchmarks.bench_render import render_saved, write_outputs
from tests.benchmarks.bench_respond import WebhookSink
from tests.benchmarks.bench_search import Background, WorkloadSpec, run_idle
from tests.benchmarks.bench_stages import breakdown

KAFKA, ES, REDIS = "127.0.0.1:9092", "http://127.0.0.1:9200", "redis://127.0.0.1:6379/0"
BROKER = bench_respond.broker_url("127.0.0.1:6379")
TOKEN = "bench-token-cert-de"
POSTER = "cert-de"


class Run:
    """One benchmark run: its output folder, log, processes and results."""

    def __init__(self, cfg: BenchConfig) -> None:
        self.cfg = cfg
        self.started = time.time()
        self.stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self.dir = cfg.out / f"run-{self.stamp}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Any] = {"config": _plain(cfg.__dict__)}
        self.notes: list[str] = []
        self.webhooks: WebhookSink | None = None  # the teams' receiver, for the whole run

    def log(self, text: str) -> None:
        line = f"[{time.time() - self.started:7.1f}s] {text}"
        print(line, flush=True)
        with (self.dir / "run.log").open("a") as handle:
            handle.write(line + "\n")

    def base_config(self, *, namespace: str, real: bool, home: Path) -> dict[str, Any]:
        values: dict[str, Any] = {
            "home": str(home),
            "namespace": namespace,
            "log_level": "INFO",  # workers log their batch statistics at INFO
            "poll": {"page_size": 1000, "max_pages_per_run": 1_000_000, "concurrency": 8},
        }
        if real:
            values |= {"stream_url": f"kafka://{KAFKA}", "index_url": ES, "state_url": REDIS}
        values |= bench_respond.respond_values(
            partners=bench_partners(self.cfg.partners),
            webhook_url=self.webhooks.url if self.webhooks else None,
            broker=BROKER if real else None,
        )
        return values


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: sorted(v) if isinstance(v, frozenset) else relative(v) if isinstance(v, Path)
            else v for k, v in values.items()}  # fmt: skip


def poster_extra() -> dict[str, dict[str, Any]]:
    """The partner that POSTs to our TAXII server: a token, write and read on the shared feed."""
    return {
        POSTER: {
            "inbound": {"token_hashes": [hash_token(token=TOKEN)]},
            "can_read": [SHARED_FEED_ID],
            "can_write": [SHARED_FEED_ID],
        }
    }


def phase_real(run: Run, procs: ProcessSet, corpus: CorpusFiles) -> None:
    """e2e on the real services, then dedup state, search idle, latency + search ingesting."""
    cfg, ns = run.cfg, f"bench{run.stamp.replace('-', '')}r"
    run.results["namespace_real"] = ns
    probe = RealProbe(kafka=KAFKA, es_url=ES, namespace=ns, broker_url=BROKER)
    try:
        plan = E2EPlan(
            mode="real",
            corpus=corpus,
            base_config=run.base_config(namespace=ns, real=True, home=run.dir / "real-home"),
            workers=cfg.workers,
            nice=cfg.worker_nice,
            poller_nice=cfg.poller_nice,
            out=run.dir,
            timeout_s=max(300.0, corpus.indicators / 250),
            respond_drain_s=cfg.respond_drain_s,
            profile_s=cfg.profile_s,
            partner_extra=poster_extra(),
        )
        e2e = _measured(
            run,
            procs,
            "cpu_real",
            lambda: run_e2e(plan=plan, procs=procs, probe=probe, log=run.log),
        )
        run.results["e2e_real"] = e2e.__dict__
        run.log(f"[real] {e2e.indicators_per_s} indicators/s over {e2e.elapsed_s} s; {e2e.note}")
        run.results["respond_real"] = _respond_figures(run, e2e, mode="real")
        if not e2e.respond.get("drained"):
            dropped = bench_respond.purge_queue(broker=BROKER, namespace=ns)
            run.results["respond_real"]["tasks_dropped_before_latency"] = dropped
            run.log(f"[real] respond did not drain: {dropped} waiting tasks dropped")
        run.results["dedup"] = dedup_state(
            redis_url=REDIS, namespace=ns, unique=corpus.expected_keys, seed=cfg.seed
        )
        dedup = run.results["dedup"]
        run.log(
            f"[real] dedup state: {dedup['merge_bytes_per_observable']} B per observable, "
            f"all state {dedup['all_state_bytes_per_observable']} B"
        )
        workload = _workload(run, corpus)
        idle = run_idle(workload=workload.build(), per_kind=60 if cfg.quick else 300)
        run.results["search_idle"] = idle
        run.log(f"[real] search idle: {run.results['search_idle']}")
        rate = e2e.indicators_per_s or _rate_from_samples(e2e.samples, e2e.indicators)
        _latency(run, procs, e2e_rate=rate, workload=workload)
    finally:
        probe.close()
        for name in list(procs.procs):
            if name.startswith("real-") or name == "taxii-latency":
                procs.stop(name)
        if not cfg.keep:
            _clean(ns)


def _clean(namespace: str) -> None:
    clean_namespace(redis_url=REDIS, es_url=ES, kafka=KAFKA, namespace=namespace)
    bench_respond.clean_broker(broker=BROKER, namespace=namespace)


def _respond_figures(run: Run, e2e: E2EResult, *, mode: str) -> dict[str, Any]:
    """The respond stage's CPU share of the e2e run, its incidents and tickets, its drain."""
    final = e2e.respond.get("final") or {}
    figures = {
        **bench_respond.cpu_share(e2e.cpu, mode=mode),
        "incidents_opened": final.get("incidents"),
        "tickets_stored": final.get("tickets"),
        "drained": e2e.respond.get("drained"),
        "drain_after_searchable_s": e2e.respond.get("drain_after_searchable_s"),
        "complete_s": e2e.respond.get("complete_s"),
        "indicators": e2e.indicators,
    }
    if run.webhooks is not None:
        figures["webhooks_received"] = run.webhooks.counts()
    run.log(f"[{mode}] respond: {figures}")
    return figures


def _measured(run: Run, procs: ProcessSet, key: str, work: Callable[[], E2EResult]) -> E2EResult:
    """Run work and keep the CPU seconds each process group (and everything else) used."""
    assert procs.sampler is not None
    before = procs.sampler.snapshot()
    try:
        return work()
    finally:
        cores = os.cpu_count() or 1
        run.results[key] = cpu_between(before, procs.sampler.snapshot(), cores=cores)
        run.log(f"{key}: {run.results[key]}")


def _rate_from_samples(samples: list[dict[str, float]], indicators: int) -> float:
    if len(samples) < 2 or not samples[-1]["t"]:
        return 500.0
    return max(50.0, samples[-1]["fetched"] / max(samples[-1]["t"], 1e-6))


def _workload(run: Run, corpus: CorpusFiles) -> WorkloadSpec:
    from enrich.observables import observables_from
    from enrich.patterns import parse_pattern

    sample = [o for o in sample_objects(files=corpus, count=4000) if o["type"] == "indicator"]
    keys = [
        k.key for o in sample for k in observables_from(parsed=parse_pattern(pattern=o["pattern"]))
    ]
    countries = [p.country for p in bench_partners(run.cfg.partners)]
    return WorkloadSpec(
        config=str(run.dir / "real.yaml"),
        keys=keys,
        countries=countries,
        seed=run.cfg.seed,
        nice=run.cfg.search_nice,
    )


def _latency(run: Run, procs: ProcessSet, *, e2e_rate: float, workload: WorkloadSpec) -> None:
    """POST at 70% of the e2e rate; if the POST path cannot sustain that, again at 70% of what
    it sustained (POST to searchable): the headline latency is from the sustainable load."""
    cfg = run.cfg
    port = free_port()
    values = yaml.safe_load((run.dir / "real.yaml").read_text())
    values |= {"taxii": {"port": port, "workers": cfg.taxii_workers}}
    server_config = write_config(run.dir / "real-taxii.yaml", values)
    start_taxii_server(procs, name="taxii-latency", config=server_config, port=port)
    rate = cfg.latency_rate or 0.7 * e2e_rate
    first = _latency_run(run, procs, port=port, rate=rate, workload=workload, tag="a")
    offered = first[0]["target_rate_per_s"]
    # What the POST path sustained end to end: first POST to last searchable, as e2e counts.
    sustained = min(first[0]["achieved_rate_per_s"], first[0]["searchable_rate_per_s"])
    run.results["latency_at_e2e_load"] = first[0]
    run.results["search_ingesting_at_e2e_load"] = first[1]
    load = {"basis": "70% of the real e2e rate", "post_path_sustained_per_s": None}
    if sustained < 0.95 * offered and not cfg.latency_rate:  # it measured its queue
        load = {
            "basis": "70% of the POST path's sustained rate",
            "post_path_sustained_per_s": sustained,
        }
        run.log(f"[latency] the POST path sustained {sustained:.0f}/s of {offered:.0f}/s offered")
        first = _latency_run(
            run, procs, port=port, rate=0.7 * sustained, workload=workload, tag="b"
        )
    run.results["latency"], run.results["search_ingesting"], run.results["cpu_latency"] = first
    run.results["latency_load"] = load


def _latency_run(
    run: Run, procs: ProcessSet, *, port: int, rate: float, workload: WorkloadSpec, tag: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    cfg = run.cfg
    poster = next(p for p in bench_partners(cfg.partners) if p.id == POSTER)
    count = int(rate * cfg.latency_s * 1.2) + 100
    made = fresh_indicators(
        partner=poster,
        count=count,
        seed=cfg.seed + 7,
        tag=f"lat{tag}{run.stamp}",
        block=ord(tag) - ord("a"),  # each run's observables are new to the index
    )
    ns = run.results["namespace_real"]
    others = [p for p in bench_partners(cfg.partners) if p.country != poster.country][:2]
    chosen = bench_respond.seed_crossings(
        config=run.dir / "real.yaml",
        made=made,
        others=others,
        es_url=ES,
        index_name=f"{ns}-indicators",
        every=cfg.cross_every,
    )
    run.log(
        f"[latency] {len(chosen)} observables already reported from "
        f"{', '.join(p.country for p in others)}: {poster.country}'s POST of each crosses"
    )
    run.log(f"[latency] POSTing at {rate:.0f} indicators/s for {cfg.latency_s:.0f} s")
    background = Background(spec=workload)
    assert procs.sampler is not None
    background.prepare()  # its start-up is not part of the measured load
    before = procs.sampler.snapshot()
    try:
        latency = run_latency(
            plan=LatencyPlan(
                objects_url=f"http://127.0.0.1:{port}/shared/collections/{SHARED_FEED_ID}/objects/",
                token=TOKEN,
                rate_per_s=rate,
                duration_s=cfg.latency_s,
                es_url=ES,
                index_name=f"{run.results['namespace_real']}-indicators",
            ),
            indicators=made,
            at_half=background.start,  # first half: ingest only; second: with analysts searching
            track=frozenset(chosen),
        )
    finally:
        search = background.stop()
        cpu = cpu_between(before, procs.sampler.snapshot(), cores=os.cpu_count() or 1)
    tracked = latency.pop("_tracked")
    latency["crossing_to_ticket"] = bench_respond.crossing_latency(
        es_url=ES,
        namespace=ns,
        sent={sid: (tracked[sid], key) for sid, key in chosen.items() if sid in tracked},
        teams_per_incident=1 + len(others),
    )
    run.log(f"[latency] crossing to ticket stored: {latency['crossing_to_ticket']}")
    latency["hops"] = breakdown(
        bootstrap=KAFKA,
        namespace=run.results["namespace_real"],
        sent=latency.pop("_sent"),
        searchable=latency.pop("_searchable"),
    )
    run.log(f"[latency] per hop: {latency['hops']}")
    run.log(
        f"[latency] p50={latency['p50_s']} s p99={latency['p99_s']} s "
        f"watched missing={latency['watched_missing']}; "
        f"without search load {latency['first_half']}, "
        f"with {latency['second_half']}; accepted {latency['achieved_rate_per_s']}/s"
    )
    run.log(f"[real] search while ingesting: {search}")
    return latency, search, cpu


def phase_embedded(run: Run, procs: ProcessSet) -> None:
    """e2e on the embedded SQLite adapters (the defaults)."""
    cfg, ns = run.cfg, "benchemb"
    corpus = build_corpus(
        indicators=cfg.embedded_indicators, partners=cfg.partners, seed=cfg.seed,
        cache=cfg.out / "cache",
    )  # fmt: skip
    home = run.dir / "embedded-home"
    plan = E2EPlan(
        mode="embedded",
        corpus=corpus,
        base_config=run.base_config(namespace=ns, real=False, home=home),
        workers=cfg.workers,
        nice=cfg.worker_nice,
        poller_nice=cfg.poller_nice,
        out=run.dir,
        timeout_s=max(300.0, corpus.indicators / 100),
        respond_drain_s=cfg.respond_drain_s,
    )
    try:
        probe = EmbeddedProbe(home=home, namespace=ns)
        e2e = _measured(
            run,
            procs,
            "cpu_embedded",
            lambda: run_e2e(plan=plan, procs=procs, probe=probe, log=run.log),
        )
    finally:
        for name in list(procs.procs):
            if name.startswith("embedded-"):
                procs.stop(name)
    run.results["e2e_embedded"] = e2e.__dict__
    run.results["respond_embedded"] = _respond_figures(run, e2e, mode="embedded")
    sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in home.glob("*.db")}
    run.results["embedded_files_mb"] = sizes
    if not cfg.keep:  # hundreds of MB per run; the sizes above are what is worth keeping
        for path in home.glob("*.db*"):
            path.unlink()
    run.log(f"[embedded] {e2e.indicators_per_s} indicators/s over {e2e.elapsed_s} s; {e2e.note}")


def phase_layout(run: Run, procs: ProcessSet) -> None:
    """The same smaller corpus through one worker per stage and through the run's layout."""
    cfg = run.cfg
    corpus = build_corpus(
        indicators=cfg.layout_indicators, partners=cfg.partners, seed=cfg.seed,
        cache=cfg.out / "cache",
    )  # fmt: skip
    rows = []
    for i, workers in enumerate(({"extract": 1, "merge": 1}, cfg.workers)):
        ns = f"bench{run.stamp.replace('-', '')}l{i}"
        probe = RealProbe(kafka=KAFKA, es_url=ES, namespace=ns, broker_url=BROKER)
        plan = E2EPlan(
            mode=f"layout{i}",
            corpus=corpus,
            base_config=run.base_config(namespace=ns, real=True, home=run.dir / f"layout{i}"),
            workers=workers,
            nice=cfg.worker_nice,
            poller_nice=cfg.poller_nice,
            out=run.dir,
            timeout_s=max(300.0, corpus.indicators / 250),
        )
        try:
            e2e = run_e2e(plan=plan, procs=procs, probe=probe, log=run.log)
        finally:
            probe.close()
            for name in list(procs.procs):
                if name.startswith(f"layout{i}-"):
                    procs.stop(name)
            _clean(ns)
        rows.append(
            {"workers": workers, "indicators": e2e.indicators, "elapsed_s": e2e.elapsed_s,
             "indicators_per_s": e2e.indicators_per_s, "complete": e2e.complete}
        )  # fmt: skip
        run.log(f"[layout] {workers}: {e2e.indicators_per_s} indicators/s")
    run.results["layouts"] = rows


def phase_naive(run: Run, corpus: CorpusFiles) -> None:
    objects = sample_objects(files=corpus, count=run.cfg.baseline_objects)
    run.log(f"[naive] stix2.parse + one index request per object, {len(objects)} objects")
    run.results["naive"] = run_naive(
        objects=objects, es_url=ES, index_name=f"bench-naive-{run.stamp}", budget_s=600
    )
    run.log(f"[naive] {run.results['naive']}")


def phase_taxii(run: Run, procs: ProcessSet, corpus: CorpusFiles) -> None:
    """Our TAXII server (real ES/Redis/Kafka behind it) against medallion, same objects."""
    objects = sample_objects(files=corpus, count=run.cfg.baseline_objects)
    budget = run.cfg.taxii_budget_s
    run.log(f"[taxii] medallion: POST {len(objects)} objects in batches of 500, GET limit 1000")
    run.results["taxii_medallion"] = run_medallion(
        procs=procs, workdir=run.dir, objects=objects, batch=500, page=1000, budget_s=budget
    )
    run.log(f"[taxii] medallion: {run.results['taxii_medallion']}")
    run.results["medallion_get_scaling"] = medallion_get_scaling(
        procs=procs, workdir=run.dir, objects=objects, sizes=(250, 500, 1000)
    )
    run.log(f"[taxii] medallion GET of a whole collection: {run.results['medallion_get_scaling']}")
    ns = f"bench{run.stamp.replace('-', '')}t"
    port = free_port()
    poster = next(p for p in bench_partners(run.cfg.partners) if p.id == POSTER)
    values = run.base_config(namespace=ns, real=True, home=run.dir / "taxii-home") | {
        "partners": [poster.model_dump(mode="json") | poster_extra()[POSTER]],
        "taxii": {"port": port},
    }
    for name in bench_respond.SETTINGS_KEYS:  # the TAXII server runs no respond stage
        values.pop(name, None)
    config = write_config(run.dir / "taxii.yaml", values)

    def start() -> str:
        start_taxii_server(procs, name="taxii-ours", config=config, port=port)
        return f"http://127.0.0.1:{port}/shared/collections/{SHARED_FEED_ID}/"

    try:
        run.results["taxii_ours"] = run_ours(
            start_server=start, token=TOKEN, objects=objects, batch=500, page=1000, budget_s=budget
        )
        run.results["taxii_ours"]["backend"] = "Elasticsearch store, Redis state, Kafka raw topic"
    finally:
        procs.stop("taxii-ours")
        clean_namespace(redis_url=REDIS, es_url=ES, kafka=KAFKA, namespace=ns)
    run.log(f"[taxii] ours: {run.results['taxii_ours']}")


def main() -> int:
    """Run every phase; write bench-out/run-*/ and, for a full run, docs/benchmarks.*."""
    # SIGTERM unwinds like Ctrl-C, so every child is stopped and the namespace cleaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cfg = BenchConfig.from_env(dict(os.environ))
    run = Run(cfg)
    sampler = RssSampler().start()
    for name, pid in service_pids({"kafka": 9092, "elasticsearch": 9200, "redis": 6379}).items():
        sampler.watch(name=f"service: {name}", pid=pid)
    # This process's own work (probes, latency watcher, search load), not its children.
    sampler.watch(name="bench runner", pid=os.getpid(), children=False)
    failed = False
    try:
        with (
            bench_respond.webhook_sink() as run.webhooks,
            process_set(logs=run.dir, sampler=sampler) as procs,
        ):
            failed = _phases(run, procs)
    finally:
        sampler.stop()
        run.results["peak_rss_mb"] = dict(sorted(sampler.peak_mb.items()))
        _write(run)
    return 1 if failed else 0


def _phases(run: Run, procs: ProcessSet) -> bool:
    cfg = run.cfg
    run.results["machine"] = machine_info(repo=REPO, es_url=ES, redis_url=REDIS)
    run.log(f"corpus: {cfg.indicators} indicators, {cfg.partners} partners, seed {cfg.seed}")
    corpus = build_corpus(
        indicators=cfg.indicators, partners=cfg.partners, seed=cfg.seed, cache=cfg.out / "cache"
    )
    run.results["corpus"] = {k: getattr(corpus, k) for k in CorpusFiles.__slots__ if k != "files"}
    run.results["partners"] = [f"{p.id} ({p.country})" for p in bench_partners(cfg.partners)]
    run.log(f"corpus ready: {run.results['corpus']}")
    failed = False
    phases: tuple[tuple[str, Callable[[], None]], ...] = (
        ("real", lambda: phase_real(run, procs, corpus)),
        ("embedded", lambda: phase_embedded(run, procs)),
        ("naive", lambda: phase_naive(run, corpus)),
        ("taxii", lambda: phase_taxii(run, procs, corpus)),
        ("layout", lambda: phase_layout(run, procs)),
    )
    for name, phase in phases:
        if name not in cfg.phases:
            continue
        try:
            phase()
        except Exception:  # one broken phase must not lose the others' numbers
            failed = True
            run.log(f"phase {name} FAILED:\n{traceback.format_exc()}")
            run.notes.append(f"phase {name} failed: see run.log")
    return failed


def _write(run: Run) -> None:
    run.results["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    run.results["run_s"] = round(time.time() - run.started, 1)
    cfg = run.cfg
    command = "make bench QUICK=1" if cfg.quick else "make bench"
    extra = [
        f"{k}={v}" for k, v in os.environ.items() if k.startswith("BENCH_") and k != "BENCH_QUICK"
    ]
    run.results["command"] = " ".join([*extra, command])
    run.results["notes"] = run.notes + bench_notes.notes(results=run.results, workers=cfg.workers)
    write_outputs(run.results, folder=run.dir, full=True)  # every latency sample kept here
    if cfg.write_docs:
        write_outputs(run.results, folder=REPO / "docs", full=False)
    run.log(f"wrote {relative(run.dir)}" + (" and docs/" if cfg.write_docs else ""))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--render"] and len(sys.argv) == 3:
        sys.exit(render_saved(run_dir=Path(sys.argv[2])))
    sys.exit(main())
