"""The results of a run as JSON, a markdown table (figure, baseline, ratio, target) and a plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson

from tests.benchmarks.bench_stages import hops_table


def _get(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _saturated_rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """The first latency run, when the POST path could not take 70% of the e2e rate."""
    load = results.get("latency_load") or {}
    first = results.get("latency_at_e2e_load") or {}
    if not load.get("post_path_sustained_per_s") or not first:
        return []
    label = "at 70% of the real e2e rate (POST path saturated: latency is its queue)"
    return [
        (
            f"{label}: offered / accepted / sustained to searchable (indicators/s)",
            f"{_fmt(first.get('target_rate_per_s'))} / {_fmt(first.get('achieved_rate_per_s'))}"
            f" / {_fmt(load.get('post_path_sustained_per_s'))}",
            "—",
            "—",
            "—",
            "—",
        ),
        (
            f"{label}: arrival → searchable p50 / p99 (s)",
            f"{_fmt(first.get('p50_s'))} / {_fmt(first.get('p99_s'))}",
            "—",
            "—",
            "—",
            "—",
        ),
    ]


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The flat keys docs/benchmarks.json promises, from the detailed results."""
    dedup = results.get("dedup") or {}
    return {
        "e2e_indicators_per_s_real": _get(results, "e2e_real.indicators_per_s"),
        "e2e_indicators_per_s_embedded": _get(results, "e2e_embedded.indicators_per_s"),
        "naive_baseline_indicators_per_s": _get(results, "naive.indicators_per_s"),
        "indicators_total": _get(results, "e2e_real.indicators"),
        "indicators_total_embedded": _get(results, "e2e_embedded.indicators"),
        "p50_arrival_to_searchable_s": _get(results, "latency.p50_s"),
        "p99_arrival_to_searchable_s": _get(results, "latency.p99_s"),
        "search_exact_p95_ms_idle": _get(results, "search_idle.exact.p95_ms"),
        "search_exact_p95_ms_ingesting": _get(results, "search_ingesting.exact.p95_ms"),
        "taxii_post_objects_per_s": _get(results, "taxii_ours.post_objects_per_s"),
        "medallion_post_objects_per_s": _get(results, "taxii_medallion.post_objects_per_s"),
        "taxii_get_objects_per_s": _get(results, "taxii_ours.get_objects_per_s"),
        "medallion_get_objects_per_s": _get(results, "taxii_medallion.get_objects_per_s")
        or _get(results, "taxii_medallion.get_upper_bound_per_s"),
        "medallion_get_is_upper_bound": bool(
            _get(results, "taxii_medallion.get_upper_bound_per_s")
        ),
        # Dedup state = merge's one row per observable, which folds every partner's report of
        # it into one record. The total adds extract's per-indicator version rows and the rest.
        "dedup_bytes_per_observable": dedup.get("merge_bytes_per_observable"),
        "state_bytes_per_observable_all": dedup.get("all_state_bytes_per_observable"),
        # The respond stage (tests/benchmarks/bench_respond.py): CPU of its workers and the
        # Celery workers over that of poller + extract + merge, same corpus (so per indicator);
        # incidents and tickets of the real e2e run; crossing (the third country's report
        # POSTed) to every affected team's ticket stored, in the latency phase.
        "respond_cpu_share": _get(results, "respond_real.added_share"),
        "incidents_opened": _get(results, "respond_real.incidents_opened"),
        "tickets_stored": _get(results, "respond_real.tickets_stored"),
        "crossing_to_ticket_p50_s": _get(results, "latency.crossing_to_ticket.p50_s"),
        "crossing_to_ticket_p99_s": _get(results, "latency.crossing_to_ticket.p99_s"),
        "peak_rss_mb": results.get("peak_rss_mb", {}),
        "versions": _get(results, "machine.versions"),
    }


def write_json(path: Path, results: dict[str, Any], *, full: bool) -> None:
    """Headline keys first, then the details; `full` keeps every latency sample too."""
    details = dict(results)
    latency = dict(details.get("latency") or {})
    values = sorted(latency.get("latencies_s") or [])
    if values:
        latency["quantiles_s"] = {
            f"{q / 2:g}": round(values[min(len(values) - 1, int(q / 200 * len(values)))], 4)
            for q in range(0, 201)
        }
    if not full:
        latency.pop("latencies_s", None)
    if latency:
        details["latency"] = latency
    path.write_bytes(
        orjson.dumps(headline(results) | {"details": details}, option=orjson.OPT_INDENT_2)
    )


def _fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float | int):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
        return text + unit
    return str(value)


def _ratio(a: Any, b: Any, *, inverse: bool = False) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not a or not b:
        return "—"
    return f"{(b / a if inverse else a / b):.1f}x"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def _ge(value: Any, bound: float) -> bool | None:
    return None if not isinstance(value, int | float) else value >= bound


def _le(value: Any, bound: float) -> bool | None:
    return None if not isinstance(value, int | float) else value <= bound


def table(results: dict[str, Any]) -> str:
    """The markdown table of figures, their baselines, ratios and targets."""
    h = headline(results)
    real, naive = h["e2e_indicators_per_s_real"], h["naive_baseline_indicators_per_s"]
    emb = h["e2e_indicators_per_s_embedded"]
    post, mpost = h["taxii_post_objects_per_s"], h["medallion_post_objects_per_s"]
    get, mget = h["taxii_get_objects_per_s"], h["medallion_get_objects_per_s"]
    ratio_real = real / naive if isinstance(real, int | float) and naive else None
    s_idle, s_ing = results.get("search_idle") or {}, results.get("search_ingesting") or {}
    lat = results.get("latency") or {}
    load = results.get("latency_load") or {}
    rows = [
        (
            "e2e throughput, real Kafka+ES+Redis (indicators/s)",
            _fmt(real),
            f"naive {_fmt(naive)}",
            _ratio(real, naive),
            "≥ 5,000/s and ≥ 10x naive",
            _verdict(None if ratio_real is None else (real >= 5000 and ratio_real >= 10)),
        ),
        (
            "e2e throughput, embedded SQLite (indicators/s)",
            _fmt(emb),
            f"naive {_fmt(naive)}",
            _ratio(emb, naive),
            "—",
            "—",
        ),
        *_saturated_rows(results),
        (
            f"latency load: {load.get('basis', '70% of the real e2e rate')}, offered / "
            "accepted (indicators/s)",
            f"{_fmt(lat.get('target_rate_per_s'))} / {_fmt(lat.get('achieved_rate_per_s'))}",
            "—",
            "—",
            "—",
            "—",
        ),
        (
            "arrival → searchable p50 (s) at 70% load",
            _fmt(h["p50_arrival_to_searchable_s"]),
            "—",
            "—",
            "—",
            "—",
        ),
        (
            "arrival → searchable p99 (s) at 70% load",
            _fmt(h["p99_arrival_to_searchable_s"]),
            "—",
            "—",
            "≤ 2 s",
            _verdict(_le(h["p99_arrival_to_searchable_s"], 2.0)),
        ),
    ]
    rows += _respond_rows(results, h)
    for kind, label in (("exact", "exact observable lookup (from the dedup state)"),
                        ("exact_index", "the same lookup by Elasticsearch GET (comparison)"),
                        ("country_facets", "country filter + facets"),
                        ("free_text", "free text")):  # fmt: skip
        idle, ing = s_idle.get(kind, {}), s_ing.get(kind, {})
        target = "≤ 25 ms (ingesting)" if kind == "exact" else "—"
        ok = _verdict(_le(ing.get("p95_ms"), 25.0)) if kind == "exact" else "—"
        rows.append((f"search p50 / p95 (ms), {label}: idle", f"{_fmt(idle.get('p50_ms'))} / "
                     f"{_fmt(idle.get('p95_ms'))}", "—", "—", "—", "—"))  # fmt: skip
        rows.append((f"search p50 / p95 (ms), {label}: while ingesting",
                     f"{_fmt(ing.get('p50_ms'))} / {_fmt(ing.get('p95_ms'))}", "—", "—", target,
                     ok))  # fmt: skip
    rows += [
        (
            "TAXII POST add-objects (objects/s)",
            _fmt(post),
            f"medallion {_fmt(mpost)}",
            _ratio(post, mpost),
            "≥ 10x medallion",
            _verdict(_ge(_num(post, mpost), 10)),
        ),
        (
            "TAXII paged GET, limit 1000 (objects/s)",
            _fmt(get),
            f"medallion {'≤ ' if h['medallion_get_is_upper_bound'] else ''}{_fmt(mget)}",
            _ratio(get, mget),
            "≥ 10x medallion",
            _verdict(_ge(_num(get, mget), 10)),
        ),
        (
            "dedup state: merge rows, one per observable (bytes / unique observable)",
            _fmt(h["dedup_bytes_per_observable"]),
            "—",
            "—",
            "≤ 100",
            _verdict(_le(h["dedup_bytes_per_observable"], 100)),
        ),
        (
            "all pipeline state: dedup + extract's per-indicator version rows + the rest "
            "(bytes / unique observable)",
            _fmt(h["state_bytes_per_observable_all"]),
            "—",
            "—",
            "—",
            "—",
        ),
    ]
    lines = [
        "| figure | value | baseline | ratio | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _pct(value: Any) -> str:
    return "—" if not isinstance(value, int | float) else f"{100 * value:.1f}%"


def _respond_rows(results: dict[str, Any], h: dict[str, Any]) -> list[tuple[str, ...]]:
    """The respond stage: CPU it adds, what it opened, how fast a crossing becomes tickets."""
    real = results.get("respond_real") or {}
    emb = results.get("respond_embedded") or {}
    cross = _get(results, "latency.crossing_to_ticket") or {}
    share = h["respond_cpu_share"]
    drain = real.get("drain_after_searchable_s")
    rows: list[tuple[str, ...]] = [
        (
            "respond stage: CPU it adds per indicator, real (respond + respond-threats + Celery "
            "workers' core-s / poller + extract + merge core-s)",
            _pct(share),
            f"embedded {_pct(emb.get('added_share'))}",
            "—",
            "≤ 15%",
            _verdict(_le(share, 0.15)),
        ),
        (
            "respond stage, real e2e run: incidents opened / tickets stored / drained after "
            "all documents searchable (s)",
            f"{_fmt(h['incidents_opened'])} / {_fmt(h['tickets_stored'])} / "
            f"{_fmt(drain)}{'' if real.get('drained', True) else ' (did not drain)'}",
            "—",
            "—",
            "—",
            "—",
        ),
        (
            "crossing → every affected team's ticket stored p50 (s) at 70% load"
            f" ({_fmt(cross.get('incidents_with_all_tickets'))} of "
            f"{_fmt(cross.get('crossings_posted'))} crossings)",
            _fmt(h["crossing_to_ticket_p50_s"]),
            "—",
            "—",
            "—",
            "—",
        ),
        (
            "crossing → every affected team's ticket stored p99 (s) at 70% load",
            _fmt(h["crossing_to_ticket_p99_s"]),
            "—",
            "—",
            "≤ 2 s",
            _verdict(_le(h["crossing_to_ticket_p99_s"], 2.0)),
        ),
    ]
    return rows


def _num(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float) and b:
        return a / b
    return None


def cpu_table(results: dict[str, Any]) -> str:
    """Core-seconds per process group during each e2e run, as a share of the machine."""
    keys = ("cpu_real", "cpu_latency", "cpu_embedded")
    runs = [(k, results[k]) for k in keys if results.get(k)]
    if not runs:
        return "Not measured in this run."
    head = " | ".join(f"{k.removeprefix('cpu_')} run: core-s (% of capacity)" for k, _ in runs)
    lines = [f"| process | {head} |", "|---|" + "---|" * len(runs)]
    names: list[str] = []
    for _, cpu in runs:
        names += [n for n in cpu["groups_core_s"] if n not in names]
    rows = [(n, [cpu["groups_core_s"].get(n) for _, cpu in runs]) for n in names]
    rows.append(("other processes on this machine", [c["other_processes_core_s"] for _, c in runs]))
    rows.append(("all (machine busy)", [c["busy_core_s"] for _, c in runs]))
    for name, values in rows:
        cells = [
            "—" if v is None or not v else f"{v:,.0f} ({100 * v / c['capacity_core_s']:.0f}%)"
            for v, (_, c) in zip(values, runs, strict=True)
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    walls = ", ".join(
        f"{k.removeprefix('cpu_')}: {c['wall_s']} s x {round(c['capacity_core_s'] / c['wall_s'])} "
        "cores"
        for k, c in runs
    )
    return "\n".join([*lines, "", f"Capacity = wall time x cores ({walls})."])


def rss_table(peaks: dict[str, float]) -> str:
    """Peak RSS per process."""
    lines = ["| process | peak RSS (MB) |", "|---|---|"]
    lines += [f"| {name} | {mb:,.0f} |" for name, mb in sorted(peaks.items())]
    return "\n".join(lines)


def _rates(
    samples: list[dict[str, float]], field: str, window_s: float = 5.0
) -> tuple[list[float], list[float]]:
    times, rates = [], []
    j = 0
    for i, s in enumerate(samples):
        while samples[j]["t"] < s["t"] - window_s:
            j += 1
        span = s["t"] - samples[j]["t"]
        if i and span > 0.5:
            times.append(s["t"])
            rates.append((s[field] - samples[j][field]) / span)
    return times, rates


def plot(path: Path, results: dict[str, Any]) -> None:
    """Throughput and progress over time (both modes), and the latency distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rate_ax, done_ax, lat_ax) = plt.subplots(3, 1, figsize=(10, 11))
    for mode, colour in (("e2e_real", "tab:blue"), ("e2e_embedded", "tab:green")):
        run = results.get(mode) or {}
        samples = run.get("samples") or []
        if len(samples) < 3:
            continue
        label = "real (Kafka, ES, Redis)" if mode == "e2e_real" else "embedded (SQLite)"
        counted = [s for s in samples if "sources" in s]
        if len(counted) > 2 and counted[-1]["sources"]:
            # (observable, partner) reports searchable, scaled so the run ends at its indicators.
            scale = run["indicators"] / counted[-1]["sources"]
            t, r = _rates([s | {"v": s["sources"] * scale} for s in counted], "v", window_s=10)
            rate_ax.plot(t, r, color=colour, label=label)
        if run.get("indicators_per_s"):
            rate_ax.axhline(run["indicators_per_s"], color=colour, linestyle=":", linewidth=1)
        ts = [s["t"] for s in samples]
        done_ax.plot(ts, [100 * s["fetched"] / run["objects"] for s in samples], color=colour,
                     linestyle="--", label=f"{label}: fetched from TAXII")  # fmt: skip
        if len(counted) > 2 and counted[-1]["sources"]:
            final = counted[-1]["sources"]
            done_ax.plot([s["t"] for s in counted], [100 * s["sources"] / final for s in counted],
                         color=colour, label=f"{label}: indicators searchable")  # fmt: skip
        done_ax.plot(ts, [100 * s["indexed"] / run["expected_docs"] for s in samples],
                     color=colour, linestyle=":", label=f"{label}: documents")  # fmt: skip
    rate_ax.set_ylabel("indicators / s (10 s window)")
    rate_ax.set_title(
        "Indicators searchable per second (from sum(partner_count) in the index); "
        "dotted: run average",
        fontsize=10,
    )
    done_ax.set_ylabel("% of the corpus")
    done_ax.set_xlabel("seconds since the first TAXII page was fetched")
    done_ax.set_title("Progress: fetched by the poller vs searchable in the index", fontsize=10)
    for ax in (rate_ax, done_ax):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    _latency_hist(lat_ax, results.get("latency") or {})
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _latency_hist(ax: Any, latency: dict[str, Any]) -> None:
    lat = latency.get("latencies_s") or []
    if lat:
        ax.hist(lat, bins=60, color="tab:blue", alpha=0.7)
        for q, name in ((latency["p50_s"], "p50"), (latency["p99_s"], "p99")):
            ax.axvline(q, color="tab:red", linestyle=":")
            ax.text(q, ax.get_ylim()[1] * 0.9, f" {name} {q:.2f}s", color="tab:red")
    rate = latency.get("achieved_rate_per_s")
    ax.set_xlabel("arrival at the TAXII server (POST sent) -> searchable in Elasticsearch (s)")
    ax.set_ylabel("indicators")
    ax.set_title(f"Latency at 70% of the sustained rate (achieved {rate}/s)", fontsize=10)
    ax.grid(alpha=0.3)


def _profile_lines(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    profiles = (results.get("e2e_real") or {}).get("profiles") or {}
    for name, prof in sorted(profiles.items()):
        if not prof.get("samples"):
            continue
        own = ", ".join(f"`{f}` {p}%" for f, p in prof.get("inclusive_own_pct", [])[:6])
        leaf = ", ".join(f"`{f}` {p}%" for f, p in prof.get("self_pct", [])[:5])
        lines.append(f"* **{name}** ({prof['samples']} samples) — inclusive: {own}")
        lines.append(f"  * self (leaf frames): {leaf}")
    return lines


def _code_line(code: dict[str, Any]) -> str:
    changed = code.get("uncommitted_changes") or []
    if not code.get("commit"):
        return "* code: unknown"
    listed = ", ".join(f"`{c}`" for c in changed[:12]) + (" ..." if len(changed) > 12 else "")
    extra = f" plus uncommitted changes in {len(changed)} files ({listed})" if changed else ""
    return f"* code: commit `{code['commit'][:12]}`{extra}"


def markdown(*, results: dict[str, Any], command: str, png: str, notes: list[str]) -> str:
    """docs/benchmarks.md: how it was run, the table, the plot, the machine, the notes."""
    machine = results.get("machine") or {}
    versions = machine.get("versions") or {}
    real = results.get("e2e_real") or {}
    emb = results.get("e2e_embedded") or {}
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {results.get('finished_at', '?')} "
        f"(run time {results.get('run_s', '?')} s). Raw numbers: "
        "[benchmarks.json](benchmarks.json).",
        "",
        f"Corpus: {_fmt(real.get('indicators'))} indicators ({_fmt(real.get('objects'))} STIX "
        f"objects with sightings) from {len(results.get('partners', []))} partners "
        f"({', '.join(results.get('partners', []))}), {_fmt(real.get('expected_docs'))} "
        "unique observables; embedded run: "
        f"{_fmt(emb.get('indicators'))} indicators, {_fmt(emb.get('expected_docs'))} observables.",
        "",
        table(results),
        "",
        f"![throughput over time and latency distribution]({png})",
        "",
        "## Where arrival-to-searchable time goes (per hop, from Kafka record timestamps)",
        "",
        hops_table(results),
        "",
        "## Peak memory (RSS, sampled every 0.5 s)",
        "",
        rss_table(results.get("peak_rss_mb") or {}),
        "",
        "## CPU during the end-to-end runs and the latency phase (psutil, every 0.5 s)",
        "",
        cpu_table(results),
        "",
        "## Where the time goes (py-spy, worker main threads, I/O waits included)",
        "",
        *(_profile_lines(results) or ["No profile was taken in this run."]),
        "",
        "## Machine",
        "",
        f"* {machine.get('cores_logical')} logical cores ({machine.get('cpu_model')}), "
        f"{machine.get('memory_gb')} GiB memory, {machine.get('os')}",
        "* " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        _code_line(machine.get("code") or {}),
        "",
        "## Notes",
        "",
        *[f"* {n}" for n in notes],
        "",
    ]
    return "\n".join(lines)
