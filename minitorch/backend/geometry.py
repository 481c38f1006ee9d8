"""The geometry of a convolution or a max pooling: checked once, named, shared by every path.

``conv2d`` on the CPU (im2col + GEMM) and on CUDA (``kernels/conv2d.cu``), and the kernel
wrappers in :mod:`minitorch.backend.kernels`, all take a :class:`ConvGeometry`; max pooling
likewise takes a :class:`PoolGeometry`. Each is computed by one function that checks the call
and raises a :class:`~minitorch.backend.shapes.ShapeError` (a RuntimeError, as torch raises, and
a ValueError) naming the offending shapes and values. Both are cached per call signature: a
training loop repeats the same shapes.

Notation follows the CUDA kernels: input (N, C, H, W), weight (O, C/G, R, S), output
(N, O, P, Q); stride (sh, sw), top/left padding (ph, pw), dilation (dh, dw), G groups.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .shapes import ShapeError, fmt_pair, fmt_shape

__all__ = ["ConvGeometry", "conv2d_geometry", "PoolGeometry", "max_pool2d_geometry",
           "pooling_output_size"]


class ConvGeometry(NamedTuple):
    """One conv2d call: y (N, O, P, Q) = conv2d(x (N, C, H, W), w (O, C/G, R, S)).

    Output pixel (p, q) reads input rows p·sh − ph + r·dh (r < R) and columns q·sw − pw + s·dw
    (s < S). Top/left padding and the output size define the call completely: bottom/right
    padding rows that no window reaches do not matter (``pads`` gives the ones that do).
    """
    N: int
    C: int
    H: int
    W: int
    O: int
    P: int
    Q: int
    R: int
    S: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    G: int

    @property
    def kernel(self) -> tuple:
        return (self.R, self.S)

    @property
    def stride(self) -> tuple:
        return (self.sh, self.sw)

    @property
    def dilation(self) -> tuple:
        return (self.dh, self.dw)

    @property
    def out_hw(self) -> tuple:
        return (self.P, self.Q)

    @property
    def pads(self) -> tuple:
        """(top, bottom, left, right): the zero rows/columns the windows reach around x."""
        reach_h = (self.P - 1) * self.sh + self.dh * (self.R - 1) + 1
        reach_w = (self.Q - 1) * self.sw + self.dw * (self.S - 1) + 1
        return (self.ph, max(0, reach_h - self.ph - self.H),
                self.pw, max(0, reach_w - self.pw - self.W))

    @property
    def padded_shape(self) -> tuple:
        top, bottom, left, right = self.pads
        return (self.N, self.C, self.H + top + bottom, self.W + left + right)

    def ints(self) -> tuple:
        """The sixteen fields as np.int32, in the order the CUDA kernels declare them."""
        return tuple(np.int32(v) for v in self)


def _pads(padding, kernel_extent, stride, op: str) -> tuple:
    """(top, bottom, left, right) from 'valid', 'same', (pH, pW) or a 4-tuple."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        if stride != (1, 1):
            raise ShapeError(f"{op}: padding='same' is not supported for strided convolutions "
                             f"(stride={fmt_pair(stride)})")
        # torch: total padding extent−1 per axis, half on each side, the odd one bottom/right
        total_h, total_w = kernel_extent[0] - 1, kernel_extent[1] - 1
        return (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
    if min(padding) < 0:
        raise ShapeError(f"{op}: padding must be non-negative, got padding="
                         + (fmt_pair(padding) if len(padding) == 2 else str(tuple(padding))))
    if len(padding) == 4:
        return tuple(padding)
    return (padding[0], padding[0], padding[1], padding[1])


@functools.lru_cache(maxsize=512)
def conv2d_geometry(input_shape, weight_shape, bias_shape, stride, padding, dilation, groups,
                    op: str = "conv2d") -> ConvGeometry:
    """Check a conv2d call and return its :class:`ConvGeometry`.

    ``input_shape`` must be 4-D (callers add N=1 for an unbatched input); ``stride`` and
    ``dilation`` are pairs; ``padding`` is a pair, a 4-tuple (top, bottom, left, right), or
    'same'/'valid'; ``bias_shape`` is None without a bias.
    """
    shapes = f"(input {fmt_shape(input_shape)}, weight {fmt_shape(weight_shape)})"
    if len(input_shape) != 4:
        raise ShapeError(f"{op}: input must be 4-D (N, C, H, W), got input of shape "
                         f"{fmt_shape(input_shape)}")
    if len(weight_shape) != 4:
        raise ShapeError(f"{op}: weight must be 4-D (out_channels, in_channels/groups, kH, kW),"
                         f" got weight of shape {fmt_shape(weight_shape)}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
        raise ShapeError(f"{op}: groups must be a positive integer, got groups={groups}")
    if min(stride) <= 0:
        raise ShapeError(f"{op}: stride must be positive, got stride={fmt_pair(stride)}")
    if min(dilation) <= 0:
        raise ShapeError(f"{op}: dilation must be positive, got dilation={fmt_pair(dilation)}")
    n, c, h, w = (int(v) for v in input_shape)
    o, c_per_group, kh, kw = (int(v) for v in weight_shape)
    if c % groups != 0:
        raise ShapeError(f"{op}: the input's {c} channels are not divisible by "
                         f"groups={groups} {shapes}")
    if o % groups != 0:
        raise ShapeError(f"{op}: the weight's {o} output channels (weight.shape[0]) are not "
                         f"divisible by groups={groups} {shapes}")
    if c != c_per_group * groups:
        raise ShapeError(f"{op}: input has {c} channels but weight expects "
                         f"{c_per_group * groups} (weight.shape[1]={c_per_group} × "
                         f"groups={groups}) {shapes}")
    if kh <= 0 or kw <= 0:
        raise ShapeError(f"{op}: kernel size should be greater than zero, got kernel ({kh},{kw}) "
                         f"{shapes}")
    if bias_shape is not None and tuple(bias_shape) != (o,):
        raise ShapeError(f"{op}: bias must be 1-D with out_channels={o} elements, got bias of "
                         f"shape {fmt_shape(bias_shape)} {shapes}")
    extent = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    top, bottom, left, right = _pads(padding, extent, stride, op)
    padded = (h + top + bottom, w + left + right)
    if extent[0] > padded[0] or extent[1] > padded[1]:
        pad_text = padding if isinstance(padding, str) else (
            fmt_pair(padding) if len(padding) == 2 else str(tuple(padding)))
        raise ShapeError(f"{op}: kernel size (dilated) {fmt_pair(extent)} is larger than the "
                         f"padded input {fmt_pair(padded)} {shapes} with padding={pad_text}, "
                         f"dilation={fmt_pair(dilation)}: the kernel does not fit")
    out_h = (padded[0] - extent[0]) // stride[0] + 1
    out_w = (padded[1] - extent[1]) // stride[1] + 1
    return ConvGeometry(n, c, h, w, o, out_h, out_w, kh, kw, stride[0], stride[1], top, left,
                        dilation[0], dilation[1], int(groups))


class PoolGeometry(NamedTuple):
    """One max_pool2d call: y (N, C, OH, OW) from x (N, C, H, W); output pixel (i, j) looks at
    rows i·sh − ph + a·dh (a < kh) and columns j·sw − pw + b·dw (b < kw) inside the input."""
    N: int
    C: int
    H: int
    W: int
    OH: int
    OW: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int

    @property
    def kernel(self) -> tuple:
        return (self.kh, self.kw)

    @property
    def stride(self) -> tuple:
        return (self.sh, self.sw)

    @property
    def padding(self) -> tuple:
        return (self.ph, self.pw)

    @property
    def dilation(self) -> tuple:
        return (self.dh, self.dw)

    @property
    def out_hw(self) -> tuple:
        return (self.OH, self.OW)


def pooling_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                        ceil_mode: bool) -> int:
    """torch's output-size rule for one axis (``pooling_output_shape``)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # the last window would start in the right padding: drop it
    return out


@functools.lru_cache(maxsize=512)
def max_pool2d_geometry(input_shape, kernel, stride, padding, dilation, ceil_mode,
                        op: str = "max_pool2d") -> PoolGeometry:
    """Check a max_pool2d call (``input_shape`` 4-D, the rest pairs) and return its geometry."""
    args = (f"input {fmt_shape(input_shape)}, kernel_size={fmt_pair(kernel)}, "
            f"stride={fmt_pair(stride)}, padding={fmt_pair(padding)}, "
            f"dilation={fmt_pair(dilation)}")
    if len(input_shape) != 4:
        raise ShapeError(f"{op}: input must be 4-D (N, C, H, W), got shape "
                         f"{fmt_shape(input_shape)}")
    if min(kernel) <= 0:
        raise ShapeError(f"{op}: kernel_size must be positive, got ({args})")
    if min(stride) <= 0:
        raise ShapeError(f"{op}: stride must be positive, got ({args})")
    if min(dilation) <= 0:
        raise ShapeError(f"{op}: dilation must be positive, got ({args})")
    if min(padding) < 0:
        raise ShapeError(f"{op}: padding must be non-negative, got ({args})")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ShapeError(f"{op}: padding should be at most half of the kernel size, got "
                         f"padding={fmt_pair(padding)} for kernel_size={fmt_pair(kernel)}")
    n, c, h, w = (int(v) for v in input_shape)
    out = tuple(pooling_output_size(size, k, s, p, d, ceil_mode) for size, k, s, p, d in
                zip((h, w), kernel, stride, padding, dilation))
    if min(out) <= 0:
        raise ShapeError(f"{op}: the output would be empty ({out[0]}x{out[1]}): the "
                         f"(dilated) kernel does not fit in the padded input ({args})")
    return PoolGeometry(n, c, h, w, out[0], out[1], *kernel, *stride, *padding, *dilation)
