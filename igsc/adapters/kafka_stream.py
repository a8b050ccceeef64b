"""Stream over Apache Kafka with kafka-python: idempotent acks=all producer, manual commits.

Records are packed per partition into frames (see kafka_frames), except on plain topics,
which other tools read: one keyed Kafka message per record there. A commit that ends inside a
frame stores the frame's offset with `skip=N` in the commit metadata, so a restarted member
resumes exactly after the last committed record.
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict, deque
from collections.abc import Sequence
from urllib.parse import urlsplit

from kafka import (
    ConsumerRebalanceListener,
    KafkaAdminClient,
    KafkaConsumer,
    KafkaProducer,
    TopicPartition,
)
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from igsc.adapters.kafka_frames import FRAME_SLOTS, decode_frame, encode_frames, partition_of
from igsc.errors import ConfigError, ServiceUnavailable
from igsc.ports import Message


def bootstrap_from_url(url: str) -> list[str]:
    """Broker addresses of a kafka://HOST:PORT[,HOST:PORT] URL."""
    parts = urlsplit(url)
    if parts.scheme != "kafka" or not parts.netloc:
        raise ConfigError("stream_url", f"expected kafka://HOST:PORT, got {url!r}")
    return parts.netloc.split(",")


class KafkaStream:
    """Stream port on a Kafka cluster."""

    def __init__(
        self,
        *,
        url: str,
        partitions: int,
        client_id: str = "igsc",
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 500,
        plain_topics: frozenset[str] = frozenset(),
    ) -> None:
        self._bootstrap = bootstrap_from_url(url)
        self._plain_topics = plain_topics
        self.fetch_tuning = (fetch_min_bytes, fetch_max_wait_ms)
        self._partitions = partitions
        self._client_id = client_id
        self._partition_counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None

    def _ensure_topics(self, topics: Sequence[str]) -> None:
        missing = [t for t in topics if t not in self._partition_counts]
        if not missing:
            return
        try:
            admin = KafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        except KafkaError as exc:
            raise ServiceUnavailable(f"no Kafka broker at {','.join(self._bootstrap)}") from exc
        try:
            existing = set(admin.list_topics())
            new = [
                NewTopic(name=t, num_partitions=self._partitions, replication_factor=1)
                for t in missing
                if t not in existing
            ]
            if new:
                # Another process may create it between list and create.
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics(new_topics=new)
            for described in admin.describe_topics(missing):
                # A topic created a moment ago may not list its partitions yet.
                found = len(described.get("partitions") or ()) or self._partitions
                self._partition_counts[described["name"]] = found
        finally:
            admin.close()

    def _get_producer(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=2,
                    batch_size=1024 * 1024,
                    max_request_size=4 * 1024 * 1024,
                )
            except KafkaError as exc:
                raise ServiceUnavailable(f"no Kafka broker at {','.join(self._bootstrap)}") from exc
        return self._producer

    def publish(self, *, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Send the records as frames per partition; return once the broker acknowledged all."""
        if not records:
            return
        with self._lock:
            self._ensure_topics([topic])
            count = self._partition_counts[topic]
            by_partition: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
            for key, value in records:
                by_partition[partition_of(key, count)].append((key, value))
            producer = self._get_producer()
            if topic in self._plain_topics:
                futures = [
                    producer.send(topic, key=key, value=value, partition=partition)
                    for partition, items in by_partition.items()
                    for key, value in items
                ]
            else:
                futures = [
                    producer.send(topic, value=frame, partition=partition)
                    for partition, items in by_partition.items()
                    for frame in encode_frames(items)
                ]
            producer.flush()
        for future in futures:
            try:
                future.get(timeout=0)
            except KafkaError as exc:
                raise ServiceUnavailable(f"Kafka did not acknowledge a record: {exc}") from exc

    def consumer(self, *, group: str, topics: Sequence[str]) -> KafkaGroupConsumer:
        """Join a consumer group."""
        with self._lock:
            self._ensure_topics(topics)
        return KafkaGroupConsumer(
            bootstrap=self._bootstrap,
            group=group,
            topics=topics,
            fetch_min_bytes=self.fetch_tuning[0],
            fetch_max_wait_ms=self.fetch_tuning[1],
        )

    def close(self) -> None:
        """Flush and close the producer."""
        with self._lock:
            if self._producer is not None:
                self._producer.close()
                self._producer = None


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: KafkaGroupConsumer) -> None:
        self._owner = owner

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._owner.forget(set(revoked))

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._owner.forget(set(assigned))


class KafkaGroupConsumer:
    """A KafkaConsumer with auto-commit off; commit() is the only way offsets move."""

    def __init__(
        self,
        *,
        bootstrap: list[str],
        group: str,
        topics: Sequence[str],
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=50,
                fetch_min_bytes=fetch_min_bytes,
                fetch_max_wait_ms=fetch_max_wait_ms,
                fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=16 * 1024 * 1024,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=1_000,
            )
        except KafkaError as exc:
            raise ServiceUnavailable(f"no Kafka broker at {','.join(bootstrap)}") from exc
        self._consumer.subscribe(list(topics), listener=_Rebalance(self))
        self._buffer: deque[Message] = deque()
        self._frame_sizes: dict[tuple[TopicPartition, int], int] = {}
        self._resumed: set[TopicPartition] = set()

    def forget(self, partitions: set[TopicPartition]) -> None:
        """Drop buffered records of partitions whose ownership changed."""
        self._buffer = deque(
            m for m in self._buffer if TopicPartition(m.topic, m.partition) not in partitions
        )
        self._resumed -= partitions

    def _skip_for(self, tp: TopicPartition) -> tuple[int, int] | None:
        """(frame offset, records to skip) from the group's commit metadata, once per assignment."""
        if tp in self._resumed:
            return None
        self._resumed.add(tp)
        committed = self._consumer.committed(tp, metadata=True)
        meta = getattr(committed, "metadata", "") or ""
        if committed is None or not meta.startswith("skip="):
            return None
        return int(committed.offset), int(meta.removeprefix("skip="))

    def _unpack(self, tp: TopicPartition, records: list[object]) -> None:
        skip = self._skip_for(tp)
        for r in records:
            offset: int = r.offset  # type: ignore[attr-defined]
            items = decode_frame(r.value or b"", key=r.key or b"")  # type: ignore[attr-defined]
            self._frame_sizes[(tp, offset)] = len(items)
            first = skip[1] if skip is not None and skip[0] == offset else 0
            for index in range(first, len(items)):
                key, value = items[index]
                self._buffer.append(
                    Message(tp.topic, tp.partition, offset * FRAME_SLOTS + index, key, value)
                )

    def poll(self, *, max_records: int, timeout_s: float) -> list[Message]:
        """Up to max_records records, unpacked from as few Kafka messages as needed."""
        if not self._buffer:
            fetched = self._consumer.poll(timeout_ms=int(timeout_s * 1000))
            for tp, records in fetched.items():
                self._unpack(tp, records)
        count = min(max_records, len(self._buffer))
        return [self._buffer.popleft() for _ in range(count)]

    def commit(self, *, messages: Sequence[Message]) -> None:
        """Commit past the highest message of each partition, inside a frame if need be."""
        highest: dict[TopicPartition, int] = {}
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            highest[tp] = max(highest.get(tp, -1), m.offset)
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, virtual in highest.items():
            offset, index = divmod(virtual, FRAME_SLOTS)
            size = self._frame_sizes.get((tp, offset), 1)
            if index + 1 >= size:
                offsets[tp] = OffsetAndMetadata(offset + 1, "", -1)
                self._frame_sizes = {
                    k: v for k, v in self._frame_sizes.items() if k[0] != tp or k[1] > offset
                }
            else:
                offsets[tp] = OffsetAndMetadata(offset, f"skip={index + 1}", -1)
        if offsets:
            self._consumer.commit(offsets)

    def assignment(self) -> set[tuple[str, int]]:
        """The partitions the group coordinator gave this member."""
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        """Leave the group without committing."""
        self._consumer.close(autocommit=False)
