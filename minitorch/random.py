"""Random numbers: one global NumPy generator, reseeded by ``manual_seed``.

Random tensors are always drawn on the CPU and then moved, so a seed gives the same numbers on
every device (handy for comparing the CPU and CUDA paths).
"""
from __future__ import annotations

import numpy as np


class Generator:
    """A seedable source of random numbers, as ``torch.Generator`` (DataLoader shuffling, splits)."""

    def __init__(self, device="cpu"):
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> "Generator":
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        return self.rng.bit_generator.state

    def set_state(self, state):
        self.rng.bit_generator.state = state


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the global generator: every later random factory and init is reproducible."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    s = int(np.random.SeedSequence().entropy % (2**63))
    default_generator.manual_seed(s)
    return s


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def _generator(generator=None) -> np.random.Generator:
    return (generator or default_generator).rng
