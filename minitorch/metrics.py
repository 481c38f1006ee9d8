"""Classification metrics: accuracy, confusion matrix, precision / recall / F1 and a text report.

torch has no such module; the names, conventions and report layout are scikit-learn's
(``sklearn.metrics``), so numbers here match ``accuracy_score``, ``confusion_matrix``,
``precision_recall_fscore_support`` and ``classification_report`` for single-label multi-class
problems. Everything is counted with NumPy on the CPU.

Inputs
------
``pred`` and ``target`` are minitorch tensors, NumPy arrays or lists.

* ``target`` holds class indices ``0 .. C-1`` (an integer or bool dtype), of any shape
  (``(N,)``, or ``(N, H, W)`` for per-pixel labels); every element is one sample.
* ``pred`` is either class indices of ``target``'s shape (integer or bool dtype), or *scores*
  (logits or probabilities, floating point) with one extra class dimension at position 1, as
  ``cross_entropy`` takes them: ``(N, C)`` for ``target`` of shape ``(N,)``, ``(N, C, H, W)`` for
  ``(N, H, W)``. Scores are turned into predictions by ``argmax`` over dim 1 (the first index
  wins a tie, as ``Tensor.argmax``). A floating-point ``pred`` of ``target``'s shape is refused:
  it is ambiguous (probabilities of a binary task? indices stored as floats?).

Negative labels, labels ``>= num_classes`` and empty inputs are errors naming the values.

Counting (for class c, over all samples)
----------------------------------------
    TP_c = #{pred = c, target = c}  FP_c = #{pred = c, target != c}  FN_c = #{pred != c, target = c}
    precision_c = TP_c / (TP_c + FP_c)        recall_c = TP_c / (TP_c + FN_c)
    F1_c = 2 precision_c recall_c / (precision_c + recall_c) = 2 TP_c / (2 TP_c + FP_c + FN_c)
    support_c = TP_c + FN_c                   (how many samples truly are c)
    accuracy = #{pred = target} / N

**Zero division is 0**: a ratio whose denominator is 0 (a class never predicted has no
precision, a class never present has no recall) is defined as 0, as scikit-learn's
``zero_division=0`` (whose default also gives 0, with a warning; here there is no warning).

Averages over classes: ``'macro'`` is the unweighted mean of the per-class values; ``'weighted'``
weights each class by its support; ``'micro'`` pools the counts (sum TP / sum (TP + FP), ...),
which for single-label data equals the accuracy for all three.

Which classes count
-------------------
The classes are ``0 .. num_classes-1``. When ``num_classes`` is None it is taken from the scores'
class dimension, or from ``target_names`` in the report, or else it is ``max label + 1``; in that
last case a class that appears in neither ``pred`` nor ``target`` is left out of the macro
average and of the report's rows (scikit-learn's ``labels=None`` does the same: it only knows the
labels it sees), although per-class results still have one entry per index (0 for such a class).
Pass ``num_classes`` to count every class.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

__all__ = ["accuracy", "confusion_matrix", "precision_recall_f1", "classification_report"]

_AVERAGES = ("macro", "micro", "weighted", None)


def _as_array(x, name: str, fn: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return np.asarray(x._cpu_array())
    if isinstance(x, (np.ndarray, list, tuple)) or np.isscalar(x):
        return np.asarray(x)
    raise TypeError(f"{fn}: {name} must be a minitorch Tensor, a NumPy array or a list, got "
                    f"{type(x).__name__}")


def _labels(pred, target, num_classes, fn: str):
    """Flat int64 predictions and targets, the number of classes, and whether that number was
    given (by the caller or by the scores) rather than inferred from the labels."""
    p = _as_array(pred, "pred", fn)
    t = _as_array(target, "target", fn)
    if t.dtype.kind not in "biu":
        raise TypeError(f"{fn}: target must hold integer class indices, got dtype {t.dtype} "
                        f"(shape {tuple(t.shape)})")
    if t.size == 0:
        raise ValueError(f"{fn}: target is empty (shape {tuple(t.shape)}); the metric of no "
                         "samples is undefined")
    fixed = num_classes is not None
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
                or num_classes < 1:
            raise ValueError(f"{fn}: num_classes must be a positive int, got {num_classes!r}")
        num_classes = int(num_classes)
    if p.ndim == t.ndim + 1 and p.dtype.kind == "f":  # scores (N, C, ...) for target (N, ...)
        if p.shape[:1] + p.shape[2:] != t.shape:
            raise ValueError(f"{fn}: scores of shape {tuple(p.shape)} do not fit target of shape "
                             f"{tuple(t.shape)}: expected (N, C, *rest) for target (N, *rest)")
        if num_classes is not None and p.shape[1] != num_classes:
            raise ValueError(f"{fn}: scores have {p.shape[1]} classes (shape {tuple(p.shape)}) "
                             f"but num_classes={num_classes}")
        num_classes, fixed = p.shape[1], True
        if p.shape[1] == 0:
            raise ValueError(f"{fn}: scores of shape {tuple(p.shape)} have no classes")
        p = p.argmax(axis=1)
    elif p.shape != t.shape:
        raise ValueError(f"{fn}: pred of shape {tuple(p.shape)} does not fit target of shape "
                         f"{tuple(t.shape)}: pass class indices of target's shape or scores of "
                         "shape (N, C, *rest)")
    elif p.dtype.kind not in "biu":
        raise TypeError(f"{fn}: pred has dtype {p.dtype} and target's shape {tuple(t.shape)}; "
                        "pass integer class indices, or scores with a class dimension (N, C)")
    p = p.reshape(-1).astype(np.int64)
    t = t.reshape(-1).astype(np.int64)
    for name, a in (("pred", p), ("target", t)):
        if a.min() < 0:
            raise ValueError(f"{fn}: {name} holds the negative label {int(a.min())}; class "
                             "indices run from 0")
    top = int(max(p.max(), t.max()))
    if num_classes is None:
        num_classes = top + 1
    elif top >= num_classes:
        which = "pred" if p.max() == top else "target"
        raise ValueError(f"{fn}: {which} holds the label {top}, out of range for "
                         f"num_classes={num_classes} (labels are 0..{num_classes - 1})")
    return p, t, num_classes, fixed


def _counts(p, t, num_classes) -> np.ndarray:
    """The (C, C) confusion matrix: row = true class, column = predicted class."""
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes) \
        .reshape(num_classes, num_classes)


def _ratio(num, den) -> np.ndarray:
    """num / den elementwise, 0 where den is 0 (zero_division=0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _scores(p, t, num_classes, fixed):
    """Per-class precision, recall, F1, support, the pooled counts, and the mask of classes that
    take part in averages."""
    cm = _counts(p, t, num_classes)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)  # TP + FP
    support = cm.sum(axis=1)  # TP + FN
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, predicted + support)  # 2TP / (2TP + FP + FN)
    counted = np.ones(num_classes, bool) if fixed else (predicted + support) > 0
    return precision, recall, f1, support, tp, counted


def _average(values, support, tp, predicted_total, counted, average):
    if average == "macro":
        return float(values[counted].mean())
    if average == "weighted":
        return float(_ratio((values * support)[counted].sum(), support[counted].sum()))
    # micro: pooled counts; single-label, so sum(TP + FP) = sum(TP + FN) = N
    return float(_ratio(tp.sum(), predicted_total))


def accuracy(pred, target) -> float:
    """The fraction of samples whose prediction equals the target, ``#{pred = target} / N``
    (scikit-learn's ``accuracy_score``). ``pred`` may be class indices or scores (N, C, ...)."""
    p, t, _, _ = _labels(pred, target, None, "accuracy")
    return float(np.mean(p == t))


def confusion_matrix(pred, target, num_classes=None) -> Tensor:
    """The ``(C, C)`` int64 tensor whose entry ``[i, j]`` counts samples of true class ``i``
    predicted as class ``j`` (rows are targets, columns predictions, as scikit-learn's). The
    diagonal holds the correct predictions; ``C`` is ``num_classes`` (see the module docstring
    for how it is found when None). Note the argument order: torch-style (pred, target), where
    scikit-learn takes (y_true, y_pred)."""
    p, t, c, _ = _labels(pred, target, num_classes, "confusion_matrix")
    return Tensor._make(_counts(p, t, c).astype(np.int64))


def precision_recall_f1(pred, target, num_classes=None, average="macro"):
    """``(precision, recall, f1)``: Python floats averaged over classes (``average='macro'``,
    ``'weighted'`` or ``'micro'``), or with ``average=None`` three float64 tensors of shape
    ``(C,)`` holding each class's value. Zero divisions give 0 (see the module docstring)."""
    if average not in _AVERAGES:
        raise ValueError(f"precision_recall_f1: average must be one of {_AVERAGES}, got "
                         f"{average!r}")
    p, t, c, fixed = _labels(pred, target, num_classes, "precision_recall_f1")
    precision, recall, f1, support, tp, counted = _scores(p, t, c, fixed)
    if average is None:
        return tuple(Tensor._make(v) for v in (precision, recall, f1))
    return tuple(_average(v, support, tp, t.size, counted, average)
                 for v in (precision, recall, f1))


def classification_report(pred, target, num_classes=None, target_names=None, digits=2,
                          output_dict=False):
    """A text table (scikit-learn's ``classification_report`` layout): one row per class with
    precision, recall, F1 and support, then the accuracy, the macro average and the
    support-weighted average. ``target_names[c]`` names class ``c`` (and, when ``num_classes``
    is None, fixes it to ``len(target_names)``). ``output_dict=True`` returns the same numbers as
    a dict: ``{name: {'precision', 'recall', 'f1-score', 'support'}, ..., 'accuracy': float,
    'macro avg': {...}, 'weighted avg': {...}}``."""
    fn = "classification_report"
    if target_names is not None:
        target_names = [str(n) for n in target_names]
        if num_classes is None:
            num_classes = len(target_names)
        elif len(target_names) != num_classes:
            raise ValueError(f"{fn}: {len(target_names)} target_names for num_classes="
                             f"{num_classes}")
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"{fn}: digits must be a non-negative int, got {digits!r}")
    p, t, c, fixed = _labels(pred, target, num_classes, fn)
    if target_names is not None and len(target_names) != c:
        raise ValueError(f"{fn}: {len(target_names)} target_names for {c} classes")
    precision, recall, f1, support, tp, counted = _scores(p, t, c, fixed)
    names = target_names or [str(i) for i in range(c)]

    report = {}
    for i in np.flatnonzero(counted):
        report[names[i]] = {"precision": float(precision[i]), "recall": float(recall[i]),
                            "f1-score": float(f1[i]), "support": int(support[i])}
    report["accuracy"] = float(np.mean(p == t))
    total = int(support[counted].sum())
    for heading, avg in (("macro avg", "macro"), ("weighted avg", "weighted")):
        report[heading] = {key: _average(v, support, tp, t.size, counted, avg)
                           for key, v in (("precision", precision), ("recall", recall),
                                          ("f1-score", f1))}
        report[heading]["support"] = total
    if output_dict:
        return report

    headers = ["precision", "recall", "f1-score", "support"]
    rows = [k for k in report if k not in ("accuracy", "macro avg", "weighted avg")]
    width = max([len("weighted avg"), digits] + [len(r) for r in rows])
    text = ("{:>{width}s} " + " {:>9}" * 4).format("", *headers, width=width) + "\n\n"
    row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    for name in rows:
        r = report[name]
        text += row_fmt.format(name, r["precision"], r["recall"], r["f1-score"], r["support"],
                               width=width, digits=digits)
    text += "\n"
    text += ("{:>{width}s} " + " {:>9}" * 2 + " {:>9.{digits}f} {:>9}\n").format(
        "accuracy", "", "", report["accuracy"], total, width=width, digits=digits)
    for heading in ("macro avg", "weighted avg"):
        r = report[heading]
        text += row_fmt.format(heading, r["precision"], r["recall"], r["f1-score"], r["support"],
                               width=width, digits=digits)
    return text
