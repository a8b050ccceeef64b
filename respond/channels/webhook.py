"""Webhook delivery by the Standard Webhooks convention (https://www.standardwebhooks.com).

A POST of `{"type", "timestamp", "data"}` signed with the team's whsec_ secret: the
receiver checks `webhook-signature` (HMAC-SHA256 over "<id>.<timestamp>.<body>"), drops
stale timestamps, and deduplicates on `webhook-id`, which is our delivery id and so the same
on every retry. The request goes through the shared SSRF guard, to the configured origin
only, and redirects are not followed: a receiver that moved must be reconfigured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec
import orjson
import requests

from igsc.errors import ConfigError, RejectedInput, TransientFailure
from igsc.outbound.guard import Origin, TargetPolicy
from igsc.outbound.session import Credentials, GuardedSession, ResponseTooLarge, SessionLimits
from igsc.respond_settings import Delivery, Team, WebhookChannel, webhook_key
from respond.channels import Outbound, RetryLater

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 64 * 1024  # receivers answer briefly; more is read no further
_RETRIED = frozenset({408, 425, 429})  # besides every 5xx
_DETAIL_CHARS = 200  # of a receiver's error body, to tell the operator why


def payload(*, message: Outbound, at: float) -> dict[str, Any]:
    """The JSON object posted: the ticket's rendered fields, never its html, audit or
    deliveries (the receiver gets what the team is asked to do, not our bookkeeping)."""
    ticket = message.ticket
    return {
        "type": message.event,
        "timestamp": datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "id": ticket.id,
            "incident": ticket.incident,
            "incident_version": ticket.incident_version,
            "rule": ticket.rule,
            "team": ticket.team,
            "country": ticket.country,
            "severity": ticket.severity,
            "state": ticket.state.value,
            "revision": ticket.revision,
            "subject": ticket.subject,
            "body": ticket.body,
            "due_at": ticket.due_at,
            "steps": msgspec.to_builtins(ticket.steps),
            "escalation_step": message.escalation_step,
        },
    }


def sign(*, key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` value: v1 and the base64 HMAC-SHA256 of id.timestamp.body."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookSender:
    """A team's Standard Webhooks receiver, as a delivery channel."""

    name: str = "webhook"

    def __init__(
        self,
        *,
        team: Team,
        config: WebhookChannel,
        delivery: Delivery,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._peer = f"team {team.id!r}"
        self._config = config
        self._delivery = delivery
        self._clock = clock
        self._origin = str(Origin.of(config.url))  # named in errors instead of the full URL

    def deliver(self, *, message: Outbound) -> None:
        """POST the signed message once; RetryLater/TransientFailure or RejectedInput."""
        key = self._key()
        at = self._clock()
        timestamp = str(int(at))
        body = orjson.dumps(payload(message=message, at=at))
        headers = {
            "content-type": "application/json",
            "webhook-id": message.delivery_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(
                key=key, msg_id=message.delivery_id, timestamp=timestamp, body=body
            ),
        }
        policy = TargetPolicy.single_origin(
            peer=self._peer, url=self._config.url, allow_private=self._config.allow_private_network
        )
        timeout = self._delivery.timeout_s
        limits = SessionLimits(
            connect_timeout_s=timeout,
            read_timeout_s=timeout,
            request_deadline_s=timeout,
            max_response_bytes=MAX_RESPONSE_BYTES,
        )
        with GuardedSession(policy=policy, credentials=Credentials(), settings=limits) as session:
            try:
                response = session.post(
                    self._config.url,
                    data=body,
                    headers=headers,
                    timeout=(timeout, timeout),
                    allow_redirects=False,
                )
            except ResponseTooLarge as exc:
                # The status line is in; only the body ran long: judge by the status.
                if exc.response is None:
                    raise TransientFailure(f"{self._unreachable()}: {exc}") from exc
                self._judge(status=exc.response.status_code, headers=exc.response.headers, body=b"")
                return
            except requests.Timeout as exc:
                raise TransientFailure(
                    f"{self._unreachable()}: timed out after {timeout} s"
                ) from exc
            except requests.RequestException as exc:
                # UnsafeTarget is no RequestException: a refused target propagates as it is.
                raise TransientFailure(f"{self._unreachable()}: {type(exc).__name__}") from exc
        self._judge(status=response.status_code, headers=response.headers, body=response.content)
        log.debug("%s: webhook %s accepted %s", self._peer, self._origin, message.delivery_id)

    def _judge(self, *, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """Return on 2xx; otherwise raise what the caller must do about the answer."""
        if 200 <= status < 300:
            return
        what = f"{self._peer}: webhook {self._origin} answered {status}"
        if 300 <= status < 400:
            raise RejectedInput(what, detail="redirects are not followed; configure the final URL")
        detail = _excerpt(body)
        if status in _RETRIED or status >= 500:
            wait = _retry_after_s(headers, now=self._clock())
            if wait is not None:  # a receiver may not park a delivery beyond our backoff cap
                wait = min(wait, self._delivery.backoff_cap_s)
            raise RetryLater(f"{what}: {detail}" if detail else what, retry_after_s=wait)
        raise RejectedInput(what, detail=detail)

    def _key(self) -> bytes:
        # env/file secrets are only checked here, when first used: name the team, not the secret.
        try:
            return webhook_key(self._config.secret.reveal())
        except ValueError as exc:
            raise RejectedInput(f"{self._peer}: unusable webhook secret", detail=str(exc)) from None
        except ConfigError as exc:
            raise RejectedInput(
                f"{self._peer}: webhook secret unavailable", detail=exc.problem
            ) from None

    def _unreachable(self) -> str:
        return f"{self._peer}: webhook {self._origin} unreachable"


def _excerpt(body: bytes) -> str:
    text = body[: _DETAIL_CHARS * 4].decode("utf-8", errors="replace")
    return " ".join(text.split())[:_DETAIL_CHARS]


def _retry_after_s(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds of a Retry-After header (delta-seconds or an HTTP-date), None if absent/bad."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)
