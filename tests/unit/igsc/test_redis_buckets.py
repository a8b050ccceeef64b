"""The Redis state URL's `buckets` parameter: validated, stripped, and pinned per namespace."""

from __future__ import annotations

import pytest

from igsc.adapters.redis_state import DEFAULT_BUCKETS, RedisState, split_buckets
from igsc.errors import ConfigError
from tests.conftest import require_service


def test_buckets_default_and_are_stripped_from_the_url() -> None:
    assert split_buckets("redis://127.0.0.1:6379/0") == (
        "redis://127.0.0.1:6379/0",
        DEFAULT_BUCKETS,
    )
    assert split_buckets("redis://h:1/0?buckets=1024&socket_timeout=3") == (
        "redis://h:1/0?socket_timeout=3",
        1024,
    )


@pytest.mark.parametrize("bad", ["1000", "0", "-4", "many"])
def test_buckets_must_be_a_power_of_two(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        split_buckets(f"redis://h:1/0?buckets={bad}")
    assert err.value.key == "state_url"
    assert bad in err.value.problem


def test_a_namespace_refuses_a_different_bucket_count(unique: str) -> None:
    address = require_service("redis")
    first = RedisState(url=f"redis://{address}/0?buckets=64", namespace=unique)
    first.put_rows(table="m", rows={b"k": b"v"})
    second = RedisState(url=f"redis://{address}/0?buckets=128", namespace=unique)
    with pytest.raises(ConfigError) as err:
        second.get_rows(table="m", keys=[b"k"])
    assert "buckets=64" in err.value.problem
    first.delete(keys=first.scan(prefix=""))
    first.close()
    second.close()
