"""The embedded stream is shared safely by several processes and survives restarts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from igsc.adapters.sqlite_stream import SqliteStream

PUBLISHER = """
import sys
from pathlib import Path
from igsc.adapters.sqlite_stream import SqliteStream
stream = SqliteStream(path=Path(sys.argv[1]), partitions=4)
for batch in range(20):
    stream.publish(topic="t", records=[(f"{sys.argv[2]}-{i}".encode(), b"x") for i in range(50)])
stream.close()
"""


def test_concurrent_publishers_in_separate_processes_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "stream.db"
    SqliteStream(path=db, partitions=4).close()
    procs = [
        subprocess.Popen([sys.executable, "-c", PUBLISHER, str(db), f"p{n}"]) for n in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    stream = SqliteStream(path=db, partitions=4)
    consumer = stream.consumer(group="g", topics=["t"])
    got = []
    while batch := consumer.poll(max_records=1000, timeout_s=0.1):
        got.extend(batch)
    assert len(got) == 3 * 20 * 50
    per_partition: dict[int, list[int]] = {}
    for m in got:
        per_partition.setdefault(m.partition, []).append(m.offset)
    assert all(offsets == list(range(len(offsets))) for offsets in per_partition.values())
    stream.close()
