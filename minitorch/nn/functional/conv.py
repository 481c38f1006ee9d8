"""2-D convolution: ``conv2d``, computed as im2col + one matrix multiplication.

What torch's ``conv2d`` computes
--------------------------------
Despite the name it is a *cross-correlation* (the kernel is not flipped). For an input x of shape
(N, C, H, W), a weight w of shape (O, C/groups, kH, kW) and a bias b of shape (O,)::

    y[n, o, i, j] = b[o] + Σ_{c,p,q} w[o, c, p, q] · xpad[n, g·C/G + c, i·sH + p·dH, j·sW + q·dW]

where ``xpad`` is x with zeros around it (``padding``), G = groups, g = o // (O/G) is the group
of output channel o, s is the stride and d the dilation. The output has

    OH = (H + pad_top + pad_bottom − dH·(kH − 1) − 1) // sH + 1        (OW likewise)

rows. (The seed document writes S(i,j) = Σ I(m,n)·K(i−m, j−n): that is the textbook convolution
with a flipped kernel. Deep-learning libraries, torch included, do not flip; neither do we.)

im2col: a convolution is a matrix product
-----------------------------------------
For each output pixel (i, j) of image n the sum above runs over the C·kH·kW input values under
the kernel window. Copy those values into one column — one column per output pixel of every
image — and the whole convolution is one matrix product::

    cols : (C·kH·kW, N·OH·OW)     column (n, i, j) = the flattened window under pixel (i, j) of n
    w2   : (O, C·kH·kW)           the weight with its last three axes flattened
    Y    = w2 @ cols              (O, N·OH·OW) = (O, N, OH, OW);  y = Y transposed to (N, O, OH, OW)

Building ``cols`` needs no loop over pixels: the padded input xpad (N, C, Hp, Wp), whose memory
strides are (bN, bC, bH, bW) bytes, *is already* a 6-D array of windows if we reinterpret its
memory with

    shape   (C,  kH,     kW,     N,   OH,     OW)
    strides (bC, dH·bH,  dW·bW,  bN,  sH·bH,  sW·bW)

(one kernel row further moves dH input rows; one output row further moves sH input rows).
``as_strided`` creates that view without copying; one ``ascontiguousarray`` writes the columns.

Why this layout. With the rows indexed by (c, p, q) and the columns by (n, i, j), the product is
ONE big GEMM per group (G groups: cols is viewed as (G, K_g, M) with K_g = C/G·kH·kW and
M = N·OH·OW, the weight as (G, O/G, K_g); one ``matmul`` call, one GEMM per group). A big GEMM
is what BLAS is best at and what threads well; its result (O, N, OH, OW) needs one transpose to
NCHW, a cheap copy since whole OH·OW planes stay contiguous (we fuse the bias add into it). The
other orders cost more: columns as (N·OH·OW, C·kH·kW) give NHWC, whose transpose moves the
innermost axis (a slow copy); per-image columns (N, C·kH·kW, OH·OW) avoid the transpose but make
one small GEMM per image: about as fast on one thread, but with two OpenBLAS threads on a busy
machine every small GEMM's thread barrier can stall, and it measured up to 2x slower.

Backward
--------
With G2 = dL/dy transposed to (O, N, OH, OW) — the layout of Y — and the forward written as
Y = w2 @ cols + b, the vector-Jacobian products of a matrix product (see ``MatMul``) give::

    dL/db     = Σ_{n, i, j} dL/dy[n, :, i, j]                           (O,)
    dL/dw2    = G2 @ colsᵀ        (O/G, M) @ (M, K_g)                      (G, O/G, K_g)
    dL/dcols  = w2ᵀ @ G2          (K_g, O/G) @ (O/G, M)                    (G, K_g, M)
    dL/dx     = col2im(dL/dcols)

dw = dY·colsᵀ because each weight entry multiplies one row of cols, in every column (every output
pixel of every image): its gradient sums dY × that row over all columns — a matrix product.
dcols = Wᵀ·dY because each column entry is used by every output channel of its group.
``col2im`` undoes im2col: an input pixel was copied into several columns (once per kernel offset
whose window covers it), so its gradient is the *sum* of the gradients of all those copies. We
loop over the kH·kW kernel offsets (p, q) and add the (C, N, OH, OW) slab dcols[:, p, q] into the
strided slice dxpad[:, :, p·dH :: sH, q·dW :: sW] of a (C, N, Hp, Wp) buffer — the same pixels
im2col read. Cropping the padding off and transposing back to NCHW (one copy) gives dL/dx.

Memory: forward keeps ``cols`` (kH·kW times the input) for dL/dw instead of rebuilding it in
backward; it keeps it only when the weight needs a gradient, and keeps the weight only when the
input needs one.
"""
from __future__ import annotations

import functools

import numpy as np

from ...autograd import Function
from ...backend import array_module, raw_kernels_for
from ...tensor import Tensor, fmt_shape

__all__ = ["conv2d"]


# ---------------------------------------------------------------------------------------------
# Argument parsing (shared with pooling.py)
# ---------------------------------------------------------------------------------------------
def pair_argument(value, name: str, op: str) -> tuple:
    """An int or a sequence of one or two ints → (value_h, value_w), as torch's ``_pair``."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) in (1, 2) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return (int(value[0]), int(value[-1]))
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")


def fmt_pair(pair) -> str:
    return f"({pair[0]},{pair[1]})"


# ---------------------------------------------------------------------------------------------
# Geometry: checked and computed once per distinct call signature (cached)
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=512)
def conv2d_geometry(input_shape, weight_shape, bias_shape, stride, padding, dilation, groups):
    """Check a conv2d call and return (pad_top, pad_bottom, pad_left, pad_right, OH, OW).

    ``input_shape`` is 4-D here; ``padding`` is a pair or 'same'/'valid'. Raises RuntimeError
    naming the offending shapes and values. Cached: a training loop repeats the same shapes.
    """
    shapes = f"(input {fmt_shape(input_shape)}, weight {fmt_shape(weight_shape)})"
    if len(weight_shape) != 4:
        raise RuntimeError(f"conv2d: weight must be 4-D (out_channels, in_channels/groups, kH, kW),"
                           f" got weight of shape {fmt_shape(weight_shape)}")
    if groups <= 0:
        raise RuntimeError(f"conv2d: groups must be a positive integer, got groups={groups}")
    if min(stride) <= 0:
        raise RuntimeError(f"conv2d: stride must be positive, got stride={fmt_pair(stride)}")
    if min(dilation) <= 0:
        raise RuntimeError(f"conv2d: dilation must be positive, got dilation={fmt_pair(dilation)}")
    n, c, h, w = input_shape
    o, c_per_group, kh, kw = weight_shape
    if c % groups != 0:
        raise RuntimeError(f"conv2d: the input's {c} channels are not divisible by "
                           f"groups={groups} {shapes}")
    if o % groups != 0:
        raise RuntimeError(f"conv2d: the weight's {o} output channels (weight.shape[0]) are not "
                           f"divisible by groups={groups} {shapes}")
    if c != c_per_group * groups:
        raise RuntimeError(f"conv2d: input has {c} channels but weight expects "
                           f"{c_per_group * groups} (weight.shape[1]={c_per_group} × "
                           f"groups={groups}) {shapes}")
    if bias_shape is not None and tuple(bias_shape) != (o,):
        raise RuntimeError(f"conv2d: bias must be 1-D with out_channels={o} elements, got bias of "
                           f"shape {fmt_shape(bias_shape)} {shapes}")
    extent_h, extent_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if padding == "valid":
        pads = (0, 0, 0, 0)
    elif padding == "same":
        if stride != (1, 1):
            raise RuntimeError(f"conv2d: padding='same' is not supported for strided convolutions "
                               f"(stride={fmt_pair(stride)})")
        # torch: total padding extent−1 per axis, half on each side, the odd one on the right/bottom
        total_h, total_w = extent_h - 1, extent_w - 1
        pads = (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
    else:
        if min(padding) < 0:
            raise RuntimeError(f"conv2d: padding must be non-negative, got "
                               f"padding={fmt_pair(padding)}")
        pads = (padding[0], padding[0], padding[1], padding[1])
    padded_h, padded_w = h + pads[0] + pads[1], w + pads[2] + pads[3]
    if extent_h > padded_h or extent_w > padded_w:
        raise RuntimeError(f"conv2d: kernel size (dilated) ({extent_h},{extent_w}) is larger than "
                           f"the padded input ({padded_h},{padded_w}) {shapes} with "
                           f"padding={padding if isinstance(padding, str) else fmt_pair(padding)},"
                           f" dilation={fmt_pair(dilation)}")
    out_h = (padded_h - extent_h) // stride[0] + 1
    out_w = (padded_w - extent_w) // stride[1] + 1
    return pads + (out_h, out_w)


# ---------------------------------------------------------------------------------------------
# im2col / col2im
# ---------------------------------------------------------------------------------------------
def pad2d(x, pads, value=0):
    """x (N, C, H, W) with ``pads`` = (top, bottom, left, right) rows/columns of ``value`` added.
    Returns x itself when there is nothing to add."""
    top, bottom, left, right = pads
    if not any(pads):
        return x
    xp = array_module(x)
    n, c, h, w = x.shape
    out = xp.full((n, c, h + top + bottom, w + left + right), value, dtype=x.dtype)
    out[:, :, top:top + h, left:left + w] = x
    return out


def window_view(xpad, kernel, stride, dilation, out_hw):
    """The (C, kH, kW, N, OH, OW) view of xpad (N, C, Hp, Wp) whose [c, p, q, n, i, j] is
    xpad[n, c, i·sH + p·dH, j·sW + q·dW] — every kernel window, without a copy."""
    xp = array_module(xpad)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    n, c = xpad.shape[:2]
    b_n, b_c, b_h, b_w = xpad.strides  # in bytes; any layout works, contiguous or not
    return xp.lib.stride_tricks.as_strided(
        xpad, shape=(c, kh, kw, n, oh, ow),
        strides=(b_c, dh * b_h, dw * b_w, b_n, sh * b_h, sw * b_w))


def im2col(xpad, kernel, stride, dilation, out_hw):
    """cols (C·kH·kW, N·OH·OW): column (n, i, j) is the window under output pixel (i, j) of
    image n, row (c, p, q) is kernel tap (p, q) of channel c."""
    xp = array_module(xpad)
    n, c = xpad.shape[:2]
    windows = window_view(xpad, kernel, stride, dilation, out_hw)
    # the one copy of im2col: the (C, kH, kW, N, OH, OW) strided view → contiguous
    cols = xp.ascontiguousarray(windows)
    return cols.reshape(c * kernel[0] * kernel[1], n * out_hw[0] * out_hw[1])


def col2im(dcols, padded_shape, kernel, stride, dilation, out_hw):
    """The adjoint of im2col: dcols (C·kH·kW, N·OH·OW) → dxpad, laid out (C, N, Hp, Wp) like
    dcols, summing the gradients of every copy im2col made of a pixel. One strided add per
    kernel offset."""
    xp = array_module(dcols)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    n, c, hp, wp = padded_shape
    dcols = dcols.reshape(c, kh, kw, n, oh, ow)
    dxpad = xp.zeros((c, n, hp, wp), dtype=dcols.dtype)
    for p in range(kh):
        for q in range(kw):
            # the pixels that kernel offset (p, q) read, for all output positions at once
            rows = slice(p * dh, p * dh + (oh - 1) * sh + 1, sh)
            cols = slice(q * dw, q * dw + (ow - 1) * sw + 1, sw)
            dxpad[:, :, rows, cols] += dcols[:, p, q]
    return dxpad


# ---------------------------------------------------------------------------------------------
# The Function
# ---------------------------------------------------------------------------------------------
class Conv2d(Function):
    """y = conv2d(x, w, b): Y = w2 @ im2col(xpad) + b, per group, then Y's columns to NCHW.

    Shapes (G = groups, K_g = C/G·kH·kW, M = N·OH·OW):
        x (N, C, H, W) or (C, H, W),  w (O, C/G, kH, kW),  b (O,) or None  →  y (N, O, OH, OW)
        cols (G, K_g, M),  w2 (G, O/G, K_g),  Y = w2 @ cols (G, O/G, M) = (O, N, OH, OW) → y

    Backward, with G2 = dL/dy transposed to (O, N, OH, OW) and viewed as (G, O/G, M):
        dL/db = Σ_{n,i,j} dL/dy                 (O,)
        dL/dw = G2 @ colsᵀ                      (G, O/G, K_g) → (O, C/G, kH, kW)
        dL/dx = col2im(w2ᵀ @ G2)               (G, K_g, M) → (C, N, Hp, Wp) → crop, to NCHW

    On CUDA float32 (``backend.use_raw_kernels``) forward and backward run our implicit-GEMM
    kernels instead (``kernels/conv2d.cu``: the same sums, no im2col matrix in memory).
    """
    raw = None  # the kernel wrappers when forward took the CUDA path

    @staticmethod
    def forward(ctx, x, weight, bias, *, stride, dilation, geometry, groups):
        kernels = raw_kernels_for(x, weight, bias)
        if kernels is not None:
            return _conv2d_forward_cuda(kernels, ctx, x, weight, bias, stride, dilation,
                                        geometry, groups)
        xp = array_module(x, weight)
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        pads, (out_h, out_w) = geometry[:4], geometry[4:]
        n, c, h, w = x.shape
        o, c_per_group, kh, kw = weight.shape
        kernel, out_hw = (kh, kw), (out_h, out_w)
        xpad = pad2d(x, pads)
        cols = im2col(xpad, kernel, stride, dilation, out_hw)              # (C·kH·kW, M)
        m = n * out_h * out_w
        cols = cols.reshape(groups, c_per_group * kh * kw, m)              # (G, K_g, M)
        w2 = weight.reshape(groups, o // groups, c_per_group * kh * kw)    # (G, O/G, K_g)
        y_cn = xp.matmul(w2, cols).reshape(o, n, out_h * out_w)           # one GEMM per group
        if bias is not None:
            y_cn += bias.reshape(o, 1, 1)  # here each bias value covers one contiguous row
        # the one transpose: (O, N, OH·OW) → (N, O, OH·OW), whole planes stay contiguous
        y = xp.empty((n, o, out_h * out_w), dtype=y_cn.dtype)
        y[...] = y_cn.transpose(1, 0, 2)
        y = y.reshape(n, o, out_h, out_w)
        # keep only what backward will read: cols for dL/dw, the weight for dL/dx
        needs_x, needs_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward(cols if needs_w else None, weight if needs_x else None)
        ctx.geometry = (x.shape, xpad.shape, pads, kernel, stride, dilation, out_hw, groups,
                        unbatched)
        return y[0] if unbatched else y

    @staticmethod
    def backward(ctx, grad):
        if ctx.raw is not None:
            return _conv2d_backward_cuda(ctx, grad)
        cols, weight = ctx.saved_tensors
        (x_shape, padded_shape, pads, kernel, stride, dilation, out_hw, groups,
         unbatched) = ctx.geometry
        xp = array_module(grad)
        n, c, h, w = x_shape
        o = grad.shape[-3]
        if unbatched:
            grad = grad[None]
        dx = dw = db = None
        if not (ctx.needs_input_grad[0] or ctx.needs_input_grad[1]):
            return dx, dw, grad.sum(axis=(0, 2, 3)) if ctx.needs_input_grad[2] else None
        # dL/dy in the layout of Y: (N, O, OH, OW) → (O, N, OH, OW) → (G, O/G, M)
        p = out_hw[0] * out_hw[1]
        g2 = xp.empty((o, n, p), dtype=grad.dtype)
        g2[...] = grad.reshape(n, o, p).transpose(1, 0, 2)
        g2 = g2.reshape(groups, o // groups, n * p)
        if ctx.needs_input_grad[2]:
            db = g2.reshape(o, n * p).sum(axis=1)  # rows of g2 are contiguous: a fast reduction
        if ctx.needs_input_grad[1]:
            # dw = G2 @ colsᵀ. We form its transpose cols @ G2ᵀ (G, K_g, O/G), which OpenBLAS
            # computes 15-20% faster for these shapes, and transpose the small result
            dw = xp.matmul(cols, g2.swapaxes(-1, -2)).swapaxes(-1, -2)   # (G, O/G, K_g)
            dw = dw.reshape(o, c // groups, *kernel)
        if ctx.needs_input_grad[0]:
            k_g = (c // groups) * kernel[0] * kernel[1]
            w2 = weight.reshape(groups, o // groups, k_g)                # (G, O/G, K_g)
            dcols = xp.matmul(w2.swapaxes(-1, -2), g2)                   # (G, K_g, M)
            dxpad = col2im(dcols, padded_shape, kernel, stride, dilation, out_hw)  # (C, N, Hp, Wp)
            top, _, left, _ = pads
            # crop the padding and return to NCHW in one copy
            dx = xp.ascontiguousarray(
                dxpad[:, :, top:top + h, left:left + w].transpose(1, 0, 2, 3))
            if unbatched:
                dx = dx[0]
        return dx, dw, db


def _conv2d_forward_cuda(kernels, ctx, x, weight, bias, stride, dilation, geometry, groups):
    """Conv2d.forward on our kernels: y = conv2d_fwd(x, w, b); saves x and w (not cols)."""
    unbatched = x.ndim == 3
    x4 = x[None] if unbatched else x
    pads = geometry[:4]
    y = kernels.conv2d_forward(x4, weight, bias, stride=stride, padding=pads, dilation=dilation,
                               groups=groups)
    ctx.raw = kernels
    ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                          weight if ctx.needs_input_grad[0] else None)
    ctx.geometry = (x4.shape, tuple(weight.shape), pads, stride, dilation, groups, unbatched)
    return y[0] if unbatched else y


def _conv2d_backward_cuda(ctx, grad):
    """Conv2d.backward on our kernels: dx = conv2d_bwd_data(g, w), dw = conv2d_bwd_weight(g, x),
    db = Σ_{n,i,j} g."""
    x, weight = ctx.saved_tensors
    x_shape, w_shape, pads, stride, dilation, groups, unbatched = ctx.geometry
    g = grad[None] if unbatched else grad
    args = dict(stride=stride, padding=pads, dilation=dilation, groups=groups)
    dx = dw = db = None
    if ctx.needs_input_grad[0]:
        dx = ctx.raw.conv2d_backward_data(g, weight, x_shape, **args)
        dx = dx[0] if unbatched else dx
    if ctx.needs_input_grad[1]:
        dw = ctx.raw.conv2d_backward_weight(g, x.reshape(x_shape), w_shape, **args)
    if ctx.needs_input_grad[2]:
        db = g.sum(axis=(0, 2, 3))
    return dx, dw, db


def _check_tensor(t, name: str, op: str):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Applies a 2-D convolution (cross-correlation) over an input of shape (N, C, H, W) or
    (C, H, W), like ``torch.nn.functional.conv2d``. See the module docstring for the math.

    ``stride``, ``dilation``: int or pair; ``padding``: int, pair, 'valid' (no padding) or 'same'
    (output size = input size; stride must be 1; an odd total padding puts the extra row/column
    at the bottom/right, as torch does).
    """
    op = "conv2d"
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    if bias is not None:
        _check_tensor(bias, "bias", op)
    if input.ndim not in (3, 4):
        raise RuntimeError(f"conv2d: expected a 3-D (unbatched) or 4-D (batched) input, got input "
                           f"of shape {fmt_shape(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if t.dtype != input.dtype:
            raise RuntimeError(f"conv2d: input dtype {input.dtype.name} and {name} dtype "
                               f"{t.dtype.name} differ; convert one of them")
        if t.device != input.device:
            raise RuntimeError(f"conv2d: expected all tensors on the same device, got input on "
                               f"{input.device} and {name} on {t.device}")
    if input.dtype.name == "bool":
        raise RuntimeError("conv2d: bool tensors are not supported")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"conv2d: invalid padding string {padding!r} (expected 'same', "
                               f"'valid', an int or a pair of ints)")
    else:
        padding = pair_argument(padding, "padding", op)
    stride = pair_argument(stride, "stride", op)
    dilation = pair_argument(dilation, "dilation", op)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool):
        raise TypeError(f"conv2d: groups must be an int, got {groups!r}")
    shape4 = tuple(input.shape) if input.ndim == 4 else (1,) + tuple(input.shape)
    geometry = conv2d_geometry(shape4, tuple(weight.shape),
                               None if bias is None else tuple(bias.shape),
                               stride, padding, dilation, int(groups))
    return Conv2d.apply(input, weight, bias, stride=stride, dilation=dilation, geometry=geometry,
                        groups=int(groups))
