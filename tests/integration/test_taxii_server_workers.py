"""`igsc serve` with several uvicorn workers: one shared store, unique date_added, no loss."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import yaml

from tests.unit.ingest.server.taxii_server_fixtures import SHARED, TAXII, partner


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def indicator(n: int) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-11-20T08:00:00.000Z",
        "modified": "2026-11-20T08:00:00.000Z",
        "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": "2026-11-20T08:00:00Z",
    }


def test_four_workers_share_one_store_and_hand_out_unique_date_added(tmp_path: Path) -> None:
    port = free_port()
    alpha = partner("alpha").model_dump(mode="json")
    config = tmp_path / "igsc.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "home": str(tmp_path / "home"),
                "partners": [alpha],
                "taxii": {
                    "port": port,
                    "workers": 4,
                    "api_roots": [
                        {
                            "id": "main",
                            "title": "Main",
                            "collections": [{"id": SHARED, "title": "shared"}],
                        }
                    ],
                },
            }
        )
    )
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "igsc.app.cli", "--config", str(config), "serve"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/main/collections/{SHARED}/objects/"
    headers = {"Accept": TAXII, "Content-Type": TAXII}
    auth = ("alpha", "alpha-password")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/taxii2/", auth=auth, headers=headers)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)

        def post(batch: int) -> int:
            body = {"objects": [indicator(batch * 50 + i) for i in range(50)]}
            reply = httpx.post(base, json=body, auth=auth, headers=headers, timeout=60)
            assert reply.status_code == 202, reply.text
            # Pending while another worker's older block still hides these objects; any
            # worker may answer the status, and it turns complete once they are readable.
            status = reply.json()
            status_url = f"http://127.0.0.1:{port}/main/status/{status['id']}/"
            until = time.monotonic() + 10
            while status["status"] != "complete" and time.monotonic() < until:
                time.sleep(0.02)
                status = httpx.get(status_url, auth=auth, headers={"Accept": TAXII}).json()
            assert status["status"] == "complete", status
            return int(status["success_count"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            assert sum(pool.map(post, range(16))) == 800
        seen: list[str] = []
        added: list[str] = []
        url = f"{base}?limit=200"
        while True:
            reply = httpx.get(url, auth=auth, headers={"Accept": TAXII}, timeout=60)
            assert reply.status_code == 200
            page = reply.json()
            seen += [o["id"] for o in page.get("objects", [])]
            added.append(reply.headers["X-TAXII-Date-Added-Last"])
            if not page.get("more"):
                break
            url = f"{base}?limit=200&next={page['next']}"
        assert len(seen) == len(set(seen)) == 800
        manifest = httpx.get(
            f"{base.removesuffix('objects/')}manifest/?limit=1000",
            auth=auth,
            headers={"Accept": TAXII},
            timeout=60,
        ).json()
        dates = [m["date_added"] for m in manifest["objects"]]
        assert len(dates) == len(set(dates)) == 800, "date_added must be unique across workers"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
