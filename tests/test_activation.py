"""Activations, linear, dropout and flatten of ``minitorch.nn.functional``.

Each op runs against torch through ``check`` (forward, then backward with a random cotangent) in
float64 (rtol 1e-10) and float32 (rtol 1e-5); small float64 cases also go through ``gradcheck``
(full Jacobians). Dropout cannot match torch's random numbers, so its semantics are tested
instead: the mask forward used is the one backward uses, the scale, the statistics, seeding.
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
from minitorch.autograd import gradcheck

DTYPES = st.sampled_from(["float64", "float32"])
SEEDS = st.integers(0, 2**32 - 1)


def shapes(min_dims=1, max_dims=4, max_side=4):
    return st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def f64(a, requires_grad=True):
    return minitorch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------------------
# Elementwise activations
# ---------------------------------------------------------------------------------------------
@given(name=st.sampled_from(["relu", "sigmoid", "tanh", "leaky_relu"]), shape=shapes(0),
       dtype=DTYPES, seed=SEEDS, scale=st.sampled_from([1.0, 30.0]),
       slope=st.sampled_from([0.01, 0.2, 1.5]))
def test_elementwise_vs_torch(name, shape, dtype, seed, scale, slope):
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    if name == "leaky_relu":
        check(lambda L, x: L.nn.functional.leaky_relu(x, slope), x, dtype=dtype)
        check(lambda L, x: L.nn.functional.leaky_relu(x, negative_slope=slope), x, dtype=dtype)
    else:
        check(lambda L, x: getattr(L.nn.functional, name)(x), x, dtype=dtype)


def test_relu_and_leaky_relu_gradient_at_zero():
    x = np.array([-2.0, -0.0, 0.0, 3.0])
    check(lambda L, x: L.nn.functional.relu(x), x)
    check(lambda L, x: L.nn.functional.leaky_relu(x, 0.25), x)
    t = f64(x)
    F.leaky_relu(t, 0.25).backward(minitorch.ones(4, dtype=minitorch.float64))
    np.testing.assert_array_equal(np.asarray(t.grad), [0.25, 0.25, 0.25, 1.0])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inplace_activations_on_a_graph_tensor(dtype):
    x = np.random.default_rng(1).standard_normal((3, 4))
    check(lambda L, x: L.nn.functional.relu(x * 2, inplace=True), x, dtype=dtype)
    check(lambda L, x: L.nn.functional.leaky_relu(x * 2, 0.1, inplace=True), x, dtype=dtype)
    a = minitorch.tensor(x.copy())
    out = F.relu_(a)
    assert out is a and np.asarray(a).min() >= 0
    leaf = f64(x)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.relu(leaf, inplace=True)


# ---------------------------------------------------------------------------------------------
# softmax, log_softmax
# ---------------------------------------------------------------------------------------------
@given(data=st.data(), shape=shapes(0), dtype=DTYPES, seed=SEEDS,
       scale=st.sampled_from([1.0, 1e3]), fn=st.sampled_from(["softmax", "log_softmax"]))
def test_softmax_vs_torch(data, shape, dtype, seed, scale, fn):
    ndim = max(len(shape), 1)
    dim = data.draw(st.integers(-ndim, ndim - 1), label="dim")
    x = np.random.default_rng(seed).standard_normal(shape) * scale
    m, _ = check(lambda L, x: getattr(L.nn.functional, fn)(x, dim), x, dtype=dtype)
    assert np.isfinite(np.asarray(m.detach())).all()
    # the Tensor methods route here too
    check(lambda L, x: getattr(x, fn)(dim), x, dtype=dtype)


def test_log_softmax_is_stable_for_logits_of_magnitude_1e3():
    x = np.array([[1000.0, -1000.0, 0.0, 999.0], [-1000.0, -1000.0, -999.5, -1001.0]])
    for dtype in ("float64", "float32"):
        m, t = check(lambda L, x: L.nn.functional.log_softmax(x, 1), x, dtype=dtype)
        assert np.isfinite(np.asarray(m.detach())).all()
        m, t = check(lambda L, x: L.nn.functional.softmax(x, 1), x, dtype=dtype)
        np.testing.assert_allclose(np.asarray(m.detach()).sum(1), 1.0, rtol=1e-6)


def test_softmax_dtype_argument_and_integer_input():
    x = np.array([[1, 2, 3], [0, 0, 7]])
    check(lambda L, x: L.nn.functional.softmax(x, 1, dtype=L.float64), x, grad=(False,))
    check(lambda L, x: L.nn.functional.log_softmax(x, -1, dtype=L.float32), x, grad=(False,),
          dtype="float32")
    with pytest.raises(NotImplementedError,
                       match="softmax: expected a floating point input, got int64"):
        F.softmax(minitorch.tensor(x), 1)


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 3, 4), (2, 3, 4, 2)])
def test_softmax_implicit_dim_follows_torch(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        m = F.softmax(minitorch.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.functional.softmax(torch.from_numpy(x))
    np.testing.assert_allclose(np.asarray(m), t.numpy(), rtol=1e-12)


def test_softmax_dim_out_of_range():
    with pytest.raises(IndexError, match=r"Dimension out of range.*got 2"):
        F.softmax(minitorch.zeros(2, 3), 2)


def test_softmax_on_an_empty_dimension():
    check(lambda L, x: L.nn.functional.softmax(x, 1), np.zeros((2, 0)))
    check(lambda L, x: L.nn.functional.log_softmax(x, 0), np.zeros((2, 0)))


# ---------------------------------------------------------------------------------------------
# linear
# ---------------------------------------------------------------------------------------------
@given(lead=shapes(0, 3, 3), n_in=st.integers(1, 6), n_out=st.integers(1, 6), dtype=DTYPES,
       seed=SEEDS, bias=st.sampled_from(["none", "out", "one", "scalar"]))
def test_linear_vs_torch(lead, n_in, n_out, dtype, seed, bias):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(lead + (n_in,))
    w = rng.standard_normal((n_out, n_in))
    if bias == "none":
        check(lambda L, x, w: L.nn.functional.linear(x, w), x, w, dtype=dtype)
        return
    b = rng.standard_normal({"out": (n_out,), "one": (1,), "scalar": ()}[bias])
    check(lambda L, x, w, b: L.nn.functional.linear(x, w, b), x, w, b, dtype=dtype)
    check(lambda L, x, w, b: L.nn.functional.linear(x, w, bias=b), x, w, b, dtype=dtype,
          grad=(False, True, True))


@given(lead=shapes(0, 2, 3), n_in=st.integers(1, 5), seed=SEEDS, dtype=DTYPES)
def test_linear_with_a_vector_weight(lead, n_in, seed, dtype):
    # torch: a 1-D weight (in_features,) gives input @ weight, shape (*). (With a bias torch's
    # addmm path mostly refuses a 1-D weight; minitorch adds the bias, so that is not compared.)
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(lead + (n_in,)), rng.standard_normal(n_in)
    check(lambda L, x, w: L.nn.functional.linear(x, w), x, w, dtype=dtype)


def test_linear_feature_mismatch_names_both_numbers():
    # a 128·224·224 feature vector fed to a Linear that expects 128·56·56 (the classic bug when
    # the pooling layers were forgotten): the message must say both numbers
    x = minitorch.zeros(1, 128 * 224 * 224)
    w = minitorch.zeros(10, 128 * 56 * 56)
    with pytest.raises(RuntimeError, match=r"linear: input \(1,6422528\) has 6422528 features .* "
                                           r"weight \(10,401408\) expects in_features=401408"):
        F.linear(x, w)


def test_linear_errors():
    x, w = minitorch.zeros(3, 4), minitorch.zeros(5, 4)
    with pytest.raises(RuntimeError, match=r"in_features=3.*does not match weight"):
        F.linear(x, minitorch.zeros(5, 3))
    with pytest.raises(RuntimeError, match=r"linear: weight has dtype float64 but input has dtype "
                                           r"float32 \(input \(3,4\), weight \(5,4\)\)"):
        F.linear(x, w.double())
    with pytest.raises(RuntimeError, match=r"bias \(7,\) does not broadcast to the output \(3,5\)"):
        F.linear(x, w, minitorch.zeros(7))
    with pytest.raises(RuntimeError, match=r"at least 1-D.*input \(\)"):
        F.linear(minitorch.tensor(1.0), w)
    with pytest.raises(RuntimeError, match=r"weight 1-D or 2-D"):
        F.linear(x, minitorch.zeros(2, 5, 4))
    with pytest.raises(TypeError, match="argument 'weight' must be a Tensor"):
        F.linear(x, np.zeros((5, 4)))


def test_linear_integer_tensors_match_torch():
    rng = np.random.default_rng(0)
    x, w = rng.integers(-5, 5, (3, 4)), rng.integers(-5, 5, (2, 4))
    check(lambda L, x, w: L.nn.functional.linear(x, w), x, w)


# ---------------------------------------------------------------------------------------------
# flatten
# ---------------------------------------------------------------------------------------------
@given(shape=shapes(1, 4), seed=SEEDS, data=st.data())
def test_flatten_vs_torch_flatten(shape, seed, data):
    n = len(shape)
    start = data.draw(st.integers(-n, n - 1), label="start")
    end = data.draw(st.integers(start % n, n - 1), label="end")  # never before start
    if data.draw(st.booleans(), label="negative end"):
        end -= n
    x = np.random.default_rng(seed).standard_normal(shape)
    check(lambda L, x: (torch.flatten if L is torch else L.nn.functional.flatten)(x, start, end), x)


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
@given(shape=shapes(1, 3, 6), p=st.sampled_from([0.1, 0.5, 0.8, 0.99]), seed=SEEDS,
       dtype=st.sampled_from([minitorch.float64, minitorch.float32]))
def test_dropout_backward_uses_the_forward_mask(shape, p, seed, dtype):
    rng = np.random.default_rng(seed)
    minitorch.manual_seed(seed)
    x = minitorch.tensor(rng.uniform(0.5, 2.0, shape)).to(dtype).requires_grad_()
    y = F.dropout(x, p)
    assert y.dtype is dtype and y.shape == x.shape
    xd, yd = np.asarray(x.detach()), np.asarray(y.detach())
    kept = yd != 0  # x has no zeros, so the zeros of y are exactly the dropped elements
    scale = dtype.np.type(1) / dtype.np.type(1 - p)
    np.testing.assert_array_equal(yd, np.where(kept, xd * scale, 0))
    cot = rng.standard_normal(shape)
    y.backward(minitorch.tensor(cot).to(dtype))
    np.testing.assert_array_equal(np.asarray(x.grad), (cot.astype(dtype.np) * scale) * kept)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_statistics(p):
    minitorch.manual_seed(123)
    n = 200_000
    y = np.asarray(F.dropout(minitorch.ones(n, dtype=minitorch.float64), p))
    kept = (y != 0).mean()
    assert abs(kept - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    # E[y] = x: the 1/(1-p) scale keeps the mean (std of one element is sqrt(p/(1-p)))
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(p / (1 - p) / n)
    assert set(np.unique(y)) <= {0.0, 1.0 / (1 - p)}


def test_dropout_is_seeded_by_manual_seed_and_draws_from_the_global_generator():
    x = minitorch.ones(4, 50)
    minitorch.manual_seed(7)
    a, b = np.asarray(F.dropout(x)), np.asarray(F.dropout(x))
    assert not np.array_equal(a, b)  # the generator advanced between the two calls
    minitorch.manual_seed(7)
    np.testing.assert_array_equal(np.asarray(F.dropout(x)), a)
    np.testing.assert_array_equal(np.asarray(F.dropout(x)), b)
    minitorch.manual_seed(8)
    assert not np.array_equal(np.asarray(F.dropout(x)), a)
    # the state of minitorch.random.default_generator decides the mask
    state = minitorch.get_rng_state()
    c = np.asarray(F.dropout(x, 0.3))
    minitorch.set_rng_state(state)
    np.testing.assert_array_equal(np.asarray(F.dropout(x, 0.3)), c)


def test_dropout_eval_mode_and_p0_return_the_input_and_p1_gives_zeros():
    x = f64(np.random.default_rng(0).standard_normal((3, 4)))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(np.asarray(y.detach()), np.zeros((3, 4)))
    assert y.requires_grad
    y.backward(minitorch.ones(3, 4, dtype=minitorch.float64))
    np.testing.assert_array_equal(np.asarray(x.grad), np.zeros((3, 4)))


def test_dropout_inplace():
    minitorch.manual_seed(3)
    x = f64(np.random.default_rng(0).uniform(1, 2, (5, 6)))
    h = x * 1.0
    out = F.dropout(h, 0.4, inplace=True)
    assert out is h
    kept = np.asarray(h.detach()) != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(np.asarray(h.detach()), np.asarray(x.detach()) * kept / 0.6,
                               rtol=1e-15)
    h.backward(minitorch.ones(5, 6, dtype=minitorch.float64))
    np.testing.assert_allclose(np.asarray(x.grad), kept / 0.6, rtol=1e-15)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.dropout(x, 0.5, inplace=True)
    plain = minitorch.ones(10)
    assert F.dropout(plain, 0.5, inplace=True) is plain


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_dropout_probability_out_of_range(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got"):
        F.dropout(minitorch.ones(3), p)


def test_dropout_rejects_integer_input():
    with pytest.raises(RuntimeError, match="dropout: expected a floating point input, got int64"):
        F.dropout(minitorch.tensor([1, 2, 3]), 0.5)


# ---------------------------------------------------------------------------------------------
# gradcheck: full Jacobians in float64
# ---------------------------------------------------------------------------------------------
def test_gradcheck_activations_and_linear():
    rng = np.random.default_rng(5)
    x = f64(rng.standard_normal((2, 3)))
    assert gradcheck(lambda x: F.leaky_relu(x, 0.3), (x,))
    assert gradcheck(lambda x: F.softmax(x, 1), (x,))
    assert gradcheck(lambda x: F.softmax(x, 0), (x,))
    assert gradcheck(lambda x: F.log_softmax(x * 50, 1), (x,))
    assert gradcheck(lambda x: F.sigmoid(x) * F.tanh(x), (x,))
    w, b = f64(rng.standard_normal((4, 3))), f64(rng.standard_normal(4))
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), (x, w, b))
    x3 = f64(rng.standard_normal((2, 1, 3)))
    assert gradcheck(lambda x, w: F.linear(x, w), (x3, w))


def test_gradcheck_dropout_with_a_fixed_seed():
    x = f64(np.random.default_rng(6).standard_normal((3, 4)))

    def fn(x):
        minitorch.manual_seed(11)  # the same mask on every call gradcheck makes
        return F.dropout(x, 0.5)

    assert gradcheck(fn, (x,))
