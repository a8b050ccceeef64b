"""Arrival-to-searchable latency: POST to igsc's TAXII server at a fixed rate, watch the index.

Each indicator carries an observable no one reported before, so the moment its document
first matches a search is the moment it became searchable. Every SAMPLE_EVERY-th indicator
is watched: a watcher asks Elasticsearch for the oldest 1,000 pending keys every 25 ms (a
search by document id, so only refreshed documents count). Watching every indicator would
make the measurement itself a large share of the search load: thousands of ids, 40 times
a second, on a machine the ingestion already keeps busy.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from elasticsearch import Elasticsearch

from tests.benchmarks.bench_search import percentile

TAXII = "application/taxii+json;version=2.1"
_WATCH_EVERY_S = 0.025
# The oldest pending keys only: documents become searchable roughly in arrival order, and a
# query for every pending key (thousands, 40 times a second) would itself load Elasticsearch.
_MAX_TERMS = 1000
SAMPLE_EVERY = 8  # ~180 watched indicators/s at 1,450/s: ~10,000 latencies in a minute
_SENDERS = 16  # concurrent POSTs: enough that the client is not what limits the rate


@dataclass(frozen=True, slots=True)
class LatencyPlan:
    """Where to POST, how fast, for how long, and where to watch."""

    objects_url: str
    token: str
    rate_per_s: float
    duration_s: float
    es_url: str
    index_name: str
    drain_s: float = 30.0


class Watcher:
    """Records the first time each pending key is searchable."""

    def __init__(self, *, es_url: str, index_name: str) -> None:
        self._es = Elasticsearch(es_url, request_timeout=10)
        self._index = index_name
        self._lock = threading.Lock()
        self.pending: dict[str, float] = {}
        self.seen: dict[str, tuple[float, float]] = {}  # key -> (sent at, latency)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latency-watch", daemon=True)
        self.queries = 0

    def expect(self, *, keys: list[str], sent_at: float) -> None:
        with self._lock:
            for key in keys:
                self.pending.setdefault(key, sent_at)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(_WATCH_EVERY_S):
            with self._lock:
                keys = list(itertools.islice(self.pending, _MAX_TERMS))  # insertion order
            if not keys:
                continue
            # A document's id is its observable key: no _source to fetch.
            found = self._es.search(
                index=self._index,
                query={"ids": {"values": keys}},
                source=False,
                size=len(keys),
                filter_path="hits.hits._id",
            )
            now = time.time()
            self.queries += 1
            hits = found.body.get("hits", {}).get("hits", [])
            with self._lock:
                for hit in hits:
                    sent = self.pending.pop(hit["_id"], None)
                    if sent is not None:
                        self.seen[hit["_id"]] = (sent, now - sent)

    def wait_empty(self, *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self.pending:
                    return
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._es.close()


def run_latency(
    *,
    plan: LatencyPlan,
    indicators: list[tuple[dict[str, Any], tuple[str, ...]]],
    at_half: Callable[[], None] | None = None,
    track: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """POST batches on a fixed schedule; latency = first searchable - POST sent.

    `at_half` runs once half the batches are out (e.g. to start a search load), and the
    result splits the latencies into the halves before and after it. The POST sent time of
    every indicator whose id is in `track` is kept too (`_tracked`, not watched).
    """
    batch = max(5, round(plan.rate_per_s * 0.05))  # one small batch every ~50 ms
    interval = batch / plan.rate_per_s
    batches = min(int(plan.duration_s / interval), len(indicators) // batch)
    watcher = Watcher(es_url=plan.es_url, index_name=plan.index_name).start()
    post_times: list[float] = []
    failures: list[str] = []
    sent_by_id: dict[str, tuple[float, tuple[str, ...]]] = {}
    tracked: dict[str, float] = {}
    headers = {
        "Content-Type": TAXII,
        "Accept": TAXII,
        "Authorization": f"Bearer {plan.token}",
    }
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=_SENDERS))

    def post(start: int, chunk: list[tuple[dict[str, Any], tuple[str, ...]]]) -> None:
        body = orjson.dumps({"objects": [obj for obj, _ in chunk]})
        watched = [c for n, c in enumerate(chunk, start) if n % SAMPLE_EVERY == 0]
        sent = time.time()
        watcher.expect(keys=[k for _, keys in watched for k in keys], sent_at=sent)
        sent_by_id.update((obj["id"], (sent, keys)) for obj, keys in watched)
        if track:
            tracked.update((obj["id"], sent) for obj, _ in chunk if obj["id"] in track)
        reply = client.post(plan.objects_url, content=body, headers=headers)
        post_times.append(time.time() - sent)
        # Stored objects are successes, or pendings until the store's next refresh.
        status = reply.json() if reply.status_code == 202 else {}
        if status.get("success_count", 0) + status.get("pending_count", 0) != len(chunk):
            failures.append(f"{reply.status_code}: {reply.text[:200]}")

    started = time.monotonic()
    half_at = float("inf")
    try:
        with ThreadPoolExecutor(max_workers=_SENDERS, thread_name_prefix="post") as pool:
            futures = []
            for i in range(batches):
                if i == batches // 2:
                    half_at = time.time()
                    if at_half is not None:
                        at_half()
                due = started + i * interval
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(
                    pool.submit(post, i * batch, indicators[i * batch : (i + 1) * batch])
                )
            for future in futures:
                future.result()
        send_s = time.monotonic() - started
        watcher.wait_empty(timeout_s=plan.drain_s)
    finally:
        watcher.stop()
        client.close()
    latencies = sorted(lat for _, lat in watcher.seen.values())
    first = [lat for sent_at, lat in watcher.seen.values() if sent_at < half_at]
    second = [lat for sent_at, lat in watcher.seen.values() if sent_at >= half_at]
    sent = batches * batch
    # Like the e2e rate: objects over the span from the first POST to the last searchable.
    # (Watched indicators stand for every indicator posted: SAMPLE_EVERY each.)
    moments = list(watcher.seen.values())
    span_s = max(a + b for a, b in moments) - min(a for a, _ in moments) if moments else 0.0
    found = len(moments) * sent / max(1, len(moments) + len(watcher.pending))
    return {
        "target_rate_per_s": round(plan.rate_per_s, 1),
        "achieved_rate_per_s": round(sent / send_s, 1) if send_s else 0.0,
        "searchable_rate_per_s": round(found / span_s, 1) if span_s else 0.0,
        "batch_size": batch,
        "indicators_posted": sent,
        "watched_every": SAMPLE_EVERY,
        "watched_searchable": len(latencies),
        "watched_missing": len(watcher.pending),
        "post_failures": len(failures),
        "post_failure_examples": failures[:3],
        "p50_s": round(percentile(latencies, 50), 3),
        "p90_s": round(percentile(latencies, 90), 3),
        "p99_s": round(percentile(latencies, 99), 3),
        "max_s": round(latencies[-1], 3) if latencies else None,
        "first_half": _quantiles(first),
        "second_half": _quantiles(second),
        "post_p50_ms": round(1000 * percentile(post_times, 50), 1),
        "post_p99_ms": round(1000 * percentile(post_times, 99), 1),
        "watch_queries": watcher.queries,
        "latencies_s": [round(x, 4) for x in latencies],
        # For the per-hop breakdown (bench_stages); the caller takes these out of the result.
        "_sent": sent_by_id,
        "_searchable": {key: at + lat for key, (at, lat) in watcher.seen.items()},
        "_tracked": tracked,
    }


def _quantiles(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_s": round(percentile(values, 50), 3),
        "p99_s": round(percentile(values, 99), 3),
    }
