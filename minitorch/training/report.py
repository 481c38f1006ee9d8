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


def _pyplot(log=None):
    """matplotlib's pyplot on the Agg backend, or None (with a note) when it is missing."""
    try:
        import matplotlib  # optional: pip install 'minitorch[demo]'
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if log is not None:
            log("matplotlib is not installed: no PNG plots (in a minitorch checkout: "
                ".venv/bin/pip install -e '.[demo]')")
        return None
    return plt


def run_title(config: dict, accuracy) -> str:
    """'simple_cnn on digits, test accuracy 97.78%': every figure of a run says what it shows."""
    acc = "n/a" if accuracy is None or not math.isfinite(accuracy) else f"{100 * accuracy:.2f}%"
    return f"{config.get('model', '?')} on {config.get('dataset', '?')}, test accuracy {acc}"


def write_report(result: dict, config: dict, out_dir: str, log=print) -> list[str]:
    """Write metrics.json and, with matplotlib, curves.png and confusion_matrix.png into
    ``out_dir``. Returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    summary = summarize(result, config)
    path = os.path.join(out_dir, "metrics.json")
    text = json.dumps(finite_or_null(summary), indent=2, allow_nan=False) + "\n"
    write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))
    written = [path]
    plt = _pyplot(log)
    if plt is None:
        return written
    title = run_title(config, result.get("test_acc"))
    written.append(_plot_curves(plt, summary["history"], os.path.join(out_dir, "curves.png"),
                                title))
    written.append(plot_confusion(np.array(summary["test"]["confusion_matrix"]),
                                  os.path.join(out_dir, "confusion_matrix.png"),
                                  title=f"{title}\nconfusion matrix (test)"))
    return written


def _largest_gap(history, ours: str, theirs: str) -> float:
    gaps = [abs(e[ours] - e[theirs]) for e in history
            if e.get(ours) is not None and e.get(theirs) is not None]
    return max(gaps) if gaps else float("nan")


def _plot_curves(plt, history, path, title: str = ""):
    """Loss curves (and validation accuracy, when there is a validation set). With a torch
    reference, its curves are dashed with hollow markers over ours, and the title gives the
    largest difference: curves that coincide would otherwise hide one library."""
    epochs = [e["epoch"] for e in history]
    has_val = bool(history) and "val_loss" in history[0]
    has_torch = bool(history) and "torch_train_loss" in history[0]
    fig, axes = plt.subplots(1, 2 if has_val else 1, figsize=(10 if has_val else 5.5, 4.2),
                             squeeze=False)
    ax_loss = axes[0][0]
    ax_loss.plot(epochs, [e["train_loss"] for e in history], "o-", label="minitorch train")
    if has_val:
        ax_acc = axes[0][1]
        ax_loss.plot(epochs, [e["val_loss"] for e in history], "s-", label="minitorch val")
        ax_acc.plot(epochs, [100 * e["val_acc"] for e in history], "s-", label="minitorch val")
        ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="validation accuracy")
    hollow = {"markerfacecolor": "none", "markersize": 9, "linewidth": 1.2}
    if has_torch:
        ax_loss.plot(epochs, [e["torch_train_loss"] for e in history], "o--",
                     label="torch train", **hollow)
        if has_val and "torch_val_loss" in history[0]:
            ax_loss.plot(epochs, [e["torch_val_loss"] for e in history], "s--",
                         label="torch val", **hollow)
            ax_acc.plot(epochs, [100 * e["torch_val_acc"] for e in history], "s--",
                        label="torch val", **hollow)
        gap = _largest_gap(history, "train_loss", "torch_train_loss")
        title += (f"\nminitorch vs torch: train losses differ by at most {gap:.1e}"
                  + (" (identical to 1e-8)" if gap <= 1e-8 else ""))
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    for ax in axes[0]:
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title, fontsize=10)
    _save_figure(plt, fig, path)
    return path


def _save_figure(plt, fig, path):
    fig.tight_layout()
    try:
        write_atomically(path, lambda fh: fig.savefig(fh, format="png", dpi=100))
    finally:
        plt.close(fig)


def plot_confusion(cm, path, title: str = "confusion matrix (test)", labels=None, log=None):
    """A confusion matrix (rows: true class, columns: predicted) as a PNG at ``path``; returns
    the path, or None without matplotlib."""
    plt = _pyplot(log)
    if plt is None:
        return None
    cm = np.asarray(cm)
    side = max(5.0, 0.45 * cm.shape[0] + 1.5)
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    im = ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > cm.max() / 2 else "black")
    ticks = range(cm.shape[0])
    ax.set(xlabel="predicted", ylabel="true", xticks=range(cm.shape[1]), yticks=ticks)
    if labels is not None and len(labels) == cm.shape[0]:
        short = [str(lab)[:12] for lab in labels]
        ax.set_xticklabels(short, rotation=90 if max(map(len, short)) > 2 else 0)
        ax.set_yticklabels(short)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax)
    _save_figure(plt, fig, path)
    return path
