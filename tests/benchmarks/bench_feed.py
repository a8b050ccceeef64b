"""A small, fast, in-memory TAXII 2.1 feed that serves one partner's corpus to the poller.

Run as `python -m tests.benchmarks.bench_feed --objects FILE --collection ID`: it binds
127.0.0.1 on a free port and prints `READY <port>`. Objects are pre-serialised (one JSON
object per line of FILE) and each gets a unique microsecond date_added, so a page is a
bisect plus one bytes join: the feed side is never the bottleneck. `GET /stats` (not TAXII)
reports when the first and last objects page was served.
"""

from __future__ import annotations

import argparse
import bisect
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
_BASE = datetime(2026, 11, 1, tzinfo=UTC)
_MAX_LIMIT = 5000


def stamp(i: int) -> str:
    """The date_added of object number i: unique and increasing, microsecond precision."""
    return (_BASE + timedelta(microseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Feed:
    """The collection's content and the pre-serialised resources around it."""

    def __init__(self, *, objects: list[bytes], collection: str, title: str) -> None:
        self.objects = objects
        self.dates = [stamp(i) for i in range(len(objects))]
        self.collection = collection
        self.title = title
        self.lock = threading.Lock()
        self.first_page_at: float | None = None
        self.last_page_at: float | None = None
        self.pages = 0
        self.served = 0

    def resource(self, path: str, base: str) -> bytes | None:
        """Discovery, API root, collections and collection resources by path."""
        coll = {
            "id": self.collection,
            "title": self.title,
            "can_read": True,
            "can_write": False,
            "media_types": [STIX],
        }
        table = {
            "/taxii2/": {
                "title": self.title,
                "default": f"{base}/api/",
                "api_roots": [f"{base}/api/"],
            },
            "/api/": {"title": self.title, "versions": [TAXII], "max_content_length": 10**8},
            "/api/collections/": {"collections": [coll]},
            f"/api/collections/{self.collection}/": coll,
        }
        found = table.get(path)
        return orjson.dumps(found) if found is not None else None

    def page(self, query: dict[str, list[str]]) -> tuple[bytes, dict[str, str]]:
        """One objects page: `added_after` and `next` (an offset) with `limit`."""
        after = query.get("added_after", [""])[0]
        limit = max(1, min(int(query.get("limit", ["100"])[0]), _MAX_LIMIT))
        start = bisect.bisect_right(self.dates, after) if after else 0
        start = max(start, int(query.get("next", ["0"])[0] or 0))
        end = min(start + limit, len(self.objects))
        more = end < len(self.objects)
        head = (
            b'{"more":true,"next":"%d","objects":[' % end if more else b'{"more":false,"objects":['
        )
        body = head + b",".join(self.objects[start:end]) + b"]}"
        headers = {}
        if end > start:
            headers = {
                "X-TAXII-Date-Added-First": self.dates[start],
                "X-TAXII-Date-Added-Last": self.dates[end - 1],
            }
        now = time.time()
        with self.lock:
            self.first_page_at = self.first_page_at or now
            self.last_page_at = now
            self.pages += 1
            self.served += end - start
        return body, headers

    def stats(self) -> bytes:
        """Timing and counts of what was served."""
        with self.lock:
            return orjson.dumps(
                {
                    "first_page_at": self.first_page_at,
                    "last_page_at": self.last_page_at,
                    "pages": self.pages,
                    "objects_served": self.served,
                    "objects": len(self.objects),
                }
            )


def make_handler(feed: Feed) -> type[BaseHTTPRequestHandler]:
    """A keep-alive HTTP/1.1 handler over the feed."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            base = f"http://{self.headers.get('Host', '127.0.0.1')}"
            headers: dict[str, str] = {}
            if parts.path == "/stats":
                body: bytes | None = feed.stats()
            elif parts.path == f"/api/collections/{feed.collection}/objects/":
                body, headers = feed.page(parse_qs(parts.query))
            else:
                body = feed.resource(parts.path, base)
            if body is None:
                self._send(404, b'{"title":"not found","http_status":"404"}', {})
            else:
                self._send(200, body, headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", TAXII)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    """Serve one feed until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", required=True, help="file with one JSON object per line")
    parser.add_argument("--collection", required=True)
    parser.add_argument("--title", default="bench feed")
    args = parser.parse_args(argv)
    with open(args.objects, "rb") as handle:
        objects = [line.rstrip(b"\n") for line in handle if line.strip()]
    feed = Feed(objects=objects, collection=args.collection, title=args.title)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(feed))
    server.daemon_threads = True
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


@dataclass
class FeedProcess:
    """A running feed server process."""

    proc: subprocess.Popen[bytes]
    port: int

    @property
    def discovery_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/taxii2/"

    def stats(self) -> dict[str, Any]:
        """The feed's /stats resource."""
        import requests

        reply = requests.get(f"http://127.0.0.1:{self.port}/stats", timeout=10)
        reply.raise_for_status()
        data: dict[str, Any] = reply.json()
        return data


@contextmanager
def feed_processes(
    *,
    files: list[Path],
    collection: str,
    log: Path,
    on_start: Callable[[str, int], None] | None = None,
) -> Iterator[list[FeedProcess]]:
    """One feed server process per file; all stopped on exit, even on failure."""
    started: list[FeedProcess] = []
    try:
        for path in files:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.benchmarks.bench_feed", "--objects", str(path),
                 "--collection", collection, "--title", path.stem],
                stdout=subprocess.PIPE, stderr=log.open("ab"),
            )  # fmt: skip
            started.append(FeedProcess(proc=proc, port=_ready_port(proc, timeout_s=120)))
            if on_start is not None:  # e.g. to sample its memory and CPU
                on_start(f"feed-{path.stem}", proc.pid)
        yield started
    finally:
        for feed in started:
            feed.proc.terminate()
        for feed in started:
            try:
                feed.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                feed.proc.kill()
                feed.proc.wait()


def _ready_port(proc: subprocess.Popen[bytes], *, timeout_s: float) -> int:
    assert proc.stdout is not None
    result: list[int] = []

    def read() -> None:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if line.startswith("READY "):
            result.append(int(line.split()[1]))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    if not result:
        proc.kill()
        raise RuntimeError(f"feed server did not start within {timeout_s} s")
    return result[0]


if __name__ == "__main__":
    sys.exit(main())
