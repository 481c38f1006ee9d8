"""Where the CIFAR Net's training step spends its time, stage by stage, beside torch.

    .venv/bin/python -m benchmarks.step_profile [--threads 1,2] [--batch 64] [--repeats 7]
                                                 [--force]

Each stage of one training step of the seed's CIFAR Net (``tests/seed_models.py``: three 3x3
convolutions, each followed by ReLU and 2x2 max-pooling, three linear layers, cross_entropy,
Adam) runs forward and backward on its own, with the input the whole step would give it and a
random cotangent, in both libraries with the same weights and data, alternating call by call in
one process; then the whole step (the row of ``python -m benchmarks``). The medians, their
difference and their ratio show which stages carry the whole step's gap to torch. The stages'
sum is not the step's time: the step also zeroes the gradients and accumulates into them, and
stages alone start with cold caches. The load-average rule of ``python -m benchmarks`` applies
(``--force``); thread counts other than the current one run in child processes, as in
``benchmarks.conv_profile``.
"""
from __future__ import annotations

import argparse

from . import threads as thread_setup

# (stage, what it computes from the module m, functional F and input x); the first conv's input
# is the data and needs no gradient, as in the step
STAGES = [
    ("conv1 3->32 @32", lambda m, F, x: m.conv1(x)),
    ("relu+pool @32", lambda m, F, x: m.pool(F.relu(x))),
    ("conv2 32->64 @16", lambda m, F, x: m.conv2(x)),
    ("relu+pool @16", lambda m, F, x: m.pool(F.relu(x))),
    ("conv3 64->128 @8", lambda m, F, x: m.conv3(x)),
    ("relu+pool @8", lambda m, F, x: m.pool(F.relu(x))),
    ("fc1 2048->1024 + relu", lambda m, F, x: F.relu(m.fc1(x.reshape(x.shape[0], -1)))),
    ("dropout", lambda m, F, x: m.dropout(x)),
    ("fc2 1024->512 + relu", lambda m, F, x: F.relu(m.fc2(x))),
    ("fc3 512->10", lambda m, F, x: m.fc3(x)),
]


def stage_inputs(torch, model, x):
    """The input of every stage in one forward pass of torch's copy of the model (NumPy)."""
    inputs = []
    with torch.no_grad():
        for _, stage in STAGES:
            inputs.append(x.numpy().copy())
            x = stage(model, torch.nn.functional, x)
        inputs.append(x.numpy().copy())  # the logits: cross_entropy's input
    return inputs


def profile(batch: int, repeats: int) -> list:
    """[(stage, minitorch ms, torch ms)] for every stage, cross_entropy, Adam and the step."""
    import numpy as np
    import torch

    import minitorch

    from .cases import _rng, build_model, model_state, seed_models
    builder = seed_models().cifar_net
    state = model_state(builder)
    rng = _rng("step_profile", batch)
    data = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    target = rng.integers(0, 10, batch).astype(np.int64)
    models = {L: build_model(L, builder, state) for L in (minitorch, torch)}
    inputs = stage_inputs(torch, models[torch], torch.from_numpy(data))

    def stage_call(L, k):
        stage = STAGES[k][1] if k < len(STAGES) else None  # None: cross_entropy
        model, F = models[L], L.nn.functional
        x = L.from_numpy(inputs[k].copy())
        if k > 0:
            x.requires_grad_()
        if stage is None:
            t = L.from_numpy(target)
            return lambda: F.cross_entropy(x, t).backward()
        out_shape = stage(model, F, x).shape
        g = L.from_numpy(rng.standard_normal(tuple(out_shape)).astype(np.float32))
        return lambda: stage(model, F, x).backward(g)

    def adam_call(L):
        model = models[L]
        for p in model.parameters():
            p.grad = L.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 1e-2)
        return L.optim.Adam(model.parameters(), lr=1e-3).step

    def step_call(L):
        model = build_model(L, builder, state)
        opt = L.optim.Adam(model.parameters(), lr=1e-3)
        x, y = L.from_numpy(data), L.from_numpy(target)

        def step():
            opt.zero_grad()
            L.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return step

    rows = [(name, {L: stage_call(L, k) for L in models})
            for k, name in enumerate([s[0] for s in STAGES] + ["cross_entropy"])]
    rows.append(("Adam step", {L: adam_call(L) for L in models}))
    rows.append(("whole step", {L: step_call(L) for L in models}))
    out = []
    for name, calls in rows:
        times = {minitorch: [], torch: []}
        for L in (minitorch, torch):
            calls[L]()  # warm-up
        for r in range(repeats):  # alternate, and alternate who goes first
            order = (minitorch, torch) if r % 2 == 0 else (torch, minitorch)
            for L in order:
                times[L].append(_seconds(calls[L]))
        out.append((name, 1e3 * float(np.median(times[minitorch])),
                    1e3 * float(np.median(times[torch]))))
    return out


def _seconds(fn) -> float:
    import time
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def print_table(n_threads, batch, rows, load_before, load_after):
    print(f"\n## CIFAR Net training step B{batch} by stage, {n_threads} thread(s), forward+backward"
          f" medians in ms; load {load_before}->{load_after}")
    print("| stage | minitorch | torch | minitorch − torch | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, ours, ref in rows:
        print(f"| {name} | {ours:.2f} | {ref:.2f} | {ours - ref:+.2f} | {ours / ref:.2f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.step_profile")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args(argv)
    n_threads = thread_setup.one_count_per_process(
        "benchmarks.step_profile", args.threads,
        ["--batch", str(args.batch), "--repeats", str(args.repeats)], args.force)
    if n_threads is None:
        return
    from . import load
    before = load.read()
    load.check_start(before, load.cores(), args.force)
    rows = profile(args.batch, args.repeats)
    print_table(n_threads, args.batch, rows, before, load.read())


if __name__ == "__main__":
    main()
