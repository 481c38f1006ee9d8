"""One rank of the ``ddp`` benchmark (started by :mod:`benchmarks.ddp` under mpiexec).

Seed 000's SimpleCNN on random 3x32x32 images, a fixed global batch split over the ranks (strong
scaling), SGD; every step is zero_grad, forward, cross-entropy, backward (DDP averages the
gradients inside it), optimizer step. Then, separately, the all-reduce alone: the model's
gradients, in DDP's buckets, averaged across the ranks. Rank 0 writes the medians as JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64, help="global batch")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    import numpy as np

    import minitorch as mt
    import minitorch.distributed as dist
    from minitorch.nn.parallel import DistributedDataParallel
    from minitorch.vision.models import build_model
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    mt.manual_seed(0)
    model = build_model("simple_cnn", 3, 10, 32)
    ddp = DistributedDataParallel(model)
    opt = mt.optim.SGD(model.parameters(), lr=0.01)
    local = args.batch // world
    rng = np.random.default_rng(rank)
    x = mt.from_numpy(rng.standard_normal((local, 3, 32, 32)).astype(np.float32))
    y = mt.from_numpy(rng.integers(0, 10, local))
    step_s = []
    for i in range(args.warmup + args.steps):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        mt.nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()
        if i >= args.warmup:
            step_s.append(time.perf_counter() - t0)
    backend = dist.process_group.default_group().backend
    flats = [np.concatenate([model_param.grad.numpy().ravel()
                             for model_param in (ddp._reducer.params[j] for j in b.indices)])
             for b in ddp._reducer.buckets]
    reduce_s = []
    for i in range(args.warmup + args.steps):
        dist.barrier()
        t0 = time.perf_counter()
        works = [backend.all_reduce(f, dist.ReduceOp.AVG) for f in flats]
        for w in works:
            w.wait()
        if i >= args.warmup:
            reduce_s.append(time.perf_counter() - t0)
    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        with open(args.out, "w") as f:
            json.dump({"world_size": world, "global_batch": args.batch, "local_batch": local,
                       "parameters": params, "buckets": len(flats),
                       "step_ms": 1e3 * statistics.median(step_s),
                       "all_reduce_ms": 1e3 * statistics.median(reduce_s),
                       "steps": args.steps}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
