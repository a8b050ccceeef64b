"""Run a Python module with a crash point armed: the process SIGKILLs itself at that point.

    python -m tests.support.crash_points POINT MARKER MODULE [ARGS...]

A crash point wraps one method: after the wrapped call returns (its effect is durable), the
process writes MARKER and kills itself with SIGKILL, the way the OOM killer or a power cut
would stop it: no `finally`, no atexit, no acknowledgement. MARKER already present: the point
is disarmed, so the restarted process runs through. Tests kill exactly where they mean to
instead of hoping a timer lands inside a few milliseconds of work.
"""

from __future__ import annotations

import functools
import importlib
import os
import runpy
import signal
import sys
from pathlib import Path
from typing import Any

# point -> (module, class, method) whose return is the instant of the crash
POINTS: dict[str, tuple[str, str, str]] = {
    # a Celery worker: the first team's ticket is stored, its deliveries not yet queued
    "ticket-stored": ("respond.tickets", "TicketStore", "open_or_update"),
    # a respond worker: ticket work queued for the batch's incidents, before the incidents
    # topic, the correlation state and the offset commit
    "incidents-dispatched": ("respond.celery_app", "CeleryDispatch", "dispatch"),
}


def arm(*, point: str, marker: Path) -> None:
    """Make the point's method kill this process right after its first call returns."""
    module_name, class_name, method_name = POINTS[point]
    owner = getattr(importlib.import_module(module_name), class_name)
    original = getattr(owner, method_name)

    @functools.wraps(original)
    def crashing(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not marker.exists():
            marker.write_text(point)
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, method_name, crashing)


def main() -> None:
    point, marker, module, *args = sys.argv[1:]
    if point not in POINTS:
        raise SystemExit(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")
    arm(point=point, marker=Path(marker))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
