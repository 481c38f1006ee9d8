"""Planted bugs: copies of the real kernels with one realistic mistake each, made by a text edit
of the source at test time, and the checker that must catch it.

A checker that never fires proves nothing; these show that each one does, on the kernels we
ship (tests/test_cuda_cpu_planted.py runs every plant, and the same scenario on the unedited
source, which must pass). Each plant names the edit (``old`` → ``new``, which must occur exactly
once in the module's source, so a plant that no longer applies fails loudly), the build variant
whose checker catches it, the words of the report, and a scenario: wrapper calls that reach the
edited code.

    python -m minitorch.testing.cuda_cpu.planted NAME [--control]

runs one plant's scenario (the asan plants run so, in a subprocess with libasan preloaded).
"""
from __future__ import annotations

import sys
from typing import Callable, NamedTuple

import numpy as np


class Plant(NamedTuple):
    name: str
    module: str          # kernels/<module>.cu (with gemm_tile.cuh pasted in, as CuPy gets it)
    file: str            # the file the edited lines come from
    old: str
    new: str
    what: str
    variant: str         # the build whose checker catches it
    expect: tuple        # words of the report (a tuple among them: any one of its words)
    scenario: Callable   # scenario(kernels): launches through the wrappers


def reported(plant: Plant, report: str) -> list:
    """The expected words (or groups of alternatives) of ``plant`` missing from ``report``."""
    return [w for w in plant.expect
            if not any(a in report for a in (w if isinstance(w, tuple) else (w,)))]


def _rng():
    return np.random.default_rng(7)


def _matmul(m, n, k, batch=()):
    def run(kernels):
        rng = _rng()
        a = rng.standard_normal(batch + (m, k)).astype(np.float32)
        b = rng.standard_normal(batch + (k, n)).astype(np.float32)
        c = kernels.matmul(a, b)
        ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
        np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-4)
    return run


def _conv_backward_weight(kernels):
    rng = _rng()
    x = rng.standard_normal((4, 3, 17, 17)).astype(np.float32)
    g = rng.standard_normal((4, 8, 17, 17)).astype(np.float32)
    dw = kernels.conv2d_backward_weight(g, x, (8, 3, 3, 3), 1, 1, 1, 1)   # split-K: many splits
    assert np.isfinite(dw).all(), "backward-weight left NaN (unwritten) elements"


def _max_pool(kernels):
    x = _rng().standard_normal((2, 3, 9, 7)).astype(np.float32)
    y, _ = kernels.max_pool2d_forward(x, 3, 2, 1, 1, (5, 4))
    assert np.isfinite(y).all()


PLANTS = (
    Plant("removed-barrier", "sgemm", "gemm_tile.cuh",
          "        __syncthreads();\n    }\n}",
          "    }\n}",
          "the barrier that ends each k tile is gone: the next tile's stores race with this "
          "tile's reads", "race", ("hazard (no __syncthreads between the accesses)",),
          _matmul(70, 33, 50)),
    Plant("uninitialised-shared", "sgemm", "gemm_tile.cuh",
          "    lb.store(Bs, rb);\n    __syncthreads();",
          "    __syncthreads();",
          "the prologue no longer stores the first tile of B: the first k tile reads shared "
          "memory nobody wrote", "race", ("uninitialised shared-memory read", "::Bs"),
          _matmul(70, 33, 50)),
    Plant("off-by-one-edge-guard", "sgemm", "gemm_tile.cuh",
          "if (m >= M) continue;",
          "if (m > M) continue;",
          "the epilogue's row guard lets row M through: a store past the end of C",
          "race", ("out-of-bounds global write", "of C (float*"),
          _matmul(70, 33, 50)),
    Plant("off-by-one-edge-guard-canary", "sgemm", "gemm_tile.cuh",
          "if (m >= M) continue;",
          "if (m > M) continue;",
          "the same bug in the fast build: the canary after C is overwritten",
          "fast", ("out-of-bounds write past the end of C",),
          _matmul(70, 33, 50)),
    Plant("wrong-stride", "sgemm", "sgemm.cu",
          "lb(B + b * strideB,",
          "lb(B + b * strideA,",
          "batch entry b of B is found with A's batch stride: reads past the end of B",
          "race", ("out-of-bounds global read", "of B (const float*"),
          _matmul(17, 5, 33, batch=(3,))),
    Plant("shared-overrun", "sgemm", "gemm_tile.cuh",
          "__shared__ __align__(16) float As[2 * T::A_STAGE];",
          "__shared__ __align__(16) float As[2 * T::A_STAGE - T::SA];",
          "the shared A stages are one row short: the last row of stage 1 overruns As",
          # GCC 12's build: ASan, naming the variable; GCC 13.3's (the GPU machine's) reports
          # the store first, through UBSan's object-size check
          "asan", (("AddressSanitizer: global-buffer-overflow",
                    "with insufficient space for an object of type 'float'"),
                   ("global variable 'As'", "runtime error: store to address")),
          _matmul(70, 33, 50)),
    Plant("misaligned-float4", "sgemm", "sgemm.cu",
          "const bool va = (lda % 4 == 0) &&",
          "const bool va = (lda % 1 == 0) &&",
          "A's float4 path no longer requires rows that start on 16 bytes",
          "asan", ("runtime error", "misaligned address", "16 byte alignment"),
          _matmul(40, 36, 33)),
    Plant("long-long-as-int", "maxpool2d", "maxpool2d.cu",
          "long long* __restrict__ ind,\n               long long total,",
          "long long* __restrict__ ind,\n               int total,",
          "max_pool2d_fwd declares its element count int where the wrapper passes int64",
          "fast", ("argument 3 (int total)", "int64", "8 bytes"),
          _max_pool),
    Plant("thread-exits-before-barrier", "sgemm", "gemm_tile.cuh",
          "if (kbeg >= kend) return;",
          "if (kbeg >= kend || threadIdx.x == 255) return;",
          "one thread leaves the main loop early: the others wait at a barrier it never reaches",
          "fast", ("barrier divergence", "255 threads wait", "1 threads have exited"),
          _matmul(70, 33, 50)),
    Plant("split-k-slices-overlap", "conv2d", "conv2d.cu",
          "float* o = out + static_cast<long long>(split) * O * Kg + g * Og * Kg;",
          "float* o = out + g * Og * Kg;",
          "every split-K slice of backward-weight writes workspace slice 0",
          "race", ("written by two blocks", "of out (float*"),
          _conv_backward_weight),
)
BY_NAME = {p.name: p for p in PLANTS}


def source(plant: Plant) -> str:
    """The module's source with the plant's edit (which must apply exactly once)."""
    from minitorch.backend.kernels import kernel_source
    text = kernel_source(plant.module)
    count = text.count(plant.old)
    if count != 1:
        raise AssertionError(f"plant {plant.name}: the text to edit occurs {count} times in "
                             f"{plant.module}.cu (from {plant.file}), not once: {plant.old!r}")
    return text.replace(plant.old, plant.new)


def run(plant: Plant, control: bool = False, variant: str | None = None):
    """Run the plant's scenario on its planted copy (or, ``control``, on the real source) under
    the plant's build variant; the checker's error propagates."""
    from minitorch.backend import kernels

    from .launcher import CpuLauncher
    sources = {} if control else {plant.module: source(plant)}
    with kernels.use_launcher(CpuLauncher(variant or plant.variant, sources=sources)) as cpu:
        plant.scenario(kernels)
    return cpu


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    plant = BY_NAME[argv[0]]
    run(plant, control="--control" in argv)
    print(f"{plant.name}: no error")


if __name__ == "__main__":
    main()
