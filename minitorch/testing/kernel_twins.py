"""Retired: the NumPy "twins" of the CUDA kernels (a second implementation of their index math)
are superseded by :mod:`minitorch.testing.cuda_cpu`, which runs the kernels' own source on the
CPU with CUDA's semantics and checkers (docs/cuda_kernels.md says what the twins covered and
where each check went).

``TwinLauncher`` remains as a name only, for tests written against it: it is
:class:`~minitorch.testing.cuda_cpu.CpuLauncher` (the real kernels), with ``last_launch`` mapping
each entry point launched to the vector loads per argument of its latest launch. New tests use
``CpuLauncher`` directly.
"""
from __future__ import annotations

from .cuda_cpu.launcher import CpuLauncher


class TwinLauncher(CpuLauncher):
    """CpuLauncher under its old name (see the module docstring)."""

    @property
    def last_launch(self) -> dict:
        return {launch.entry: launch.vector_loads for launch in self.launches}
