"""``python -m minitorch train`` and ``python -m minitorch finetune``: the main job.

    python -m minitorch train                        # SimpleCNN on the embedded digits, CPU
    python -m minitorch train --model cifar_net --dataset cifar10 --data-root data --device cuda
    python -m minitorch train --checkpoint run/last.mt --epochs 20 --resume
    python -m minitorch train --compare-torch        # torch trains the same model beside it
    python -m minitorch finetune                     # digits 0-4 → 5-9, frozen conv layers
    mpiexec -n 2 python -m minitorch train --distributed   # data-parallel on 2 processes
    python -m minitorch predict runs/demo/model.mt digit.png   # use a trained model file
    python -m minitorch evaluate runs/demo/model.mt  # its accuracy and confusion matrix
    python -m minitorch export runs/demo/model.mt --onnx model.onnx
    python -m minitorch info                         # versions, devices, BLAS threads
    python -m minitorch run prog.py ARGS...          # an unmodified torch program, on minitorch

Every run prints one line per epoch and, at the end, a per-class metrics table; with ``--out DIR``
it writes ``metrics.json``, ``curves.png``, ``confusion_matrix.png`` and the model file
``model.mt`` there (each atomically); ``predict``, ``evaluate`` and ``export`` take that file
(``minitorch/inference/``).
``--out`` and ``--checkpoint`` are checked before training starts.

A mistake the user can fix (an option value, a path, a data file) is reported in one line with a
hint, without a traceback; ``--debug`` or ``MINITORCH_DEBUG=1`` adds the traceback.
Exit status: 0 done; 1 the test accuracy is below ``--expect-accuracy``; 2 a usage error (as
argparse's); 3 the loss became NaN or infinite (the checkpoint keeps the last good weights;
``--allow-nonfinite`` trains on instead).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from dataclasses import asdict

from .inference.inputs import InputError
from .serialization import CheckpointError
from .training.errors import CommandError
from .training.loop import TrainConfig
from .vision.datasets.vision import DatasetCorruptError

# What main() reports in one line: mistakes and environments the user can fix, not bugs.
USER_ERRORS = (CommandError, OSError, CheckpointError, DatasetCorruptError, InputError)
DEMO = "--model simple_cnn --dataset digits --epochs 20 --lr 2e-3 --schedule cosine"


def _add_common(p: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    from .vision.models import MODELS
    p.add_argument("--model", default=defaults.model, choices=sorted(MODELS),
                   help="architecture (the seeds' networks; default %(default)s)")
    p.add_argument("--dataset", default=defaults.dataset, choices=["digits", "mnist", "cifar10"],
                   help="digits is embedded; mnist/cifar10 are read from --data-root")
    p.add_argument("--data-root", default=defaults.data_root,
                   help="folder holding MNIST/raw/ or cifar-10-batches-py/ (default %(default)s)")
    p.add_argument("--image-size", type=int, default=None,
                   help="digits: 8 (native) or 28 (resized); default: the dataset's own size")
    p.add_argument("--epochs", type=int, default=defaults.epochs, help="passes over the data")
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="images per step")
    p.add_argument("--optimizer", default=defaults.optimizer, choices=["sgd", "adam", "adamw"])
    p.add_argument("--lr", type=float, default=defaults.lr, help="learning rate")
    p.add_argument("--momentum", type=float, default=defaults.momentum, help="SGD only")
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--schedule", default=defaults.schedule,
                   choices=["none", "step", "exp", "cosine"], help="lr schedule, stepped per epoch")
    p.add_argument("--step-size", type=int, default=defaults.step_size, help="StepLR period")
    p.add_argument("--gamma", type=float, default=defaults.gamma, help="StepLR/ExponentialLR factor")
    p.add_argument("--device", default=defaults.device,
                   help="auto (CUDA when present), cpu or cuda[:i] (default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed,
                   help="seeds the weights, the shuffling and dropout")
    p.add_argument("--val-fraction", type=float, default=defaults.val_fraction,
                   help="share of the training set held out for validation")
    p.add_argument("--patience", type=int, default=None,
                   help="early stopping: stop after this many epochs without a lower val loss")
    p.add_argument("--limit-train", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", dest="out_dir", default=None,
                   help="write metrics.json and PNG plots into this folder")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m minitorch", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser(
        "train", help="train a model, evaluate it, write a report",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=f"Train a model, evaluate it on the held-out test set and (with --out) write "
                    f"a report and a model file. make demo runs: {DEMO} --out runs/demo (the "
                    f"defaults below train shorter: 10 epochs at lr 1e-3, no schedule).")
    _add_common(train, TrainConfig())
    train.add_argument("--checkpoint", default=None,
                       help="save the training state here after every epoch (atomic writes)")
    train.add_argument("--resume", action="store_true",
                       help="continue from --checkpoint; ends with the same weights as an "
                            "uninterrupted run")
    train.add_argument("--compare-torch", action="store_true",
                       help="train the same model in torch from the same weights on the same "
                            "batches and show both (needs torch installed)")
    train.add_argument("--expect-accuracy", type=float, default=None,
                       help="exit with status 1 if the test accuracy ends below this (0-1)")
    train.add_argument("--allow-nonfinite", action="store_true",
                       help="train on when the loss becomes NaN or infinite (default: stop, "
                            "exit status 3); non-finite weights are never checkpointed")
    train.add_argument("--distributed", action="store_true",
                       help="data-parallel training, launched as mpiexec -n N python -m "
                            "minitorch train --distributed ...: --batch-size is the global batch, "
                            "rank 0 prints and writes (needs minitorch[distributed])")
    train.add_argument("--backend", default="auto", choices=["auto", "mpi", "nccl"],
                       help="--distributed: nccl for CUDA, mpi otherwise (default %(default)s)")

    finetune = sub.add_parser("finetune", help="pretrain on digits 0-4, fine-tune on 5-9",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    from .training.finetune import add_finetune_arguments
    add_finetune_arguments(finetune)
    run = sub.add_parser("run", help="run an unmodified torch program on minitorch "
                                     "(import torch gives minitorch; see minitorch/compat.py)")
    from .compat import add_run_arguments
    add_run_arguments(run)  # its own --debug: everything after the program is the program's
    from .inference.commands import add_commands
    inference = add_commands(sub)
    info = sub.add_parser("info", help="versions, devices, CUDA kernels, BLAS threads")
    from .text.commands import add_commands as add_text_commands
    text_commands = add_text_commands(sub)  # train-gpt, finetune-gpt
    for command in (train, finetune, *inference, info, *text_commands):
        command.add_argument("--debug", action="store_true",
                             help="show the traceback of an error (also: MINITORCH_DEBUG=1)")
    return parser


def import_torch():
    """torch, for ``--compare-torch`` only. minitorch itself never needs it; this is the one place
    a user can ask for it, and it is loaded only then."""
    try:
        return importlib.import_module("torch")
    except ImportError as e:
        raise SystemExit(f"--compare-torch needs torch ({e}). In a minitorch checkout, "
                         f"make test installs it into .venv, or: .venv/bin/pip install -e "
                         f"'.[test]' (a bare `pip install minitorch[...]` would fetch another "
                         f"project of that name from PyPI)") from None


def run_train(args) -> dict:
    from .training.data import load_data
    from .training.files import check_writable_file, check_writable_folder
    from .training.loop import fit
    from .training.report import metrics_table, write_report
    cfg = TrainConfig(**{k: v for k, v in vars(args).items()
                         if k not in ("command", "expect_accuracy", "debug")})
    cfg.check()
    if cfg.out_dir:
        check_writable_folder(cfg.out_dir, "--out")
    if cfg.checkpoint:
        check_writable_file(cfg.checkpoint, "--checkpoint")
    torch = import_torch() if cfg.compare_torch else None
    parallel = None
    if cfg.distributed:
        from .training.distributed import init_distributed
        parallel = init_distributed(cfg)
    data = load_data(cfg.dataset, cfg.data_root, cfg.image_size, cfg.val_fraction, cfg.seed,
                     cfg.limit_train)
    c, classes, size = data[3]
    print(f"{cfg.model} on {cfg.dataset} ({len(data[0])} train / "
          f"{0 if data[1] is None else len(data[1])} val / {len(data[2])} test images, "
          f"{c}x{size}x{size}, {classes} classes), {cfg.optimizer} lr={cfg.lr}, "
          f"batch {cfg.batch_size}, device {describe_device(cfg.device)}"
          f"{'' if parallel is None else ', ' + parallel.describe()}")
    result = fit(cfg, data, torch=torch, parallel=parallel)
    print(metrics_table(result))
    if cfg.out_dir:
        for path in write_report(result, asdict(cfg), cfg.out_dir):
            print(f"wrote {path}")
        if result.get("model_info") is not None:
            from .inference.model_file import save_model
            path = os.path.join(cfg.out_dir, "model.mt")
            save_model(result["model"], path, result["model_info"])
            print(f"wrote {path} (predict/evaluate/export take it)")
    return result


def describe_device(name: str) -> str:
    """The device training will use, as resolved from --device, with the GPU's name."""
    from .training.loop import resolve_device
    device = resolve_device(name)
    if device.startswith("cuda"):
        from .backend.device import cupy_module
        cp = cupy_module()
        index = int(device.split(":")[1]) if ":" in device else cp.cuda.Device().id
        gpu = cp.cuda.runtime.getDeviceProperties(index)["name"]
        device += f" ({gpu.decode() if isinstance(gpu, bytes) else gpu})"
    return device + (" (from --device auto)" if name == "auto" else "")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("MINITORCH_DEBUG", "") not in ("", "0")
    try:
        return run_command(args)
    except USER_ERRORS as e:
        if debug:
            traceback.print_exc()
        print(f"minitorch {args.command}: error: {describe(e)}", file=sys.stderr)
        hint = getattr(e, "hint", None)
        more = "" if debug else "--debug (or MINITORCH_DEBUG=1) shows the traceback"
        print(f"hint: {'; '.join(h for h in (hint, more) if h)}", file=sys.stderr)
        from .training.distributed import end_job_after_error
        end_job_after_error(e, getattr(e, "exit_status", 2))  # --distributed: stop every rank
        return getattr(e, "exit_status", 2)


def describe(e: BaseException) -> str:
    """One line for an error: an OSError as ``path: reason``, anything else as its message."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return str(e)


def run_command(args) -> int:
    if args.command in ("train-gpt", "finetune-gpt"):
        from .text.commands import run
        return run(args)
    if args.command in ("predict", "evaluate", "export"):
        from .inference.commands import run
        return run(args)
    if args.command == "info":
        from .info import collect, format_report
        print(format_report(collect()))
        return 0
    if args.command == "run":
        from .compat import run_from_args
        return run_from_args(args)
    if args.command == "train":
        result = run_train(args)
        if args.expect_accuracy is not None and result["test_acc"] < args.expect_accuracy:
            print(f"FAILED: test accuracy {100 * result['test_acc']:.2f}% is below the expected "
                  f"{100 * args.expect_accuracy:.2f}%", file=sys.stderr)
            return 1
    else:
        from .training.finetune import run_finetune
        run_finetune(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def console_main() -> None:
    """The ``minitorch`` command installed with the package (``[project.scripts]``)."""
    sys.exit(main())
