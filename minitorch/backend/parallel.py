"""Intra-op threads: the NumPy work that BLAS does not do, split over the cores (torch's
intra-op thread pool, ``torch.set_num_threads``).

BLAS runs matrix products on its own threads; every other NumPy call — a ufunc, a copy, a
reduction — runs on one core. But NumPy releases the GIL while it loops over an array, so two
Python threads, each running the same ufunc over half of the rows, run on two cores at once.
:func:`parallel_for` does that: it cuts ``[0, n)`` into one contiguous range per thread and calls
``fn(lo, hi)`` for each, the calling thread taking the first range. The ops that use it
(ReLU, max-pooling, im2col/col2im) write disjoint slices, so the threads never write the same
memory, and the result is the same bits as one thread computing it all.

``get_num_threads()`` defaults to ``OMP_NUM_THREADS`` when set (the variable NumPy's BLAS and
torch read too), else to the cores this process may run on. ``set_num_threads(n)`` changes it
for minitorch's own threads and for NumPy's OpenBLAS (through its ``openblas_set_num_threads``,
found with ctypes; another BLAS keeps the count it read when NumPy was imported).

Work that calls BLAS itself — conv2d's chunks of images — runs through
:func:`parallel_blas_for`: one range of chunks per thread, each calling OpenBLAS on one thread.
Two threads that call a multi-threaded OpenBLAS at once serialise on its lock (4-5x slower than
one caller, measured), so the ranges need OpenBLAS at one thread while they run; then the
copies around the GEMMs (im2col, col2im, the transposes) run on every core too. conv2d forward
+backward at 2 threads, A/B in one process: 64→64 3x3 @32 N32 98 → 65 ms, the seed's 32→64 @16
N64 22 → 18 ms, ResNet's 1x1 256→64 @56 N8 44 → 24 ms (torch: 35, 10, 37).

BLAS's idle threads. OpenBLAS's workers spin for about 0.1 s after each matrix product before
they sleep; on a machine with as many cores as threads they then take the cores our threads
(and anything else) need. ``import minitorch`` sets ``OPENBLAS_THREAD_TIMEOUT=4`` (spin 2^4
cycles, then sleep) when NumPy is not loaded yet and the variable is unset. OpenBLAS reads it
once, when it loads, so a script that imports NumPy (or torch) first would keep the long spin:
then :func:`shorten_blas_idle_spin` makes OpenBLAS read its environment again and restarts its
workers, at import while no other Python thread runs (the Net's step at batch 64, 2 threads,
NumPy imported first: 135-139 → 91-95 ms, 2 runs each). Measured at 2
threads on the 2-core test machine (3 runs, each against one thread in the same process):
with that setting the CIFAR Net's training step at batch 256 took 15-19% less time with these
threads, SimpleCNN's 26-51% less, the Net's at batch 64 between 12% less and 8% more; without
it, between 31% less and 15% more. ReLU and max_pool2d use them; conv2d uses them through
:func:`parallel_blas_for` (splitting only im2col/col2im over threads, next to multi-threaded
GEMMs, measured up to 1.7x slower).

Each call runs ``fn`` in a copy of the caller's context, so ``np.errstate`` (a context
variable) applies in the workers as in the caller; a worker's exception is re-raised in the
caller after every range has finished. A call made from inside a worker runs serially (no
nesting), and a forked child starts a new pool (the parent's threads do not survive a fork).
"""
from __future__ import annotations

import contextlib
import contextvars
import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["get_num_threads", "set_num_threads", "parallel_for", "parallel_blas_for",
           "parallel_blas_threads", "blas_thread_setters", "shorten_blas_idle_spin", "for_row_blocks",
           "GRAIN"]

#: the fewest array elements worth a thread of their own: a hand-off to a worker costs some tens
#: of microseconds, about what a ufunc takes over 64K float32 elements
GRAIN = 1 << 16

_state = {"threads": None, "pool": None, "size": 0}
_lock = threading.Lock()
_local = threading.local()


def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """The number of threads minitorch's CPU ops use (as ``torch.get_num_threads``)."""
    if _state["threads"] is None:
        _state["threads"] = _default_threads()
    return _state["threads"]


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for minitorch's CPU work (as ``torch.set_num_threads``): its own threads
    and, when NumPy's BLAS is an OpenBLAS we can reach, the matrix products' threads."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    setters = blas_thread_setters()
    with _lock:
        _state["threads"] = n
        if setters is not None:
            if _blas["users"]:  # inside parallel_blas_for: its restore will set n
                _blas["saved"] = n
            else:
                setters[0](n)


def _pool(workers: int) -> ThreadPoolExecutor:
    if _blas["spin"] is None:  # before our first worker thread starts
        shorten_blas_idle_spin()
    with _lock:
        if _state["pool"] is None or _state["size"] < workers:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="minitorch")
            _state["size"] = workers
        return _state["pool"]


def _forget_pool() -> None:  # in a forked child: the parent's worker threads are not there
    _state["pool"], _state["size"] = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _work(fn, lo: int, hi: int) -> None:
    _local.worker = True
    try:
        fn(lo, hi)
    finally:
        _local.worker = False


def parallel_for(n: int, fn, grain: int = 1) -> None:
    """Call ``fn(lo, hi)`` on contiguous ranges that cover ``[0, n)``: one range per thread, no
    range shorter than ``grain`` items (so small work stays on the calling thread, where a
    thread hand-off, some tens of microseconds, would cost more than it saves)."""
    ranges = min(get_num_threads(), n // max(1, grain))
    if ranges <= 1 or getattr(_local, "worker", False):
        if n > 0:
            fn(0, n)
        return
    bounds = [n * i // ranges for i in range(ranges + 1)]
    pool = _pool(ranges - 1)
    futures = [pool.submit(contextvars.copy_context().run, _work, fn, bounds[i], bounds[i + 1])
               for i in range(1, ranges)]
    try:
        _work(fn, bounds[0], bounds[1])
    finally:
        errors = [f.exception() for f in futures]  # waits for every range
    for error in errors:
        if error is not None:
            raise error


#: the fewest entries worth ``for_row_blocks``: below, the Python calls per block and the
#: hand-offs cost more than the cache and the threads save (log_softmax forward+backward of
#: (256, 1000) float32: 919 → 1050 µs at 1 thread, 1126 → 1243 at 2; of (2048, 1000): 8.0 →
#: 7.5 ms and 7.9 → 5.7 ms)
ROW_BLOCKS_ABOVE = 8 * GRAIN


def for_row_blocks(rows: int, row_length: int, fn) -> None:
    """Call ``fn(r0, r1)`` on blocks of consecutive rows, about :data:`GRAIN` entries each (at
    least one row), one range of blocks per thread. For row-wise work with several passes
    (softmax: max, exp, sum, divide) over more than :data:`ROW_BLOCKS_ABOVE` entries: every
    pass over a block runs while the block is in the cache, and the threads share the blocks
    (rows are independent: the same bits as one call over all rows)."""
    per_block = max(1, GRAIN // max(1, row_length))

    def blocks(lo, hi):
        for r0 in range(lo * per_block, min(hi * per_block, rows), per_block):
            fn(r0, min(r0 + per_block, rows))
    parallel_for(-(-rows // per_block), blocks)


# ---------------------------------------------------------------------------------------------
# Work that calls BLAS: one BLAS thread per range
# ---------------------------------------------------------------------------------------------
def _openblas_thread_setters():
    """(set_num_threads, get_num_threads) of the OpenBLAS that NumPy loaded, through ctypes, or
    None when NumPy uses another BLAS or the library cannot be found. NumPy's wheels bundle
    scipy-openblas (symbols ``scipy_openblas_*64_``); a NumPy built against the system's
    OpenBLAS exports ``openblas_*``."""
    import numpy
    try:  # NumPy's build record names its BLAS; only an OpenBLAS has these setters
        blas = numpy.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except (AttributeError, KeyError, TypeError):
        blas = "unknown"
    if "openblas" not in str(blas).lower():
        return None
    here = os.path.dirname(numpy.__file__)
    paths = glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*"))   # Linux wheels
    paths += glob.glob(os.path.join(here, ".dylibs", "*openblas*"))             # macOS wheels
    try:
        with open("/proc/self/maps") as maps:  # Linux: whatever OpenBLAS is mapped in
            paths += sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
    except OSError:
        pass
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""),
                               ("openblas_", "64_"), ("openblas_", "")):
            setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
            getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                _blas["library"] = lib
                return setter, getter
    return None


# setters: found once; users/saved: see _one_blas_thread; library: the OpenBLAS found;
# spin: what shorten_blas_idle_spin did (None until it ran)
_blas = {"found": False, "setters": None, "users": 0, "saved": None, "library": None,
         "spin": None}


def blas_thread_setters():
    """(set_num_threads, get_num_threads) of NumPy's OpenBLAS, or None (found once, cached)."""
    with _lock:
        if not _blas["found"]:
            _blas["setters"], _blas["found"] = _openblas_thread_setters(), True
        return _blas["setters"]


def shorten_blas_idle_spin() -> str:
    """Give NumPy's OpenBLAS the short idle spin that ``import minitorch`` asks for
    (``OPENBLAS_THREAD_TIMEOUT=4``) when NumPy was loaded before minitorch and the library is
    still on its default (about 0.1 s of spinning after each matrix product, on a core our
    threads need): set the variable (unless the user set it), have OpenBLAS read its
    environment again (``openblas_read_env``) and restart its workers (``blas_thread_shutdown_``,
    ``blas_thread_init``: the workers take their timeout when they start). Runs once: at
    ``import minitorch`` when NumPy was loaded first, else before minitorch's first worker
    threads start. Only while the calling thread is the process's only Python thread: a restart
    while another thread is inside a matrix product deadlocks both (seen: 9 hangs in 15 runs
    with a thread multiplying in a loop), so with other threads running the spin stays as it
    is. Returns what it found or did."""
    with _lock:
        if _blas["spin"] is None:
            _blas["spin"] = _shorten_blas_idle_spin()
        return _blas["spin"]


def _shorten_blas_idle_spin() -> str:  # under _lock
    if not _blas["found"]:
        _blas["setters"], _blas["found"] = _openblas_thread_setters(), True
    if _blas["setters"] is None:
        return "not an OpenBLAS we can reach"
    lib = _blas["library"]
    try:
        timeout, read_env = lib.openblas_thread_timeout, lib.openblas_read_env
        shutdown, init = lib.blas_thread_shutdown_, lib.blas_thread_init
    except AttributeError:
        return "this OpenBLAS cannot re-read its environment"
    if timeout() != 0:  # the variable was set when OpenBLAS loaded (by minitorch or the user)
        return f"OPENBLAS_THREAD_TIMEOUT={timeout()} (read when NumPy loaded)"
    if threading.active_count() > 1:
        return ("OpenBLAS's default spin, kept: other Python threads were running (restarting "
                "its workers under a thread's matrix product would deadlock)")
    os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
    read_env()
    if timeout() == 0:
        return "the default spin (OPENBLAS_THREAD_TIMEOUT is 0 or invalid)"
    shutdown()
    init()
    return (f"OPENBLAS_THREAD_TIMEOUT={timeout()} (NumPy was loaded first: re-read, workers "
            f"restarted)")


@contextlib.contextmanager
def _one_blas_thread(setters):
    """OpenBLAS on one thread inside the block (its thread count is one global: the first of
    overlapping blocks lowers it, the last one out restores it)."""
    set_threads, get_threads = setters
    with _lock:
        if _blas["users"] == 0:
            _blas["saved"] = get_threads()
            set_threads(1)
        _blas["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _blas["users"] -= 1
            if _blas["users"] == 0:
                set_threads(_blas["saved"])


def parallel_blas_threads() -> int:
    """How many ranges :func:`parallel_blas_for` runs at once: :func:`get_num_threads`, or 1
    where it would run serially (NumPy's BLAS out of reach, or called from a worker)."""
    if get_num_threads() <= 1 or getattr(_local, "worker", False) or blas_thread_setters() is None:
        return 1
    return get_num_threads()


def parallel_blas_for(n: int, fn) -> None:
    """Call ``fn(lo, hi)`` on ranges that cover ``[0, n)`` of independent pieces of work that
    each call BLAS (conv2d's chunks of images): one range per thread, with OpenBLAS limited to
    one thread while they run. Two threads that each call a multi-threaded OpenBLAS at once
    serialise on its lock (measured: 4-5x slower than one caller), while one thread per range
    also puts the copies around the GEMMs (im2col, col2im, transposes) on every core. Runs
    ``fn(0, n)`` on the calling thread when there is one thread or one piece, or when NumPy's
    BLAS is not an OpenBLAS we can reach."""
    if n <= 1 or parallel_blas_threads() <= 1:
        fn(0, n)
        return
    with _one_blas_thread(blas_thread_setters()):
        parallel_for(n, fn)
