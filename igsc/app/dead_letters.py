"""What the pipeline refused: the rejected and quarantine topics, read for `igsc rejected`.

The topics are read from the start by a throwaway consumer group that never commits, so no
real group's offsets move and nothing is left behind.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from enrich.observations import QUARANTINE_TOPIC
from igsc.ports import Stream
from igsc.records import REJECTED_TOPIC
from igsc.settings import Settings
from igsc.wiring import topic

QUARANTINED_REASON = "quarantined: dated in the future"
_JOIN_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """One rejected or quarantined record, as an operator reads it."""

    topic: str  # "rejected" or "quarantine"
    stage: str
    partner: str | None
    stix_id: str | None
    reason: str
    at: str | None  # when it was rejected (quarantine: received)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able mapping."""
        return {
            "topic": self.topic,
            "stage": self.stage,
            "partner": self.partner,
            "stix_id": self.stix_id,
            "reason": self.reason,
            "at": self.at,
        }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def dead_letter_of(*, topic_name: str, value: bytes) -> DeadLetter:
    """Decode one record of the rejected or quarantine topic; never raises on bad bytes."""
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        return DeadLetter(
            topic=topic_name,
            stage="?",
            partner=None,
            stix_id=None,
            reason="unreadable record",
            at=None,
        )
    if topic_name == QUARANTINE_TOPIC:
        obj = raw.get("object")
        stix_id = _text(obj.get("id")) if isinstance(obj, dict) else _text(raw.get("stix_id"))
        return DeadLetter(
            topic=topic_name,
            stage=_text(raw.get("stage")) or "extract",
            partner=_text(raw.get("partner")),
            stix_id=stix_id,
            reason=_text(raw.get("reason")) or QUARANTINED_REASON,
            at=_text(raw.get("quarantined_at")) or _text(raw.get("received_at")),
        )
    return DeadLetter(
        topic=topic_name,
        stage=_text(raw.get("stage")) or "?",
        partner=_text(raw.get("partner")),
        stix_id=_text(raw.get("stix_id")),
        reason=_text(raw.get("reason")) or "(no reason given)",
        at=_text(raw.get("rejected_at")),
    )


def read_dead_letters(*, settings: Settings, stream: Stream) -> list[DeadLetter]:
    """Every rejected and quarantined record, oldest first."""
    names = {topic(settings, REJECTED_TOPIC): REJECTED_TOPIC}
    names[topic(settings, QUARANTINE_TOPIC)] = QUARANTINE_TOPIC
    group = f"{settings.namespace}.cli-read-{uuid.uuid4().hex}"
    consumer = stream.consumer(group=group, topics=list(names))
    found: list[DeadLetter] = []
    try:
        joined_by = time.monotonic() + _JOIN_TIMEOUT_S
        while True:
            messages = consumer.poll(
                max_records=settings.stream.batch_size, timeout_s=settings.stream.poll_timeout_s
            )
            found.extend(
                dead_letter_of(topic_name=names.get(m.topic, m.topic), value=m.value)
                for m in messages
            )
            # A poll before the group assigned partitions is not the end of the topics.
            waiting = not consumer.assignment() and time.monotonic() < joined_by
            if not messages and not waiting:
                break
    finally:
        consumer.close()
    # Stable: records without a time keep their log order, ahead of the dated ones.
    return sorted(found, key=lambda letter: letter.at or "")


def top_reasons(reasons: Iterable[str], *, count: int = 5) -> list[tuple[str, int]]:
    """The most frequent reasons, most frequent first."""
    return Counter(reasons).most_common(count)


def reasons_summary(reasons: Sequence[str]) -> str:
    """Lines naming the top reasons with their counts, for a command's output."""
    return "".join(f"  {n:>6} x {reason}\n" for reason, n in top_reasons(reasons))
