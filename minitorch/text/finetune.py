"""``python -m minitorch finetune-gpt``: teach the addition GPT subtraction with LoRA.

    python -m minitorch train-gpt --checkpoint runs/gpt/addition.mt     # first: the base model
    python -m minitorch finetune-gpt --pretrained runs/gpt/addition.mt

Task B is subtraction a − b (a ≥ b) written as the addition problems are (``456-123=333``, the
answer's digits reversed), learnt from a *small* fixed set of ``--train-size`` problems. Three
models get the same data, steps and batches:

1. **LoRA**: the pretrained GPT with ``nn.lora`` adapters on ``--targets`` (by default
   attention's Q/K/V projection ``in_proj`` and ``out_proj``, and the MLP's linear1/linear2);
   only the adapters train, everything else (embeddings, LayerNorms, biases, the weights under
   the adapters) is frozen — and checked afterwards to be bit-for-bit unchanged.
2. **Full fine-tuning**: the pretrained GPT, every parameter trains.
3. **From scratch**: a fresh GPT of the same shape.

It prints the trainable-parameter count of each, the held-out subtraction exact-match before and
after, and the addition exact-match afterwards (how much of task A each keeps).
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import time

import numpy as np

import minitorch

from ..nn import lora
from ..training.errors import UsageError
from ..training.files import check_writable_folder, write_atomically
from .arithmetic import ArithmeticTask
from .gpt import GPT, GPTConfig
from .train import exact_match, lr_at, train_step


def add_finetune_gpt_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pretrained", default="runs/gpt/addition.mt",
                   help="a train-gpt --checkpoint of the addition model (default %(default)s)")
    p.add_argument("--train-size", type=int, default=2000,
                   help="subtraction problems to learn from (few: pretraining should pay)")
    p.add_argument("--steps", type=int, default=800, help="steps for each of the three models")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr-lora", type=float, default=3e-3)
    p.add_argument("--lr-full", type=float, default=1e-3)
    p.add_argument("--lr-scratch", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--r", type=int, default=8, help="LoRA rank")
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA scale numerator (α/r)")
    p.add_argument("--targets", default="in_proj,out_proj,linear1,linear2",
                   help="comma-separated names of the layers that get adapters: Linear layers "
                        "by name, in_proj for attention's stacked Q/K/V weight")
    p.add_argument("--n-test", type=int, default=1000, help="held-out problems per task")
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default="lora,full,scratch",
                   help="which of lora,full,scratch to run (default all three)")
    p.add_argument("--out", dest="out_dir", default=None, help="write finetune.json here")
    p.add_argument("--expect-accuracy", type=float, default=None,
                   help="exit with status 1 if LoRA's subtraction exact-match ends below this")


def _train(name, model, params, lr, task, pairs, args, log) -> dict:
    opt = minitorch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    t0, losses, history = time.perf_counter(), [], []
    for step in range(args.steps):
        rng = np.random.default_rng([args.seed, 7, step])
        batch = pairs[rng.integers(0, len(pairs), args.batch_size)]
        x, y = task.inputs_and_targets(task.encode_pairs(batch))
        losses.append(train_step(minitorch, model, opt, x, y,
                                 lr_at(step, lr, args.warmup, args.steps)))
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            acc = exact_match(model, task, task.test_pairs)
            history.append({"step": step + 1, "loss": float(np.mean(losses)), "test_acc": acc})
            log(f"  {name:8s} step {step + 1:5d}  loss {np.mean(losses):.4f}  subtraction "
                f"exact-match {100 * acc:6.2f}%  {time.perf_counter() - t0:6.1f}s")
            losses = []
    return {"history": history, "seconds": time.perf_counter() - t0}


def run_finetune_gpt(args, log=print) -> dict:
    if not os.path.exists(args.pretrained):
        raise UsageError(f"--pretrained {args.pretrained}: no such file; make it with "
                         f"python -m minitorch train-gpt --checkpoint {args.pretrained}")
    if args.out_dir:
        check_writable_folder(args.out_dir, "--out")
    methods = [m for m in args.only.split(",") if m]
    unknown = set(methods) - {"lora", "full", "scratch"}
    if unknown or args.train_size < 1 or args.steps < 1:
        raise UsageError(f"--only takes lora,full,scratch (got {sorted(unknown)}); --train-size "
                         f"and --steps must be >= 1")
    state = minitorch.load(args.pretrained)
    config = GPTConfig(**state["config"])
    digits = state.get("task", {}).get("digits", 3)
    add_task = ArithmeticTask(digits, "+", n_test=args.n_test, seed=args.seed)
    sub_task = ArithmeticTask(digits, "-", n_test=args.n_test, seed=args.seed)
    if sub_task.seq_len - 1 > config.block_size:
        raise UsageError(f"--pretrained: block_size {config.block_size} is too short for "
                         f"{digits}-digit subtraction")
    pretrained = GPT(config)
    pretrained.load_state_dict(state["model"])
    pairs = sub_task.sample_pairs(args.train_size, np.random.default_rng([args.seed, 3]))
    before_sub = exact_match(pretrained, sub_task, sub_task.test_pairs)
    before_add = exact_match(pretrained, add_task, add_task.test_pairs)
    log(f"pretrained {args.pretrained}: addition exact-match {100 * before_add:.2f}%, "
        f"subtraction {100 * before_sub:.2f}% before fine-tuning; {len(pairs)} subtraction "
        f"problems to learn from, {args.steps} steps of {args.batch_size} for each model")
    results = {}
    for method in methods:
        if method == "lora":
            model = copy.deepcopy(pretrained)
            names = lora.apply_lora(model, args.targets.split(","), r=args.r, alpha=args.alpha)
            lora.mark_only_lora_as_trainable(model)
            frozen = {k: v.clone() for k, v in model.state_dict().items()
                      if not k.endswith(("lora_A", "lora_B"))}
            lr, label = args.lr_lora, f"LoRA r={args.r} on {len(names)} layers"
        elif method == "full":
            model, lr, label = copy.deepcopy(pretrained), args.lr_full, "full fine-tuning"
        else:
            minitorch.manual_seed(args.seed + 1)
            model, lr, label = GPT(config), args.lr_scratch, "from scratch"
        trainable, total = lora.count_parameters(model)
        log(f"{label}: {trainable:,} trainable of {total:,} parameters")
        params = [p for p in model.parameters() if p.requires_grad]
        before = before_sub if method != "scratch" else exact_match(model, sub_task,
                                                                    sub_task.test_pairs)
        r = _train(method, model, params, lr, sub_task, pairs, args, log)
        r.update(label=label, trainable=trainable, total=total, before=before,
                 after=r["history"][-1]["test_acc"],
                 addition_after=exact_match(model, add_task, add_task.test_pairs))
        if method == "lora":
            now = model.state_dict()
            r["frozen_unchanged"] = all(np.array_equal(now[k].numpy(), v.numpy())
                                        for k, v in frozen.items())
            lora.merge_lora(model)  # one weight per layer again: same answers, no extra cost
            r["after_merge"] = exact_match(model, sub_task, sub_task.test_pairs)
        results[method] = r
    log("")
    log(f"{'model':30s} {'trainable':>10s} {'sub before':>11s} {'sub after':>10s} "
        f"{'add after':>10s} {'time':>7s}")
    for r in results.values():
        log(f"{r['label']:30s} {r['trainable']:>10,d} {100 * r['before']:>10.2f}% "
            f"{100 * r['after']:>9.2f}% {100 * r['addition_after']:>9.2f}% {r['seconds']:>6.0f}s")
    if "lora" in results:
        r = results["lora"]
        log(f"LoRA: frozen weights unchanged: {r['frozen_unchanged']}; merged into the weights: "
            f"{100 * r['after_merge']:.2f}% subtraction exact-match")
    summary = {"pretrained": {"addition": before_add, "subtraction": before_sub}, **results}
    if args.out_dir:
        path = os.path.join(args.out_dir, "finetune.json")
        write_atomically(path, lambda fh: fh.write(json.dumps(summary, indent=1).encode()))
        log(f"wrote {path}")
    return summary
