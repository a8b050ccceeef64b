"""Stream over Apache Kafka with kafka-python: idempotent acks=all producer, manual commits."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from urllib.parse import urlsplit

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

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

    def __init__(self, *, url: str, partitions: int, client_id: str = "igsc") -> None:
        self._bootstrap = bootstrap_from_url(url)
        self._partitions = partitions
        self._client_id = client_id
        self._known_topics: set[str] = set()
        self._lock = threading.Lock()
        self._producer: KafkaProducer | None = None

    def _ensure_topics(self, topics: Sequence[str]) -> None:
        missing = [t for t in topics if t not in self._known_topics]
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
        finally:
            admin.close()
        self._known_topics.update(missing)

    def _get_producer(self) -> KafkaProducer:
        if self._producer is None:
            try:
                self._producer = KafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=5,
                    batch_size=512 * 1024,
                    max_request_size=8 * 1024 * 1024,
                    compression_type=None,
                )
            except KafkaError as exc:
                raise ServiceUnavailable(f"no Kafka broker at {','.join(self._bootstrap)}") from exc
        return self._producer

    def publish(self, *, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
        """Send every record and wait until the broker acknowledged all of them."""
        if not records:
            return
        with self._lock:
            self._ensure_topics([topic])
            producer = self._get_producer()
            futures = [producer.send(topic, key=k, value=v) for k, v in records]
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
        return KafkaGroupConsumer(bootstrap=self._bootstrap, group=group, topics=topics)

    def close(self) -> None:
        """Flush and close the producer."""
        with self._lock:
            if self._producer is not None:
                self._producer.close()
                self._producer = None


class KafkaGroupConsumer:
    """A KafkaConsumer with auto-commit off; commit() is the only way offsets move."""

    def __init__(self, *, bootstrap: list[str], group: str, topics: Sequence[str]) -> None:
        try:
            self._consumer = KafkaConsumer(
                *topics,
                bootstrap_servers=bootstrap,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=10_000,
                fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=16 * 1024 * 1024,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=1_000,
            )
        except KafkaError as exc:
            raise ServiceUnavailable(f"no Kafka broker at {','.join(bootstrap)}") from exc

    def poll(self, *, max_records: int, timeout_s: float) -> list[Message]:
        """Fetch up to max_records."""
        batches = self._consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        out: list[Message] = []
        for tp, records in batches.items():
            for r in records:
                out.append(Message(tp.topic, tp.partition, r.offset, r.key or b"", r.value or b""))
        return out

    def commit(self, *, messages: Sequence[Message]) -> None:
        """Commit the offset after the highest message of each partition."""
        highest: dict[TopicPartition, int] = {}
        for m in messages:
            tp = TopicPartition(m.topic, m.partition)
            highest[tp] = max(highest.get(tp, -1), m.offset)
        if highest:
            self._consumer.commit(
                {tp: OffsetAndMetadata(off + 1, "", -1) for tp, off in highest.items()}
            )

    def assignment(self) -> set[tuple[str, int]]:
        """The partitions the group coordinator gave this member."""
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def close(self) -> None:
        """Leave the group without committing."""
        self._consumer.close(autocommit=False)
