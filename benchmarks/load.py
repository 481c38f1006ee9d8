"""Load discipline: a timing taken while other work shares the CPU is not a measurement.

The 1-minute load average (``os.getloadavg``) is read before and after every row. A row whose
larger reading exceeds ``LIMIT_PER_CORE`` × the logical cores this process may use is *flagged*
(``row["load"]["flagged"]``, a ⚠ in the table); ``python -m benchmarks`` refuses to start when
the load is already above that limit, unless ``--force`` is given (the run is then marked as
measured under load). Both libraries degrade under load, by different amounts: the ratio of a
flagged row is not to be quoted.

The 1-minute average lags (it is an exponentially decaying mean), so an unflagged row is
necessary, not sufficient, evidence of a quiet machine: the before/after pair brackets the row.
"""
from __future__ import annotations

import os

LIMIT_PER_CORE = 0.5


def cores() -> int:
    """Logical cores this process may run on (the affinity mask, else ``os.cpu_count``)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def read() -> float | None:
    """The 1-minute load average, or None where the OS does not report one."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def limit(n_cores: int, per_core: float = LIMIT_PER_CORE) -> float:
    """The highest 1-minute load at which a timing still counts: ``per_core`` × ``n_cores``."""
    return per_core * n_cores


def is_busy(load: float | None, n_cores: int, per_core: float = LIMIT_PER_CORE) -> bool:
    """True when ``load`` exceeds :func:`limit`; an unknown load (None) is not busy."""
    return load is not None and load > limit(n_cores, per_core)


def check_start(load: float | None, n_cores: int, force: bool,
                per_core: float = LIMIT_PER_CORE) -> str | None:
    """Before a run: raise SystemExit when the machine is busy and ``force`` is false; return a
    warning line when it is busy and forced, else None."""
    if not is_busy(load, n_cores, per_core):
        return None
    msg = (f"load average {load:.2f} is above {limit(n_cores, per_core):.2f} "
           f"({per_core:g} per core x {n_cores} cores): other work shares the CPU")
    if not force:
        raise SystemExit(f"python -m benchmarks: {msg}; wait for a quiet machine "
                         "(check `cat /proc/loadavg`) or pass --force to measure anyway "
                         "(rows are then flagged)")
    return msg + "; --force given: rows measured under load are flagged"


def bracket(before: float | None, after: float | None, n_cores: int,
            per_core: float = LIMIT_PER_CORE) -> dict:
    """What a row records: the load before and after it, the limit, and whether either
    reading exceeded it."""
    return {"before": before, "after": after, "limit": limit(n_cores, per_core),
            "flagged": is_busy(before, n_cores, per_core) or is_busy(after, n_cores, per_core)}
