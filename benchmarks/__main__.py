"""``python -m benchmarks [--device cpu|cuda] [--quick] [--out DIR] [--only TERMS] ...``

CPU: every case of :mod:`benchmarks.cases`, minitorch against torch, written to
``DIR/bench_cpu.{json,md}`` and PNG charts. CUDA: the plug-in ``benchmarks.gpu`` (imported only
then) supplies the rows; without CuPy and an NVIDIA GPU the command stops with a clear message.

Load discipline (:mod:`benchmarks.load`): the run refuses to start when the 1-minute load average
is above 0.5 per core unless ``--force``; every row records the load before and after it and is
flagged (⚠) when either exceeded that. ``--threads 1,2`` runs once per count, in child processes.
The % of fp32 peak comes from the SIMD flags and clock, or ``--peak calibrate`` (a GEMM), or
``--peak-gflops`` (:mod:`benchmarks.peak`).

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


def thread_list(text: str) -> list:
    """``"2"`` -> [2]; ``"1,2"`` -> [1, 2]."""
    try:
        counts = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--threads takes counts such as 1 or 1,2, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"--threads counts must be >= 1, got {text!r}")
    return counts


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
    ap.add_argument("--threads", type=thread_list, default=None,
                    help="threads for torch and NumPy's BLAS alike (default: torch's default, "
                         "the number of physical cores); a list such as 1,2 runs once per "
                         "count, each in its own process, into OUT/threads-N/")
    ap.add_argument("--peak-gflops", type=float, default=None,
                    help="the device's fp32 peak in GFLOP/s, for the %% of peak column "
                         "(default: see --peak)")
    ap.add_argument("--peak", choices=["flags", "calibrate"], default="flags",
                    help="where the CPU's fp32 peak comes from when --peak-gflops is not given: "
                         "SIMD flags x clock x threads (default) or a calibration GEMM "
                         "(see benchmarks/peak.py)")
    ap.add_argument("--force", action="store_true",
                    help="measure even when the 1-minute load average is above 0.5 per core "
                         "(rows measured under load are flagged either way)")
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


def run_per_thread_count(argv, args) -> dict:
    """``--threads 1,2``: one child ``python -m benchmarks`` per count (NumPy's BLAS reads its
    thread count once, at import), each writing into ``OUT/threads-N``; returns {N: exit code}."""
    import subprocess
    import sys
    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--threads" or a == "--out":
            skip = True
        elif not (a.startswith("--threads=") or a.startswith("--out=")):
            rest.append(a)
    codes = {}
    for n in args.threads:
        out = os.path.join(args.out, f"threads-{n}")
        print(f"== python -m benchmarks --threads {n} --out {out}", flush=True)
        codes[n] = subprocess.call([sys.executable, "-m", "benchmarks", *rest,
                                    "--threads", str(n), "--out", out], cwd=REPO)
    if any(codes.values()):
        raise SystemExit(f"python -m benchmarks: a thread count failed: {codes}")
    return codes


def resolve_peak(args, n_threads: int) -> tuple:
    """(fp32 peak GFLOP/s, source, description) for the %% of peak column (CPU only)."""
    if args.peak_gflops:
        return args.peak_gflops, "given", f"given: {args.peak_gflops:g} GFLOP/s"
    if args.device != "cpu":
        return None, None, None
    from . import peak
    if args.peak == "calibrate":
        gflops, text = peak.calibrate(n_threads)
        return gflops, "calibration", text
    from .machine import _cpuinfo
    gflops, text = peak.from_cpuinfo(_cpuinfo(), n_threads)
    return gflops, "flags" if gflops else None, text


def main(argv=None) -> dict:
    """Run the benchmark, write the reports, print the table; returns the run dict."""
    import sys
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads is not None and len(args.threads) > 1 and not args.list:
        from . import load
        load.check_start(load.read(), load.cores(), args.force)  # refuse once, not per count
        return {"threads": run_per_thread_count(argv, args)}
    args.threads = args.threads[0] if args.threads else None
    n_threads = thread_setup.configure(args.threads)  # before NumPy/torch are imported
    if args.list:
        list_cases(args)
        return {}
    if args.only and args.only.strip().lower() == "ddp":  # MPI processes: benchmarks/ddp.py
        from . import ddp
        return ddp.main(args)
    from . import load
    t0 = time.perf_counter()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    load_note = load.check_start(load.read(), load.cores(), args.force)  # exits when busy
    if load_note:
        print(f"warning: {load_note}", flush=True)
    args.peak_gflops, peak_source, peak_text = resolve_peak(args, n_threads)
    if peak_text:
        print(f"fp32 peak: {peak_text}", flush=True)
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
        "settings": {"peak_gflops": args.peak_gflops, "peak_source": peak_source,
                     "peak_detail": peak_text, "forced": args.force,
                     "load_limit_per_core": load.LIMIT_PER_CORE, "only": args.only,
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
