"""``python -m benchmarks --only ddp``: data-parallel training on 1 and 2 MPI processes.

Each process count runs :mod:`benchmarks.ddp_worker` under ``mpiexec -n N`` (the MPICH wheel's,
beside this Python) with one BLAS thread per process, so 2 processes use 2 cores where 1 uses
one. Reported per N: the median time per training step at a fixed global batch (strong scaling),
the speed-up over 1 process and the scaling efficiency (speed-up / N), and the median time of the
gradient all-reduce alone (the same buckets DDP uses). Written to ``OUT/bench_ddp.{json,md}``.
A loaded machine makes every figure worse; the load average is recorded beside them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_mpiexec() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside if os.access(beside, os.X_OK) else shutil.which("mpiexec")
    if found is None:
        raise SystemExit("python -m benchmarks --only ddp needs mpiexec and mpi4py: pip install "
                         "'minitorch[distributed]'")
    return found


def measure(n: int, steps: int, batch: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ddp.json")
        subprocess.run([find_mpiexec(), "-n", str(n), sys.executable, "-m",
                        "benchmarks.ddp_worker", "--steps", str(steps), "--batch", str(batch),
                        "--out", out], check=True, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def markdown(run: dict) -> str:
    rows = run["rows"]
    lines = [f"DDP, SimpleCNN (3x32x32, {rows[0]['parameters']} parameters), SGD, global batch "
             f"{rows[0]['global_batch']}, median of {rows[0]['steps']} steps, 1 BLAS thread per "
             f"process; load average at start {run['load_average_start']}", "",
             "| processes | batch per rank | step (ms) | speed-up | efficiency | "
             "all-reduce alone (ms) | buckets |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['world_size']} | {r['local_batch']} | {r['step_ms']:.1f} | "
                     f"{r['speedup']:.2f} | {100 * r['efficiency']:.0f}% | "
                     f"{r['all_reduce_ms']:.2f} | {r['buckets']} |")
    return "\n".join(lines)


def main(args) -> dict:
    steps = 10 if args.quick else 30
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    rows = [measure(n, steps, batch=64) for n in (1, 2)]
    for r in rows:
        r["speedup"] = rows[0]["step_ms"] / r["step_ms"]
        r["efficiency"] = r["speedup"] / r["world_size"]
    run = {"schema": 1, "case": "ddp", "load_average_start": load, "rows": rows}
    os.makedirs(args.out, exist_ok=True)
    paths = [os.path.join(args.out, "bench_ddp.json"), os.path.join(args.out, "bench_ddp.md")]
    with open(paths[0], "w") as f:
        json.dump(run, f, indent=1)
    text = markdown(run)
    with open(paths[1], "w") as f:
        f.write(text + "\n")
    print(text)
    print("wrote " + ", ".join(paths))
    return run
