"""A stand-in for CuPy and ``cupy.cuda.nccl`` that runs on the CPU, for checking the NCCL
backend's plumbing (minitorch/distributed/nccl_backend.py) where no GPU exists.

"Device" arrays are NumPy arrays behind a fake pointer; the fake NcclCommunicator resolves the
pointers it is handed, checks count and datatype against the arrays, and moves the data with MPI
between the job's processes — so a wrong pointer, count, datatype, root or operator gives a wrong
result or an error, as it would on GPUs. Nothing of CUDA's asynchrony is modelled beyond an event
that can be told never to complete (``HANG``), to exercise the timeout.
"""
from __future__ import annotations

import itertools
import sys
import types

import numpy as np

_memory: dict = {}
_pointers = itertools.count(0x1000, 0x1000)
HANG = {"events": False}
CALLS: list = []


class _Memory:
    def __init__(self, ptr):
        self.ptr = ptr


class ndarray:
    def __init__(self, host: np.ndarray, device_id: int = 0):
        self.host = np.ascontiguousarray(host)
        self.data = _Memory(next(_pointers))
        self.device = types.SimpleNamespace(id=device_id)
        _memory[self.data.ptr] = self.host

    size = property(lambda self: self.host.size)
    dtype = property(lambda self: self.host.dtype)


def asarray(a, dtype=None) -> ndarray:
    return ndarray(np.asarray(a, dtype=dtype))


def zeros(shape, dtype=np.float32) -> ndarray:
    return ndarray(np.zeros(shape, dtype))


def divide(a, b, out):
    out.host[...] = a.host / b
    return out


class Device:
    current = 0

    def __init__(self, index=0):
        self.index, self.previous = index, None

    def __enter__(self):
        self.previous, Device.current = Device.current, self.index
        return self

    def __exit__(self, *exc):
        Device.current = self.previous


class Event:
    def __init__(self, disable_timing=False):
        self.recorded = False

    def record(self, stream=None):
        self.recorded = True

    @property
    def done(self):
        return self.recorded and not HANG["events"]


def get_current_stream():
    return types.SimpleNamespace(ptr=0x5000 + Device.current)


# ---- cupy.cuda.nccl ---------------------------------------------------------------------------
(NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64, NCCL_FLOAT16,
 NCCL_FLOAT32, NCCL_FLOAT64) = range(9)
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = range(4)
DTYPES = {NCCL_INT8: np.int8, NCCL_UINT8: np.uint8, NCCL_INT32: np.int32, NCCL_INT64: np.int64,
          NCCL_FLOAT16: np.float16, NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}


def get_unique_id():
    return tuple(int(b) for b in np.random.default_rng().integers(-128, 128, 128))


class NcclCommunicator:
    def __init__(self, ndev, comm_id, rank):
        from mpi4py import MPI
        self.mpi = MPI
        self.comm = MPI.COMM_WORLD
        assert len(comm_id) == 128 and ndev == self.comm.size and rank == self.comm.rank
        self.comm_id, self.device_at_init, self.aborted = comm_id, Device.current, False

    def _buffer(self, ptr, count, datatype, what):
        arr = _memory[ptr]
        if arr.size != count or arr.dtype.itemsize != np.dtype(DTYPES[datatype]).itemsize:
            raise AssertionError(f"{what}: count {count} / datatype {datatype} do not match the "
                                 f"array at {ptr:#x} ({arr.size} x {arr.dtype})")
        return arr.view(DTYPES[datatype])

    def _op(self, op):
        return {NCCL_SUM: self.mpi.SUM, NCCL_MAX: self.mpi.MAX, NCCL_MIN: self.mpi.MIN}[op]

    def _called(self, name, stream):
        assert Device.current == self.device_at_init, "a collective outside the comm's device"
        CALLS.append((name, stream))

    def allReduce(self, send, recv, count, datatype, op, stream):
        self._called("allReduce", stream)
        s, r = self._buffer(send, count, datatype, "allReduce"), \
            self._buffer(recv, count, datatype, "allReduce")
        self.comm.Allreduce(s.copy(), r, op=self._op(op))

    def bcast(self, buff, count, datatype, root, stream):
        self._called("bcast", stream)
        self.comm.Bcast(self._buffer(buff, count, datatype, "bcast"), root=root)

    def allGather(self, send, recv, count, datatype, stream):
        self._called("allGather", stream)
        r = _memory[recv].view(DTYPES[datatype])
        assert r.size == count * self.comm.size
        self.comm.Allgather(self._buffer(send, count, datatype, "allGather"), r)

    def reduceScatter(self, send, recv, recvcount, datatype, op, stream):
        self._called("reduceScatter", stream)
        s = _memory[send].view(DTYPES[datatype])
        assert s.size == recvcount * self.comm.size
        self.comm.Reduce_scatter_block(s, self._buffer(recv, recvcount, datatype,
                                                       "reduceScatter"), op=self._op(op))

    def abort(self):
        self.aborted = True

    def destroy(self):
        pass


def install() -> types.ModuleType:
    """Put this module in sys.modules as cupy, cupy.cuda and cupy.cuda.nccl."""
    me = sys.modules[__name__]
    cuda = types.ModuleType("cupy.cuda")
    cuda.Device, cuda.Event, cuda.get_current_stream, cuda.nccl = \
        Device, Event, get_current_stream, me
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
    cupy = types.ModuleType("cupy")
    cupy.float32 = np.float32
    cupy.cuda, cupy.ndarray, cupy.zeros, cupy.divide, cupy.asarray = \
        cuda, ndarray, zeros, divide, asarray
    sys.modules.update({"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.nccl": me})
    return cupy
