"""Run under ``mpiexec -n W``: every collective on known data; each rank saves what it got to
OUT/rank<r>.npz. tests/test_distributed.py recomputes the expected values with NumPy from
:func:`inputs` and compares."""
from __future__ import annotations

import sys

import numpy as np


def inputs(rank: int, world: int) -> dict:
    """Rank ``rank``'s inputs: distinct per rank and known to every process."""
    rng = np.random.default_rng(100 + rank)
    return {"f64": rng.standard_normal((3, 4)),
            "f32": rng.standard_normal((5,)).astype(np.float32),
            "i64": rng.integers(-50, 50, (2, 3)),
            "gather": np.arange(6, dtype=np.float64).reshape(2, 3) + 10 * rank,
            "scatter": [rng.standard_normal((2, 2)) for _ in range(world)],
            "scatter_flat": rng.standard_normal((world * 3,)),
            "mask": np.array([rank == 0, True, False])}


def main(out_dir: str) -> None:
    import minitorch as mt
    import minitorch.distributed as dist
    dist.init_process_group("mpi")
    r, w = dist.get_rank(), dist.get_world_size()
    x = inputs(r, w)
    got = {"rank": np.array(r), "world": np.array(w), "backend": np.array(dist.get_backend())}
    for op in ("SUM", "AVG", "MAX", "MIN"):
        for key in ("f64", "f32", "i64"):
            if op == "AVG" and key == "i64":
                continue
            t = mt.from_numpy(x[key].copy())
            dist.all_reduce(t, getattr(dist.ReduceOp, op))
            got[f"all_reduce_{op}_{key}"] = t.numpy()
    for op in ("MAX", "MIN"):
        t = mt.from_numpy(x["mask"].copy())
        dist.all_reduce(t, getattr(dist.ReduceOp, op))
        got[f"all_reduce_{op}_mask"] = t.numpy()
    base = mt.from_numpy(x["f64"].copy())
    dist.all_reduce(base.t())                      # a non-contiguous view writes through
    got["all_reduce_view"] = base.numpy()
    t = mt.from_numpy(x["f64"].copy())
    work = dist.all_reduce(t, async_op=True)
    got["async_completed"] = np.array(work.wait() and work.is_completed())
    got["all_reduce_async"] = t.numpy()
    t = mt.from_numpy(x["f64"].copy())
    dist.broadcast(t, src=w - 1)
    got["broadcast"] = t.numpy()
    outs = [mt.zeros(2, 3, dtype=mt.float64) for _ in range(w)]
    dist.all_gather(outs, mt.from_numpy(x["gather"]))
    got["all_gather"] = np.stack([o.numpy() for o in outs])
    big = mt.zeros(2 * w, 3, dtype=mt.float64)
    dist.all_gather_into_tensor(big, mt.from_numpy(x["gather"]))
    got["all_gather_into_tensor"] = big.numpy()
    out = mt.zeros(2, 2, dtype=mt.float64)
    dist.reduce_scatter(out, [mt.from_numpy(a) for a in x["scatter"]])
    got["reduce_scatter"] = out.numpy()
    out = mt.zeros(3, dtype=mt.float64)
    dist.reduce_scatter_tensor(out, mt.from_numpy(x["scatter_flat"]), op=dist.ReduceOp.MAX)
    got["reduce_scatter_tensor_MAX"] = out.numpy()
    dist.barrier()
    errors = []
    for bad in (lambda: dist.all_gather([mt.zeros(2, 3)], mt.zeros(2, 3)),
                lambda: dist.all_reduce(mt.tensor([1, 2]), dist.ReduceOp.AVG),
                lambda: dist.broadcast(mt.zeros(2), src=w),
                lambda: dist.init_process_group("mpi")):
        try:
            bad()
            errors.append("no error")
        except (ValueError, TypeError, RuntimeError) as e:
            errors.append(f"{type(e).__name__}: {e}")
    got["errors"] = np.array(errors)
    dist.destroy_process_group()
    got["initialized_after_destroy"] = np.array(dist.is_initialized())
    np.savez(f"{out_dir}/rank{r}.npz", **got)


if __name__ == "__main__":
    main(sys.argv[1])
