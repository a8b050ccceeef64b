"""The three roads to the raw topic (TAXII POST, poll, `igsc publish`) and the stages behind them.

Each road takes a list of objects, sends them the way a partner would, and reports what the
road said about them; `Pipeline` then drains extract + merge on the same embedded ports and
answers what a user would look at: is an observable indexed, what is on the rejected topic,
did every worker commit to the end of its input.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from enrich.lookup import lookup_observable
from enrich.observations import OBSERVATIONS_TOPIC
from enrich.pipeline import enrichers_for
from igsc.app import cli
from igsc.app.stages import STAGES, drain_pipeline
from igsc.records import RAW_TOPIC, REJECTED_TOPIC
from igsc.settings import Settings, load_settings
from igsc.tlp import Tlp
from igsc.wiring import Ports, open_ports, topic
from ingest.poll import PollResult, PollTarget, checkpoint_key, poll_one
from ingest.server.app import create_app
from tests.unit.ingest.poll.taxii_fakes import COLLECTION, LocalServer, TinyTaxii
from tests.unit.ingest.poll.taxii_fakes import partner as poll_partner
from tests.unit.ingest.server.taxii_server_fixtures import (
    SHARED,
    TAXII,
    default_partners,
    taxii_settings,
)

FAST_STREAM = {"poll_timeout_s": 0.05, "partitions": 2}
READERS = ("alpha", "bravo", "charlie", "delta")  # every default partner that reads SHARED
STAMP = "2024-01-01T00:00:00.000Z"

_numbers = itertools.count(1)


def fresh_id(kind: str) -> str:
    return f"{kind}--{uuid.uuid4()}"


def fresh_address() -> str:
    """A public IPv4 address no other object of this process uses."""
    n = next(_numbers)
    return f"11.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def neighbour() -> tuple[dict[str, Any], str]:
    """A valid indicator and the address its pattern names."""
    address = fresh_address()
    obj = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": fresh_id("indicator"),
        "created": STAMP,
        "modified": STAMP,
        "name": "neighbour",
        "pattern": f"[ipv4-addr:value = '{address}']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }
    return obj, address


# ---------------------------------------------------------------- the stages


@dataclass
class Pipeline:
    """extract + merge over one installation's embedded ports."""

    settings: Settings
    ports: Ports

    def drain(self) -> dict[str, int]:
        return drain_pipeline(
            settings=self.settings, ports=self.ports, enrichers=enrichers_for(self.settings)
        )

    def indexed(self, address: str) -> bool:
        found = lookup_observable(
            index=self.ports.index,
            text=address,
            clearance=Tlp.RED,
            half_life_days=self.settings.enrich.decay_half_life_days,
        )
        return found.found

    def read(self, name: str) -> list[dict[str, Any]]:
        """Every record of a topic from its start, decoded (a reader group of its own)."""
        consumer = self.ports.stream.consumer(
            group="reader-" + uuid.uuid4().hex[:10], topics=[topic(self.settings, name)]
        )
        out: list[dict[str, Any]] = []
        try:
            while batch := consumer.poll(max_records=10_000, timeout_s=0.05):
                out += [json.loads(m.value) for m in batch]
        finally:
            consumer.close()
        return out

    def rejected(self) -> list[dict[str, Any]]:
        return self.read(REJECTED_TOPIC)

    def raw_ids(self) -> list[str]:
        return [e["object"].get("id") for e in self.read(RAW_TOPIC)]

    def uncommitted(self) -> dict[str, int]:
        """Messages each pipeline worker group has not committed, by group (0 everywhere when
        every worker committed to the end of its input): a fresh member of the same group,
        which resumes from the group's committed offsets, must find nothing to read."""
        left: dict[str, int] = {}
        for spec in STAGES:
            if spec.name not in ("extract", "merge"):
                continue
            consumer = self.ports.stream.consumer(
                group=f"{self.settings.namespace}.{spec.group}",
                topics=[topic(self.settings, t) for t in spec.input_topics],
            )
            try:
                left[spec.name] = len(consumer.poll(max_records=100_000, timeout_s=0.05))
            finally:
                consumer.close()
        return left

    def topic_sizes(self) -> dict[str, int]:
        """Records written to the raw and observations topics (so `uncommitted` is not vacuous)."""
        end = self.ports.stream.end_offsets  # type: ignore[attr-defined]  # embedded log
        return {
            name: sum(end(topic=topic(self.settings, name)).values())
            for name in (RAW_TOPIC, OBSERVATIONS_TOPIC)
        }


def stage_crashes(rejections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dead letters the worker wrote because a stage raised (StreamWorker._reject: no partner,
    reason `ExceptionType: message`), as opposed to a stage's own reasoned rejection."""
    raised = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")
    return [
        r
        for r in rejections
        if r.get("stage") in ("extract", "merge")
        and r.get("partner") is None
        and raised.match(str(r.get("reason", "")))
    ]


# ---------------------------------------------------------------- road 1: TAXII POST


@dataclass
class PostRoad:
    settings: Settings
    ports: Ports
    client: TestClient
    pipeline: Pipeline

    def post(self, objects: list[Any], who: str = "alpha") -> Any:
        return self.client.post(
            f"/main/collections/{SHARED}/objects/",
            headers={
                "Accept": TAXII,
                "Content-Type": TAXII,
                "Authorization": f"Bearer tok-{who}",
            },
            content=json.dumps({"objects": objects}).encode(),
        )

    def read_all(self, who: str) -> tuple[list[int], list[dict[str, Any]]]:
        """Status codes of every page of a reader's GET of the collection, and its objects."""
        codes: list[int] = []
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {}
        while True:
            response = self.client.get(
                f"/main/collections/{SHARED}/objects/",
                headers={"Accept": TAXII, "Authorization": f"Bearer tok-{who}"},
                params=params,
            )
            codes.append(response.status_code)
            if response.status_code != 200:
                return codes, items
            body = response.json()
            items += body.get("objects", [])
            if not body.get("more"):
                return codes, items
            params = {"next": body["next"]}


@contextlib.contextmanager
def post_road(home: Path) -> Iterator[PostRoad]:
    settings = Settings(
        home=home,
        namespace="t" + uuid.uuid4().hex[:8],
        partners=default_partners(),
        taxii=taxii_settings(),
        stream=FAST_STREAM,  # type: ignore[arg-type]  # pydantic validates the mapping
    )
    ports = open_ports(settings)
    app = create_app(settings=settings, stream=ports.stream, index=ports.index, state=ports.state)
    client = TestClient(app, raise_server_exceptions=False)
    try:
        yield PostRoad(settings, ports, client, Pipeline(settings, ports))
    finally:
        client.close()
        ports.close()


# ---------------------------------------------------------------- road 2: poll


@dataclass
class PollRoad:
    settings: Settings
    ports: Ports
    tiny: TinyTaxii
    url: str
    pipeline: Pipeline
    key: str = ""

    def poll(self, objects: list[Any]) -> PollResult:
        """Serve objects as the collection's newest page, then poll once."""
        self.tiny.add(objects)
        return poll_one(
            settings=self.settings,
            stream=self.ports.stream,
            state=self.ports.state,
            target=PollTarget(partner="cert-b", start_url=self.url, collection=COLLECTION),
        )

    def checkpoint(self) -> str | None:
        value = self.ports.state.get_many(keys=[self.key]).get(self.key)
        return value.decode() if value is not None else None


@contextlib.contextmanager
def poll_road(home: Path) -> Iterator[PollRoad]:
    tiny = TinyTaxii([])
    with LocalServer(tiny) as server:
        tiny.base = server.base
        url = f"{server.base}/taxii2/"
        settings = load_settings(
            overrides={
                "home": home,
                "namespace": "t" + uuid.uuid4().hex[:10],
                "partners": [poll_partner("cert-b", url)],
                "poll": {"page_size": 100, "max_retries": 1, "backoff_base_s": 0.01},
                "stream": FAST_STREAM,
            }
        )
        with open_ports(settings) as ports:
            key = checkpoint_key(
                partner="cert-b", api_root=f"{server.base}/api/", collection=COLLECTION
            )
            yield PollRoad(settings, ports, tiny, url, Pipeline(settings, ports), key)


# ---------------------------------------------------------------- road 3: igsc publish


@dataclass(frozen=True)
class Published:
    code: int
    stdout: str
    stderr: str
    raised: BaseException | None = None


@dataclass
class PublishRoad:
    home: Path
    config: Path
    settings: Settings
    pipeline: Pipeline
    files: Iterator[int] = field(default_factory=itertools.count)

    def publish(self, objects: list[Any], *, process: bool = False) -> Published:
        """`igsc publish FILE --partner cert-p --config CFG` on a bundle of these objects;
        process=True runs the command in a child interpreter (its real stderr)."""
        path = self.home / f"bundle-{next(self.files)}.json"
        bundle = {"type": "bundle", "id": fresh_id("bundle"), "objects": objects}
        path.write_text(json.dumps(bundle), encoding="utf-8")
        argv = ["publish", str(path), "--partner", "cert-p", "--config", str(self.config)]
        if process:
            done = subprocess.run(
                [sys.executable, "-m", "igsc.app.cli", *argv],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            return Published(done.returncode, done.stdout, done.stderr)
        out, err = io.StringIO(), io.StringIO()
        raised: BaseException | None = None
        code = -1
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException as exc:
                raised = exc
        return Published(code, out.getvalue(), err.getvalue(), raised)


@contextlib.contextmanager
def publish_road(home: Path) -> Iterator[PublishRoad]:
    config = home / "igsc.yaml"
    values = {
        "home": str(home / "data"),
        "namespace": "t" + uuid.uuid4().hex[:10],
        "log_level": "WARNING",
        "partners": [{"id": "cert-p", "name": "CERT-P", "country": "DE", "default_tlp": "green"}],
        "stream": FAST_STREAM,
    }
    config.write_text(yaml.safe_dump(values), encoding="utf-8")
    settings = load_settings(config_file=config)
    with open_ports(settings) as ports:
        yield PublishRoad(home, config, settings, Pipeline(settings, ports))
