"""Child process: poll every configured partner once onto the raw topic (no draining).

`python -m tests.benchmarks.bench_poll CONFIG OUT.json` runs ingest.poll.poll_all_once with
the settings of CONFIG and writes each collection's result to OUT.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

from igsc.settings import load_settings
from igsc.wiring import build_state, build_stream
from ingest.poll import poll_all_once


def main(argv: list[str]) -> int:
    """Poll once; exit 1 if any collection failed."""
    settings = load_settings(config_file=Path(argv[0]))
    stream, state = build_stream(settings), build_state(settings)
    started = time.time()
    try:
        results = poll_all_once(settings=settings, stream=stream, state=state)
    finally:
        stream.close()
        state.close()
    summary = {
        "started_at": started,
        "finished_at": time.time(),
        "results": [
            {
                "partner": r.partner,
                "pages": r.pages,
                "published": r.published,
                "rejected": r.rejected,
                "duration_s": r.duration_s,
                "error": r.error,
            }
            for r in results
        ],
    }
    Path(argv[1]).write_bytes(orjson.dumps(summary))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
