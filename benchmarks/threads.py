"""Thread settings for a fair CPU comparison, applied before NumPy or torch is imported.

Both libraries get the same number of threads: by default torch's own default, the number of
physical cores (torch sizes its intra-op pool that way; we read the count from /proc/cpuinfo so we
need not import torch first). NumPy's OpenBLAS reads ``OPENBLAS_NUM_THREADS`` (or
``OMP_NUM_THREADS``) once, when NumPy is imported, so :func:`configure` must run before that —
``python -m benchmarks`` calls it first thing. torch reads ``OMP_NUM_THREADS`` at import and we
also call ``torch.set_num_threads`` (:func:`apply_to_torch`).

``OMP_WAIT_POLICY=PASSIVE``: torch's OpenMP workers spin for a while after each op; alternating
with NumPy they steal the cores OpenBLAS's threads need (and the reverse), which measured 2-8x
slowdowns on a 2-core machine. Passive waiting makes the side-by-side comparison fair.
``OPENBLAS_THREAD_TIMEOUT=4``: the same for NumPy's OpenBLAS, whose idle workers spin for 2^28
cycles (about 0.1 s) after each matrix product by default; minitorch sets it too when it is
imported before NumPy (see ``minitorch/backend/parallel.py``). Measured before this was set
(2 threads, 2026-11-30): torch's conv2d forward+backward took 21.1 ms instead of 12.7 ms on
seed conv2 and 60.7 instead of 33.9 on 64->64 @32 N32 when run right after NumPy's — the
committed ratios at 2 threads before that date favour minitorch by up to 2x. Variables already
set in the environment are kept (set them yourself to override).

This module imports nothing heavy: only ``os``.
"""
from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def physical_cores() -> int:
    """Physical cores available to this process: distinct (physical id, core id) pairs in
    /proc/cpuinfo, capped by the CPU affinity mask; the logical CPU count where that is unknown."""
    logical = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pairs = set()
    try:
        with open("/proc/cpuinfo") as f:
            phys = core = None
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    phys = value.strip()
                elif key == "core id":
                    core = value.strip()
                elif not key:  # blank line ends one processor's block
                    if phys is not None and core is not None:
                        pairs.add((phys, core))
                    phys = core = None
            if phys is not None and core is not None:
                pairs.add((phys, core))
    except OSError:
        pass
    n = len(pairs) or logical or 1
    return max(1, min(n, logical or n))


def configure(threads: int | None = None) -> int:
    """Set the thread variables (before NumPy/torch import) and return the thread count used.

    ``threads=None``: keep ``OMP_NUM_THREADS`` if the user set it, else the physical core count.
    An explicit ``threads`` overrides every variable in :data:`THREAD_VARS`.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if threads is None:
        preset = os.environ.get("OMP_NUM_THREADS")
        valid = preset is not None and preset.isdigit() and int(preset) > 0
        threads = int(preset) if valid else physical_cores()
        for var in THREAD_VARS:
            os.environ.setdefault(var, str(threads))
    else:
        for var in THREAD_VARS:
            os.environ[var] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    return threads


def apply_to_torch(threads: int) -> None:
    import torch  # the reference library, imported only when benchmarking
    torch.set_num_threads(threads)


def describe() -> dict:
    """What each library will use, as recorded in the JSON: torch's thread count, NumPy's BLAS
    threads (threadpoolctl's view when it is installed, else the environment variable), the
    variables themselves and ``OMP_WAIT_POLICY``."""
    info = {var: os.environ.get(var) for var in THREAD_VARS}
    info["OMP_WAIT_POLICY"] = os.environ.get("OMP_WAIT_POLICY")
    info["OPENBLAS_THREAD_TIMEOUT"] = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    info["minitorch"] = None  # minitorch's intra-op threads, filled in once it is imported
    try:
        import sys
        if "minitorch" in sys.modules:
            info["minitorch"] = sys.modules["minitorch"].get_num_threads()
    except AttributeError:
        pass
    try:
        import torch
        info["torch"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    blas = None
    try:
        from threadpoolctl import threadpool_info  # optional
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            blas = pools[0].get("num_threads")
            info["numpy_blas_source"] = "threadpoolctl"
    except ImportError:
        pass
    if blas is None:
        env = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        blas = int(env) if env and env.isdigit() else None
        info["numpy_blas_source"] = "OPENBLAS_NUM_THREADS" if blas is not None else "unknown"
    info["numpy_blas"] = blas
    return info


def one_count_per_process(module: str, threads: str, child_args: list, force: bool) -> int | None:
    """The thread-count rule of the profiles (``benchmarks.conv_profile``, ``.step_profile``).

    ``threads`` is a comma-separated list. With several counts: refuse a busy machine (unless
    ``force``), run ``python -m module --threads t *child_args --force`` once per count (NumPy's
    BLAS reads its thread count at import, so each count needs a process of its own) and return
    None. With one count: set it up for both libraries before NumPy or torch is imported and
    return it; the caller then measures in this process."""
    import subprocess
    import sys

    from . import load
    counts = [int(t) for t in threads.split(",")]
    if len(counts) > 1:
        load.check_start(load.read(), load.cores(), force)
        for t in counts:
            subprocess.check_call([sys.executable, "-m", module, "--threads", str(t),
                                   *child_args, "--force"])
        return None
    configure(counts[0])
    apply_to_torch(counts[0])
    return counts[0]
