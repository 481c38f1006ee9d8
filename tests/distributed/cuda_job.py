"""Run under ``mpiexec -n W`` on a machine with a GPU: argv[1] = nccl (W = 1: NCCL's
collectives through a communicator of one) or mpi (CuPy arrays staged through the host, every
rank on GPU 0). Each rank checks collectives on CUDA tensors and one DDP step against a
single-process step, and rank 0 writes OUT/cuda_<backend>.json."""
from __future__ import annotations

import json
import sys

import numpy as np


def main(backend: str, out_dir: str) -> None:
    import minitorch as mt
    import minitorch.distributed as dist
    from minitorch.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group(backend, device_id=0)
    r, w = dist.get_rank(), dist.get_world_size()
    got = {"backend": dist.get_backend(), "world": w}
    x = mt.tensor([1.0 + r, -2.0 * r, 3.0], dtype=mt.float32, device="cuda")
    for op in ("SUM", "AVG", "MAX", "MIN"):
        t = x.clone()
        dist.all_reduce(t, getattr(dist.ReduceOp, op))
        got[f"all_reduce_{op}"] = t.cpu().numpy().tolist()
    t = mt.full((4,), float(r), dtype=mt.float64, device="cuda")
    dist.broadcast(t, src=w - 1)
    got["broadcast"] = t.cpu().numpy().tolist()
    outs = [mt.zeros(2, device="cuda") for _ in range(w)]
    dist.all_gather(outs, mt.tensor([r, 10.0 * r], device="cuda"))
    got["all_gather"] = [o.cpu().numpy().tolist() for o in outs]
    out = mt.zeros(3, device="cuda")
    dist.reduce_scatter_tensor(out, mt.arange(3 * w, dtype=mt.float32, device="cuda") + r)
    got["reduce_scatter_tensor"] = out.cpu().numpy().tolist()
    dist.barrier()
    # one DDP step on the GPU against one process on the whole batch
    mt.manual_seed(0)
    model = mt.nn.Sequential(mt.nn.Linear(5, 7), mt.nn.Tanh(), mt.nn.Linear(7, 3)).double()
    reference = mt.nn.Sequential(mt.nn.Linear(5, 7), mt.nn.Tanh(), mt.nn.Linear(7, 3)).double()
    reference.load_state_dict(model.state_dict())
    model, reference = model.to("cuda"), reference.to("cuda")
    ddp = DDP(model, bucket_cap_mb=1e-4)
    rng = np.random.default_rng(3)
    xs, ys = rng.standard_normal((4 * w, 5)), rng.integers(0, 3, 4 * w)
    for net, lo, hi in ((ddp, 4 * r, 4 * r + 4), (reference, 0, 4 * w)):
        loss = mt.nn.functional.cross_entropy(net(mt.from_numpy(xs[lo:hi]).to("cuda")),
                                              mt.from_numpy(ys[lo:hi]).to("cuda"))
        loss.backward()
    got["grad_diff"] = max(float(np.abs(p.grad.cpu().numpy() - q.grad.cpu().numpy()).max())
                           for p, q in zip(model.parameters(), reference.parameters()))
    if r == 0:
        with open(f"{out_dir}/cuda_{backend}.json", "w") as f:
            json.dump(got, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
