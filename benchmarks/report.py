"""Write a benchmark run to ``--out``: ``bench_<device>.json``, ``bench_<device>.md`` and PNGs.

The run is one dict (see :func:`benchmarks.__main__.main`)::

    {"device", "mode", "machine", "threads", "settings", "duration_s", "rows": [row, ...]}

with rows as described in :mod:`benchmarks.runner`. The Markdown table has one line per row:
median time and [min–max] per contender, the ratio of medians to the baseline (torch; lower is
better), GFLOP/s per contender, % of the fp32 peak when one was given, and the peak resident-memory
growth per contender. A summary follows: the geometric mean of the ratios per op group and the
largest gaps.

Charts (matplotlib, imported only here and only when writing them; without it the PNGs are skipped
with a printed note):

* ``bench_<device>_ratio.png``: horizontal bars, ratio to torch per row, log scale, parity line.
* ``bench_<device>_matmul.png``: roofline-style, achieved GFLOP/s (TFLOP/s when above 1000)
  against the square matmul size, forward and forward+backward, with the peak when known.
"""
from __future__ import annotations

import json
import math
import os


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def fmt_num(x, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{x:.{digits}f}"


def fmt_mib(n_bytes) -> str:
    return "" if n_bytes is None else f"{n_bytes / 2**20:.1f}"


def contender_names(rows) -> list:
    names = []
    for row in rows:
        for name in row.get("contenders", {}):
            if name not in names:
                names.append(name)
    return names


def geomean(values) -> float | None:
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def normalize(rows) -> list:
    """Rows with every key the reports read (rows from the GPU plug-in may carry fewer): ``id``
    from group, name and phase; ``baseline`` torch; per contender ``min_s``/``max_s`` default to
    the median, ``gflops`` from ``flops``; ``ratio`` from the medians when absent."""
    out = []
    for row in rows:
        r = dict(row)
        r.setdefault("group", "")
        r.setdefault("name", "")
        r.setdefault("phase", "")
        r.setdefault("id", " ".join(x for x in (r["group"], r["name"], r["phase"]) if x))
        r.setdefault("params", {})
        r.setdefault("flops", None)
        r.setdefault("baseline", "torch")
        contenders = {}
        for name, d in (r.get("contenders") or {}).items():
            d = dict(d)
            if d.get("median_s") is None:
                continue
            d.setdefault("min_s", d["median_s"])
            d.setdefault("max_s", d["median_s"])
            if d.get("gflops") is None and r["flops"]:
                d["gflops"] = r["flops"] / d["median_s"] / 1e9
            contenders[name] = d
        r["contenders"] = contenders
        if not r.get("ratio") and r["baseline"] in contenders:
            base = contenders[r["baseline"]]["median_s"]
            r["ratio"] = {n: d["median_s"] / base for n, d in contenders.items()
                          if n != r["baseline"]}
        r.setdefault("ratio", {})
        out.append(r)
    return out


def write_json(run: dict, path: str) -> str:
    with open(path, "w") as f:
        json.dump(run, f, indent=1)
        f.write("\n")
    return path


def _memory(d: dict):
    return d.get("peak_rss_bytes", d.get("peak_bytes"))


def markdown(run: dict) -> str:
    """The report as Markdown: header lines, one table line per row, checks, the summary.

    Columns adapt to the rows: TFLOP/s instead of GFLOP/s when a figure exceeds 1000 GFLOP/s,
    % of peak when a peak is known, memory when one was measured."""
    from .machine import one_line
    rows = normalize(run["rows"])
    names = contender_names(rows)
    baseline = next((r["baseline"] for r in rows if r.get("baseline")), "torch")
    others = [n for n in names if n != baseline]
    peak = run.get("settings", {}).get("peak_gflops")
    threads = run.get("threads", {})
    stats = [d for r in rows for d in r["contenders"].values()]
    scale, unit = (1e3, "TFLOP/s") if max((d.get("gflops") or 0 for d in stats), default=0) > 1e3 \
        else (1.0, "GFLOP/s")
    show_peak = bool(peak) or any(d.get("peak_pct") is not None for d in stats)
    show_memory = any(_memory(d) is not None for d in stats)
    show_load = any(r.get("load") for r in rows)
    cpu = run["device"] == "cpu"
    mem = "peak RSS" if cpu else "peak memory"
    lines = [
        f"# minitorch vs {baseline}: {run['device'].upper()} benchmark ({run['mode']} mode)",
        "",
        f"- date: {run['machine']['date_utc']}; wall time {run.get('duration_s', 0):.0f} s",
        f"- machine: {one_line(run['machine'])}",
    ]
    if cpu:
        lines.append(f"- threads: torch {threads.get('torch')}, NumPy BLAS "
                     f"{threads.get('numpy_blas')}, minitorch {threads.get('minitorch')}, "
                     f"OMP_WAIT_POLICY={threads.get('OMP_WAIT_POLICY')}, "
                     f"OPENBLAS_THREAD_TIMEOUT={threads.get('OPENBLAS_THREAD_TIMEOUT')}")
        lines += load_lines(run)
    legend = ("- float32; time per call: median of alternating repeats after warm-up, [min–max]; "
              f"ratio = median / median of {baseline} (lower is better, 1 = parity); {unit} from "
              "the median")
    if show_memory:
        legend += ("; peak RSS = resident memory one call touched beyond what was live before "
                   "it (MiB)" if cpu else "; peak memory = device-memory high-water mark (MiB)")
    if peak:
        legend += f"; % peak of {peak:g} GFLOP/s fp32"
        detail = run.get("settings", {}).get("peak_detail")
        if detail:
            legend += f" ({detail})"
    if show_load:
        legend += ("; load = 1-minute load average before→after the row (it counts this run "
                   "too) and, in parentheses, the cores' worth of CPU other processes used "
                   "during it; ⚠ = other work above the limit (do not quote that row's ratio)")
    lines += [legend, *[f"- {note}" for note in run.get("settings", {}).get("notes", [])], ""]
    head = ["op", "case", "pass"]
    head += [f"{n} median [min–max]" for n in names]
    head += [f"{n}/{baseline}" for n in others]
    head += [f"{n} {unit}" for n in names]
    if show_peak:
        head += [f"{n} % peak" for n in names]
    if show_memory:
        head += [f"{n} {mem}" for n in names]
    if show_load:
        head.append("load")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|")
    for row in rows:
        c = row["contenders"]
        if row.get("error"):
            cells = [row["group"], row["name"], row["phase"], f"error: {row['error']}"]
            cells += [""] * (len(head) - len(cells))
            lines.append("| " + " | ".join(cells) + " |")
            continue
        cells = [row["group"], row["name"], row["phase"]]
        for n in names:
            d = c.get(n)
            cells.append("" if d is None else f"{fmt_time(d['median_s'])} "
                         f"[{fmt_time(d['min_s'])}–{fmt_time(d['max_s'])}]")
        cells += [fmt_num(row["ratio"].get(n), 2) for n in others]
        cells += [fmt_num(None if c.get(n, {}).get("gflops") is None
                          else c[n]["gflops"] / scale, 1 if scale == 1 else 2) for n in names]
        if show_peak:
            cells += [fmt_num(c.get(n, {}).get("peak_pct")) for n in names]
        if show_memory:
            cells += [fmt_mib(_memory(c.get(n, {}))) for n in names]
        if show_load:
            cells.append(fmt_load(row.get("load")))
        lines.append("| " + " | ".join(cells) + " |")
    checks = [(r["id"], r["check"]) for r in rows if r.get("check")]
    if checks:
        lines += ["", "Output checks (each contender's result against the reference, "
                  "‖a − b‖ / ‖b‖ unless named otherwise):", ""]
        lines += [f"- {i}: " + ", ".join(f"{k} {v:.2e}" if isinstance(v, float) else f"{k} {v}"
                                         for k, v in chk.items()) for i, chk in checks]
    lines += ["", *summary_lines(rows, others, baseline)]
    return "\n".join(lines) + "\n"


def fmt_load(ld: dict | None) -> str:
    """``0.31→0.42``, with `` ⚠`` when the row was measured above the load limit."""
    if not ld:
        return ""
    f = lambda x: "?" if x is None else f"{x:.2f}"
    others = ld.get("others_cores")
    return (f"{f(ld.get('before'))}→{f(ld.get('after'))}"
            + ("" if others is None else f" (others {others:.2f})")
            + (" ⚠" if ld.get("flagged") else ""))


def load_lines(run: dict) -> list:
    """The load average at the start and end of the run, with a warning when it exceeded the
    core count (other work shared the CPU)."""
    start = run.get("settings", {}).get("load_average_start")
    end = run["machine"].get("load_average")
    if not start and not end:
        return []
    cores = run["machine"]["cpu"].get("logical_cores") or 1
    fmt = lambda la: "/".join(f"{x:.1f}" for x in la) if la else "?"
    line = f"- load average (1/5/15 min): start {fmt(start)}, end {fmt(end)}"
    if max((la[0] for la in (start, end) if la), default=0) > cores:
        line += (f" — above the {cores} cores: other work shared the CPU, so times and ratios "
                 "are noisy (multi-threaded BLAS suffers most); rerun on an idle machine or "
                 "with --threads 1")
    rows = run.get("rows", [])
    flagged = [r["id"] for r in rows if (r.get("load") or {}).get("flagged")]
    if flagged:
        limit = rows[0]["load"].get("limit") if rows[0].get("load") else None
        line += (f"; {len(flagged)} of {len(rows)} rows measured above the load limit"
                 + (f" {limit:g}" if limit is not None else "") + " (⚠): indicative only")
    return [line]


def summary_lines(rows, others, baseline) -> list:
    """Geometric-mean ratio per group, and the five largest and smallest ratios."""
    out = []
    for n in others:
        ratios = [(r["ratio"][n], r["id"]) for r in rows if r.get("ratio", {}).get(n)]
        if not ratios:
            continue
        out.append(f"## {n} / {baseline}: geometric mean per op")
        out.append("")
        out.append("| op | rows | geomean ratio | range |")
        out.append("|---|---:|---:|---:|")
        groups = []
        for r in rows:
            if r["group"] not in groups:
                groups.append(r["group"])
        for g in groups:
            rs = [r["ratio"][n] for r in rows if r["group"] == g and r.get("ratio", {}).get(n)]
            if rs:
                out.append(f"| {g} | {len(rs)} | {geomean(rs):.2f} | "
                           f"{min(rs):.2f}–{max(rs):.2f} |")
        out.append(f"| all | {len(ratios)} | {geomean([x for x, _ in ratios]):.2f} | "
                   f"{min(ratios)[0]:.2f}–{max(ratios)[0]:.2f} |")
        out.append("")
        ratios.sort(reverse=True)
        out.append(f"Largest gaps ({n} slowest relative to {baseline}): "
                   + "; ".join(f"{i} {x:.2f}x" for x, i in ratios[:5]) + ".")
        out.append("")
        out.append(f"Best ({n} fastest relative to {baseline}): "
                   + "; ".join(f"{i} {x:.2f}x" for x, i in sorted(ratios)[:5]) + ".")
        out.append("")
    return out


def write_markdown(run: dict, path: str) -> str:
    with open(path, "w") as f:
        f.write(markdown(run))
    return path


def _pyplot():
    """matplotlib's pyplot on the Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib  # optional: only for the charts
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def ratio_chart(run: dict, path: str, plt) -> str | None:
    rows = [r for r in run["rows"] if r.get("ratio")]
    if not rows:
        return None
    others = [n for n in contender_names(rows) if n != rows[0]["baseline"]]
    baseline = rows[0]["baseline"]
    height = 0.8 / len(others)
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.24 * len(rows)))
    for j, n in enumerate(others):
        ys = [i + (j - (len(others) - 1) / 2) * height for i in range(len(rows))]
        xs = [r["ratio"].get(n, float("nan")) for r in rows]
        colors = ["tab:red" if x > 1 else "tab:green" for x in xs] if len(others) == 1 else None
        ax.barh(ys, xs, height=height, color=colors, label=n if len(others) > 1 else None)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    finite = [x for r in rows for x in r["ratio"].values() if x and math.isfinite(x)]
    lo, hi = math.floor(math.log2(min(finite + [1.0]))), math.ceil(math.log2(max(finite + [1.0])))
    ticks = [2.0 ** e for e in range(lo, hi + 1)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlim(ticks[0] / 1.1, ticks[-1] * 1.1)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r["id"] for r in rows], fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(f"time ratio to {baseline} (median; < 1: faster than {baseline})")
    ax.set_title(f"{', '.join(others)} vs {baseline}, {run['device'].upper()} "
                 f"({run['machine']['date_utc']})", fontsize=10)
    if len(others) > 1:
        ax.legend()
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def matmul_chart(run: dict, path: str, plt) -> str | None:
    rows = [r for r in run["rows"] if r["group"] == "matmul" and r.get("contenders")
            and (r.get("params", {}).get("n") or r.get("params", {}).get("m"))]
    if not rows:
        return None
    values = [d.get("gflops") or 0 for r in rows for d in r["contenders"].values()]
    peak = run.get("settings", {}).get("peak_gflops")
    scale, unit = (1e3, "TFLOP/s") if max(values + [peak or 0]) > 1000 else (1.0, "GFLOP/s")
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"forward": "-o", "forward+backward": "--s"}
    sizes = set()
    for i, n in enumerate(contender_names(rows)):
        for phase, style in styles.items():
            pts = sorted((r["params"].get("n") or r["params"]["m"], r["contenders"][n]["gflops"])
                         for r in rows if r["phase"] == phase and n in r["contenders"]
                         and r["contenders"][n].get("gflops"))
            if pts:
                sizes.update(p[0] for p in pts)
                ax.plot([p[0] for p in pts], [p[1] / scale for p in pts], style,
                        color=f"C{i}", label=f"{n} {phase}")
    if peak:
        ax.axhline(peak / scale, color="gray", linestyle=":", label=f"fp32 peak {peak:g} GFLOP/s")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(sizes), [str(n) for n in sorted(sizes)])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("square matmul size n (n×n @ n×n, float32)")
    ax.set_ylabel(f"achieved {unit}")
    ax.set_title(f"matmul throughput, {run['device'].upper()} ({run['machine']['date_utc']})",
                 fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_charts(run: dict, out_dir: str, stem: str, log=print) -> list:
    plt = _pyplot()
    if plt is None:
        if log:
            log("note: matplotlib is not installed, PNG charts skipped "
                "(pip install matplotlib, or make bench which installs the bench extra)")
        return []
    made = [ratio_chart(run, os.path.join(out_dir, f"{stem}_ratio.png"), plt),
            matmul_chart(run, os.path.join(out_dir, f"{stem}_matmul.png"), plt)]
    return [p for p in made if p]


def write_all(run: dict, out_dir: str, log=print) -> list:
    """JSON, Markdown and (when matplotlib is there) PNGs; returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    run = dict(run, rows=normalize(run["rows"]))
    stem = f"bench_{run['device']}"
    paths = [write_json(run, os.path.join(out_dir, f"{stem}.json")),
             write_markdown(run, os.path.join(out_dir, f"{stem}.md"))]
    return paths + write_charts(run, out_dir, stem, log)
