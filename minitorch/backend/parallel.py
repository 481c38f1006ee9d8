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
for minitorch's own threads; BLAS reads its count once, when NumPy is imported (set
``OMP_NUM_THREADS`` before starting Python to change both).

BLAS's idle threads. OpenBLAS's workers spin for about 0.1 s after each matrix product before
they sleep; on a machine with as many cores as threads they then take the cores our threads
(and anything else) need. ``import minitorch`` sets ``OPENBLAS_THREAD_TIMEOUT=4`` (spin 2^4
cycles, then sleep) when NumPy is not loaded yet and the variable is unset. Measured at 2
threads on the 2-core test machine (3 runs, each against one thread in the same process):
with that setting the CIFAR Net's training step at batch 256 took 15-19% less time with these
threads, SimpleCNN's 26-51% less, the Net's at batch 64 between 12% less and 8% more; without
it, between 31% less and 15% more. ReLU and max_pool2d use them; im2col/col2im do not (conv2d
measured up to 1.7x slower with them, next to the GEMMs).

Each call runs ``fn`` in a copy of the caller's context, so ``np.errstate`` (a context
variable) applies in the workers as in the caller; a worker's exception is re-raised in the
caller after every range has finished. A call made from inside a worker runs serially (no
nesting), and a forked child starts a new pool (the parent's threads do not survive a fork).
"""
from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["get_num_threads", "set_num_threads", "parallel_for", "GRAIN"]

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
    """Use ``n`` threads for minitorch's own CPU work (as ``torch.set_num_threads``). BLAS keeps
    the count it read from ``OMP_NUM_THREADS`` when NumPy was imported."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    with _lock:
        _state["threads"] = n


def _pool(workers: int) -> ThreadPoolExecutor:
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
