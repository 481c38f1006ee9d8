"""Training steps of the seed networks on the CPU, minitorch vs torch: now part of the
``benchmarks`` package. This script runs ``python -m benchmarks --only train_step`` (SimpleCNN
with SGD and the CIFAR Net with Adam, batch 64 and 256; ``--quick``: batch 64 only) and writes
its reports to ``runs/bench/train_step/`` unless ``--out`` is given. Other options are
those of ``python -m benchmarks`` (``--threads``, ``--quick``, ...).

    .venv/bin/python benchmarks/train_step_cpu.py [--quick] [--threads N] [--out DIR]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchmarks.__main__ import main  # imports no NumPy: threads are set first

if __name__ == "__main__":
    args = sys.argv[1:]
    if not any(a == "--out" or a.startswith("--out=") for a in args):
        args += ["--out", os.path.join(os.path.dirname(HERE), "runs", "bench", "train_step")]
    main(["--only", "train_step", *args])
