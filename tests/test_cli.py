"""``python -m minitorch train`` and ``finetune``: reports, resume after a kill, early stopping,
the torch twin, argument errors. Runs are tiny (a few hundred 8x8 digits, 1-3 epochs)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import minitorch
from minitorch.cli import build_parser, main, run_train
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


def run_cli(args, check=True):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "minitorch", "train"] + QUICK + args, cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_resume_after_a_kill_mid_epoch_gives_the_same_weights(tmp_path):
    """A run killed (os._exit, no cleanup) in the middle of epoch 3 and resumed from its last
    checkpoint must end where an uninterrupted run ends: same batches, same dropout masks."""
    common = ["--model", "cifar_net", "--limit-train", "160", "--epochs", "3", "--seed", "3"]
    whole, broken = str(tmp_path / "whole.mt"), str(tmp_path / "broken.mt")
    run_cli(common + ["--checkpoint", whole])
    # 160 images, 10% validation → 144 → 5 batches per epoch; step 12 is inside epoch 3
    proc = run_cli(common + ["--checkpoint", broken, "--crash-after-steps", "12"], check=False)
    assert proc.returncode == 17, proc.stderr[-2000:]
    assert minitorch.load(broken)["epoch"] == 2
    proc = run_cli(common + ["--checkpoint", broken, "--resume"])
    assert "resumed from" in proc.stdout
    a, b = minitorch.load(whole), minitorch.load(broken)
    assert a["epoch"] == b["epoch"] == 3
    for name, value in a["model"].items():
        np.testing.assert_array_equal(b["model"][name].numpy(), value.numpy(), err_msg=name)
    assert [e["train_loss"] for e in a["history"]] == [e["train_loss"] for e in b["history"]]


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(["--resume", "--checkpoint", str(tmp_path / "missing.mt")])


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path, capsys):
    # SGD at lr 0.5 overshoots: the validation loss is best after epoch 1, then worse twice
    ckpt = str(tmp_path / "run.mt")
    result = train(["--epochs", "6", "--optimizer", "sgd", "--lr", "0.5", "--patience", "2",
                    "--checkpoint", ckpt])
    assert "early stopping" in capsys.readouterr().out
    history = result["history"]
    assert len(history) == 3
    assert history[0]["val_loss"] < min(history[1]["val_loss"], history[2]["val_loss"])
    best = minitorch.load(ckpt)["best_model"]
    for name, value in result["model"].state_dict().items():
        np.testing.assert_array_equal(value.numpy(), best[name].numpy(), err_msg=name)


def test_compare_torch_trains_the_same_curve(capsys):
    """simple_cnn has no dropout, so the torch twin sees exactly what minitorch sees."""
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
    with pytest.raises(ValueError, match="val_fraction"):
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
