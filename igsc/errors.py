"""Errors grouped by what the caller must do with them."""

from __future__ import annotations


class IgscError(Exception):
    """Base class of every error igsc raises on purpose."""


class RejectedInput(IgscError):
    """Input that will never be valid: dead-letter it now, with this reason."""

    def __init__(self, reason: str, *, detail: str = "") -> None:
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class TransientFailure(IgscError):
    """A peer or service failed in a way that may pass: retry with backoff."""


class ConfigError(IgscError):
    """A setting is missing or malformed: the process must exit non-zero naming the key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"configuration error: {key}: {problem}")
        self.key = key
        self.problem = problem


class ServiceUnavailable(TransientFailure):
    """A configured service (Kafka, Elasticsearch, Redis) cannot be reached."""
