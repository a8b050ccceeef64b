"""A record the stage cannot handle is dead-lettered alone; the rest of its batch goes on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from igsc.adapters.sqlite_stream import SqliteStream
from igsc.errors import TransientFailure
from igsc.ports import Message
from igsc.worker import Backoff, StageOutput, StreamWorker


class PoisonSensitive:
    """Upper-cases values; raises TypeError on any batch holding a b"poison" value.

    It also keeps a running count as "state", loaded when process starts and saved in
    after_publish, as the real stages do: stale state would show as a wrong count.
    """

    name = "upper"

    def __init__(self, *, transient_failures: int = 0) -> None:
        self.transient_failures = transient_failures
        self.calls = 0
        self.saved_count = 0
        self.after_publish_sizes: list[int] = []

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        self.calls += 1
        if self.calls <= self.transient_failures:
            raise TransientFailure("index busy")
        if any(b"poison" in m.value for m in messages):
            raise TypeError("cannot upper-case poison")
        start = self.saved_count  # loaded state
        records = [(m.key, b"%d:" % (start + i) + m.value.upper()) for i, m in enumerate(messages)]

        def save() -> None:
            self.saved_count = start + len(messages)
            self.after_publish_sizes.append(len(messages))

        return StageOutput(records={"out": records}, after_publish=save)


class AlwaysFails(PoisonSensitive):
    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        self.calls += 1
        raise KeyError("no such field")


def _worker(
    stream: SqliteStream, stage: PoisonSensitive, *, stall_warning_s: float = 60.0
) -> StreamWorker:
    return StreamWorker(
        stream=stream,
        group="g",
        topics=["in"],
        stage=stage,
        rejected_topic="rejected",
        batch_size=100,
        poll_timeout_s=0.05,
        backoff=Backoff(base_s=0.001, cap_s=0.005),
        stall_warning_s=stall_warning_s,
    )


def _read_all(stream: SqliteStream, topic: str) -> list[Message]:
    consumer = stream.consumer(group="reader-" + topic, topics=[topic])
    got = consumer.poll(max_records=1000, timeout_s=0.2)
    consumer.close()
    return got


POISON = {7, 23, 41}


def _publish_fifty(stream: SqliteStream) -> list[bytes]:
    values = [b"poison-%d" % i if i in POISON else b"v%d" % i for i in range(50)]
    keys = [
        b"indicator--00000000-0000-4000-8000-%012d" % i if i in POISON else b"k%d" % i
        for i in range(50)
    ]
    stream.publish(topic="in", records=list(zip(keys, values, strict=True)))
    return values


def test_poison_records_are_dead_lettered_and_the_rest_published_in_order(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stream = SqliteStream(path=tmp_path / "s.db", partitions=1)
    values = _publish_fifty(stream)
    stage = PoisonSensitive()
    worker = _worker(stream, stage)
    with caplog.at_level(logging.WARNING, logger="igsc.worker"):
        assert worker.run_batch() == 50
    good = [v for v in values if not v.startswith(b"poison")]
    out = [m.value for m in _read_all(stream, "out")]
    # In order, and numbered by the state each sub-batch saw: no sub-batch read stale state.
    assert out == [b"%d:" % i + v.upper() for i, v in enumerate(good)]
    assert stage.saved_count == 47
    assert sum(stage.after_publish_sizes) == 47
    assert stage.calls < 40, "bisection, not one call per record"

    rejected = [orjson.loads(m.value) for m in _read_all(stream, "rejected")]
    assert [r["payload"] for r in rejected] == [f"poison-{i}" for i in sorted(POISON)]
    assert {r["stage"] for r in rejected} == {"upper"}
    assert all(r["reason"] == "TypeError: cannot upper-case poison" for r in rejected)
    assert [r["stix_id"] for r in rejected] == [
        f"indicator--00000000-0000-4000-8000-{i:012d}" for i in sorted(POISON)
    ]
    warnings = [r.getMessage() for r in caplog.records if "dead-lettering" in r.getMessage()]
    assert len(warnings) == 3
    assert all("TypeError" in w and "in[0]@" in w for w in warnings)
    assert not any("poison" in r.getMessage() for r in caplog.records), "no payload in logs"

    assert worker.run_batch() == 0, "the whole batch was committed"
    worker.close()
    again = _worker(stream, PoisonSensitive())
    assert again.drain() == 0, "a new member of the group sees nothing left"


def test_a_stage_failing_on_every_record_dead_letters_all_and_commits(tmp_path: Path) -> None:
    stream = SqliteStream(path=tmp_path / "s.db", partitions=2)
    stream.publish(topic="in", records=[(b"k%d" % i, b"v%d" % i) for i in range(20)])
    stage = AlwaysFails()
    worker = _worker(stream, stage)
    assert worker.drain() == 20
    worker.close()
    rejected = [orjson.loads(m.value) for m in _read_all(stream, "rejected")]
    assert sorted(r["payload"] for r in rejected) == sorted(f"v{i}" for i in range(20))
    assert all(r["reason"] == "KeyError: 'no such field'" for r in rejected)
    assert all(r["stix_id"] is None for r in rejected)  # keys are not STIX ids
    assert _read_all(stream, "out") == []
    assert _worker(stream, PoisonSensitive()).drain() == 0


def test_a_transient_failure_is_retried_not_dead_lettered(tmp_path: Path) -> None:
    stream = SqliteStream(path=tmp_path / "s.db", partitions=1)
    stream.publish(topic="in", records=[(b"k%d" % i, b"v%d" % i) for i in range(10)])
    stage = PoisonSensitive(transient_failures=3)
    worker = _worker(stream, stage)
    assert worker.run_batch() == 10
    assert stage.calls == 4
    assert len(_read_all(stream, "out")) == 10
    assert _read_all(stream, "rejected") == []


def test_a_worker_retrying_the_same_batch_warns_that_it_makes_no_progress(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stream = SqliteStream(path=tmp_path / "s.db", partitions=1)
    stream.publish(topic="in", records=[(b"k", b"v")])
    stage = PoisonSensitive(transient_failures=30)
    worker = _worker(stream, stage, stall_warning_s=0.02)
    with caplog.at_level(logging.WARNING, logger="igsc.worker"):
        assert worker.run_batch() == 1
    stalls = [r for r in caplog.records if "no progress" in r.getMessage()]
    assert stalls and all(r.levelno == logging.WARNING for r in stalls)
    assert len(stalls) < 30, "once per period, not once per retry"
    quiet = _worker(SqliteStream(path=tmp_path / "t.db", partitions=1), PoisonSensitive())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="igsc.worker"):
        quiet.run_batch()
    assert not any("no progress" in r.getMessage() for r in caplog.records)
