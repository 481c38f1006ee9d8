"""Pieces of torch's API that real programs use (issue 11): sin/cos/log1p, mm, norm, out=,
indexing with a range, format() of a 0-dim tensor — each against torch, forward and backward."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch_compare import assert_close, check

import minitorch

DTYPES = ("float64", "float32")
seeds = st.integers(0, 2 ** 32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5)


def draw(seed, shape, low=-3.0, high=3.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


# ---------------------------------------------------------------------------------------------
# Elementwise: sin, cos, log1p (functions and methods)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sin", "cos", "log1p"])
@given(seed=seeds, shape=shapes)
def test_elementwise_functions_match_torch(name, dtype, seed, shape):
    low = -0.9 if name == "log1p" else -10.0  # log1p is defined above −1
    x = draw(seed, shape, low, 10.0)
    check(lambda L, x: getattr(L, name)(x), x, dtype=dtype)
    check(lambda L, x: getattr(x, name)(), x, dtype=dtype)


@pytest.mark.parametrize("name", ["sin", "cos", "log1p"])
def test_elementwise_functions_promote_integers_like_torch(name):
    # the result is float32 (the default dtype): judged at float32 tolerance
    check(lambda L, x: getattr(L, name)(x), np.array([0, 1, 2, 3]), dtype="float32", grad=(False,))


def test_log1p_is_accurate_where_log_of_1_plus_x_is_not():
    x = minitorch.tensor([1e-12], dtype=minitorch.float64)
    assert minitorch.log1p(x).item() == pytest.approx(1e-12, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# mm
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@given(seed=seeds, n=st.integers(1, 6), k=st.integers(1, 6), m=st.integers(1, 6))
def test_mm_matches_torch(dtype, seed, n, k, m):
    a, b = draw(seed, (n, k)), draw(seed + 1, (k, m))
    check(lambda L, a, b: L.mm(a, b), a, b, dtype=dtype)
    check(lambda L, a, b: a.mm(b), a, b, dtype=dtype)


@pytest.mark.parametrize("shapes", [((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 3), (3, 2))])
def test_mm_refuses_what_is_not_a_matrix(shapes):
    sa, sb = shapes
    with pytest.raises(RuntimeError):
        torch.mm(torch.zeros(sa), torch.zeros(sb))
    with pytest.raises(RuntimeError, match="must be a matrix, got a tensor of shape"):
        minitorch.mm(minitorch.zeros(*sa), minitorch.zeros(*sb))


# ---------------------------------------------------------------------------------------------
# norm
# ---------------------------------------------------------------------------------------------
P_VALUES = ["fro", 2, 1, 3, 0.5, 0, math.inf, -math.inf]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", P_VALUES, ids=str)
@given(seed=seeds, shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       keepdim=st.booleans(), data=st.data())
def test_norm_matches_torch(p, dtype, seed, shape, keepdim, data):
    x = draw(seed, shape)
    dims = data.draw(st.sampled_from([None] + list(range(len(shape))) + [tuple(range(len(shape)))]))
    if p == "fro" and isinstance(dims, tuple) and len(dims) > 2:  # torch refuses: so must we
        with pytest.raises(RuntimeError):
            torch.tensor(x).norm(p, dims, keepdim)
        with pytest.raises(RuntimeError, match="'fro' takes one dim or two"):
            minitorch.tensor(x).norm(p, dims, keepdim)
        return
    check(lambda L, x: x.norm(p, dims, keepdim), x, dtype=dtype)
    check(lambda L, x: L.norm(x, p=p, dim=dims, keepdim=keepdim), x, dtype=dtype)


@pytest.mark.parametrize("p", P_VALUES, ids=str)
def test_norm_gradient_at_zero_and_at_ties_matches_torch(p):
    zero = np.zeros((2, 3))
    check(lambda L, x: x.norm(p), zero)
    check(lambda L, x: x.norm(p, dim=1), zero)
    ties = np.array([[2.0, -2.0, 1.0], [0.0, 0.0, 0.0]])
    check(lambda L, x: x.norm(p, dim=1), ties)


def test_norm_errors_match_torch():
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).norm()
    with pytest.raises(RuntimeError, match="input dtype should be either floating point"):
        minitorch.tensor([1, 2]).norm()
    with pytest.raises(NotImplementedError, match="nuclear norm"):
        minitorch.ones(2, 2).norm("nuc")
    # dtype= converts first, as torch
    check(lambda L, x: L.norm(x, dtype=L.float64), np.array([3.0, 4.0]), dtype="float32",
          backward=False)


# ---------------------------------------------------------------------------------------------
# out=
# ---------------------------------------------------------------------------------------------
OUT_CALLS = {
    "matmul": lambda L, a, b, out: L.matmul(a, b, out=out),
    "mm": lambda L, a, b, out: L.mm(a, b, out=out),
    "mul": lambda L, a, b, out: L.mul(a, b, out=out),
    "add": lambda L, a, b, out: L.add(a, b, out=out),
    "sub": lambda L, a, b, out: L.sub(a, b, alpha=2, out=out),
    "div": lambda L, a, b, out: L.div(a, b, out=out),
}


@pytest.mark.parametrize("name", sorted(OUT_CALLS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_argument_writes_into_the_given_tensor_like_torch(name, dtype):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 3)), rng.uniform(1, 2, (3, 3))
    results = {}
    for L in (torch, minitorch):
        out = L.zeros(3, 3, dtype=getattr(L, dtype))
        returned = OUT_CALLS[name](L, L.tensor(a, dtype=getattr(L, dtype)),
                                   L.tensor(b, dtype=getattr(L, dtype)), out)
        assert returned is out
        results[L.__name__] = out
    assert_close(results["minitorch"], results["torch"], dtype)


@pytest.mark.parametrize("name", ["matmul", "mul"])
def test_out_of_another_shape_is_resized_with_a_warning_like_torch(name):
    for L in (torch, minitorch):
        out = L.zeros(5)
        with pytest.warns(UserWarning, match="resized"):
            OUT_CALLS[name](L, L.ones(2, 2), L.ones(2, 2), out)
        assert tuple(out.shape) == (2, 2)
        empty = L.zeros(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an empty out is resized silently
            OUT_CALLS[name](L, L.ones(2, 2), L.ones(2, 2), empty)
        assert tuple(empty.shape) == (2, 2)


@pytest.mark.parametrize("name", ["matmul", "mul"])
def test_out_refuses_inputs_that_require_grad_like_torch(name):
    for L in (torch, minitorch):
        a = L.ones(2, 2, requires_grad=True)
        with pytest.raises(RuntimeError, match="out=... arguments don't support automatic "
                                               "differentiation"):
            OUT_CALLS[name](L, a, L.ones(2, 2), L.zeros(2, 2))
        with L.no_grad():
            OUT_CALLS[name](L, a, L.ones(2, 2), L.zeros(2, 2))


def test_out_dtype_rules_match_torch():
    for L in (torch, minitorch):
        with pytest.raises(RuntimeError, match="Expected out tensor to have dtype"):
            L.matmul(L.ones(2, 2), L.ones(2, 2), out=L.zeros(2, 2, dtype=L.float64))
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            L.mul(L.ones(2), L.ones(2), out=L.zeros(2, dtype=L.int64))
        out = L.zeros(2, dtype=L.float64)  # float32 into float64: allowed for mul
        L.mul(L.ones(2), L.ones(2), out=out)
        assert out.tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# Indexing with a range; format() of a 0-dim tensor
# ---------------------------------------------------------------------------------------------
RANGE_INDEXES = {
    "first_dim": lambda r: r,
    "second_dim": lambda r: (slice(None), r),
    "with_int": lambda r: (1, r),
}


@pytest.mark.parametrize("where", sorted(RANGE_INDEXES))
@pytest.mark.parametrize("r", [range(3), range(1, 4, 2), range(0), range(3, 0, -1)], ids=str)
def test_indexing_with_a_range_reads_and_writes_like_torch(where, r):
    x = np.arange(24.0).reshape(4, 6)
    index = RANGE_INDEXES[where](r)
    check(lambda L, x: x[index] * 2, x)

    def write(L, x):
        y = x * 1
        y[index] = -1.0
        return y
    check(write, x)


@pytest.mark.parametrize("spec", ["+.2f", ".3e", "", "08.3f"])
def test_format_of_a_zero_dim_tensor_formats_its_value(spec):
    assert format(minitorch.tensor(3.14159), spec) == format(torch.tensor(3.14159), spec)
    assert f"{minitorch.tensor(2.5):{spec}}" == f"{torch.tensor(2.5):{spec}}"


def test_format_spec_on_a_tensor_with_elements_raises_like_torch():
    with pytest.raises(TypeError):
        format(torch.ones(2), ".2f")
    with pytest.raises(TypeError, match=r"only 0-dim tensors take one; this one has shape \(2,\)"):
        format(minitorch.ones(2), ".2f")
    assert format(minitorch.ones(2)) == repr(minitorch.ones(2))
