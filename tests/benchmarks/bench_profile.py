"""Where a worker's time goes: py-spy samples of its main thread, idle (I/O waits) included."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")
_OWN = ("igsc/", "enrich/", "ingest/")


def py_spy() -> str | None:
    """The py-spy executable next to this Python, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_profile(*, pid: int, duration_s: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Sample the process for duration_s seconds (non-blocking: the worker is not paused)."""
    exe = py_spy()
    if exe is None:
        return None
    argv = [exe, "record", "--pid", str(pid), "--duration", str(duration_s), "--rate", "25",
            "--format", "raw", "--output", str(out), "--nonblocking", "--idle",
            "--threads"]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _frame(text: str) -> str:
    match = _FRAME.match(text.strip())
    if not match:
        return text.strip()
    name = match["file"]
    for root in _OWN:
        at = name.find(root)
        if at >= 0:
            name = name[at:]
            break
    else:
        name = Path(name).name
    return f"{match['func']} ({name})"


def summarise(*, path: Path, top: int = 12) -> dict[str, Any]:
    """Self and inclusive shares of the main thread's samples, in percent."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return {"samples": 0, "error": "no profile written"}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        parts = stack.split(";")
        # The first part is "thread (TID): NAME"; only the main thread runs the stage.
        if len(parts) < 2 or not parts[0].endswith("MainThread"):
            continue
        count = int(count_text)
        frames = [_frame(p) for p in parts[1:]]
        total += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return {"samples": 0}

    def share(counter: Counter[str], keep: Any) -> list[list[Any]]:
        items = [(k, v) for k, v in counter.most_common() if keep(k)]
        return [[k, round(100 * v / total, 1)] for k, v in items[:top]]

    own = share(inclusive, lambda k: any(r in k for r in _OWN) and inclusive[k] < 0.97 * total)
    return {
        "samples": total,
        "self_pct": share(self_time, lambda _: True),
        "inclusive_own_pct": own,
    }
