"""Command line of the CUDA-on-CPU layer (the Makefile's kernels-cpu and test-kernels use it).

    python -m minitorch.testing.cuda_cpu build [VARIANT ...]   compile kernels/*.cu for the CPU
                                                               (default: fast), modules in parallel
    python -m minitorch.testing.cuda_cpu asan CMD [ARG ...]    run CMD in the asan build's
                                                               environment (libasan preloaded)
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from .build import VARIANTS, build, sanitizer_environment

MODULES = ("sgemm", "conv2d", "maxpool2d")


def build_all(variants) -> None:
    from minitorch.backend.kernels import kernel_source

    def one(job):
        name, variant = job
        start = time.perf_counter()
        path = build(kernel_source(name), name, variant)
        return f"cuda_cpu: {name}.cu ({variant}) -> {path} [{time.perf_counter() - start:.1f} s]"
    jobs = [(name, variant) for variant in variants for name in MODULES]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:   # each job is a compiler
        for line in pool.map(one, jobs):
            print(line)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["build"]:
        variants = argv[1:] or ["fast"]
        unknown = sorted(set(variants) - set(VARIANTS))
        if unknown:
            print(f"unknown variant(s) {unknown}; one of {VARIANTS}", file=sys.stderr)
            return 2
        build_all(variants)
        return 0
    if argv[:1] == ["asan"] and len(argv) > 1:
        os.execvpe(argv[1], argv[1:], sanitizer_environment())
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
