"""Retries: full-jitter backoff, Retry-After, and which failures are retried at all."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from igsc.errors import ConfigError, TransientFailure
from igsc.outbound.guard import UnsafeTarget
from igsc.poll_settings import PollSettings
from ingest.poll.retry import MalformedResponse, Retrier, retry_after_s


def _http_error(status: int, *, headers: dict[str, str] | None = None) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = b"<html>nope</html>"
    response.url = "http://127.0.0.1:1/api/"
    return requests.HTTPError(f"{status}", response=response)


def test_retry_after_in_seconds_and_as_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_s("7", now=now) == 7.0
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert retry_after_s(later, now=now) == pytest.approx(42.0)
    earlier = format_datetime(now - timedelta(seconds=42), usegmt=True)
    assert retry_after_s(earlier, now=now) == 0.0
    assert retry_after_s("soon", now=now) is None
    assert retry_after_s(None) is None


def test_backoff_is_full_jitter_between_zero_and_the_capped_exponential() -> None:
    settings = PollSettings(backoff_base_s=0.5, backoff_cap_s=4.0)
    retrier = Retrier(settings=settings, rng=random.Random(7))
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (8, 4.0)]:
        samples = [retrier.backoff_s(attempt) for _ in range(400)]
        assert 0.0 <= min(samples) < ceiling * 0.1
        assert ceiling * 0.9 < max(samples) <= ceiling


class _Flaky:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _retrier(sleeps: list[float], **changes: float) -> Retrier:
    settings = PollSettings(max_retries=3, backoff_base_s=0.01, retry_after_cap_s=5, **changes)
    return Retrier(settings=settings, sleep=sleeps.append, rng=random.Random(1))


def test_5xx_network_and_garbage_are_retried_then_succeed() -> None:
    sleeps: list[float] = []
    action = _Flaky(
        [_http_error(503), requests.ConnectionError("reset"), MalformedResponse("not JSON")]
    )
    assert _retrier(sleeps).call(action=action, what="page") == "ok"
    assert action.calls == 4
    assert len(sleeps) == 3


def test_429_waits_retry_after_capped() -> None:
    sleeps: list[float] = []
    action = _Flaky([_http_error(429, headers={"Retry-After": "3"}),
                     _http_error(429, headers={"Retry-After": "3600"})])  # fmt: skip
    assert _retrier(sleeps).call(action=action, what="page") == "ok"
    assert sleeps == [3.0, 5.0]


def test_gives_up_with_transient_failure_after_max_retries() -> None:
    sleeps: list[float] = []
    action = _Flaky([_http_error(500) for _ in range(10)])
    with pytest.raises(TransientFailure, match="gave up after 4 attempts: HTTP 500"):
        _retrier(sleeps).call(action=action, what="partner 'x': objects")
    assert action.calls == 4


def test_client_errors_are_not_retried_and_auth_failures_are_config_errors() -> None:
    for status, error in [(404, TransientFailure), (401, ConfigError), (403, ConfigError)]:
        action = _Flaky([_http_error(status)])
        with pytest.raises(error, match=f"HTTP {status}"):
            _retrier([]).call(action=action, what="page")
        assert action.calls == 1


def test_refused_targets_are_never_retried() -> None:
    action = _Flaky([UnsafeTarget(peer="partner x", url="http://169.254.169.254/", why="metadata")])
    with pytest.raises(UnsafeTarget):
        _retrier([]).call(action=action, what="page")
    assert action.calls == 1
