"""Benchmarks against torch: ops and whole training steps, as JSON, a Markdown table and PNGs.

    python -m benchmarks [--device cpu|cuda] [--quick] [--out DIR] [--only TERMS]
    make bench          # CPU, full mode (installs the bench extra: test extra + matplotlib)
    make bench-quick    # CPU, small sizes, about a minute on 2 cores

One module per job:

* ``threads``  — thread counts and ``OMP_WAIT_POLICY``, set before NumPy/torch load.
* ``timing``   — alternating contenders, warm-up, median/min/max, CUDA-event clock, peak RSS.
* ``flops``    — FLOP counts (matmul, linear, conv2d; forward+backward factor).
* ``cases``    — the CPU cases: ops forward and forward+backward, optimizer and training steps.
* ``runner``   — runs cases and makes the rows every report reads.
* ``machine``  — CPU model, cores, GPU name and driver, library versions.
* ``report``   — ``bench_<device>.json``, ``bench_<device>.md`` and the charts.
* ``gpu``      — the CUDA plug-in (``run(quick=False) -> list[dict]``), imported only for
  ``--device cuda``.

This file imports nothing, so ``python -m benchmarks`` can set thread variables before NumPy loads.
"""
