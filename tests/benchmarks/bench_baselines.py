"""Baselines measured in the same run: a naive pipeline, and medallion beside our TAXII server.

* naive: `stix2.parse` per object and one Elasticsearch index request per document (how
  IntelMQ's Elasticsearch output works), then a refresh so everything is searchable.
* TAXII servers: the same objects POSTed in batches to each server with taxii2-client, then
  the whole collection read back with `as_pages` (limit per page) — same client, same data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import stix2
from elasticsearch import Elasticsearch
from taxii2client.common import TokenAuth
from taxii2client.v21 import Collection, as_pages

from tests.benchmarks.bench_procs import ProcessSet, free_port, wait_http
from tests.support.medallion_files import medallion_argv, write_medallion_files

MEDALLION_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"


def run_naive(
    *, objects: list[dict[str, Any]], es_url: str, index_name: str, budget_s: float
) -> dict[str, Any]:
    """Parse each object with stix2 and index it with its own request; objects per second."""
    es = Elasticsearch(es_url, request_timeout=30)
    es.options(ignore_status=400).indices.create(index=index_name)
    done = indicators = 0
    started = time.perf_counter()
    try:
        for obj in objects:
            parsed = stix2.parse(obj, allow_custom=True)
            doc = {
                "stix_id": parsed.id,
                "type": parsed.type,
                "pattern": parsed.get("pattern"),
                "name": parsed.get("name"),
                "created_by_ref": parsed.get("created_by_ref"),
                "valid_from": str(parsed.get("valid_from", "")) or None,
                "labels": list(parsed.get("labels", [])),
                "markings": list(parsed.get("object_marking_refs", [])),
            }
            es.index(index=index_name, id=parsed.id, document=doc)
            done += 1
            indicators += obj["type"] == "indicator"
            if time.perf_counter() - started > budget_s:
                break
        es.indices.refresh(index=index_name)
        elapsed = time.perf_counter() - started
        searchable = int(es.count(index=index_name)["count"])
    finally:
        es.options(ignore_status=404).indices.delete(index=index_name)
        es.close()
    return {
        "objects": done,
        "indicators": indicators,
        "searchable": searchable,
        "elapsed_s": round(elapsed, 2),
        "objects_per_s": round(done / elapsed, 1),
        "indicators_per_s": round(indicators / elapsed, 1),
        "complete": done == len(objects),
    }


_SETTLE_S = 2.0


def post_then_page(
    *, collection: Collection, objects: list[dict[str, Any]], batch: int, page: int, budget_s: float
) -> dict[str, Any]:
    """POST in batches, then read everything back page by page; each half bounded by budget_s.

    A request still running when the budget ends is abandoned (its server is stopped by the
    caller) and the rate counts only what completed, reported with `bounded: true`.
    """
    posted = _bounded(lambda tally: _post_all(collection, objects, batch, tally), budget_s)
    # igsc answers a POST before the store's next refresh (index.refresh_ms); the reads start
    # once that has passed, so they see every object (medallion needs no wait; it costs it none).
    time.sleep(_SETTLE_S)
    read = _bounded(lambda tally: _read_all(collection, page, tally), budget_s)
    return {
        "posted": posted["done"],
        "succeeded": posted["ok"],
        "post_s": posted["elapsed_s"],
        "post_objects_per_s": posted["rate"],
        "post_bounded": posted["bounded"],
        "read": read["done"],
        "pages": read["ok"],
        "get_s": read["elapsed_s"],
        "get_objects_per_s": read["rate"] if read["done"] else None,
        "get_bounded": read["bounded"],
        # No page came back within the budget: the rate is at most one page per budget.
        "get_upper_bound_per_s": round(page / read["elapsed_s"], 1) if not read["done"] else None,
        "complete": posted["done"] == len(objects) and read["done"] == posted["ok"],
    }


def _post_all(
    collection: Collection, objects: list[dict[str, Any]], batch: int, tally: dict[str, int]
) -> None:
    for i in range(0, len(objects), batch):
        chunk = objects[i : i + batch]
        status = collection.add_objects({"objects": chunk}, wait_for_completion=False)
        tally["done"] += len(chunk)
        # Stored objects are successes, or pendings until the store's next refresh.
        tally["ok"] += int(status.success_count) + int(status.pending_count)


def _read_all(collection: Collection, page: int, tally: dict[str, int]) -> None:
    for envelope in as_pages(collection.get_objects, per_request=page):
        tally["done"] += len(envelope.get("objects", []))
        tally["ok"] += 1


def _bounded(work: Callable[[dict[str, int]], None], budget_s: float) -> dict[str, Any]:
    """Run work in a thread for at most budget_s; objects per second over what completed."""
    tally = {"done": 0, "ok": 0}
    errors: list[BaseException] = []

    def target() -> None:
        try:
            work(tally)
        except BaseException as exc:  # reported by the caller's thread below
            errors.append(exc)

    started = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(budget_s)
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    bounded = thread.is_alive()
    return {
        "done": tally["done"],
        "ok": tally["ok"],
        "elapsed_s": round(elapsed, 2),
        "rate": round(tally["done"] / elapsed, 1) if elapsed else 0.0,
        "bounded": bounded,
    }


def run_medallion(
    *,
    procs: ProcessSet,
    workdir: Path,
    objects: list[dict[str, Any]],
    batch: int,
    page: int,
    budget_s: float,
) -> dict[str, Any]:
    """medallion 3 (memory backend, its reference server) started empty, then post_then_page."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_medallion_files(
        workdir=workdir,
        base=base,
        api_root="bench",
        collection={"id": MEDALLION_COLLECTION, "title": "bench", "objects": [], "manifest": []},
        users={"bench": "bench-password"},
        page_size=page,
        max_content_length=10**9,
        session_timeout_s=3600,
    )
    argv = medallion_argv(port=port, config=config)
    proc = procs.start(name="medallion", argv=argv)
    try:
        wait_http(f"{base}/taxii2/", proc=proc)
        url = f"{base}/bench/collections/{MEDALLION_COLLECTION}/"
        collection = Collection(url, user="bench", password="bench-password")
        return post_then_page(
            collection=collection, objects=objects, batch=batch, page=page, budget_s=budget_s
        )
    finally:
        procs.stop("medallion")


def run_ours(
    *,
    start_server: Callable[[], str],
    token: str,
    objects: list[dict[str, Any]],
    batch: int,
    page: int,
    budget_s: float,
) -> dict[str, Any]:
    """igsc's TAXII server (started by start_server, which returns the collection URL)."""
    collection = Collection(start_server(), auth=TokenAuth(token))
    return post_then_page(
        collection=collection, objects=objects, batch=batch, page=page, budget_s=budget_s
    )


def medallion_get_scaling(
    *, procs: ProcessSet, workdir: Path, objects: list[dict[str, Any]], sizes: tuple[int, ...]
) -> list[dict[str, Any]]:
    """Seconds medallion takes to answer one GET of a whole small collection, per size."""
    out = []
    for size in sizes:
        folder = workdir / f"medallion-{size}"
        folder.mkdir(exist_ok=True)
        done = run_medallion(
            procs=procs, workdir=folder, objects=objects[:size], batch=500, page=1000, budget_s=60
        )
        out.append({"objects": size, "get_s": done["get_s"], "pages": done["pages"]})
    return out
