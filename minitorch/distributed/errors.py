"""The errors of :mod:`minitorch.distributed`."""
from __future__ import annotations


class DistBackendError(RuntimeError):
    """A collective failed in the backend (MPI or NCCL), or the process group is missing."""


class DistributedTimeoutError(DistBackendError, TimeoutError):
    """A collective did not complete within the process group's ``timeout``: another rank has
    stopped, died or is not calling the same collective. The job cannot go on."""


INSTALL_HINT = ("minitorch.distributed needs mpi4py and an MPI library: "
                "pip install 'minitorch[distributed]' (mpi4py and the mpich wheel)")
