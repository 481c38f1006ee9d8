"""``python -m minitorch train --distributed``: data-parallel training under an MPI launcher.

    mpiexec -n 2 python -m minitorch train --distributed --batch-size 64

Every rank builds the same model (same seed; DistributedDataParallel broadcasts rank 0's weights
anyway) and trains on its share of each epoch (DistributedSampler, reshuffled per epoch from
``--seed``); ``--batch-size`` is the global batch, split evenly across the ranks, so W ranks take
the same steps as one process on the same batches. The gradients are averaged in backward (see
minitorch/nn/parallel/distributed.py). Only rank 0 prints, writes the report and the checkpoint;
every rank reads the checkpoint on ``--resume``. Each rank evaluates the whole validation and
test sets on identical weights, so early stopping decides alike everywhere.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from .errors import UsageError


@dataclass
class DataParallel:
    """What ``fit`` needs of the job: the DDP-wrapped model, the sampler to reseed per epoch,
    whether this rank is the one that writes."""
    rank: int
    world_size: int
    backend: str
    model: object = None
    sampler: object = None

    def describe(self) -> str:
        """The run header's part: how many processes, which backend, the batch per rank."""
        return f"distributed: world size {self.world_size}, backend {self.backend}"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def start_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def totals(self, *values: float) -> list:
        """The sums over the ranks of ``values`` (the epoch's loss sums and sample counts)."""
        from .. import distributed as dist
        from ..backend import float64
        from ..creation import tensor
        t = tensor([float(v) for v in values], dtype=float64)
        dist.all_reduce(t)
        return t.tolist()


def init_distributed(cfg) -> DataParallel:
    """Join the job (``init_process_group``); the backend is nccl for CUDA, mpi otherwise, unless
    ``--backend`` says. With nccl each rank trains on its own GPU (local rank modulo the count)."""
    from .. import distributed as dist
    from .loop import resolve_device
    if cfg.compare_torch:
        raise UsageError("--compare-torch trains a single-process torch reference; it cannot "
                         "run with --distributed", hint="drop one of them")
    device = resolve_device(cfg.device)
    backend = cfg.backend if cfg.backend != "auto" else \
        "nccl" if device.startswith("cuda") else "mpi"
    if backend == "nccl" and not device.startswith("cuda"):
        raise UsageError(f"--backend nccl needs CUDA tensors, but the device is {device}",
                         hint="use --backend mpi, or --device cuda")
    try:
        dist.init_process_group(backend)
    except ImportError as e:
        raise UsageError(str(e), hint="pip install 'minitorch[distributed]'") from None
    rank, world = dist.get_rank(), dist.get_world_size()
    if backend == "nccl" and cfg.device in ("auto", "cuda"):
        cfg.device = f"cuda:{dist.process_group.default_group().backend.device_id}"
    if cfg.batch_size % world:
        raise UsageError(f"--batch-size {cfg.batch_size} (the global batch) is not divisible by "
                         f"the world size {world}",
                         hint=f"use a multiple of {world}, e.g. {world * max(1, cfg.batch_size // world)}")
    if rank != 0:  # rank 0 alone prints and writes the report (the checkpoint: see fit)
        cfg.progress, cfg.out_dir = False, None
        sys.stdout = open(os.devnull, "w")  # kept open for the life of the process
    return DataParallel(rank, world, backend)


def end_job_after_error(e: BaseException, status: int) -> None:
    """After the CLI has reported an error on this rank: end every rank of a --distributed job
    (with ``status``), so none waits for this one in a collective. No job: nothing to do."""
    process_group = sys.modules.get("minitorch.distributed.process_group")
    if process_group is not None and process_group.is_initialized():
        process_group.abort_job(f"{type(e).__name__}: {e}", code=status)


def data_parallel(run, parallel: DataParallel) -> DataParallel:
    """Wrap the run's model in DistributedDataParallel and give it this rank's training loader
    (a DistributedSampler over the training set, batches of batch_size / world_size)."""
    from ..nn.parallel import DistributedDataParallel
    from ..utils.data import DataLoader, DistributedSampler
    cfg = run.cfg
    parallel.model = DistributedDataParallel(run.model)
    dataset = run.train_loader.dataset
    parallel.sampler = DistributedSampler(dataset, parallel.world_size, parallel.rank,
                                          shuffle=True, seed=cfg.seed)
    run.train_loader = DataLoader(dataset, batch_size=cfg.batch_size // parallel.world_size,
                                  sampler=parallel.sampler)
    return parallel
