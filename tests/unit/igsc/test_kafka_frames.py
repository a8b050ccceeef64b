"""Record frames round-trip exactly and stay under the broker's message size."""

from __future__ import annotations

from igsc.adapters.kafka_frames import MAX_FRAME_BYTES, decode_frame, encode_frames


def test_frames_round_trip_keys_and_values_in_order() -> None:
    records = [(f"k{i}".encode(), bytes([i % 256]) * (i % 50)) for i in range(1000)]
    records.append((b"", b""))
    frames = list(encode_frames(records))
    assert [r for f in frames for r in decode_frame(f)] == records


def test_big_batches_are_split_under_the_size_limit() -> None:
    records = [(b"k%d" % i, b"x" * 10_000) for i in range(300)]
    frames = list(encode_frames(records))
    assert len(frames) > 1
    assert all(len(f) <= MAX_FRAME_BYTES + 64 for f in frames)
    assert sum(len(decode_frame(f)) for f in frames) == 300


def test_a_plain_message_from_another_producer_is_one_record() -> None:
    assert decode_frame(b'{"type": "indicator"}') == [(b"", b'{"type": "indicator"}')]


def test_a_plain_message_keeps_its_own_kafka_key() -> None:
    assert decode_frame(b'{"id": "incident--1"}', key=b"incident--1") == [
        (b"incident--1", b'{"id": "incident--1"}')
    ]
