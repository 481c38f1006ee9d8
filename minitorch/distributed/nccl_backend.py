"""The NCCL backend: collectives on CuPy arrays between GPUs, through ``cupy.cuda.nccl``
(ChainerMN's design: MPI starts the processes and carries NCCL's unique id from rank 0 to the
others; NCCL moves the data, GPU to GPU).

NOT YET RUN ON MORE THAN ONE GPU (see docs/distributed.md): written against CuPy's documented
``NcclCommunicator`` API, imported only when ``init_process_group("nccl")`` is called.

Every collective is enqueued on the current CuPy stream, so it is ordered after the kernels that
produced its input and before those that read its output; its ``Work`` records an event after it
and polls that event within the group's timeout. A timeout aborts the communicator (ncclCommAbort)
so the GPU is not left with a collective that can never finish.
"""
from __future__ import annotations

import importlib
import os

from .errors import DistBackendError
from .reduce_op import ReduceOp
from .work import Work, wait_until

# the MPI launchers' local rank variables (MPICH/Hydra, Open MPI, Slurm)
LOCAL_RANK_VARIABLES = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                        "LOCAL_RANK")


def local_rank(rank: int) -> int:
    """This process's index among the ranks on its node (from the launcher), else ``rank``."""
    for name in LOCAL_RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return rank


def import_nccl():
    try:
        cupy = importlib.import_module("cupy")
        nccl = importlib.import_module("cupy.cuda.nccl")
    except ImportError as e:
        raise ImportError(f"the nccl backend needs CuPy with NCCL: pip install "
                          f"'minitorch[cuda12]' nvidia-nccl-cu12 ({e})") from None
    if not getattr(nccl, "available", True):
        raise ImportError("the nccl backend: this CuPy was built without NCCL; install the "
                          "NCCL wheel (pip install nvidia-nccl-cu12) or use backend='mpi'")
    return cupy, nccl


class NCCLBackend:
    """Collectives on CuPy arrays of one GPU per rank. ``mpi`` is the MPIBackend that found the
    ranks; it carries the unique id and nothing else."""
    name = "nccl"

    def __init__(self, mpi, timeout_s: float, device_id: int | None = None):
        cupy, nccl = import_nccl()
        self.cupy, self.nccl, self.mpi = cupy, nccl, mpi
        self.rank, self.world_size, self.timeout_s = mpi.rank, mpi.world_size, timeout_s
        count = cupy.cuda.runtime.getDeviceCount()
        self.device_id = local_rank(self.rank) % count if device_id is None else int(device_id)
        unique_id = nccl.get_unique_id() if self.rank == 0 else None
        unique_id = mpi.comm.bcast(unique_id, root=0)
        with cupy.cuda.Device(self.device_id):
            self.comm = nccl.NcclCommunicator(self.world_size, unique_id, self.rank)
        self._dtypes = {"int8": nccl.NCCL_INT8, "uint8": nccl.NCCL_UINT8,
                        "int32": nccl.NCCL_INT32, "int64": nccl.NCCL_INT64,
                        "float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
                        "float64": nccl.NCCL_FLOAT64, "bool": nccl.NCCL_UINT8}
        native_avg = getattr(nccl, "NCCL_AVG", None)
        self._ops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.MAX: nccl.NCCL_MAX,
                     ReduceOp.MIN: nccl.NCCL_MIN,
                     ReduceOp.AVG: nccl.NCCL_SUM if native_avg is None else native_avg}
        self._divide_for_avg = native_avg is None

    # ---- helpers -------------------------------------------------------------------------------
    def _check(self, *arrays) -> None:
        for a in arrays:
            if not isinstance(a, self.cupy.ndarray):
                raise DistBackendError(f"the nccl backend works on CUDA tensors; got a "
                                       f"{type(a).__name__} (move it with .to('cuda') or use "
                                       f"backend='mpi')")
            if a.device.id != self.device_id:
                raise DistBackendError(f"rank {self.rank}'s NCCL communicator is on cuda:"
                                       f"{self.device_id} but the tensor is on cuda:{a.device.id}")
            if str(a.dtype) not in self._dtypes:
                raise TypeError(f"the nccl backend cannot exchange {a.dtype} tensors")

    def _launch(self, what: str, enqueue, finish=None) -> Work:
        with self.cupy.cuda.Device(self.device_id):
            stream = self.cupy.cuda.get_current_stream()  # CuPy's streams are per device
            enqueue(stream.ptr)
            event = self.cupy.cuda.Event(disable_timing=True)
            event.record(stream)

        def wait():
            wait_until(lambda: event.done, self.timeout_s, what, self.rank, self.world_size,
                       on_timeout=self.comm.abort)
        return Work(lambda: event.done, wait, finish)

    # ---- collectives (in place on contiguous arrays) -------------------------------------------
    def all_reduce(self, arr, op: ReduceOp) -> Work:
        self._check(arr)
        finish = None
        if op is ReduceOp.AVG and self._divide_for_avg:
            def finish():
                with self.cupy.cuda.Device(self.device_id):
                    self.cupy.divide(arr, self.world_size, out=arr)
        return self._launch(
            f"all_reduce({op.name}) of {arr.size} x {arr.dtype}",
            lambda s: self.comm.allReduce(arr.data.ptr, arr.data.ptr, arr.size,
                                          self._dtypes[str(arr.dtype)], self._ops[op], s),
            finish)

    def broadcast(self, arr, src: int) -> Work:
        self._check(arr)
        return self._launch(
            f"broadcast(src={src}) of {arr.size} x {arr.dtype}",
            lambda s: self.comm.bcast(arr.data.ptr, arr.size, self._dtypes[str(arr.dtype)], src, s))

    def all_gather(self, out, arr) -> Work:
        self._check(out, arr)
        return self._launch(
            f"all_gather of {arr.size} x {arr.dtype}",
            lambda s: self.comm.allGather(arr.data.ptr, out.data.ptr, arr.size,
                                          self._dtypes[str(arr.dtype)], s))

    def reduce_scatter(self, out, arr, op: ReduceOp) -> Work:
        self._check(out, arr)
        finish = None
        if op is ReduceOp.AVG and self._divide_for_avg:
            def finish():
                with self.cupy.cuda.Device(self.device_id):
                    self.cupy.divide(out, self.world_size, out=out)
        return self._launch(
            f"reduce_scatter({op.name}) of {arr.size} x {arr.dtype}",
            lambda s: self.comm.reduceScatter(arr.data.ptr, out.data.ptr, out.size,
                                              self._dtypes[str(arr.dtype)], self._ops[op], s),
            finish)

    def barrier(self) -> Work:
        with self.cupy.cuda.Device(self.device_id):
            token = self.cupy.zeros(1, dtype=self.cupy.float32)
        return self.all_reduce(token, ReduceOp.SUM)

    # ---- life cycle ----------------------------------------------------------------------------
    def abort(self, code: int) -> None:
        self.comm.abort()
        self.mpi.abort(code)

    def destroy(self) -> None:
        self.comm.destroy()
        self.mpi.destroy()
