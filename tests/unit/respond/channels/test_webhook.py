"""Standard Webhooks delivery against a real receiver on loopback.

The receiver checks every request with the independent `standardwebhooks` package, as a
team's own receiver would, and records what reached it.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

import igsc.outbound.session
from igsc.errors import RejectedInput, TransientFailure
from igsc.partners import Secret
from igsc.respond_settings import Channels, Delivery, Team, WebhookChannel
from respond.channels import RetryLater
from respond.channels.webhook import WebhookSender
from tests.unit.respond.channels.channel_fakes import closed_port, make_outbound

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()


@dataclass(frozen=True)
class Reply:
    status: int = 204
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay_s: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: Any  # the payload standardwebhooks returned, or the error it raised


@dataclass
class Receiver:
    """A webhook receiver: answers from a script (the last reply repeats), records all."""

    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verified: Any = Webhook(SECRET).verify(body, headers)
            except WebhookVerificationError as exc:
                verified = exc
            state.seen.append(Seen(self.path, headers, body, verified))
            reply = state.answer()
            time.sleep(reply.delay_s)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up (timeout) or stopped reading (a large body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _sender(
    url: str, *, allow_private: bool = True, secret: Secret | None = None, timeout_s: float = 5
) -> WebhookSender:
    config = WebhookChannel(
        url=url,
        secret=secret or Secret(value=SECRET),
        allow_private_network=allow_private,
    )
    team = Team(id="nl-oncall", country="NL", partner="cert-nl", channels=Channels(webhook=config))
    return WebhookSender(team=team, config=config, delivery=Delivery(timeout_s=timeout_s))


def _message(**kwargs: Any) -> Any:
    return make_outbound(channel="webhook", **kwargs)


def test_a_delivery_verifies_with_an_independent_standard_webhooks_receiver(
    receiver: Receiver,
) -> None:
    message = _message()
    _sender(receiver.url).deliver(message=message)

    [seen] = receiver.seen
    assert isinstance(seen.verified, dict), seen.verified
    assert seen.headers["webhook-id"] == message.delivery_id
    assert seen.headers["content-type"] == "application/json"
    assert abs(int(seen.headers["webhook-timestamp"]) - time.time()) < 60
    payload = seen.verified
    assert payload["type"] == "ticket.created"
    assert payload["timestamp"].endswith("Z")
    data = payload["data"]
    ticket = message.ticket
    assert data["id"] == ticket.id
    assert data["body"] == ticket.body
    assert (data["incident"], data["incident_version"], data["revision"]) == (
        ticket.incident,
        3,
        1,
    )
    assert data["steps"] == [
        {
            "title": "Block",
            "owner": "national-csirt-oncall",
            "due_at": "2026-01-01T01:00:00Z",
            "text": "Block it.",
        }
    ]
    assert data["escalation_step"] is None
    assert not {"html", "audit", "deliveries"} & data.keys()


def test_an_escalation_names_its_event_and_step(receiver: Receiver) -> None:
    _sender(receiver.url).deliver(message=_message(event="ticket.escalated", step=1))
    payload = receiver.seen[0].verified
    assert (payload["type"], payload["data"]["escalation_step"]) == ("ticket.escalated", 1)


def test_a_tampered_body_does_not_verify(receiver: Receiver) -> None:
    _sender(receiver.url).deliver(message=_message())
    seen = receiver.seen[0]
    tampered = seen.body.replace(b"evil.example", b"good.example")
    assert tampered != seen.body
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(tampered, seen.headers)
    with pytest.raises(WebhookVerificationError):  # and another team's secret never verifies
        Webhook("whsec_" + base64.b64encode(bytes(32)).decode()).verify(seen.body, seen.headers)


def test_a_retried_delivery_keeps_its_webhook_id(receiver: Receiver) -> None:
    receiver.replies = [Reply(status=500, body=b"database down"), Reply(status=200)]
    sender, message = _sender(receiver.url), _message()

    with pytest.raises(TransientFailure, match="500") as caught:
        sender.deliver(message=message)
    assert not isinstance(caught.value, RejectedInput)
    sender.deliver(message=message)

    ids = [seen.headers["webhook-id"] for seen in receiver.seen]
    assert ids == [message.delivery_id, message.delivery_id]
    assert all(isinstance(seen.verified, dict) for seen in receiver.seen)


@pytest.mark.parametrize("status", [408, 425, 502, 503])
def test_timeouts_and_server_errors_are_retried(receiver: Receiver, status: int) -> None:
    receiver.replies = [Reply(status=status)]
    with pytest.raises(RetryLater) as caught:
        _sender(receiver.url).deliver(message=_message())
    assert caught.value.retry_after_s is None


def test_429_with_retry_after_says_when_to_come_back(receiver: Receiver) -> None:
    receiver.replies = [Reply(status=429, headers=(("Retry-After", "7"),))]
    with pytest.raises(RetryLater, match="429") as caught:
        _sender(receiver.url).deliver(message=_message())
    assert caught.value.retry_after_s == 7.0


def test_404_is_rejected_for_good(receiver: Receiver) -> None:
    receiver.replies = [Reply(status=404, body=b"no such hook")]
    with pytest.raises(RejectedInput, match="404") as caught:
        _sender(receiver.url).deliver(message=_message())
    assert "no such hook" in str(caught.value)


def test_a_redirect_is_rejected_and_not_followed(receiver: Receiver) -> None:
    receiver.replies = [Reply(status=302, headers=(("Location", "/elsewhere"),)), Reply()]
    with pytest.raises(RejectedInput, match="302"):
        _sender(receiver.url).deliver(message=_message())
    assert [seen.path for seen in receiver.seen] == ["/hook"]


def test_a_loopback_receiver_needs_allow_private_network(
    receiver: Receiver, loopback_only: list[Any]
) -> None:
    with pytest.raises(RejectedInput, match="allow_private_network"):
        _sender(receiver.url, allow_private=False).deliver(message=_message())
    assert receiver.seen == []


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:8080/hook"]
)
def test_metadata_and_link_local_receivers_are_refused_even_on_private_networks(
    url: str, loopback_only: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    connects: list[Any] = []
    monkeypatch.setattr(
        igsc.outbound.session, "create_connection", lambda *a, **k: connects.append(a)
    )
    with pytest.raises(RejectedInput, match="link-local"):
        _sender(url, allow_private=True).deliver(message=_message())
    assert connects == [] and loopback_only == []


def test_an_unreachable_receiver_is_retried() -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    with pytest.raises(TransientFailure, match="unreachable"):
        _sender(url).deliver(message=_message())


def test_a_receiver_slower_than_the_timeout_is_retried(receiver: Receiver) -> None:
    receiver.replies = [Reply(delay_s=1.0)]
    with pytest.raises(TransientFailure, match="timed out"):
        _sender(receiver.url, timeout_s=0.2).deliver(message=_message())


def test_a_large_answer_is_read_no_further_and_a_2xx_still_counts(receiver: Receiver) -> None:
    receiver.replies = [Reply(status=200, body=b"x" * (1024 * 1024))]
    _sender(receiver.url).deliver(message=_message())  # no exception: delivered
    assert len(receiver.seen) == 1


def test_an_env_secret_that_is_no_whsec_secret_is_rejected_naming_the_team(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setenv("NL_HOOK_SECRET", "hunter2-not-a-standard-webhooks-secret")
    sender = _sender(receiver.url, secret=Secret(env="NL_HOOK_SECRET"))
    with pytest.raises(RejectedInput, match="nl-oncall") as caught:
        sender.deliver(message=_message())
    assert "hunter2" not in str(caught.value)
    assert receiver.seen == []


def test_the_secret_never_reaches_exception_text_or_logs(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver.replies = [
        Reply(status=500),
        Reply(status=429, headers=(("Retry-After", "3"),)),
        Reply(status=404),
        Reply(status=302, headers=(("Location", "/x"),)),
        Reply(status=200),
    ]
    failures: list[BaseException] = []
    sender = _sender(receiver.url)
    attempts: list[Callable[[], None]] = [lambda: sender.deliver(message=_message())] * 5
    attempts.append(lambda: _sender(receiver.url, allow_private=False).deliver(message=_message()))
    attempts.append(
        lambda: _sender(f"http://127.0.0.1:{closed_port()}/hook").deliver(message=_message())
    )
    for attempt in attempts:
        try:
            attempt()
        except (TransientFailure, RejectedInput) as exc:
            failures.append(exc)
    assert len(failures) == 6
    texts = [caplog.text, repr(sender.__dict__)]
    for exc in failures:
        cause: BaseException | None = exc
        while cause is not None:  # the whole chain a traceback would print
            texts += [str(cause), repr(cause)]
            cause = cause.__cause__ or cause.__context__
    leaked = [t for t in texts if SECRET in t or SECRET.removeprefix("whsec_") in t]
    assert leaked == []
    assert orjson.loads(receiver.seen[-1].body)["type"] == "ticket.created"
