"""Run under ``mpiexec -n W``: the NCCL backend on the CPU stand-in for CuPy/NCCL
(tests/distributed/fake_cupy.py), whose communicator moves the data with MPI. Each rank saves its
results to OUT/rank<r>.npz (inputs as in collectives_job.inputs)."""
from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(out_dir: str) -> None:
    import fake_cupy
    from collectives_job import inputs
    cupy = fake_cupy.install()
    from minitorch.distributed import DistributedTimeoutError, ReduceOp
    from minitorch.distributed.mpi_backend import MPIBackend
    from minitorch.distributed.nccl_backend import NCCLBackend
    backend = NCCLBackend(MPIBackend(timeout_s=60), timeout_s=60)
    r, w = backend.rank, backend.world_size
    x = inputs(r, w)
    got = {"device_id": np.array(backend.device_id),
           "comm_id": np.array(backend.comm.comm_id)}
    for op in ("SUM", "AVG", "MAX", "MIN"):
        for key in ("f64", "f32", "i64"):
            if op == "AVG" and key == "i64":
                continue
            arr = cupy.asarray(x[key].copy())
            backend.all_reduce(arr, getattr(ReduceOp, op)).wait()
            got[f"all_reduce_{op}_{key}"] = arr.host
    arr = cupy.asarray(x["f64"].copy())
    backend.broadcast(arr, w - 1).wait()
    got["broadcast"] = arr.host
    out = cupy.zeros((w, 2, 3), np.float64)
    backend.all_gather(out, cupy.asarray(x["gather"])).wait()
    got["all_gather"] = out.host
    out = cupy.zeros(3, np.float64)
    backend.reduce_scatter(out, cupy.asarray(x["scatter_flat"]), ReduceOp.AVG).wait()
    got["reduce_scatter_AVG"] = out.host
    backend.barrier().wait()
    got["streams"] = np.array(sorted({s for _, s in fake_cupy.CALLS}))
    try:
        backend.all_reduce(np.zeros(2), ReduceOp.SUM)
        got["numpy_refused"] = np.array("no error")
    except Exception as e:
        got["numpy_refused"] = np.array(f"{type(e).__name__}: {e}")
    fake_cupy.HANG["events"] = True       # a collective that never completes: timeout, abort
    backend.timeout_s = 0.2
    try:
        backend.all_reduce(cupy.asarray(np.ones(2)), ReduceOp.SUM).wait()
        got["timeout"] = np.array("no error")
    except DistributedTimeoutError as e:
        got["timeout"] = np.array(str(e))
    got["aborted"] = np.array(backend.comm.aborted)
    np.savez(f"{out_dir}/rank{r}.npz", **got)


if __name__ == "__main__":
    main(sys.argv[1])
