"""The notes under the benchmark table: how each figure was measured, on what."""

from __future__ import annotations

from typing import Any

from tests.benchmarks.bench_corpus import OVERLAP
from tests.benchmarks.bench_latency import SAMPLE_EVERY
from tests.benchmarks.bench_respond import CROSS_EVERY


def _scaling(results: dict[str, Any]) -> str:
    rows = results.get("medallion_get_scaling") or []
    return ", ".join(f"{row['objects']:,} objects {row['get_s']} s" for row in rows) or "n/a"


def _respond(r: dict[str, Any]) -> list[str]:
    cross_every = (r.get("config") or {}).get("cross_every", CROSS_EVERY)
    out = [
        "Respond: the shipped example rules and playbooks (igsc/app/config_example.yaml: "
        "cross-border-campaign = 3 distinct countries within 24 h, critical-infrastructure, "
        "ransomware-technique) and one on-call team per bench partner country (clearance "
        "amber), each with the ticket store and a signed webhook to a receiver in the bench "
        "runner that verifies every signature. The e2e runs include `igsc worker respond` "
        "(reading merge's indicators topic), `igsc worker respond-threats` and, in real "
        "mode, `celery -A respond.celery_app worker --pool=solo` processes (loglevel "
        "WARNING; BENCH_WORKERS celery=N) for ticket "
        "and delivery tasks through Redis; embedded, the tasks run inside the respond worker. "
        "The other two shipped rules never match this corpus (its sightings name no sector, "
        "its indicators no ATT&CK technique) but are evaluated. The corpus crosses borders "
        f"by itself: the {int(100 * OVERLAP)}% overlap of each partner's indicators are "
        "observables every bench partner reports, so each opens one cross-border incident "
        "(and the fourth country updates it). Respond CPU share = (respond worker + Celery "
        "worker core-s) / (poller + extract + merge core-s) over the same e2e run, including "
        "respond's drain after the last document was searchable: what respond adds per "
        "indicator. The e2e time (indicators/s) still stops when the last document is "
        "searchable; respond's drain after that is shown on its own.",
        f"Crossing → ticket stored (latency phase): one in {cross_every} POSTed indicators "
        "names an observable that two partners in two other countries reported just before "
        "the phase (published to the raw topic and waited for until searchable), so its POST "
        "is the third country: the crossing. Latency = the moment the last of the incident's "
        "tickets (one per affected team, 3) was stored (the ticket's `store` delivery record, "
        "written by the Celery worker after the ticket's compare-and-set in Redis and its "
        "mirror in the tickets index) minus the moment the crossing report's POST was sent (one "
        "machine, one clock). The JSON also has it from the incident's opened_at (the crossing "
        "report's arrival time at the TAXII server) and to the webhook's delivery.",
    ]
    real = r.get("respond_real") or {}
    if real and not real.get("drained", True):
        out.append(
            "The respond stage did not drain within BENCH_RESPOND_DRAIN_S in the real run: its "
            "CPU share is a lower bound, and the "
            f"{real.get('tasks_dropped_before_latency', 0):,} Celery tasks still waiting were "
            "dropped before the latency phase, so that phase measures its own tickets."
        )
    return out


def notes(*, results: dict[str, Any], workers: dict[str, int]) -> list[str]:
    """What a reader needs to know to interpret the table."""
    r = results
    out: list[str] = []
    for key, label in (("cpu_real", "real e2e run"), ("cpu_embedded", "embedded e2e run")):
        cpu = r.get(key) or {}
        if cpu and cpu["other_processes_core_s"] > 0.05 * cpu["capacity_core_s"]:
            share = 100 * cpu["other_processes_core_s"] / cpu["capacity_core_s"]
            out.append(
                f"Other processes on this shared machine (not the benchmark) used {share:.0f}% "
                f"of its CPU during the {label}; on an otherwise idle machine the figures of "
                "CPU-bound phases would be higher. See the CPU table."
            )
    real = r.get("e2e_real") or {}
    if real and real.get("indicators", 0) < 1_000_000:
        out.append(
            f"The real run used {real.get('indicators'):,} indicators, not 1,000,000 (QUICK=1 "
            "or BENCH_INDICATORS)."
        )
    emb = r.get("e2e_embedded") or {}
    if emb and emb.get("indicators") != real.get("indicators"):
        out.append(
            f"The embedded run used {emb.get('indicators'):,} indicators "
            "(BENCH_EMBEDDED_INDICATORS): it is a rate, and a smaller embedded run keeps the "
            "whole benchmark within about 20 minutes."
        )
    for row in r.get("layouts") or []:
        out.append(
            f"Worker layout check on {row['indicators']:,} indicators (real services, same run): "
            f"{row['workers']} -> {row['indicators_per_s']:,} indicators/s."
        )
    out.append(
        f"Workers per stage: {workers}; stream batch size 2000, 4 partitions; "
        "poller page size 1000. Each stage is an `igsc worker` process; the poller is "
        "`poll_all_once` in its own process; each partner's feed is a separate process."
    )
    out.append(
        "e2e time = first objects page served by any feed → the index `_count` reaches the "
        "number of unique observables in the corpus (checked against the pipeline's parser)."
    )
    out.append(
        "Latency: fresh indicators (observables not in the corpus) POSTed to igsc's TAXII "
        "server (uvicorn child, ES store, Kafka raw topic) in small batches offered at 70% of "
        "the measured real e2e rate by 16 client threads (latency counts from the moment a "
        "POST is sent). A POSTed object costs more than a polled one (the server also stores "
        "it in its own TAXII collection index, which readers page), so "
        "when the POST path sustains less than 95% of that offer (sustained = indicators over "
        "the span from the first POST to the last searchable, as the e2e rate counts), the run "
        "measured its queue, not its latency: it is shown, and the phase runs again at 70% of "
        "that sustained rate, which gives the headline latency. All on the index the e2e run "
        f"built; every {SAMPLE_EVERY}th indicator is watched: a watcher asks Elasticsearch "
        "for the oldest 1,000 pending of them by document id every 25 ms (watching all would "
        "make the measurement a large share of the search load). The search load runs "
        "during the second half only, so the JSON splits latency into halves without and "
        "with it."
    )
    out += _respond(r)
    out.append(
        "Search: exact = an analyst lookup (`enrich.lookup.lookup_observable`: the value as "
        "typed, canonicalised, then read from the dedup state in Redis and rebuilt with the "
        "pipeline's enrichers into the document merge indexed, `enrich.merged_records`; 10% "
        "absent observables); the same lookup answered by an Elasticsearch GET is shown for "
        "comparison; country = terms on `countries`, first page and a `kind` facet over all "
        "matches (one request, through the Index port); "
        "free text = simple_query_string on the text fields. 'While ingesting' runs during "
        "the second half of the latency phase, from a process of its own: a search-cluster "
        "query (GET, country, free text in turn) every 67 ms plus its own time, each preceded "
        "by an exact lookup."
    )
    if r.get("naive"):
        out.append(
            f"Naive baseline on a {r['naive'].get('objects'):,}-object sample of the same corpus, "
            "read from memory (no TAXII fetch, no dedup, no enrichment), favouring the baseline."
        )
    if r.get("taxii_medallion"):
        out.append(
            "medallion 3.0.0 runs its memory backend (its reference backend; add-objects scans "
            "the collection per object). Ours stores in Elasticsearch, keeps state in Redis and "
            "publishes every object to Kafka. Same taxii2-client, batches of 500, GET limit 1000. "
            "medallion's memory backend answers a GET in time quadratic in the collection size "
            f"(one page of a whole collection: {_scaling(r)}), so on the baseline sample its "
            "GET is bounded by BENCH_TAXII_BUDGET_S; when no page came back in that time the "
            "table shows the upper bound (one page per budget)."
        )
    config = r.get("config") or {}
    nice = config.get("worker_nice")
    poller = config.get("poller_nice", nice)
    if nice or poller:
        out.append(
            f"Pipeline workers ran at nice {nice} (`igsc worker --nice`) and the poller at nice "
            f"{poller}, as the README advises when they share a host with Elasticsearch; the "
            "TAXII server, Elasticsearch, Kafka and Redis ran at normal priority."
        )
    search = config.get("search_nice")
    if search:
        out.append(
            f"The analyst query process (the search load while ingesting) ran at nice {search}: "
            "the priority an analyst-facing API gets on a host it shares with ingestion."
        )
    out.append(f"Dedup state: {(r.get('dedup') or {}).get('method', 'not measured')}.")
    return out
