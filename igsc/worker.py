"""The stream worker loop: poll a batch, process it, publish the output, then commit."""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar, runtime_checkable

from igsc.errors import TransientFailure
from igsc.ports import Consumer, Message, Stream
from igsc.records import Rejection, rejection
from igsc.stix_schema import STIX_ID_PATTERN

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StageOutput:
    """What a stage made of a batch: records per topic, and dead letters."""

    records: Mapping[str, Sequence[tuple[bytes, bytes]]] = field(default_factory=dict)
    rejected: Sequence[Rejection] = ()
    # Runs once the records are durable and before offsets are committed: state that marks
    # progress (e.g. "version seen") must not be saved before the output it stands for.
    after_publish: Callable[[], None] | None = None


class Stage(Protocol):
    """One pipeline step; its sink, if any, must be acknowledged before process returns."""

    name: str

    def process(self, *, messages: Sequence[Message]) -> StageOutput:
        """Handle one batch; raise TransientFailure to have the same batch retried."""
        ...


@runtime_checkable
class PacedStage(Protocol):
    """A stage whose sink wants to know, batch by batch, whether a backlog is waiting."""

    def pace(self, *, behind: bool) -> None:
        """behind: the last poll filled a whole batch (more is waiting)."""
        ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter."""

    base_s: float = 0.2
    cap_s: float = 30.0

    def delay(self, *, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


class BatchStats:
    """Messages, batches and where each batch's time went; logged every `every_s` seconds."""

    PARTS = ("poll", "process", "emit", "commit")

    def __init__(self, *, stage: str, every_s: float = 10.0) -> None:
        self._stage = stage
        self._every_s = every_s
        self._reset(time.monotonic())

    def _reset(self, now: float) -> None:
        self._since = now
        self.messages = self.batches = 0
        self.seconds = dict.fromkeys(self.PARTS, 0.0)

    def add(self, *, messages: int, seconds: dict[str, float]) -> None:
        """Count one batch; log and restart the window once it is `every_s` long."""
        self.messages += messages
        self.batches += 1
        for part, spent in seconds.items():
            self.seconds[part] += spent
        now = time.monotonic()
        if now - self._since >= self._every_s:
            log.info("%s", self.summary(now=now))
            self._reset(now)

    def summary(self, *, now: float) -> str:
        """One line: rate, mean batch size and seconds per part of the loop."""
        span = max(now - self._since, 1e-9)
        mean = self.messages / max(self.batches, 1)
        parts = ", ".join(f"{p} {self.seconds[p]:.1f}s" for p in self.PARTS)
        return (
            f"{self._stage}: {self.messages} messages in {self.batches} batches "
            f"(mean {mean:.0f}) over {span:.1f}s = {self.messages / span:.0f}/s; {parts}"
        )


_STIX_ID = re.compile(STIX_ID_PATTERN)


class StreamWorker:
    """Runs one stage over a consumer group; offsets advance only after outputs are durable.

    A record that makes the stage raise anything but TransientFailure is isolated by
    bisecting its batch and dead-lettered; the rest of the batch goes on, so one bad record
    never stalls a partition.
    """

    def __init__(
        self,
        *,
        stream: Stream,
        group: str,
        topics: Sequence[str],
        stage: Stage,
        rejected_topic: str,
        batch_size: int,
        poll_timeout_s: float,
        backoff: Backoff = Backoff(),
        stall_warning_s: float = 60.0,
    ) -> None:
        self._stream = stream
        self._consumer: Consumer = stream.consumer(group=group, topics=topics)
        self._stage = stage
        self._rejected_topic = rejected_topic
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._backoff = backoff
        self._stall_warning_s = stall_warning_s
        self._paced = stage if isinstance(stage, PacedStage) else None
        self._spent: dict[str, float] = {}
        self.stats = BatchStats(stage=stage.name)

    def run_batch(self, *, stop: threading.Event | None = None) -> int:
        """Process one batch end to end; returns how many messages it took."""
        started = time.monotonic()
        messages = self._consumer.poll(max_records=self._batch_size, timeout_s=self._poll_timeout_s)
        if self._paced is not None:
            self._paced.pace(behind=len(messages) >= self._batch_size)
        if not messages:
            return 0
        polled = time.monotonic()
        self._spent = {"poll": polled - started, "process": 0.0, "emit": 0.0}
        self._handle(messages, stop=stop)
        emitted = time.monotonic()
        self._consumer.commit(messages=messages)
        self._spent["commit"] = time.monotonic() - emitted
        self.stats.add(messages=len(messages), seconds=self._spent)
        return len(messages)

    def _handle(self, messages: Sequence[Message], *, stop: threading.Event | None) -> None:
        """Process and emit messages, bisecting around records the stage cannot handle.

        Halves are processed and emitted one after the other: a stage loads its state at the
        start of process and saves it in after_publish, so a later half must see the earlier
        half's saved state. k bad records among n cost O(k log n) process calls.
        """
        failure = self._retrying(partial(self._attempt, messages), stop=stop)
        if failure is None:
            return
        if len(messages) == 1:
            self._retrying(partial(self._reject, messages[0], failure), stop=stop)
            return
        middle = len(messages) // 2
        self._handle(messages[:middle], stop=stop)
        self._handle(messages[middle:], stop=stop)

    def _attempt(self, messages: Sequence[Message]) -> Exception | None:
        """Process and emit; the unexpected error of process, or None once emitted."""
        began = time.monotonic()
        try:
            output = self._stage.process(messages=messages)
        except TransientFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - the record-isolation boundary: bisected next
            return exc
        finally:
            self._spent["process"] += time.monotonic() - began
        processed = time.monotonic()
        self._emit(output)
        self._spent["emit"] += time.monotonic() - processed
        return None

    def _retrying(self, action: Callable[[], T], *, stop: threading.Event | None) -> T:
        """Run action, retrying with backoff on TransientFailure; warn while no progress."""
        attempt = 0
        stalled_since = time.monotonic()
        next_warning = self._stall_warning_s
        while True:
            try:
                return action()
            except TransientFailure as exc:
                attempt += 1
                wait = self._backoff.delay(attempt=attempt)
                log.warning(
                    "%s: transient failure (%s), retry %d in %.1fs",
                    self._stage.name,
                    exc,
                    attempt,
                    wait,
                )
                stalled = time.monotonic() - stalled_since
                if stalled >= next_warning:
                    log.warning(
                        "%s: no progress for %.0fs: the same batch has failed %d times",
                        self._stage.name,
                        stalled,
                        attempt,
                    )
                    next_warning = (stalled // self._stall_warning_s + 1) * self._stall_warning_s
                if stop is None:
                    time.sleep(wait)
                elif stop.wait(wait):
                    raise  # shutting down: the batch stays uncommitted and will be redelivered

    def _reject(self, message: Message, error: Exception) -> None:
        # Type and position only: the payload, and maybe the message, can hold TLP:RED data.
        log.warning(
            "%s: dead-lettering the record at %s[%d]@%d: the stage raised %s",
            self._stage.name,
            message.topic,
            message.partition,
            message.offset,
            type(error).__name__,
        )
        key = message.key.decode("utf-8", "replace")
        record = rejection(
            stage=self._stage.name,
            reason=f"{type(error).__name__}: {error}"[:1000],
            partner=None,
            stix_id=key if _STIX_ID.match(key) else None,
            payload=message.value.decode("utf-8", "replace"),
        )
        self._stream.publish(topic=self._rejected_topic, records=[(message.key, record.to_bytes())])

    def _emit(self, output: StageOutput) -> None:
        for topic, records in output.records.items():
            self._stream.publish(topic=topic, records=records)
        if output.rejected:
            self._stream.publish(
                topic=self._rejected_topic,
                records=[((r.stix_id or "").encode(), r.to_bytes()) for r in output.rejected],
            )
        if output.after_publish is not None:
            output.after_publish()

    def drain(self, *, idle_polls: int = 2, join_timeout_s: float = 60.0) -> int:
        """Run batches until `idle_polls` polls in a row found nothing; returns messages taken.

        A poll before the group gave this member its partitions does not count as idle.
        """
        total = idle = 0
        joined_by = time.monotonic() + join_timeout_s
        while idle < idle_polls:
            taken = self.run_batch()
            total += taken
            waiting = not self._consumer.assignment() and time.monotonic() < joined_by
            idle = 0 if taken or waiting else idle + 1
        return total

    def run_forever(self, *, stop: threading.Event) -> None:
        """Run until stop is set."""
        while not stop.is_set():
            self.run_batch(stop=stop)

    def close(self) -> None:
        """Leave the consumer group."""
        self._consumer.close()
