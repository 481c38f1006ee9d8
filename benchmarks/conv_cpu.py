"""conv2d and max_pool2d on the CPU, minitorch vs torch, measured side by side in one process.

    .venv/bin/python benchmarks/conv_cpu.py [--batch 64] [--repeats 15] [--threads N]

The layers are those of the seed networks (float32): SimpleCNN's and Net's first layer
Conv2d(3,32,3,padding=1) on 32x32, Net's Conv2d(32,64,3,padding=1) on 16x16 and
Conv2d(64,128,3,padding=1) on 8x8, and the MaxPool2d(2,2) after each. For each one we time the
forward pass alone and forward + backward (with a fixed random cotangent; the first layer's input
does not require grad, as in training, the others' do).

The two libraries alternate call by call so drift on a noisy machine hits both; the table shows
the median of each and the ratio of medians (minitorch / torch: lower is better, 1.0 = parity),
then the same for the minimum, which other load on the machine disturbs least.
``--threads N`` fixes both libraries' thread counts (OpenBLAS's and torch's); it must be applied
before NumPy is imported, so it is read from the command line first. ``--threads 1`` gives the
steadiest numbers on a small or shared machine.
"""
import argparse
import os
import platform
import sys
import time


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for both BLAS libraries (default: their own defaults)")
    return ap.parse_args(argv)


ARGS = parse_args()
if ARGS.threads is not None:  # before NumPy loads OpenBLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)
# torch's OpenMP workers spin for a while after each op; alternating with NumPy, they would
# steal the cores OpenBLAS's threads need (and the reverse), which measured 2-8x slowdowns on
# a 2-core machine. Passive waiting makes the side-by-side comparison fair; set the variable
# yourself to override.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minitorch  # noqa: E402

if ARGS.threads is not None:
    torch.set_num_threads(ARGS.threads)

# (name, in_channels, out_channels, image size, input requires grad)
CONVS = [
    ("conv1 3->32 @32", 3, 32, 32, False),
    ("conv2 32->64 @16", 32, 64, 16, True),
    ("conv3 64->128 @8", 64, 128, 8, True),
]
POOLS = [  # MaxPool2d(2, 2) on each conv's output
    ("pool2x2 32ch @32", 32, 32),
    ("pool2x2 64ch @16", 64, 16),
    ("pool2x2 128ch @8", 128, 8),
]


def conv_case(L, x, w, b, cot, x_grad):
    xt = L.tensor(x).requires_grad_(x_grad)
    wt = L.tensor(w).requires_grad_()
    bt = L.tensor(b).requires_grad_()
    cot_t = L.tensor(cot)

    def forward():
        with L.no_grad():
            return L.nn.functional.conv2d(xt, wt, bt, padding=1)

    def forward_backward():
        for t in (xt, wt, bt):
            t.grad = None
        L.nn.functional.conv2d(xt, wt, bt, padding=1).backward(cot_t)
    return forward, forward_backward


def pool_case(L, x, cot):
    xt = L.tensor(x).requires_grad_()
    cot_t = L.tensor(cot)

    def forward():
        with L.no_grad():
            return L.nn.functional.max_pool2d(xt, 2, 2)

    def forward_backward():
        xt.grad = None
        L.nn.functional.max_pool2d(xt, 2, 2).backward(cot_t)
    return forward, forward_backward


def time_pair(fns, repeats):
    """(median, min) seconds of each function, calling them alternately."""
    for f in fns.values():  # warm-up (allocator, BLAS threads, lru caches)
        f()
        f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: (float(np.median(v)), float(np.min(v))) for k, v in times.items()}


def main():
    rng = np.random.default_rng(0)
    n = ARGS.batch
    rows = []
    for name, cin, cout, size, x_grad in CONVS:
        x = rng.standard_normal((n, cin, size, size)).astype(np.float32)
        w = (rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(cin * 9)).astype(np.float32)
        b = rng.standard_normal(cout).astype(np.float32)
        cot = rng.standard_normal((n, cout, size, size)).astype(np.float32)
        cases = {lib: conv_case(L, x, w, b, cot, x_grad)
                 for lib, L in (("torch", torch), ("minitorch", minitorch))}
        for phase, idx in (("forward", 0), ("fwd+bwd", 1)):
            t = time_pair({lib: c[idx] for lib, c in cases.items()}, ARGS.repeats)
            rows.append((name, phase, t["minitorch"], t["torch"]))
    for name, ch, size in POOLS:
        x = rng.permutation(n * ch * size * size).reshape(n, ch, size, size).astype(np.float32)
        cot = rng.standard_normal((n, ch, size // 2, size // 2)).astype(np.float32)
        cases = {lib: pool_case(L, x, cot)
                 for lib, L in (("torch", torch), ("minitorch", minitorch))}
        for phase, idx in (("forward", 0), ("fwd+bwd", 1)):
            t = time_pair({lib: c[idx] for lib, c in cases.items()}, ARGS.repeats)
            rows.append((name, phase, t["minitorch"], t["torch"]))

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy "
          f"{np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"threads={'default' if ARGS.threads is None else ARGS.threads}, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, batch {n}, float32, "
          f"median of {ARGS.repeats}")
    print(f"{'':<29} {'---------- median ----------':>30}   {'------------ min -----------':>30}")
    head = f"{'minitorch ms':>13} {'torch ms':>9} {'ratio':>6}"
    print(f"{'layer':<20} {'pass':<8} {head}    {head}")
    for name, phase, m, t in rows:
        print(f"{name:<20} {phase:<8} " + "    ".join(
            f"{m[i] * 1e3:>13.2f} {t[i] * 1e3:>9.2f} {m[i] / t[i]:>6.2f}" for i in (0, 1)))
    totals = [(sum(m[i] for _, phase, m, _ in rows if phase == "fwd+bwd"),
               sum(t[i] for _, phase, _, t in rows if phase == "fwd+bwd")) for i in (0, 1)]
    print(f"{'all fwd+bwd':<29} " + "    ".join(
        f"{m * 1e3:>13.2f} {t * 1e3:>9.2f} {m / t:>6.2f}" for m, t in totals))


if __name__ == "__main__":
    main()
