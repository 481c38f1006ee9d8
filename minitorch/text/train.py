"""``python -m minitorch train-gpt``: train the small GPT on addition, from scratch, on the CPU.

    python -m minitorch train-gpt                       # 3-digit addition, defaults below
    python -m minitorch train-gpt --steps 4000 --out runs/gpt --checkpoint runs/gpt/last.mt
    python -m minitorch train-gpt --checkpoint runs/gpt/last.mt --steps 6000 --resume
    python -m minitorch train-gpt --compare-torch       # torch trains the same model beside it

Each step draws a fresh batch of problems (``minitorch.text.arithmetic``; the held-out test
problems are never drawn) from a generator seeded by (seed, step), so a resumed run sees the same
batches as an uninterrupted one. Every ``--eval-every`` steps it prints the loss and the exact-
match accuracy on the held-out problems (greedy decoding of the whole answer), and saves the
checkpoint (model, optimizer, step, config) atomically. ``--out`` writes metrics.json and
curves.png. The learning rate warms up linearly for ``--warmup`` steps, then follows a cosine
down to 10% of ``--lr``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np

import minitorch

from ..training.errors import UsageError
from ..training.files import check_writable_file, check_writable_folder, write_atomically
from .arithmetic import ArithmeticTask
from .gpt import GPT, GPTConfig, gpt_class


def add_train_gpt_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--op", default="+", choices=["+", "-"], help="the task (default %(default)s)")
    p.add_argument("--digits", type=int, default=3, help="digits per operand")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--n-embd", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--n-test", type=int, default=1000, help="held-out problems")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default=None, help="save here at every evaluation")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--out", dest="out_dir", default=None, help="write metrics.json, curves.png")
    p.add_argument("--compare-torch", action="store_true",
                   help="train the same GPT in torch from the same weights on the same batches")
    p.add_argument("--expect-accuracy", type=float, default=None,
                   help="exit with status 1 if the final test accuracy is below this (0-1)")
    p.add_argument("--sample", type=int, default=3,
                   help="print this many sampled completions (temperature 1, top-k 3) at the end")


def lr_at(step: int, lr: float, warmup: int, total: int) -> float:
    """Linear warm-up to lr over ``warmup`` steps, then cosine to 0.1 · lr at ``total``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def exact_match(model, task: ArithmeticTask, pairs, L=minitorch, chunk: int = 500) -> float:
    """Share of ``pairs`` whose whole answer the model gets right, decoding greedily."""
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(pairs), chunk):
        part = pairs[i:i + chunk]
        ids = task.encode_pairs(part)
        prompt = L.tensor(ids[:, :task.prompt_len])
        out = model.generate(prompt, task.answer_len, greedy=True)
        got = np.asarray(out[:, task.prompt_len:].cpu().numpy())
        correct += int((got == ids[:, task.prompt_len:]).all(axis=1).sum())
    model.train(was_training)
    return correct / len(pairs)


def make_optimizer(L, model, args):
    return L.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99),
                         weight_decay=args.weight_decay)


def train_step(L, model, opt, x, y, lr) -> float:
    for group in opt.param_groups:
        group["lr"] = lr
    loss = model.loss(L.tensor(x), L.tensor(y))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.item())


def run_train_gpt(args, log=print) -> dict:
    if args.steps < 1 or args.batch_size < 1 or args.eval_every < 1:
        raise UsageError("--steps, --batch-size and --eval-every must be >= 1")
    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint")
    if args.out_dir:
        check_writable_folder(args.out_dir, "--out")
    if args.checkpoint:
        check_writable_file(args.checkpoint, "--checkpoint")
    task = ArithmeticTask(args.digits, args.op, n_test=args.n_test, seed=args.seed)
    config = GPTConfig(vocab_size=task.tokenizer.vocab_size, block_size=task.seq_len - 1,
                       n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                       dropout=args.dropout)
    minitorch.manual_seed(args.seed)
    model = GPT(config)
    opt = make_optimizer(minitorch, model, args)
    start, history = 0, []
    if args.resume and os.path.exists(args.checkpoint):
        state = minitorch.load(args.checkpoint)
        if state["config"] != config.as_dict():
            raise UsageError(f"--resume: {args.checkpoint} holds a model with config "
                             f"{state['config']}, not {config.as_dict()}")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, history = int(state["step"]), json.loads(state["history"])
        log(f"resumed from {args.checkpoint} at step {start}")
    ref = None
    if args.compare_torch:
        from ..cli import import_torch
        torch = import_torch()
        ref = gpt_class(torch)(config)
        ref.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
        ref_opt = make_optimizer(torch, ref, args)
        if start:
            raise UsageError("--compare-torch starts both models from step 0 (no --resume)")
    log(f"GPT {config.n_layer} layers × {config.n_head} heads, width {config.n_embd}, "
        f"{model.num_parameters():,} parameters; task {task.text(123 % 10 ** args.digits, 45)!r}"
        f" ({task.n_problems:,} problems, {len(task.test_pairs)} held out); batch "
        f"{args.batch_size}, AdamW lr {args.lr}, {args.steps} steps")
    t0, losses, ref_losses = time.perf_counter(), [], []
    for step in range(start, args.steps):
        x, y = task.sample_batch(args.batch_size, np.random.default_rng([args.seed, step]))
        lr = lr_at(step, args.lr, args.warmup, args.steps)
        losses.append(train_step(minitorch, model, opt, x, y, lr))
        if ref is not None:
            ref_losses.append(train_step(torch, ref, ref_opt, x, y, lr))
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            entry = {"step": step + 1, "loss": float(np.mean(losses)),
                     "test_acc": exact_match(model, task, task.test_pairs),
                     "seconds": time.perf_counter() - t0}
            line = (f"step {step + 1:5d}  loss {entry['loss']:.4f}  test exact-match "
                    f"{100 * entry['test_acc']:6.2f}%  {entry['seconds']:6.1f}s")
            if ref is not None:
                entry["torch_loss"] = float(np.mean(ref_losses))
                entry["torch_test_acc"] = exact_match(ref, task, task.test_pairs, L=torch)
                line += (f"  | torch loss {entry['torch_loss']:.4f} exact-match "
                         f"{100 * entry['torch_test_acc']:6.2f}%")
            history.append(entry)
            losses, ref_losses = [], []
            log(line)
            if args.checkpoint:
                minitorch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                                "step": step + 1, "config": config.as_dict(),
                                "task": {"digits": args.digits, "op": args.op},
                                "history": json.dumps(history)}, args.checkpoint)
    result = {"config": config.as_dict(), "history": history,
              "test_acc": history[-1]["test_acc"] if history else None,
              "parameters": model.num_parameters()}
    for _ in range(args.sample):
        a, b = (int(v) for v in task.test_pairs[_])
        prompt = minitorch.tensor(task.encode_pairs([(a, b)])[:, :task.prompt_len])
        text = task.tokenizer.decode(model.generate(prompt, task.answer_len, temperature=1.0,
                                                    top_k=3).numpy()[0])
        log(f"sample: {text}  (reads {text[:task.prompt_len]}"
            f"{task.decode_answer(task.tokenizer.encode(text[task.prompt_len:]))}; "
            f"true {task.answer(a, b)})")
    if args.out_dir:
        _write_outputs(args.out_dir, result, log)
    return result


def _write_outputs(out_dir: str, result: dict, log) -> None:
    path = os.path.join(out_dir, "metrics.json")
    write_atomically(path, lambda fh: fh.write(json.dumps(result, indent=1).encode()))
    log(f"wrote {path}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("curves.png skipped: matplotlib is not installed (pip install matplotlib)")
        return
    h = result["history"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    steps = [e["step"] for e in h]
    a1.plot(steps, [e["loss"] for e in h], label="minitorch")
    a2.plot(steps, [100 * e["test_acc"] for e in h], label="minitorch")
    if h and "torch_loss" in h[0]:
        a1.plot(steps, [e["torch_loss"] for e in h], "--", label="torch")
        a2.plot(steps, [100 * e["torch_test_acc"] for e in h], "--", label="torch")
    a1.set(xlabel="step", ylabel="train loss", yscale="log")
    a2.set(xlabel="step", ylabel="held-out exact match (%)")
    a1.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "curves.png")
    write_atomically(path, lambda fh: fig.savefig(fh, format="png"))
    plt.close(fig)
    log(f"wrote {path}")
