"""State over Redis: pipelined MGET/MSET, a Lua compare-and-set, rows in hash buckets.

Rows are packed into `buckets` hashes (`{ns}:~{table}:{n}`) rather than one key each: a Redis
key costs ~70 bytes before its value, a listpack hash entry a few. Each bucket stays a listpack
while it holds at most `hash-max-listpack-entries` rows of at most `hash-max-listpack-value`
bytes; deploy/local/services raises both (see deploy/README.md).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from igsc.errors import ConfigError, ServiceUnavailable

log = logging.getLogger(__name__)

_CAS = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"""

# One command per batch: a pipeline of HGETs costs ~10 µs of client CPU per row.
_GET_ROWS = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGET', KEYS[i], ARGV[i]) end
return out
"""
_PUT_ROWS = """
for i = 1, #KEYS do redis.call('HSET', KEYS[i], ARGV[2 * i - 1], ARGV[2 * i]) end
return #KEYS
"""

_CHUNK = 1000
# Redis runs one Lua call at a time and nothing else meanwhile: 2,000 rows in one call held it
# for ~6 ms, so an analyst's lookup could wait that long behind a merge batch. 250 rows ~0.5 ms.
_ROWS_PER_CALL = 250
DEFAULT_BUCKETS = 32768  # ~30 rows per bucket at 1M rows, a listpack up to ~16M rows
_LISTPACK_VALUE_MIN = 256


def split_buckets(url: str) -> tuple[str, int]:
    """The Redis URL without igsc's `buckets` query parameter, and that parameter."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    found = [v for k, v in query if k == "buckets"]
    rest = urlencode([(k, v) for k, v in query if k != "buckets"])
    if not found:
        return urlunsplit(parts._replace(query=rest)), DEFAULT_BUCKETS
    try:
        buckets = int(found[-1])
    except ValueError:
        buckets = 0
    if buckets < 1 or buckets & (buckets - 1):
        raise ConfigError("state_url", f"buckets must be a power of two, not {found[-1]!r}")
    return urlunsplit(parts._replace(query=rest)), buckets


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisState:
    """State port on a Redis server, every key under `namespace:`."""

    def __init__(self, *, url: str, namespace: str) -> None:
        plain_url, buckets = split_buckets(url)
        self._client = redis.Redis.from_url(plain_url, socket_timeout=10, socket_connect_timeout=5)
        self._ns = namespace + ":"
        self._cas: Any = self._client.register_script(_CAS)
        self._get_rows: Any = self._client.register_script(_GET_ROWS)
        self._put_rows: Any = self._client.register_script(_PUT_ROWS)
        self._mask = buckets - 1
        self._buckets = buckets
        self._rows_checked = False

    def get_many(self, *, keys: Sequence[str]) -> dict[str, bytes]:
        """Values of the keys that exist."""
        out: dict[str, bytes] = {}
        try:
            for i in range(0, len(keys), _CHUNK):
                chunk = list(keys[i : i + _CHUNK])
                values: list[Any] = self._client.mget([self._ns + k for k in chunk])
                out.update({k: v for k, v in zip(chunk, values, strict=True) if v is not None})
        except redis.ConnectionError as exc:
            raise ServiceUnavailable(f"Redis unreachable: {exc}") from exc
        return out

    def put_many(self, *, items: Mapping[str, bytes]) -> None:
        """MSET in chunks inside one MULTI/EXEC pipeline."""
        if not items:
            return
        pairs = [(self._ns + k, v) for k, v in items.items()]
        try:
            pipe = self._client.pipeline(transaction=True)
            for i in range(0, len(pairs), _CHUNK):
                pipe.mset(dict(pairs[i : i + _CHUNK]))
            pipe.execute()
        except redis.ConnectionError as exc:
            raise ServiceUnavailable(f"Redis unreachable: {exc}") from exc

    def compare_and_set(self, *, key: str, expected: bytes | None, new: bytes) -> bool:
        """Atomic in Redis via a Lua script."""
        flag = "0" if expected is None else "1"
        result = self._cas(keys=[self._ns + key], args=[flag, expected or b"", new])
        return bool(result)

    def get_rows(self, *, table: str, keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """Rows that exist: one Lua call, or one pipelined round trip of short ones."""
        self._check_rows()
        chunks = [list(keys[i : i + _ROWS_PER_CALL]) for i in range(0, len(keys), _ROWS_PER_CALL)]
        try:
            if len(chunks) == 1:  # e.g. an analyst's lookup: one call, one round trip
                replies = [self._get_rows(keys=[self._bucket(table, k) for k in keys], args=keys)]
            else:  # a pipeline with scripts adds a SCRIPT EXISTS round trip
                pipe = self._client.pipeline(transaction=False)
                for chunk in chunks:
                    buckets = [self._bucket(table, k) for k in chunk]
                    self._get_rows(keys=buckets, args=chunk, client=pipe)
                replies = pipe.execute()
        except redis.ConnectionError as exc:
            raise ServiceUnavailable(f"Redis unreachable: {exc}") from exc
        out: dict[bytes, bytes] = {}
        for chunk, values in zip(chunks, replies, strict=True):
            out.update({k: v for k, v in zip(chunk, values, strict=True) if v is not None})
        return out

    def put_rows(self, *, table: str, rows: Mapping[bytes, bytes]) -> None:
        """HSET every row into its bucket: one pipelined round trip of short Lua calls.

        Not atomic across calls, and need not be: each row is a whole record, and a batch
        redelivered after a partial write re-applies idempotently.
        """
        if not rows:
            return
        self._check_rows()
        items = list(rows.items())
        try:
            pipe = self._client.pipeline(transaction=False)
            for i in range(0, len(items), _ROWS_PER_CALL):
                chunk = items[i : i + _ROWS_PER_CALL]
                self._put_rows(
                    keys=[self._bucket(table, k) for k, _ in chunk],
                    args=[part for pair in chunk for part in pair],
                    client=pipe,
                )
            pipe.execute()
        except redis.ConnectionError as exc:
            raise ServiceUnavailable(f"Redis unreachable: {exc}") from exc

    def _bucket(self, table: str, key: bytes) -> str:
        return f"{self._ns}~{table}:{zlib.crc32(key) & self._mask}"

    def _check_rows(self) -> None:
        """Refuse a bucket count other than the one the rows were written with."""
        if self._rows_checked:
            return
        meta = self._ns + "~buckets"
        try:
            self._client.set(meta, self._buckets, nx=True)
            stored = int(self._client.get(meta) or self._buckets)
        except redis.ConnectionError as exc:
            raise ServiceUnavailable(f"Redis unreachable: {exc}") from exc
        if stored != self._buckets:
            raise ConfigError(
                "state_url",
                f"buckets={self._buckets}, but this namespace's rows were written with "
                f"buckets={stored}; keep {stored}",
            )
        self._warn_if_listpack_small()
        self._rows_checked = True

    def _warn_if_listpack_small(self) -> None:
        try:
            value: Any = self._client.config_get("hash-max-listpack-value")
        except redis.ResponseError:  # managed Redis may refuse CONFIG: nothing to check
            return
        limit = int(value.get("hash-max-listpack-value") or _LISTPACK_VALUE_MIN)
        if limit < _LISTPACK_VALUE_MIN:
            log.warning(
                "Redis hash-max-listpack-value is %d; rows take ~10x more memory below %d",
                limit,
                _LISTPACK_VALUE_MIN,
            )

    def delete(self, *, keys: Sequence[str]) -> None:
        """Remove the keys."""
        if keys:
            self._client.delete(*[self._ns + k for k in keys])

    def scan(self, *, prefix: str) -> list[str]:
        """Keys starting with prefix, sorted."""
        pattern = _glob_escape(self._ns + prefix) + "*"
        found = self._client.scan_iter(match=pattern, count=1000)
        return sorted(k.decode()[len(self._ns) :] for k in found)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
