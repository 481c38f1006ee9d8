"""Using a trained model: the model file ``train --out`` leaves, ``predict``, ``evaluate``,
``export`` and ``info``.

The central check: from the model file alone, ``evaluate`` and ``predict`` reproduce the training
run's held-out accuracy (and its confusion matrix) exactly, because the stored transform repeats
the arithmetic training applied to its test set (checked array for array, resize included). The
ONNX file ``export`` writes, run by ONNX Runtime with the transform from its own metadata, scores
the same.
"""
import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import minitorch
from minitorch.cli import main
from minitorch.inference import (
    InputTransform,
    ModelInfo,
    Predictor,
    load_model,
    read_inputs,
    save_model,
)
from minitorch.training.data import load_arrays, load_raw_test
from minitorch.vision.datasets import Digits
from minitorch.vision.models import build_model

ort = pytest.importorskip("onnxruntime")  # optional: the [onnx] extra
Image = pytest.importorskip("PIL.Image")  # optional: Pillow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["--limit-train", "256", "--batch-size", "32", "--no-progress", "--epochs", "2"]


def train_run(out, *extra):
    assert main(["train"] + QUICK + ["--out", str(out)] + list(extra)) == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One short training run (SimpleCNN on the 8x8 digits) with a report and a checkpoint."""
    out = tmp_path_factory.mktemp("run")
    summary = train_run(out, "--checkpoint", str(out / "last.mt"))
    return out, summary


def test_the_stored_transform_repeats_trainings_arithmetic():
    """Raw test images through the model file's transform are the very arrays training scored:
    at the native 8x8 and resized to 28x28."""
    for size in (None, 28):
        _, (x_test, _), _, description = load_arrays("digits", None, size, with_description=True)
        raw, _, classes = load_raw_test("digits", None)
        assert raw.shape[-1] == 8 and classes == Digits.classes
        np.testing.assert_array_equal(description.transform(raw), x_test)


def test_train_leaves_a_model_file_that_describes_itself(run):
    out, summary = run
    model, info = load_model(out / "model.mt")
    assert info.architecture == "simple_cnn" and info.dataset == "digits"
    assert info.arguments == {"in_channels": 1, "num_classes": 10, "image_size": 8}
    assert info.classes == [str(d) for d in range(10)] and info.input_shape == (1, 8, 8)
    assert info.transform.size == (8, 8) and info.transform.std[0] > 0
    assert info.metrics["test_accuracy"] == summary["test"]["accuracy"]
    assert not model.training
    # the training checkpoint carries the same description
    _, from_checkpoint = load_model(out / "last.mt")
    assert from_checkpoint.transform == info.transform and from_checkpoint.classes == info.classes


def test_evaluate_reproduces_the_held_out_accuracy_and_confusion_matrix(run, capsys):
    out, summary = run
    assert main(["evaluate", str(out / "model.mt")]) == 0
    text = capsys.readouterr().out
    evaluation = json.loads((out / "evaluation_digits.json").read_text())
    assert evaluation["accuracy"] == summary["test"]["accuracy"]
    assert evaluation["confusion_matrix"] == summary["test"]["confusion_matrix"]
    assert evaluation["images"] == 360
    assert f"accuracy {100 * summary['test']['accuracy']:.2f}%" in text and "macro avg" in text
    png = out / "evaluation_digits_confusion_matrix.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reproduces_a_resized_models_accuracy(tmp_path):
    summary = train_run(tmp_path, "--model", "mlp", "--image-size", "28", "--epochs", "1")
    assert main(["evaluate", str(tmp_path / "model.mt"), "--out", str(tmp_path / "ev")]) == 0
    evaluation = json.loads((tmp_path / "ev" / "evaluation_digits.json").read_text())
    assert evaluation["accuracy"] == summary["test"]["accuracy"]
    assert evaluation["confusion_matrix"] == summary["test"]["confusion_matrix"]


def predicted(capsys, *argv):
    assert main(["predict", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def write_idx_float32(path, array):
    """An IDX file of float32 values (type 0x0D), big-endian, gzip-compressed."""
    header = bytes([0, 0, 0x0D, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(">f4").tobytes())


def test_predict_reproduces_the_held_out_accuracy_from_npy_and_idx(run, tmp_path, capsys):
    out, summary = run
    test = Digits(train=False)
    images, targets = test.data.numpy(), test.targets.numpy()
    np.save(tmp_path / "test.npy", images)                  # (360, 1, 8, 8) in [0, 1]
    write_idx_float32(tmp_path / "test-images-idx3-float.gz", images[:, 0])  # (360, 8, 8)
    for path in (tmp_path / "test.npy", tmp_path / "test-images-idx3-float.gz"):
        results = predicted(capsys, out / "model.mt", path)
        assert len(results) == 360 and results[5]["input"].endswith("[5]")
        preds = np.array([r["index"] for r in results])
        assert np.mean(preds == targets) == summary["test"]["accuracy"]
        assert all(0 < r["probability"] <= 1 and r["class"] == str(r["index"]) for r in results)


def test_predict_reads_png_images_and_folders_like_the_same_pixels_in_npy(run, tmp_path, capsys):
    out, _ = run
    pixels = (Digits(train=False).data.numpy()[:6, 0] * 255).round().astype(np.uint8)
    folder = tmp_path / "pngs" / "sub"
    folder.mkdir(parents=True)
    for i, img in enumerate(pixels):
        Image.fromarray(img).save(folder / f"digit{i}.png")
    (folder / ".hidden.png").write_bytes(b"not read")
    np.save(tmp_path / "same.npy", pixels)                  # uint8 (6, 8, 8): divided by 255
    from_png = predicted(capsys, out / "model.mt", tmp_path / "pngs")
    from_npy = predicted(capsys, out / "model.mt", tmp_path / "same.npy")
    assert [r["input"] for r in from_png] == [str(folder / f"digit{i}.png") for i in range(6)]
    assert [r["top"] for r in from_png] == [r["top"] for r in from_npy]


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_without_pillow_png_is_decoded_by_numpy_alone(tmp_path, monkeypatch, mode):
    """Every PNG row filter (Pillow picks them per row for these noisy images) decodes to
    Pillow's pixels."""
    rng = np.random.default_rng(len(mode))
    channels = len(mode)
    smooth = np.cumsum(rng.integers(0, 9, (23, 17, channels)), axis=1).astype(np.uint8)
    image = Image.fromarray(smooth[:, :, 0] if channels == 1 else smooth, mode)
    for optimize in (False, True):
        image.save(tmp_path / f"{mode}{optimize}.png", optimize=optimize)
    expected = [read_inputs([tmp_path / f"{mode}{o}.png"], 3)[0].pixels for o in (False, True)]
    monkeypatch.setitem(sys.modules, "PIL", None)
    for o, want in zip((False, True), expected):
        np.testing.assert_array_equal(read_inputs([tmp_path / f"{mode}{o}.png"], 3)[0].pixels,
                                      want)
    (tmp_path / "d.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(minitorch.inference.InputError, match="needs Pillow"):
        read_inputs([tmp_path / "d.jpg"], 1)


def test_top_k_and_the_text_output(run, tmp_path, capsys):
    out, _ = run
    np.save(tmp_path / "one.npy", Digits(train=False).data.numpy()[0, 0])  # one 8x8 image
    assert main(["predict", str(out / "model.mt"), str(tmp_path / "one.npy"), "--top-k", "3"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{tmp_path / 'one.npy'}: ") and line.count("%") == 3
    probs = [float(p.split()[1].rstrip("%")) for p in line.split(": ", 1)[1].split("  ")]
    assert probs == sorted(probs, reverse=True)


def random_model_file(path, architecture, channels, size, classes=("a", "b", "c")):
    minitorch.manual_seed(0)
    model = build_model(architecture, channels, len(classes), size)
    info = ModelInfo(architecture, {"in_channels": channels, "num_classes": len(classes),
                                    "image_size": size}, list(classes), (channels, size, size),
                     InputTransform((size, size), (0.5,) * channels, (0.25,) * channels))
    save_model(model, path, info)
    return model, info


def test_channels_follow_the_model_grey_and_colour(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "grey.png")
    grey_for_colour = read_inputs([tmp_path / "grey.png"], 3)[0].pixels
    assert grey_for_colour.shape == (3, 12, 10)
    np.testing.assert_array_equal(grey_for_colour[0], grey_for_colour[2])
    luma = read_inputs([tmp_path / "rgb.png"], 1)[0].pixels
    expected = rgb.astype(np.float32) / 255 @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(luma[0], expected, rtol=1e-6)
    # a colour model classifies a grey image of another size: the transform resizes it
    model, info = random_model_file(tmp_path / "m.mt", "simple_cnn", 3, 8)
    (result,) = Predictor(*load_model(tmp_path / "m.mt")).predict(
        read_inputs([tmp_path / "grey.png"], 3), top_k=3)
    assert result["class"] in info.classes and len(result["top"]) == 3


@pytest.mark.parametrize("shape, channels, images", [
    ((8, 8), 1, 1), ((1, 8, 8), 1, 1), ((5, 8, 8), 1, 5), ((8, 8, 3), 1, 1), ((3, 8, 8), 3, 1),
    ((8, 8, 3), 3, 1), ((4, 1, 8, 8), 1, 4), ((4, 8, 8, 3), 3, 4), ((5, 8, 8), 3, 5)])
def test_npy_layouts(tmp_path, shape, channels, images):
    np.save(tmp_path / "a.npy", np.zeros(shape, np.float32))
    got = read_inputs([tmp_path / "a.npy"], channels)
    assert len(got) == images and all(g.pixels.shape == (channels, 8, 8) for g in got)


@pytest.mark.parametrize("make, argv, message", [
    (lambda d: minitorch.save({"w": minitorch.zeros(2)}, str(d / "m.mt")), ["predict", "{d}/m.mt",
     "{d}/m.mt"], "not a model file"),
    (None, ["predict", "{d}/missing.mt", "x.png"], "missing.mt: No such model file"),
    (None, ["predict", "{m}", "{d}/nothing_here.png"], "nothing_here.png: No such file"),
    (lambda d: np.save(d / "bad.npy", np.zeros((2, 3, 4, 5, 6))), ["predict", "{m}",
     "{d}/bad.npy"], "shape (2, 3, 4, 5, 6) is not images"),
    (lambda d: (d / "notes.txt").write_text("hi"), ["predict", "{m}", "{d}/notes.txt"],
     "not an image, a .npy array or an IDX file"),
    (lambda d: (d / "empty").mkdir(), ["predict", "{m}", "{d}/empty"], "holds no image"),
    (None, ["predict", "{m}", "{d}", "--top-k", "0"], "--top-k must be at least 1"),
    (None, ["evaluate", "{d}/m2.mt"], "does not say which dataset"),
])
def test_user_errors_are_one_line_with_status_2(run, tmp_path, capsys, make, argv, message):
    out, _ = run
    random_model_file(tmp_path / "m2.mt", "mlp", 1, 8)
    if make:
        make(tmp_path)
    args = [a.format(d=tmp_path, m=out / "model.mt") for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 2


def test_export_cli_writes_onnx_that_scores_like_the_model(run, tmp_path, capsys):
    out, summary = run
    path = tmp_path / "model.onnx"
    assert main(["export", str(out / "model.mt"), "--onnx", str(path)]) == 0
    assert "input 'input' (N, 1, 8, 8)" in capsys.readouterr().out
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    t = json.loads(meta["transform"])
    assert json.loads(meta["classes"]) == [str(d) for d in range(10)]
    images, targets = Digits(train=False).data.numpy(), Digits(train=False).targets.numpy()
    x = ((images - np.float32(t["mean"][0])) / np.float32(t["std"][0])).astype(np.float32)
    logits = session.run(None, {"input": x})[0]
    assert np.mean(logits.argmax(1) == targets) == summary["test"]["accuracy"]
    # a static batch size when asked
    assert main(["export", str(out / "model.mt"), "--onnx", str(tmp_path / "b4.onnx"),
                 "--static-batch", "4"]) == 0
    static = ort.InferenceSession(str(tmp_path / "b4.onnx"), providers=["CPUExecutionProvider"])
    assert static.get_inputs()[0].shape == [4, 1, 8, 8]


def test_info_names_versions_devices_and_threads(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    for word in ("numpy", "BLAS", "onnxruntime", "gpus", "kernels", "BLAS threads",
                 "--device auto picks: cpu"):
        assert word in text


def test_train_help_shows_defaults_and_the_demo_options():
    proc = subprocess.run([sys.executable, "-m", "minitorch", "train", "--help"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    text = " ".join(proc.stdout.split())
    assert "(default: 10)" in text and "(default: 0.001)" in text
    assert "--epochs 20 --lr 2e-3 --schedule cosine" in text


def test_the_run_header_names_the_device(run, capsys):
    out, _ = run
    assert main(["train"] + QUICK + ["--epochs", "1"]) == 0
    assert "device cpu (from --device auto)" in capsys.readouterr().out


def test_plots_have_titles_and_no_empty_validation_panel(tmp_path):
    train_run(tmp_path / "noval", "--val-fraction", "0", "--epochs", "1")
    train_run(tmp_path / "val", "--epochs", "1")
    width = {name: Image.open(tmp_path / name / "curves.png").size[0] for name in ("noval", "val")}
    assert width["noval"] < 0.6 * width["val"]  # one panel (loss) instead of two
    from minitorch.training.report import run_title
    assert run_title({"model": "mlp", "dataset": "digits"}, 0.9722) == \
        "mlp on digits, test accuracy 97.22%"


def test_finetune_reuses_its_pretraining_and_writes_a_report(tmp_path, capsys):
    from minitorch.training.finetune import default_checkpoint
    assert default_checkpoint("mlp", 8) != default_checkpoint("simple_cnn", 8)
    base = ["finetune", "--model", "mlp", "--pretrain-epochs", "1", "--head-epochs", "1",
            "--unfreeze-epochs", "1", "--shots", "5", "--checkpoint", str(tmp_path / "pre.mt")]
    assert main(base) == 0
    first = capsys.readouterr().out
    assert "pretrained mlp on digits 0-4" in first
    weights = (tmp_path / "pre.mt").read_bytes()
    assert main(base + ["--out", str(tmp_path / "out")]) == 0
    second = capsys.readouterr().out
    assert "reusing the pretrained mlp" in second and (tmp_path / "pre.mt").read_bytes() == weights
    # the same numbers after pretraining as the first run: the reused weights are the same
    tail = [line for line in first.splitlines() if "from scratch" in line]
    assert tail == [line for line in second.splitlines() if "from scratch" in line]
    summary = json.loads((tmp_path / "out" / "finetune.json").read_text())
    assert set(summary["accuracy"]) == {"pretrain_acc", "before", "head_only", "unfrozen",
                                        "scratch"}
    assert Image.open(tmp_path / "out" / "finetune.png").size[0] > 0
    _, info = load_model(tmp_path / "out" / "model.mt")
    assert info.classes == ["5", "6", "7", "8", "9"]
    # another architecture does not take these weights: it pretrains its own
    assert main(["finetune", "--model", "simple_cnn"] + base[3:]) == 0
    assert "pretrained simple_cnn" in capsys.readouterr().out
