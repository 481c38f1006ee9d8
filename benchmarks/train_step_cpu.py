"""One training step (forward, cross-entropy, backward, Adam) of the seed networks on the CPU,
minitorch vs torch, measured side by side in one process.

    .venv/bin/python benchmarks/train_step_cpu.py [--batch 64] [--repeats 7] [--model net|simple]

The two libraries alternate step by step so drift on a noisy machine hits both; the table shows the
median and min/max of each, and the ratio of medians (minitorch / torch: lower is better, 1.0 = parity).
"""
import argparse
import os
import platform
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minitorch  # noqa: E402
from seed_models import cifar_net, simple_cnn  # noqa: E402


def build_pair(builder, seed=0):
    torch.manual_seed(seed)
    t_model = builder(torch)
    m_model = builder(minitorch)
    m_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    return t_model, m_model


def step_fn(L, model, opt, x, y):
    def step():
        opt.zero_grad()
        loss = L.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--model", choices=["net", "simple"], default="net")
    args = ap.parse_args(argv)
    builder = cifar_net if args.model == "net" else simple_cnn
    t_model, m_model = build_pair(builder)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, args.batch)
    steps = {
        "torch": step_fn(torch, t_model, torch.optim.Adam(t_model.parameters(), lr=1e-3),
                         torch.from_numpy(x), torch.from_numpy(y)),
        "minitorch": step_fn(minitorch, m_model, minitorch.optim.Adam(m_model.parameters(), lr=1e-3),
                             minitorch.from_numpy(x), minitorch.from_numpy(y)),
    }
    for f in steps.values():  # warm-up
        f()
    times = {k: [] for k in steps}
    for _ in range(args.repeats):
        for name, f in steps.items():
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    print(f"# {args.model} training step (Adam), batch {args.batch}, float32, CPU "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, numpy {np.__version__})")
    print("| library | median ms | min ms | max ms |")
    print("|---|---:|---:|---:|")
    for name, ts in times.items():
        print(f"| {name} | {1e3 * np.median(ts):.1f} | {1e3 * min(ts):.1f} | {1e3 * max(ts):.1f} |")
    ratio = np.median(times["minitorch"]) / np.median(times["torch"])
    print(f"\nratio minitorch/torch (median): {ratio:.2f}x")
    return ratio


if __name__ == "__main__":
    main()
