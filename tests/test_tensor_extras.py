"""Tensor.narrow, scatter/scatter_, the legacy typed constructors (LongTensor, ...),
set_default_device/get_default_device, and the small APIs torch programs lean on (.data,
view_as, type(dtype), __index__, torch.argmax, split, new_zeros, __array__) against torch:
forward and backward with a random cotangent, float64 and float32, hypothesis-drawn shapes."""
import operator

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_compare import assert_close, check, to_mt, to_torch

import minitorch

DTYPES = st.sampled_from(["float64", "float32"])
SHAPES = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


# ---- narrow ------------------------------------------------------------------------------------
@given(shape=SHAPES, data=st.data(), dtype=DTYPES)
def test_narrow_matches_torch(shape, data, dtype):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    start = data.draw(st.integers(-n, n))  # negative: counted from the end, n: an empty view
    length = data.draw(st.integers(0, n - (start % n if start < 0 or start < n else n)))
    x = np.random.default_rng(n).standard_normal(shape)
    check(lambda L, x: x.narrow(dim, start, length) * 2, x, dtype=dtype)


def test_narrow_is_a_view_and_errors_name_the_sizes():
    for L in (torch, minitorch):
        x = L.arange(12.0).reshape(3, 4)
        x.narrow(1, -3, 2).fill_(-1)  # writes through to x, as torch's view
        x.narrow(0, 2, 1).mul_(10)
        if L is torch:
            expected = x.numpy()
        else:
            np.testing.assert_array_equal(x.numpy(), expected)
    x = minitorch.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"start \(2\) \+ length \(3\) exceeds dimension size \(4\)"):
        x.narrow(1, 2, 3)
    with pytest.raises(IndexError, match="start -5 is out of range for dimension 1 of size 4"):
        x.narrow(1, -5, 1)
    with pytest.raises(IndexError):
        torch.zeros(3, 4).narrow(1, -5, 1)


# ---- scatter / scatter_ -------------------------------------------------------------------------
@st.composite
def scatter_cases(draw):
    """self, an index whose positions along dim are distinct within each line (so that no two
    writes land on one place), and a src at least as large as the index."""
    shape = draw(SHAPES)
    ndim = len(shape)
    dim = draw(st.integers(0, ndim - 1))
    index_shape = tuple(draw(st.integers(1, shape[dim])) if k == dim else
                        draw(st.integers(1, shape[k])) for k in range(ndim))
    src_shape = tuple(m + draw(st.integers(0, 2)) for m in index_shape)
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    # along dim: the first index_shape[dim] entries of a random permutation of range(shape[dim])
    moved = np.moveaxis(np.empty(index_shape, dtype=np.int64), dim, -1)
    lines = moved.reshape(-1, index_shape[dim])
    for line in lines:
        line[:] = rng.permutation(shape[dim])[:index_shape[dim]]
    index = np.moveaxis(lines.reshape(moved.shape), -1, dim).copy()
    return dict(x=rng.standard_normal(shape), src=rng.standard_normal(src_shape), index=index,
                dim=dim, dtype=draw(DTYPES), seed=seed)


@given(scatter_cases())
def test_scatter_matches_torch(case):
    """Out of place, differentiable in self (written positions get no gradient) and in src.
    A src larger than index is read only where index reaches; torch's backward refuses such a
    src ("invalid gradient ... got [index's shape]"), so the gradient is compared on the
    index-shaped part of src."""
    dim, dtype = case["dim"], case["dtype"]
    check(lambda L, x, i, s: x.scatter(dim, i, s), case["x"], case["index"], case["src"],
          dtype=dtype, backward=False)
    src = case["src"][tuple(slice(0, m) for m in case["index"].shape)]
    check(lambda L, x, i, s: x.scatter(dim, i, s), case["x"], case["index"], src,
          dtype=dtype, seed=case["seed"] % 1000)
    check(lambda L, x, i: x.scatter(dim, i, 2.5) * x, case["x"], case["index"], dtype=dtype)
    check(lambda L, x, i: x.scatter(dim, i, value=-1.0), case["x"], case["index"], dtype=dtype)


@given(scatter_cases())
def test_scatter_inplace_matches_torch(case):
    """scatter_ on a non-leaf in the graph: the gradient flows through the in-place write."""
    dim = case["dim"]
    src = case["src"][tuple(slice(0, m) for m in case["index"].shape)]
    check(lambda L, x, i, s: (x * 3).scatter_(dim, i, s).exp(), case["x"], case["index"],
          src, dtype=case["dtype"])
    check(lambda L, x, i: (x * 1).scatter_(dim, i, value=4.0) * x, case["x"], case["index"],
          dtype=case["dtype"])


def test_scatter_one_hot_targets_and_errors():
    """transforms' target_transform: zeros(10).scatter_(0, tensor(y), value=1)."""
    for y in (0, 3, 9):
        m = minitorch.zeros(10, dtype=minitorch.float).scatter_(0, minitorch.tensor(y), value=1)
        t = torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)
        assert_close(m, t, "float32")
    ints = minitorch.zeros(2, 3, dtype=minitorch.int64).scatter_(1, minitorch.tensor([[2], [0]]),
                                                                   minitorch.tensor([[7], [8]]))
    assert_close(ints, torch.zeros(2, 3, dtype=torch.int64).scatter_(
        1, torch.tensor([[2], [0]]), torch.tensor([[7], [8]])))
    x = minitorch.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"index 4 is out of bounds for dimension 1 with size 4"):
        x.scatter(1, minitorch.tensor([[4]]), 1.0)
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        x.scatter(1, minitorch.tensor([[1]], dtype=minitorch.int32), 1.0)
    with pytest.raises(RuntimeError, match="Expected self.dtype to be equal to src.dtype"):
        x.scatter(1, minitorch.tensor([[1]]), minitorch.ones(1, 1, dtype=minitorch.float64))
    with pytest.raises(RuntimeError, match=r"same number of dimensions.*index \(2,\)"):
        x.scatter(1, minitorch.tensor([1, 2]), 1.0)
    with pytest.raises(RuntimeError, match=r"index size 4 at dim 0.*index \(4,1\)"):
        x.scatter(1, minitorch.zeros(4, 1, dtype=minitorch.int64), 1.0)
    for L in (torch, minitorch):  # torch refuses each of these too
        with pytest.raises(RuntimeError):
            L.zeros(3, 4).scatter(1, L.zeros(4, 1, dtype=L.int64), 1.0)


# ---- legacy typed constructors -----------------------------------------------------------------
LEGACY = ["LongTensor", "FloatTensor", "DoubleTensor", "IntTensor", "BoolTensor"]


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_constructors_match_torch(name):
    m_cls, t_cls = getattr(minitorch, name), getattr(torch, name)
    assert str(m_cls.dtype).split(".")[-1] == str(t_cls.dtype).split(".")[-1]
    # sizes: shape and dtype as torch (torch's memory is uninitialised, ours zeros)
    for args in [(3,), (2, 3), (0,), ()]:
        m, t = m_cls(*args), t_cls(*args)
        assert tuple(m.shape) == tuple(t.shape) and m.dtype.name == str(t.dtype).split(".")[-1]
    m, t = m_cls(minitorch.Size([2, 4])), t_cls(torch.Size([2, 4]))
    assert tuple(m.shape) == tuple(t.shape) == (2, 4)
    # data: a list, a tuple (data, not a shape), a NumPy array, a nested list
    for data in ([1, 0, 2], (1, 2), np.array([3, 0, 1]), [[1.0, 0.0], [2.5, 3.0]]):
        assert_close(m_cls(data), t_cls(data))
    assert isinstance(minitorch.zeros(2, dtype=m_cls.dtype), m_cls)
    assert not isinstance(minitorch.zeros(2, dtype=minitorch.float16), m_cls)
    assert repr(m_cls) == repr(t_cls).replace("torch", "minitorch")
    assert_close(minitorch.tensor([1.5, -2.0]).type(m_cls), torch.tensor([1.5, -2.0]).type(t_cls))


def test_long_tensor_as_word_language_model_uses_it():
    """generate.py / the ONNX path: torch.LongTensor(n) then .fill_/.copy_ it."""
    for L in (torch, minitorch):
        x = L.LongTensor(4).fill_(7)
        y = L.LongTensor(2, 2).copy_(L.tensor([[1, 2], [3, 4]]))
        if L is torch:
            tx, ty = x, y
    assert_close(x, tx)
    assert_close(y, ty)


# ---- set_default_device / get_default_device ---------------------------------------------------
def test_default_device_cpu_and_factories():
    assert str(minitorch.get_default_device()) == str(torch.get_default_device()) == "cpu"
    try:
        minitorch.set_default_device("cpu")
        torch.set_default_device("cpu")
        for make in (lambda L: L.zeros(2), lambda L: L.randn(2, 3), lambda L: L.tensor([1, 2]),
                     lambda L: L.arange(3), lambda L: L.nn.Linear(2, 3).weight):
            assert str(make(minitorch).device) == str(make(torch).device) == "cpu"
        assert str(minitorch.get_default_device()) == str(torch.get_default_device())
    finally:
        minitorch.set_default_device(None)
        torch.set_default_device(None)
    assert str(minitorch.get_default_device()) == "cpu"


def test_default_device_cuda_without_cupy_says_what_is_missing():
    """Without CuPy and a GPU, set_default_device('cuda') says so at once (torch's factories
    would fail later); with them, test_narrow_scatter_and_default_device_on_cuda checks the
    CUDA factories."""
    if minitorch.cuda.is_available():
        minitorch.set_default_device("cuda:0")  # accepted (the CUDA test checks the factories)
        minitorch.set_default_device(None)
        assert str(minitorch.get_default_device()) == "cpu"
        return
    with pytest.raises(RuntimeError, match=r"set_default_device\('cuda'\): CUDA is not "
                                           r"available.*pip install cupy"):
        minitorch.set_default_device("cuda")
    assert str(minitorch.get_default_device()) == "cpu"  # unchanged
    assert minitorch.zeros(2).device.type == "cpu"


# ---- small APIs the programs use ---------------------------------------------------------------
def test_data_is_the_same_memory_outside_the_graph():
    """p.data.add_(...) (blitz's manual SGD), m.bias.data.fill_(...), torch.max(out.data, 1)."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    results = {}
    for L in (torch, minitorch):
        p = L.tensor(x, requires_grad=True)
        d = p.data
        assert not d.requires_grad and d.grad_fn is None
        p.data.add_(p.data * -0.5)  # no error on a leaf: .data is outside the graph
        bias = L.nn.Linear(4, 2).bias
        bias.data.fill_(0.25)
        values, idx = L.max((p * 2).data, 1)
        assert not values.requires_grad
        results[L.__name__] = (p.detach(), bias.detach(), values, idx)
    for m, t in zip(results["minitorch"], results["torch"]):
        assert_close(m, t)


@given(shape=SHAPES, dtype=DTYPES)
def test_view_as_matches_torch(shape, dtype):
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    other = np.zeros(shape[::-1])
    check(lambda L, x, o: x.view_as(o), x, other, dtype=dtype, grad=(True, False))
    check(lambda L, x, o: x.flatten().view_as(o), x, other.reshape(-1), dtype=dtype,
          grad=(True, False))


def test_type_casts_as_to():
    x = np.random.default_rng(1).standard_normal((2, 3))
    for dtype in ("float64", "float32"):
        check(lambda L, x: x.type(L.float64) * 3, x, dtype=dtype)
        check(lambda L, x: x.type(L.float) * 3, x, dtype=dtype)
        check(lambda L, x: x.type(L.long), x * 5, dtype=dtype)
    check(lambda L, x: x.type(L.FloatTensor) + 1, x)


def test_index_of_integer_tensors():
    classes = ["plane", "car", "bird", "cat"]
    for y in range(4):
        m, t = minitorch.tensor(y), torch.tensor(y)
        assert classes[m] == classes[t] == classes[y]
        assert operator.index(m) == operator.index(t) == y
        assert list(range(m)) == list(range(t))
    assert classes[minitorch.tensor([2])] == classes[torch.tensor([2])]  # one element
    assert classes[minitorch.argmax(minitorch.tensor([0.1, 0.7, 0.2]))] == "car"
    for L in (torch, minitorch):
        with pytest.raises(TypeError):
            classes[L.tensor(1.0)]
        with pytest.raises(TypeError):
            classes[L.tensor([1, 2])]


@given(shape=SHAPES, data=st.data(), dtype=DTYPES)
def test_torch_argmax_matches_torch(shape, data, dtype):
    size = int(np.prod(shape))
    rng = np.random.default_rng(size)
    x = rng.permutation(size).reshape(shape).astype(np.float64)  # no ties
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keepdim = data.draw(st.booleans())
    check(lambda L, x: L.argmax(x), x, dtype=dtype)
    check(lambda L, x: L.argmax(x, dim, keepdim), x, dtype=dtype)
    check(lambda L, x: L.argmax(x, dim=dim, keepdim=keepdim), x, dtype=dtype)
    ties = np.zeros(shape)  # all equal: the first index, as torch
    check(lambda L, x: L.argmax(x, dim), ties, dtype=dtype)


@given(shape=SHAPES, data=st.data(), dtype=DTYPES)
def test_split_matches_torch(shape, data, dtype):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[dim]
    size = data.draw(st.integers(1, n + 1))
    sections = data.draw(st.lists(st.integers(0, n), min_size=1, max_size=3).filter(
        lambda s: sum(s) <= n))
    sections = sections + [n - sum(sections)]
    x = np.random.default_rng(n).standard_normal(shape)
    check(lambda L, x: x.split(size, dim), x, dtype=dtype)
    check(lambda L, x: x.split(1, dim=dim), x, dtype=dtype)  # time_sequence_prediction's form
    check(lambda L, x: L.split(x, sections, dim), x, dtype=dtype)


def test_new_zeros_matches_torch():
    for dtype in ("float64", "float32"):
        x = np.ones((2, 3))
        check(lambda L, x: x.new_zeros(4, 5), x, dtype=dtype)
        check(lambda L, x: x.new_zeros((2, 1)), x, dtype=dtype)
        check(lambda L, x: x.new_zeros(3) + x.sum(), x, dtype=dtype)
    check(lambda L, i: i.new_zeros((3,)), np.arange(3))
    m, t = to_mt(np.ones(2), requires_grad=True).new_zeros(2), to_torch(np.ones(2),
                                                                       requires_grad=True).new_zeros(2)
    assert m.requires_grad is t.requires_grad is False


@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
def test_array_protocol_as_numpy_2_expects():
    """np.array(t) copies, np.asarray(t) shares a CPU tensor's memory, dtype= converts,
    copy=False refuses a conversion: as with torch (siamese_network calls
    np.array(t, dtype=None, copy=None))."""
    x = np.random.default_rng(2).standard_normal((2, 3)).astype(np.float32)
    for L in (torch, minitorch):
        t = L.from_numpy(x.copy())
        a = np.array(t)
        a[0, 0] = 100
        assert float(t[0, 0]) == x[0, 0]  # a copy
        b = np.asarray(t)
        b[0, 1] = 200
        assert float(t[0, 1]) == 200  # shares
        c = np.array(t, dtype=None, copy=None)
        assert c.dtype == np.float32 and np.shares_memory(c, b)
        d = np.array(t, dtype=np.float64)
        assert d.dtype == np.float64 and not np.shares_memory(d, b)
        np.testing.assert_array_equal(np.asarray(t, dtype=np.float64), b.astype(np.float64))
        with pytest.raises(ValueError):
            np.array(t, dtype=np.float64, copy=False)


# ---- on CUDA (a real GPU, or make test-cuda's emulated one) ------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_narrow_scatter_and_default_device_on_cuda(dtype):
    rng = np.random.default_rng(6)
    x, src = rng.standard_normal((3, 5)), rng.standard_normal((2, 5))
    index = np.array([[0, 2, 1, 0, 2], [1, 0, 2, 2, 0]])
    check(lambda L, x: x.narrow(1, -3, 2) * 2, x, dtype=dtype, device="cuda")
    check(lambda L, x, i, s: x.scatter(0, i, s), x, index, src, dtype=dtype, device="cuda")
    check(lambda L, x, i: (x * 1).scatter_(0, i, value=2.0) * x, x, index, dtype=dtype,
          device="cuda")
    t = to_mt(x, dtype, device="cuda")
    assert np.array(t).dtype == np.dtype(dtype)  # __array__ copies to the host
    with pytest.raises(ValueError, match="without a copy"):
        np.array(t, copy=False)
    try:
        minitorch.set_default_device("cuda")
        assert minitorch.get_default_device().type == "cuda"
        for made in (minitorch.zeros(2), minitorch.randn(2, 3), minitorch.tensor([1.0, 2.0]),
                     minitorch.arange(3), minitorch.nn.Linear(2, 3).weight):
            assert made.device.type == "cuda"
        assert minitorch.from_numpy(np.zeros(2)).device.type == "cpu"
        assert minitorch.zeros(2, device="cpu").device.type == "cpu"
        assert minitorch.LongTensor(2).device.type == "cpu"
    finally:
        minitorch.set_default_device(None)
    assert minitorch.zeros(1).device.type == "cpu"
