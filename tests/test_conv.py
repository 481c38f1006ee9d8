"""conv2d against torch: forward and the gradients of input, weight and bias, in float64 and
float32, over hypothesis-drawn shapes, strides, paddings, dilations and groups; gradcheck on small
float64 cases; and the error messages."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_compare import assert_close, check

import minitorch
from minitorch.autograd import gradcheck

# torch warns that 'same' with an even kernel needs a padded copy; the warning is not under test
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def conv(padding, stride=1, dilation=1, groups=1, bias=True, unbatched=False):
    """The same lambda for both libraries."""
    def fn(L, x, w, *b):
        x = x[0] if unbatched else x
        return L.nn.functional.conv2d(x, w, b[0] if bias else None, stride=stride, padding=padding,
                                      dilation=dilation, groups=groups)
    return fn


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    c_per_group, o_per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    kind = draw(st.sampled_from(["int", "pair", "same", "valid"]))
    if kind == "same":
        padding, stride = "same", 1
    else:
        stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        padding = {"int": draw(st.integers(0, 2)), "valid": "valid",
                   "pair": (draw(st.integers(0, 2)), draw(st.integers(0, 2)))}[kind]
    return dict(
        x_shape=(n, groups * c_per_group, h, w),
        w_shape=(groups * o_per_group, c_per_group, kh, kw),
        stride=stride, padding=padding, dilation=dilation, groups=groups,
        bias=draw(st.booleans()), unbatched=n == 1 and draw(st.booleans()),
        dtype=draw(st.sampled_from(["float64", "float32"])), seed=draw(st.integers(0, 2 ** 31)))


@given(conv_cases())
def test_conv2d_matches_torch(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal(case["x_shape"])
    w = rng.standard_normal(case["w_shape"])
    b = rng.standard_normal(case["w_shape"][0])
    fn = conv(case["padding"], case["stride"], case["dilation"], case["groups"], case["bias"],
              case["unbatched"])
    arrays = (x, w, b) if case["bias"] else (x, w)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(torch, *(torch.from_numpy(a) for a in arrays))
    except RuntimeError:  # torch refuses (kernel larger than the padded input): so must we
        with pytest.raises(RuntimeError, match="conv2d: kernel size"):
            fn(minitorch, *(minitorch.tensor(a) for a in arrays))
        return
    check(fn, *arrays, dtype=case["dtype"], seed=case["seed"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cin,cout,size", [(3, 32, 32), (32, 64, 16), (64, 128, 8)])
def test_seed_network_layers(cin, cout, size, dtype):
    """The seed nets' Conv2d(cin, cout, 3, padding=1) layers, batch 2."""
    rng = np.random.default_rng(cin)
    x = rng.standard_normal((2, cin, size, size))
    w = rng.standard_normal((cout, cin, 3, 3)) / np.sqrt(cin * 9)
    b = rng.standard_normal(cout)
    check(conv(1), x, w, b, dtype=dtype)


@pytest.mark.parametrize("images_per_chunk", [1, 2])
@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(padding=(2, 0), stride=2, dilation=2),
                                    dict(padding=1, groups=2), dict(padding="same")])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_in_chunks(images_per_chunk, kwargs, dtype, monkeypatch):
    """The CPU path works through a large batch a few images at a time (Conv2d.chunks): 5 images
    in chunks of 1, or of 2 with a remainder, give torch's output and gradients (backward
    rebuilds each chunk's columns from the kept input)."""
    from minitorch.nn.functional.conv import Conv2d
    n, c, o, k, size = 5, 4, 6, 3, 7
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((n, c, size, size)), rng.standard_normal((o, c // kwargs.get(
        "groups", 1), k, k)), rng.standard_normal(o)
    p, q = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), **kwargs).shape[2:]
    monkeypatch.setattr(Conv2d, "chunk_elements", images_per_chunk * c * k * k * p * q)
    monkeypatch.setattr(Conv2d, "chunk_above", 0)
    seen = []
    chunks = Conv2d.chunks
    monkeypatch.setattr(Conv2d, "chunks", staticmethod(
        lambda geo, xp, threads=1: seen.append(chunks(geo, xp, threads)) or seen[-1]))
    fn = lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, **kwargs)
    check(fn, x, w, b, dtype=dtype)
    expected = [(i, i + 1) for i in range(5)] if images_per_chunk == 1 else \
        [(0, 2), (2, 4), (4, 5)]
    assert seen == [(expected, False)]  # decided once, in forward; backward reads ctx.chunks


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(padding=(2, 0), stride=(2, 1)),
                                    dict(dilation=2, padding="same"), dict(stride=3)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_few_input_channels_image_by_image(kwargs, dtype, monkeypatch):
    """C·kH·kW < O (an RGB first layer: 27 < 32) takes the image-major path — columns per image,
    one GEMM each, no transposes: output and all three gradients as torch."""
    from minitorch.nn.functional.conv import Conv2d
    calls = []
    forward = Conv2d.forward_image_major
    monkeypatch.setattr(Conv2d, "forward_image_major", staticmethod(
        lambda *a: calls.append(1) or forward(*a)))
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((4, 3, 9, 8)), rng.standard_normal((32, 3, 3, 3)) / 5, \
        rng.standard_normal(32)
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, **kwargs), x, w, b, dtype=dtype)
    assert calls == [1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("stride", [1, 2, (3, 2)])
@pytest.mark.parametrize("size", [(7, 7), (8, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_pointwise_1x1(size, stride, bias, dtype):
    """1x1 kernels without padding take the image-major path (one GEMM per image, the image is
    its own column matrix): every stride, with and without bias, odd and even sizes (a strided
    1x1 skips rows and columns)."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 16) + size)
    w = rng.standard_normal((24, 16, 1, 1)) / 4
    b = rng.standard_normal(24)
    check(conv(0, stride, bias=bias), *((x, w, b) if bias else (x, w)), dtype=dtype)


def test_changing_the_input_in_place_before_backward():
    """Backward must never read an input changed in place after forward. The 1x1 path's columns
    are the input's own memory, so it keeps the input under the saved-tensor version check and
    raises as torch does; the other CPU paths keep a copy (the columns, or the padded input),
    so their gradients are those of the input forward saw (torch, which keeps the input itself,
    raises there too)."""
    for L in (torch, minitorch):
        x = L.ones(2, 4, 5, 5, requires_grad=True).clone()
        y = L.nn.functional.conv2d(x, L.ones(3, 4, 1, 1, requires_grad=True))
        with L.no_grad():
            x.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    rng = np.random.default_rng(3)
    for c, o in [(2, 32), (4, 3)]:  # image-major (C·kH·kW < O) and the main path
        x0, w0 = rng.standard_normal((2, c, 5, 5)), rng.standard_normal((o, c, 3, 3))
        wt = torch.tensor(w0, requires_grad=True)
        torch.nn.functional.conv2d(torch.tensor(x0), wt).sum().backward()
        x = minitorch.tensor(x0)
        w = minitorch.tensor(w0, requires_grad=True)
        y = minitorch.nn.functional.conv2d(x, w)
        x.add_(1)
        y.sum().backward()
        np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_pointwise_1x1_gradient_of_only_some_inputs():
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((3, 4, 1, 1)), \
        rng.standard_normal(3)
    for grad in [(True, False, False), (False, True, False), (False, False, True)]:
        check(conv(0, 2), x, w, b, grad=grad)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_depthwise(dtype):
    """groups = in_channels: each channel has its own kernels (here 2 per channel)."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((8, 1, 3, 3))
    b = rng.standard_normal(8)
    check(conv(1, stride=(2, 1), groups=4), x, w, b, dtype=dtype)
    check(conv("same", dilation=2, groups=4), x, w, b, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernel_as_large_as_the_input(dtype):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 2, 5, 4)), rng.standard_normal((3, 2, 5, 4))
    b = rng.standard_normal(3)
    m, _ = check(conv(0), x, w, b, dtype=dtype)
    assert tuple(m.shape) == (3, 3, 1, 1)
    # with padding 1 and dilation 2 the dilated kernel (3,3) exactly fills the padded input (3,3)
    x2, w2 = rng.standard_normal((1, 1, 1, 1)), rng.standard_normal((2, 1, 2, 2))
    check(conv(1, dilation=2), x2, w2, b[:2], dtype=dtype)


def test_same_padding_asymmetric():
    """An even dilated kernel needs an odd total padding: the extra row/column goes to the
    bottom/right as in torch (checked against torch, and against explicit zero padding)."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 4, 2))
    m, _ = check(conv("same", bias=False), x, w)
    assert tuple(m.shape) == (2, 3, 5, 6)
    # kernel (4,2): total padding 3 rows → top 1, bottom 2; 1 column → left 0, right 1
    padded = np.pad(x, ((0, 0), (0, 0), (1, 2), (0, 1)))
    explicit = minitorch.nn.functional.conv2d(minitorch.tensor(padded), minitorch.tensor(w))
    assert_close(m, explicit)


def test_gradient_of_only_some_inputs():
    """Backward computes only what is asked for (the first layer's input needs no gradient)."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    fn = conv((1, 0), stride=2, groups=2)
    check(fn, x, w, b, grad=(False, True, True))
    check(fn, x, w, b, grad=(True, False, False))
    check(fn, x, w, b, grad=(False, False, True))


def test_integer_conv_matches_torch():
    rng = np.random.default_rng(5)
    x, w = rng.integers(-5, 5, (2, 2, 5, 5)), rng.integers(-3, 3, (3, 2, 2, 3))
    m, _ = check(conv(1, stride=(1, 2), bias=False), x, w)
    assert m.dtype == minitorch.int64


def test_empty_batch_and_non_contiguous_input():
    rng = np.random.default_rng(8)
    w, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    check(conv(1), rng.standard_normal((0, 2, 5, 5)), w, b)
    # a channels-last array seen as NCHW through permute: im2col reads any strides
    x_nhwc = rng.standard_normal((2, 5, 6, 3))
    check(lambda L, x, w, b: L.nn.functional.conv2d(x.permute(0, 3, 1, 2)[:, :2], w, b,
                                                    padding=1, stride=2), x_nhwc, w, b)


def test_output_is_contiguous_nchw():
    rng = np.random.default_rng(6)
    y = minitorch.nn.functional.conv2d(minitorch.tensor(rng.standard_normal((2, 3, 6, 6))),
                                       minitorch.tensor(rng.standard_normal((4, 3, 3, 3))))
    assert y._data.flags.c_contiguous


@pytest.mark.parametrize("kwargs", [
    dict(stride=2, padding=1),
    dict(stride=(1, 2), padding=(1, 2), dilation=(2, 1)),
    dict(padding="same", dilation=(1, 2)),
    dict(groups=2, padding=1),
])
def test_gradcheck(kwargs):
    rng = np.random.default_rng(7)
    x = minitorch.tensor(rng.standard_normal((2, 2, 4, 5))).requires_grad_()
    c_per_group = 2 // kwargs.get("groups", 1)
    w = minitorch.tensor(rng.standard_normal((2, c_per_group, 3, 2))).requires_grad_()
    b = minitorch.tensor(rng.standard_normal(2)).requires_grad_()
    assert gradcheck(lambda x, w, b: minitorch.nn.functional.conv2d(x, w, b, **kwargs), (x, w, b))


# ---------------------------------------------------------------------------------------------
# Errors: raised before computing, naming the offending shapes and values
# ---------------------------------------------------------------------------------------------
def _t(*shape, dtype="float64"):
    return minitorch.zeros(*shape, dtype=getattr(minitorch, dtype))


@pytest.mark.parametrize("args,kwargs,error,match", [
    ((_t(2, 3, 8, 8), _t(5, 4, 3, 3)), {}, RuntimeError,
     r"conv2d: input has 3 channels but weight expects 4 .*"
     r"\(input \(2,3,8,8\), weight \(5,4,3,3\)\)"),
    ((_t(1, 4, 8, 8), _t(4, 1, 3, 3)), dict(groups=2), RuntimeError,
     r"input has 4 channels but weight expects 2 \(weight.shape\[1\]=1 × groups=2\)"),
    ((_t(1, 5, 8, 8), _t(4, 1, 3, 3)), dict(groups=2), RuntimeError,
     r"the input's 5 channels are not divisible by groups=2"),
    ((_t(1, 4, 8, 8), _t(3, 2, 3, 3)), dict(groups=2), RuntimeError,
     r"the weight's 3 output channels .* not divisible by groups=2 \(input \(1,4,8,8\), "
     r"weight \(3,2,3,3\)\)"),
    ((_t(1, 4, 8, 8), _t(4, 4, 3, 3)), dict(groups=0), RuntimeError,
     r"groups must be a positive integer, got groups=0"),
    ((_t(1, 1, 8, 8), _t(1, 3, 3)), {}, RuntimeError,
     r"conv2d: weight must be 4-D .* got weight of shape \(1,3,3\)"),
    ((_t(8, 8), _t(1, 1, 3, 3)), {}, RuntimeError,
     r"expected a 3-D \(unbatched\) or 4-D \(batched\) input, got input of shape \(8,8\)"),
    ((_t(1, 1, 8, 8), _t(4, 1, 3, 3), _t(2)), {}, RuntimeError,
     r"bias must be 1-D with out_channels=4 elements, got bias of shape \(2,\)"),
    ((_t(1, 1, 2, 2), _t(1, 1, 3, 3)), dict(padding=1, dilation=2), RuntimeError,
     r"conv2d: kernel size \(dilated\) \(5,5\) is larger than the padded input \(4,4\)"),
    ((_t(1, 1, 2, 2), _t(1, 1, 3, 3)), {}, RuntimeError,
     r"kernel size \(dilated\) \(3,3\) is larger than the padded input \(2,2\)"),
    ((_t(1, 1, 8, 8), _t(1, 1, 3, 3)), dict(stride=(0, 1)), RuntimeError,
     r"stride must be positive, got stride=\(0,1\)"),
    ((_t(1, 1, 8, 8), _t(1, 1, 3, 3)), dict(dilation=0), RuntimeError,
     r"dilation must be positive, got dilation=\(0,0\)"),
    ((_t(1, 1, 8, 8), _t(1, 1, 3, 3)), dict(padding=(1, -1)), RuntimeError,
     r"padding must be non-negative, got padding=\(1,-1\)"),
    ((_t(1, 1, 8, 8), _t(1, 1, 3, 3)), dict(padding="full"), RuntimeError,
     r"invalid padding string 'full'"),
    ((_t(1, 1, 8, 8), _t(1, 1, 3, 3)), dict(padding="same", stride=2), RuntimeError,
     r"padding='same' is not supported for strided convolutions \(stride=\(2,2\)\)"),
    ((_t(1, 1, 8, 8), _t(1, 1, 3, 3)), dict(stride=(1, 2, 3)), TypeError,
     r"stride must be an int or a pair of ints, got \(1, 2, 3\)"),
    ((_t(1, 1, 8, 8), _t(1, 1, 3, 3, dtype="float32")), {}, RuntimeError,
     r"input dtype float64 and weight dtype float32 differ"),
    ((_t(1, 1, 8, 8), _t(1, 1, 3, 3), _t(1, dtype="float32")), {}, RuntimeError,
     r"input dtype float64 and bias dtype float32 differ"),
    ((np.zeros((1, 1, 8, 8)), _t(1, 1, 3, 3)), {}, TypeError, r"conv2d: input must be a Tensor"),
])
def test_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        minitorch.nn.functional.conv2d(*args, **kwargs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(padding=(0, 2), stride=2)])
def test_1x1_with_padding_and_more_outputs_than_inputs(kwargs, dtype):
    """A padded 1x1 kernel with C < O takes the image-major path; at stride 1 its columns are
    the padded copy's memory (not x's): backward reads them, not x (found in review: it tried
    to read x as columns of the padded size)."""
    rng = np.random.default_rng(13)
    x, w, b = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((16, 3, 1, 1)), \
        rng.standard_normal(16)
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, **kwargs), x, w, b, dtype=dtype)
