"""Losses of ``minitorch.nn.functional`` against torch: forward and backward, float64 and float32.

smooth_l1_loss and huber_loss: residuals drawn on both sides of β/δ (and exactly at the kinks),
β = 0 (L1) and large thresholds, broadcast input/target pairs, huber's weight, mixed dtypes.

Hypothesis draws the shapes (with and without spatial dims, unbatched), class weights,
ignore_index hits, label smoothing, probability targets and reductions; ``check`` compares the
outputs and the gradients for a random cotangent. Small float64 cases go through ``gradcheck``;
the error messages are tested with ``pytest.raises(match=...)``.
"""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_compare import check

import minitorch
import minitorch.nn.functional as F
import minitorch.nn.functional.loss as loss_module
from minitorch.autograd import gradcheck

DTYPES = st.sampled_from(["float64", "float32"])
SEEDS = st.integers(0, 2**32 - 1)
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])
SMOOTHING = st.sampled_from([0.0, 0.0, 0.05, 0.3, 1.0])


def f64(a, requires_grad=True):
    return minitorch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


@st.composite
def class_problems(draw, min_classes=1):
    """(input shape, target shape, C): (N,C,d1..) / (N,d1..), or unbatched (C,) / ()."""
    n_classes = draw(st.integers(min_classes, 5), label="C")
    if draw(st.integers(0, 5), label="unbatched?") == 0:
        return (n_classes,), (), n_classes
    n = draw(st.integers(1, 4), label="N")
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2), label="spatial"))
    return (n, n_classes) + spatial, (n,) + spatial, n_classes


def draw_targets(draw, rng, target_shape, n_classes):
    """Class indices, some of them replaced by ignore_index when one is drawn."""
    target = rng.integers(0, n_classes, target_shape)
    ignore_index = draw(st.sampled_from(["default", "class", "other"]), label="ignore_index")
    if ignore_index == "default":
        return target, -100
    value = int(rng.integers(0, n_classes)) if ignore_index == "class" else -1
    hits = rng.random(target_shape) < 0.3
    return np.where(hits, value, target), value


# ---------------------------------------------------------------------------------------------
# cross_entropy / nll_loss with class-index targets
# ---------------------------------------------------------------------------------------------
@given(data=st.data(), problem=class_problems(), seed=SEEDS, dtype=DTYPES,
       reduction=REDUCTIONS, smoothing=SMOOTHING, weighted=st.booleans(),
       scale=st.sampled_from([1.0, 1.0, 10.0]))
def test_cross_entropy_class_indices_vs_torch(data, problem, seed, dtype, reduction, smoothing,
                                              weighted, scale):
    in_shape, t_shape, n_classes = problem
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(in_shape) * scale
    target, ignore_index = draw_targets(data.draw, rng, t_shape, n_classes)
    w = rng.uniform(0.2, 2.0, n_classes)

    def fn(L, x, target, w):
        return L.nn.functional.cross_entropy(x, target, weight=w if weighted else None,
                                             ignore_index=ignore_index, reduction=reduction,
                                             label_smoothing=smoothing)
    check(fn, x, target, w, dtype=dtype, grad=(True, False, False))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("in_shape", [(5, 4), (2, 4, 3, 2), (4,)])
def test_cross_entropy_every_combination(reduction, smoothing, weighted, in_shape):
    """Every reduction × smoothing × weight combination, with ignored targets, deterministically
    (the hypothesis test above samples them; this grid makes sure none is ever skipped)."""
    rng = np.random.default_rng(len(in_shape) * 7 + int(weighted))
    n_classes = in_shape[0] if len(in_shape) == 1 else in_shape[1]
    x = rng.standard_normal(in_shape)
    t_shape = () if len(in_shape) == 1 else in_shape[:1] + in_shape[2:]
    t = rng.integers(0, n_classes, t_shape)
    if t.ndim:
        t.reshape(-1)[::3] = 2  # some targets hit ignore_index=2
    w = rng.uniform(0.2, 2.0, n_classes)
    for dtype in ("float64", "float32"):
        check(lambda L, x, t, w: L.nn.functional.cross_entropy(
            x, t, w if weighted else None, ignore_index=2, reduction=reduction,
            label_smoothing=smoothing), x, t, w, dtype=dtype, grad=(True, False, False))
        q = rng.random(in_shape)
        check(lambda L, x, q, w: L.nn.functional.cross_entropy(
            x, q, w if weighted else None, reduction=reduction, label_smoothing=smoothing),
            x, q, w, dtype=dtype, grad=(True, True, False))


@given(n=st.integers(1, 40), n_classes=st.integers(1, 300), seed=SEEDS, dtype=DTYPES,
       reduction=REDUCTIONS, spread=st.sampled_from([0.5, 5.0, 80.0, 1000.0]),
       shift=st.sampled_from(["skipped where allowed", "always"]))
def test_fused_cross_entropy_vs_torch_with_and_without_the_shift(
        n, n_classes, seed, dtype, reduction, spread, shift):
    """The one-Function path (2-D logits, class indices, no weight or smoothing): row maxima
    below and beyond the no-shift limit (±60 float32, ±600 float64) and mixed, and the same
    inputs with the shift forced, both against torch, forward and backward."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_classes)) * spread + rng.uniform(-spread, spread, (n, 1))
    t = rng.integers(0, n_classes, n)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loss_module, "_NO_SHIFT_ABOVE", 0)      # small inputs take it too
        if shift == "always":
            mp.setattr(loss_module, "_NO_SHIFT_LIMIT", {})
        check(lambda L, x, t: L.nn.functional.cross_entropy(x, t, reduction=reduction), x, t,
              dtype=dtype, grad=(True, False))


def test_fused_cross_entropy_takes_both_paths(monkeypatch):
    """The shift is skipped exactly when every row's maximum lies within the limit (a test of
    the decision, so that the test above compares both formulas)."""
    monkeypatch.setattr(loss_module, "_NO_SHIFT_ABOVE", 0)
    seen = []
    real_exp = np.exp
    monkeypatch.setattr(loss_module.np, "exp", lambda a, **kw: seen.append(a.max()) or
                        real_exp(a, **kw), raising=True)
    x = np.array([[59.0, 1.0, -3.0], [-60.0, -61.0, -70.0]], np.float32)
    F.cross_entropy(minitorch.tensor(x), minitorch.tensor([0, 2]))
    x[1, 0] = -61.5       # one row's maximum beyond −60: every row is shifted
    F.cross_entropy(minitorch.tensor(x), minitorch.tensor([0, 2]))
    # the first call's second exp is e^(−m) of the two row maxima, for the log term
    assert seen == [59.0, 60.0, 0.0]


def test_fused_cross_entropy_backward_twice_needs_retain_graph():
    x = minitorch.tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    loss = F.cross_entropy(x, minitorch.tensor([0]))
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


@pytest.mark.parametrize("shift", ["skipped where allowed", "always"])
@pytest.mark.parametrize("row,g", [([-60.0, -61.0], 1e13), ([60.0, 59.0], 1e-20),
                                   ([-59.5, -70.0], 3e30), ([0.5, -0.5], 1e-30)])
def test_fused_cross_entropy_extreme_cotangents_as_torch(monkeypatch, shift, row, g):
    """Backward forms softmax = E / S before multiplying by ĝ: ĝ / S alone overflows (or
    underflows) where S, unshifted, is near e^−60 (or e^60)."""
    monkeypatch.setattr(loss_module, "_NO_SHIFT_ABOVE", 0)
    if shift == "always":
        monkeypatch.setattr(loss_module, "_NO_SHIFT_LIMIT", {})
    x = np.array([row], np.float32)
    xm, xt = minitorch.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for reduction in ("none", "sum"):
        cot = np.array([g] if reduction == "none" else g, np.float32)
        F.cross_entropy(xm, minitorch.tensor([1]), reduction=reduction).backward(
            minitorch.tensor(cot))
        torch.nn.functional.cross_entropy(xt, torch.tensor([1]), reduction=reduction).backward(
            torch.tensor(cot))
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=0)
        xm.grad = None
        xt.grad = None


@pytest.mark.parametrize("shift", ["skipped where allowed", "always"])
@pytest.mark.parametrize("offset", [-55.0, 0.0, 50.0, 300.0, 1000.0])
def test_fused_cross_entropy_small_losses_as_accurate_as_torch(monkeypatch, shift, offset):
    """Confident right predictions have tiny losses: they must not round at the size of the
    logits (log Σ e^x − x[t] would). float32 against a float64 reference, per row: at most
    torch's own error plus 2ε (torch's sum has an exact 1 in it, ours e^(x_max)·e^(−m)) plus 2ε
    relative (the two roundings of (m − x[t]) + log(…), which torch orders differently)."""
    monkeypatch.setattr(loss_module, "_NO_SHIFT_ABOVE", 0)
    if shift == "always":
        monkeypatch.setattr(loss_module, "_NO_SHIFT_LIMIT", {})
    rng = np.random.default_rng(int(abs(offset)) + 7)
    x = (rng.standard_normal((2000, 10)) * 3 + offset).astype(np.float32)
    t = x.argmax(axis=1)                      # the right class: small losses
    exact = torch.nn.functional.cross_entropy(torch.tensor(x, dtype=torch.float64),
                                              torch.tensor(t), reduction="none").numpy()
    ours = F.cross_entropy(minitorch.tensor(x), minitorch.tensor(t), reduction="none").numpy()
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t),
                                               reduction="none").numpy()
    eps = np.finfo(np.float32).eps
    bound = np.abs(theirs - exact) + 2 * eps * (1 + np.abs(exact))
    assert (np.abs(ours - exact) <= bound).all(), np.max(np.abs(ours - exact) - bound)


def test_fused_cross_entropy_of_one_class_is_exactly_zero():
    x = minitorch.tensor(np.full((70000, 1), 12.5, np.float32), requires_grad=True)
    loss = F.cross_entropy(x, minitorch.tensor(np.zeros(70000, np.int64)), reduction="none")
    assert (loss.detach().numpy() == 0).all()


def test_fused_cross_entropy_on_threads_gives_the_bits_of_one_call(monkeypatch):
    """Above parallel.ROW_BLOCKS_ABOVE entries forward and backward go in blocks of rows on the
    intra-op threads: the same bits as one call, and torch's values."""
    from minitorch.backend import parallel
    rng = np.random.default_rng(5)
    x = rng.standard_normal((200, 300)).astype(np.float32) * 4
    t = rng.integers(0, 300, 200)
    g = rng.standard_normal(200).astype(np.float32)
    before, blocks = minitorch.get_num_threads(), []
    real = parallel.for_row_blocks
    monkeypatch.setattr(parallel, "for_row_blocks", lambda *a: blocks.append(a) or real(*a))
    monkeypatch.setattr(parallel, "GRAIN", 3000)              # blocks of 10 rows
    results = []
    try:
        minitorch.set_num_threads(3)
        for above in (0, x.size):                             # on threads, then one call
            monkeypatch.setattr(parallel, "ROW_BLOCKS_ABOVE", above)
            xm = minitorch.tensor(x, requires_grad=True)
            out = F.cross_entropy(xm, minitorch.tensor(t), reduction="none")
            out.backward(minitorch.tensor(g))
            results.append((out.detach().numpy(), xm.grad.numpy()))
    finally:
        minitorch.set_num_threads(before)
    assert len(blocks) == 2                                   # forward and backward, blocked once
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.cross_entropy(xt, torch.tensor(t), reduction="none")
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(results[0][0], out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(results[0][1], xt.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("row", [[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0],
                                 [-np.inf, -np.inf, -np.inf]])
def test_fused_cross_entropy_non_finite_logits_as_torch(row, reduction):
    x = np.array([row, [0.5, -0.5, 2.0]])
    check(lambda L, x, t: L.nn.functional.cross_entropy(x, t, reduction=reduction), x,
          np.array([1, 2]), dtype="float64", grad=(True, False))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_fused_cross_entropy(reduction):
    rng = np.random.default_rng(4)
    t = minitorch.tensor([1, 3, 0])
    for scale in (1.0, 300.0):     # without and with the shift (limit ±600 in float64)
        x = f64(rng.standard_normal((3, 4)) + scale)
        assert gradcheck(lambda x: F.cross_entropy(x, t, reduction=reduction), (x,))


@given(data=st.data(), problem=class_problems(), seed=SEEDS, dtype=DTYPES,
       reduction=REDUCTIONS, weighted=st.booleans())
def test_nll_loss_vs_torch(data, problem, seed, dtype, reduction, weighted):
    in_shape, t_shape, n_classes = problem
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(in_shape)  # nll_loss accepts any scores, not only log-probabilities
    target, ignore_index = draw_targets(data.draw, rng, t_shape, n_classes)
    w = rng.uniform(0.2, 2.0, n_classes)

    def fn(L, x, target, w):
        return L.nn.functional.nll_loss(x, target, w if weighted else None,
                                        ignore_index=ignore_index, reduction=reduction)
    check(fn, x, target, w, dtype=dtype, grad=(True, False, False))


def test_cross_entropy_uint8_targets_and_positional_arguments():
    rng = np.random.default_rng(0)
    x, t, w = rng.standard_normal((5, 4)), rng.integers(0, 4, 5).astype(np.uint8), rng.random(4)
    check(lambda L, x, t: L.nn.functional.cross_entropy(x, t), x, t)
    # torch's positional order: input, target, weight, size_average, ignore_index, reduce, reduction
    check(lambda L, x, t, w: L.nn.functional.cross_entropy(x, t, w, None, 2, None, "sum", 0.1),
          x, t.astype(np.int64), w, grad=(True, False, False))
    check(lambda L, x, t, w: L.nn.functional.nll_loss(x, t, w, None, 1, None, "none"),
          x, t.astype(np.int64), w, grad=(True, False, False))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_all_targets_ignored(smoothing):
    x = np.random.default_rng(0).standard_normal((3, 4))
    t = np.array([1, 1, 1])
    m, _ = check(lambda L, x, t: L.nn.functional.cross_entropy(
        x, t, ignore_index=1, label_smoothing=smoothing), x, t)
    assert np.isnan(m.item())  # 0 / 0, as torch
    check(lambda L, x, t: L.nn.functional.cross_entropy(
        x, t, ignore_index=1, reduction="sum", label_smoothing=smoothing), x, t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_empty_batch(reduction):
    empty_x, empty_t = np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    check(lambda L, x, t: L.nn.functional.cross_entropy(x, t, reduction=reduction),
          empty_x, empty_t)


# ---------------------------------------------------------------------------------------------
# cross_entropy with class-probability targets
# ---------------------------------------------------------------------------------------------
@given(problem=class_problems(), seed=SEEDS, dtype=DTYPES, reduction=REDUCTIONS,
       smoothing=SMOOTHING, weighted=st.booleans(), normalized=st.booleans())
def test_cross_entropy_probability_targets_vs_torch(problem, seed, dtype, reduction, smoothing,
                                                    weighted, normalized):
    in_shape, _, n_classes = problem
    class_dim = 0 if len(in_shape) == 1 else 1
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(in_shape)
    q = rng.random(in_shape)
    if normalized:
        q = q / q.sum(axis=class_dim, keepdims=True)
    w = rng.uniform(0.2, 2.0, n_classes)

    def fn(L, x, q, w):
        return L.nn.functional.cross_entropy(x, q, weight=w if weighted else None,
                                             reduction=reduction, label_smoothing=smoothing)
    # the target gets a gradient too (the loss is differentiable in the probabilities)
    check(fn, x, q, w, dtype=dtype, grad=(True, True, False))


# ---------------------------------------------------------------------------------------------
# The derivative the seed document gets wrong
# ---------------------------------------------------------------------------------------------
@given(seed=SEEDS, n=st.integers(1, 6), n_classes=st.integers(1, 6))
def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(seed, n, n_classes):
    rng = np.random.default_rng(seed)
    z, y = rng.standard_normal((n, n_classes)) * 3, rng.integers(0, n_classes, n)
    logits = f64(z)
    F.cross_entropy(logits, minitorch.tensor(y)).backward()
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(n_classes)[y]
    np.testing.assert_allclose(np.asarray(logits.grad), (p - onehot) / n, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# mse_loss
# ---------------------------------------------------------------------------------------------
@given(shape=st.lists(st.integers(1, 4), max_size=3).map(tuple), seed=SEEDS, dtype=DTYPES,
       reduction=REDUCTIONS, weighted=st.booleans())
def test_mse_loss_vs_torch(shape, seed, dtype, reduction, weighted):
    rng = np.random.default_rng(seed)
    x, y, w = rng.standard_normal(shape), rng.standard_normal(shape), rng.uniform(0.1, 2, shape)
    if weighted:
        check(lambda L, x, y, w: L.nn.functional.mse_loss(x, y, reduction=reduction, weight=w),
              x, y, w, dtype=dtype)
    else:
        check(lambda L, x, y: L.nn.functional.mse_loss(x, y, reduction=reduction), x, y,
              dtype=dtype)


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("x_shape,y_shape", [((3, 4), (3, 1)), ((3, 1), (4,)), ((2, 3), ())])
def test_mse_loss_broadcasts_with_torchs_warning(x_shape, y_shape, reduction):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    with pytest.warns(UserWarning, match="different to the input size"):
        check(lambda L, x, y: L.nn.functional.mse_loss(x, y, reduction=reduction), x, y)


def test_mse_loss_mixed_dtypes_follow_torchs_promotion():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3)).astype(np.float32), rng.integers(-2, 2, (2, 3))
    check(lambda L, x, y: L.nn.functional.mse_loss(x, y), x, y, dtype="float32")


# ---------------------------------------------------------------------------------------------
# smooth_l1_loss / huber_loss
# ---------------------------------------------------------------------------------------------
THRESHOLDS = [0.0, 1e-3, 0.5, 1.0, 3.0, 1e3]  # β for smooth_l1 (0: the L1 loss); δ > 0 for huber


@st.composite
def broadcast_pairs(draw):
    """(input shape, target shape): equal most of the time, else the target broadcasts to it
    (some dims 1, leading dims dropped) or the input broadcasts to the target."""
    shape = tuple(draw(st.lists(st.integers(1, 4), max_size=3), label="shape"))
    kind = draw(st.sampled_from(["same", "same", "same", "target", "input"]), label="broadcast")
    if kind == "same" or not shape:
        return shape, shape
    small = tuple(1 if draw(st.booleans()) else n for n in shape)
    small = small[draw(st.integers(0, len(small)), label="drop"):]
    return (shape, small) if kind == "target" else (small, shape)


def residual_problem(seed, x_shape, y_shape, threshold):
    """x, y whose residuals land on both sides of the threshold: |x − y| spans 0.01·t .. 10·t
    (t = the threshold, or 1 for t = 0). One of the two shapes is the broadcast shape."""
    rng = np.random.default_rng(seed)
    out = np.broadcast_shapes(x_shape, y_shape)
    d = rng.standard_normal(out) * (threshold or 1.0) * 10.0 ** rng.uniform(-2, 1, out)
    if tuple(x_shape) == out:
        y = rng.standard_normal(y_shape)
        return y + d, y
    x = rng.standard_normal(x_shape)
    return x, x - d


@given(shapes=broadcast_pairs(), seed=SEEDS, dtype=DTYPES, reduction=REDUCTIONS,
       beta=st.sampled_from(THRESHOLDS), huber=st.booleans())
def test_smooth_l1_and_huber_vs_torch(shapes, seed, dtype, reduction, beta, huber):
    x_shape, y_shape = shapes
    threshold = (beta or 0.5) if huber else beta
    x, y = residual_problem(seed, x_shape, y_shape, threshold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the broadcast warning: tested below
        if huber:
            check(lambda L, x, y: L.nn.functional.huber_loss(x, y, reduction=reduction,
                                                             delta=threshold), x, y, dtype=dtype)
        else:
            check(lambda L, x, y: L.nn.functional.smooth_l1_loss(x, y, reduction=reduction,
                                                                 beta=threshold), x, y,
                  dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
def test_smooth_l1_and_huber_every_combination(name, threshold, reduction, dtype):
    """Each threshold × reduction × dtype once, deterministically; the residuals include 0 and
    ±threshold exactly (the kinks) besides values on both sides."""
    if name == "huber_loss" and threshold == 0:
        threshold = 0.25  # huber_loss refuses δ = 0 (tested below)
    rng = np.random.default_rng(7)
    y = rng.standard_normal((3, 5))
    y[0] = 0.0  # so the first row's residuals are exactly d
    d = threshold * np.array([0.0, 1.0, -1.0, 0.3, -0.7]) + np.array([0, 0, 0, 0.01, -0.01])
    d = np.stack([d, 5 * rng.standard_normal(5), (threshold or 1) * rng.uniform(-3, 3, 5)])
    x = y + d
    check(lambda L, x, y: getattr(L.nn.functional, name)(
        x, y, reduction=reduction, **{"beta" if name == "smooth_l1_loss" else "delta": threshold}),
        x, y, dtype=dtype)


@given(shape=st.lists(st.integers(1, 4), max_size=3).map(tuple), seed=SEEDS, dtype=DTYPES,
       reduction=REDUCTIONS, delta=st.sampled_from(THRESHOLDS[1:]))
def test_huber_loss_weighted_vs_torch(shape, seed, dtype, reduction, delta):
    """weight: a differentiable factor (its gradient too), and 'mean' divides by n, not Σw."""
    x, y = residual_problem(seed, shape, shape, delta)
    w = np.random.default_rng(seed + 1).uniform(0.1, 2.0, shape)
    check(lambda L, x, y, w: L.nn.functional.huber_loss(x, y, reduction=reduction, delta=delta,
                                                        weight=w), x, y, w, dtype=dtype)


def test_huber_weighted_mean_divides_by_the_number_of_elements():
    x, y, w = f64([1.0, 2.0, -0.5]), f64([0.0, 0.0, 0.0]), f64([2.0, 0.5, 4.0])
    expected = (2.0 * 0.5 + 0.5 * 1.5 + 4.0 * 0.125) / 3  # δ = 1: 0.5, δ(2 − δ/2), z²/2
    assert F.huber_loss(x, y, weight=w).item() == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("x_shape,y_shape", [((3, 4), (3, 1)), ((3, 1), (4,)), ((2, 3), ())])
def test_smooth_l1_and_huber_broadcast_with_torchs_warning(name, x_shape, y_shape):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    with pytest.warns(UserWarning, match="different to the input size"):
        check(lambda L, x, y: getattr(L.nn.functional, name)(x, y, reduction="sum"), x, y)


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("x_dtype,y_dtype", [(np.float32, np.float64), (np.float64, np.float32),
                                             (np.float32, np.int64)])
def test_smooth_l1_and_huber_mixed_dtypes_as_torch(name, x_dtype, y_dtype):
    """smooth_l1 computes in the promoted dtype; huber's result takes the input's dtype."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 3)) * 2).astype(x_dtype)
    y = rng.integers(-2, 2, (2, 3)).astype(y_dtype)
    promoted = "float64" if np.float64 in (x_dtype, y_dtype) else "float32"

    def fn(L, x, y):
        if name == "huber_loss" and L is torch:
            # torch 2.13's huber_loss backward fails on mixed dtypes ("Found dtype Double but
            # expected Float"); the reference is the same loss with both cast to the promoted
            # dtype by hand, cast back to the input's dtype, which is what ours computes
            return torch.nn.functional.huber_loss(x.to(getattr(torch, promoted)),
                                                  y.to(getattr(torch, promoted)),
                                                  reduction="none").to(x.dtype)
        return getattr(L.nn.functional, name)(x, y, reduction="none")
    # check keeps each array's dtype (dtype=None) and asserts the output dtypes agree
    check(fn, x, y, dtype=None, rtol=1e-5)
    if name == "huber_loss":  # torch's own forward gives the same values
        check(lambda L, x, y: L.nn.functional.huber_loss(x, y, reduction="none"), x, y,
              dtype=None, rtol=1e-5, backward=False)


def test_smooth_l1_beta_0_is_l1_and_huber_is_delta_times_smooth_l1():
    rng = np.random.default_rng(2)
    x, y = f64(rng.standard_normal((4, 3))), f64(rng.standard_normal((4, 3)))
    l1 = F.smooth_l1_loss(x, y, beta=0.0, reduction="none")
    np.testing.assert_array_equal(np.asarray(l1.detach()), np.abs(np.asarray((x - y).detach())))
    for delta in (0.3, 1.0, 2.5):
        np.testing.assert_allclose(
            np.asarray(F.huber_loss(x, y, delta=delta, reduction="none").detach()),
            delta * np.asarray(F.smooth_l1_loss(x, y, beta=delta, reduction="none").detach()),
            rtol=1e-14)
    # at a zero residual the L1 gradient is 0 (sign(0)), as torch's l1_loss
    check(lambda L, x, y: L.nn.functional.smooth_l1_loss(x, y, beta=0.0, reduction="sum"),
          np.array([1.0, -2.0, 0.5]), np.array([1.0, 0.0, 0.5]))


@pytest.mark.parametrize("module,kwargs", [("SmoothL1Loss", {}), ("SmoothL1Loss", dict(beta=0.2)),
                                           ("SmoothL1Loss", dict(beta=0.0, reduction="sum")),
                                           ("HuberLoss", {}),
                                           ("HuberLoss", dict(delta=0.3, reduction="none"))])
def test_smooth_l1_and_huber_modules(module, kwargs):
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    check(lambda L, x, y: getattr(L.nn, module)(**kwargs)(x, y), x, y)
    m, t = (repr(getattr(L.nn, module)(**kwargs)) for L in (minitorch, torch))
    assert m == t
    if module == "SmoothL1Loss":
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            loss = minitorch.nn.SmoothL1Loss(size_average=False, **kwargs)
        assert loss.reduction == "sum"


def test_gradcheck_smooth_l1_and_huber():
    rng = np.random.default_rng(5)
    x, y = f64(rng.standard_normal((3, 4)) * 2), f64(rng.standard_normal((3, 4)))
    w = f64(rng.uniform(0.5, 2, (3, 4)))
    assert gradcheck(lambda x, y: F.smooth_l1_loss(x, y, beta=0.7), (x, y))
    assert gradcheck(lambda x, y: F.smooth_l1_loss(x, y, beta=0.0, reduction="sum"), (x, y))
    assert gradcheck(lambda x, y, w: F.huber_loss(x, y, delta=1.3, weight=w), (x, y, w))


def test_smooth_l1_and_huber_errors():
    x = minitorch.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"smooth_l1_loss does not support negative values for "
                                           r"beta \(got beta=-0.5\)"):
        F.smooth_l1_loss(x, x, beta=-0.5)
    for bad in (0.0, -1.0):
        with pytest.raises(RuntimeError, match=rf"huber_loss does not support non-positive values "
                                               rf"for delta \(got delta={bad}\)"):
            F.huber_loss(x, x, delta=bad)
    with pytest.raises(ValueError, match=r"huber_loss: weight \(4,\) and input \(3,4\) must have "
                                         r"the same size"):
        F.huber_loss(x, x, weight=minitorch.ones(4))
    for name in ("smooth_l1_loss", "huber_loss"):
        with pytest.raises(ValueError, match=rf"{name}: 'avg' is not a valid value for reduction"):
            getattr(F, name)(x, x, reduction="avg")
        with pytest.warns(UserWarning), pytest.raises(ValueError, match=rf"{name}: cannot "
                                                                        rf"broadcast \(3,4\) with "
                                                                        rf"\(3,3\)"):
            getattr(F, name)(x, minitorch.zeros(3, 3))
        with pytest.raises(NotImplementedError, match=r"expected floating point input or target, "
                                                      r"got int64 and int64"):
            getattr(F, name)(minitorch.tensor([1, 2]), minitorch.tensor([1, 3]))
        with pytest.raises(TypeError, match=rf"{name}\(\): argument 'target' must be a Tensor"):
            getattr(F, name)(x, 1.0)
    with pytest.raises(RuntimeError, match=r"huber_loss: result type float32 can't be cast to the "
                                           r"desired output type int64"):
        F.huber_loss(minitorch.tensor([1, 2]), minitorch.tensor([1.0, 3.0]))


def test_torch_agrees_smooth_l1_and_huber_errors():
    """The same inputs are errors in torch, of the same type."""
    x = torch.zeros(3, 4)
    cases = [(RuntimeError, lambda: torch.nn.functional.smooth_l1_loss(x, x, beta=-0.5)),
             (RuntimeError, lambda: torch.nn.functional.huber_loss(x, x, delta=0.0)),
             (RuntimeError, lambda: torch.nn.functional.huber_loss(x, x, delta=-1.0)),
             (ValueError, lambda: torch.nn.functional.huber_loss(x, x, weight=torch.ones(4))),
             (ValueError, lambda: torch.nn.functional.smooth_l1_loss(x, x, reduction="avg")),
             (RuntimeError, lambda: torch.nn.functional.huber_loss(torch.tensor([1, 2]),
                                                                   torch.tensor([1.0, 3.0]))),
             (NotImplementedError, lambda: torch.nn.functional.smooth_l1_loss(
                 torch.tensor([1, 2]), torch.tensor([1, 3])))]
    for exc, call in cases:
        with pytest.raises(exc):
            call()


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy
# ---------------------------------------------------------------------------------------------
@given(shape=st.lists(st.integers(1, 4), max_size=3).map(tuple), seed=SEEDS, dtype=DTYPES,
       reduction=REDUCTIONS, weight=st.sampled_from(["none", "full", "last", "scalar"]),
       hard=st.booleans())
def test_binary_cross_entropy_vs_torch(shape, seed, dtype, reduction, weight, hard):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.02, 0.98, shape)
    y = rng.integers(0, 2, shape).astype(np.float64) if hard else rng.random(shape)
    if weight == "none":
        check(lambda L, x, y: L.nn.functional.binary_cross_entropy(x, y, reduction=reduction),
              x, y, dtype=dtype)
        return
    w_shape = {"full": shape, "last": shape[-1:], "scalar": ()}[weight]
    w = rng.uniform(0.1, 2.0, w_shape)
    check(lambda L, x, y, w: L.nn.functional.binary_cross_entropy(x, y, w, reduction=reduction),
          x, y, w, dtype=dtype, grad=(True, True, False))


# x = 0 or 1 exactly: log is -inf, torch clamps it at -100; the input gradient stays finite
BCE_EDGE_X = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1e-50])
BCE_EDGE_Y = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 1.0])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_binary_cross_entropy_clamps_the_log_at_minus_100(reduction):
    m, _ = check(lambda L, x, y: L.nn.functional.binary_cross_entropy(
        x, y, reduction=reduction), BCE_EDGE_X, BCE_EDGE_Y, grad=(True, False))
    assert np.isfinite(np.asarray(m.detach())).all()


def test_binary_cross_entropy_clamped_terms_are_100():
    out = F.binary_cross_entropy(f64(BCE_EDGE_X), f64(BCE_EDGE_Y, False), reduction="none")
    np.testing.assert_allclose(np.asarray(out.detach())[:2], [100.0, 100.0])


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# ---------------------------------------------------------------------------------------------
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=SEEDS,
       dtype=DTYPES, reduction=REDUCTIONS, scale=st.sampled_from([1.0, 10.0, 1e3]),
       weighted=st.booleans(), pos_weighted=st.booleans())
def test_bce_with_logits_vs_torch(shape, seed, dtype, reduction, scale, weighted, pos_weighted):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    y = rng.random(shape)
    w, pw = rng.uniform(0.1, 2.0, shape), rng.uniform(0.1, 3.0, shape[-1:])

    def fn(L, x, y, w, pw):
        m = L.nn.functional.binary_cross_entropy_with_logits(
            x, y, w if weighted else None, reduction=reduction,
            pos_weight=pw if pos_weighted else None)
        return m
    out, _ = check(fn, x, y, w, pw, dtype=dtype, grad=(True, True, False, False))
    assert np.isfinite(np.asarray(out.detach())).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_binary_losses_every_combination(reduction, weighted, pos_weighted):
    rng = np.random.default_rng(int(weighted) + 2 * int(pos_weighted))
    x, y = rng.standard_normal((3, 4)) * 4, rng.random((3, 4))
    w, pw = rng.uniform(0.1, 2.0, (3, 1)), rng.uniform(0.1, 3.0, 4)
    for dtype in ("float64", "float32"):
        check(lambda L, x, y, w, pw: L.nn.functional.binary_cross_entropy_with_logits(
            x, y, w if weighted else None, reduction=reduction,
            pos_weight=pw if pos_weighted else None), x, y, w, pw, dtype=dtype,
            grad=(True, True, False, False))
        p = 1 / (1 + np.exp(-x))
        check(lambda L, p, y, w: L.nn.functional.binary_cross_entropy(
            p, y, w if weighted else None, reduction=reduction), p, y, w, dtype=dtype,
            grad=(True, True, False))


# ---------------------------------------------------------------------------------------------
# Stability at logits of magnitude 1e3
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_losses_are_stable_for_logits_of_magnitude_1e3(dtype):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 999.0, 1000.0], [3.0, -1000.0, -1000.0]])
    t = np.array([1, 0, 2])
    q = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    w = np.array([0.5, 1.0, 2.0])
    cases = [
        (lambda L, x, t: L.nn.functional.cross_entropy(x, t), (x, t), None),
        (lambda L, x, t: L.nn.functional.cross_entropy(x, t, label_smoothing=0.1,
                                                       reduction="none"), (x, t), None),
        (lambda L, x, t, w: L.nn.functional.cross_entropy(x, t, w), (x, t, w),
         (True, False, False)),
        (lambda L, x, q: L.nn.functional.cross_entropy(x, q), (x, q), None),
        (lambda L, x: L.nn.functional.log_softmax(x, 1), (x,), None),
        (lambda L, x, q: L.nn.functional.binary_cross_entropy_with_logits(x, q), (x, q), None),
        (lambda L, x, q, w: L.nn.functional.binary_cross_entropy_with_logits(
            x, q, reduction="none", pos_weight=w), (x, q, w), (True, True, False)),
    ]
    for fn, arrays, grad in cases:
        out, _ = check(fn, *arrays, dtype=dtype, grad=grad)
        assert np.isfinite(np.asarray(out.detach())).all()


# ---------------------------------------------------------------------------------------------
# Legacy size_average / reduce
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True),
                                                 (False, True), (True, False)])
def test_legacy_size_average_and_reduce_map_as_torch(size_average, reduce):
    rng = np.random.default_rng(0)
    x, t, y = rng.standard_normal((4, 3)), rng.integers(0, 3, 4), rng.random((4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda L, x, t: L.nn.functional.cross_entropy(
            x, t, size_average=size_average, reduce=reduce), x, t)
        check(lambda L, x, y: L.nn.functional.mse_loss(
            x, y, size_average=size_average, reduce=reduce), x, y)
        check(lambda L, x, y: L.nn.functional.binary_cross_entropy_with_logits(
            x, y, size_average=size_average, reduce=reduce), x, y)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        F.nll_loss(f64(x), minitorch.tensor(t), size_average=size_average, reduce=reduce)


# ---------------------------------------------------------------------------------------------
# gradcheck: full Jacobians in float64
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_class_index_losses(reduction):
    rng = np.random.default_rng(3)
    x = f64(rng.standard_normal((3, 4)))
    t = minitorch.tensor([1, 3, 0])
    w = f64(rng.uniform(0.5, 2, 4), requires_grad=False)
    assert gradcheck(lambda x: F.cross_entropy(x, t, w, ignore_index=3, reduction=reduction,
                                               label_smoothing=0.2), (x,))
    assert gradcheck(lambda x: F.nll_loss(x, t, w, reduction=reduction), (x,))


def test_gradcheck_losses():
    rng = np.random.default_rng(3)  # the same x and w as test_gradcheck_class_index_losses
    x = f64(rng.standard_normal((3, 4)))
    w = f64(rng.uniform(0.5, 2, 4), requires_grad=False)
    x4 = f64(rng.standard_normal((2, 3, 2)))
    t4 = minitorch.tensor([[0, 2], [1, 1]])
    assert gradcheck(lambda x: F.cross_entropy(x, t4, label_smoothing=0.1), (x4,))
    q = f64(rng.random((3, 4)))
    assert gradcheck(lambda x, q: F.cross_entropy(x, q, w, label_smoothing=0.3), (x, q))
    y = f64(rng.random((3, 4)))
    assert gradcheck(lambda x, y: F.mse_loss(x, y), (x, y))
    p = f64(rng.uniform(0.05, 0.95, (3, 4)))
    assert gradcheck(lambda p, y: F.binary_cross_entropy(p, y, w), (p, y))
    pw = f64(rng.uniform(0.5, 3, 4), requires_grad=False)
    assert gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, w, pos_weight=pw,
                                                                     reduction="sum"), (x, y))


# ---------------------------------------------------------------------------------------------
# Error messages
# ---------------------------------------------------------------------------------------------
def test_cross_entropy_target_out_of_bounds():
    x = minitorch.zeros(4, 10)
    with pytest.raises(IndexError,
                       match=r"cross_entropy: target 10 is out of bounds for 10 classes"):
        F.cross_entropy(x, minitorch.tensor([0, 10, 3, 1]))
    with pytest.raises(IndexError, match=r"target -1 is out of bounds for 10 classes"):
        F.cross_entropy(x, minitorch.tensor([0, -1, 3, 1]))
    with pytest.raises(IndexError, match=r"nll_loss: target 12 is out of bounds for 10 classes"):
        F.nll_loss(x, minitorch.tensor([0, 12, 3, 1]))
    with pytest.raises(IndexError, match=r"target 3 is out of bounds for 3 classes"):
        F.cross_entropy(minitorch.zeros(2, 3, 5), minitorch.zeros(2, 5, dtype=minitorch.int64) + 3)
    # ignore_index is excepted, also when it lies outside 0..C-1
    F.cross_entropy(x, minitorch.tensor([0, -100, 3, 1]))
    F.cross_entropy(x, minitorch.tensor([0, 55, 3, 1]), ignore_index=55)


def test_cross_entropy_target_dtype_and_shape_errors():
    x = minitorch.zeros(4, 3)
    with pytest.raises(RuntimeError, match=r"expected target dtype to be int64 \(Long\) or uint8 "
                                           r"\(Byte\) class indices, but got float32.*class "
                                           r"probabilities must have the input's shape \(4,3\)"):
        F.cross_entropy(x, minitorch.tensor([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(RuntimeError, match=r"but got int32"):
        F.cross_entropy(x, minitorch.tensor([0, 1, 2, 1], dtype=minitorch.int32))
    with pytest.raises(RuntimeError, match=r"holds class probabilities and must be floating "
                                           r"point, got int64"):
        F.cross_entropy(x, minitorch.zeros(4, 3, dtype=minitorch.int64))
    with pytest.raises(RuntimeError, match=r"expected a target of class indices of shape \(2,5\) "
                                           r"for input \(2,3,5\), got target \(2,4\)"):
        F.cross_entropy(minitorch.zeros(2, 3, 5), minitorch.zeros(2, 4, dtype=minitorch.int64))
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected input to be floating point, "
                                           r"got int64"):
        F.cross_entropy(minitorch.zeros(4, 3, dtype=minitorch.int64),
                        minitorch.tensor([0, 1, 2, 1]))
    with pytest.raises(RuntimeError, match=r"input must be \(C,\) or \(N,C,d1,...\)"):
        F.cross_entropy(minitorch.tensor(1.0), minitorch.tensor(0))


def test_batch_size_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"cross_entropy: input batch_size 3 does not match target "
                                         r"batch_size 4 \(input \(3,10\), target \(4,\)\)"):
        F.cross_entropy(minitorch.zeros(3, 10), minitorch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"nll_loss: input batch_size 2 does not match target "
                                         r"batch_size 5"):
        F.nll_loss(minitorch.zeros(2, 10, 4), minitorch.zeros(5, 4, dtype=minitorch.int64))


def test_class_weight_errors():
    x, t = minitorch.zeros(4, 3), minitorch.tensor([0, 1, 2, 1])
    with pytest.raises(RuntimeError, match=r"weight tensor should be defined either for all 3 "
                                           r"classes or no classes but got weight tensor of "
                                           r"shape \(4,\)"):
        F.cross_entropy(x, t, weight=minitorch.ones(4))
    with pytest.raises(RuntimeError, match=r"weight has dtype float64 but input has dtype float32"):
        F.nll_loss(x, t, weight=minitorch.ones(3, dtype=minitorch.float64))
    with pytest.raises(RuntimeError, match=r"not differentiable with respect to argument 'weight'"):
        F.cross_entropy(x, t, weight=minitorch.ones(3).requires_grad_())


def test_invalid_reduction_and_label_smoothing():
    x, t = minitorch.zeros(4, 3), minitorch.tensor([0, 1, 2, 1])
    calls = [
        ("cross_entropy", lambda r: F.cross_entropy(x, t, reduction=r)),
        ("nll_loss", lambda r: F.nll_loss(x, t, reduction=r)),
        ("mse_loss", lambda r: F.mse_loss(x, x, reduction=r)),
        ("binary_cross_entropy", lambda r: F.binary_cross_entropy(x, x, reduction=r)),
        ("binary_cross_entropy_with_logits",
         lambda r: F.binary_cross_entropy_with_logits(x, x, reduction=r)),
    ]
    for name, call in calls:
        with pytest.raises(ValueError, match=rf"{name}: 'avg' is not a valid value for reduction "
                                             rf"\(expected 'none', 'mean' or 'sum'\)"):
            call("avg")
    for bad in (1.5, -0.1):
        with pytest.raises(RuntimeError, match=rf"label_smoothing must be between 0.0 and 1.0. "
                                               rf"Got: {bad}"):
            F.cross_entropy(x, t, label_smoothing=bad)


def test_binary_cross_entropy_errors():
    p = minitorch.tensor([[0.2, 0.9], [0.5, 0.1]])
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy: all elements of input should "
                                           r"be between 0 and 1, but found 1.5 in input \(2,2\) "
                                           r"\(did you forget a sigmoid\?"):
        F.binary_cross_entropy(minitorch.tensor([[0.2, 1.5], [0.5, 0.1]]), p)
    with pytest.raises(RuntimeError, match=r"all elements of input should be between 0 and 1, "
                                           r"but found nan"):
        F.binary_cross_entropy(minitorch.tensor([[0.2, float("nan")], [0.5, 0.1]]), p)
    with pytest.raises(RuntimeError, match=r"all elements of target should be between 0 and 1, "
                                           r"but found -0.5"):
        F.binary_cross_entropy(p, minitorch.tensor([[0.2, -0.5], [0.5, 0.1]]))
    with pytest.raises(ValueError, match=r"Using a target size \(2,1\) that is different to the "
                                         r"input size \(2,2\)"):
        F.binary_cross_entropy(p, minitorch.tensor([[0.2], [0.5]]))
    with pytest.raises(RuntimeError, match=r"target has dtype float64 but input has dtype float32"):
        F.binary_cross_entropy(p, p.double())
    with pytest.raises(RuntimeError, match=r"weight \(3,\) does not broadcast to the input's "
                                           r"shape \(2,2\)"):
        F.binary_cross_entropy(p, p, weight=minitorch.ones(3))


def test_bce_with_logits_errors():
    x = minitorch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"Target size \(2,1\) must be the same as input size "
                                         r"\(2,3\)"):
        F.binary_cross_entropy_with_logits(x, minitorch.zeros(2, 1))
    with pytest.raises(RuntimeError, match=r"pos_weight \(2,\) does not broadcast to the input's "
                                           r"shape \(2,3\)"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=minitorch.ones(2))
    with pytest.raises(RuntimeError, match=r"expected target to be floating point, got int64"):
        F.binary_cross_entropy_with_logits(x, minitorch.zeros(2, 3, dtype=minitorch.int64))
    with pytest.raises(RuntimeError, match=r"not differentiable with respect to argument "
                                           r"'pos_weight'"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=minitorch.ones(3).requires_grad_())


def test_mse_loss_shape_errors():
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"mse_loss: cannot broadcast "
                                                                    r"\(3,4\) with \(3,3\)"):
        F.mse_loss(minitorch.zeros(3, 4), minitorch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"mse_loss: weight \(4,\) and input \(3,4\) must have "
                                         r"the same size"):
        F.mse_loss(minitorch.zeros(3, 4), minitorch.zeros(3, 4), weight=minitorch.ones(4))
    with pytest.raises(NotImplementedError, match=r"expected floating point input or target, "
                                                  r"got int64 and int64"):
        F.mse_loss(minitorch.tensor([1, 2]), minitorch.tensor([1, 3]))


def test_torch_agrees_these_inputs_are_errors():
    """The error cases above are errors in torch too (the messages differ, the verdict does not)."""
    x = torch.zeros(4, 10)
    for call in (lambda: torch.nn.functional.cross_entropy(x, torch.tensor([0, 10, 3, 1])),
                 lambda: torch.nn.functional.cross_entropy(x, torch.tensor([0.0, 1, 2, 1])),
                 lambda: torch.nn.functional.cross_entropy(x[:3], torch.tensor([0, 1, 2, 3])),
                 lambda: torch.nn.functional.binary_cross_entropy(torch.tensor([1.5]),
                                                                  torch.tensor([1.0])),
                 lambda: torch.nn.functional.mse_loss(torch.zeros(3, 4), torch.zeros(3, 3)),
                 lambda: torch.nn.functional.nll_loss(x, torch.tensor([0, 1, 2, 3]),
                                                      reduction="avg")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises((RuntimeError, ValueError, IndexError)):
                call()
