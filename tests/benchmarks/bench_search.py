"""Analyst queries on the indicators index through the Index port: exact, faceted, free text."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from enrich.lookup import candidate_keys, lookup_observable
from enrich.schema import INDICATORS
from igsc.errors import RejectedInput
from igsc.ports import Index, SearchQuery
from igsc.tlp import Tlp

KINDS = ("exact", "country_facets", "free_text")
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

    def __init__(self, *, index: Index, keys: list[str], countries: list[str], seed: int) -> None:
        self._index = index
        self._keys = keys
        self._typed = [typed_text(key=k) for k in keys]
        self._countries = countries
        self._rng = random.Random(seed)

    def _exact(self) -> Any:
        # One lookup in ten is for an observable nobody reported.
        text = self._rng.choice(self._typed)
        if self._rng.random() < 0.1:
            text = f"absent-{self._rng.getrandbits(40)}.example"
        return lookup_observable(index=self._index, text=text, clearance=Tlp.RED)

    def _exact_search(self) -> Any:
        """The lookup as it was before enrich.lookup: a terms search on `key`, for comparison."""
        key = self._rng.choice(self._keys)
        if self._rng.random() < 0.1:
            key = f"domain-name|absent-{self._rng.getrandbits(40)}.example"
        return self._index.search(schema=INDICATORS, query=SearchQuery(terms={"key": [key]}))

    def _country(self) -> Any:
        query = SearchQuery(terms={"countries": [self._rng.choice(self._countries)]}, size=20)
        self._index.search(schema=INDICATORS, query=query)
        return self._index.facets(schema=INDICATORS, field="kind", query=query)

    def _text(self) -> Any:
        query = SearchQuery(text=self._rng.choice(_WORDS), size=20)
        return self._index.search(schema=INDICATORS, query=query)

    def timed(self, kind: str) -> float:
        """Seconds one query of this kind took."""
        run: Callable[[], Any] = {
            "exact": self._exact,
            "exact_search": self._exact_search,
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


class Background:
    """Queries in a loop (one every pause_s) until stopped, e.g. while ingestion runs."""

    def __init__(self, *, workload: Workload, pause_s: float = 0.05, limit: int = 20_000) -> None:
        self._workload = workload
        self._pause_s = pause_s
        self._limit = limit
        self._stop = threading.Event()
        self.times: dict[str, list[float]] = {k: [] for k in KINDS}
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="search-load", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        done = 0
        while not self._stop.is_set() and done < self._limit:
            for kind in KINDS:
                try:
                    self.times[kind].append(self._workload.timed(kind))
                except Exception:  # a failed query is counted, not fatal to the benchmark
                    self.errors += 1
                done += 1
                if self._stop.wait(self._pause_s):
                    return

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        if self._thread.ident is not None:  # it may never have been started
            self._thread.join(timeout=30)
        return {k: summary_ms(v) for k, v in self.times.items()}
