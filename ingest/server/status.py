"""Status resources of Add Objects requests, kept in State for at least the retention period.

A request's objects that are stored but not yet readable (an index that needs a refresh)
are listed under `pendings` until the release thread has seen them become readable; it then
writes a separate readable marker, and every load moves them to `successes`. The status and
the marker are each written once and never read-modified-written, so any number of workers
and a release thread of any speed cannot lose or overwrite a status.

State has no TTL, so each status and marker also gets an entry in an hourly expiry bucket
(`taxii:status-exp:<hour>:<id>`); any worker sweeps buckets whose hour has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from igsc.ports import State

_BUCKET_S = 3600
_SWEPT_KEY = "taxii:status-swept"
_MAX_BUCKETS_PER_SWEEP = 168

Detail = dict[str, str]


def _status_key(status_id: str) -> str:
    return f"taxii:status:{status_id}"


def _readable_key(status_id: str) -> str:
    return f"taxii:status-readable:{status_id}"


def _bucket_prefix(bucket: int) -> str:
    return f"taxii:status-exp:{bucket:012d}:"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of each object of one Add Objects request."""

    id: str
    request_timestamp: str
    successes: tuple[Detail, ...]
    failures: tuple[Detail, ...]
    unforwarded: tuple[Detail, ...]  # stored, not published: pending until sent again
    unreadable: tuple[Detail, ...]  # stored and published; successes once readable

    def resource(self, *, readable: bool) -> dict[str, Any]:
        """The TAXII status resource, before or after the unreadable objects became readable."""
        if readable:
            moved = ({"id": d["id"], "version": d["version"]} for d in self.unreadable)
            successes = [*self.successes, *moved]
            pendings = list(self.unforwarded)
        else:
            successes = list(self.successes)
            pendings = [*self.unforwarded, *self.unreadable]
        return {
            "id": self.id,
            "status": "pending" if pendings else "complete",
            "request_timestamp": self.request_timestamp,
            "total_count": len(successes) + len(self.failures) + len(pendings),
            "success_count": len(successes),
            "successes": successes,
            "failure_count": len(self.failures),
            "failures": list(self.failures),
            "pending_count": len(pendings),
            "pendings": pendings,
        }

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_timestamp": self.request_timestamp,
            "successes": self.successes,
            "failures": self.failures,
            "unforwarded": self.unforwarded,
            "unreadable": self.unreadable,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Outcome:
        return cls(
            id=str(data["id"]),
            request_timestamp=str(data["request_timestamp"]),
            successes=tuple(data["successes"]),
            failures=tuple(data["failures"]),
            unforwarded=tuple(data["unforwarded"]),
            unreadable=tuple(data["unreadable"]),
        )


class StatusStore:
    """Saves, finds and expires status resources, each visible only to its poster."""

    def __init__(
        self, *, state: State, retention_s: int, now_s: Callable[[], float] = time.time
    ) -> None:
        self._state = state
        self._retention_s = retention_s
        self._now = now_s

    def _expiry(self) -> tuple[int, int]:
        """(expires, bucket) for something written now."""
        expires = int(self._now()) + self._retention_s
        return expires, expires // _BUCKET_S + 1  # swept only once the whole hour has passed

    def save(self, *, partner: str, api_root: str, outcome: Outcome) -> None:
        """Keep the status until at least retention_s from now."""
        expires, bucket = self._expiry()
        record = {
            "partner": partner,
            "api_root": api_root,
            "expires": expires,
            "outcome": outcome.to_record(),
        }
        self._state.put_many(
            items={
                _status_key(outcome.id): orjson.dumps(record),
                _bucket_prefix(bucket) + outcome.id: b"",
            }
        )
        self.sweep()

    def mark_readable(self, *, status_ids: list[str]) -> None:
        """These requests' stored objects are readable now: their statuses may say complete.

        Written whether or not the status itself is saved yet, so the order of the two
        writes does not matter.
        """
        if not status_ids:
            return
        _, bucket = self._expiry()
        items = {_readable_key(i): b"1" for i in status_ids}
        items.update({_bucket_prefix(bucket) + i: b"" for i in status_ids})
        self._state.put_many(items=items)

    def load(self, *, partner: str, api_root: str, status_id: str) -> dict[str, Any] | None:
        """The status if this partner posted it to this API root and it has not expired."""
        keys = [_status_key(status_id), _readable_key(status_id)]
        found = self._state.get_many(keys=keys)
        raw = found.get(keys[0])
        if raw is None:
            return None
        record = orjson.loads(raw)
        if (
            record["partner"] != partner
            or record["api_root"] != api_root
            or record["expires"] <= self._now()
        ):
            return None
        if "outcome" not in record:  # saved by an earlier release, as the resource itself
            status: dict[str, Any] = record["status"]
            return status
        outcome = Outcome.from_record(record["outcome"])
        return outcome.resource(readable=keys[1] in found)

    def sweep(self) -> int:
        """Delete statuses (and their markers) whose expiry hour has passed; entries swept."""
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
            keys = [k for i in ids for k in (_status_key(i), _readable_key(i))]
            self._state.delete(keys=keys + entries)
            deleted += len(ids)
        self._state.compare_and_set(key=_SWEPT_KEY, expected=raw, new=b"%d" % due)
        return deleted
