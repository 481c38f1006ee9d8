"""conv2d and max_pool2d on the CPU, minitorch vs torch: now part of the ``benchmarks`` package.
This script runs ``python -m benchmarks --only conv2d,max_pool2d`` (the seed nets' layers at batch
64, ResNet-style layers at batch 8; ``--quick``: the seed layers only) and writes its reports to
``runs/bench/conv/`` unless ``--out`` is given. Other options are those of
``python -m benchmarks`` (``--threads 1`` gives the steadiest numbers on a small or shared machine).

    .venv/bin/python benchmarks/conv_cpu.py [--quick] [--threads N] [--out DIR]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchmarks.__main__ import main  # imports no NumPy: threads are set first

if __name__ == "__main__":
    args = sys.argv[1:]
    if not any(a == "--out" or a.startswith("--out=") for a in args):
        args += ["--out", os.path.join(os.path.dirname(HERE), "runs", "bench", "conv")]
    main(["--only", "conv2d,max_pool2d", *args])
