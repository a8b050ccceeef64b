"""date_added: unique and strictly increasing per collection, across processes and clock skew."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from taxii_server_fixtures import CLEAR, SHARED, Server, indicator

from igsc.adapters.sqlite_state import SqliteState
from igsc.stix_time import format_us, parse_us
from ingest.server.clock import DateAddedClock

RESERVER = """
import sys
from pathlib import Path
from igsc.adapters.sqlite_state import SqliteState
from ingest.server.clock import DateAddedClock
state = SqliteState(path=Path(sys.argv[1]), namespace="t")
clock = DateAddedClock(state=state)
for _ in range(60):
    r = clock.reserve(scope="root:coll", count=3)
    print(r.start)
    clock.release(reservation=r)
state.close()
"""


def test_reservations_from_several_processes_never_overlap(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    SqliteState(path=db, namespace="t").close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RESERVER, str(db)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    values = [s + k for out in outputs for s in map(int, out.split()) for k in range(3)]
    assert len(values) == 4 * 60 * 3
    assert len(set(values)) == len(values)
    for out in outputs:  # each process sees its own blocks in increasing order
        starts = list(map(int, out.split()))
        assert starts == sorted(starts)


class _Skewed:
    def __init__(self, values: list[int]) -> None:
        self._values = values

    def __call__(self) -> int:
        return self._values.pop(0) if len(self._values) > 1 else self._values[0]


def test_a_wall_clock_going_backwards_never_repeats_a_value(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "s.db", namespace="t")
    now = 1_700_000_000_000_000
    clock = DateAddedClock(state=state, now_us=_Skewed([now, now - 5_000_000, now - 10, now]))
    first = clock.reserve(scope="a", count=10, in_flight=False)
    second = clock.reserve(scope="a", count=10, in_flight=False)
    third = clock.reserve(scope="a", count=1, in_flight=False)
    assert first.start == now
    assert second.start == now + 10
    assert third.start == now + 20
    assert clock.reserve(scope="b", count=1, in_flight=False).start == now  # scopes are apart
    state.close()


def test_readers_stop_before_an_in_flight_reservation_until_it_is_released(
    tmp_path: Path,
) -> None:
    state = SqliteState(path=tmp_path / "s.db", namespace="t")
    clock = DateAddedClock(state=state, lease_s=60)
    assert clock.horizon(scope="c") is None
    early = clock.reserve(scope="c", count=5)
    late = clock.reserve(scope="c", count=5)
    assert clock.horizon(scope="c") == early.start - 1
    clock.release(reservation=early)
    assert clock.horizon(scope="c") == late.start - 1
    clock.release(reservation=late)
    assert clock.horizon(scope="c") is None
    state.close()


def test_a_dead_workers_lease_expires(tmp_path: Path) -> None:
    state = SqliteState(path=tmp_path / "s.db", namespace="t")
    now = [1_000_000_000]
    clock = DateAddedClock(state=state, lease_s=10, now_us=lambda: now[0])
    clock.reserve(scope="c", count=1)  # never released
    assert clock.horizon(scope="c") is not None
    now[0] += 11_000_000
    assert clock.horizon(scope="c") is None
    state.close()


def test_objects_of_an_unfinished_post_are_not_served_yet(server: Server) -> None:
    server.post([indicator(markings=(CLEAR,))])
    clock = DateAddedClock(state=server.state)
    pending = clock.reserve(scope=f"main:{SHARED}", count=1)
    later = indicator(markings=(CLEAR,))
    server.post([later])  # committed, but after the pending reservation
    seen = server.get(server.objects_url(), "bravo")
    assert later["id"] not in seen.text
    resume = seen.headers["X-TAXII-Date-Added-Last"]
    assert parse_us(resume) < pending.start
    clock.release(reservation=pending)
    again = server.get(server.objects_url(), "bravo", added_after=resume)
    assert [o["id"] for o in again.json()["objects"]] == [later["id"]]


def test_dates_are_unique_across_many_posts(server: Server) -> None:
    for _ in range(5):
        server.post([indicator() for _ in range(20)])
    dates = [
        m["date_added"] for m in server.read_all("alpha", f"/main/collections/{SHARED}/manifest/")
    ]
    assert len(dates) == len(set(dates)) == 100
    assert dates == sorted(dates)
    assert all(format_us(parse_us(d)) == d for d in dates)
