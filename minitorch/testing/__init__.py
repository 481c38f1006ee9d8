"""Test support: stand-ins and checkers that tests install, never part of the runtime.

Nothing under ``minitorch/`` outside this package imports it (tests/test_kernels_on_cpu.py checks
that importing minitorch and its kernel wrappers leaves it unloaded; the one door in is
``MINITORCH_FAKE_CUPY=1``, read by ``minitorch.backend.device.cupy_module``); it ships in the
wheel so that tests of code built on minitorch can use it too.

* :mod:`minitorch.testing.cuda_cpu` — the CUDA-on-CPU layer: ``kernels/*.cu`` compiled unchanged
  as C++17 with CUDA's built-ins (real ``__syncthreads`` barriers, per-block ``__shared__``
  memory) and run on the CPU, in a fast build and two checker builds (racecheck; ASan+UBSan).
  ``CpuLauncher`` is a kernel launcher for
  ``minitorch.backend.kernels.use_launcher(CpuLauncher())``: the wrappers then take NumPy arrays.
* :mod:`minitorch.testing.fake_cupy` — a strict NumPy-backed stand-in for the part of CuPy
  minitorch uses, whose ``RawModule`` runs the kernels on the CUDA-on-CPU layer: the engine's
  whole CUDA path (every op on ``'cuda'`` tensors) runs without a GPU.
"""
