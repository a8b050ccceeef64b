"""Where arrival-to-searchable time goes: each hop, from the Kafka timestamps of every topic.

The TAXII server stamps each raw record when it publishes it, extract stamps observations,
and merge stamps the indicators topic once Elasticsearch has acknowledged the bulk. With the
POST time and the first searchable moment from the latency run, each indicator's latency
splits into: POST to raw topic, raw to observations (extract), observations to indicators
(merge and the index write), and indicators to searchable (the index refresh).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from igsc.adapters.kafka_frames import decode_frame
from tests.benchmarks.bench_search import percentile

HOPS = ("post_to_raw", "extract", "merge_and_index", "refresh")


def first_stamps(
    *, bootstrap: str, topic: str, keys: set[bytes], timeout_s: float = 30.0
) -> dict[bytes, float]:
    """The earliest Kafka timestamp (seconds) of each wanted key in the whole topic."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        return _scan(consumer, keys, timeout_s)
    finally:
        consumer.close()


def _scan(consumer: KafkaConsumer, keys: set[bytes], timeout_s: float) -> dict[bytes, float]:
    stamps: dict[bytes, float] = {}
    for polled in _batches(consumer, timeout_s):
        for message in polled:
            at = message.timestamp / 1000.0
            for key, _ in decode_frame(message.value):
                if key in keys and (key not in stamps or at < stamps[key]):
                    stamps[key] = at
    return stamps


def _batches(consumer: KafkaConsumer, timeout_s: float) -> Iterable[list[Any]]:
    empty = 0
    waited = 0.0
    while empty < 2 and waited < timeout_s:
        polled = consumer.poll(timeout_ms=1000, max_records=20_000)
        waited += 1.0 if not polled else 0.0
        empty = 0 if polled else empty + 1
        yield from polled.values()


def breakdown(
    *,
    bootstrap: str,
    namespace: str,
    sent: Mapping[str, tuple[float, tuple[str, ...]]],
    searchable: Mapping[str, float],
) -> dict[str, Any]:
    """p50/p99 seconds of each hop; `sent` maps STIX id -> (POST time, observable keys)."""
    stix_ids = {s.encode() for s in sent}
    obs_keys = {k.encode() for _, keys in sent.values() for k in keys}
    raw = first_stamps(bootstrap=bootstrap, topic=f"{namespace}.raw", keys=stix_ids)
    observed = first_stamps(bootstrap=bootstrap, topic=f"{namespace}.observations", keys=obs_keys)
    indexed = first_stamps(bootstrap=bootstrap, topic=f"{namespace}.indicators", keys=obs_keys)
    hops: dict[str, list[float]] = {h: [] for h in HOPS}
    for stix_id, (posted, keys) in sent.items():
        at_raw = raw.get(stix_id.encode())
        for key in keys:
            moments = (posted, at_raw, observed.get(key.encode()), indexed.get(key.encode()),
                       searchable.get(key))  # fmt: skip
            if any(m is None for m in moments):
                continue
            for hop, start, end in zip(HOPS, moments, moments[1:], strict=False):
                hops[hop].append(end - start)  # type: ignore[operator]
    return {
        hop: {
            "n": len(values),
            "p50_s": round(percentile(values, 50), 3),
            "p99_s": round(percentile(values, 99), 3),
        }
        for hop, values in hops.items()
    }


def hops_table(results: dict[str, Any]) -> str:
    """p50/p99 of each hop of the headline latency run and of the run at the e2e load."""
    runs = [
        ("headline latency run", results.get("latency") or {}),
        ("at 70% of the e2e rate", results.get("latency_at_e2e_load") or {}),
    ]
    rows = ["| run | hop | p50 (s) | p99 (s) |", "|---|---|---|---|"]
    for label, run in runs:
        for hop, q in (run.get("hops") or {}).items():
            rows.append(f"| {label} | {hop.replace('_', ' ')} | {q['p50_s']} | {q['p99_s']} |")
    return "\n".join(rows) if len(rows) > 2 else "No per-hop breakdown in this run."
