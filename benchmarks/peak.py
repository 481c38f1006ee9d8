"""The machine's fp32 peak in GFLOP/s, for the "% of peak" column.

Two sources, recorded as ``settings.peak_source``:

* ``flags`` (default): FLOPs per cycle per core from the SIMD flags in ``/proc/cpuinfo`` times
  the clock (``cpu MHz``) times the threads used. One fused multiply-add = 2 FLOPs per lane:

      AVX-512 (avx512f), Intel:          2 FMA units x 16 lanes x 2 = 64 FLOP/cycle
      AVX-512 on AMD Zen 4 (family 25):  512-bit ops on 256-bit units    = 32 FLOP/cycle
      AVX-512 on AMD Zen 5+ (family 26): 2 x 16 x 2                      = 64 FLOP/cycle
      AVX2 + FMA:                        2 FMA units x 8 lanes x 2       = 32 FLOP/cycle
      AVX without FMA:                   one 8-lane add + one 8-lane mul = 16 FLOP/cycle
      SSE / other:                       4-lane add + 4-lane mul         =  8 FLOP/cycle

  Caveats: some Xeon SKUs have one AVX-512 FMA unit (half the figure), AVX-512 code may run
  below the nominal clock, and in a VM ``cpu MHz`` is the nominal, not the turbo, clock. The
  figure is an upper bound of what the vector units can do at that clock.
* ``calibration``: the best GFLOP/s of a 2048² float32 NumPy GEMM (BLAS) at the run's thread
  count: what this machine's best library reaches, not the hardware bound (``--peak calibrate``).

``--peak-gflops X`` overrides both (``peak_source`` = ``given``).
"""
from __future__ import annotations


def flops_per_cycle(flags, vendor: str = "", family: int | None = None) -> tuple:
    """(fp32 FLOPs per cycle per core, the rule used) from a set of cpuinfo ``flags``."""
    flags = set(flags)
    amd = "AMD" in vendor.upper()
    if "avx512f" in flags:
        if amd and family is not None and family < 26:
            return 32, "AVX-512 on AMD Zen 4 (256-bit datapath): 32 FLOP/cycle"
        return 64, "AVX-512, 2 FMA units x 16 lanes x 2: 64 FLOP/cycle"
    if "avx2" in flags and "fma" in flags:
        return 32, "AVX2+FMA, 2 FMA units x 8 lanes x 2: 32 FLOP/cycle"
    if "avx" in flags:
        return 16, "AVX without FMA, 8-lane add + mul: 16 FLOP/cycle"
    return 8, "no AVX, 4-lane add + mul: 8 FLOP/cycle"


def from_cpuinfo(info: dict, threads: int) -> tuple:
    """(peak GFLOP/s, description) from the first processor block of /proc/cpuinfo as a dict
    (``flags``, ``cpu MHz``, ``vendor_id``, ``cpu family``); (None, reason) without a clock."""
    mhz = info.get("cpu MHz")
    try:
        mhz = float(mhz)
    except (TypeError, ValueError):
        return None, "no 'cpu MHz' in /proc/cpuinfo"
    family = info.get("cpu family")
    family = int(family) if family and str(family).isdigit() else None
    per_cycle, rule = flops_per_cycle(info.get("flags", "").split(), info.get("vendor_id", ""),
                                      family)
    gflops = per_cycle * mhz / 1e3 * threads
    return gflops, f"flags: {rule} x {mhz:.0f} MHz x {threads} thread(s) = {gflops:.0f} GFLOP/s"


def calibrate(threads: int, n: int = 2048, repeats: int = 5) -> tuple:
    """(best GFLOP/s of an n x n float32 NumPy GEMM, description). NumPy's BLAS thread count is
    fixed at import (``benchmarks.threads.configure``), so ``threads`` only labels the figure."""
    import time

    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    gflops = 2.0 * n ** 3 / best / 1e9
    return gflops, (f"calibration: best of {repeats} float32 {n}x{n} NumPy GEMMs at {threads} "
                    f"thread(s) = {gflops:.0f} GFLOP/s")
