"""Status resources of Add Objects requests, kept in State for at least the retention period.

State has no TTL, so each status also gets an entry in an hourly expiry bucket
(`taxii:status-exp:<hour>:<id>`); any worker sweeps buckets whose hour has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from igsc.ports import State

_BUCKET_S = 3600
_SWEPT_KEY = "taxii:status-swept"
_MAX_BUCKETS_PER_SWEEP = 168


def _status_key(status_id: str) -> str:
    return f"taxii:status:{status_id}"


def _bucket_prefix(bucket: int) -> str:
    return f"taxii:status-exp:{bucket:012d}:"


class StatusStore:
    """Saves, finds and expires status resources, each visible only to its poster."""

    def __init__(
        self, *, state: State, retention_s: int, now_s: Callable[[], float] = time.time
    ) -> None:
        self._state = state
        self._retention_s = retention_s
        self._now = now_s

    def save(self, *, partner: str, api_root: str, status: Mapping[str, Any]) -> None:
        """Keep the status until at least retention_s from now."""
        expires = int(self._now()) + self._retention_s
        record = {"partner": partner, "api_root": api_root, "expires": expires, "status": status}
        status_id = str(status["id"])
        bucket = expires // _BUCKET_S + 1  # swept only once the whole hour has passed
        self._state.put_many(
            items={
                _status_key(status_id): orjson.dumps(record),
                _bucket_prefix(bucket) + status_id: b"",
            }
        )
        self.sweep()

    def load(self, *, partner: str, api_root: str, status_id: str) -> dict[str, Any] | None:
        """The status if this partner posted it to this API root and it has not expired."""
        raw = self._state.get_many(keys=[_status_key(status_id)]).get(_status_key(status_id))
        if raw is None:
            return None
        record = orjson.loads(raw)
        if (
            record["partner"] != partner
            or record["api_root"] != api_root
            or record["expires"] <= self._now()
        ):
            return None
        status: dict[str, Any] = record["status"]
        return status

    def sweep(self) -> int:
        """Delete statuses whose expiry hour has passed; the number deleted."""
        current = int(self._now()) // _BUCKET_S
        raw = self._state.get_many(keys=[_SWEPT_KEY]).get(_SWEPT_KEY)
        if raw is None:
            # Nothing saved before the first sweep marker can be due yet.
            self._state.compare_and_set(key=_SWEPT_KEY, expected=None, new=b"%d" % (current - 1))
            return 0
        swept = int(raw)
        due = min(current - 1, swept + _MAX_BUCKETS_PER_SWEEP)
        if due <= swept:
            return 0
        deleted = 0
        for bucket in range(swept + 1, due + 1):
            prefix = _bucket_prefix(bucket)
            entries = self._state.scan(prefix=prefix)
            ids = [entry[len(prefix) :] for entry in entries]
            self._state.delete(keys=[_status_key(i) for i in ids] + entries)
            deleted += len(ids)
        self._state.compare_and_set(key=_SWEPT_KEY, expected=raw, new=b"%d" % due)
        return deleted
