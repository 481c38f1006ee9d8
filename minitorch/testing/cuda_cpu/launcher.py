"""``CpuLauncher``: the kernel launcher of :mod:`minitorch.backend.kernels` that runs the real
``kernels/*.cu`` on the CPU.

Install it around a test with ``use_launcher``; the wrappers then take NumPy float32 arrays and,
after exactly the checks and launch planning they do for a GPU (tile choice, grid, batch chunks,
split-K), hand every launch here::

    with kernels.use_launcher(CpuLauncher()) as cpu:
        c = kernels.matmul(a, b)                 # sgemm.cu's kernel, run on the CPU
        assert cpu.launches[-1].entry == "sgemm_64x64_nn"
"""
from __future__ import annotations

import os
from typing import NamedTuple

from .module import load

DEFAULT_SM_COUNT = 132      # an H100 SXM: the multiprocessors the wrappers plan for


class Launch(NamedTuple):
    module: str
    entry: str
    grid: tuple
    block: tuple
    vector_loads: dict      # pointer parameter name -> vector (float4) loads from it


def default_variant() -> str:
    """$MINITORCH_CUDA_CPU_VARIANT (fast, race or asan), else fast."""
    return os.environ.get("MINITORCH_CUDA_CPU_VARIANT") or "fast"


class CpuLauncher:
    """Runs each planned launch on the CPU build of its module (see :mod:`.build` for the
    variants). ``sources`` replaces a module's text (a planted-bug copy, say); ``launches``
    records every launch that succeeded, in order."""

    array_kind = "numpy"

    def __init__(self, variant: str | None = None, sm_count: int = DEFAULT_SM_COUNT,
                 sources: dict | None = None):
        self.variant = variant or default_variant()
        self.sm_count = sm_count
        self.sources = dict(sources or {})
        self.launches = []

    def multiprocessors(self) -> int:
        return self.sm_count

    def module(self, name: str):
        from minitorch.backend.kernels import kernel_source
        return load(self.sources.get(name) or kernel_source(name), name, self.variant)

    def launch(self, module, entry, grid, block, args):
        stats = self.module(module).launch(entry, grid, block, args)
        self.launches.append(Launch(module, entry, tuple(grid), tuple(block), stats.vector_loads))

    def entries(self, prefix: str = "") -> list:
        """The entry points launched so far whose names start with ``prefix``, in order."""
        return [launch.entry for launch in self.launches if launch.entry.startswith(prefix)]
