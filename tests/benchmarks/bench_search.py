"""Analyst queries on the indicators index through the Index port: exact, faceted, free text."""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from enrich.lookup import candidate_keys, lookup_observable
from enrich.merged_records import MergedRecords
from enrich.schema import INDICATORS
from igsc.enrich_settings import EnrichSettings
from igsc.errors import RejectedInput
from igsc.ports import Index, SearchQuery
from igsc.tlp import Tlp

KINDS = ("exact", "exact_index", "country_facets", "free_text")
# The background load: an exact lookup before each search-cluster query, so its percentiles
# rest on three times as many samples. The pauses follow the search-cluster queries only and
# add up to one pause_s per KINDS entry per loop, so the cluster gets its queries at the same
# rate as when each kind ran once per loop with a pause after every query.
_LOOP = ("exact", "exact_index", "exact", "country_facets", "exact", "free_text")
_PAUSES_PER_LOOP = len(KINDS) / sum(kind != "exact" for kind in _LOOP)
_HALF_LIFE_DAYS = EnrichSettings().decay_half_life_days
_WORDS = ("login", "secure", "update", "cdn", "mail", "phish", "bad", "example3.com")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank on sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(values: list[float]) -> dict[str, float]:
    """p50/p95/p99/mean of durations given in seconds, in milliseconds."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_ms": round(1000 * percentile(values, 50), 2),
        "p95_ms": round(1000 * percentile(values, 95), 2),
        "p99_ms": round(1000 * percentile(values, 99), 2),
        "mean_ms": round(1000 * statistics.fmean(values), 2),
    }


def typed_text(*, key: str) -> str:
    """What an analyst types for a key: its value, or the key when the value implies no kind."""
    value = key.partition("|")[2]
    try:
        return value if key in candidate_keys(text=value) else key
    except RejectedInput:
        return key


class Workload:
    """Draws typical queries and times them, one at a time."""

    def __init__(
        self,
        *,
        index: Index,
        records: MergedRecords | None,
        keys: list[str],
        countries: list[str],
        seed: int,
    ) -> None:
        self._index = index
        self._records = records
        self._typed = [typed_text(key=k) for k in keys]
        self._countries = countries
        self._rng = random.Random(seed)

    def _typed_or_absent(self) -> str:
        # One lookup in ten is for an observable nobody reported.
        if self._rng.random() < 0.1:
            return f"absent-{self._rng.getrandbits(40)}.example"
        return self._rng.choice(self._typed)

    def _exact(self) -> Any:
        """An analyst's lookup as igsc serves it: from the dedup state (MergedRecords)."""
        text = self._typed_or_absent()
        return lookup_observable(
            index=self._index,
            text=text,
            clearance=Tlp.RED,
            records=self._records,
            half_life_days=_HALF_LIFE_DAYS,
        )

    def _exact_index(self) -> Any:
        """The same lookup answered by an Elasticsearch GET, for comparison."""
        text = self._typed_or_absent()
        return lookup_observable(
            index=self._index, text=text, clearance=Tlp.RED, half_life_days=_HALF_LIFE_DAYS
        )

    def _country(self) -> Any:
        """A country's indicators, first page, with the count of each kind among them."""
        country = self._rng.choice(self._countries)
        query = SearchQuery(terms={"countries": [country]}, size=20, facets=("kind",))
        return self._index.search(schema=INDICATORS, query=query)

    def _text(self) -> Any:
        query = SearchQuery(text=self._rng.choice(_WORDS), size=20)
        return self._index.search(schema=INDICATORS, query=query)

    def timed(self, kind: str) -> float:
        """Seconds one query of this kind took."""
        run: Callable[[], Any] = {
            "exact": self._exact,
            "exact_index": self._exact_index,
            "country_facets": self._country,
            "free_text": self._text,
        }[kind]
        started = time.perf_counter()
        run()
        return time.perf_counter() - started


def run_idle(*, workload: Workload, per_kind: int) -> dict[str, dict[str, float]]:
    """per_kind queries of each kind, interleaved, nothing else running."""
    for kind in KINDS:  # warm caches and connections; not measured
        for _ in range(5):
            workload.timed(kind)
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    for _ in range(per_kind):
        for kind in KINDS:
            times[kind].append(workload.timed(kind))
    return {k: summary_ms(v) for k, v in times.items()}


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """What a Workload needs, in a form another process can receive."""

    config: str  # the pipeline's igsc config file: the same index, state and enrichers
    keys: list[str]
    countries: list[str]
    seed: int
    nice: int = 0  # the analyst query process's CPU priority (negative: above ingestion)

    def build(self) -> Workload:
        """The workload, with its own Elasticsearch and Redis clients."""
        from enrich.pipeline import enrichers_for
        from igsc.settings import load_settings
        from igsc.wiring import build_index, build_state

        settings = load_settings(config_file=Path(self.config))
        records = MergedRecords(state=build_state(settings), enrichers=enrichers_for(settings))
        return Workload(
            index=build_index(settings),
            records=records,
            keys=self.keys,
            countries=self.countries,
            seed=self.seed,
        )


def _query_loop(
    spec: WorkloadSpec, pause_s: float, limit: int, signals: tuple[Any, Any, Any], out: Any
) -> None:
    """Child process: set up, report ready, wait for go, then query until stop is set."""
    ready, go, stop = signals
    if spec.nice:
        os.nice(spec.nice)  # a negative value needs root or CAP_SYS_NICE: fail loudly if not
    workload = spec.build()
    ready.set()
    go.wait()
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    errors = done = 0
    while not stop.is_set() and done < limit:
        for kind in _LOOP:
            try:
                times[kind].append(workload.timed(kind))
            except Exception:  # a failed query is counted, not fatal to the benchmark
                errors += 1
            done += 1
            if kind != "exact" and stop.wait(pause_s * _PAUSES_PER_LOOP):
                break
    out.send((times, errors))


class Background:
    """Queries in a loop (see _LOOP: a search-cluster query every pause_s x 4/3, each after
    an exact lookup) in a process of its own until stopped.

    An analyst is a separate client: measured inside the benchmark process, a query would
    also wait for the GIL behind the POST and watcher threads of the latency phase. The
    process starts and sets itself up in `prepare`, before the measured load: its start-up
    (imports, clients) at its raised priority would otherwise be a burst inside it.
    """

    def __init__(self, *, spec: WorkloadSpec, pause_s: float = 0.05, limit: int = 20_000) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._ready, self._go, self._stop = ctx.Event(), ctx.Event(), ctx.Event()
        self._receive, send = ctx.Pipe(duplex=False)
        signals = (self._ready, self._go, self._stop)
        self._proc = ctx.Process(
            target=_query_loop, args=(spec, pause_s, limit, signals, send), daemon=True
        )
        self.times: dict[str, list[float]] = {k: [] for k in KINDS}
        self.errors = 0

    def prepare(self, *, timeout_s: float = 120.0) -> None:
        """Start the process and wait until it is ready to query."""
        self._proc.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"the analyst query process was not ready in {timeout_s:.0f} s")

    def start(self) -> None:
        """Begin querying (prepare first)."""
        self._go.set()

    def stop(self) -> dict[str, dict[str, float]]:
        """Stop querying; the times of each kind, summarised."""
        self._stop.set()
        self._go.set()  # a process still waiting to begin sees stop and reports nothing
        if self._proc.pid is not None:  # it may never have been started
            if self._receive.poll(60):
                self.times, self.errors = self._receive.recv()
            self._proc.join(timeout=30)
        return {k: summary_ms(v) for k, v in self.times.items()}
