"""Where conv2d's CPU time goes: one table per thread count, one column per phase.

    .venv/bin/python -m benchmarks.conv_profile [--threads 1,2] [--repeats 7] [--force]

``Conv2d.forward_cpu`` / ``backward_cpu`` (minitorch/nn/functional/conv.py) are run chunk by chunk
as they run, with a clock around each step (``cpu_phase_times``, kept beside that code); each
phase's median over ``--repeats`` is shown in ms, beside the whole minitorch forward+backward and
torch's, timed alternately in the same process (float32, input and weight gradients, bias).
"GEMMs ÷ torch" is the three matrix products alone (GEMM y, dw, dcols) over torch's whole
forward+backward: above 1, this algorithm cannot match torch on that layer even with no copies
at all, whatever is done around NumPy's BLAS.
The phases are always the serial walk through the chunks (BLAS on the process's threads); the
whole minitorch column is the real code, which at 2+ threads runs ranges of chunks on threads of
its own, BLAS on one thread each (``parallel_blas_for``).
Thread counts other than the current one run in child processes (NumPy's BLAS reads its thread
count at import). The load-average rule of ``python -m benchmarks`` applies (``--force``).
"""
from __future__ import annotations

import argparse

from . import threads as thread_setup

# (label, N, C, O, size, kernel, stride, padding): the seed nets' 3x3 layers at batch 64 and
# the 64->64 layer at batch 32
SHAPES = [("conv1 3->32 @32 N64", 64, 3, 32, 32, 3, 1, 1),
          ("conv2 32->64 @16 N64", 64, 32, 64, 16, 3, 1, 1),
          ("conv3 64->128 @8 N64", 64, 64, 128, 8, 3, 1, 1),
          ("64->64 @32 N32", 32, 64, 64, 32, 3, 1, 1),
          ("128->256 s2 @28 N8", 8, 128, 256, 28, 3, 2, 1)]


def median_ms(fn, repeats):
    import time
    times = []
    fn()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1e3 * times[len(times) // 2]


def profile_shape(shape, repeats):
    import numpy as np
    import torch

    import minitorch
    from minitorch.nn.functional import conv as C
    label, n, c, o, size, k, s, pad = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, size, size), dtype=np.float32)
    w = rng.standard_normal((o, c, k, k), dtype=np.float32) * (c * k * k) ** -0.5
    b = rng.standard_normal(o, dtype=np.float32)
    from minitorch.backend.geometry import conv2d_geometry
    geo = conv2d_geometry(x.shape, w.shape, b.shape, (s, s), (pad, pad), (1, 1), 1)
    g = rng.standard_normal((n, o, geo.P, geo.Q), dtype=np.float32)
    runs = [C.cpu_phase_times(geo, x, w, b, g) for _ in range(repeats + 1)][1:]  # {phase: s}
    row = {name: 1e3 * sorted(r[name] for r in runs)[len(runs) // 2] for name in runs[0]}

    def whole(L):
        xt = L.from_numpy(x).requires_grad_()
        wt = L.from_numpy(w).requires_grad_()
        bt = L.from_numpy(b).requires_grad_()
        gt = L.from_numpy(g)

        def run():
            xt.grad = wt.grad = bt.grad = None
            L.nn.functional.conv2d(xt, wt, bt, stride=s, padding=pad).backward(gt)
        return run
    ours, ref = whole(minitorch), whole(torch)
    totals = {"minitorch": [], "torch": []}
    ours(), ref()
    for r in range(repeats):
        for name, fn in ((("minitorch", ours), ("torch", ref)) if r % 2 == 0
                         else (("torch", ref), ("minitorch", ours))):
            totals[name].append(median_ms(fn, 1))
    for name, ts in totals.items():
        row[name] = sorted(ts)[len(ts) // 2]
    row["ratio"] = row["minitorch"] / row["torch"]
    # the floor of this algorithm: its three GEMMs alone, against torch's whole call
    row["GEMMs ÷ torch"] = sum(v for k, v in row.items() if k.startswith("GEMM")) / row["torch"]
    gflop = 3 * 2.0 * n * o * c * k * k * geo.P * geo.Q / 1e9
    row["GFLOP/s"] = gflop / row["minitorch"] * 1e3
    return label, row


def print_table(n_threads, results, load_before, load_after):
    names = []  # the phases in the order of the row that has them all (chunked layers add one)
    for _, row in sorted(results, key=lambda r: -len(r[1])):
        names += [k for k in row if k not in names]
    print(f"\n## conv2d CPU phases, {n_threads} thread(s), ms (median); "
          f"load {load_before}->{load_after}")
    print("| layer | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for label, row in results:
        print(f"| {label} | " + " | ".join(f"{row[k]:.2f}" if k in row else "" for k in names) + " |")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.conv_profile")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", default=None, help="keep shapes whose label contains this")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    child_args = ["--repeats", str(args.repeats)] + (["--only", args.only] if args.only else [])
    n_threads = thread_setup.one_count_per_process("benchmarks.conv_profile", args.threads,
                                                   child_args, args.force)
    if n_threads is None:
        return
    from . import load
    before = load.read()
    load.check_start(before, load.cores(), args.force)
    shapes = [s for s in SHAPES if not args.only or args.only in s[0]]
    results = [profile_shape(s, args.repeats) for s in shapes]
    print_table(n_threads, results, before, load.read())


if __name__ == "__main__":
    main()
