"""Real local HTTP peers for poll tests: a scriptable TAXII server and a medallion process."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from igsc.settings import Settings, load_settings
from tests.support.medallion_files import medallion_argv, write_medallion_files

TAXII = "application/taxii+json;version=2.1"
COLLECTION = "365fed99-08fa-fdcd-a1b3-fb247eb41d01"


def indicator(n: int, **extra: Any) -> dict[str, Any]:
    """A valid STIX 2.1 indicator, distinct per n."""
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=n + 1)}",
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": f"indicator {n}",
        "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    obj.update(extra)
    return obj


@dataclass(frozen=True)
class Seen:
    """One request a local server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    """What a local server answers."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] = b""
    headers: dict[str, str | None] = field(default_factory=dict)
    delay_s: float = 0.0


App = Callable[[Seen], Reply]


class LocalServer:
    """A threaded HTTP server on a loopback address and a free port, answering via `app`."""

    def __init__(self, app: App, *, host: str = "127.0.0.1") -> None:
        self.app = app
        self.seen: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer._handle(self, "GET")

            def do_POST(self) -> None:
                outer._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        seen = Seen(method, parts.path, parse_qs(parts.query), dict(handler.headers.items()))
        self.seen.append(seen)
        reply = self.app(seen)
        if reply.delay_s:
            time.sleep(reply.delay_s)
        body = reply.body
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        try:
            handler.send_response(reply.status)
            headers = {"Content-Type": TAXII, **reply.headers}
            for name, value in headers.items():
                if value is not None:  # None: leave the header out
                    handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass  # the client gave up (timeout): nothing to answer

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _stamp(i: int) -> str:
    base = datetime(2024, 5, 1, tzinfo=UTC) + timedelta(milliseconds=i)
    return base.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TinyTaxii:
    """A small compliant TAXII 2.1 server: discovery, one API root, one collection, paging."""

    def __init__(self, objects: list[dict[str, Any]], *, collection: str = COLLECTION) -> None:
        self.collection = collection
        self.rows = [(_stamp(i), o) for i, o in enumerate(objects)]
        self.base = ""  # set by the test once the server's port is known
        self.last_header: str | None = None

    def add(self, objects: list[dict[str, Any]]) -> None:
        start = len(self.rows)
        self.rows += [(_stamp(start + i), o) for i, o in enumerate(objects)]

    def __call__(self, seen: Seen) -> Reply:
        path = seen.path
        if path == "/taxii2/":
            return Reply(body={"title": "tiny", "api_roots": [f"{self.base}/api/"]})
        if path == "/api/":
            return Reply(body={"title": "api", "versions": [TAXII], "max_content_length": 10**7})
        if path == "/api/collections/":
            return Reply(body={"collections": [self._collection()]})
        if path == f"/api/collections/{self.collection}/":
            return Reply(body=self._collection())
        if path == f"/api/collections/{self.collection}/objects/":
            return self._objects(seen.query)
        return Reply(status=404, body={"title": "not found"})

    def _collection(self) -> dict[str, Any]:
        return {"id": self.collection, "title": "c", "can_read": True, "can_write": False}

    def _objects(self, query: dict[str, list[str]]) -> Reply:
        after = query.get("added_after", [""])[0]
        limit = int(query.get("limit", ["100"])[0])
        offset = int(query.get("next", ["0"])[0])
        rows = [r for r in self.rows if not after or r[0] > after]
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        body: dict[str, Any] = {"more": more, "objects": [o for _, o in page]}
        if more:
            body["next"] = str(offset + limit)
        headers = {}
        if page:
            headers = {
                "X-TAXII-Date-Added-First": page[0][0],
                "X-TAXII-Date-Added-Last": page[-1][0],
            }
            self.last_header = page[-1][0]
        return Reply(body=body, headers=headers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Medallion:
    """The OASIS reference TAXII 2.1 server (memory backend) in a child process."""

    API_ROOT = "trustgroup1"

    def __init__(self, *, workdir: Path, objects: list[dict[str, Any]], user: str, password: str):
        self.port = free_port()
        self.user, self.password = user, password
        self.base = f"http://127.0.0.1:{self.port}"
        self.config_path = write_medallion_files(
            workdir=workdir,
            base=self.base,
            api_root=self.API_ROOT,
            collection=self._collection(objects),
            users={user: password},
            page_size=100,
        )
        self.log_path = workdir / "medallion.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def discovery_url(self) -> str:
        return f"{self.base}/taxii2/"

    @property
    def api_root_url(self) -> str:
        return f"{self.base}/{self.API_ROOT}/"

    @property
    def objects_url(self) -> str:
        return f"{self.api_root_url}collections/{COLLECTION}/objects/"

    def _collection(self, objects: list[dict[str, Any]]) -> dict[str, Any]:
        manifest = [
            {
                "id": o["id"],
                "date_added": _stamp(i),
                "version": o["modified"],
                "media_type": "application/stix+json;version=2.1",
            }
            for i, o in enumerate(objects)
        ]
        return {"id": COLLECTION, "title": "indicators", "objects": objects, "manifest": manifest}

    def auth_header(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {token}"

    def start(self) -> None:
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            medallion_argv(port=self.port, config=self.config_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"medallion exited: {self.log_path.read_text()[-2000:]}")
            try:
                headers = {"Accept": TAXII, "Authorization": self.auth_header()}
                r = requests.get(self.discovery_url, timeout=1, headers=headers)
                if r.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError("medallion did not start within 30 s")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def last_date_added(self, *, added_after: str | None) -> str | None:
        """X-TAXII-Date-Added-Last of the final objects page, asked of medallion directly."""
        params: dict[str, str] = {"limit": "100"}
        if added_after:
            params["added_after"] = added_after
        headers = {"Accept": TAXII, "Authorization": self.auth_header()}
        last: str | None = None
        while True:
            r = requests.get(self.objects_url, params=params, headers=headers, timeout=30)
            r.raise_for_status()
            last = r.headers.get("X-TAXII-Date-Added-Last", last)
            body = r.json()
            if not body.get("more"):
                return last
            params["next"] = body["next"]

    def add(self, objects: list[dict[str, Any]]) -> None:
        """POST objects to the collection, as a partner's own tooling would."""
        r = requests.post(
            self.objects_url,
            data=json.dumps({"objects": objects}),
            headers={"Accept": TAXII, "Content-Type": TAXII, "Authorization": self.auth_header()},
            timeout=30,
        )
        assert r.status_code == 202, r.text
        status = r.json()
        assert status["success_count"] == len(objects), status


@contextmanager
def medallion(
    *, workdir: Path, objects: list[dict[str, Any]], user: str = "igsc", password: str = "s3cret"
) -> Iterator[Medallion]:
    server = Medallion(workdir=workdir, objects=objects, user=user, password=password)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def make_settings(*, home: Path, partners: list[dict[str, Any]], **poll: Any) -> Settings:
    """Embedded (SQLite) settings with these partners and poll tuning."""
    return load_settings(
        overrides={
            "home": home,
            "namespace": "t" + uuid.uuid4().hex[:10],
            "partners": partners,
            "poll": poll,
        }
    )


def partner(pid: str, url: str, **extra: Any) -> dict[str, Any]:
    """A partner entry for a loopback test server."""
    entry: dict[str, Any] = {
        "id": pid,
        "name": pid.upper(),
        "country": "DE",
        "taxii_url": url,
        "collections": [COLLECTION],
        "allow_private_network": True,
        "default_tlp": "green",
    }
    entry.update(extra)
    return entry


def read_topic(stream: Any, topic: str) -> list[dict[str, Any]]:
    """Every record on a topic (from the start), decoded as JSON."""
    consumer = stream.consumer(group="reader-" + uuid.uuid4().hex[:8], topics=[topic])
    out: list[dict[str, Any]] = []
    try:
        while True:
            batch = consumer.poll(max_records=1000, timeout_s=0.3)
            if not batch:
                return out
            out += [json.loads(m.value) for m in batch]
    finally:
        consumer.close()
