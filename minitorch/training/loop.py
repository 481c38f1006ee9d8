"""The training loop behind ``python -m minitorch train``: epochs, validation, early stopping,
checkpoints that resume bit-for-bit, and an optional torch twin trained in lockstep.

One epoch::

    for inputs, targets in train_loader:          # shuffled by a seeded Generator
        optimizer.zero_grad()
        loss = cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
    scheduler.step()                              # once per epoch, as torch's schedulers expect

Resuming. A checkpoint is written (atomically, by :func:`minitorch.save`) after every epoch and
holds everything the next epoch depends on: the model's and the optimizer's state dicts, the
scheduler's, the shuffling generator's and the global generator's states (dropout draws from the
latter), the history and the early-stopping counters. Training killed at any point and resumed
from the last checkpoint therefore replays the lost part of the epoch with the same batches and
the same dropout masks, and ends with the same weights as an uninterrupted run.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..random import Generator, default_generator
from ..serialization import load, save
from ..utils.data import DataLoader
from .progress import progress_bar


@dataclass
class TrainConfig:
    """Every option of ``python -m minitorch train`` (see ``minitorch/cli.py`` for the help)."""
    model: str = "simple_cnn"
    dataset: str = "digits"
    data_root: str = "data"
    image_size: int | None = None       # None: the dataset's own size
    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"             # sgd | adam | adamw
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "none"              # none | step | exp | cosine
    step_size: int = 5
    gamma: float = 0.5
    device: str = "auto"
    seed: int = 0
    val_fraction: float = 0.1
    patience: int | None = None         # early stopping on validation loss; None: off
    checkpoint: str | None = None
    resume: bool = False
    out_dir: str | None = None          # where metrics.json and the plots go
    progress: bool = True
    compare_torch: bool = False
    limit_train: int | None = None      # use only the first N training samples (quick runs)
    crash_after_steps: int | None = field(default=None, repr=False)  # tests: simulate a kill


def resolve_device(name: str) -> str:
    from .. import cuda
    if name == "auto":
        return "cuda" if cuda.is_available() else "cpu"
    if name.startswith("cuda") and not cuda.is_available():
        raise RuntimeError(f"--device {name}: CUDA is not available (CuPy and an NVIDIA GPU are "
                           f"needed); use --device cpu")
    return name


def make_optimizer(name: str, params, cfg: TrainConfig, library=optim):
    """SGD (with cfg.momentum), Adam or AdamW over ``params`` (a list of tensors or of param
    groups), from ``library`` (minitorch.optim, or torch.optim for the twin)."""
    if name == "sgd":
        return library.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if name == "adam":
        return library.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if name == "adamw":
        return library.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay or 1e-2)
    raise ValueError(f"unknown optimizer {name!r}; choose sgd, adam or adamw")


def make_scheduler(optimizer, cfg: TrainConfig, library=optim):
    sched = library.lr_scheduler
    if cfg.schedule == "none":
        return None
    if cfg.schedule == "step":
        return sched.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "exp":
        return sched.ExponentialLR(optimizer, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    raise ValueError(f"unknown schedule {cfg.schedule!r}; choose none, step, exp or cosine")


def train_step(model, optimizer, inputs, targets, device) -> float:
    """One step: zero the grads, cross-entropy of the logits, backward, update. Returns the loss."""
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(inputs.to(device)), targets.to(device))
    loss.backward()
    optimizer.step()
    return loss.item()


def evaluate(model, loader, device, library=None):
    """Mean cross-entropy and accuracy of ``model`` over ``loader`` in eval mode, plus every
    prediction and target (for the metrics). ``library`` is torch for the twin."""
    cross_entropy = nn.functional.cross_entropy if library is None else \
        library.nn.functional.cross_entropy
    was_training = model.training
    model.eval()
    total_loss, preds, targets = 0.0, [], []
    with no_grad() if library is None else library.no_grad():
        for inputs, target in loader:
            if library is None:
                inputs, target = inputs.to(device), target.to(device)
            else:  # the twin: the same batch as torch tensors
                inputs, target = library.from_numpy(inputs.numpy()), library.from_numpy(target.numpy())
            logits = model(inputs)
            total_loss += cross_entropy(logits, target, reduction="sum").item()
            preds.append(logits.argmax(1).cpu().numpy())
            targets.append(target.cpu().numpy())
    model.train(was_training)
    preds, targets = np.concatenate(preds), np.concatenate(targets)
    return total_loss / len(targets), float(np.mean(preds == targets)), preds, targets


class TorchTwin:
    """The same architecture in torch, started from our initial weights, stepped on the same
    batches: ``--compare-torch``. torch is handed in by the caller (minitorch never imports it)."""

    def __init__(self, torch, model_name, shape_args, model, cfg):
        from ..vision.models import build_model
        self.torch = torch
        self.model = build_model(model_name, *shape_args, library=torch)
        self.model.load_state_dict({k: torch.from_numpy(v.cpu().numpy().copy())
                                    for k, v in model.state_dict().items()})
        self.optimizer = make_optimizer(cfg.optimizer, self.model.parameters(), cfg, torch.optim)
        self.scheduler = make_scheduler(self.optimizer, cfg, torch.optim)
        self.history = []

    def step(self, inputs, targets) -> float:
        torch = self.torch
        self.optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(torch.from_numpy(inputs.numpy())),
                                                 torch.from_numpy(targets.numpy()))
        loss.backward()
        self.optimizer.step()
        return loss.item()


def _rng_state_json(generator: Generator) -> str:
    return json.dumps(generator.get_state())


def fit(cfg: TrainConfig, data, torch=None, log=print):
    """Train ``cfg.model`` on ``data`` = (train_set, val_set, test_set, (C, classes, size)).

    Returns a dict with the history (one entry per epoch), the test metrics and the model.
    ``torch``: the torch module, for ``cfg.compare_torch``.
    """
    from ..vision.models import build_model
    train_set, val_set, test_set, shape_args = data
    device = resolve_device(cfg.device)
    default_generator.manual_seed(cfg.seed)
    model = build_model(cfg.model, *shape_args).to(device)
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg)
    scheduler = make_scheduler(optimizer, cfg)
    shuffle = Generator().manual_seed(cfg.seed + 1)
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True,
                              generator=shuffle)
    val_loader = DataLoader(val_set, batch_size=256) if val_set is not None else None
    test_loader = DataLoader(test_set, batch_size=256)

    history, start_epoch, best_val, bad_epochs, best_state = [], 0, float("inf"), 0, None
    if cfg.resume:
        if not cfg.checkpoint or not os.path.exists(cfg.checkpoint):
            raise FileNotFoundError(f"--resume: no checkpoint at {cfg.checkpoint!r} (give "
                                    f"--checkpoint PATH of an earlier run)")
        state = load(cfg.checkpoint)
        if state.get("model_name") != cfg.model:
            raise ValueError(f"--resume: the checkpoint {cfg.checkpoint} holds a "
                             f"{state.get('model_name')!r} model, not {cfg.model!r}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        shuffle.set_state(json.loads(state["shuffle_rng"]))
        default_generator.set_state(json.loads(state["global_rng"]))
        history, start_epoch = list(state["history"]), int(state["epoch"])
        best_val, bad_epochs = float(state["best_val_loss"]), int(state["bad_epochs"])
        best_state = state.get("best_model")
        log(f"resumed from {cfg.checkpoint} after epoch {start_epoch}")

    twin = TorchTwin(torch, cfg.model, shape_args, model, cfg) if cfg.compare_torch else None
    steps = start_epoch * len(train_loader)
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        bar = progress_bar(len(train_loader), f"epoch {epoch + 1}/{cfg.epochs}", cfg.progress)
        started, seen, loss_sum, twin_loss_sum = time.perf_counter(), 0, 0.0, 0.0
        for inputs, targets in train_loader:
            loss = train_step(model, optimizer, inputs, targets, device)
            if twin is not None:
                twin_loss_sum += twin.step(inputs, targets) * len(targets)
            loss_sum += loss * len(targets)
            seen += len(targets)
            steps += 1
            bar.update(1)
            bar.set_postfix_str(f"loss={loss_sum / seen:.4f}")
            if cfg.crash_after_steps is not None and steps >= cfg.crash_after_steps:
                os._exit(17)  # a kill -9 in the middle of an epoch: nothing is flushed or saved
        bar.close()
        elapsed = time.perf_counter() - started
        if scheduler is not None:
            scheduler.step()
        entry = {"epoch": epoch + 1, "train_loss": loss_sum / seen,
                 "samples_per_s": seen / elapsed, "lr": optimizer.param_groups[0]["lr"]}
        if val_loader is not None:
            entry["val_loss"], entry["val_acc"], _, _ = evaluate(model, val_loader, device)
        if twin is not None:
            if twin.scheduler is not None:
                twin.scheduler.step()
            entry["torch_train_loss"] = twin_loss_sum / seen
            if val_loader is not None:
                entry["torch_val_loss"], entry["torch_val_acc"], _, _ = evaluate(
                    twin.model, val_loader, device, library=torch)
        history.append(entry)
        log(format_epoch(entry))

        stop = False
        if val_loader is not None:
            if entry["val_loss"] < best_val:
                best_val, bad_epochs = entry["val_loss"], 0
                best_state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
                stop = cfg.patience is not None and bad_epochs >= cfg.patience
        if cfg.checkpoint:
            save({"model_name": cfg.model, "model": model.state_dict(),
                  "optimizer": optimizer.state_dict(),
                  "scheduler": None if scheduler is None else scheduler.state_dict(),
                  "shuffle_rng": _rng_state_json(shuffle),
                  "global_rng": _rng_state_json(default_generator),
                  "epoch": epoch + 1, "history": history, "best_val_loss": best_val,
                  "bad_epochs": bad_epochs, "best_model": best_state,
                  "config": {k: v for k, v in asdict(cfg).items() if k != "crash_after_steps"}},
                 cfg.checkpoint)
        if stop:
            log(f"early stopping: validation loss has not improved for {cfg.patience} epochs "
                f"(best {best_val:.4f}); restoring the best weights")
            model.load_state_dict(best_state)
            break

    test_loss, test_acc, preds, targets = evaluate(model, test_loader, device)
    result = {"history": history, "test_loss": test_loss, "test_acc": test_acc,
              "preds": preds, "targets": targets, "model": model, "num_classes": shape_args[1]}
    if twin is not None:
        result["torch_test_loss"], result["torch_test_acc"], _, _ = evaluate(
            twin.model, test_loader, device, library=torch)
    return result


def format_epoch(e: dict) -> str:
    text = (f"epoch {e['epoch']:3d}  train loss {e['train_loss']:.4f}")
    if "val_loss" in e:
        text += f"  val loss {e['val_loss']:.4f}  val acc {100 * e['val_acc']:5.1f}%"
    text += f"  {e['samples_per_s']:7.0f} samples/s  lr {e['lr']:.2e}"
    if "torch_train_loss" in e:
        text += f"  | torch: train loss {e['torch_train_loss']:.4f}"
        if "torch_val_loss" in e:
            text += f"  val loss {e['torch_val_loss']:.4f}  val acc {100 * e['torch_val_acc']:5.1f}%"
    return text
