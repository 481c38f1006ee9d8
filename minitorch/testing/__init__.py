"""Test support: stand-ins and checkers that tests install, never part of the runtime.

Nothing under ``minitorch/`` outside this package imports it (tests/test_kernel_twins.py checks
that importing minitorch and its kernel wrappers leaves it unloaded); it ships in the wheel so
that tests of code built on minitorch can use it too.

* :mod:`minitorch.testing.kernel_twins` — ``TwinLauncher``, a kernel launcher that runs the NumPy
  twin of each CUDA kernel in ``kernels/*.cu`` (the same index math, with bounds, alignment and
  shared-memory race checks) on NumPy arrays. Install it around a test with
  ``minitorch.backend.kernels.use_launcher(TwinLauncher())``.
"""
