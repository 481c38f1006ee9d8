"""Gradients at NaN, reductions over empty tensors, and calls torch refuses (issue 12's numbers).

Each case runs the same program with ``L = torch`` and ``L = minitorch`` and compares the values
and gradients, or the kind of error and its message.
"""
import numpy as np
import pytest
import torch

import minitorch

NAN = float("nan")


def _grad_of(L, values, program, cotangent=None):
    x = L.tensor(values, dtype=L.float64, requires_grad=True)
    y = program(L, x)
    if cotangent is None:
        y.backward()
    else:
        y.backward(L.tensor(cotangent, dtype=L.float64))
    return np.asarray(y.detach().tolist(), dtype=float), np.asarray(x.grad.tolist(), dtype=float)


NAN_GRADIENTS = {
    # relu passes the gradient where its input is NaN (torch's threshold backward: NaN <= 0 is false)
    "relu": ([1.0, NAN, -2.0, 0.0, 3.0], lambda L, x: L.relu(x), [0.5, 2.0, 3.0, 4.0, -1.0]),
    "relu_method": ([[NAN, -1.0], [2.0, NAN]], lambda L, x: x.relu(), [[1.0, 2.0], [3.0, 4.0]]),
    # the full max()/min() send the gradient to the NaN (shared when there are several)
    "max_full": ([1.0, NAN, -2.0, 3.0], lambda L, x: x.max(), None),
    "min_full_two_nans": ([1.0, NAN, NAN, 3.0], lambda L, x: x.min(), None),
    "max_full_no_nan_ties": ([3.0, 1.0, 3.0], lambda L, x: x.max(), None),
    # max(dim) routes to the index it returns, which is the NaN
    "max_dim": ([[1.0, NAN], [-2.0, 3.0]], lambda L, x: x.max(1).values, [1.0, 2.0]),
    "min_dim": ([[NAN, 1.0, 0.0], [-2.0, 3.0, 5.0]], lambda L, x: x.min(1).values, [1.0, 2.0]),
    # amax/amin compare with ==, so a NaN slice has no winner: 0/0 = NaN there, as torch gives
    "amax": ([[1.0, NAN], [-2.0, 3.0]], lambda L, x: x.amax(1), [1.0, 2.0]),
    "amin": ([[1.0, NAN], [-2.0, 3.0]], lambda L, x: x.amin(1), [1.0, 2.0]),
}


@pytest.mark.parametrize("case", sorted(NAN_GRADIENTS))
def test_gradients_at_nan_match_torch(case):
    values, program, cotangent = NAN_GRADIENTS[case]
    t_y, t_g = _grad_of(torch, values, program, cotangent)
    m_y, m_g = _grad_of(minitorch, values, program, cotangent)
    np.testing.assert_array_equal(m_y, t_y)
    np.testing.assert_array_equal(m_g, t_g)


def test_relu_backward_with_an_infinite_gradient_leaves_zeros_where_the_input_is_negative():
    x = minitorch.tensor([-1.0, 2.0], requires_grad=True)
    minitorch.relu(x).backward(minitorch.tensor([float("inf"), 1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", ["none", "inf", "nan", "huge"])
def test_relu_backward_of_a_large_tensor_matches_torch_with_bad_gradients(bad, dtype):
    """Large arrays take ReLU's multiply-by-mask path; inf/NaN gradients (and finite ones whose
    sum overflows) must still give torch's threshold_backward, bit for bit."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(5000).astype(dtype)
    x[[3, 10, 20]] = [0.0, np.nan, -0.0]
    g = rng.standard_normal(5000).astype(dtype)
    where = np.flatnonzero(x <= 0)[:50].tolist() + np.flatnonzero(x > 0)[:50].tolist() + [10]
    g[where] = {"none": g[where], "inf": np.inf, "nan": np.nan,
                "huge": np.finfo(dtype).max}[bad]
    grads = []
    for L in (torch, minitorch):
        xt = L.tensor(x, requires_grad=True)
        L.relu(xt).backward(L.tensor(g))
        grads.append(xt.grad.numpy())
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["max", "min", "argmax", "argmin"])
def test_reducing_a_non_empty_dim_of_an_empty_tensor_gives_empty_results(op, keepdim):
    results = []
    for L in (torch, minitorch):
        out = getattr(L.zeros(0, 3), op)(1, keepdim=keepdim)
        parts = (out,) if op.startswith("arg") else (out.values, out.indices)
        results.append([(tuple(p.shape), str(p.dtype).split(".")[-1]) for p in parts])
    assert results[1] == results[0]


@pytest.mark.parametrize("op", ["max", "min", "argmax", "argmin"])
def test_reducing_an_empty_dim_raises_naming_the_dim(op):
    with pytest.raises(IndexError) as t_info:
        getattr(torch.zeros(0, 3), op)(0)
    with pytest.raises(IndexError, match=rf"{op}\(\): Expected reduction dim 0 to have non-zero "
                                         r"size \(input of shape \(0,3\)\)"):
        getattr(minitorch.zeros(0, 3), op)(0)
    assert "dim 0" in str(t_info.value)


@pytest.mark.parametrize("op", ["max", "argmax"])
def test_full_reduction_of_an_empty_tensor_still_asks_for_a_dim(op):
    with pytest.raises(Exception, match="Expected reduction dim to be specified") as t_info:
        getattr(torch.zeros(0, 3), op)()
    with pytest.raises(t_info.type, match="Expected reduction dim to be specified"):
        getattr(minitorch.zeros(0, 3), op)()


def test_logits_of_an_empty_batch_give_an_empty_argmax():
    logits = minitorch.zeros(0, 10)
    assert tuple(logits.argmax(1).shape) == (0,) and logits.argmax(1).dtype == minitorch.int64


@pytest.mark.parametrize("weight_shape", [(2, 2, 0, 3), (2, 2, 3, 0)])
def test_conv2d_with_a_zero_size_kernel_raises_like_torch(weight_shape):
    x = np.zeros((1, 2, 5, 5))
    with pytest.raises(RuntimeError, match="kernel size should be greater than zero"):
        torch.nn.functional.conv2d(torch.tensor(x), torch.zeros(weight_shape, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"kernel size should be greater than zero, got kernel "
                                           r"\(\d,\d\) \(input \(1,2,5,5\), weight"):
        minitorch.nn.functional.conv2d(minitorch.tensor(x),
                                       minitorch.zeros(weight_shape, dtype=minitorch.float64))


@pytest.mark.parametrize("dtypes", [("int64", "float32"), ("float32", "int64"),
                                    ("float32", "float64")])
def test_matmul_of_two_dtypes_raises_like_torch(dtypes):
    a, b = dtypes
    with pytest.raises(RuntimeError):
        torch.ones(2, 3, dtype=getattr(torch, a)) @ torch.ones(3, 2, dtype=getattr(torch, b))
    with pytest.raises(RuntimeError, match=rf"same dtype, but got {a} \(2,3\) @ {b} \(3,2\)"):
        minitorch.ones(2, 3, dtype=getattr(minitorch, a)) @ \
            minitorch.ones(3, 2, dtype=getattr(minitorch, b))


def test_matmul_of_one_integer_dtype_still_works():
    a = minitorch.tensor([[1, 2], [3, 4]])
    np.testing.assert_array_equal((a @ a).numpy(), [[7, 10], [15, 22]])
