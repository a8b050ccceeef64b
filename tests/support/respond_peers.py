"""Real peers of the respond half on loopback, and a four-country configuration.

- `WebhookReceiver`: an HTTP server that checks every request with the independent
  `standardwebhooks` package (as a team's own receiver would) and records what arrived;
  it can answer errors or hold requests open on command.
- `SmtpSink`: a real SMTP server (aiosmtpd) that keeps every message it accepts.
- `four_countries`: igsc settings values with partners and on-call teams in DE, FR, IT and
  ES, each team delivering to the receiver and the SMTP sink.
"""

from __future__ import annotations

import base64
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from aiosmtpd.controller import Controller
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

COUNTRIES = {"cert-de": "DE", "cert-fr": "FR", "cert-it": "IT", "cert-es": "ES"}


def team_secret(team: str) -> str:
    """A distinct, valid whsec_ secret per team (deterministic, so tests can verify)."""
    key = (team.encode() * 8)[:32]
    return "whsec_" + base64.b64encode(key).decode()


@dataclass
class Arrival:
    """One request the receiver got."""

    team: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: dict[str, Any] | None


@dataclass
class WebhookReceiver:
    """POST /<team> with a Standard Webhooks signature under that team's secret."""

    arrivals: list[Arrival] = field(default_factory=list)
    status: int = 204  # what to answer
    hold: threading.Event = field(default_factory=threading.Event)  # set: requests wait
    released: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def url(self, team: str) -> str:
        return f"http://127.0.0.1:{self.port}/{team}"

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                team = self.path.strip("/")
                try:
                    payload = Webhook(team_secret(team)).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    payload, verified = None, False
                receiver.arrivals.append(
                    Arrival(
                        team=team,
                        webhook_id=headers.get("webhook-id", ""),
                        headers=headers,
                        body=body,
                        verified=verified,
                        payload=payload,
                    )
                )
                while receiver.hold.is_set() and not receiver.released.wait(0.1):
                    pass
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def of(self, team: str, *, event: str | None = None) -> list[Arrival]:
        """Verified arrivals for one team (of one event type, if given)."""
        return [
            a
            for a in self.arrivals
            if a.team == team
            and a.verified
            and (event is None or (a.payload or {}).get("type") == event)
        ]


class _Keep:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._sink.messages.append((tuple(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class SmtpSink:
    """A real SMTP server on loopback that keeps every message."""

    messages: list[tuple[tuple[str, ...], EmailMessage]] = field(default_factory=list)
    port: int = 0
    _controller: Controller | None = None

    def __enter__(self) -> SmtpSink:
        self.port = free_port()
        self._controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *_: Any) -> None:
        if self._controller is not None:
            self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    """The text/plain and text/html parts of a delivered ticket e-mail."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def four_countries(
    *, receiver: WebhookReceiver, smtp: SmtpSink, clearance: dict[str, str] | None = None
) -> dict[str, Any]:
    """Settings values: four partners, one rule (3 countries in 24 h), one on-call team per
    country with webhook, e-mail and an escalation webhook; `clearance` per team id."""
    clearance = clearance or {}
    partners = [
        {"id": p, "name": p.upper(), "country": c, "default_tlp": "green"}
        for p, c in COUNTRIES.items()
    ]
    teams = []
    for partner, country in COUNTRIES.items():
        team = f"{country.lower()}-oncall"
        teams.append(
            {
                "id": team,
                "country": country,
                "partner": partner,
                "clearance": clearance.get(team, "amber"),
                "channels": {
                    "webhook": {
                        "url": receiver.url(team),
                        "secret": {"value": team_secret(team)},
                        "allow_private_network": True,
                    },
                    "email": {"to": [f"oncall@{country.lower()}.example"]},
                },
                "escalation": {
                    "webhook": {
                        "url": receiver.url(f"{team}-escalation"),
                        "secret": {"value": team_secret(f"{team}-escalation")},
                        "allow_private_network": True,
                    }
                },
            }
        )
    return {
        "partners": partners,
        "rules": [
            {
                "id": "cross-border-campaign",
                "title": "Cross-border campaign",
                "distinct": "country",
                "at_least": 3,
                "within": "24h",
                "severity": "high",
                "playbook": "cross-border",
            }
        ],
        "playbooks": [
            {
                "id": "cross-border",
                "title": "Cross-border campaign",
                "steps": [
                    {
                        "title": "Triage",
                        "due_in": "30m",
                        "text": "Check {{ incident.subject_label }}.",
                    },
                    {"title": "Coordinate", "owner": "coordinating-hub", "due_in": "4h"},
                ],
            }
        ],
        "teams": teams,
        "respond": {
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "sender": "igsc <igsc@hub.example>"},
            "delivery": {"backoff_base_s": 0.2, "backoff_cap_s": 1.0, "max_attempts": 4},
        },
    }


def indicator_bundle(*, stix_id: str, spelling: str, name: str = "C2 domain") -> bytes:
    """A bundle with one indicator of a domain, written the way the partner writes it."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return orjson.dumps(
        {
            "type": "bundle",
            "id": "bundle--" + stix_id.split("--")[1],
            "objects": [
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": stix_id,
                    "created": stamp,
                    "modified": stamp,
                    "name": name,
                    "pattern": f"[domain-name:value = '{spelling}']",
                    "pattern_type": "stix",
                    "valid_from": stamp,
                    "confidence": 80,
                }
            ],
        }
    )
