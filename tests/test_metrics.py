"""minitorch.metrics: hand-computed cases, and random labels checked against a pure-Python count.

torch has no metrics module; the reference semantics are scikit-learn's (zero_division=0)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minitorch
from minitorch import metrics


def tensors_equal(t, expected):
    assert isinstance(t, minitorch.Tensor)
    np.testing.assert_array_equal(t.numpy(), np.asarray(expected))


# ---- hand-computed -------------------------------------------------------------------------------
PRED = [0, 1, 2, 2, 1]
TARGET = [0, 2, 2, 1, 1]


def test_hand_example():
    assert metrics.accuracy(PRED, TARGET) == 0.6
    cm = metrics.confusion_matrix(PRED, TARGET)
    assert cm.dtype is minitorch.int64
    tensors_equal(cm, [[1, 0, 0], [0, 1, 1], [0, 1, 1]])  # rows: true class, columns: predicted
    p, r, f = metrics.precision_recall_f1(PRED, TARGET, average=None)
    for v in (p, r, f):
        assert v.dtype is minitorch.float64
        tensors_equal(v, [1.0, 0.5, 0.5])
    assert metrics.precision_recall_f1(PRED, TARGET) == pytest.approx((2 / 3, 2 / 3, 2 / 3),
                                                                      rel=1e-15)


def test_zero_division_is_zero():
    # class 2 is never predicted (no precision) and class 1 is never predicted right
    pred, target = [0, 0, 0, 1], [0, 0, 1, 2]
    tensors_equal(metrics.confusion_matrix(pred, target), [[2, 0, 0], [1, 0, 0], [0, 1, 0]])
    p, r, f = metrics.precision_recall_f1(pred, target, average=None)
    np.testing.assert_allclose(p.numpy(), [2 / 3, 0, 0], rtol=1e-15)
    np.testing.assert_allclose(r.numpy(), [1, 0, 0], rtol=1e-15)
    np.testing.assert_allclose(f.numpy(), [0.8, 0, 0], rtol=1e-15)
    assert metrics.precision_recall_f1(pred, target) == pytest.approx((2 / 9, 1 / 3, 0.8 / 3),
                                                                      rel=1e-15)
    assert metrics.precision_recall_f1(pred, target, average="weighted") == pytest.approx(
        (1 / 3, 0.5, 0.4), rel=1e-15)
    assert metrics.precision_recall_f1(pred, target, average="micro") == pytest.approx(
        (0.5, 0.5, 0.5), rel=1e-15)
    # a class absent from both: no row in the confusion matrix is lost, every ratio is 0
    p, r, f = metrics.precision_recall_f1([1, 1], [1, 1], num_classes=3, average=None)
    tensors_equal(p, [0, 1, 0])
    tensors_equal(f, [0, 1, 0])


def test_classes_seen_nowhere_leave_the_macro_average_unless_num_classes_says():
    pred, target = [0, 2, 2], [0, 2, 0]  # class 1 appears in neither
    p, r, f = metrics.precision_recall_f1(pred, target, average=None)
    assert p.shape == (3,)
    tensors_equal(p, [1.0, 0.0, 0.5])
    assert metrics.precision_recall_f1(pred, target)[0] == pytest.approx(0.75, rel=1e-15)
    assert metrics.precision_recall_f1(pred, target, num_classes=3)[0] == pytest.approx(
        0.5, rel=1e-15)
    assert metrics.precision_recall_f1(pred, target, num_classes=4)[1] == pytest.approx(
        (1 / 2 + 1) / 4, rel=1e-15)
    assert metrics.confusion_matrix(pred, target, num_classes=4).shape == (4, 4)


def test_scores_are_argmaxed_over_dim_1_and_fix_num_classes():
    logits = minitorch.tensor([[2.0, 1.0, 0.0, -1.0],
                               [0.0, 3.0, 0.0, 0.0],
                               [0.1, 0.2, 0.3, 0.0]], requires_grad=True)
    target = minitorch.tensor([0, 2, 2])
    assert metrics.accuracy(logits, target) == pytest.approx(2 / 3, rel=1e-15)
    assert metrics.confusion_matrix(logits, target).shape == (4, 4)  # 4 classes from the scores
    # per-pixel: (N, C, H, W) scores for (N, H, W) labels
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 3, 4, 5))
    labels = rng.integers(0, 3, (2, 4, 5))
    tensors_equal(metrics.confusion_matrix(minitorch.tensor(scores), labels),
                  metrics.confusion_matrix(scores.argmax(1), labels).numpy())
    with pytest.raises(ValueError, match="scores have 3 classes"):
        metrics.confusion_matrix(scores, labels, num_classes=4)


def test_input_kinds_agree():
    want = metrics.confusion_matrix(PRED, TARGET).numpy()
    for pred, target in [(np.array(PRED), np.array(TARGET)),
                         (minitorch.tensor(PRED), minitorch.tensor(TARGET)),
                         (np.array(PRED, np.uint8),
                          minitorch.tensor(TARGET, dtype=minitorch.int32)),
                         (np.array(PRED).reshape(5, 1), np.array(TARGET).reshape(5, 1))]:
        tensors_equal(metrics.confusion_matrix(pred, target), want)
    tensors_equal(metrics.confusion_matrix(np.array([True, False]), np.array([True, True])),
                  [[0, 0], [1, 1]])


def test_classification_report_text_and_dict():
    text = metrics.classification_report(PRED, TARGET)
    assert text == (
        "              precision    recall  f1-score   support\n"
        "\n"
        "           0       1.00      1.00      1.00         1\n"
        "           1       0.50      0.50      0.50         2\n"
        "           2       0.50      0.50      0.50         2\n"
        "\n"
        "    accuracy                           0.60         5\n"
        "   macro avg       0.67      0.67      0.67         5\n"
        "weighted avg       0.60      0.60      0.60         5\n")
    named = metrics.classification_report([0, 0, 0, 1], [0, 0, 1, 2], digits=3,
                                          target_names=["cat", "dog", "hippopotamus"])
    assert named.splitlines()[2] == "         cat      0.667     1.000     0.800         2"
    assert named.splitlines()[4] == "hippopotamus      0.000     0.000     0.000         1"
    assert named.splitlines()[7] == "   macro avg      0.222     0.333     0.267         4"
    d = metrics.classification_report([0, 0, 0, 1], [0, 0, 1, 2], output_dict=True)
    assert list(d) == ["0", "1", "2", "accuracy", "macro avg", "weighted avg"]
    assert d["0"] == {"precision": pytest.approx(2 / 3, rel=1e-15), "recall": 1.0,
                      "f1-score": pytest.approx(0.8, rel=1e-15), "support": 2}
    assert d["accuracy"] == 0.5 and d["weighted avg"]["support"] == 4
    # rows only for classes that appear, unless num_classes / target_names give them all
    assert list(metrics.classification_report([0, 2], [0, 2], output_dict=True))[:2] == ["0", "2"]
    assert "1" in metrics.classification_report([0, 2], [0, 2], num_classes=3, output_dict=True)


def test_bad_input_is_refused_naming_it():
    with pytest.raises(TypeError, match="pred has dtype float64"):
        metrics.accuracy(np.array([0.2, 0.9]), np.array([0, 1]))
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        metrics.accuracy(np.array([0, 1]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"pred of shape \(3,\) does not fit target of shape "
                                         r"\(2,\)"):
        metrics.confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"scores of shape \(2, 3\) do not fit target of shape "
                                         r"\(4,\)"):
        metrics.accuracy(np.zeros((2, 3)), np.zeros(4, int))
    with pytest.raises(ValueError, match="negative label -1"):
        metrics.confusion_matrix([0, -1], [0, 1])
    with pytest.raises(ValueError, match="target holds the label 5, out of range for "
                                         "num_classes=3"):
        metrics.precision_recall_f1([0, 1], [0, 5], num_classes=3)
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], np.array([], int))
    with pytest.raises(ValueError, match="average must be one of"):
        metrics.precision_recall_f1(PRED, TARGET, average="samples")
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        metrics.confusion_matrix(PRED, TARGET, num_classes=0)
    with pytest.raises(ValueError, match="2 target_names for num_classes=3"):
        metrics.classification_report(PRED, TARGET, num_classes=3, target_names=["a", "b"])
    with pytest.raises(ValueError, match="holds the label 2, out of range for num_classes=2"):
        metrics.classification_report(PRED, TARGET, target_names=["a", "b"])
    with pytest.raises(TypeError, match="must be a minitorch Tensor"):
        metrics.accuracy({0: 1}, [0])


# ---- random labels against an independent pure-Python computation --------------------------------
def reference(pred, target, num_classes):
    """Counts with plain loops; ratios with zero division = 0; averages as scikit-learn's."""
    n_cls = num_classes if num_classes is not None else max(pred + target) + 1
    labels = range(n_cls) if num_classes is not None else sorted(set(pred) | set(target))
    cm = [[0] * n_cls for _ in range(n_cls)]
    for p, t in zip(pred, target):
        cm[t][p] += 1

    def div(a, b):
        return a / b if b else 0.0

    per = {"precision": [], "recall": [], "f1": []}
    support = []
    for c in range(n_cls):
        tp = cm[c][c]
        fp = sum(cm[t][c] for t in range(n_cls)) - tp
        fn = sum(cm[c]) - tp
        prec, rec = div(tp, tp + fp), div(tp, tp + fn)
        per["precision"].append(prec)
        per["recall"].append(rec)
        per["f1"].append(div(2 * prec * rec, prec + rec))
        support.append(tp + fn)
    total = sum(support[c] for c in labels)
    macro = {k: sum(v[c] for c in labels) / len(labels) for k, v in per.items()}
    weighted = {k: sum(v[c] * support[c] for c in labels) / total for k, v in per.items()}
    acc = sum(p == t for p, t in zip(pred, target)) / len(pred)
    return cm, per, support, macro, weighted, acc


@st.composite
def labelled(draw):
    n_cls = draw(st.integers(1, 6))
    n = draw(st.integers(1, 40))
    pred = draw(st.lists(st.integers(0, n_cls - 1), min_size=n, max_size=n))
    target = draw(st.lists(st.integers(0, n_cls - 1), min_size=n, max_size=n))
    num_classes = draw(st.sampled_from([None, n_cls, n_cls + 2]))
    return pred, target, num_classes


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)


@given(labelled())
def test_random_labels_match_the_pure_python_reference(case):
    pred, target, num_classes = case
    cm, per, support, macro, weighted, acc = reference(pred, target, num_classes)
    p_t, t_t = minitorch.tensor(pred), np.array(target)

    tensors_equal(metrics.confusion_matrix(p_t, t_t, num_classes), cm)
    assert close(metrics.accuracy(p_t, t_t), acc)
    per_class = metrics.precision_recall_f1(p_t, t_t, num_classes, average=None)
    for name, got in zip(("precision", "recall", "f1"), per_class):
        assert all(close(a, b) for a, b in zip(got.tolist(), per[name])), name
    for average, want in (("macro", macro), ("weighted", weighted)):
        got = metrics.precision_recall_f1(p_t, t_t, num_classes, average=average)
        assert all(close(a, want[k]) for a, k in zip(got, ("precision", "recall", "f1"))), average
    assert all(close(v, acc) for v in metrics.precision_recall_f1(p_t, t_t, num_classes,
                                                                  average="micro"))

    report = metrics.classification_report(p_t, t_t, num_classes, output_dict=True)
    for c in range(len(cm)):
        if str(c) in report:
            assert report[str(c)]["support"] == support[c]
            assert close(report[str(c)]["f1-score"], per["f1"][c])
    assert close(report["macro avg"]["f1-score"], macro["f1"]) and close(report["accuracy"], acc)
    text = metrics.classification_report(p_t, t_t, num_classes, digits=4)
    macro_line = next(line for line in text.splitlines() if line.strip().startswith("macro"))
    # each printed number is its value rounded to 4 digits; the value itself was compared to 1e-12
    # above, and a value at a rounding midpoint (0.94375) may print either way from one ulp apart
    for printed, k in zip(macro_line.split()[2:5], ("precision", "recall", "f1")):
        assert len(printed.split(".")[1]) == 4, macro_line
        assert abs(float(printed) - macro[k]) <= 0.5e-4 + 1e-12, (macro_line, k, macro[k])
