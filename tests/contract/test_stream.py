"""One contract for every Stream adapter: the same assertions on SQLite and on real Kafka."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from igsc.adapters.kafka_stream import KafkaStream
from igsc.adapters.sqlite_stream import SqliteStream
from igsc.ports import Consumer, Message, Stream
from tests.conftest import require_service

PARTITIONS = 4


@pytest.fixture(params=["sqlite", "kafka", "kafka-plain"])
def stream(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> Iterator[Stream]:
    if request.param.startswith("kafka"):
        # kafka-plain: the test's topic is one other tools read (one Kafka message per record)
        plain = frozenset({unique}) if request.param == "kafka-plain" else frozenset()
        made: Stream = KafkaStream(
            url=f"kafka://{require_service('kafka')}", partitions=PARTITIONS, plain_topics=plain
        )
    else:
        made = SqliteStream(path=tmp_path / "stream.db", partitions=PARTITIONS)
    yield made
    made.close()


def drain(consumer: Consumer, *, want: int, timeout_s: float = 45.0) -> list[Message]:
    """Poll until `want` messages arrived or the timeout passed."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got.extend(consumer.poll(max_records=500, timeout_s=0.5))
    return got


def publish_numbered(stream: Stream, topic: str, *, keys: int, per_key: int) -> None:
    """Publish per_key values for each key, interleaved over several publish calls."""
    for round_ in range(per_key):
        stream.publish(
            topic=topic, records=[(f"k{k}".encode(), f"{round_}".encode()) for k in range(keys)]
        )


def test_values_of_one_key_arrive_in_publish_order_from_one_partition(
    stream: Stream, unique: str
) -> None:
    publish_numbered(stream, unique, keys=7, per_key=30)
    consumer = stream.consumer(group=unique, topics=[unique])
    got = drain(consumer, want=210)
    consumer.close()
    assert len(got) == 210
    values: dict[bytes, list[int]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for m in got:
        values[m.key].append(int(m.value))
        partitions[m.key].add(m.partition)
    assert all(v == list(range(30)) for v in values.values())
    assert all(len(p) == 1 for p in partitions.values())
    assert len({next(iter(p)) for p in partitions.values()}) > 1, "keys spread over partitions"


def test_uncommitted_messages_are_redelivered_to_the_next_member(
    stream: Stream, unique: str
) -> None:
    publish_numbered(stream, unique, keys=8, per_key=10)
    first = stream.consumer(group=unique, topics=[unique])
    got = drain(first, want=80)
    assert len(got) == 80
    done = [m for m in got if m.offset < 5]
    first.commit(messages=done)
    first.close()  # the rest was never committed: a crash mid-batch

    second = stream.consumer(group=unique, topics=[unique])
    again = drain(second, want=80 - len(done))
    time.sleep(0.5)
    again += second.poll(max_records=500, timeout_s=0.5)
    second.close()
    expected = {(m.partition, m.offset) for m in got if m.offset >= 5}
    assert {(m.partition, m.offset) for m in again} == expected


def test_committed_group_does_not_see_old_messages_but_a_new_group_does(
    stream: Stream, unique: str
) -> None:
    publish_numbered(stream, unique, keys=3, per_key=4)
    consumer = stream.consumer(group=unique, topics=[unique])
    consumer.commit(messages=drain(consumer, want=12))
    consumer.close()
    stream.publish(topic=unique, records=[(b"k0", b"late")])
    resumed = stream.consumer(group=unique, topics=[unique])
    assert [m.value for m in drain(resumed, want=1)] == [b"late"]
    resumed.close()
    fresh = stream.consumer(group=unique + "-other", topics=[unique])
    assert len(drain(fresh, want=13)) == 13
    fresh.close()


def _wait_for_split(
    consumers: list[Consumer], timeout_s: float = 60.0
) -> list[set[tuple[str, int]]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for c in consumers:
            assert c.poll(max_records=1, timeout_s=0.2) == [], "topic should be empty now"
        owned = [c.assignment() for c in consumers]
        whole = sum(len(o) for o in owned) == len(set().union(*owned)) == PARTITIONS
        if all(owned) and whole:
            return owned
    raise AssertionError(f"the group never split the partitions: {owned}")


def test_two_members_of_a_group_split_the_partitions(stream: Stream, unique: str) -> None:
    a = stream.consumer(group=unique, topics=[unique])
    b = stream.consumer(group=unique, topics=[unique])
    owned = _wait_for_split([a, b])
    assert owned[0].isdisjoint(owned[1])
    publish_numbered(stream, unique, keys=40, per_key=2)
    seen: dict[str, list[Message]] = {"a": [], "b": []}
    deadline = time.monotonic() + 30
    while len(seen["a"]) + len(seen["b"]) < 80 and time.monotonic() < deadline:
        seen["a"] += a.poll(max_records=100, timeout_s=0.2)
        seen["b"] += b.poll(max_records=100, timeout_s=0.2)
    a.close()
    b.close()
    assert seen["a"] and seen["b"], "both members must get work"
    assert {m.partition for m in seen["a"]} <= {p for _, p in owned[0]}
    assert {m.partition for m in seen["b"]} <= {p for _, p in owned[1]}
    ids = [(m.partition, m.offset) for m in seen["a"] + seen["b"]]
    assert len(ids) == len(set(ids)) == 80


def test_poll_on_an_empty_topic_returns_nothing_after_the_timeout(
    stream: Stream, unique: str
) -> None:
    consumer = stream.consumer(group=unique, topics=[unique])
    started = time.monotonic()
    assert consumer.poll(max_records=10, timeout_s=0.3) == []
    assert time.monotonic() - started < 10
    consumer.close()


def test_binary_keys_and_values_round_trip(stream: Stream, unique: str) -> None:
    payload = bytes(range(256)) * 40
    stream.publish(topic=unique, records=[(b"\x00\xffkey", payload)])
    consumer = stream.consumer(group=unique, topics=[unique])
    [message] = drain(consumer, want=1)
    consumer.close()
    assert (message.key, message.value) == (b"\x00\xffkey", payload)
