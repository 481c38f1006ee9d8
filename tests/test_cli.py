"""``python -m minitorch train`` and ``finetune``: reports, resume after kills, early stopping,
the torch reference run, non-finite losses, unwritable or full outputs, user errors. Runs are tiny
(a few hundred 8x8 digits, 1-4 epochs).

The faults are injected from here, never from minitorch: a child process that SIGKILLs itself at a
chosen moment (``KILLED_TRAIN``), a training step fed NaN inputs (``monkeypatch``), a file-size
limit standing in for a full disk (``RLIMIT_FSIZE``)."""
import json
import os
import random
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

import minitorch
from minitorch.cli import build_parser, main, run_train
from minitorch.training import loop
from minitorch.training.errors import UsageError
from minitorch.training.finetune import run_finetune

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["--limit-train", "256", "--batch-size", "32", "--no-progress"]


def train(argv):
    return run_train(build_parser().parse_args(["train"] + QUICK + argv))


def test_train_writes_metrics_and_reaches_better_than_chance(tmp_path, capsys):
    result = train(["--epochs", "2", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "epoch   2" in out and "macro avg" in out and "test accuracy" in out
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert [e["epoch"] for e in summary["history"]] == [1, 2]
    assert {"train_loss", "val_loss", "val_acc", "samples_per_s", "lr"} <= set(summary["history"][0])
    cm = np.array(summary["test"]["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 360
    assert np.trace(cm) / 360 == pytest.approx(summary["test"]["accuracy"])
    assert summary["test"]["accuracy"] == result["test_acc"] > 0.5  # chance is 0.1


def test_expect_accuracy_sets_the_exit_status(tmp_path):
    assert main(["train"] + QUICK + ["--epochs", "1", "--expect-accuracy", "0.999"]) == 1
    assert main(["train"] + QUICK + ["--epochs", "1", "--expect-accuracy", "0.2"]) == 0


def run_cli(args, check=True, env=None, **kwargs):
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1", **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "minitorch", "train"] + QUICK + args, cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300, **kwargs)
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


# ``python -c KILLED_TRAIN MOMENT N ARGS...`` runs ``python -m minitorch train ARGS`` and SIGKILLs
# itself (nothing flushed, nothing cleaned up) at its Nth MOMENT: "step" = right after the Nth
# training step; "replace" = inside the Nth checkpoint write, when the temporary file is complete
# and fsynced but not yet renamed over the checkpoint (these runs write no other file).
KILLED_TRAIN = """
import os, signal, sys
from minitorch.cli import main
from minitorch.training import loop

moment, n, calls = sys.argv[1], int(sys.argv[2]), 0

def kill_at_the_nth_call(real, before):
    def call(*args, **kwargs):
        global calls
        calls += 1
        if before and calls == n:
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if calls == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    return call

if moment == "step":
    loop.train_step = kill_at_the_nth_call(loop.train_step, before=False)
else:
    os.replace = kill_at_the_nth_call(os.replace, before=True)
sys.exit(main(["train"] + sys.argv[3:]))
"""


def killed_train(moment, n, args):
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", KILLED_TRAIN, moment, str(n)] + QUICK + args,
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, (moment, n, proc.stderr[-2000:])
    return proc


def assert_same_training_state(a, b):
    assert a["epoch"] == b["epoch"]
    for name, value in a["model"].items():
        np.testing.assert_array_equal(b["model"][name].numpy(), value.numpy(), err_msg=name)
    assert [e["train_loss"] for e in a["history"]] == [e["train_loss"] for e in b["history"]]
    assert [e["val_loss"] for e in a["history"]] == [e["val_loss"] for e in b["history"]]


def test_resume_after_a_kill_mid_epoch_gives_the_same_weights(tmp_path):
    """A run killed (SIGKILL, no cleanup) in the middle of epoch 3 and resumed from its last
    checkpoint must end where an uninterrupted run ends: same batches, same dropout masks."""
    common = ["--model", "cifar_net", "--limit-train", "160", "--epochs", "3", "--seed", "3"]
    whole, broken = str(tmp_path / "whole.mt"), str(tmp_path / "broken.mt")
    run_cli(common + ["--checkpoint", whole])
    # 160 images, 10% validation → 144 → 5 batches per epoch; step 12 is inside epoch 3
    killed_train("step", 12, common + ["--checkpoint", broken])
    assert minitorch.load(broken)["epoch"] == 2
    proc = run_cli(common + ["--checkpoint", broken, "--resume"])
    assert "resumed from" in proc.stdout
    a, b = minitorch.load(whole), minitorch.load(broken)
    assert a["epoch"] == 3
    assert_same_training_state(a, b)


def test_five_random_kills_and_resumes_end_with_the_uninterrupted_weights(tmp_path):
    """SIGKILL the run five times in a row at seeded random moments (after a random training
    step, or between writing a random checkpoint's temporary file and renaming it, in turn), and
    resume after each kill (from
    scratch when no checkpoint exists yet): the weights at the end are bit-identical to those of
    a run never interrupted."""
    epochs, batches = 5, 5  # 160 images, 10% validation → 144 → 5 batches of 32 per epoch
    common = ["--model", "cifar_net", "--limit-train", "160", "--epochs", str(epochs),
              "--seed", "5"]
    whole, broken = tmp_path / "whole.mt", tmp_path / "broken.mt"
    run_cli(common + ["--checkpoint", str(whole)])
    rng = random.Random(2024)
    kills = []
    for moment in ["step", "replace", "step", "replace", "step"]:
        done = minitorch.load(str(broken))["epoch"] if broken.exists() else 0
        # within the next two epochs, so that the kills spread over the run
        n = rng.randint(1, min(2, epochs - done) * (batches if moment == "step" else 1))
        resume = ["--resume"] if broken.exists() else []
        killed_train(moment, n, common + ["--checkpoint", str(broken)] + resume)
        kills.append((done, moment, n))
    print("kills (epochs done, moment, n):", kills)
    proc = run_cli(common + ["--checkpoint", str(broken)] + (["--resume"] * broken.exists()))
    assert_same_training_state(minitorch.load(str(whole)), minitorch.load(str(broken)))
    assert minitorch.load(str(broken))["epoch"] == epochs, (kills, proc.stdout)


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="no checkpoint"):
        train(["--resume", "--checkpoint", str(tmp_path / "missing.mt")])


def strict_json(text):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def poison_step(monkeypatch, at):
    """From here on, the ``at``-th training step gets NaN inputs (its loss and, through the
    update, the weights become NaN), as a diverging run would."""
    real, calls = loop.train_step, []

    def step(model, optimizer, inputs, targets, device):
        calls.append(1)
        if len(calls) == at:
            inputs = inputs * float("nan")
        return real(model, optimizer, inputs, targets, device)
    monkeypatch.setattr(loop, "train_step", step)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_a_huge_learning_rate_stops_the_run_with_status_3(capsys):
    status = main(["train"] + QUICK + ["--epochs", "2", "--optimizer", "sgd", "--lr", "1e6"])
    err = capsys.readouterr().err
    assert status == 3, err
    assert "training loss is nan at epoch 1" in err and "--allow-nonfinite" in err
    assert "Traceback" not in err


def test_a_nan_loss_keeps_the_last_good_checkpoint(tmp_path, monkeypatch, capsys):
    # 256 images, 10% validation → 231 → 8 batches per epoch: step 10 is in epoch 2
    ckpt = tmp_path / "run.mt"
    poison_step(monkeypatch, at=10)
    status = main(["train"] + QUICK + ["--epochs", "3", "--checkpoint", str(ckpt)])
    err = capsys.readouterr().err
    assert status == 3, err
    assert "at epoch 2, batch 2 of 8" in err and f"{ckpt} keeps the weights after epoch 1" in err
    state = minitorch.load(str(ckpt))
    assert state["epoch"] == 1
    assert all(np.isfinite(v.numpy()).all() for v in state["model"].values())


def test_allow_nonfinite_trains_on_and_writes_strict_json(tmp_path, monkeypatch, capsys):
    ckpt, out = tmp_path / "run.mt", tmp_path / "out"
    poison_step(monkeypatch, at=10)
    status = main(["train"] + QUICK + ["--epochs", "3", "--checkpoint", str(ckpt), "--out",
                                       str(out), "--allow-nonfinite"])
    assert status == 0
    assert "checkpoint not written: the weights are not finite" in capsys.readouterr().out
    summary = strict_json((out / "metrics.json").read_text())
    assert [e["train_loss"] is None for e in summary["history"]] == [False, True, True]
    assert summary["test"]["loss"] is None
    assert minitorch.load(str(ckpt))["epoch"] == 1  # never overwritten with NaN weights


def test_a_full_disk_leaves_the_previous_metrics_whole(tmp_path):
    """The second run may write at most 1 KiB per file (RLIMIT_FSIZE, as a nearly full disk):
    metrics.json must stay the first run's, whole, with no temporary file left beside it."""
    out = tmp_path / "out"
    assert main(["train"] + QUICK + ["--epochs", "1", "--out", str(out)]) == 0
    before = (out / "metrics.json").read_bytes()
    assert len(before) > 2048
    files = {p.name: p.read_bytes() for p in out.iterdir()}  # plots too, where matplotlib is

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
    proc = run_cli(["--epochs", "1", "--out", str(out)], check=False, preexec_fn=small_files)
    assert (out / "metrics.json").read_bytes() == before
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files  # no temp file, none cut
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "metrics.json: File too large" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("option, where", [("--out", "a_file"), ("--checkpoint", "a_file/run.mt"),
                                           ("--checkpoint", "a_folder")])
def test_unwritable_outputs_are_refused_before_training(tmp_path, capsys, option, where):
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "a_folder").mkdir()
    path = str(tmp_path / where)
    assert main(["train"] + QUICK + ["--epochs", "1", option, path]) == 2
    out, err = capsys.readouterr()
    assert "epoch" not in out  # nothing trained
    assert f"error: {option} {path}: " in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
@pytest.mark.parametrize("option, name", [("--out", "out"), ("--checkpoint", "run.mt")])
def test_a_read_only_folder_is_refused_before_training(tmp_path, capsys, option, name):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        path = str(folder / name)
        assert main(["train"] + QUICK + ["--epochs", "1", option, path]) == 2
    finally:
        folder.chmod(0o700)
    out, err = capsys.readouterr()
    assert "epoch" not in out and f"error: {option} {path}: cannot write there" in err


@pytest.mark.parametrize("epochs", ["0", "-2"])
def test_no_epochs_to_train_is_refused(capsys, epochs):
    assert main(["train"] + QUICK + ["--epochs", epochs]) == 2
    assert f"--epochs must be at least 1, got {epochs}" in capsys.readouterr().err


def write_idx(path, array):
    """An IDX file of uint8 (the MNIST format: magic 0 0 8 ndim, big-endian sizes, data)."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_labels_beyond_the_class_count_are_refused(tmp_path, capsys):
    """A label 12 in a 10-class dataset is a corrupt file, not a reason to build 13 outputs."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 64)
    labels[5] = 12
    write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 256, (64, 8, 8)))
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (16, 8, 8)))
    write_idx(raw / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 16))
    argv = ["train", "--dataset", "mnist", "--data-root", str(tmp_path), "--epochs", "1",
            "--no-progress"]
    assert main(argv) == 2
    assert "mnist: the training set has label 12" in capsys.readouterr().err


def test_a_user_error_is_one_line_and_a_hint_without_traceback(tmp_path):
    args = ["--epochs", "1", "--resume", "--checkpoint", str(tmp_path / "missing.mt")]
    proc = run_cli(args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"minitorch train: error: --resume: no checkpoint at {str(tmp_path / 'missing.mt')!r}",
        "hint: give --checkpoint PATH of an earlier run, or drop --resume; --debug (or "
        "MINITORCH_DEBUG=1) shows the traceback"]
    for debug in (run_cli(args + ["--debug"], check=False),
                  run_cli(args, check=False, env={"MINITORCH_DEBUG": "1"})):
        assert debug.returncode == 2
        assert "Traceback" in debug.stderr and "error: --resume: no checkpoint" in debug.stderr


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path, capsys):
    # SGD at lr 0.8 overshoots: the validation loss stops improving well before epoch 6 (at lr
    # 0.5 it bounces, and whether it stops by epoch 6 hangs on the last bits of the rounding)
    ckpt = str(tmp_path / "run.mt")
    result = train(["--epochs", "6", "--optimizer", "sgd", "--lr", "0.8", "--patience", "2",
                    "--checkpoint", ckpt])
    assert "early stopping" in capsys.readouterr().out
    history = result["history"]
    # it stopped after exactly `patience` epochs that did not beat the best one
    losses = [e["val_loss"] for e in history]
    best_epoch = int(np.argmin(losses))
    assert len(history) == best_epoch + 1 + 2 < 6
    assert all(loss >= losses[best_epoch] for loss in losses[best_epoch + 1:])
    best = minitorch.load(ckpt)["best_model"]
    for name, value in result["model"].state_dict().items():
        np.testing.assert_array_equal(value.numpy(), best[name].numpy(), err_msg=name)


def test_compare_torch_trains_the_same_curve(capsys):
    """simple_cnn has no dropout, so the torch reference sees exactly what minitorch sees."""
    cfg = ["--epochs", "2", "--compare-torch", "--model", "simple_cnn"]
    result = train(cfg)
    for e in result["history"]:
        np.testing.assert_allclose(e["train_loss"], e["torch_train_loss"], rtol=1e-4)
        np.testing.assert_allclose(e["val_loss"], e["torch_val_loss"], rtol=1e-4)
    assert result["torch_test_acc"] == pytest.approx(result["test_acc"], abs=1 / 360 + 1e-12)
    assert "torch" in capsys.readouterr().out


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--model", "resnet9000"])
    with pytest.raises(ValueError, match="val-fraction"):
        train(["--val-fraction", "1.5"])


def test_finetune_freezes_the_backbone_and_reports(tmp_path, capsys):
    args = build_parser().parse_args([
        "finetune", "--pretrain-epochs", "2", "--head-epochs", "2", "--unfreeze-epochs", "1",
        "--checkpoint", str(tmp_path / "pre.mt"), "--model", "mnist_cnn"])
    result = run_finetune(args)
    out = capsys.readouterr().out
    assert "backbone frozen" in out and "from scratch" in out
    assert os.path.exists(tmp_path / "pre.mt")
    assert result["pretrain_acc"] > 0.5
    assert 0 <= result["before"] <= 1 and result["head_only"] > result["before"]
    # the frozen part of the network trained nothing: compare with the saved checkpoint
    saved = minitorch.load(str(tmp_path / "pre.mt"))
    assert "conv1.weight" in saved and "fc2.weight" in saved


def test_frozen_parameters_do_not_move():
    from minitorch.training.finetune import head_name
    from minitorch.vision.models import build_model
    model = build_model("mnist_cnn", 1, 5, 8)
    assert head_name(model) == "fc2"
    model.requires_grad_(False)
    model.fc2.requires_grad_(True)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    opt = minitorch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x, y = minitorch.randn(4, 1, 8, 8), minitorch.tensor([0, 1, 2, 3])
    minitorch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    after = model.state_dict()
    for k, v in before.items():
        moved = not np.array_equal(after[k].numpy(), v)
        assert moved == k.startswith("fc2."), k


def test_models_build_in_both_libraries_with_the_same_shapes():
    from minitorch.vision.models import MODELS, build_model
    for name in MODELS:
        m = build_model(name, 3, 7, 32)
        t = build_model(name, 3, 7, 32, library=torch)
        assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
               {k: tuple(v.shape) for k, v in t.state_dict().items()}
        assert tuple(m(minitorch.zeros(2, 3, 32, 32)).shape) == (2, 7)


def test_finetune_example_script_runs(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run(
        [sys.executable, "examples/finetune.py", "--pretrain-epochs", "1", "--head-epochs", "1",
         "--unfreeze-epochs", "1", "--shots", "5", "--checkpoint", str(tmp_path / "pre.mt")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "accuracy before fine-tuning" in proc.stdout and "from scratch" in proc.stdout
    assert minitorch.load(str(tmp_path / "pre.mt"))["fc.weight"].shape == (5, 32 * 4 * 4)


def test_the_minitorch_command_is_the_cli(monkeypatch, capsys):
    """pyproject's [project.scripts] entry runs the same main as python -m minitorch."""
    from pathlib import Path

    from minitorch import cli
    pyproject = (Path(__file__).parent.parent / "pyproject.toml").read_text()  # no tomllib on 3.10
    scripts = pyproject.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert 'minitorch = "minitorch.cli:console_main"' in scripts
    monkeypatch.setattr("sys.argv", ["minitorch", "train", "--epochs", "0"])
    with pytest.raises(SystemExit) as info:
        cli.console_main()
    assert info.value.code == 2 and "--epochs" in capsys.readouterr().err
