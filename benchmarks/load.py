"""Load discipline: a timing taken while other work shares the CPU is not a measurement.

The 1-minute load average (``os.getloadavg``) is read before and after every row. A row whose
larger reading exceeds ``LIMIT_PER_CORE`` × the logical cores this process may use is *flagged*
(``row["load"]["flagged"]``, a ⚠ in the table); ``python -m benchmarks`` refuses to start when
the load is already above that limit, unless ``--force`` is given (the run is then marked as
measured under load). Both libraries degrade under load, by different amounts: the ratio of a
flagged row is not to be quoted.

The 1-minute average lags (it is an exponentially decaying mean), and it counts the benchmark
itself: a 1-thread run drives it towards 1.0, a 2-thread run towards 2.0, so on 2 cores the
plain rule would flag every row of a long run on an idle machine (measured: a quiet machine at
0.69 reached 1.03 twelve rows into a 1-thread conv2d run) and refuse the next thread count's run.
So each row also measures the CPU time *other* processes used while it ran: the machine's busy
time from ``/proc/stat`` (user, nice, system, irq, softirq and steal: a VM's stolen time is
other work too) minus this process's own CPU time (``os.times``), divided by the row's wall
time — ``others_cores``. Where that is known it decides the flag (above ``LIMIT_PER_CORE`` x
cores); the load average is kept beside it. At the start a high load average is checked the
same way: a 2-second sample of the others' CPU use tells lag (the load of a run that just
ended) from work that is still going on.
"""
from __future__ import annotations

import os
import time

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


def cpu_sample() -> tuple | None:
    """(monotonic seconds, busy CPU-seconds of the whole machine, CPU-seconds of this process),
    or None without ``/proc/stat``."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(v) for v in fields[1:]]
    busy = sum(values[i] for i in (0, 1, 2, 5, 6, 7) if i < len(values)) / ticks
    own = os.times()
    return time.monotonic(), busy, own.user + own.system


def others_cores(before: tuple | None, after: tuple | None) -> float | None:
    """Cores' worth of CPU other processes used between two :func:`cpu_sample` readings."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    other = (after[1] - before[1]) - (after[2] - before[2])
    return round(max(0.0, other / (after[0] - before[0])), 2)


def sample_others(seconds: float = 2.0) -> float | None:
    """The others' CPU use over ``seconds`` while this process sleeps."""
    before = cpu_sample()
    time.sleep(seconds)
    return others_cores(before, cpu_sample())


def limit(n_cores: int, per_core: float = LIMIT_PER_CORE) -> float:
    """The highest 1-minute load at which a timing still counts: ``per_core`` × ``n_cores``."""
    return per_core * n_cores


def is_busy(load: float | None, n_cores: int, per_core: float = LIMIT_PER_CORE) -> bool:
    """True when ``load`` exceeds :func:`limit`; an unknown load (None) is not busy."""
    return load is not None and load > limit(n_cores, per_core)


def check_start(load: float | None, n_cores: int, force: bool,
                per_core: float = LIMIT_PER_CORE, others=None) -> str | None:
    """Before a run: raise SystemExit when the machine is busy and ``force`` is false; return a
    warning line when it is busy and forced, or when the load average is high only because of
    work that has ended, else None. ``others()`` (default :func:`sample_others`) samples the
    others' CPU use now: called only when the load average is high; None where it cannot tell."""
    if not is_busy(load, n_cores, per_core):
        return None
    now = (others or sample_others)()
    if now is not None and not is_busy(now, n_cores, per_core):
        return (f"load average {load:.2f} is above {limit(n_cores, per_core):.2f}, but other "
                f"processes use {now:.2f} cores now (the average still counts work that ended)")
    msg = (f"load average {load:.2f} is above {limit(n_cores, per_core):.2f} "
           f"({per_core:g} per core x {n_cores} cores)"
           + (f", other processes use {now:.2f} cores now" if now is not None else "")
           + ": other work shares the CPU")
    if not force:
        raise SystemExit(f"python -m benchmarks: {msg}; wait for a quiet machine "
                         "(check `cat /proc/loadavg`) or pass --force to measure anyway "
                         "(rows are then flagged)")
    return msg + "; --force given: rows measured under load are flagged"


def bracket(before: float | None, after: float | None, n_cores: int,
            per_core: float = LIMIT_PER_CORE, others: float | None = None) -> dict:
    """What a row records: the load average before and after it, the cores' worth of CPU other
    processes used during it (``others``, None where unknown), the limit, and ``flagged``: the
    others' use above the limit, or — where it is unknown — either load reading above it."""
    if others is not None:
        flagged = is_busy(others, n_cores, per_core)
    else:
        flagged = is_busy(before, n_cores, per_core) or is_busy(after, n_cores, per_core)
    return {"before": before, "after": after, "others_cores": others,
            "limit": limit(n_cores, per_core), "flagged": flagged}
