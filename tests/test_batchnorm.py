"""Batch normalisation: ``F.batch_norm`` and ``nn.BatchNorm1d/2d`` against torch.

Forward and backward (input, weight and bias gradients from one random cotangent) in training and
evaluation mode, and the running statistics (torch's unbiased variance update, num_batches_tracked,
momentum=None's cumulative average) after several training steps. float64 to 1e-10, float32 to
1e-5 (relative, on the tensor's scale).
"""
import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch_compare import assert_close, check, check_float32_accuracy

import minitorch

DTYPES = st.sampled_from(["float64", "float32"])


@st.composite
def bn_shapes(draw, spatial_dims=(0, 1, 2)):
    """(N, C, *spatial) with at least 2 values per channel (training needs them)."""
    nd = draw(st.sampled_from(spatial_dims))
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 5))
    spatial = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    if n * int(np.prod(spatial, dtype=int)) < 2:
        n = 2
    return (n, c) + spatial


@given(shape=bn_shapes(), seed=st.integers(0, 2**31 - 1), training=st.booleans(),
       affine=st.sampled_from(["both", "weight", "none"]), momentum=st.sampled_from([0.1, 0.7]),
       eps=st.sampled_from([1e-5, 1e-2]), dtype=DTYPES)
@example(shape=(4, 5), seed=16777216, training=True, affine="both", momentum=0.1, eps=1e-5,
         dtype="float32")  # drawn by the thorough profile: float32 gradients 1.1e-5 apart
@example(shape=(2, 2), seed=1, training=True, affine="both", momentum=0.1, eps=1e-5,
         dtype="float32")  # both libraries 1.3e-5 off the float64 gradient
def test_functional_batch_norm_matches_torch(shape, seed, training, affine, momentum, eps, dtype):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)
    w = rng.standard_normal(c)
    b = rng.standard_normal(c)
    rm0 = rng.standard_normal(c)
    rv0 = rng.uniform(0.5, 2, c)
    running = {}

    def fn(L, x, w, b):
        rm = L.tensor(rm0).to(x.dtype)
        rv = L.tensor(rv0).to(x.dtype)
        running[L.__name__] = (rm, rv)
        return L.nn.functional.batch_norm(
            x, rm, rv, weight=None if affine == "none" else w,
            bias=b if affine == "both" else None, training=training, momentum=momentum, eps=eps)

    if dtype == "float32" and training:  # batch statistics of a few values: ill-conditioned
        check_float32_accuracy(fn, x, w, b, seed=seed)
    else:
        check(fn, x, w, b, dtype=dtype, seed=seed)
    for m, t in zip(running["minitorch"], running["torch"]):
        assert_close(m, t, dtype, what="running statistic")  # updated in training, kept in eval


def test_functional_batch_norm_without_running_stats_and_errors():
    x = np.random.default_rng(0).standard_normal((3, 2, 4))
    check(lambda L, x: L.nn.functional.batch_norm(x, None, None, training=True), x)
    F = minitorch.nn.functional
    xm = minitorch.tensor(x)
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got input "
                       r"size \(1,2,1\)"):
        F.batch_norm(minitorch.ones(1, 2, 1), None, None, training=True)
    with pytest.raises(RuntimeError, match=r"running_mean should contain 2 elements .*input "
                       r"\(3,2,4\).*shape \(3,\)"):
        F.batch_norm(xm, minitorch.zeros(3), minitorch.ones(2))
    with pytest.raises(RuntimeError, match="must be given when training=False"):
        F.batch_norm(xm, None, None, training=False)
    with pytest.raises(RuntimeError, match="weight to have dtype float64.*float32"):
        F.batch_norm(xm, None, None, weight=minitorch.ones(2), training=True)
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(5,\)"):
        F.batch_norm(minitorch.ones(5), None, None, training=True)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_full_jacobian_gradcheck(training):
    """Finite differences over the full Jacobian (float64), training and evaluation."""
    rng = np.random.default_rng(1)
    x = minitorch.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    w = minitorch.tensor(rng.standard_normal(2), requires_grad=True)
    b = minitorch.tensor(rng.standard_normal(2), requires_grad=True)
    rm, rv = minitorch.tensor(rng.standard_normal(2)), minitorch.tensor(rng.uniform(1, 2, 2))
    assert minitorch.autograd.gradcheck(
        lambda x, w, b: minitorch.nn.functional.batch_norm(
            x, None if training else rm, None if training else rv, w, b, training=training),
        (x, w, b))


def make_pair(cls, c, dtype, **kwargs):
    """The same BatchNorm layer in both libraries, with random affine parameters (torch's are
    ones and zeros, which would hide a swapped weight/bias)."""
    t = getattr(torch.nn, cls)(c, **kwargs).to(getattr(torch, dtype))
    m = getattr(minitorch.nn, cls)(c, **kwargs).to(getattr(minitorch, dtype))
    rng = np.random.default_rng(c)
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))))
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    return t, m


def step(t, m, x, dtype, seed):
    """One forward/backward of both layers on x; compare output, grads and state."""
    t_x = torch.from_numpy(x.copy()).requires_grad_()
    m_x = minitorch.from_numpy(x.copy()).requires_grad_()
    t_y, m_y = t(t_x), m(m_x)
    assert_close(m_y, t_y, dtype, what="output")
    cot = np.random.default_rng(seed).standard_normal(x.shape).astype(dtype)
    t_y.backward(torch.from_numpy(cot))
    m_y.backward(minitorch.from_numpy(cot.copy()))
    assert_close(m_x.grad, t_x.grad, dtype, what="input grad")
    t_params = dict(t.named_parameters())
    for name, p in m.named_parameters():
        assert_close(p.grad, t_params[name].grad, dtype, what=f"{name} grad")
        p.grad = None
        t_params[name].grad = None
    t_state = t.state_dict()
    m_state = m.state_dict()
    assert list(m_state) == list(t_state)
    for name, v in m_state.items():
        assert v.dtype.name == str(t_state[name].dtype).split(".")[-1], name
        assert_close(v, t_state[name], dtype, what=f"{name} after the step")


@given(shape=bn_shapes(spatial_dims=(2,)), seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
       momentum=st.sampled_from([0.1, 0.6, None]), affine=st.booleans(), bias=st.booleans(),
       track=st.booleans(), eps=st.sampled_from([1e-5, 0.1]))
def test_batchnorm2d_matches_torch_over_training_then_eval(shape, seed, dtype, momentum, affine,
                                                            bias, track, eps):
    """Three training steps on different batches (running stats compared after each), then two
    evaluation steps (running stats used, not changed), then training again."""
    t, m = make_pair("BatchNorm2d", shape[1], dtype, momentum=momentum, affine=affine,
                     track_running_stats=track, eps=eps, bias=bias)
    rng = np.random.default_rng(seed)
    batches = [(rng.standard_normal(shape) * rng.uniform(0.5, 4) + rng.uniform(-3, 3))
               .astype(dtype) for _ in range(6)]
    for i, x in enumerate(batches[:3]):
        step(t, m, x, dtype, seed + i)
    t.eval(), m.eval()
    for i, x in enumerate(batches[3:5]):
        step(t, m, x, dtype, seed + 10 + i)
    t.train(), m.train()
    step(t, m, batches[5], dtype, seed + 20)
    if track:
        assert m.num_batches_tracked.item() == 4 and m.num_batches_tracked.dtype is minitorch.int64


@given(shape=bn_shapes(spatial_dims=(0, 1)), seed=st.integers(0, 2**31 - 1), dtype=DTYPES,
       momentum=st.sampled_from([0.1, None]))
def test_batchnorm1d_matches_torch(shape, seed, dtype, momentum):
    t, m = make_pair("BatchNorm1d", shape[1], dtype, momentum=momentum)
    rng = np.random.default_rng(seed)
    for i in range(2):
        step(t, m, (rng.standard_normal(shape) * 2 + 1).astype(dtype), dtype, seed + i)
    t.eval(), m.eval()
    step(t, m, rng.standard_normal(shape).astype(dtype), dtype, seed + 5)


def test_batchnorm_state_buffers_and_errors():
    bn = minitorch.nn.BatchNorm2d(3)
    t_bn = torch.nn.BatchNorm2d(3)
    assert [(k, tuple(v.shape), v.dtype.name) for k, v in bn.state_dict().items()] == \
        [(k, tuple(v.shape), str(v.dtype).split(".")[-1]) for k, v in t_bn.state_dict().items()]
    for k, v in t_bn.state_dict().items():
        np.testing.assert_array_equal(bn.state_dict()[k]._data, v.numpy())  # ones/zeros/0
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert not bn.running_mean.requires_grad and bn.weight.requires_grad
    assert list(minitorch.nn.BatchNorm2d(3, affine=False, track_running_stats=False)
                .state_dict()) == []
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input"):
        bn(minitorch.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        minitorch.nn.BatchNorm1d(3)(minitorch.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected input with 3 channels.*\(2, 4, 5, 5\)"):
        bn(minitorch.ones(2, 4, 5, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(minitorch.ones(1, 3, 1, 1))
    bn.eval()
    assert bn(minitorch.ones(1, 3, 1, 1)).shape == (1, 3, 1, 1)  # evaluation needs no batch
    bn.train()
    bn(minitorch.randn(4, 3, 2, 2))
    bn.reset_running_stats()
    assert bn.num_batches_tracked.item() == 0 and bn.running_var.tolist() == [1.0, 1.0, 1.0]
