"""Every Tensor op against torch: forward values and dtype, and backward with a random cotangent.

Hypothesis draws the shapes (dims 1..5, size-1 dims included, broadcasting pairs from
``mutually_broadcastable_shapes``) and an integer seed; the values come from NumPy's default_rng.
Each op runs in float64 (rtol 1e-10) and float32 (rtol 1e-5) through ``torch_compare.check``,
which compares the outputs, sends the same random cotangent backward through both libraries and
compares every input's ``.grad``.
"""
import itertools
import operator

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch_compare import assert_close, check

import minitorch

DTYPES = ("float64", "float32")
seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                    min_side=1, max_side=5)


def values(seed, shape, domain="any"):
    """Random float64 values for an op's domain: 'any' (standard normal), 'positive' (in
    [0.5, 2.5)), 'nonzero' (|v| in [0.5, 2.5), random sign), 'distinct' (a shuffled grid, so
    max/min/argmax have no ties)."""
    rng = np.random.default_rng(seed)
    if domain == "any":
        return rng.standard_normal(shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.5, shape)
    if domain == "nonzero":
        return rng.uniform(0.5, 2.5, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "distinct":
        n = int(np.prod(shape, dtype=np.int64))
        return (rng.permutation(n) - n / 2).reshape(shape) / 4 + rng.uniform(-0.05, 0.05, shape)
    raise ValueError(domain)


# ---------------------------------------------------------------------------------------------
# Elementwise unary ops and ops with a Python scalar (reflected forms included)
# ---------------------------------------------------------------------------------------------
UNARY = {
    "neg": (lambda L, x: -x, "any"),
    "exp": (lambda L, x: x.exp(), "any"),
    "log": (lambda L, x: x.log(), "positive"),
    "sqrt": (lambda L, x: x.sqrt(), "positive"),
    "abs": (lambda L, x: x.abs(), "nonzero"),
    "abs_builtin": (lambda L, x: abs(x), "nonzero"),
    "tanh": (lambda L, x: x.tanh(), "any"),
    "sigmoid": (lambda L, x: x.sigmoid(), "any"),
    "relu": (lambda L, x: x.relu(), "nonzero"),
    "clamp_both": (lambda L, x: x.clamp(-0.3, 0.4), "any"),
    "clamp_min": (lambda L, x: x.clamp(min=0.1), "any"),
    "clamp_max": (lambda L, x: x.clamp(max=-0.2), "any"),
    "clamp_positional_min": (lambda L, x: L.clamp(x, -0.5), "any"),
    "F_exp": (lambda L, x: L.exp(x), "any"),
    "F_log": (lambda L, x: L.log(x), "positive"),
    "F_tanh": (lambda L, x: L.tanh(x), "any"),
    "F_sigmoid": (lambda L, x: L.sigmoid(x), "any"),
    "F_relu": (lambda L, x: L.relu(x), "nonzero"),
    "pow_2": (lambda L, x: x ** 2, "any"),
    "pow_3": (lambda L, x: x ** 3, "any"),
    "pow_0": (lambda L, x: x ** 0, "any"),
    "pow_half": (lambda L, x: x ** 0.5, "positive"),
    "pow_neg": (lambda L, x: x ** -1.5, "positive"),
    "pow_method": (lambda L, x: x.pow(2.5), "positive"),
    "rpow_2": (lambda L, x: 2 ** x, "any"),
    "rpow_float": (lambda L, x: 0.7 ** x, "any"),
    "radd": (lambda L, x: 1.5 + x, "any"),
    "rsub": (lambda L, x: 2.5 - x, "any"),
    "rmul": (lambda L, x: 3 * x, "any"),
    "rdiv": (lambda L, x: 2.5 / x, "nonzero"),
    "add_scalar": (lambda L, x: x + 2, "any"),
    "sub_scalar": (lambda L, x: x - 0.25, "any"),
    "mul_scalar": (lambda L, x: x * -1.5, "any"),
    "div_scalar": (lambda L, x: x / 4, "any"),
    "add_alpha": (lambda L, x: x.add(x, alpha=2), "any"),
    "sub_alpha": (lambda L, x: x.sub(x * x, alpha=0.5), "any"),
    "clone": (lambda L, x: x.clone() * 1.0, "any"),
    "composite": (lambda L, x: ((x * 2 - 1).tanh() + x.sigmoid() * x.abs()) / (1 + x ** 2),
                  "nonzero"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, seed=seeds)
def test_unary_matches_torch(name, dtype, shape, seed):
    fn, domain = UNARY[name]
    check(fn, values(seed, shape, domain), dtype=dtype, seed=seed)


# ---------------------------------------------------------------------------------------------
# Binary ops with broadcasting
# ---------------------------------------------------------------------------------------------
BINARY = {
    "add": (lambda L, a, b: a + b, "any", "any"),
    "sub": (lambda L, a, b: a - b, "any", "any"),
    "mul": (lambda L, a, b: a * b, "any", "any"),
    "div": (lambda L, a, b: a / b, "any", "nonzero"),
    "pow": (lambda L, a, b: a ** b, "positive", "any"),
    "add_method_alpha": (lambda L, a, b: a.add(b, alpha=-2.5), "any", "any"),
    "sub_method_alpha": (lambda L, a, b: a.sub(b, alpha=3), "any", "any"),
    "mul_method": (lambda L, a, b: a.mul(b), "any", "any"),
    "div_method": (lambda L, a, b: a.div(b), "any", "nonzero"),
    "maximum": (lambda L, a, b: L.maximum(a, b), "any", "any"),
    "minimum": (lambda L, a, b: L.minimum(a, b), "any", "any"),
    "chain": (lambda L, a, b: (a * b + a) / (b * b + 1) - b, "any", "any"),
    "clamp_tensor_min": (lambda L, a, b: a.clamp(min=b), "any", "any"),
    "clamp_tensor_max": (lambda L, a, b: L.clamp(a, max=b), "any", "any"),
    "clamp_tensor_both": (lambda L, a, b: a.clamp(b - 0.5, b + 0.5), "any", "any"),
    "where": (lambda L, a, b: L.where(a > b, a * 2, b), "any", "any"),
    "where_scalar": (lambda L, a, b: L.where(a > 0, a, 0.5) + b, "any", "any"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcast_pairs, seed=seeds)
def test_binary_broadcasting_matches_torch(name, dtype, pair, seed):
    fn, dom_a, dom_b = BINARY[name]
    sa, sb = pair.input_shapes
    a, b = values(seed, sa, dom_a), values(seed + 1, sb, dom_b)
    m_out, _ = check(fn, a, b, dtype=dtype, seed=seed)
    assert m_out.shape == pair.result_shape


@pytest.mark.parametrize("dtype", DTYPES)
@given(pair=broadcast_pairs, seed=seeds, grads=st.sampled_from([(True, False), (False, True)]))
def test_binary_with_one_input_not_requiring_grad(dtype, pair, seed, grads):
    sa, sb = pair.input_shapes
    a, b = values(seed, sa, "positive"), values(seed + 1, sb, "nonzero")
    check(lambda L, a, b: a * b + a / b + a ** b, a, b, dtype=dtype, grad=grads, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(pair=broadcast_pairs, seed=seeds)
def test_same_tensor_on_both_sides(dtype, pair, seed):
    """x used twice by one op: both gradient contributions must add up."""
    x = values(seed, pair.input_shapes[0], "positive")
    check(lambda L, x: x * x + x / x + x ** x - x, x, dtype=dtype, seed=seed)


@st.composite
def matmul_shapes(draw):
    """(a shape, b shape) for every matmul case: 1-D @ 1-D, 1-D @ N-D, N-D @ 1-D, batched with
    broadcast batch dims."""
    n, k, m = (draw(st.integers(1, 5)) for _ in range(3))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2,
                                                              min_side=1, max_side=3)).input_shapes
    a = (k,) if draw(st.booleans()) and draw(st.booleans()) else batch_a + (n, k)
    b = (k,) if draw(st.booleans()) and draw(st.booleans()) else batch_b + (k, m)
    return a, b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", ["operator", "method", "function"])
@given(ab=matmul_shapes(), seed=seeds)
def test_matmul_matches_torch(form, dtype, ab, seed):
    fn = {"operator": lambda L, a, b: a @ b,
          "method": lambda L, a, b: a.matmul(b),
          "function": lambda L, a, b: L.matmul(a, b)}[form]
    check(fn, values(seed, ab[0]), values(seed + 1, ab[1]), dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["contiguous", "permuted", "transposed_weight", "empty"])
def test_batched_times_matrix_as_one_product(dtype, case):
    """(…, M, K) @ (K, N) runs as one (…·M, K) @ (K, N) product (backend.matmul); a
    non-contiguous left side, a transposed right side (Linear's Wᵀ) and empty batches too."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((0, 3, 4) if case == "empty" else (2, 3, 5, 4))
    b = rng.standard_normal((5, 4) if case == "transposed_weight" else (4, 6))
    fn = {"contiguous": lambda L, a, b: a @ b,
          "permuted": lambda L, a, b: a.transpose(0, 1) @ b,
          "transposed_weight": lambda L, a, b: a @ b.t(),
          "empty": lambda L, a, b: a @ b}[case]
    m_out, _ = check(fn, a, b, dtype=dtype)
    assert m_out.shape == fn(torch, torch.tensor(a), torch.tensor(b)).shape


# ---------------------------------------------------------------------------------------------
# Comparisons: bool results, no graph
# ---------------------------------------------------------------------------------------------
COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
               "gt": operator.gt, "ge": operator.ge}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(COMPARISONS))
@given(pair=broadcast_pairs, seed=seeds)
def test_comparisons_are_bool_and_do_not_require_grad(name, dtype, pair, seed):
    op = COMPARISONS[name]
    sa, sb = pair.input_shapes
    rng = np.random.default_rng(seed)
    # small integers as floats, so that equal elements actually occur
    a, b = rng.integers(-2, 3, sa).astype(float), rng.integers(-2, 3, sb).astype(float)
    for fn in (lambda L, a, b: op(a, b), lambda L, a, b: op(a, 1.0), lambda L, a, b: op(0.0, b),
               lambda L, a, b: getattr(a, name)(b)):
        m_out, t_out = check(fn, a, b, dtype=dtype)
        assert m_out.dtype is minitorch.bool
        assert not m_out.requires_grad and m_out.grad_fn is None


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------
@st.composite
def shape_and_dim(draw, allow_none=True, allow_tuple=True):
    """A shape and a ``dim`` argument valid for it: None, an int (possibly negative) or a tuple."""
    shape = draw(shapes)
    nd = len(shape)
    span = st.integers(-max(nd, 1), max(nd, 1) - 1)
    choices = [span]
    if allow_none:
        choices.append(st.none())
    if allow_tuple and nd > 0:
        choices.append(st.lists(st.integers(0, nd - 1), unique=True, min_size=1, max_size=nd).map(
            lambda ds: tuple(d - nd if i % 2 else d for i, d in enumerate(ds))))
    return shape, draw(st.one_of(*choices))


REDUCTIONS = {
    "sum": lambda L, x, dim, keepdim: x.sum(dim=dim, keepdim=keepdim),
    "mean": lambda L, x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim),
    "F_sum": lambda L, x, dim, keepdim: L.sum(x, dim, keepdim),
    "F_mean": lambda L, x, dim, keepdim: L.mean(x, dim, keepdim),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(sd=shape_and_dim(), keepdim=st.booleans(), seed=seeds)
def test_sum_mean_match_torch(name, dtype, sd, keepdim, seed):
    shape, dim = sd
    fn = REDUCTIONS[name]
    check(lambda L, x: fn(L, x, dim, keepdim), values(seed, shape), dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, seed=seeds)
def test_sum_without_dim_and_chained_reductions(dtype, shape, seed):
    check(lambda L, x: x.sum() * x.mean() + (x * x).sum(), values(seed, shape), dtype=dtype,
          seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [True, False])
@given(shape=shapes, seed=seeds)
def test_full_max_min_match_torch(largest, dtype, shape, seed):
    name = "max" if largest else "min"
    check(lambda L, x: getattr(x, name)(), values(seed, shape, "distinct"), dtype=dtype, seed=seed)
    check(lambda L, x: getattr(L, name)(x), values(seed, shape, "distinct"), dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [True, False])
@given(sd=shape_and_dim(allow_none=False, allow_tuple=False), keepdim=st.booleans(), seed=seeds)
def test_max_min_with_dim_return_values_and_indices(largest, dtype, sd, keepdim, seed):
    shape, dim = sd
    name = "max" if largest else "min"
    x = values(seed, shape, "distinct")
    m_out, t_out = check(lambda L, x: getattr(x, name)(dim, keepdim=keepdim), x, dtype=dtype,
                         seed=seed)
    assert isinstance(m_out, tuple) and len(m_out) == 2
    assert m_out.values is m_out[0] and m_out.indices is m_out[1]
    assert m_out.indices.dtype is minitorch.int64 and not m_out.indices.requires_grad
    # the functional form and a keyword dim
    check(lambda L, x: getattr(L, name)(x, dim=dim, keepdim=keepdim), x, dtype=dtype, seed=seed)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dtype", DTYPES)
@given(sd=shape_and_dim(allow_tuple=False), keepdim=st.booleans(), seed=seeds)
def test_argmax_argmin_match_torch(dtype, name, sd, keepdim, seed):
    shape, dim = sd
    x = values(seed, shape, "distinct")
    m_out, _ = check(lambda L, x: getattr(x, name)(dim=dim, keepdim=keepdim), x, dtype=dtype)
    assert m_out.dtype is minitorch.int64 and not m_out.requires_grad


@pytest.mark.parametrize("dtype", DTYPES)
def test_full_max_shares_gradient_among_ties(dtype):
    x = np.array([[1.0, 3.0, 3.0], [3.0, -1.0, 0.0]])
    check(lambda L, x: x.max() * 2, x, dtype=dtype)
    check(lambda L, x: x.min() * 2, -x, dtype=dtype)


def test_reductions_of_integer_and_bool_tensors_follow_torch_dtypes():
    for make in (lambda L: L.tensor([[1, 2], [3, 4]], dtype=L.int32),
                 lambda L: L.tensor([[True, False], [True, True]])):
        for fn in (lambda x: x.sum(), lambda x: x.sum(0), lambda x: x.sum(dim=1, keepdim=True),
                   lambda x: x.max(), lambda x: x.sum(dtype=minitorch.float64 if isinstance(
                       x, minitorch.Tensor) else torch.float64)):
            m, t = fn(make(minitorch)), fn(make(torch))
            assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
            assert_close(m, t)


# ---------------------------------------------------------------------------------------------
# Shape ops
# ---------------------------------------------------------------------------------------------
@st.composite
def shape_and_reshape(draw):
    shape = draw(shapes)
    target = list(draw(st.permutations(list(shape))))
    # split a dim into two or merge two, now and then
    if len(target) >= 2 and draw(st.booleans()):
        target = [target[0] * target[1]] + target[2:]
    target += [1] * draw(st.integers(0, 1))
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return shape, tuple(target)


@pytest.mark.parametrize("dtype", DTYPES)
@given(sr=shape_and_reshape(), seed=seeds)
def test_reshape_and_view_match_torch(dtype, sr, seed):
    shape, target = sr
    x = values(seed, shape)
    check(lambda L, x: x.reshape(target) * 2, x, dtype=dtype, seed=seed)
    check(lambda L, x: x.view(target) * 2, x, dtype=dtype, seed=seed)
    if target:  # the varargs forms need at least one size
        check(lambda L, x: x.reshape(*target) * 2, x, dtype=dtype, seed=seed)
        check(lambda L, x: x.view(*target).exp(), x, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, data=st.data(), seed=seeds)
def test_flatten_matches_torch(dtype, shape, data, seed):
    nd = max(len(shape), 1)
    start = data.draw(st.integers(-nd, nd - 1))
    end = data.draw(st.integers(start % nd, nd - 1))  # not before start
    end = end - nd if data.draw(st.booleans()) else end  # in either sign
    x = values(seed, shape)
    check(lambda L, x: x.flatten(start, end) * 3, x, dtype=dtype, seed=seed)
    check(lambda L, x: L.flatten(x, start_dim=start, end_dim=end) * 3, x, dtype=dtype, seed=seed)
    check(lambda L, x: x.flatten() * 3, x, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, data=st.data(), seed=seeds)
def test_permute_transpose_t_match_torch(dtype, shape, data, seed):
    nd = len(shape)
    perm = tuple(data.draw(st.permutations(range(nd))))
    x = values(seed, shape)
    check(lambda L, x: x.permute(perm) * 2, x, dtype=dtype, seed=seed)
    if nd >= 1:
        check(lambda L, x: x.permute(*perm).sigmoid(), x, dtype=dtype, seed=seed)
        d0, d1 = (data.draw(st.integers(-nd, nd - 1)) for _ in range(2))
        check(lambda L, x: x.transpose(d0, d1) * 2, x, dtype=dtype, seed=seed)
    if nd == 2:  # torch deprecates .T on other ranks
        check(lambda L, x: x.T * 2, x, dtype=dtype, seed=seed)
    if nd <= 2:
        check(lambda L, x: x.t() * 2, x, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, data=st.data(), seed=seeds)
def test_unsqueeze_squeeze_match_torch(dtype, shape, data, seed):
    nd = len(shape)
    x = values(seed, shape)
    d = data.draw(st.integers(-nd - 1, nd))
    check(lambda L, x: x.unsqueeze(d) * 2, x, dtype=dtype, seed=seed)
    check(lambda L, x: x.squeeze() * 2, x, dtype=dtype, seed=seed)
    if nd:
        sd = data.draw(st.integers(-nd, nd - 1))
        check(lambda L, x: x.squeeze(sd) * 2, x, dtype=dtype, seed=seed)
        check(lambda L, x: x.unsqueeze(d).squeeze(d) * 2, x, dtype=dtype, seed=seed)


@st.composite
def shape_and_expand(draw):
    shape = draw(shapes)
    lead = tuple(draw(st.lists(st.integers(1, 4), max_size=2)))
    target = []
    for n in shape:
        if n == 1:
            target.append(draw(st.integers(1, 4)))
        else:
            target.append(draw(st.sampled_from([n, -1])))
    return shape, lead + tuple(target)


@pytest.mark.parametrize("dtype", DTYPES)
@given(se=shape_and_expand(), seed=seeds)
def test_expand_matches_torch(dtype, se, seed):
    shape, target = se
    x = values(seed, shape)
    check(lambda L, x: x.expand(target) * 2, x, dtype=dtype, seed=seed)
    if target:
        check(lambda L, x: x.expand(*target).exp(), x, dtype=dtype, seed=seed)


@st.composite
def shape_and_basic_index(draw):
    """Ints, positive-step slices (torch has no negative steps), None and Ellipsis."""
    shape = draw(nonempty_shapes)
    index = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "slice", "full"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 1, n + 1)))
            step = draw(st.one_of(st.none(), st.integers(1, 3)))
            index.append(slice(start, stop, step))
        else:
            index.append(slice(None))
    if draw(st.booleans()):  # an Ellipsis stands for a run of dims (possibly empty)
        i = draw(st.integers(0, len(index)))
        j = draw(st.integers(i, len(index)))
        index = index[:i] + [Ellipsis] + index[j:]
    else:  # or leave trailing dims out
        index = index[:draw(st.integers(1, len(index)))]
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)
    return shape, index[0] if len(index) == 1 and draw(st.booleans()) else tuple(index)


@pytest.mark.parametrize("dtype", DTYPES)
@given(si=shape_and_basic_index(), seed=seeds)
def test_basic_indexing_matches_torch(dtype, si, seed):
    shape, index = si
    check(lambda L, x: x[index] * 2, values(seed, shape), dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=nonempty_shapes, data=st.data(), seed=seeds)
def test_integer_array_indexing_matches_torch(dtype, shape, data, seed):
    """Repeated indices must accumulate their gradients."""
    n = shape[0]
    idx = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6))
    x = values(seed, shape)
    check(lambda L, x: x[idx] * 2, x, dtype=dtype, seed=seed)
    check(lambda L, x: x[L.tensor(idx)] * 2, x, dtype=dtype, seed=seed)
    if len(shape) >= 2:
        m = shape[1]
        idx2 = data.draw(st.lists(st.integers(0, m - 1), min_size=len(idx), max_size=len(idx)))
        check(lambda L, x: x[:, idx2] * 2, x, dtype=dtype, seed=seed)
        check(lambda L, x: x[L.tensor(idx), L.tensor(idx2)] * 2, x, dtype=dtype, seed=seed)
        check(lambda L, x: x[L.tensor([idx]), 0] * 2, x, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=nonempty_shapes, seed=seeds)
def test_boolean_mask_indexing_matches_torch(dtype, shape, seed):
    x = values(seed, shape)
    check(lambda L, x: x[x > 0] * 2, x, dtype=dtype, seed=seed)
    check(lambda L, x: x[x[..., 0] > 0] * 2 if x.ndim > 1 else x[x > 0], x, dtype=dtype, seed=seed)


@st.composite
def cat_shapes(draw):
    base = list(draw(nonempty_shapes))
    dim = draw(st.integers(-len(base), len(base) - 1))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        s = list(base)
        s[dim] = draw(st.integers(1, 4))
        out.append(tuple(s))
    return out, dim


@pytest.mark.parametrize("dtype", DTYPES)
@given(sd=cat_shapes(), seed=seeds)
def test_cat_matches_torch(dtype, sd, seed):
    shs, dim = sd
    xs = [values(seed + i, s) for i, s in enumerate(shs)]
    check(lambda L, *xs: L.cat(list(xs), dim=dim) * 2, *xs, dtype=dtype, seed=seed)
    check(lambda L, *xs: L.cat(xs, dim).tanh(), *xs, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, data=st.data(), seed=seeds)
def test_stack_matches_torch(dtype, shape, data, seed):
    k = data.draw(st.integers(1, 4))
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    xs = [values(seed + i, shape) for i in range(k)]
    check(lambda L, *xs: L.stack(list(xs), dim=dim) * 2, *xs, dtype=dtype, seed=seed)
    check(lambda L, *xs: L.stack(xs, dim).exp(), *xs, dtype=dtype, seed=seed)


def test_cat_and_stack_promote_dtypes_like_torch():
    for dts in [("float32", "float64"), ("int64", "float32"), ("bool", "int32"),
                ("int32", "int64")]:
        for L_fn in (lambda L, xs: L.cat(xs), lambda L, xs: L.stack(xs)):
            m = L_fn(minitorch, [minitorch.ones(2, dtype=getattr(minitorch, d)) for d in dts])
            t = L_fn(torch, [torch.ones(2, dtype=getattr(torch, d)) for d in dts])
            assert m.dtype.name == str(t.dtype).split(".")[-1], dts


# ---------------------------------------------------------------------------------------------
# Dtype conversions, clone, contiguous, and a long composite expression
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, seed=seeds)
def test_dtype_conversions_are_differentiable(dtype, shape, seed):
    x = values(seed, shape)
    check(lambda L, x: x.double() * x.float() + x.to(L.float64), x, dtype=dtype, seed=seed)
    check(lambda L, x: (x.to(dtype=L.float32) * 2).double(), x, dtype=dtype, seed=seed)
    check(lambda L, x: x.long() * 1.5 + x, x * 3, dtype=dtype, seed=seed)  # no grad through long()


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=shapes, data=st.data(), seed=seeds)
def test_contiguous_of_a_permuted_tensor(dtype, shape, data, seed):
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    m_out, _ = check(lambda L, x: x.permute(perm).contiguous() * 2, values(seed, shape),
                     dtype=dtype, seed=seed)
    assert m_out.is_contiguous()


@pytest.mark.parametrize("dtype", DTYPES)
@given(seed=seeds, n=st.integers(1, 5), k=st.integers(1, 5), m=st.integers(1, 5))
def test_small_network_matches_torch(dtype, seed, n, k, m):
    rng = np.random.default_rng(seed)
    x, w1, b1, w2 = (rng.standard_normal(s) for s in [(n, k), (k, m), (m,), (m, 2)])

    def net(L, x, w1, b1, w2):
        h = (x @ w1 + b1).relu()
        out = (h @ w2).tanh()
        return (out - out.mean(dim=0, keepdim=True)).pow(2).sum(1).mean() + 0.1 * (w1 * w1).sum()

    check(net, x, w1, b1, w2, dtype=dtype, seed=seed)


# ---------------------------------------------------------------------------------------------
# Type promotion: the whole grid of operand kinds against torch
# ---------------------------------------------------------------------------------------------
PROMOTION_DTYPES = ("bool", "int32", "int64", "float32", "float64")
OPERANDS = [("tensor", d, nd) for d in PROMOTION_DTYPES for nd in (0, 1)] + \
           [("scalar", v) for v in (True, 3, 2.5)]
PROMOTION_OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
                 "truediv": operator.truediv, "pow": operator.pow, "eq": operator.eq,
                 "lt": operator.lt}


def _operand(L, spec):
    if spec[0] == "scalar":
        return spec[1]
    _, d, nd = spec
    data = [1, 2, 3] if nd else 2
    return L.tensor(data, dtype=getattr(L, d))


def _outcome(L, op, a, b):
    try:
        r = op(_operand(L, a), _operand(L, b))
    except Exception as e:  # the kind of error is compared below
        return "error", type(e).__name__
    return str(r.dtype).split(".")[-1], np.asarray(r.detach()).astype(np.float64).tolist()


@pytest.mark.parametrize("op", sorted(PROMOTION_OPS))
def test_type_promotion_grid_matches_torch(op):
    """Every pair of (bool/int32/int64/float32/float64 tensor, 0-dim or not, or a Python
    bool/int/float): same result dtype and values as torch, or an error where torch raises.
    (torch allows ``bool_tensor ** True``, giving a bool tensor; minitorch raises there.)"""
    f = PROMOTION_OPS[op]
    wrong = []
    for a, b in itertools.product(OPERANDS, OPERANDS):
        if a[0] == b[0] == "scalar":
            continue
        if op == "pow" and ("scalar", True) in (a, b) and "bool" in (a[1], b[1]):
            continue
        t, m = _outcome(torch, f, a, b), _outcome(minitorch, f, a, b)
        same = t[0] == m[0] and (t[0] == "error" or np.allclose(t[1], m[1], equal_nan=True))
        if not same:
            wrong.append(f"{a} {op} {b}: torch {t}, minitorch {m}")
    assert not wrong, "\n".join(wrong)


def test_named_promotion_cases():
    i, f32, f64 = (minitorch.tensor([1, 2]), minitorch.tensor([1.0, 2.0]),
                   minitorch.tensor([1.0, 2.0], dtype=minitorch.float64))
    assert (i + 0.5).dtype is minitorch.float32          # int tensor + float scalar
    assert (i / i).dtype is minitorch.float32            # true division of ints
    assert (f32 + f64).dtype is minitorch.float64        # both dimensioned: the wider wins
    assert (minitorch.tensor(1.0, dtype=minitorch.float64) + f32).dtype is minitorch.float32
    assert (minitorch.tensor(1.0, dtype=minitorch.float64) + i).dtype is minitorch.float64
    assert (minitorch.tensor([True]) + 1).dtype is minitorch.int64
    assert (minitorch.tensor([True]) + minitorch.tensor([1], dtype=minitorch.int32)).dtype \
        is minitorch.int32
    assert (minitorch.tensor([1], dtype=minitorch.int32) + 7).dtype is minitorch.int32
    assert (f32 + 2 ** 40).dtype is minitorch.float32
    assert (i * f32).dtype is minitorch.float32          # int64 with float32 stays float32
    assert (i > 1).dtype is minitorch.bool
    assert minitorch.where(i > 1, 1, 0.5).dtype is minitorch.float32
    assert minitorch.where(i > 1, 1, 0).dtype is minitorch.int64


def test_binary_ops_with_float64_scalar_tensor_keep_float32_gradients():
    """A float32 leaf combined with a 0-dim float64 tensor: result float32, grads of each input
    in its own dtype, as torch."""
    for L in (torch, minitorch):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        s = L.tensor(3.0, dtype=L.float64, requires_grad=True)
        y = x * s
        assert str(y.dtype).endswith("float32")
        y.sum().backward()
        assert str(x.grad.dtype).endswith("float32") and str(s.grad.dtype).endswith("float64")
        assert float(s.grad) == 3.0 and x.grad.tolist() == [3.0, 3.0]


# ---------------------------------------------------------------------------------------------
# Tensor attributes and conversions
# ---------------------------------------------------------------------------------------------
def test_tensor_attributes_match_torch():
    data = np.arange(24.0).reshape(2, 3, 4)
    m, t = minitorch.tensor(data.tolist()), torch.tensor(data.tolist())
    assert tuple(m.shape) == tuple(t.shape) == (2, 3, 4)
    assert isinstance(m.shape, tuple) and m.shape == minitorch.Size([2, 3, 4])
    assert m.dtype is minitorch.float32 and m.ndim == 3 and m.dim() == 3
    assert m.size() == (2, 3, 4) and m.size(1) == 3 and m.size(-1) == 4
    assert m.numel() == 24 == t.numel()
    assert m.device == minitorch.device("cpu") and str(m.device) == "cpu"
    assert not m.requires_grad and m.grad is None and m.grad_fn is None and m.is_leaf
    assert m.is_floating_point() and not minitorch.tensor([1]).is_floating_point()
    assert m.tolist() == t.tolist()
    assert m[1, 2, 3].item() == 23.0 and isinstance(m[1, 2, 3].item(), float)
    assert isinstance(minitorch.tensor([7]).item(), int)
    assert isinstance(minitorch.tensor(True).item(), bool)
    assert len(m) == 2 and [r.shape for r in m] == [(3, 4), (3, 4)]


def test_requires_grad_flags_and_graph_nodes():
    x = minitorch.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf and x.grad_fn is None
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    assert "MulBackward" in type(y.grad_fn).__name__ + y.grad_fn.name()
    x.requires_grad_(False)
    assert not x.requires_grad
    z = minitorch.tensor([1.0], requires_grad=True).detach()
    assert not z.requires_grad and z.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


def test_numpy_shares_memory_and_refuses_tensors_requiring_grad():
    x = minitorch.tensor([1.0, 2.0, 3.0])
    a = x.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    a[0] = 10.0
    assert x[0].item() == 10.0  # the same memory, as torch
    w = minitorch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        w.numpy()
    assert w.detach().numpy().tolist() == [1.0]


def test_to_cpu_double_float_long_conversions():
    x = minitorch.tensor([1.7, -2.2, 3.0])
    assert x.cpu() is x and x.to("cpu") is x and x.to(minitorch.float32) is x
    assert x.double().dtype is minitorch.float64 and x.double().tolist() == pytest.approx(
        [1.7, -2.2, 3.0], rel=1e-6)
    assert x.long().dtype is minitorch.int64 and x.long().tolist() == [1, -2, 3]  # truncation
    assert x.long().float().dtype is minitorch.float32
    assert x.to(minitorch.float64).dtype is minitorch.float64
    assert x.to("cpu", minitorch.float64).dtype is minitorch.float64
    assert x.to(dtype=minitorch.int32).dtype is minitorch.int32
    other = minitorch.tensor([1], dtype=minitorch.int64)
    assert x.to(other).dtype is minitorch.int64
    assert x.to(minitorch.device("cpu")).device.type == "cpu"


def test_clone_copies_data_and_passes_gradient():
    x = minitorch.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None and not c.is_leaf
    with minitorch.no_grad():
        c.mul_(10)
    assert x.tolist() == [1.0, 2.0]  # the clone owns its memory
    (x.clone() * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_contiguous_returns_self_when_already_contiguous():
    x = minitorch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.contiguous() is x and x.is_contiguous()
    xt = x.T
    assert not xt.is_contiguous() and xt.contiguous().is_contiguous()
    assert xt.contiguous().tolist() == [[1.0, 3.0], [2.0, 4.0]]


def test_item_on_many_elements_raises():
    with pytest.raises(RuntimeError,
                       match="a Tensor with 3 elements cannot be converted to Scalar"):
        minitorch.tensor([1.0, 2.0, 3.0]).item()


def test_repr_looks_like_torch():
    assert repr(minitorch.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(minitorch.tensor([1, 2])) == "tensor([1, 2])"
    assert "requires_grad=True" in repr(minitorch.tensor([1.0], requires_grad=True))
    assert "dtype=minitorch.float64" in repr(minitorch.tensor([1.0], dtype=minitorch.float64))


def test_view_dtype_reinterprets_the_bytes_like_torch():
    for target in ("int32", "int64", "float32"):
        m = minitorch.tensor([[1.0, 2.0, -3.0, 0.5]]).view(getattr(minitorch, target))
        t = torch.tensor([[1.0, 2.0, -3.0, 0.5]]).view(getattr(torch, target))
        assert m.dtype.name == target and tuple(m.shape) == tuple(t.shape)
        assert m.tolist() == t.tolist()
    x = minitorch.tensor([1.0, 2.0])
    bits = x.view(minitorch.int32)
    bits[0] = 0  # the same memory
    assert x.tolist() == [0.0, 2.0]


def test_sizes_can_be_given_as_integer_tensors():
    assert minitorch.zeros(minitorch.tensor(2), 3).shape == (2, 3)
    assert minitorch.ones(2, 3).reshape(minitorch.tensor(6)).shape == (6,)
    with pytest.raises(TypeError):
        minitorch.zeros(2.0)
