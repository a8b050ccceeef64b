"""State over Redis: pipelined MGET/MSET and a Lua compare-and-set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis

from igsc.errors import ServiceUnavailable

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

_CHUNK = 1000


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisState:
    """State port on a Redis server, every key under `namespace:`."""

    def __init__(self, *, url: str, namespace: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self._ns = namespace + ":"
        self._cas: Any = self._client.register_script(_CAS)

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
