"""The seed programs in ``examples/``: each runs as ``python examples/<name>.py --quick`` (a few
batches of the embedded digits) and prints its loss and held-out accuracy; the linear regression's
reloaded model predicts exactly what the trained one did; and each example's network, written
torch-style, computes what the very same class text computes under torch and has the parameters of
its counterpart in ``minitorch.vision.models``.

The subprocesses run with ``OPENBLAS_NUM_THREADS=1``: ``pytest -n 2`` already keeps both CI cores
busy, and two BLAS threads per process on top of that made the runs several times slower.
"""
import importlib.util
import inspect
import math
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch_compare import assert_close

import minitorch
from minitorch.vision.models import build_model

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"

# file stem -> (model class, constructor kwargs, input C x H x W, counterpart in vision.models)
CNN_EXAMPLES = {
    "simple_cnn": ("SimpleCNN", {}, (3, 32, 32), "simple_cnn"),
    "cifar_net": ("Net", {}, (3, 32, 32), "cifar_net"),
    "mnist_cnn": ("CNNModel", {}, (1, 28, 28), "mnist_cnn"),
    "imagenet_cnn": ("SimpleCNN", {"image_size": 16, "num_classes": 10}, (3, 16, 16),
                     "imagenet_cnn"),
}
ACCURACY = re.compile(r"^Test accuracy: (\d+\.\d)% \((\d+)/(\d+) held-out digits\)$", re.M)
EPOCH = re.compile(r"^Epoch \[?(\d+)/(\d+)\]?, Loss: (\S+) \(\d+\.\ds\)$", re.M)


def run_example(name, *args, timeout=120):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"{name} {args} exited {proc.returncode}:\n{proc.stderr}"
    return proc.stdout


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # inspect.getsource finds the file through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", list(CNN_EXAMPLES))
def test_quick_run_trains_and_reports_accuracy(name):
    out = run_example(name, "--quick")
    epochs = EPOCH.findall(out)
    assert [(e, n) for e, n, _ in epochs] == [("1", "1")], out
    loss = float(epochs[0][2])
    assert math.isfinite(loss) and 0 < loss < 10, out   # about ln 10 = 2.3 after three batches
    (pct, correct, total), = ACCURACY.findall(out)
    assert int(total) == 64 and 0 <= int(correct) <= 64
    assert pct == f"{100 * int(correct) / int(total):.1f}"


def test_epochs_option_is_honoured_in_quick_mode():
    out = run_example("mnist_cnn", "--quick", "--epochs", "2")
    assert [(e, n) for e, n, _ in EPOCH.findall(out)] == [("1", "2"), ("2", "2")], out
    assert len(ACCURACY.findall(out)) == 1


def _floats(out, label):
    line, = [ln for ln in out.splitlines() if ln.startswith(label)]
    return [float(v) for v in line[len(label):].split("(")[0].split(",")]


def test_linear_regression_learns_the_line_and_reloads_exactly(tmp_path):
    ckpt = tmp_path / "lr.mt"
    out = run_example("linear_regression", "--checkpoint", str(ckpt))
    trained = _floats(out, "trained model predicts:")
    reloaded = _floats(out, "reloaded model predicts:")
    fresh = _floats(out, "a fresh model predicts:")
    line = _floats(out, "the true line gives:")
    assert len(trained) == 5 and trained == reloaded
    assert "identical to the trained model's: True" in out
    assert fresh != trained                   # the load really changed the fresh model
    np.testing.assert_allclose(trained, line, atol=0.01)
    # the checkpoint holds the learned line: w ≈ [2, -3], b ≈ 0.5
    state = minitorch.load(str(ckpt))
    assert set(state) == {"linear.weight", "linear.bias"}
    np.testing.assert_allclose(state["linear.weight"].numpy(), [[2.0, -3.0]], atol=0.01)
    np.testing.assert_allclose(state["linear.bias"].numpy(), [0.5], atol=0.01)


def test_linear_regression_quick_reloads_exactly():
    out = run_example("linear_regression", "--quick")
    assert _floats(out, "trained model predicts:") == _floats(out, "reloaded model predicts:")
    assert "Epoch [20/20]" in out


@pytest.mark.parametrize("name", list(CNN_EXAMPLES))
def test_example_network_is_its_torch_text_and_its_models_counterpart(name):
    cls_name, kwargs, (c, h, w), counterpart = CNN_EXAMPLES[name]
    module = load_example(name)
    minitorch.manual_seed(0)
    mine = getattr(module, cls_name)(**kwargs).double().eval()

    # the same class text, executed with torch behind the names torch / nn / F
    namespace = {"torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    exec(inspect.getsource(getattr(module, cls_name)), namespace)
    theirs = namespace[cls_name](**kwargs).double().eval()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in mine.state_dict().items()})

    x = np.random.default_rng(0).standard_normal((3, c, h, w))
    with minitorch.no_grad(), torch.no_grad():
        out_mine = mine(minitorch.tensor(x))
        out_theirs = theirs(torch.from_numpy(x))
    assert tuple(out_mine.shape) == (3, 10)
    assert_close(out_mine, out_theirs, dtype="float64", what=f"{name} forward vs torch")

    # the corrected architecture is the one minitorch.vision.models builds for this input
    shapes = {k: tuple(v.shape) for k, v in mine.state_dict().items()}
    counterpart_shapes = {k: tuple(v.shape)
                          for k, v in build_model(counterpart, c, 10, h).state_dict().items()}
    assert shapes == counterpart_shapes


def test_imagenet_cnn_defaults_are_the_documents_sizes():
    """``SimpleCNN()`` with its defaults is the document's network for 224x224 input: fc1 =
    Linear(128·56·56, 1024), fc2 = Linear(1024, 1000). Its class text is run with stand-in layers
    that only record their arguments (the real fc1 would allocate 1.6 GB)."""
    from types import SimpleNamespace

    def layer(kind):
        return lambda *args, **kwargs: (kind, args, kwargs)

    fake_nn = SimpleNamespace(Module=object, Conv2d=layer("Conv2d"), MaxPool2d=layer("MaxPool2d"),
                              Linear=layer("Linear"), ReLU=layer("ReLU"), Dropout=layer("Dropout"))
    namespace = {"nn": fake_nn}
    exec(inspect.getsource(load_example("imagenet_cnn").SimpleCNN), namespace)
    model = namespace["SimpleCNN"]()
    assert model.fc1 == ("Linear", (128 * 56 * 56, 1024), {})
    assert model.fc2 == ("Linear", (1024, 1000), {})
    assert model.conv1 == ("Conv2d", (3, 64, 3), {"padding": 1})
    assert model.pool == ("MaxPool2d", (2, 2), {})
