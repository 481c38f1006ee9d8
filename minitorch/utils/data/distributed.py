"""``DistributedSampler``: each rank of a data-parallel job visits its own share of a dataset,
with torch's index lists (``torch.utils.data.distributed.DistributedSampler``).

For N samples, W ranks and rank r, one epoch:

1. order = a permutation of 0..N-1 drawn from seed + epoch (``shuffle=True``), else 0..N-1;
2. without ``drop_last``: pad by repeating the order from its start up to
   total = W · ⌈N / W⌉; with ``drop_last``: cut it to total = W · ⌊N / W⌋;
3. rank r takes order[r], order[r + W], order[r + 2W], ... (total / W indices).

Every rank draws the same permutation (same seed, same epoch), so the shares are disjoint
(padding aside) and together cover the dataset. Call ``set_epoch(epoch)`` before each epoch, or
every epoch repeats the first one's order.

The permutation is torch's for the same seed, so a job can switch between torch and minitorch
and keep its data order: torch shuffles with a Mersenne Twister (MT19937 seeded as
``init_genrand(seed)``) and the swap-based Fisher-Yates shuffle
``for i in 0..N-2: j = i + (next 32-bit draw mod (N - i)); swap(order[i], order[j])``
(its small-N path, taken for N < 2^32 / 20). NumPy's MT19937 with legacy seeding is the same
generator.
"""
from __future__ import annotations

import math

import numpy as np

from .sampler import Sampler

MAX_SAMPLES = (2**32 - 1) // 20   # the largest N whose permutation follows torch's small-N path


def torch_randperm(n: int, seed: int) -> list:
    """torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()."""
    if n > MAX_SAMPLES:
        raise ValueError(f"DistributedSampler: {n} samples is beyond the {MAX_SAMPLES} for which "
                         f"the shuffle reproduces torch's order")
    bits = np.random.MT19937()
    bits._legacy_seeding(int(seed) & 0xFFFFFFFF)
    draws = bits.random_raw(max(n - 1, 0)).tolist()
    order = list(range(n))
    for i in range(n - 1):
        j = i + draws[i] % (n - i)
        order[i], order[j] = order[j], order[i]
    return order


class DistributedSampler(Sampler):
    """Rank ``rank``'s share of ``dataset`` among ``num_replicas`` ranks (both default to the
    default process group's rank and world size)."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "minitorch.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got "
                             f"{num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas        # = ⌈(N - W) / W⌉ as torch writes it
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        order = torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if self.drop_last:
            order = order[:self.total_size]
        elif n:
            padding = self.total_size - n
            order += (order * math.ceil(padding / n))[:padding]
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Shuffle with seed + epoch from now on (call it at the start of every epoch)."""
        self.epoch = int(epoch)
