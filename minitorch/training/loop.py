"""The training loop behind ``python -m minitorch train``: epochs, validation, early stopping,
checkpoints that resume bit-for-bit, and an optional torch reference run trained in lockstep.

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

A loss or weights that stop being finite (NaN, inf: a learning rate far too high) stop the run
with NonFiniteLossError before the next checkpoint is written, so the checkpoint keeps the last
good weights; ``allow_nonfinite`` trains on, and still never checkpoints non-finite weights.

``fit`` is the whole run; its parts, in order: ``_start`` (seed, build), ``_resume``,
``_train_epoch``, ``_validate``, ``_early_stopping``, ``_save_checkpoint``, ``_final_result``.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import nn, optim
from ..autograd import no_grad
from ..random import Generator, default_generator
from ..serialization import load, save
from ..utils.data import DataLoader
from .errors import NonFiniteLossError, UsageError
from .files import check_writable_file
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
    allow_nonfinite: bool = False       # train on after a NaN/inf loss instead of stopping
    distributed: bool = False           # data-parallel under mpiexec (training/distributed.py)
    backend: str = "auto"               # with --distributed: auto | mpi | nccl

    def check(self) -> None:
        """Refuse values that would train nothing or cannot work (UsageError), before any
        data is read."""
        at_least_one = {"--epochs": self.epochs, "--batch-size": self.batch_size,
                        "--limit-train": self.limit_train, "--step-size": self.step_size}
        for option, value in at_least_one.items():
            if value is not None and value < 1:
                raise UsageError(f"{option} must be at least 1, got {value}")
        if self.patience is not None and self.patience < 0:
            raise UsageError(f"--patience must be >= 0, got {self.patience}")
        for option, value in {"--lr": self.lr, "--momentum": self.momentum,
                              "--weight-decay": self.weight_decay}.items():
            if not value >= 0:
                raise UsageError(f"{option} must be a number >= 0, got {value}")
        if not 0 <= self.val_fraction < 1:
            raise UsageError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.resume and not self.checkpoint:
            raise UsageError("--resume needs --checkpoint PATH (the checkpoint to resume from)")


def resolve_device(name: str) -> str:
    from .. import cuda
    if name == "auto":
        return "cuda" if cuda.is_available() else "cpu"
    if name.startswith("cuda") and not cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available (CuPy and an NVIDIA GPU are "
                         f"needed)", hint="use --device cpu")
    return name


def make_optimizer(name: str, params, cfg: TrainConfig, library=optim):
    """SGD (with cfg.momentum), Adam or AdamW over ``params`` (a list of tensors or of param
    groups), from ``library`` (minitorch.optim, or torch.optim for the torch reference)."""
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
    prediction and target (for the metrics). ``library`` is torch for the torch reference."""
    cross_entropy = nn.functional.cross_entropy if library is None else \
        library.nn.functional.cross_entropy
    was_training = model.training
    model.eval()
    total_loss, preds, targets = 0.0, [], []
    with no_grad() if library is None else library.no_grad():
        for inputs, target in loader:
            if library is None:
                inputs, target = inputs.to(device), target.to(device)
            else:  # the torch reference: the same batch as torch tensors
                inputs, target = library.from_numpy(inputs.numpy()), library.from_numpy(target.numpy())
            logits = model(inputs)
            total_loss += cross_entropy(logits, target, reduction="sum").item()
            preds.append(logits.argmax(1).cpu().numpy())
            targets.append(target.cpu().numpy())
    model.train(was_training)
    preds, targets = np.concatenate(preds), np.concatenate(targets)
    return total_loss / len(targets), float(np.mean(preds == targets)), preds, targets


class TorchReference:
    """The same architecture in torch, started from our initial weights, stepped on the same
    batches: ``--compare-torch``. torch is handed in by the caller (minitorch never imports it)."""

    def __init__(self, torch, model_name, shape_args, model, cfg: TrainConfig):
        from ..vision.models import build_model
        self.torch = torch
        self.model = build_model(model_name, *shape_args, library=torch)
        self.model.load_state_dict({k: torch.from_numpy(v.cpu().numpy().copy())
                                    for k, v in model.state_dict().items()})
        self.optimizer = make_optimizer(cfg.optimizer, self.model.parameters(), cfg, torch.optim)
        self.scheduler = make_scheduler(self.optimizer, cfg, torch.optim)

    def step(self, inputs, targets) -> float:
        torch = self.torch
        self.optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(torch.from_numpy(inputs.numpy())),
                                                 torch.from_numpy(targets.numpy()))
        loss.backward()
        self.optimizer.step()
        return loss.item()


def fit(cfg: TrainConfig, data, torch=None, log=print, parallel=None):
    """Train ``cfg.model`` on ``data`` = (train_set, val_set, test_set, (C, classes, size)).

    Returns a dict with the history (one entry per epoch), the test metrics and the model.
    ``torch``: the torch module, for ``cfg.compare_torch``. ``parallel``: the DataParallel job
    of ``--distributed`` (minitorch/training/distributed.py), or None. Raises UsageError for options that
    cannot work (checked before training) and NonFiniteLossError when the loss or the weights
    stop being finite (unless ``cfg.allow_nonfinite``).
    """
    cfg.check()
    if cfg.checkpoint:
        check_writable_file(cfg.checkpoint, "--checkpoint")
    run = _start(cfg, data)
    if parallel is not None:
        from .distributed import data_parallel
        run.parallel = data_parallel(run, parallel)
    if cfg.resume:
        _resume(run, log)
        if run.progress.epoch >= cfg.epochs:
            log(f"nothing to train: the checkpoint is at epoch {run.progress.epoch} and "
                f"--epochs is {cfg.epochs}")
    if cfg.compare_torch:
        run.reference = TorchReference(torch, cfg.model, data[3], run.model, cfg)
    for epoch in range(run.progress.epoch, cfg.epochs):
        entry = _train_epoch(run, epoch)
        _validate(run, entry)
        run.progress.history.append(entry)
        log(format_epoch(entry))
        stop = _early_stopping(run, entry)
        run.progress.epoch = epoch + 1
        _save_checkpoint(run, log)
        if stop:
            log(f"early stopping: validation loss has not improved for {cfg.patience} epochs "
                f"(best {run.progress.best_val_loss:.4f}); restoring the best weights")
            run.model.load_state_dict(run.progress.best_model)
            break
    return _final_result(run, torch)


@dataclass
class Progress:
    """How far training has got: what a checkpoint saves besides the model, the optimizer, the
    scheduler and the random generators, and what ``--resume`` restores."""
    epoch: int = 0                      # epochs completed
    history: list = field(default_factory=list)
    best_val_loss: float = float("inf")
    bad_epochs: int = 0                 # epochs since the best validation loss
    best_model: dict | None = None      # the state dict at the best validation loss


@dataclass
class _Run:
    """Everything one training run works with."""
    cfg: TrainConfig
    device: str
    model: object
    optimizer: object
    scheduler: object
    shuffle: Generator                  # the training loader's shuffling generator
    train_loader: DataLoader
    val_loader: DataLoader | None
    test_loader: DataLoader
    num_classes: int
    progress: Progress = field(default_factory=Progress)
    reference: TorchReference | None = None
    parallel: object = None             # --distributed: the DataParallel job, else None
    info: object = None                 # the model's ModelInfo (None without a data description)
    saved_epoch: int | None = None      # the epoch the checkpoint file holds, when known


def _start(cfg: TrainConfig, data) -> _Run:
    """Seed, build the model, the optimizer, the scheduler and the loaders."""
    from ..vision.models import build_model
    train_set, val_set, test_set, shape_args = data[:4]
    device = resolve_device(cfg.device)
    default_generator.manual_seed(cfg.seed)
    model = build_model(cfg.model, *shape_args).to(device)
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg)
    shuffle = Generator().manual_seed(cfg.seed + 1)
    info = _model_info(cfg, shape_args, data[4]) if len(data) > 4 else None
    return _Run(cfg, device, model, optimizer, make_scheduler(optimizer, cfg), shuffle,
                train_loader=DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True,
                                        generator=shuffle),
                val_loader=None if val_set is None else DataLoader(val_set, batch_size=256),
                test_loader=DataLoader(test_set, batch_size=256), num_classes=shape_args[1],
                info=info)


def _model_info(cfg: TrainConfig, shape_args, description):
    """The self-description a model file and a checkpoint carry (``minitorch.inference``)."""
    from ..inference.model_file import ModelInfo
    channels, classes, size = shape_args
    return ModelInfo(cfg.model, {"in_channels": channels, "num_classes": classes,
                                 "image_size": size},
                     description.classes, (channels, size, size), description.transform,
                     dataset=cfg.dataset)


def _resume(run: _Run, log) -> None:
    """Restore the state of ``--checkpoint``: weights, optimizer, scheduler, both generators and
    the progress, so the next epoch is the one the interrupted run would have trained."""
    cfg = run.cfg
    if not os.path.exists(cfg.checkpoint):
        raise UsageError(f"--resume: no checkpoint at {cfg.checkpoint!r}",
                         hint="give --checkpoint PATH of an earlier run, or drop --resume")
    state = load(cfg.checkpoint)
    if state.get("model_name") != cfg.model:
        raise UsageError(f"--resume: the checkpoint {cfg.checkpoint} holds a "
                         f"{state.get('model_name')!r} model, not {cfg.model!r}",
                         hint=f"pass --model {state.get('model_name')}")
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if run.scheduler is not None and state.get("scheduler") is not None:
        run.scheduler.load_state_dict(state["scheduler"])
    run.shuffle.set_state(json.loads(state["shuffle_rng"]))
    default_generator.set_state(json.loads(state["global_rng"]))
    run.progress = Progress(epoch=int(state["epoch"]), history=list(state["history"]),
                            best_val_loss=float(state["best_val_loss"]),
                            bad_epochs=int(state["bad_epochs"]),
                            best_model=state.get("best_model"))
    run.saved_epoch = run.progress.epoch
    log(f"resumed from {cfg.checkpoint} after epoch {run.progress.epoch}")


def _train_epoch(run: _Run, epoch: int) -> dict:
    """One pass over the shuffled training set (and the torch reference's step on each batch),
    then the scheduler's step. Returns the epoch's entry of the history."""
    cfg, reference = run.cfg, run.reference
    run.model.train()
    if run.parallel is not None:
        run.parallel.start_epoch(epoch)
    batches = len(run.train_loader)
    bar = progress_bar(batches, f"epoch {epoch + 1}/{cfg.epochs}", cfg.progress)
    started, seen, loss_sum, torch_loss_sum = time.perf_counter(), 0, 0.0, 0.0
    for step, (inputs, targets) in enumerate(run.train_loader, 1):
        model = run.model if run.parallel is None else run.parallel.model
        loss = train_step(model, run.optimizer, inputs, targets, run.device)
        if not math.isfinite(loss):
            _non_finite(run, f"the training loss is {loss} at epoch {epoch + 1}, batch {step} "
                             f"of {batches}")
        if reference is not None:
            torch_loss_sum += reference.step(inputs, targets) * len(targets)
        loss_sum += loss * len(targets)
        seen += len(targets)
        bar.update(1)
        bar.set_postfix_str(f"loss={loss_sum / seen:.4f}")
    bar.close()
    if run.parallel is not None:  # the epoch's sums over every rank's share
        loss_sum, seen, torch_loss_sum = run.parallel.totals(loss_sum, seen, torch_loss_sum)
    elapsed = time.perf_counter() - started
    if not _all_finite(run.model):
        _non_finite(run, f"the weights are no longer finite after epoch {epoch + 1}")
    if run.scheduler is not None:
        run.scheduler.step()
    entry = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "samples_per_s": seen / elapsed,
             "lr": run.optimizer.param_groups[0]["lr"]}
    if reference is not None:
        if reference.scheduler is not None:
            reference.scheduler.step()
        entry["torch_train_loss"] = torch_loss_sum / seen
    return entry


def _non_finite(run: _Run, what: str) -> None:
    """Stop the run (NonFiniteLossError), or with ``--allow-nonfinite`` let it go on."""
    if run.cfg.allow_nonfinite:
        return
    raise NonFiniteLossError(f"{what}: training stopped; {_what_the_checkpoint_keeps(run)}",
                             hint="lower --lr (or clip the inputs), or pass --allow-nonfinite "
                                  "to train on anyway")


def _what_the_checkpoint_keeps(run: _Run) -> str:
    if not run.cfg.checkpoint:
        return "no --checkpoint was given"
    if run.saved_epoch is None:
        return f"no checkpoint was written ({run.cfg.checkpoint} is untouched)"
    return f"the checkpoint {run.cfg.checkpoint} keeps the weights after epoch {run.saved_epoch}"


def _all_finite(model) -> bool:
    return all(np.isfinite(v.detach().cpu().numpy()).all() for v in model.state_dict().values())


def _validate(run: _Run, entry: dict) -> None:
    """Add the validation loss and accuracy (ours and the torch reference's) to ``entry``."""
    if run.val_loader is None:
        return
    entry["val_loss"], entry["val_acc"], _, _ = evaluate(run.model, run.val_loader, run.device)
    if run.reference is not None:
        entry["torch_val_loss"], entry["torch_val_acc"], _, _ = evaluate(
            run.reference.model, run.val_loader, run.device, library=run.reference.torch)


def _early_stopping(run: _Run, entry: dict) -> bool:
    """Track the best validation loss and its weights; True when ``--patience`` epochs have
    passed without a better one."""
    progress, patience = run.progress, run.cfg.patience
    if run.val_loader is None:
        return False
    if entry["val_loss"] < progress.best_val_loss:
        progress.best_val_loss, progress.bad_epochs = entry["val_loss"], 0
        progress.best_model = {k: v.detach().cpu() for k, v in run.model.state_dict().items()}
        return False
    progress.bad_epochs += 1
    return patience is not None and progress.bad_epochs >= patience


def _save_checkpoint(run: _Run, log) -> None:
    """Write the whole training state to ``--checkpoint`` (atomically, by minitorch.save).
    Weights that are not finite (``--allow-nonfinite``) never replace a checkpoint."""
    cfg, progress = run.cfg, run.progress
    if not cfg.checkpoint or (run.parallel is not None and not run.parallel.is_main):
        return
    if cfg.allow_nonfinite and not _all_finite(run.model):
        log(f"checkpoint not written: the weights are not finite; "
            f"{_what_the_checkpoint_keeps(run)}")
        return
    save({"model_name": cfg.model, "model": run.model.state_dict(),
          "optimizer": run.optimizer.state_dict(),
          "scheduler": None if run.scheduler is None else run.scheduler.state_dict(),
          "shuffle_rng": json.dumps(run.shuffle.get_state()),
          "global_rng": json.dumps(default_generator.get_state()),
          "epoch": progress.epoch, "history": progress.history,
          "best_val_loss": progress.best_val_loss, "bad_epochs": progress.bad_epochs,
          "best_model": progress.best_model, "config": asdict(cfg),
          "model_info": None if run.info is None else run.info.to_dict()},
         cfg.checkpoint)
    run.saved_epoch = progress.epoch


def _final_result(run: _Run, torch) -> dict:
    """The run's result: history, test loss and accuracy, every test prediction, the model."""
    test_loss, test_acc, preds, targets = evaluate(run.model, run.test_loader, run.device)
    result = {"history": run.progress.history, "test_loss": test_loss, "test_acc": test_acc,
              "preds": preds, "targets": targets, "model": run.model,
              "num_classes": run.num_classes, "model_info": run.info}
    if run.info is not None:
        run.info.metrics = {"test_accuracy": test_acc, "test_loss": test_loss,
                            "test_images": int(len(targets)), "epochs": run.progress.epoch}
    if run.reference is not None:
        result["torch_test_loss"], result["torch_test_acc"], _, _ = evaluate(
            run.reference.model, run.test_loader, run.device, library=torch)
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
