"""Factories: dtype inference like torch.tensor, memory sharing, seeds, ranges and dtypes."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch_compare import assert_close

import minitorch


def same(m, t):
    """Same dtype, shape and values as the torch tensor."""
    assert m.dtype.name == str(t.dtype).split(".")[-1], (m.dtype, t.dtype)
    assert tuple(m.shape) == tuple(t.shape)
    assert_close(m, t)


# ---------------------------------------------------------------------------------------------
# tensor(): dtype inference
# ---------------------------------------------------------------------------------------------
INFERENCE_CASES = {
    "python_floats": lambda L: L.tensor([1.0, 2.5]),
    "python_ints": lambda L: L.tensor([1, -2]),
    "python_bools": lambda L: L.tensor([True, False]),
    "ints_and_floats": lambda L: L.tensor([1, 2.5]),
    "bools_and_ints": lambda L: L.tensor([True, 2]),
    "nested": lambda L: L.tensor([[1, 2], [3, 4.5]]),
    "tuples": lambda L: L.tensor(((1, 2), (3, 4))),
    "float_scalar": lambda L: L.tensor(3.5),
    "int_scalar": lambda L: L.tensor(3),
    "bool_scalar": lambda L: L.tensor(True),
    "large_int": lambda L: L.tensor([2 ** 40]),
    "numpy_float64": lambda L: L.tensor(np.array([1.0, 2.0])),
    "numpy_float32": lambda L: L.tensor(np.array([1.0, 2.0], dtype=np.float32)),
    "numpy_int32": lambda L: L.tensor(np.array([[1, 2]], dtype=np.int32)),
    "numpy_bool": lambda L: L.tensor(np.array([True])),
    "numpy_float64_scalar": lambda L: L.tensor(np.float64(2.0)),
    "numpy_int32_scalar": lambda L: L.tensor(np.int32(7)),
    "list_of_numpy_float64": lambda L: L.tensor([np.float64(1.0), np.float64(2.0)]),
    "list_of_numpy_float32_and_ints": lambda L: L.tensor([np.float32(1.5), 2]),
    "empty_list": lambda L: L.tensor([]),
    "nested_empty": lambda L: L.tensor([[], []]),
    "explicit_dtype": lambda L: L.tensor([1, 2], dtype=L.float64),
    "explicit_int_dtype_truncates": lambda L: L.tensor([1.7, -2.7], dtype=L.int64),
    "explicit_bool_dtype": lambda L: L.tensor([0.0, 2.0], dtype=L.bool),
    "list_of_0d_tensors": lambda L: L.tensor([L.tensor(1.0), L.tensor(2.0)]),
    "list_of_int_and_float_0d_tensors": lambda L: L.tensor([L.tensor(1), L.tensor(2.0)]),
    "float16": lambda L: L.tensor([1.5], dtype=L.float16),
    "as_tensor": lambda L: L.as_tensor([1, 2]),
    "legacy_constructor_data": lambda L: L.Tensor([1, 2]),
    "legacy_constructor_sizes": lambda L: L.Tensor(2, 3).zero_(),
}


@pytest.mark.parametrize("case", sorted(INFERENCE_CASES))
def test_tensor_infers_dtypes_like_torch(case):
    fn = INFERENCE_CASES[case]
    same(fn(minitorch), fn(torch))


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = minitorch.tensor(a)
    a[0] = 100.0
    assert t.tolist() == [1.0, 2.0]
    src = minitorch.tensor([1.0, 2.0], requires_grad=True)
    copy = minitorch.tensor(src.detach())
    copy[0] = 5.0
    assert src.tolist() == [1.0, 2.0] and not copy.requires_grad and copy.is_leaf


def test_tensor_requires_grad_makes_a_leaf():
    t = minitorch.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None


def test_ragged_nested_lists_are_rejected():
    with pytest.raises(ValueError, match="expected sequence of length 2 at dim 1"):
        minitorch.tensor([[1, 2], [3]])


def test_unsupported_data_is_rejected_clearly():
    with pytest.raises(TypeError, match="could not infer a tensor dtype"):
        minitorch.tensor(["a"])
    with pytest.raises(TypeError, match="unsupported array dtype complex128"):
        minitorch.from_numpy(np.array([1j]))


# ---------------------------------------------------------------------------------------------
# from_numpy and as_tensor share memory
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_,
                                      np.uint8])
def test_from_numpy_keeps_the_dtype_and_shares_memory(np_dtype):
    a = np.arange(6).reshape(2, 3).astype(np_dtype)
    m, t = minitorch.from_numpy(a), torch.from_numpy(a)
    same(m, t)
    a[0, 0] = 1
    assert m[0, 0].item() == a[0, 0]  # a change to the array shows in the tensor
    m[1, 2] = 0
    assert a[1, 2] == 0  # and the other way round


def test_from_numpy_of_a_non_contiguous_array_is_a_view():
    base = np.arange(12.0).reshape(3, 4)
    view = base[:, ::2]
    m = minitorch.from_numpy(view)
    same(m, torch.from_numpy(view))
    with minitorch.no_grad():
        m.mul_(2)
    assert base[0].tolist() == [0.0, 1.0, 4.0, 3.0]


def test_from_numpy_wants_an_ndarray():
    with pytest.raises(TypeError, match=r"expected np.ndarray \(got list\)"):
        minitorch.from_numpy([1.0, 2.0])


def test_as_tensor_shares_a_numpy_array_and_returns_a_tensor_unchanged():
    a = np.array([1.0, 2.0])
    t = minitorch.as_tensor(a)
    a[1] = 7.0
    assert t.tolist() == [1.0, 7.0] and t.dtype is minitorch.float64
    assert minitorch.as_tensor(t) is t


# ---------------------------------------------------------------------------------------------
# zeros, ones, full, empty and the *_like factories
# ---------------------------------------------------------------------------------------------
size_forms = st.sampled_from(["varargs", "tuple", "list"])


@given(shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4), form=size_forms,
       dtype=st.sampled_from([None, "float64", "int64", "int32", "bool"]))
def test_zeros_ones_empty_match_torch(shape, form, dtype):
    args = {"varargs": tuple(shape), "tuple": (tuple(shape),), "list": (list(shape),)}[form]
    if form == "varargs" and not shape:
        args = ((),)
    for name in ("zeros", "ones", "empty"):
        kw = {} if dtype is None else {"dtype": getattr(minitorch, dtype)}
        m = getattr(minitorch, name)(*args, **kw)
        t_kw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
        t = getattr(torch, name)(*args, **t_kw)
        assert m.dtype.name == str(t.dtype).split(".")[-1] and tuple(m.shape) == tuple(t.shape)
        if name != "empty":
            same(m, t)


def test_factories_take_requires_grad():
    for make in (lambda: minitorch.zeros(2, requires_grad=True),
                 lambda: minitorch.ones((2, 2), requires_grad=True),
                 lambda: minitorch.full((2,), 1.5, requires_grad=True),
                 lambda: minitorch.randn(2, requires_grad=True),
                 lambda: minitorch.rand(2, requires_grad=True),
                 lambda: minitorch.arange(3.0, requires_grad=True),
                 lambda: minitorch.zeros_like(minitorch.ones(2), requires_grad=True)):
        t = make()
        assert t.requires_grad and t.is_leaf


FULL_CASES = {
    "float": lambda L: L.full((2, 3), 1.5),
    "int": lambda L: L.full((2,), 7),
    "bool": lambda L: L.full((2,), True),
    "explicit_dtype": lambda L: L.full((2,), 7, dtype=L.float64),
    "list_size": lambda L: L.full([2, 1], -3.0),
    "zero_dim": lambda L: L.full((), 4),
    "numpy_float64_value": lambda L: L.full((2,), np.float64(0.5)),
    "full_like_float_into_int": lambda L: L.full_like(L.tensor([1, 2]), 2.7),
    "full_like_dtype": lambda L: L.full_like(L.tensor([1, 2]), 2.7, dtype=L.float64),
    "zeros_like_int": lambda L: L.zeros_like(L.tensor([1, 2])),
    "ones_like_float64": lambda L: L.ones_like(L.tensor([[1.0]], dtype=L.float64)),
    "ones_like_dtype": lambda L: L.ones_like(L.tensor([1, 2]), dtype=L.float32),
    "zeros_like_bool": lambda L: L.zeros_like(L.tensor([True])),
    "empty_like_shape": lambda L: L.empty_like(L.ones(2, 3, dtype=L.float64)).zero_(),
    "linspace": lambda L: L.linspace(-1, 1, 5),
    "eye": lambda L: L.eye(3),
    "eye_rect": lambda L: L.eye(2, 4),
}


@pytest.mark.parametrize("case", sorted(FULL_CASES))
def test_full_and_like_factories_match_torch(case):
    fn = FULL_CASES[case]
    same(fn(minitorch), fn(torch))


def test_like_factories_do_not_require_grad_by_default():
    x = minitorch.ones(2, 3, requires_grad=True)
    for fn in (minitorch.zeros_like, minitorch.ones_like, minitorch.empty_like,
               minitorch.rand_like, minitorch.randn_like):
        y = fn(x)
        assert not y.requires_grad and y.shape == (2, 3) and y.dtype is minitorch.float32
    assert minitorch.rand_like(minitorch.ones(2, dtype=minitorch.float64)).dtype is \
        minitorch.float64


# ---------------------------------------------------------------------------------------------
# arange
# ---------------------------------------------------------------------------------------------
ARANGE_CASES = [
    (5,), (0, 5), (2, 11, 3), (5, 0, -2), (-3, 3), (2.5,), (0.0, 1.0, 0.25), (0, 5, 1.5),
    (0, 1, 0.1), (1, 2.5), (-1.5, 1.5, 0.5), (np.int64(4),),
]


@pytest.mark.parametrize("args", ARANGE_CASES, ids=str)
def test_arange_values_and_dtype_match_torch(args):
    same(minitorch.arange(*args), torch.arange(*args))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int64"])
def test_arange_with_a_dtype(dtype):
    same(minitorch.arange(1, 7, 2, dtype=getattr(minitorch, dtype)),
         torch.arange(1, 7, 2, dtype=getattr(torch, dtype)))


def test_arange_of_a_0d_tensor_bound():
    same(minitorch.arange(minitorch.tensor(3)), torch.arange(torch.tensor(3)))


@given(start=st.integers(-20, 20), length=st.integers(0, 20), step=st.integers(1, 5),
       sign=st.sampled_from([1, -1]))
def test_arange_integer_ranges_match_torch(start, length, step, sign):
    end = start + sign * length
    step = sign * step
    same(minitorch.arange(start, end, step), torch.arange(start, end, step))


# ---------------------------------------------------------------------------------------------
# Random factories: seeds, ranges, dtypes
# ---------------------------------------------------------------------------------------------
def _draws():
    return (minitorch.randn(3, 4).tolist(), minitorch.rand(5).tolist(),
            minitorch.randint(0, 10, (6,)).tolist(), minitorch.randperm(7).tolist(),
            minitorch.randn_like(minitorch.ones(2)).tolist())


def test_manual_seed_makes_random_factories_reproducible():
    minitorch.manual_seed(1234)
    first = _draws()
    minitorch.manual_seed(1234)
    assert _draws() == first
    minitorch.manual_seed(1235)
    assert _draws()[0] != first[0]
    assert minitorch.initial_seed() == 1235


def test_manual_seed_also_seeds_parameter_initialisation():
    minitorch.manual_seed(7)
    a = minitorch.nn.Linear(3, 2).weight.tolist()
    minitorch.manual_seed(7)
    assert minitorch.nn.Linear(3, 2).weight.tolist() == a


def test_generator_objects_give_independent_reproducible_streams():
    g1 = minitorch.Generator().manual_seed(5)
    g2 = minitorch.Generator().manual_seed(5)
    minitorch.manual_seed(0)
    a = minitorch.randn(4, generator=g1).tolist()
    minitorch.randn(10)  # the global generator does not affect g2
    assert minitorch.randn(4, generator=g2).tolist() == a
    assert g1.initial_seed() == 5


def test_rng_state_round_trip():
    minitorch.manual_seed(3)
    state = minitorch.get_rng_state()
    a = minitorch.rand(4).tolist()
    minitorch.set_rng_state(state)
    assert minitorch.rand(4).tolist() == a


def test_randn_and_rand_have_the_right_distribution_shape_and_dtype():
    minitorch.manual_seed(0)
    n = minitorch.randn(200, 100)
    assert n.dtype is minitorch.float32 and n.shape == (200, 100)
    assert abs(n.mean().item()) < 0.02 and abs(((n * n).mean().item()) - 1) < 0.03
    u = minitorch.rand((300, 100), dtype=minitorch.float64)
    assert u.dtype is minitorch.float64 and u.min().item() >= 0.0 and u.max().item() < 1.0
    assert abs(u.mean().item() - 0.5) < 0.01
    assert minitorch.randn(()).shape == () and minitorch.rand(2, 3).shape == (2, 3)


@given(low=st.integers(-50, 50), width=st.integers(1, 6), seed=st.integers(0, 2**32 - 1),
       shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
def test_randint_stays_in_range(low, width, seed, shape):
    minitorch.manual_seed(seed)
    high = low + width
    x = minitorch.randint(low, high, shape)
    assert x.dtype is minitorch.int64 and x.shape == shape
    assert x.min().item() >= low and x.max().item() < high
    y = minitorch.randint(width, shape)  # randint(high, size): low is 0
    assert y.min().item() >= 0 and y.max().item() < width


def test_randint_covers_the_whole_range_and_takes_a_dtype():
    minitorch.manual_seed(0)
    x = minitorch.randint(3, 7, (2000,))
    assert sorted(set(x.tolist())) == [3, 4, 5, 6]
    assert minitorch.randint(0, 5, (3,), dtype=minitorch.float32).dtype is minitorch.float32
    assert minitorch.randint(0, 5, [2, 2]).shape == (2, 2)


def test_randperm_is_a_permutation():
    minitorch.manual_seed(0)
    p = minitorch.randperm(10)
    assert p.dtype is minitorch.int64 and sorted(p.tolist()) == list(range(10))
