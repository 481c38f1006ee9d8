"""The default process group: ``init_process_group`` and what it knows (rank, world size,
backend, timeout), as torch.distributed.

Ranks come from the MPI launcher (``mpiexec -n N python train.py``); a plain ``python train.py``
is a world of one. After ``init_process_group`` an uncaught exception in any rank ends every rank
of the job (MPI_Abort) instead of leaving the others waiting in a collective; a collective that
does not complete within ``timeout`` raises DistributedTimeoutError (and so ends the job too).
"""
from __future__ import annotations

import datetime
import importlib
import sys
import time

from .errors import DistBackendError

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)   # torch's default_pg_timeout
BACKENDS = ("mpi", "nccl")
# torch programs name gloo for CPU tensors; here MPI serves them
ALIASES = {"gloo": "mpi", "cpu:gloo": "mpi", "cuda:nccl": "nccl"}


class _Group:
    def __init__(self, backend, timeout_s: float):
        self.backend = backend
        self.timeout_s = timeout_s
        self.previous_excepthook = None


_default: _Group | None = None


class group:
    """torch's ``dist.group``: ``group.WORLD`` is the default group (the only one here)."""
    WORLD = None


def is_available() -> bool:
    """True when mpi4py is installed (the extra ``minitorch[distributed]``). Importing the
    package does not start MPI (``mpi4py.MPI`` does)."""
    try:
        importlib.import_module("mpi4py")
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    return _default is not None


def _seconds(timeout) -> float:
    if timeout is None:
        return DEFAULT_TIMEOUT.total_seconds()
    seconds = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else float(timeout)
    if not seconds > 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout!r}")
    return seconds


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout=None, world_size: int = -1, rank: int = -1, store=None,
                       group_name: str = "", pg_options=None, device_id=None) -> None:
    """Join the job's processes into the default group.

    ``backend``: "mpi" (CPU tensors, and CUDA tensors staged through the host; "gloo" is taken
    to mean it) or "nccl" (CUDA tensors, GPU to GPU). ``timeout``: a timedelta (or seconds)
    after which a collective that has not completed raises DistributedTimeoutError (default
    30 minutes). ``world_size`` and ``rank``, when given, must agree with the launcher's.
    ``init_method`` may be None or "env://" (the MPI launcher has already told every process its
    rank); a ``store`` is not supported. ``device_id`` (nccl): the GPU index of this rank
    (default: the local rank modulo the GPU count).
    """
    global _default
    if _default is not None:
        raise RuntimeError("init_process_group: the default process group is already "
                           "initialized (call destroy_process_group() first)")
    name = ALIASES.get(backend or "mpi", backend or "mpi")
    if name not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; choose 'mpi' "
                         f"(CPU, or CUDA staged through the host) or 'nccl' (CUDA)")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method={init_method!r} is not supported: "
                         f"start the processes with an MPI launcher (mpiexec -n N python ...), "
                         f"which gives every process its rank")
    if store is not None:
        raise ValueError("init_process_group: a store is not supported (the MPI launcher "
                         "connects the processes)")
    timeout_s = _seconds(timeout)
    from .mpi_backend import MPIBackend
    backend_obj = MPIBackend(timeout_s)
    for option, given, actual in (("world_size", world_size, backend_obj.world_size),
                                  ("rank", rank, backend_obj.rank)):
        if given not in (-1, None) and int(given) != actual:
            backend_obj.destroy()
            raise ValueError(f"init_process_group: {option}={given} but the MPI launcher "
                             f"started this process as {option} {actual} "
                             f"(mpiexec -n N sets both)")
    if name == "nccl":
        from .nccl_backend import NCCLBackend
        index = getattr(device_id, "index", device_id)
        backend_obj = NCCLBackend(backend_obj, timeout_s, index)
    _default = _Group(backend_obj, timeout_s)
    if backend_obj.world_size > 1:
        _default.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught_exception


def _abort_on_uncaught_exception(etype, value, tb) -> None:
    """sys.excepthook while a group of several ranks exists: show the error, then end the job,
    so the other ranks stop now instead of waiting for this one in a collective."""
    previous = _default.previous_excepthook if _default else sys.__excepthook__
    (previous or sys.__excepthook__)(etype, value, tb)
    abort_job(f"{etype.__name__}: {value}", code=1)



def abort_job(reason: str, code: int = 1) -> None:
    """End every rank of the job (MPI_Abort) after saying why on stderr. A world of one, or no
    group, just returns."""
    if _default is None or _default.backend.world_size == 1:
        return
    b = _default.backend
    print(f"minitorch.distributed: rank {b.rank} of {b.world_size} failed ({reason}); "
          f"ending all {b.world_size} ranks", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # the launcher forwards each rank's output asynchronously, and MPI_Abort makes it kill every
    # rank at once: give it a moment to pass on what this rank just wrote (a fresh clone's CI run
    # lost this very line, and half the traceback, without the pause)
    time.sleep(0.5)
    b.abort(code)


def destroy_process_group(group=None) -> None:
    """Leave the default group (collectives need init_process_group again)."""
    global _default
    if _default is None:
        raise RuntimeError("destroy_process_group: the default process group is not initialized")
    current, _default = _default, None
    if current.previous_excepthook is not None:
        sys.excepthook = current.previous_excepthook
    current.backend.destroy()


def default_group() -> _Group:
    if _default is None:
        hint = "" if is_available() else f"; {_install_hint()}"
        raise DistBackendError("minitorch.distributed: the default process group is not "
                               "initialized; call init_process_group() first (and start the "
                               f"processes with mpiexec -n N python ...){hint}")
    return _default


def _install_hint() -> str:
    from .errors import INSTALL_HINT
    return INSTALL_HINT


def _check_group(group) -> None:
    if group is not None:
        raise ValueError("minitorch.distributed supports the default group only (group=None "
                         "or group.WORLD)")


def get_rank(group=None) -> int:
    _check_group(group)
    return default_group().backend.rank


def get_world_size(group=None) -> int:
    _check_group(group)
    return default_group().backend.world_size


def get_backend(group=None) -> str:
    _check_group(group)
    return default_group().backend.name
