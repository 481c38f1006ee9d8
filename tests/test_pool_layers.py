"""Average pooling, adaptive average pooling, Dropout2d, pixel (un)shuffle and orthogonal_
against torch: values and gradients (random cotangent) in float64 and float32 over
hypothesis-drawn shapes and arguments; the layers' reprs; torch's errors and warnings."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_compare import assert_close, check, to_mt, to_torch

import minitorch

DTYPES = st.sampled_from(["float64", "float32"])


def both(layer_m, layer_t):
    """The lambda for ``check``: torch's layer on torch tensors, minitorch's on minitorch's."""
    return lambda L, x: (layer_t if L is torch else layer_m)(x)


# ---- avg_pool2d --------------------------------------------------------------------------------
@st.composite
def avg_cases(draw):
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return dict(
        shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)),
               draw(st.integers(1, 9)), draw(st.integers(1, 9))),
        kernel=kernel,
        stride=draw(st.one_of(st.none(), st.tuples(st.integers(1, 4), st.integers(1, 4)))),
        padding=(draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2))),
        ceil_mode=draw(st.booleans()), count_include_pad=draw(st.booleans()),
        divisor_override=draw(st.one_of(st.none(), st.integers(1, 7), st.just(-3))),
        unbatched=draw(st.booleans()), dtype=draw(DTYPES), seed=draw(st.integers(0, 2 ** 31)))


@given(avg_cases())
def test_avg_pool2d_matches_torch(case):
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])

    def fn(L, x):
        x = x[0] if case["unbatched"] else x
        return L.nn.functional.avg_pool2d(x, case["kernel"], case["stride"], case["padding"],
                                          case["ceil_mode"], case["count_include_pad"],
                                          case["divisor_override"])
    try:
        fn(torch, torch.from_numpy(x))
    except RuntimeError:  # torch refuses (the window does not fit): so must we
        with pytest.raises(RuntimeError, match="avg_pool2d"):
            fn(minitorch, minitorch.tensor(x))
        return
    check(fn, x, dtype=case["dtype"], seed=case["seed"] % 1000)


def test_avg_pool2d_layer_matches_torch():
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 8))
    for args, kwargs in [((2,), {}), ((3, 2, 1), dict(ceil_mode=True, count_include_pad=False)),
                         (((3, 2),), dict(stride=(1, 2), divisor_override=4))]:
        layer_m, layer_t = minitorch.nn.AvgPool2d(*args, **kwargs), torch.nn.AvgPool2d(*args,
                                                                                         **kwargs)
        assert repr(layer_m) == repr(layer_t)
        check(both(layer_m, layer_t), x)
        check(both(layer_m, layer_t), x, dtype="float32")


def test_avg_pool2d_errors_name_the_values():
    x = minitorch.zeros(1, 1, 4, 4)
    with pytest.raises(RuntimeError, match=r"padding should be at most half.*padding=\(2,2\)"):
        minitorch.nn.functional.avg_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        minitorch.nn.functional.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(RuntimeError, match=r"shape \(4,4\)"):
        minitorch.nn.functional.avg_pool2d(minitorch.zeros(4, 4), 2)
    with pytest.raises(RuntimeError, match="floating point"):
        minitorch.nn.functional.avg_pool2d(minitorch.zeros(1, 1, 4, 4, dtype=minitorch.int64), 2)


# ---- adaptive_avg_pool2d -----------------------------------------------------------------------
@st.composite
def adaptive_cases(draw):
    size = st.one_of(st.none(), st.integers(1, 13))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                       draw(st.integers(1, 11)), draw(st.integers(1, 11))),
                output=draw(st.one_of(st.integers(1, 13), st.tuples(size, size))),
                unbatched=draw(st.booleans()), dtype=draw(DTYPES),
                seed=draw(st.integers(0, 2 ** 31)))


@given(adaptive_cases())
def test_adaptive_avg_pool2d_matches_torch(case):
    """Output sizes smaller, equal and larger than the input (overlapping windows), None
    entries keeping the input's size."""
    x = np.random.default_rng(case["seed"]).standard_normal(case["shape"])

    def fn(L, x):
        x = x[0] if case["unbatched"] else x
        return L.nn.functional.adaptive_avg_pool2d(x, case["output"])
    check(fn, x, dtype=case["dtype"], seed=case["seed"] % 1000)


def test_adaptive_avg_pool2d_layer_matches_torch():
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 5))
    for output in [1, (None, 3), (3, None), (4, 2)]:
        layer_m = minitorch.nn.AdaptiveAvgPool2d(output)
        layer_t = torch.nn.AdaptiveAvgPool2d(output)
        assert repr(layer_m) == repr(layer_t)
        check(both(layer_m, layer_t), x)


def test_adaptive_avg_pool2d_errors():
    x = minitorch.zeros(1, 2, 4, 4)
    with pytest.raises(RuntimeError, match="output_size must be positive"):
        minitorch.nn.functional.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(RuntimeError, match="output_size must be an int or a pair"):
        minitorch.nn.functional.adaptive_avg_pool2d(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match=r"shape \(2,4,4,4,1\)"):
        minitorch.nn.functional.adaptive_avg_pool2d(minitorch.zeros(2, 4, 4, 4, 1), 1)


# ---- dropout2d ---------------------------------------------------------------------------------
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5),
                       st.integers(1, 5)),
       p=st.sampled_from([0.2, 0.5, 0.9]), dtype=DTYPES, seed=st.integers(0, 2 ** 31))
def test_dropout2d_drops_whole_channels_and_matches_torch_given_the_mask(shape, p, dtype, seed):
    """Random streams differ from torch's, so the mask minitorch drew is read off its output
    and torch computes x · mask / (1 − p) with it: forward and backward must agree."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, shape)  # never 0: a zero output means a dropped channel
    minitorch.manual_seed(seed)
    y = minitorch.nn.functional.dropout2d(to_mt(x, dtype), p)
    kept = y.numpy() != 0
    # whole channels: every (n, c) plane is all kept or all dropped
    assert np.all(kept.all(axis=(2, 3)) | ~kept.any(axis=(2, 3)))
    mask = kept[:, :, :1, :1].astype(np.float64)
    minitorch.manual_seed(seed)  # the same mask again

    def fn(L, x):
        if L is torch:
            return x * torch.from_numpy(mask).to(x.dtype) / (1 - p)
        return L.nn.functional.dropout2d(x, p)
    check(fn, x, dtype=dtype, seed=seed % 1000)


def test_dropout2d_rate_eval_identity_and_layer():
    minitorch.manual_seed(0)
    x = minitorch.ones(50, 40, 2, 2)
    y = minitorch.nn.functional.dropout2d(x, 0.3)
    assert abs(float((y[:, :, 0, 0] == 0).float().mean()) - 0.3) < 0.03  # 2,000 channels
    np.testing.assert_array_equal(np.unique(y.numpy()), np.array([0, 1 / 0.7], np.float32))
    layer = minitorch.nn.Dropout2d(0.3)
    assert repr(layer) == repr(torch.nn.Dropout2d(0.3))
    layer.eval()
    assert layer(x) is x  # eval: identity, as torch's
    assert minitorch.nn.functional.dropout2d(x, 0.3, training=False) is x
    assert np.all(minitorch.nn.functional.dropout2d(x, 1.0).numpy() == 0)
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        minitorch.nn.functional.dropout2d(x, 1.5)


def test_dropout2d_warns_as_torch_for_other_than_4d_input():
    """A 3-D input is (N, C, L) to torch (1-D channel dropout, with a warning); so here."""
    for shape in [(3, 4, 5), (2, 3, 4, 5, 6)]:
        with warnings.catch_warnings(record=True) as t_warn:
            warnings.simplefilter("always")
            torch.nn.functional.dropout2d(torch.ones(shape), 0.5)
        with warnings.catch_warnings(record=True) as m_warn:
            warnings.simplefilter("always")
            y = minitorch.nn.functional.dropout2d(minitorch.ones(shape), 0.5)
        assert len(m_warn) == len(t_warn) >= 1
        assert [str(w.message).split(":")[0] for w in m_warn] == \
            [str(w.message).split(":")[0] for w in t_warn]
        kept = y.numpy() != 0
        axes = tuple(range(2, len(shape)))
        assert np.all(kept.all(axis=axes) | ~kept.any(axis=axes))  # the mask is per (dim0, dim1)


# ---- pixel_shuffle / pixel_unshuffle ------------------------------------------------------------
@given(batch=st.lists(st.integers(1, 3), max_size=2), c=st.integers(1, 3), r=st.integers(1, 3),
       h=st.integers(1, 4), w=st.integers(1, 4), dtype=DTYPES, seed=st.integers(0, 2 ** 31))
def test_pixel_shuffle_and_unshuffle_match_torch(batch, c, r, h, w, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, c * r * r, h, w))
    check(lambda L, x: L.nn.functional.pixel_shuffle(x, r), x, dtype=dtype)
    z = rng.standard_normal((*batch, c, h * r, w * r))
    check(lambda L, z: L.nn.functional.pixel_unshuffle(z, r), z, dtype=dtype)
    out, _ = check(lambda L, x: L.nn.functional.pixel_unshuffle(
        L.nn.functional.pixel_shuffle(x, r), r), x, dtype=dtype)
    assert_close(out, to_torch(x, dtype), dtype)  # the round trip is the identity


def test_pixel_shuffle_layers_and_errors():
    x = np.random.default_rng(3).standard_normal((2, 18, 3, 4))
    for m, t in [(minitorch.nn.PixelShuffle(3), torch.nn.PixelShuffle(3)),
                 (minitorch.nn.PixelUnshuffle(1), torch.nn.PixelUnshuffle(1))]:
        assert repr(m) == repr(t)
        check(both(m, t), x)
    with pytest.raises(RuntimeError, match=r"input.size\(-3\)=18 is not divisible by 4"):
        minitorch.nn.functional.pixel_shuffle(minitorch.zeros(2, 18, 3, 4), 2)
    with pytest.raises(RuntimeError, match=r"divisible by downscale_factor=2.*\(2,18,3,4\)"):
        minitorch.nn.functional.pixel_unshuffle(minitorch.zeros(2, 18, 3, 4), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        minitorch.nn.functional.pixel_shuffle(minitorch.zeros(4, 4), 2)


# ---- nn.init.orthogonal_ ----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (4, 2, 3, 3), (1, 6), (6, 1)])
def test_orthogonal_is_torchs_recipe_on_minitorchs_draws(shape):
    """orthogonal_ draws its normal matrix from minitorch's generator: replaying the same draw
    through torch's recipe (QR of the tall matrix, columns times sign(diag R), gain) gives the
    same tensor, and the result is (semi-)orthogonal: W Wᵀ or Wᵀ W = gain² I."""
    rows, cols = shape[0], int(np.prod(shape[1:]))
    gain = 1.7
    minitorch.manual_seed(123)
    w = minitorch.nn.init.orthogonal_(minitorch.empty(*shape, dtype=minitorch.float64), gain)
    assert tuple(w.shape) == shape
    minitorch.manual_seed(123)
    a = torch.from_numpy(minitorch.randn(rows, cols, dtype=minitorch.float64).numpy())
    tall = a.T if rows < cols else a
    q, r = torch.linalg.qr(tall)
    q = q * torch.sign(torch.diagonal(r))
    expected = gain * (q.T if rows < cols else q)
    assert_close(w, expected.reshape(shape))
    m = w.numpy().reshape(rows, cols)
    gram = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_uses_the_generator_and_refuses_1d():
    g1, g2 = minitorch.Generator().manual_seed(7), minitorch.Generator().manual_seed(7)
    w1 = minitorch.nn.init.orthogonal_(minitorch.empty(4, 6), generator=g1)
    w2 = minitorch.nn.init.orthogonal_(minitorch.empty(4, 6), generator=g2)
    np.testing.assert_array_equal(w1.numpy(), w2.numpy())
    minitorch.manual_seed(7)
    w3 = minitorch.nn.init.orthogonal_(minitorch.empty(4, 6))
    np.testing.assert_array_equal(w3.numpy(), w1.numpy())  # the global generator, seeded alike
    assert w1.dtype == minitorch.float32
    with pytest.raises(ValueError, match=r"2 or more dimensions.*\(5,\)"):
        minitorch.nn.init.orthogonal_(minitorch.empty(5))
    with pytest.raises(ValueError, match="2 or more dimensions"):
        torch.nn.init.orthogonal_(torch.empty(5))
    p = minitorch.nn.Parameter(minitorch.empty(3, 3))
    minitorch.nn.init.orthogonal_(p)  # a parameter that requires grad: filled under no_grad
    assert p.requires_grad and p.grad_fn is None


# ---- on CUDA (a real GPU, or make test-cuda's emulated one) ------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_pooling_shuffle_and_dropout2d_on_cuda(dtype):
    """The same array code on CuPy: outputs and gradients stay on the GPU and equal torch's."""
    x = np.random.default_rng(4).standard_normal((2, 8, 7, 6))
    check(lambda L, x: L.nn.functional.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                  count_include_pad=False), x, dtype=dtype,
          device="cuda")
    check(lambda L, x: L.nn.functional.avg_pool2d(x, (2, 3), divisor_override=4), x,
          dtype=dtype, device="cuda")
    check(lambda L, x: L.nn.functional.adaptive_avg_pool2d(x, (4, None)), x, dtype=dtype,
          device="cuda")
    check(lambda L, x: L.nn.functional.pixel_shuffle(x, 2), x, dtype=dtype, device="cuda")
    check(lambda L, x: L.nn.functional.pixel_unshuffle(x[..., :6, :], 2), x, dtype=dtype,
          device="cuda")
    minitorch.manual_seed(5)
    y = minitorch.nn.functional.dropout2d(to_mt(x, dtype, device="cuda"), 0.5)
    assert y.device.type == "cuda"
    mask = (y.cpu().numpy() != 0)[:, :, :1, :1].astype(np.float64)
    minitorch.manual_seed(5)

    def fn(L, x):
        if L is torch:
            return x * torch.from_numpy(mask).to(x.dtype) * 2
        return L.nn.functional.dropout2d(x, 0.5)
    check(fn, x + 3, dtype=dtype, device="cuda")
    w = minitorch.nn.init.orthogonal_(minitorch.empty(4, 6, device="cuda", dtype=minitorch.float64))
    assert w.device.type == "cuda"
    np.testing.assert_allclose(w.cpu().numpy() @ w.cpu().numpy().T, np.eye(4), atol=1e-12)
