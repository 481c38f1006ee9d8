"""max_pool2d against torch: values, gradients and return_indices, in float64 and float32, over
hypothesis-drawn kernels, strides, paddings, dilations and ceil_mode (inputs without ties); torch's
choice on ties, NaN and all −∞ windows; gradcheck; and the error messages."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_compare import assert_close, check, to_mt, to_torch

import minitorch
from minitorch.autograd import gradcheck


def pool(kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, unbatched=False,
         return_indices=False):
    def fn(L, x):
        x = x[0] if unbatched else x
        return L.nn.functional.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode,
                                          return_indices=return_indices)
    return fn


def distinct_values(rng, shape):
    """A random permutation of distinct values: no ties, so the argmax is unambiguous."""
    size = int(np.prod(shape))
    return rng.permutation(size).reshape(shape) / size - 0.5


def assert_same_indices(fn, x, dtype="float64"):
    _, t_idx = fn(torch, to_torch(x, dtype))
    _, m_idx = fn(minitorch, to_mt(x, dtype))
    assert m_idx.dtype == minitorch.int64
    np.testing.assert_array_equal(m_idx.numpy(), t_idx.numpy())


@st.composite
def pool_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return dict(
        shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)),
               draw(st.integers(1, 10)), draw(st.integers(1, 10))),
        kernel=kernel,
        stride=draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4)))),
        padding=(draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2))),
        dilation=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        ceil_mode=draw(st.booleans()), unbatched=draw(st.booleans()),
        dtype=draw(st.sampled_from(["float64", "float32"])), seed=draw(st.integers(0, 2 ** 31)))


@given(pool_cases())
def test_max_pool2d_matches_torch(case):
    rng = np.random.default_rng(case["seed"])
    x = distinct_values(rng, case["shape"])
    args = (case["kernel"], case["stride"], case["padding"], case["dilation"], case["ceil_mode"],
            case["unbatched"])
    fn = pool(*args)
    try:
        reference = fn(torch, torch.from_numpy(x))
    except RuntimeError:  # torch refuses (the output would be empty): so must we
        with pytest.raises(RuntimeError, match="max_pool2d: the output would be empty"):
            fn(minitorch, minitorch.tensor(x))
        return
    # −∞ in the output (the inputs are finite) marks a window made of padding only: torch routes
    # its gradient outside the window (see test_window_of_padding_only), so compare forward only
    all_padding = bool(torch.isinf(reference).any())
    check(fn, x, dtype=case["dtype"], seed=case["seed"], backward=not all_padding)
    assert_same_indices(pool(*args, return_indices=True), x, case["dtype"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2, stride=2),                              # the seed nets' MaxPool2d(2, 2)
    dict(kernel_size=3, stride=1, padding=1),                   # overlapping and padded
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(2, 3), ceil_mode=True),
    dict(kernel_size=2, stride=2, ceil_mode=True),              # odd size: a partial last window
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),   # ceil_mode drops a window here
])
def test_configurations(kwargs, dtype):
    x = distinct_values(np.random.default_rng(0), (2, 3, 9, 11))
    fn = lambda L, x: L.nn.functional.max_pool2d(x, **kwargs)
    check(fn, x, dtype=dtype)
    assert_same_indices(lambda L, x: L.nn.functional.max_pool2d(x, return_indices=True, **kwargs),
                        x, dtype)


def test_ceil_mode_output_size_rule():
    """H=5, k=3, s=2, p=1: ceil gives 4 windows, but the 4th would start in the right padding
    (position 6 − 1 = 5 ≥ H), so torch keeps 3."""
    x = minitorch.tensor(distinct_values(np.random.default_rng(1), (1, 1, 5, 5)))
    F = minitorch.nn.functional
    assert tuple(F.max_pool2d(x, 3, 2, 1, ceil_mode=True).shape) == (1, 1, 3, 3)
    assert tuple(F.max_pool2d(x, 2, 2, 0, ceil_mode=True).shape) == (1, 1, 3, 3)
    assert tuple(F.max_pool2d(x, 2, 2, 0).shape) == (1, 1, 2, 2)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=2, stride=1),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=2, dilation=2, stride=1),
])
def test_ties_choose_the_first_maximum_like_torch(kwargs):
    """Ties everywhere, overlapping windows: values, indices and routed gradients must equal
    torch's exactly (first maximum in row-major scan order; overlaps accumulate)."""
    x = np.array([[[[1., 1., 0., 2.],
                    [1., 1., 2., 2.],
                    [0., 3., 3., 0.],
                    [3., 3., 0., 0.]]]])
    x = np.concatenate([x, np.zeros_like(x), np.ones_like(x)], axis=1)  # all-equal planes too
    fn = lambda L, x: L.nn.functional.max_pool2d(x, **kwargs)
    check(fn, x)  # a gradient routed to the wrong tie would be off by O(1)
    assert_same_indices(
        lambda L, x: L.nn.functional.max_pool2d(x, return_indices=True, **kwargs), x)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=2, stride=1, padding=1),
])
def test_nan_and_minus_infinity_like_torch(kwargs):
    """A NaN always wins (the last one, when several); a window of −∞ reports its first valid
    position, never a padded one."""
    nan, inf = np.nan, np.inf
    x = np.array([[[[-inf, 1., nan, 0.],
                    [nan, 2., 3., 1.],
                    [-inf, -inf, 5., 6.],
                    [-inf, -inf, 7., 8.]]]])
    fn = lambda L, x: L.nn.functional.max_pool2d(x, **kwargs)
    check(fn, x)
    assert_same_indices(
        lambda L, x: L.nn.functional.max_pool2d(x, return_indices=True, **kwargs), x)


def test_window_of_padding_only():
    """With dilation a window can hold padding only (W=1, kernel 2, padding 1, dilation 2: the
    window reads columns −1 and 1). Its value is −∞ and its index is torch's (the first position
    after the left padding, here column 1 — outside the plane's width). Its output depends on no
    input, so its gradient is zero; torch's kernel instead adds it at that flat index (the next
    row's element, or past the plane's end), which we deliberately do not copy."""
    x = np.array([[[[0.5], [-0.25]]]])
    kwargs = dict(kernel_size=(1, 2), padding=(0, 1), dilation=(1, 2))
    check(lambda L, x: L.nn.functional.max_pool2d(x, **kwargs), x, backward=False)
    assert_same_indices(
        lambda L, x: L.nn.functional.max_pool2d(x, return_indices=True, **kwargs), x)
    xm = minitorch.tensor(x).requires_grad_()
    out = minitorch.nn.functional.max_pool2d(xm, **kwargs)
    assert np.isneginf(out.detach().numpy()).all()
    out.backward(minitorch.ones(*out.shape, dtype=minitorch.float64))
    assert not xm.grad.numpy().any()


def test_empty_batch_and_non_contiguous_input():
    rng = np.random.default_rng(5)
    check(lambda L, x: L.nn.functional.max_pool2d(x, 2), rng.standard_normal((0, 2, 4, 4)))
    x_nhwc = distinct_values(rng, (2, 5, 6, 3))
    check(lambda L, x: L.nn.functional.max_pool2d(x.permute(0, 3, 1, 2), 3, 2, 1), x_nhwc)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
])
def test_integer_input_matches_torch(kwargs):
    x = np.random.default_rng(2).integers(-50, 50, (2, 2, 7, 6))
    m, _ = check(lambda L, x: L.nn.functional.max_pool2d(x, **kwargs), x)
    assert m.dtype == minitorch.int64
    assert_same_indices(
        lambda L, x: L.nn.functional.max_pool2d(x, return_indices=True, **kwargs), x)


def test_indices_do_not_require_grad_and_output_does():
    x = minitorch.tensor(distinct_values(np.random.default_rng(3), (1, 2, 4, 4))).requires_grad_()
    out, idx = minitorch.nn.functional.max_pool2d(x, 2, return_indices=True)
    assert out.requires_grad and not idx.requires_grad
    out2, idx2 = minitorch.nn.functional.max_pool2d_with_indices(x, 2)
    assert_close(out2, out.detach())
    assert_close(idx2, idx)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=(2, 1), ceil_mode=True),
])
def test_gradcheck(kwargs):
    x = minitorch.tensor(distinct_values(np.random.default_rng(4), (1, 2, 5, 5))).requires_grad_()
    assert gradcheck(lambda x: minitorch.nn.functional.max_pool2d(x, **kwargs), (x,))


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,kwargs,error,match", [
    ((1, 1, 4, 4), dict(kernel_size=3, padding=2), RuntimeError,
     r"max_pool2d: padding should be at most half of the kernel size, got padding=\(2,2\) for "
     r"kernel_size=\(3,3\)"),
    ((1, 1, 4, 4), dict(kernel_size=(2, 4), padding=(1, 3)), RuntimeError,
     r"padding=\(1,3\) for kernel_size=\(2,4\)"),
    ((1, 1, 2, 2), dict(kernel_size=3), RuntimeError,
     r"max_pool2d: the output would be empty \(0x0\).*input \(1,1,2,2\), kernel_size=\(3,3\)"),
    ((1, 1, 4, 4), dict(kernel_size=2, stride=0), RuntimeError,
     r"stride must be positive.*stride=\(0,0\)"),
    ((1, 1, 4, 4), dict(kernel_size=0), RuntimeError, r"kernel_size must be positive"),
    ((1, 1, 4, 4), dict(kernel_size=2, dilation=(1, 0)), RuntimeError,
     r"dilation must be positive.*dilation=\(1,0\)"),
    ((1, 1, 4, 4), dict(kernel_size=2, padding=-1), RuntimeError,
     r"padding must be non-negative.*padding=\(-1,-1\)"),
    ((4, 4), dict(kernel_size=2), RuntimeError,
     r"expected a non-empty 3-D \(unbatched\) or 4-D \(batched\) input, "
     r"got input of shape \(4,4\)"),
    ((1, 1, 4, 4), dict(kernel_size=(2, 2, 2)), TypeError,
     r"kernel_size must be an int or a pair of ints"),
])
def test_errors(shape, kwargs, error, match):
    with pytest.raises(error, match=match):
        minitorch.nn.functional.max_pool2d(minitorch.zeros(*shape), **kwargs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,kernel", [((2, 3, 8, 6), 2), ((2, 3, 6, 9), 3),
                                          ((1, 2, 4, 9), (2, 3)), ((2, 2, 5, 5), 1)])
def test_windows_that_tile_the_input(shape, kernel, dtype):
    """Stride = kernel, no padding, sizes that are multiples of the kernel (windows that never
    overlap): with random values and with many ties."""
    rng = np.random.default_rng(3)
    fn = lambda L, x: L.nn.functional.max_pool2d(x, kernel)
    check(fn, distinct_values(rng, shape), dtype=dtype)
    check(fn, rng.integers(0, 3, shape).astype(float), dtype=dtype)  # many ties


def test_infinite_gradient_reaches_only_the_winner():
    """An inf (or NaN) gradient must not turn the window's other positions into NaN (inf · 0)."""
    x = np.array([[[[1., 2.], [3., 4.]]]])
    g = np.array([[[[np.inf]]]])
    for L in (torch, minitorch):
        xt = L.tensor(x, requires_grad=True)
        L.nn.functional.max_pool2d(xt, 2).backward(L.tensor(g))
        got = xt.grad.numpy()
        np.testing.assert_array_equal(got, [[[[0., 0.], [0., np.inf]]]], err_msg=L.__name__)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=3, stride=1, padding=1),
                                    dict(kernel_size=(3, 2), stride=(2, 1), dilation=(1, 2))])
def test_overlapping_windows_sum_gradients_in_torchs_order(kwargs):
    """Where overlapping windows share a winner (many, with ties from rounded values), the
    gradients reaching it are added in the order of the windows, as torch's CPU kernel adds
    them: float32 sums of several terms come out bit for bit as torch's."""
    rng = np.random.default_rng(23)
    x = np.round(rng.standard_normal((2, 3, 13, 12)), 1).astype(np.float32)  # many ties
    grads = []
    for L in (torch, minitorch):
        xt = L.tensor(x, requires_grad=True)
        y = L.nn.functional.max_pool2d(xt, **kwargs)
        g = np.random.default_rng(29).standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(L.tensor(g))
        grads.append(xt.grad.numpy())
    _, index = torch.nn.functional.max_pool2d(torch.from_numpy(x), return_indices=True, **kwargs)
    shared = max(np.bincount(plane).max() for plane in index.reshape(6, -1).numpy())
    assert shared >= 3  # some input is the winner of three windows or more: a sum of 3+ terms
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("kwargs, shape", [
    (dict(kernel_size=2), (2, 3, 8, 6)),                          # tiles the input exactly
    (dict(kernel_size=2), (2, 3, 9, 7)),                          # a last row/column left over
    (dict(kernel_size=2, stride=3), (2, 3, 9, 8)),                # gaps between windows
    (dict(kernel_size=2, stride=3, dilation=2), (2, 3, 11, 10)),  # dilated, still disjoint
    (dict(kernel_size=(3, 1)), (1, 2, 9, 4)),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_disjoint_windows_route_gradients_as_torch_bit_for_bit(kwargs, shape, dtype):
    """Windows that share no input (stride ≥ the window's span, no padding): each input gets
    the gradient of at most one window. Torch's bits exactly — with negative, NaN and −0.0
    gradients too: non-winners get +0.0 (not −0.0, not NaN), a −0.0 winner +0.0."""
    from minitorch.backend.geometry import max_pool2d_geometry
    from minitorch.nn.functional.pooling import MaxPool2d
    rng = np.random.default_rng(31)
    x = rng.standard_normal(shape).astype(dtype)
    pair = lambda v: tuple(v) if isinstance(v, tuple) else (v, v)
    kernel = pair(kwargs["kernel_size"])
    geo = max_pool2d_geometry(shape, kernel, pair(kwargs.get("stride", kernel)), (0, 0),
                              pair(kwargs.get("dilation", 1)), False)
    assert MaxPool2d.windows_disjoint(geo)
    grads = []
    for L in (torch, minitorch):
        xt = L.tensor(x, requires_grad=True)
        y = L.nn.functional.max_pool2d(xt, **kwargs)
        g = -np.abs(np.random.default_rng(37).standard_normal(tuple(y.shape))).astype(dtype)
        g.reshape(-1)[::5] = np.nan
        g.reshape(-1)[1::7] = -0.0  # torch adds g into zeros: +0.0 at that winner
        y.backward(L.tensor(g))
        grads.append(xt.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])                 # NaNs where torch's are
    np.testing.assert_array_equal(np.signbit(grads[1]), np.signbit(grads[0]))
