"""What a training run leaves behind: a metrics table on the terminal, ``metrics.json`` and PNG
plots of the loss and accuracy curves and of the confusion matrix (matplotlib, when installed).

Every file is written atomically (``files.write_atomically``): a full disk or a crash leaves the
previous report whole. ``metrics.json`` is strict JSON: a NaN or infinite number (a run that
diverged under ``--allow-nonfinite``) is written as ``null``."""
from __future__ import annotations

import json
import math
import os

import numpy as np

from .. import metrics
from .files import write_atomically


def summarize(result: dict, config: dict) -> dict:
    """The JSON-ready summary of a run: config, per-epoch history, test metrics."""
    preds, targets, c = result["preds"], result["targets"], result["num_classes"]
    precision, recall, f1 = metrics.precision_recall_f1(preds, targets, num_classes=c)
    per_class = metrics.precision_recall_f1(preds, targets, num_classes=c, average=None)
    summary = {
        "config": config,
        "history": result["history"],
        "test": {"loss": result["test_loss"], "accuracy": result["test_acc"],
                 "macro_precision": precision, "macro_recall": recall, "macro_f1": f1,
                 "per_class": {name: [float(v) for v in t.numpy()]
                               for name, t in zip(("precision", "recall", "f1"), per_class,
                                                  strict=True)},
                 "confusion_matrix": metrics.confusion_matrix(preds, targets, c).numpy().tolist()},
    }
    if "torch_test_acc" in result:
        summary["torch_test"] = {"loss": result["torch_test_loss"],
                                 "accuracy": result["torch_test_acc"]}
    return summary


def finite_or_null(value):
    """``value`` with every NaN or infinite float replaced by None (JSON ``null``): Python's
    json writes them as ``NaN``/``Infinity``, which strict JSON parsers reject."""
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metrics_table(result: dict) -> str:
    """The per-class report (scikit-learn's layout) with the test loss above it."""
    text = f"test loss {result['test_loss']:.4f}   test accuracy {100 * result['test_acc']:.2f}%\n"
    if "torch_test_acc" in result:
        text += (f"torch (same start, same batches): test loss {result['torch_test_loss']:.4f}   "
                 f"test accuracy {100 * result['torch_test_acc']:.2f}%\n")
    return text + metrics.classification_report(result["preds"], result["targets"],
                                                num_classes=result["num_classes"], digits=3)


def write_report(result: dict, config: dict, out_dir: str, log=print) -> list[str]:
    """Write metrics.json and, with matplotlib, curves.png and confusion_matrix.png into
    ``out_dir``. Returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    summary = summarize(result, config)
    path = os.path.join(out_dir, "metrics.json")
    text = json.dumps(finite_or_null(summary), indent=2, allow_nan=False) + "\n"
    write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))
    written = [path]
    try:
        import matplotlib  # optional: pip install 'minitorch[demo]'
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no PNG plots (pip install 'minitorch[demo]')")
        return written
    written.append(_plot_curves(plt, summary["history"], os.path.join(out_dir, "curves.png")))
    written.append(_plot_confusion(plt, np.array(summary["test"]["confusion_matrix"]),
                                   os.path.join(out_dir, "confusion_matrix.png")))
    return written


def _plot_curves(plt, history, path):
    epochs = [e["epoch"] for e in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [e["train_loss"] for e in history], "o-", label="minitorch train")
    if history and "val_loss" in history[0]:
        ax_loss.plot(epochs, [e["val_loss"] for e in history], "s-", label="minitorch val")
        ax_acc.plot(epochs, [100 * e["val_acc"] for e in history], "s-", label="minitorch val")
    if history and "torch_train_loss" in history[0]:
        ax_loss.plot(epochs, [e["torch_train_loss"] for e in history], "o--", label="torch train")
        if "torch_val_loss" in history[0]:
            ax_loss.plot(epochs, [e["torch_val_loss"] for e in history], "s--", label="torch val")
            ax_acc.plot(epochs, [100 * e["torch_val_acc"] for e in history], "s--",
                        label="torch val")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    _save_figure(plt, fig, path)
    return path


def _save_figure(plt, fig, path):
    fig.tight_layout()
    try:
        write_atomically(path, lambda fh: fig.savefig(fh, format="png", dpi=100))
    finally:
        plt.close(fig)


def _plot_confusion(plt, cm, path):
    fig, ax = plt.subplots(figsize=(5, 4.5))
    im = ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > cm.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (test)",
           xticks=range(cm.shape[1]), yticks=range(cm.shape[0]))
    fig.colorbar(im, ax=ax)
    _save_figure(plt, fig, path)
    return path
