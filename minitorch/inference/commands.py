"""``python -m minitorch predict | evaluate | export``: use a model file.

    python -m minitorch predict runs/demo/model.mt digit.png more_digits/ batch.npy --top-k 3
    python -m minitorch predict runs/demo/model.mt t10k-images-idx3-ubyte --json
    python -m minitorch evaluate runs/demo/model.mt --dataset digits
    python -m minitorch export runs/demo/model.mt --onnx runs/demo/model.onnx

A model file is what ``python -m minitorch train --out DIR`` leaves as ``DIR/model.mt`` (a
training ``--checkpoint`` works too); ``minitorch/inference/model_file.py`` describes it. Both
``predict`` and ``evaluate`` apply the input transform stored in it. ``export`` writes ONNX with
a dynamic batch axis (input ``input`` (N, C, H, W), output ``logits`` (N, classes)) and stores the
class names and the transform in the ONNX file's metadata (``classes``, ``transform``: JSON), so
ONNX Runtime alone can use it (docs/deploying.md).
"""
from __future__ import annotations

import argparse
import json
import os

DEFAULTS = argparse.ArgumentDefaultsHelpFormatter


def add_predict_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model file (train --out DIR writes DIR/model.mt)")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="PNG/JPEG images, .npy arrays, IDX files, or folders of them")
    p.add_argument("--top-k", type=int, default=1, help="show the k most probable classes")
    p.add_argument("--json", action="store_true", help="print JSON (one object per input)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model file (train --out DIR writes DIR/model.mt)")
    p.add_argument("--dataset", default=None, choices=["digits", "mnist", "cifar10"],
                   help="the test split to score (default: the dataset the model was trained on)")
    p.add_argument("--root", "--data-root", dest="root", default="data",
                   help="folder holding MNIST/raw/ or cifar-10-batches-py/")
    p.add_argument("--out", default=None,
                   help="folder for evaluation_<dataset>.json and its confusion matrix PNG "
                        "(default: the model file's folder)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i]")


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    from ..onnx.export import DEFAULT_OPSET
    p.add_argument("model", help="a model file (train --out DIR writes DIR/model.mt)")
    p.add_argument("--onnx", required=True, metavar="PATH", help="the ONNX file to write")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")
    p.add_argument("--static-batch", type=int, default=None, metavar="N",
                   help="a fixed batch size instead of a dynamic batch axis")


def _load(path):
    from .model_file import load_model
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such model file", path)
    return load_model(path)


def _device(model, name: str):
    from ..training.loop import resolve_device
    device = resolve_device(name)
    return model.to(device), device


def run_predict(args) -> int:
    from .inputs import read_inputs
    from .predict import Predictor
    model, info = _load(args.model)
    model, device = _device(model, args.device)
    images = read_inputs(args.inputs, info.channels)
    results = Predictor(model, info, device).predict(images, top_k=args.top_k)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        shown = "  ".join(f"{t['class']} {100 * t['probability']:.1f}%" for t in r["top"])
        print(f"{r['input']}: {shown}")
    return 0


def run_evaluate(args) -> int:
    from .. import metrics
    from ..training.files import check_writable_folder, write_atomically
    from ..training.report import plot_confusion
    from .predict import Predictor, evaluate_dataset
    model, info = _load(args.model)
    dataset = args.dataset or info.dataset
    if dataset is None:
        from ..training.errors import UsageError
        raise UsageError(f"{args.model} does not say which dataset it was trained on",
                         hint="pass --dataset digits|mnist|cifar10")
    out_dir = args.out or os.path.dirname(os.path.abspath(args.model))
    check_writable_folder(out_dir, "--out")
    model, device = _device(model, args.device)
    result = evaluate_dataset(Predictor(model, info, device), dataset, args.root)
    preds, targets, n = result["preds"], result["targets"], len(result["targets"])
    k = len(info.classes)
    correct = int((preds == targets).sum())
    print(f"{info.architecture} ({args.model}) on the {dataset} test set: {correct}/{n} correct, "
          f"accuracy {100 * result['accuracy']:.2f}%")
    trained = info.metrics.get("test_accuracy")
    if trained is not None and dataset == info.dataset:
        print(f"(the training run measured {100 * trained:.2f}% on "
              f"{info.metrics.get('test_images', '?')} held-out images)")
    print(metrics.classification_report(preds, targets, num_classes=k, digits=3))
    cm = metrics.confusion_matrix(preds, targets, k).numpy()
    summary = {"model": os.path.abspath(args.model), "dataset": dataset, "images": n,
               "correct": correct, "accuracy": result["accuracy"], "classes": info.classes,
               "confusion_matrix": cm.tolist()}
    path = os.path.join(out_dir, f"evaluation_{dataset}.json")
    text = json.dumps(summary, indent=2) + "\n"
    write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))
    print(f"wrote {path}")
    png = plot_confusion(cm, os.path.join(out_dir, f"evaluation_{dataset}_confusion_matrix.png"),
                         title=f"{info.architecture} on {dataset} (test): "
                               f"{100 * result['accuracy']:.2f}%", labels=info.classes)
    if png:
        print(f"wrote {png}")
    return 0


def run_export(args) -> int:
    import minitorch.onnx as mt_onnx

    from ..creation import zeros
    from ..training.files import check_writable_file, write_atomically
    model, info = _load(args.model)
    check_writable_file(args.onnx, "--onnx")
    batch = args.static_batch or 1
    example = zeros((batch,) + info.input_shape)
    dynamic = None if args.static_batch else {"input": {0: "batch"}, "logits": {0: "batch"}}
    proto = mt_onnx.export(model, (example,), None, input_names=["input"],
                           output_names=["logits"], dynamic_axes=dynamic,
                           opset_version=args.opset)
    import onnx
    onnx.helper.set_model_props(proto, {
        "classes": json.dumps(info.classes),
        "transform": json.dumps({"size": list(info.transform.size),
                                 "mean": list(info.transform.mean),
                                 "std": list(info.transform.std),
                                 "interpolation": info.transform.interpolation,
                                 "pixels": "in [0, 1]: 8-bit values / 255"}),
        "architecture": info.architecture,
        "input_shape": json.dumps(list(info.input_shape))})
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    write_atomically(args.onnx, lambda fh: fh.write(data))
    shape = "N" if dynamic else str(batch)
    print(f"wrote {args.onnx}: input 'input' ({shape}, {', '.join(map(str, info.input_shape))}) "
          f"float32, output 'logits' ({shape}, {len(info.classes)}), opset {args.opset}, "
          f"{len(proto.graph.node)} nodes; classes and transform in its metadata")
    return 0


def check_numbers(args) -> None:
    """Option values that cannot work, refused before anything is loaded."""
    from ..training.errors import UsageError
    if getattr(args, "top_k", 1) < 1:
        raise UsageError(f"--top-k must be at least 1, got {args.top_k}")
    if getattr(args, "static_batch", None) is not None and args.static_batch < 1:
        raise UsageError(f"--static-batch must be at least 1, got {args.static_batch}")


COMMANDS = {
    "predict": ("classify images with a model file", add_predict_arguments, run_predict),
    "evaluate": ("accuracy, per-class table and confusion matrix of a model file on a test set",
                 add_evaluate_arguments, run_evaluate),
    "export": ("write a model file as ONNX (checked with onnx.checker)", add_export_arguments,
               run_export),
}


def add_commands(sub) -> list:
    """Add predict/evaluate/export to the ``python -m minitorch`` subparsers."""
    made = []
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=DEFAULTS)
        add_arguments(p)
        made.append(p)
    return made


def run(args) -> int:
    check_numbers(args)
    return COMMANDS[args.command][2](args)
