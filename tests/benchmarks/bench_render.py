"""Writing a run's results: benchmarks.json, .png and .md, now or later from a saved run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.benchmarks import bench_notes, bench_report
from tests.benchmarks.bench_config import REPO, relative


def write_outputs(results: dict[str, Any], *, folder: Path, full: bool) -> None:
    """benchmarks.json, benchmarks.png and benchmarks.md in folder."""
    bench_report.write_json(folder / "benchmarks.json", results, full=full)
    bench_report.plot(folder / "benchmarks.png", results)
    text = bench_report.markdown(
        results=results,
        command=results.get("command", "make bench"),
        png="benchmarks.png",
        notes=results.get("notes", []),
    )
    (folder / "benchmarks.md").write_text(text)


def render_saved(*, run_dir: Path) -> int:
    """Rewrite docs/ from a saved bench-out run (its full benchmarks.json), without rerunning."""
    import orjson

    results: dict[str, Any] = orjson.loads((run_dir / "benchmarks.json").read_bytes())["details"]
    config = results.setdefault("config", {})
    config["out"] = relative(Path(str(config.get("out", run_dir.parent))))
    if "notes" not in results:
        results["notes"] = bench_notes.notes(results=results, workers=config.get("workers", {}))
    results.setdefault("command", "make bench QUICK=1" if config.get("quick") else "make bench")
    write_outputs(results, folder=REPO / "docs", full=False)
    print(f"wrote docs/ from {relative(run_dir)}")
    return 0
