"""Fine-tuning, the other half of the seeds' title: reuse what a network learned on one task.

    python -m minitorch finetune        (examples/finetune.py calls the same function)

1. **Pretrain** on task A — the digits 0-4 — and save the weights with ``minitorch.save``, one
   checkpoint per architecture and image size; a later run reuses them (``--pretrain`` trains
   them again), so trying other fine-tuning options does not repeat the pretraining.
2. **Load** them into a new model for task B — the digits 5-9, relabelled 0-4, with only a few
   training images per class (``--shots``): the situation where pretraining pays.
3. **Replace the head** (the last ``Linear``: its classes are task A's) with a fresh one and
   **freeze** everything else: ``requires_grad_(False)`` on the backbone, an optimizer over the
   head's parameters only. The frozen convolutional features are task A's.
   The new head learns at ``--head-lr``: a fresh layer on fixed features can take big steps.
4. Optionally **unfreeze** (``--unfreeze-epochs``) and train everything with two param groups: the
   backbone at a lower learning rate (``--backbone-lr``), the head at ``--head-lr``.
5. Compare with **training from scratch** on task B with the same budget (same epochs, same data).

With ``--out DIR`` the run writes ``finetune.json`` (every phase's accuracy), ``finetune.png``
and the fine-tuned model file ``model.mt`` (classes "5".."9"; ``predict`` takes it).

Accuracy on task B's held-out digits is printed before fine-tuning (the new head is random, so
about chance, 20%), after the head-only phase, after unfreezing, and for the scratch model.

What to expect. 8x8 digits are easy: 50 images of 5-9 train a small CNN from scratch to about 90%.
With the defaults (``simple_cnn``, 10 shots, 20 + 10 epochs) one run measured fine-tuned 95.0%
vs from scratch 94.4%; with ``--model mnist_cnn`` the frozen 0-4 features did *worse* than
scratch (77.7% vs 96.1%): features learnt to tell 0-4 apart need not separate 5-9. Transfer pays
when the tasks share structure and the new data is scarce; measure it, as this command does.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from .. import nn, optim
from ..inference.model_file import ModelInfo
from ..random import Generator, default_generator
from ..serialization import load, save
from ..utils.data import DataLoader, TensorDataset
from .data import load_arrays
from .files import check_writable_file, check_writable_folder
from .loop import evaluate, train_step


def add_finetune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="simple_cnn",
                   choices=["simple_cnn", "cifar_net", "mnist_cnn", "imagenet_cnn", "mlp"])
    p.add_argument("--image-size", type=int, default=None, help="digits: 8 or 28")
    p.add_argument("--pretrain-epochs", type=int, default=10)
    p.add_argument("--head-epochs", type=int, default=20, help="epochs with the backbone frozen")
    p.add_argument("--unfreeze-epochs", type=int, default=10,
                   help="epochs training everything afterwards (0: keep it frozen)")
    p.add_argument("--shots", type=int, default=10,
                   help="task-B training images per class (few: pretraining pays)")
    p.add_argument("--lr", type=float, default=1e-3,
                   help="Adam lr for pretraining and for the from-scratch model")
    p.add_argument("--head-lr", type=float, default=1e-2,
                   help="Adam lr of the new head (a fresh layer on fixed features learns fast)")
    p.add_argument("--backbone-lr", type=float, default=1e-4,
                   help="lr of the unfrozen backbone (its own param group)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--checkpoint", default=None,
                   help="where the pretrained weights are saved and reused from (default: "
                        "runs/pretrained_digits_0-4_<model>_<size>px.mt, one per model)")
    p.add_argument("--pretrain", action="store_true",
                   help="pretrain again even when --checkpoint holds weights for this model")
    p.add_argument("--out", default=None,
                   help="write finetune.json, finetune.png and the fine-tuned model.mt here")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)


def head_name(model: nn.Module) -> str:
    """The attribute name of the model's last Linear layer (its classifier head)."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names or "." in names[-1]:
        raise ValueError(f"fine-tuning needs a top-level Linear head; {type(model).__name__} has "
                         f"Linear layers {names}")
    return names[-1]


def task_loaders(x, y, classes, shots, batch_size, seed):
    """Images of ``classes`` relabelled 0..k-1; ``shots`` per class when given (the first ones
    of a seeded shuffle). Returns a shuffling DataLoader."""
    from .. import from_numpy
    keep = np.isin(y, classes)
    x, y = x[keep], np.searchsorted(np.asarray(classes), y[keep])
    if shots is not None:
        order = np.random.default_rng(seed).permutation(len(y))
        picked = np.concatenate([order[y[order] == c][:shots] for c in range(len(classes))])
        x, y = x[np.sort(picked)], y[np.sort(picked)]
    ds = TensorDataset(from_numpy(np.ascontiguousarray(x)), from_numpy(y.astype(np.int64)))
    return DataLoader(ds, batch_size=batch_size, shuffle=True,
                      generator=Generator().manual_seed(seed))


def train_epochs(model, optimizer, loader, epochs, device):
    for _ in range(epochs):
        model.train()
        for inputs, targets in loader:
            train_step(model, optimizer, inputs, targets, device)


def accuracy(model, loader, device) -> float:
    return evaluate(model, loader, device)[1]


def default_checkpoint(model: str, size: int) -> str:
    """One pretraining checkpoint per architecture and image size, so that finetuning another
    --model never overwrites (or loads) this one's."""
    return os.path.join("runs", f"pretrained_digits_0-4_{model}_{size}px.mt")


def _reusable(path: str, model: nn.Module) -> dict | None:
    """The state dict at ``path`` when it holds weights of exactly ``model``'s names and shapes."""
    if not os.path.exists(path):
        return None
    state = load(path)
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if not isinstance(state, dict) or {k: tuple(getattr(v, "shape", ())) for k, v in
                                       state.items()} != own:
        return None
    return state


def run_finetune(args, log=print) -> dict:
    from ..vision.models import build_model
    from .loop import resolve_device
    device = resolve_device(args.device)
    (x_train, y_train), (x_test, y_test), (c, _, size), description = load_arrays(
        "digits", None, args.image_size, with_description=True)
    checkpoint = args.checkpoint or default_checkpoint(args.model, size)
    check_writable_file(checkpoint, "--checkpoint")
    out_dir = getattr(args, "out", None)
    if out_dir:
        check_writable_folder(out_dir, "--out")
    task_a, task_b = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
    a_train = task_loaders(x_train, y_train, task_a, None, args.batch_size, args.seed)
    a_test = task_loaders(x_test, y_test, task_a, None, 256, args.seed)
    b_train = task_loaders(x_train, y_train, task_b, args.shots, args.batch_size, args.seed)
    b_test = task_loaders(x_test, y_test, task_b, None, 256, args.seed)
    n_b = len(b_train.dataset)

    # 1. pretrain on task A and save (or reuse the weights an earlier run saved)
    default_generator.manual_seed(args.seed)
    model = build_model(args.model, c, len(task_a), size).to(device)
    saved = None if getattr(args, "pretrain", False) else _reusable(checkpoint, model)
    if saved is not None:
        model.load_state_dict(saved)
        acc_a = accuracy(model, a_test, device)
        log(f"reusing the pretrained {args.model} in {checkpoint}: {100 * acc_a:.1f}% on "
            f"held-out 0-4 (--pretrain trains it again)")
    else:
        train_epochs(model, optim.Adam(model.parameters(), lr=args.lr), a_train,
                     args.pretrain_epochs, device)
        acc_a = accuracy(model, a_test, device)
        save(model.state_dict(), checkpoint)
        log(f"pretrained {args.model} on digits 0-4 for {args.pretrain_epochs} epochs: "
            f"{100 * acc_a:.1f}% on held-out 0-4; saved {checkpoint}")

    # 2-3. load, replace the head, freeze the backbone, train the head
    default_generator.manual_seed(args.seed + 1)
    model = build_model(args.model, c, len(task_a), size)
    model.load_state_dict(load(checkpoint))
    head = head_name(model)
    old = getattr(model, head)
    setattr(model, head, nn.Linear(old.in_features, len(task_b)))
    model.to(device)
    model.requires_grad_(False)
    getattr(model, head).requires_grad_(True)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    acc_before = accuracy(model, b_test, device)
    log(f"task B (digits 5-9, {args.shots} training images per class = {n_b}): new '{head}' head,"
        f" backbone frozen ({trainable} of {sum(p.numel() for p in model.parameters())} "
        f"parameters train); accuracy before fine-tuning {100 * acc_before:.1f}%")
    train_epochs(model, optim.Adam(getattr(model, head).parameters(), lr=args.head_lr), b_train,
                 args.head_epochs, device)
    acc_head = accuracy(model, b_test, device)
    log(f"after {args.head_epochs} epochs on the head alone: {100 * acc_head:.1f}%")

    # 4. unfreeze with a lower learning rate for the backbone (two param groups)
    acc_full = None
    if args.unfreeze_epochs:
        model.requires_grad_(True)
        head_params = list(getattr(model, head).parameters())
        head_ids = {id(p) for p in head_params}
        backbone = [p for p in model.parameters() if id(p) not in head_ids]
        optimizer = optim.Adam([{"params": backbone, "lr": args.backbone_lr},
                                {"params": head_params}], lr=args.head_lr)
        train_epochs(model, optimizer, b_train, args.unfreeze_epochs, device)
        acc_full = accuracy(model, b_test, device)
        log(f"after {args.unfreeze_epochs} more epochs with everything unfrozen (backbone lr "
            f"{args.backbone_lr}, head lr {args.head_lr}): {100 * acc_full:.1f}%")

    # 5. from scratch, same data, same number of epochs
    default_generator.manual_seed(args.seed + 2)
    scratch = build_model(args.model, c, len(task_b), size).to(device)
    budget = args.head_epochs + args.unfreeze_epochs
    train_epochs(scratch, optim.Adam(scratch.parameters(), lr=args.lr), b_train, budget, device)
    acc_scratch = accuracy(scratch, b_test, device)
    final = acc_full if acc_full is not None else acc_head
    log(f"from scratch on the same {n_b} images for {budget} epochs: {100 * acc_scratch:.1f}%")
    log(f"fine-tuned {100 * final:.1f}% vs from scratch {100 * acc_scratch:.1f}% "
        f"on held-out digits 5-9")
    result = {"pretrain_acc": acc_a, "before": acc_before, "head_only": acc_head,
              "unfrozen": acc_full, "scratch": acc_scratch}
    if out_dir:
        info = ModelInfo(args.model, {"in_channels": c, "num_classes": len(task_b),
                                      "image_size": size},
                         [str(d) for d in task_b], (c, size, size), description.transform,
                         dataset="digits", metrics={"test_accuracy_5-9": final})
        for path in write_finetune_report(result, vars(args), info, model, out_dir):
            log(f"wrote {path}")
    return result


def write_finetune_report(result: dict, config: dict, info, model, out_dir: str) -> list:
    """finetune.json (every phase's accuracy), finetune.png (a bar per phase, with matplotlib)
    and the fine-tuned model file model.mt (classes "5".."9")."""
    import json

    from ..inference.model_file import save_model
    from .files import write_atomically
    from .report import _pyplot, _save_figure, finite_or_null
    summary = {"config": {k: v for k, v in config.items() if isinstance(v, (int, float, str,
                                                                             type(None)))},
               "accuracy": result}
    written = [os.path.join(out_dir, "finetune.json")]
    text = json.dumps(finite_or_null(summary), indent=2) + "\n"
    write_atomically(written[0], lambda fh: fh.write(text.encode("utf-8")))
    plt = _pyplot()
    if plt is not None:
        phases = [("pretrained\n(0-4)", result["pretrain_acc"]), ("before", result["before"]),
                  ("head only", result["head_only"]), ("unfrozen", result["unfrozen"]),
                  ("from scratch", result["scratch"])]
        phases = [(name, acc) for name, acc in phases if acc is not None]
        fig, ax = plt.subplots(figsize=(7, 4))
        bars = ax.bar([n for n, _ in phases], [100 * a for _, a in phases],
                      color=["#999"] + ["#4c72b0"] * (len(phases) - 2) + ["#dd8452"])
        for bar, (_, acc) in zip(bars, phases):
            ax.text(bar.get_x() + bar.get_width() / 2, 100 * acc + 1, f"{100 * acc:.1f}%",
                    ha="center", fontsize=9)
        final = result["unfrozen"] if result["unfrozen"] is not None else result["head_only"]
        ax.set(ylabel="held-out accuracy (%)", ylim=(0, 110),
               title=f"{config.get('model')} fine-tuned on digits 5-9 "
                     f"({config.get('shots')} shots): {100 * final:.1f}% vs "
                     f"{100 * result['scratch']:.1f}% from scratch")
        ax.title.set_fontsize(10)
        path = os.path.join(out_dir, "finetune.png")
        _save_figure(plt, fig, path)
        written.append(path)
    path = os.path.join(out_dir, "model.mt")
    save_model(model, path, info)
    written.append(path)
    return written
