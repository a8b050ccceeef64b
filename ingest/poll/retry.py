"""Retries of one TAXII call: exponential backoff with full jitter, and 429 Retry-After."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
from taxii2client.exceptions import AccessError, TAXIIServiceException

from igsc.errors import ConfigError, IgscError, TransientFailure
from igsc.poll_settings import PollSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
_RETRY_STATUSES = frozenset({408, 425, 429})


class MalformedResponse(Exception):
    """A body that is not the JSON resource TAXII promises (retried like a 5xx)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do after a failed attempt: retry (maybe after a hint) or give up now."""

    retry: bool
    reason: str
    wait_hint_s: float | None = None
    status: int | None = None


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _http_error_reason(response: requests.Response) -> str:
    title = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            title = str(body.get("title", ""))[:200]
    except ValueError:
        title = "(body is not a TAXII error object)"
    return f"HTTP {response.status_code} from {response.url} {title}".strip()


def classify(error: Exception) -> Verdict:
    """Whether a failed TAXII call may succeed if tried again."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        response = error.response
        status = response.status_code
        reason = _http_error_reason(response)
        if status in _RETRY_STATUSES:
            hint = retry_after_s(response.headers.get("Retry-After"))
            return Verdict(True, reason, hint, status)
        return Verdict(status >= 500, reason, None, status)
    if isinstance(error, requests.exceptions.TooManyRedirects | AccessError):
        return Verdict(False, str(error))
    if isinstance(error, requests.RequestException):
        return Verdict(True, f"{type(error).__name__}: {error}")
    if isinstance(error, TAXIIServiceException | MalformedResponse):
        return Verdict(True, f"malformed response: {error}"[:500])
    return Verdict(False, f"{type(error).__name__}: {error}")


@dataclass(frozen=True, slots=True)
class Retrier:
    """Runs one call up to 1 + max_retries times; TransientFailure when it never succeeds."""

    settings: PollSettings
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random | None = None

    def backoff_s(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
        ceiling = min(self.settings.backoff_cap_s, self.settings.backoff_base_s * 2**attempt)
        return (self.rng or random).uniform(0.0, ceiling)

    def call(self, *, action: Callable[[], T], what: str) -> T:
        """The action's result, retrying transient failures with backoff."""
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            try:
                return action()
            except IgscError:
                raise  # our own verdicts (e.g. UnsafeTarget) are final
            except (requests.RequestException, TAXIIServiceException, MalformedResponse) as exc:
                verdict = classify(exc)
            if not verdict.retry:
                raise _final(verdict, what=what)
            if attempt + 1 < attempts:
                delay = self._delay(verdict, attempt)
                log.warning("%s failed (%s); retry in %.2f s", what, verdict.reason, delay)
                self.sleep(delay)
        raise TransientFailure(f"{what}: gave up after {attempts} attempts: {verdict.reason}")

    def _delay(self, verdict: Verdict, attempt: int) -> float:
        if verdict.wait_hint_s is not None:
            return min(verdict.wait_hint_s, self.settings.retry_after_cap_s)
        return self.backoff_s(attempt)


def _final(verdict: Verdict, *, what: str) -> IgscError:
    if verdict.status in (401, 403):
        return ConfigError("partners.auth", f"{what}: {verdict.reason}")
    return TransientFailure(f"{what}: {verdict.reason}")
