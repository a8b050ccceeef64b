"""The worker loop commits offsets only after the stage's output is durable."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from igsc.adapters.sqlite_stream import SqliteStream
from igsc.errors import TransientFailure
from igsc.ports import Message
from igsc.worker import Backoff, StageOutput, StreamWorker


class Upper:
    """Upper-cases values onto an output topic; fails the first `failures` times."""

    name = "upper"

    def __init__(self, *, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.saved: list[int] = []

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransientFailure("index busy")
        return StageOutput(
            records={"out": [(m.key, m.value.upper()) for m in messages]},
            after_publish=lambda: self.saved.append(len(messages)),
        )


def _worker(stream: SqliteStream, stage: Upper) -> StreamWorker:
    return StreamWorker(
        stream=stream,
        group="g",
        topics=["in"],
        stage=stage,
        rejected_topic="rejected",
        batch_size=100,
        poll_timeout_s=0.05,
        backoff=Backoff(base_s=0.001, cap_s=0.01),
    )


def _read_all(stream: SqliteStream, topic: str) -> list[bytes]:
    consumer = stream.consumer(group="reader-" + topic, topics=[topic])
    got = consumer.poll(max_records=1000, timeout_s=0.2)
    consumer.close()
    return [m.value for m in got]


def test_a_transient_failure_retries_the_same_batch_then_commits(tmp_path: Path) -> None:
    stream = SqliteStream(path=tmp_path / "s.db", partitions=2)
    stream.publish(topic="in", records=[(b"k%d" % i, b"v%d" % i) for i in range(10)])
    stage = Upper(failures=2)
    worker = _worker(stream, stage)
    assert worker.drain() == 10
    worker.close()
    assert stage.calls == 3
    assert sorted(_read_all(stream, "out")) == sorted(b"V%d" % i for i in range(10))
    assert stage.saved == [10]
    again = _worker(stream, Upper())
    assert again.drain() == 0, "committed messages are not delivered again"


def test_a_crash_before_commit_redelivers_the_batch(tmp_path: Path) -> None:
    stream = SqliteStream(path=tmp_path / "s.db", partitions=1)
    stream.publish(topic="in", records=[(b"k", b"v1"), (b"k", b"v2")])

    class Crash(Upper):
        def process(self, *, messages: Sequence[Message]) -> StageOutput:
            raise KeyboardInterrupt  # stands for a process kill mid-batch

    crashing = _worker(stream, Crash())
    with pytest.raises(KeyboardInterrupt):
        crashing.run_batch()
    crashing.close()
    worker = _worker(stream, Upper())
    assert worker.drain() == 2


def test_batch_statistics_are_logged_with_rate_and_time_per_part(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from igsc.worker import BatchStats

    stats = BatchStats(stage="merge", every_s=3600)
    stats.add(messages=1500, seconds={"poll": 0.1, "process": 2.0, "emit": 0.3, "commit": 0.1})
    stats.add(messages=500, seconds={"poll": 0.1, "process": 1.0, "emit": 0.1, "commit": 0.1})
    line = stats.summary(now=time.monotonic())
    assert "merge: 2000 messages in 2 batches (mean 1000)" in line
    assert "process 3.0s" in line and "emit 0.4s" in line
    with caplog.at_level(logging.INFO, logger="igsc.worker"):
        BatchStats(stage="extract", every_s=0).add(messages=7, seconds={"process": 0.5})
    assert any("extract: 7 messages in 1 batches" in r.getMessage() for r in caplog.records)


class PacedUpper(Upper):
    """Upper, and records each backlog report the worker makes."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[bool] = []

    def pace(self, *, behind: bool) -> None:
        self.reports.append(behind)


def test_the_worker_reports_a_backlog_when_a_poll_fills_a_whole_batch(tmp_path: Path) -> None:
    stream = SqliteStream(path=tmp_path / "s.db", partitions=1)
    stream.publish(topic="in", records=[(b"k", b"v%d" % i) for i in range(250)])
    stage = PacedUpper()
    worker = _worker(stream, stage)  # batches of 100
    taken = [worker.run_batch() for _ in range(4)]
    assert taken == [100, 100, 50, 0]
    # Two full batches (behind), a short one and an empty poll (caught up).
    assert stage.reports == [True, True, False, False]
