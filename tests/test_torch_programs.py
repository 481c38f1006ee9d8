"""Unmodified torch programs run on minitorch, as a user runs them: ``python -m minitorch run``
(a subprocess) or under ``minitorch.compat.torch_import_hook()``. The programs in
``tests/torch_programs/`` import torch and torchvision only; their data are written here in the
real formats (MNIST's IDX files, CIFAR-10's pickled batches), small but learnable, and each test
asserts that the program learned (the loss fell, the accuracy is far above chance).

Then the runner itself: ``__name__``, ``sys.argv`` and ``sys.path`` as ``python prog.py`` sets
them, the one-line report of an API minitorch lacks (exit status 2), a program's own errors
(traceback, status 1) and ``SystemExit`` passed through, and the import hook's bookkeeping."""
import contextlib
import os
import pickle
import re
import runpy
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import minitorch
from minitorch.cli import main
from minitorch.compat import real_name, torch_import_hook, torch_name
from minitorch.vision.datasets.digits import DATA_FILE, load_digits_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = os.path.join(ROOT, "tests", "torch_programs")


def program(name: str) -> str:
    return os.path.join(PROGRAMS, name)


def run_as_main(path: str, args, capsys, hook=True) -> str:
    """Run ``path`` as ``python path args`` would, in this process (under the hook: on minitorch;
    without: on torch); its stdout."""
    saved_argv = sys.argv
    sys.argv = [path, *args]
    try:
        with torch_import_hook() if hook else contextlib.nullcontext():
            runpy.run_path(path, run_name="__main__")
    finally:
        sys.argv = saved_argv
    return capsys.readouterr().out


# ---- data in the real formats -----------------------------------------------------------------
def write_idx(path, array: np.ndarray) -> None:
    """An uint8 array as an IDX file: magic 00 00 08 ndim, big-endian uint32 sizes, the bytes."""
    assert array.dtype == np.uint8
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def fake_mnist(root, n_train=640, n_test=300):
    """The embedded 8x8 digits blown up to 28x28 (each pixel a 3x3 block, a 2-pixel margin,
    0..16 scaled to 0..240), written as MNIST's four IDX files under root/MNIST/raw/."""
    images, labels = load_digits_file(DATA_FILE)
    big = np.kron(images, np.ones((1, 3, 3), dtype=np.uint8)) * 15
    big = np.pad(big, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    split = {"train": slice(0, n_train), "t10k": slice(n_train, n_train + n_test)}
    for prefix, rows in split.items():
        write_idx(raw / f"{prefix}-images-idx3-ubyte", big[rows])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels[rows].astype(np.uint8))
    return root


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                 "truck"]


def fake_cifar10(root, per_batch=80, n_test=200, seed=0):
    """CIFAR-10's layout (data_batch_1..5, test_batch, batches.meta: pickled dicts, 'data' N x 3072
    uint8 in R, G, B planes) holding a learnable stand-in: each class a coarse random colour
    pattern (8x8 blown up to 32x32), each image that pattern with a random brightness and noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(40, 215, size=(10, 3, 8, 8))
    patterns = np.kron(patterns, np.ones((1, 1, 4, 4)))

    def batch(n):
        labels = rng.integers(0, 10, size=n)
        images = patterns[labels] * rng.uniform(0.8, 1.2, size=(n, 1, 1, 1))
        images = images + rng.normal(0, 25, size=images.shape)
        data = np.clip(np.round(images), 0, 255).astype(np.uint8).reshape(n, 3072)
        return {"batch_label": "synthetic", "labels": [int(v) for v in labels], "data": data}

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump(batch(n_test if name == "test_batch" else per_batch), f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_CLASSES, "num_vis": 3072}, f, protocol=2)
    return root


# ---- the programs -----------------------------------------------------------------------------
def test_mnist_program_through_the_cli(tmp_path):
    data = fake_mnist(tmp_path / "data")
    model_path = tmp_path / "model.pt"
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "minitorch", "run", program("mnist_cnn.py"), "--data-root",
         str(data), "--epochs", "2", "--save-model", str(model_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "device: cpu" in proc.stdout
    results = re.findall(r"epoch (\d): test loss ([\d.]+), accuracy (\d+)/300", proc.stdout)
    assert [int(e) for e, _, _ in results] == [0, 1, 2]
    losses = [float(loss) for _, loss, _ in results]
    accuracy = int(results[-1][2]) / 300
    assert losses[-1] < 0.5 * losses[0] and accuracy > 0.6, proc.stdout  # chance: 0.1
    assert "lr 1.00e+00" in proc.stdout and "lr 7.00e-01" in proc.stdout  # StepLR's gamma
    state = minitorch.load(str(model_path))
    assert state["out.weight"].shape == (10, 64) and "features.0.weight" in state


def test_polynomial_fit_program_learns_on_minitorch_as_on_torch(capsys):
    path = program("polynomial_fit.py")
    outputs = {"minitorch": run_as_main(path, ["600"], capsys),
               "torch": run_as_main(path, ["600"], capsys, hook=False)}  # the same file on torch
    for lib, out in outputs.items():
        for part in ("manual", "module"):
            first, last = map(float, re.search(part + r": loss ([\d.]+) -> ([\d.]+)", out).groups())
            assert last < 0.01 * first and last < 1.0, (lib, out)
        fitted = [float(v) for v in re.search(r"^coefficients (.*)$", out, re.M).group(1).split()]
        np.testing.assert_allclose(fitted, [1, -0.5, 0, 0.2], atol=0.02, err_msg=lib)
    assert "torch" not in sys.modules or sys.modules["torch"] is torch  # the hook put torch back


def test_cifar10_program_under_the_import_hook(tmp_path, capsys):
    root = fake_cifar10(tmp_path / "data")
    out = run_as_main(program("cifar10_cnn.py"), [str(root), str(tmp_path), "3"], capsys)
    losses = [float(v) for v in re.findall(r"mean train loss ([\d.]+)", out)]
    accuracy = float(re.search(r"accuracy on 200 test images: ([\d.]+)%", out).group(1))
    assert len(losses) == 3 and losses[-1] < 0.5 * losses[0], out
    assert accuracy > 60, out                                      # chance: 10%
    assert (tmp_path / "cifar_net.pth").exists()
    from PIL import Image
    with Image.open(tmp_path / "samples.png") as im:             # 4 x 4 grid, padding 2
        assert im.size == (4 * 34 + 2, 4 * 34 + 2) and im.mode == "RGB"


# ---- the runner -------------------------------------------------------------------------------
def write_program(tmp_path, text: str, name: str = "prog.py") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_program_sees_what_python_would_give_it(tmp_path, capsys):
    (tmp_path / "helper.py").write_text("import torch\nNAME = torch.__name__\n")
    path = write_program(tmp_path, """
        import sys
        import torch, torch.nn.functional as F, torchvision, torchvision.utils
        import minitorch, helper
        print(__name__, sys.argv[1:], sys.path[0] == __file__.rsplit("/", 1)[0])
        print(torch is minitorch, F is minitorch.nn.functional, torchvision is minitorch.vision,
              torchvision.utils.make_grid is minitorch.vision.utils.make_grid, helper.NAME)
        print(minitorch.__spec__.name, minitorch.nn.__spec__.name, torch.nn.__name__)
    """)
    assert main(["run", path, "--lr", "0.5", "x"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["__main__ ['--lr', '0.5', 'x'] True", "True True True True minitorch",
                     "minitorch minitorch.nn minitorch.nn"]
    assert sys.modules["torch"] is torch and torch.nn.Linear is not minitorch.nn.Linear
    del sys.modules["helper"]  # the program's module, imported into this process


# The names are made up (xyz), so that minitorch growing the real APIs cannot change the answer.
@pytest.mark.parametrize("source, line, api", [
    ("import torch\nx = torch.zeros(2)\ny = torch.nn.functional.xyz_sample(x, x)\n", 3,
     "torch.nn.functional.xyz_sample"),
    ("import torch\n\ndef f(t):\n    return t.xyz()\n\nf(torch.zeros(2))\n", 4,
     "torch.Tensor.xyz"),
    ("import torch.xyz_distributed as dist\n", 1, "torch.xyz_distributed"),
    ("import torchvision.xyz_io\n", 1, "torchvision.xyz_io"),
    ("from torch.nn.functional import relu, xyz_sample\n", 1, "torch.nn.functional.xyz_sample"),
    ("import torchvision\nm = torchvision.models.xyz_resnet()\n", 2,
     "torchvision.models.xyz_resnet"),
    ("import torch\nm = torch.nn.Linear(2, 2)\nm.register_xyz_hook(print)\n", 3,
     "torch.nn.Linear.register_xyz_hook"),
    ("import torch\ntorch.optim.SGD.xyz\n", 2, "torch.optim.SGD.xyz"),
    ("import torch\nwith torch.xyz_amp.autocast('cpu'):\n    pass\n", 2, "torch.xyz_amp"),
])
def test_a_missing_api_is_named_in_one_line(tmp_path, capsys, source, line, api):
    path = write_program(tmp_path, source)
    assert main(["run", path]) == 2
    err = capsys.readouterr().err
    assert err == (f"minitorch run: {path} line {line} uses {api}, which minitorch does not "
                   f"implement (see docs/torch_compat.md)\n")


def test_a_missing_api_in_a_module_of_the_program_names_that_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "layers.py").write_text("import torch\n\n\ndef up(x):\n"
                                        "    return torch.nn.functional.xyz_interpolate(x)\n")
    write_program(tmp_path, "import torch, layers\nlayers.up(torch.zeros(1, 1, 2, 2))\n")
    monkeypatch.chdir(tmp_path)
    assert main(["run", "prog.py"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("minitorch run: layers.py line 5 uses torch.nn.functional."
                          "xyz_interpolate,")
    del sys.modules["layers"]  # the program's module, imported into this process


def test_an_option_minitorch_refuses_is_one_line_too(tmp_path, capsys):
    path = write_program(tmp_path, "import torch\n\nconv = torch.nn.Conv2d(1, 1, 3, "
                                   "padding_mode='reflect')\n")
    assert main(["run", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"minitorch run: {path} line 3: Conv2d: padding_mode='reflect' is not "
                          f"implemented in minitorch") and err.count("\n") == 1


def test_debug_shows_the_traceback_before_the_line(tmp_path, capsys):
    path = write_program(tmp_path, "import torch\ntorch.zeros(2).xyz()\n")
    assert main(["run", "--debug", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):\n" f'  File "{path}", line 2')
    assert err.splitlines()[-1].startswith(f"minitorch run: {path} line 2 uses torch.Tensor.xyz")


@pytest.mark.parametrize("source, error", [
    # the program's own mistakes are not minitorch's gaps: a traceback, status 1
    ("import torch\n\nclass Net(torch.nn.Module):\n    def forward(self, x):\n"
     "        return self.fc3(x)\n\nNet()(torch.zeros(2))\n",
     "AttributeError: 'Net' object has no attribute 'fc3'"),
    ("import torch\nx = None\nx.shape\n", "AttributeError: 'NoneType' object has no attribute"),
    ("import torch\nimport not_a_module_anywhere\n",
     "ModuleNotFoundError: No module named 'not_a_module_anywhere'"),
    ("import torch\ntorch.zeros(2) @ torch.zeros(3)\n", "ShapeError: matmul: (2,) @ (3,)"),
])
def test_the_programs_own_errors_print_a_traceback(tmp_path, capsys, source, error):
    path = write_program(tmp_path, source)
    assert main(["run", path]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'Traceback (most recent call last):\n  File "{path}"'), err
    assert error in err and "minitorch run:" not in err and "runpy" not in err


def test_system_exit_passes_through_and_state_is_restored(tmp_path):
    path = write_program(tmp_path, "import sys, torch\nsys.exit(7)\n")
    argv, syspath = list(sys.argv), list(sys.path)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", path])
    assert exit_info.value.code == 7
    assert sys.argv == argv and sys.path == syspath and sys.modules["torch"] is torch


def test_a_missing_program_is_a_usage_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.py")]) == 2
    assert "nope.py: no such file" in capsys.readouterr().err


def test_hook_names_and_restoration():
    assert real_name("torch") == "minitorch" and real_name("torch.nn.functional") == \
        "minitorch.nn.functional"
    assert real_name("torchvision.transforms") == "minitorch.vision.transforms"
    assert real_name("torchaudio") is None and real_name("torch_geometric") is None
    assert torch_name("minitorch.vision.utils") == "torchvision.utils"
    assert torch_name("minitorch.nn") == "torch.nn"
    before = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    with torch_import_hook():
        import torch as inside
        import torch.utils.data as data_inside
        assert inside is minitorch and data_inside is minitorch.utils.data
        with torch_import_hook():  # nested: the outer aliases are set aside and come back
            import torch.nn as nn_inside
            assert nn_inside is minitorch.nn
        assert sys.modules["torch"] is minitorch
    after = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    assert after == before and minitorch.__spec__.name == "minitorch"
