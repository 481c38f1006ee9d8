"""The MPI backend: collectives between processes started by an MPI launcher
(``mpiexec -n N python ...``), through mpi4py.

Arrays are NumPy arrays, reduced in place through MPI's non-blocking collectives
(``Iallreduce``, ``Ibcast``, ``Iallgather``, ``Ireduce_scatter_block``, ``Ibarrier``), each
waited for within the group's timeout. CuPy arrays are staged through the host: copied to a
NumPy buffer, exchanged, copied back (no CUDA-aware MPI is assumed).
"""
from __future__ import annotations

import importlib

import numpy as np

from .errors import INSTALL_HINT
from .reduce_op import ReduceOp
from .work import Work, wait_until


def import_mpi():
    """``mpi4py.MPI`` (initialising MPI), or an ImportError with the one-line install hint."""
    try:
        return importlib.import_module("mpi4py.MPI")
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} ({e})") from None


class MPIBackend:
    """Collectives on raw arrays over a private duplicate of MPI's COMM_WORLD."""
    name = "mpi"

    def __init__(self, timeout_s: float):
        MPI = import_mpi()
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank, self.world_size = self.comm.Get_rank(), self.comm.Get_size()
        self.timeout_s = timeout_s
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX,
                     ReduceOp.MIN: MPI.MIN}

    def _op(self, op: ReduceOp, arr):
        """MPI's operator; on bools MAX is logical or and MIN logical and (MPI defines no
        MAX/MIN on C_BOOL)."""
        if arr.dtype == np.bool_:
            return {ReduceOp.MAX: self.MPI.LOR, ReduceOp.MIN: self.MPI.LAND}[op]
        return self._ops[op]

    # ---- staging -------------------------------------------------------------------------------
    @staticmethod
    def _host(arr):
        """(a contiguous NumPy buffer holding ``arr``, a function that copies it back)."""
        if isinstance(arr, np.ndarray):
            return arr, None
        host = arr.get()  # CuPy → NumPy

        def copy_back():
            arr.set(host)
        return host, copy_back

    def _work(self, request, what: str, finish=None) -> Work:
        def wait():
            wait_until(request.Test, self.timeout_s, what, self.rank, self.world_size)
        return Work(request.Test, wait, finish)

    @staticmethod
    def _chain(*steps):
        steps = [s for s in steps if s is not None]

        def run():
            for s in steps:
                s()
        return run

    # ---- collectives (in place on contiguous arrays) -------------------------------------------
    def all_reduce(self, arr, op: ReduceOp) -> Work:
        host, copy_back = self._host(arr)
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, host, op=self._op(op, host))
        average = None
        if op is ReduceOp.AVG:
            def average():
                np.divide(host, self.world_size, out=host)
        return self._work(request, f"all_reduce({op.name}) of {host.size} x {host.dtype}",
                          self._chain(average, copy_back))

    def broadcast(self, arr, src: int) -> Work:
        host, copy_back = self._host(arr)
        request = self.comm.Ibcast(host, root=src)
        return self._work(request, f"broadcast(src={src}) of {host.size} x {host.dtype}",
                          None if self.rank == src else copy_back)

    def all_gather(self, out, arr) -> Work:
        """``out`` (world_size · n elements) receives every rank's ``arr`` (n), rank order."""
        send, _ = self._host(arr)
        recv, copy_back = self._host(out)
        request = self.comm.Iallgather(send, recv)
        return self._work(request, f"all_gather of {send.size} x {send.dtype}", copy_back)

    def reduce_scatter(self, out, arr, op: ReduceOp) -> Work:
        """Rank r's ``out`` (n) = the reduction over ranks of block r of ``arr`` (W · n)."""
        send, _ = self._host(arr)
        recv, copy_back = self._host(out)
        request = self.comm.Ireduce_scatter_block(send, recv, op=self._op(op, send))
        average = None
        if op is ReduceOp.AVG:
            def average():
                np.divide(recv, self.world_size, out=recv)
        return self._work(request, f"reduce_scatter({op.name}) of {send.size} x {send.dtype}",
                          self._chain(average, copy_back))

    def barrier(self) -> Work:
        return self._work(self.comm.Ibarrier(), "barrier")

    # ---- life cycle ----------------------------------------------------------------------------
    def abort(self, code: int) -> None:
        """End every rank of the job now (MPI_Abort: the launcher kills the others)."""
        self.MPI.COMM_WORLD.Abort(code)

    def destroy(self) -> None:
        self.comm.Free()
