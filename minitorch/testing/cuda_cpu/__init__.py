"""CUDA semantics on the CPU: ``kernels/*.cu`` compiled unchanged as C++17 and run with real
barriers, under checkers that stand in for compute-sanitizer (docs/cuda_kernels.md explains).

* :mod:`.build` — compiles a kernel source with ``cuda_cpu.h`` (CUDA's built-ins) and
  ``runtime.cpp`` (fibers, barriers, checks) into a shared object, in a build variant: ``fast``,
  ``race`` (shared-memory hazards, uninitialised shared reads, global races and bounds) or
  ``asan`` (AddressSanitizer + UBSan; needs :func:`sanitizer_environment` in a subprocess).
* :mod:`.module` — loads one with ctypes and launches its ``extern "C"`` entry points with
  CuPy's argument rules, checked against the compiled signatures; exact-size device buffers,
  poisoned outputs, inputs verified unchanged.
* :mod:`.launcher` — :class:`CpuLauncher`, the launcher the kernel wrappers of
  :mod:`minitorch.backend.kernels` use for NumPy arrays inside ``use_launcher``.
* :mod:`.planted` — copies of the kernels with planted bugs, each of which a checker must catch.
"""
from .build import VARIANTS, BuildError, sanitizer_environment
from .launcher import CpuLauncher
from .module import KernelError, Module, load
from .signature import SignatureMismatch

__all__ = ["VARIANTS", "BuildError", "CpuLauncher", "KernelError", "Module", "SignatureMismatch",
           "load", "sanitizer_environment"]
