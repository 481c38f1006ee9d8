"""Run benchmark cases and turn their timings into rows: the one format every report reads.

A row (one dict per case; the GPU plug-in ``benchmarks.gpu`` returns rows of the same shape)::

    {"id": "matmul 1024x1024x1024 forward", "group": "matmul", "name": "1024x1024x1024",
     "phase": "forward" | "forward+backward" | "step", "params": {...shapes...},
     "flops": 2.1e9 or None,                  # per call
     "baseline": "torch",
     "contenders": {"minitorch": {"median_s", "min_s", "max_s", "repeats", "number", "times_s",
                                   "peak_rss_bytes", "gflops", "peak_pct"},
                    "torch": {...}},
     "ratio": {"minitorch": median(minitorch) / median(torch)},   # lower is better, 1 = parity
     "error": "..."}                          # only when a contender failed; no timings then

``gflops`` = flops / median / 1e9; ``peak_pct`` = 100 · gflops / the fp32 peak given with
``--peak-gflops`` (None without it). GPU rows put the device-memory high-water mark (CuPy's pool,
``torch.cuda.max_memory_allocated``) in ``peak_bytes`` instead of ``peak_rss_bytes``; a row that
lacks optional keys is completed by :func:`benchmarks.report.normalize` (ratio from the medians,
GFLOP/s from ``flops``). :func:`make_row` with :class:`benchmarks.timing.CudaClock` builds such
rows from a :class:`benchmarks.cases.Case`.
"""
from __future__ import annotations

import gc
import time

from .timing import CpuClock, Plan, RssProbe, measure

QUICK_PLAN = Plan(warmup=1, min_repeats=5, max_repeats=15, budget_s=0.25, min_sample_s=1e-3)
FULL_PLAN = Plan(warmup=2, min_repeats=5, max_repeats=50, budget_s=2.0, min_sample_s=5e-3)


def libraries() -> dict:
    """The CPU contenders, minitorch first: ``{"minitorch": minitorch, "torch": torch}``."""
    import torch  # the reference

    import minitorch
    return {"minitorch": minitorch, "torch": torch}


def make_row(case, stats: dict, baseline: str = "torch", peak_gflops: float | None = None) -> dict:
    """A row (see the module docstring) from a case's ``{name: timing.Stats}``."""
    contenders = {}
    for name, s in stats.items():
        d = s.as_dict()
        d["gflops"] = case.flops / d["median_s"] / 1e9 if case.flops else None
        d["peak_pct"] = (100.0 * d["gflops"] / peak_gflops
                         if d["gflops"] is not None and peak_gflops else None)
        contenders[name] = d
    ratio = {}
    if baseline in contenders:
        base = contenders[baseline]["median_s"]
        ratio = {name: d["median_s"] / base for name, d in contenders.items() if name != baseline}
    return {"id": case.id, "group": case.group, "name": case.name, "phase": case.phase,
            "params": dict(case.params), "flops": case.flops, "baseline": baseline,
            "contenders": contenders, "ratio": ratio}


def run_case(case, libs: dict, plan: Plan, clock=None, memory: RssProbe | None = None,
             baseline: str = "torch", peak_gflops: float | None = None) -> dict:
    """Build ``case`` in every library of ``libs``, time them alternately, return its row.
    A library that raises gives a row with ``error`` instead of timings."""
    gc.collect()
    try:
        data = case.inputs()
        fns = {name: case.build(L, data) for name, L in libs.items()}
        stats = measure(fns, plan, clock or CpuClock(), memory)
    except Exception as e:  # report the failure, keep benchmarking
        return {"id": case.id, "group": case.group, "name": case.name, "phase": case.phase,
                "params": dict(case.params), "flops": case.flops, "baseline": baseline,
                "contenders": {}, "ratio": {}, "error": f"{type(e).__name__}: {e}"}
    return make_row(case, stats, baseline, peak_gflops)


def progress_line(i: int, total: int, row: dict) -> str:
    head = f"[{i:>3}/{total}] {row['id']:<58}"
    if row.get("error"):
        return f"{head} ERROR {row['error']}"
    parts = [f"{name} {d['median_s'] * 1e3:9.3f} ms" for name, d in row["contenders"].items()]
    parts += [f"{name}/{row['baseline']} {r:6.2f}" for name, r in row["ratio"].items()]
    ld = row.get("load")
    if ld:
        others = ld.get("others_cores")
        parts.append(f"load {ld['before']}->{ld['after']}"
                     + ("" if others is None else f" others {others:.2f}")
                     + (" LOADED" if ld["flagged"] else ""))
    return head + "  ".join(parts)


def run_cases(cases, plan: Plan, libs: dict | None = None, peak_gflops: float | None = None,
              memory: bool = True, log=print, read_load=None) -> tuple:
    """Run every case; returns (rows, info) where info records the clock, the memory method
    and the wall time. The 1-minute load is read before and after each row (``read_load``,
    default :func:`benchmarks.load.read`) and kept as ``row["load"]``
    (:func:`benchmarks.load.bracket`): a row measured under load is flagged, not dropped."""
    from . import load
    read_load = read_load or load.read
    n_cores = load.cores()
    libs = libs or libraries()
    probe = RssProbe() if memory else None
    clock = CpuClock()
    t0 = time.perf_counter()
    rows = []
    for i, case in enumerate(cases, 1):
        before, cpu_before = read_load(), load.cpu_sample()
        row = run_case(case, libs, plan, clock, probe, "torch", peak_gflops)
        row["load"] = load.bracket(before, read_load(), n_cores,
                                   others=load.others_cores(cpu_before, load.cpu_sample()))
        rows.append(row)
        if log:
            log(progress_line(i, len(cases), row))
    info = {"clock": clock.name, "memory_method": probe.method if probe else None,
            "duration_s": time.perf_counter() - t0}
    return rows, info
