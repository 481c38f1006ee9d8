"""Timing contenders side by side: warm-up, alternating repeats, median/min/max, peak memory.

:func:`measure` takes ``{name: fn}`` (zero-argument callables doing the same work in each
library) and returns a :class:`Stats` per name:

1. **warm-up**: each ``fn`` is called ``warmup`` times (allocator, BLAS thread pools, caches;
   once is enough when a call lasts longer than ``long_call_s``); the last warm-up call is timed
   to size what follows.
2. **inner loop**: a sample runs ``fn`` ``number`` times back to back, with ``number`` chosen so a
   sample lasts at least ``min_sample_s`` — a 1-element add takes microseconds, below what one
   clock reading resolves well. The time per call is sample / number.
3. **alternating repeats**: round r runs one sample of every contender, in the listed order on
   even rounds and reversed on odd ones, so drift on a noisy machine (other load, clock changes)
   hits all contenders alike. The round count is ``budget_s`` / (slowest contender's sample),
   clamped to [min_repeats, max_repeats].
4. **statistics**: median, min and max of the per-call times. The median is the figure to quote;
   min/max show the spread.

The garbage collector stays on: its pauses are part of what a training loop pays.

Clocks: :class:`CpuClock` (``time.perf_counter``, wall time) and :class:`CudaClock` (CUDA events
on the legacy default stream, which orders with both CuPy's and torch's default streams; the
device is synchronised before the start event and the end event is waited for, so a sample is
the GPU time from the first launch to the last kernel's end, launch gaps included).

Memory (CPU): after the timed rounds, one more untimed call per contender under
:class:`RssProbe`: glibc's free heap memory is handed back to the OS (``malloc_trim(0)``), the
peak resident size (``VmHWM``) is reset through ``/proc/self/clear_refs``, and the call's peak
minus the resident size before it is its peak RSS growth — the memory the call touched beyond
what was live before (its inputs, the model). Where the reset is not allowed it falls back to
``getrusage``'s ``ru_maxrss``, which only shows growth beyond the process's previous peak (a
lower bound, flagged as such in the JSON).
"""
from __future__ import annotations

import math
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Stats:
    """Per-call seconds of one contender, and its peak resident-memory growth."""
    times_s: list = field(default_factory=list)
    number: int = 1
    peak_rss_bytes: int | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def max_s(self) -> float:
        return max(self.times_s)

    def as_dict(self) -> dict:
        return {"median_s": self.median_s, "min_s": self.min_s, "max_s": self.max_s,
                "repeats": len(self.times_s), "number": self.number,
                "times_s": list(self.times_s), "peak_rss_bytes": self.peak_rss_bytes}


class CpuClock:
    """Wall time of ``number`` back-to-back calls, with ``time.perf_counter``."""
    name = "perf_counter"

    def time(self, fn: Callable, number: int) -> float:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - t0


class CudaClock:
    """GPU time of ``number`` back-to-back calls, between two CUDA events.

    Uses CuPy's events when CuPy is importable, else torch's. Both record on the legacy default
    stream, which synchronises with the default streams of CuPy and torch alike."""

    def __init__(self):
        try:
            import cupy  # optional, GPU only
            self._cp, self._torch = cupy, None
            self.name = "cupy.cuda.Event"
        except ImportError:
            import torch
            if not torch.cuda.is_available():
                raise RuntimeError(
                    "CudaClock: neither CuPy nor a CUDA-enabled torch is available") from None
            self._cp, self._torch = None, torch
            self.name = "torch.cuda.Event"

    def time(self, fn: Callable, number: int) -> float:
        if self._cp is not None:
            cp = self._cp
            cp.cuda.Device().synchronize()
            start, end = cp.cuda.Event(), cp.cuda.Event()
            start.record()
            for _ in range(number):
                fn()
            end.record()
            end.synchronize()
            return cp.cuda.get_elapsed_time(start, end) / 1e3
        torch = self._torch
        torch.cuda.synchronize()
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(number):
            fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _malloc_trim():
    """glibc's ``malloc_trim(0)`` (give free heap memory back to the OS), or None without glibc."""
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


class RssProbe:
    """Peak resident-set growth during one call, in bytes (:meth:`measure`).

    Before the call, glibc's free heap memory goes back to the OS (``malloc_trim(0)``), so pages
    that earlier calls left resident count again, and the peak is reset. ``method`` says how the
    peak is read: ``"VmHWM reset"`` (exact peak of the call) or ``"ru_maxrss delta"`` (growth
    beyond the process's previous peak only: a lower bound)."""

    def __init__(self):
        self.method = "VmHWM reset" if self._reset_hwm() and _status_kib("VmHWM") else \
            "ru_maxrss delta"
        self._trim = _malloc_trim()

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # Linux >= 4.0: reset the peak RSS to the current RSS
            return True
        except OSError:
            return False

    @staticmethod
    def _maxrss_bytes() -> int:
        # ru_maxrss is in KiB on Linux (bytes on macOS; this benchmark targets Linux)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def measure(self, fn: Callable) -> int:
        if self._trim is not None:
            self._trim(0)
        if self.method == "VmHWM reset":
            self._reset_hwm()
            base = (_status_kib("VmRSS") or 0) * 1024
            result = fn()
            peak = (_status_kib("VmHWM") or 0) * 1024
        else:
            base = self._maxrss_bytes()
            result = fn()
            peak = self._maxrss_bytes()
        del result
        return max(0, peak - base)


@dataclass
class Plan:
    """How hard to measure: warm-up calls (at least one; the rest are skipped once a call takes
    longer than ``long_call_s``), repeat bounds, the time budget per contender and the shortest
    sample."""
    warmup: int = 1
    min_repeats: int = 3
    max_repeats: int = 20
    budget_s: float = 0.5
    min_sample_s: float = 1e-3
    long_call_s: float = 0.5


def measure(contenders: dict, plan: Plan | None = None, clock=None,
            memory: RssProbe | None = None) -> dict:
    """Time every ``fn`` in ``contenders`` as described in the module docstring.

    Returns ``{name: Stats}`` in the same order. ``memory``: an :class:`RssProbe`; each contender
    then makes one more, untimed call to record its peak resident-set growth."""
    if not contenders:
        raise ValueError("measure: no contenders")
    plan = plan or Plan()
    clock = clock or CpuClock()
    per_call = {}
    for name, fn in contenders.items():
        t = clock.time(fn, 1)
        for _ in range(plan.warmup - 1):
            if t > plan.long_call_s:  # a long call has warmed everything up already
                break
            t = clock.time(fn, 1)
        per_call[name] = max(t, 1e-9)
    stats = {name: Stats(number=max(1, min(100_000, math.ceil(plan.min_sample_s / t))))
             for name, t in per_call.items()}
    slowest = max(per_call[n] * stats[n].number for n in contenders)
    repeats = max(plan.min_repeats, min(plan.max_repeats, math.ceil(plan.budget_s / slowest)))
    names = list(contenders)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else reversed(names)):
            s = stats[name]
            s.times_s.append(clock.time(contenders[name], s.number) / s.number)
    if memory is not None:  # a separate, untimed call: the probe's trim would skew the timing
        for name in names:
            stats[name].peak_rss_bytes = memory.measure(contenders[name])
    return stats
