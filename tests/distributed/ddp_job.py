"""Run under ``mpiexec -n W``: DistributedDataParallel against single-process training on the
same global batch. Every rank also trains the reference (the whole batch, one process) and
records, after every step, the largest difference between its DDP weights and the reference's,
and between its DDP weights and every other rank's (gathered). Rank 0 writes OUT/ddp.json."""
from __future__ import annotations

import contextlib
import json
import sys

import numpy as np

GLOBAL_BATCH, STEPS = 16, 4


def make_model(mt, dtype):
    nn = mt.nn
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(3 * 4 * 4, 12),
                         nn.ReLU(), nn.Linear(12, 5)).to(dtype)


def make_optimizer(mt, name, params):
    if name == "sgd":
        return mt.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)
    if name == "adam":
        return mt.optim.Adam(params, lr=0.01)
    return mt.optim.AdamW(params, lr=0.01, weight_decay=0.1)


def flat(model) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel().astype(np.float64)
                           for p in model.parameters()])


def run_case(mt, dist, DDP, optimizer: str, dtype_name: str, accumulate: int) -> dict:
    """STEPS steps; with ``accumulate`` > 1 each rank splits its share into that many
    micro-batches, all but the last under no_sync()."""
    dtype = getattr(mt, dtype_name)
    rank, world = dist.get_rank(), dist.get_world_size()
    mt.manual_seed(1000 + rank)              # different weights per rank: DDP broadcasts rank 0's
    model = make_model(mt, dtype)
    ddp = DDP(model, bucket_cap_mb=200 * 8 / 2**20)   # ~200 float64s: several buckets
    mt.manual_seed(1000)
    reference = make_model(mt, dtype)        # rank 0's initial weights
    opt = make_optimizer(mt, optimizer, model.parameters())
    ref_opt = make_optimizer(mt, optimizer, reference.parameters())
    sched = mt.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    ref_sched = mt.optim.lr_scheduler.StepLR(ref_opt, step_size=2, gamma=0.5)
    rng = np.random.default_rng(7)
    ref_diffs, rank_diffs, no_sync_grad_diffs = [], [], []
    for _ in range(STEPS):
        x = rng.standard_normal((GLOBAL_BATCH, 1, 6, 6)).astype(dtype_name)
        y = rng.integers(0, 5, GLOBAL_BATCH)
        ref_opt.zero_grad()
        mt.nn.functional.cross_entropy(reference(mt.from_numpy(x)), mt.from_numpy(y)).backward()
        ref_opt.step()
        ref_sched.step()
        local = GLOBAL_BATCH // world
        xs, ys = x[rank * local:(rank + 1) * local], y[rank * local:(rank + 1) * local]
        opt.zero_grad()
        micro = local // accumulate
        for m in range(accumulate):
            part = slice(m * micro, (m + 1) * micro)
            sync = m == accumulate - 1          # only the last micro-batch averages
            with contextlib.nullcontext() if sync else ddp.no_sync():
                loss = mt.nn.functional.cross_entropy(ddp(mt.from_numpy(xs[part])),
                                                      mt.from_numpy(ys[part]))
                (loss / accumulate).backward()
            if not sync:  # no_sync: the gradients stay local, so the ranks' differ
                no_sync_grad_diffs.append(spread(mt, dist, grads(model)))
        opt.step()
        sched.step()
        ref_diffs.append(float(np.abs(flat(model) - flat(reference)).max()))
        rank_diffs.append(spread(mt, dist, flat(model)))
    return {"ref_diff": ref_diffs, "rank_diff": rank_diffs, "buckets": len(ddp.bucket_sizes),
            "scale": float(np.abs(flat(reference)).max()), "no_sync_grad_diff": no_sync_grad_diffs}


def grads(model) -> np.ndarray:
    return np.concatenate([p.grad.numpy().ravel().astype(np.float64) for p in model.parameters()])


def spread(mt, dist, mine: np.ndarray) -> float:
    """The largest difference between this rank's array and any rank's (gathered)."""
    everyone = [mt.zeros(mine.size, dtype=mt.float64) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, mt.from_numpy(mine))
    return float(max(np.abs(e.numpy() - mine).max() for e in everyone))


def unused_parameters(mt, dist, DDP) -> dict:
    """A module whose forward skips a layer: an error without find_unused_parameters, trained
    (with identical weights on all ranks) with it."""
    class Branchy(mt.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = mt.nn.Linear(3, 2), mt.nn.Linear(3, 2)

        def forward(self, x):
            return self.used(x)
    result = {}
    for flag in (False, True):
        mt.manual_seed(0)
        ddp = DDP(Branchy().double(), find_unused_parameters=flag)
        try:
            for _ in range(2):
                ddp(mt.ones(4, 3, dtype=mt.float64)).sum().backward()
            result[str(flag)] = "ok " + str(float(ddp.module.used.weight.grad.sum()))
        except RuntimeError as e:
            result[str(flag)] = f"RuntimeError: {e}"
    return result


def main(out: str) -> None:
    import minitorch as mt
    import minitorch.distributed as dist
    from minitorch.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group("mpi")
    cases = {f"{o}-{d}-acc{a}": run_case(mt, dist, DDP, o, d, a)
             for o, d, a in [("sgd", "float64", 1), ("adam", "float64", 1),
                             ("adamw", "float64", 1), ("sgd", "float64", 2),
                             ("sgd", "float32", 1), ("adam", "float32", 1)]}
    cases["unused"] = unused_parameters(mt, dist, DDP)
    if dist.get_rank() == 0:
        with open(f"{out}/ddp.json", "w") as f:
            json.dump(cases, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
