"""``python -m benchmarks [--device cpu|cuda] [--quick] [--out DIR] [--only TERMS] ...``

CPU: every case of :mod:`benchmarks.cases`, minitorch against torch, written to
``DIR/bench_cpu.{json,md}`` and PNG charts. CUDA: the plug-in ``benchmarks.gpu`` (imported only
then) supplies the rows; without CuPy and an NVIDIA GPU the command stops with a clear message.

Thread variables are set before NumPy or torch is imported (see :mod:`benchmarks.threads`), so
keep this module's top-level imports to the standard library.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import time

from . import threads as thread_setup

# A run writes into runs/bench/ (ignored by git); the committed reports in benchmarks/results/
# change only on purpose: `make bench-publish`, or --out benchmarks/results.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, "runs", "bench")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="minitorch vs torch: ops and training steps, as JSON, a Markdown table and "
                    "PNG charts.")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and few repeats (about a minute on a 2-core CPU)")
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--only", default=None,
                    help="comma-separated terms; keep the cases whose id contains one "
                         "(e.g. 'overhead,matmul 256,train_step')")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for torch and NumPy's BLAS alike (default: torch's default, "
                         "the number of physical cores)")
    ap.add_argument("--peak-gflops", type=float, default=None,
                    help="the device's fp32 peak in GFLOP/s, for the %% of peak column")
    ap.add_argument("--repeats", type=int, default=None,
                    help="a fixed number of timed repeats per case (default: as many as fit the "
                         "mode's time budget, within its bounds)")
    ap.add_argument("--list", action="store_true", help="print the case ids and exit")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-RSS probe")
    return ap.parse_args(argv)


def cpu_rows(args, n_threads: int, log=print) -> tuple:
    from .cases import cpu_cases  # imports NumPy: after the thread set-up
    from .runner import FULL_PLAN, QUICK_PLAN, run_cases
    thread_setup.apply_to_torch(n_threads)
    cases = cpu_cases(quick=args.quick, only=args.only)
    if not cases:
        raise SystemExit(f"no case matches --only {args.only!r} (see --list)")
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    if args.repeats is not None:
        if args.repeats < 1:
            raise SystemExit(f"--repeats must be >= 1, got {args.repeats}")
        plan = dataclasses.replace(plan, min_repeats=args.repeats, max_repeats=args.repeats)
    rows, info = run_cases(cases, plan, peak_gflops=args.peak_gflops,
                           memory=not args.no_memory, log=log)
    info["plan"] = dataclasses.asdict(plan)
    info.pop("duration_s", None)  # the run records its own wall time
    return rows, info


def cuda_rows(args, log=print) -> tuple:
    import minitorch
    if not minitorch.cuda.is_available():
        raise SystemExit("python -m benchmarks --device cuda: CUDA is not available here (it needs "
                         "an NVIDIA GPU and CuPy: pip install 'minitorch[cuda12]'). "
                         "Run --device cpu instead.")
    try:
        from . import gpu  # the GPU plug-in, imported only for --device cuda
    except ImportError as e:
        raise SystemExit(f"python -m benchmarks --device cuda: the GPU benchmarks "
                         f"(benchmarks/gpu.py) could not be imported: {e}") from e
    kwargs = {"quick": args.quick}
    accepted = inspect.signature(gpu.run).parameters
    if "only" in accepted:
        kwargs["only"] = args.only
    if "peak_tflops" in accepted and args.peak_gflops:
        kwargs["peak_tflops"] = args.peak_gflops / 1e3
    rows = gpu.run(**kwargs)
    if args.only and "only" not in kwargs:
        terms = [t.strip().lower() for t in args.only.split(",") if t.strip()]
        rows = [r for r in rows if any(t in str(r.get("id", "")).lower() for t in terms)]
    info = {"clock": "CUDA events", "notes": list(getattr(gpu, "NOTES", []))}
    return rows, info


def list_cases(args) -> None:
    from .cases import cpu_cases
    for c in cpu_cases(quick=args.quick, only=args.only):
        print(c.id)


def main(argv=None) -> dict:
    """Run the benchmark, write the reports, print the table; returns the run dict."""
    args = parse_args(argv)
    n_threads = thread_setup.configure(args.threads)  # before NumPy/torch are imported
    if args.list:
        list_cases(args)
        return {}
    if args.only and args.only.strip().lower() == "ddp":  # MPI processes: benchmarks/ddp.py
        from . import ddp
        return ddp.main(args)
    t0 = time.perf_counter()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    if args.device == "cuda":
        rows, info = cuda_rows(args)
    else:
        rows, info = cpu_rows(args, n_threads)
    from . import machine, report
    rows = report.normalize(rows)
    run = {
        "schema": 1,
        "device": args.device,
        "mode": "quick" if args.quick else "full",
        "machine": machine.describe(),
        "threads": thread_setup.describe(),
        "settings": {"peak_gflops": args.peak_gflops, "only": args.only,
                     "threads_requested": args.threads,
                     "load_average_start": load_start and [round(x, 2) for x in load_start],
                     **info},
        "duration_s": time.perf_counter() - t0,
        "rows": rows,
    }
    paths = report.write_all(run, args.out)
    print()
    print(report.markdown(run))
    print("wrote " + ", ".join(paths))
    return run


if __name__ == "__main__":
    main()
