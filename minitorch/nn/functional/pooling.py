"""2-D max pooling: ``max_pool2d``, vectorised over every window with strided slices.

What torch's ``max_pool2d`` computes
------------------------------------
For an input x of shape (N, C, H, W) (or (C, H, W)), kernel (kH, kW), stride s, padding p and
dilation d, output pixel (i, j) looks at the kH·kW positions

    (i·sH − pH + a·dH,  j·sW − pW + b·dW)        a < kH, b < kW

and takes the largest input value among those that lie inside the input (padding counts as −∞
and is never chosen). The output size per axis is

    OH = ⌊(H + 2pH − dH·(kH − 1) − 1) / sH⌋ + 1           (⌈·⌉ with ceil_mode=True)

and with ceil_mode the last window is dropped if it would start in the right padding (every
window must start inside the input or the left padding). torch also requires p ≤ k // 2.

The winner: torch's CPU kernel scans a window row by row, starting from the −∞ it gets before
the first valid position, and replaces its running maximum when ``value > max or isnan(value)``:
on ties the *first* maximum in scan order wins, a NaN always wins (the last NaN, if several),
and a window of −∞ values reports its first valid position. ``return_indices`` gives the winner
as a flat position h·W + w within its input plane.

Vectorised with a loop over the kH·kW kernel offsets
----------------------------------------------------
For a fixed kernel offset (a, b) the values seen by *all* windows form one strided slice of the
padded input, ``xpad[:, :, a·dH :: sH, b·dW :: sW]`` (OH × OW of them). So the scan above becomes
kH·kW whole-array steps — the same comparison, done for every window at once::

    best   = value at offset 0            winner = first valid offset (per output pixel)
    for each later offset k:  better = (slice_k > best) | isnan(slice_k)
                              winner = k where better;  best = maximum(best, slice_k)

Backward (the vector-Jacobian product): y[n,c,i,j] = x[n,c, position of the winner], so

    dL/dx[n, c, h, w] = Σ_{(i,j) whose winner is (h, w)} g[n, c, i, j]

— each gradient is routed to its window's argmax; overlapping windows (stride < kernel) can share
a winner, so the contributions are *added*: for each offset k, dxpad[slice_k] += g·(winner == k)
(a plain assignment when windows cannot overlap, as in the usual 2x2 pooling with stride 2).

One deliberate difference: with dilation a window can consist of padding only (W=1, kernel 2,
padding 1, dilation 2 reads columns −1 and 1). Its value is −∞ and its index is torch's (the
first position after the left padding, here outside the plane); that output depends on no input,
so it sends no gradient, whereas torch's kernel adds its gradient at that out-of-window index.
"""
from __future__ import annotations

import functools

import numpy as np

from ...autograd import Function, is_grad_enabled
from ...backend import array_module, raw_kernels_for
from ...tensor import Tensor, fmt_shape
from .conv import fmt_pair, pad2d, pair_argument

__all__ = ["max_pool2d", "max_pool2d_with_indices"]


def pooling_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                        ceil_mode: bool) -> int:
    """torch's output-size rule for one axis (``pooling_output_shape``)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # the last window would start in the right padding: drop it
    return out


@functools.lru_cache(maxsize=512)
def max_pool2d_geometry(input_shape, kernel, stride, padding, dilation, ceil_mode):
    """Check a max_pool2d call and return (OH, OW). ``input_shape`` is 4-D. Cached per signature."""
    args = (f"input {fmt_shape(input_shape)}, kernel_size={fmt_pair(kernel)}, "
            f"stride={fmt_pair(stride)}, padding={fmt_pair(padding)}, "
            f"dilation={fmt_pair(dilation)}")
    if min(kernel) <= 0:
        raise RuntimeError(f"max_pool2d: kernel_size must be positive, got ({args})")
    if min(stride) <= 0:
        raise RuntimeError(f"max_pool2d: stride must be positive, got ({args})")
    if min(dilation) <= 0:
        raise RuntimeError(f"max_pool2d: dilation must be positive, got ({args})")
    if min(padding) < 0:
        raise RuntimeError(f"max_pool2d: padding must be non-negative, got ({args})")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise RuntimeError(f"max_pool2d: padding should be at most half of the kernel size, got "
                           f"padding={fmt_pair(padding)} for kernel_size={fmt_pair(kernel)}")
    h, w = input_shape[2:]
    out = tuple(pooling_output_size(size, k, s, p, d, ceil_mode) for size, k, s, p, d in
                zip((h, w), kernel, stride, padding, dilation))
    if min(out) <= 0:
        raise RuntimeError(f"max_pool2d: the output would be empty ({out[0]}x{out[1]}): the "
                           f"(dilated) kernel does not fit in the padded input ({args})")
    return out


def first_valid_offset(out_size, kernel, stride, pad, dilation, xp):
    """Per output position along one axis, the first kernel offset a whose position
    i·s − p + a·d is inside the input (not in the left padding): ⌈max(0, p − i·s) / d⌉."""
    start = xp.arange(out_size) * stride - pad
    return (xp.maximum(0, -start) + dilation - 1) // dilation


class MaxPool2d(Function):
    """y[n, c, i, j] = max over the window of output pixel (i, j) (module docstring).

    Shapes: x (N, C, H, W) or (C, H, W) → y (N, C, OH, OW); internally ``winner`` (N, C, OH, OW)
    holds the kernel offset a·kW + b of each window's maximum.

    Backward: dL/dx = Σ over offsets k of scatter(g · (winner == k)) into the strided slice of
    offset k — every gradient lands on its argmax, overlaps add up.

    ``apply`` returns one tensor, so when ``indices_out`` (a list) is given, forward appends the
    flat indices h·W + w that ``return_indices`` reports (a non-differentiable output).

    On CUDA float32 (``backend.use_raw_kernels``) it runs ``kernels/maxpool2d.cu`` instead: one
    thread per output scanning its window the same way (same values, same indices), and a
    backward that gathers each input's gradient from the windows whose argmax it is — the
    same float32 sums in the same order as the CPU path.
    """
    raw = None  # the kernel wrappers when forward took the CUDA path

    @staticmethod
    def forward(ctx, x, *, kernel, stride, padding, dilation, out_hw, indices_out=None):
        kernels = raw_kernels_for(x)
        if kernels is not None:
            return _max_pool2d_forward_cuda(kernels, ctx, x, kernel, stride, padding, dilation,
                                            out_hw, indices_out)
        xp = array_module(x)
        unbatched = x.ndim == 3
        if unbatched:
            x = x[None]
        n, c, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_hw
        track_winner = indices_out is not None or (ctx.needs_input_grad[0] and is_grad_enabled())
        # pad with the smallest value of the dtype on every side windows reach
        needed_h, needed_w = (oh - 1) * sh + dh * (kh - 1) + 1, (ow - 1) * sw + dw * (kw - 1) + 1
        pads = (ph, max(0, needed_h - ph - h), pw, max(0, needed_w - pw - w))
        lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xpad = pad2d(x, pads, value=lowest)
        offsets = [(a, b) for a in range(kh) for b in range(kw)]  # torch's scan order

        def window_slice(a, b):
            return (slice(None), slice(None),
                    slice(a * dh, a * dh + (oh - 1) * sh + 1, sh),
                    slice(b * dw, b * dw + (ow - 1) * sw + 1, sw))

        # the running maximum starts at offset 0 (a padded −∞ there never wins, as in torch)
        best = xpad[window_slice(0, 0)].copy()
        # the winner is needed for backward and for return_indices; inference skips it
        if track_winner:
            first_a = first_valid_offset(oh, kh, sh, ph, dh, xp)
            first_b = first_valid_offset(ow, kw, sw, pw, dw, xp)
            index_dtype = xp.int16 if kh * kw < 2 ** 15 else xp.int64
            winner = xp.empty((n, c, oh, ow), dtype=index_dtype)
            winner[...] = (first_a[:, None] * kw + first_b[None, :]).astype(index_dtype)
            # scratch buffers reused by every offset (no allocation in the loop)
            better, candidate = xp.empty(best.shape, dtype=bool), xp.empty_like(winner)
            # NaN wins (torch: val > max || isnan(val)); one reduction tells whether to look for it
            check_nan = x.dtype.kind == "f" and bool(xp.isnan(x.max())) if x.size else False
        for k, (a, b) in enumerate(offsets[1:], start=1):
            values = xpad[window_slice(a, b)]
            if track_winner:
                xp.greater(values, best, out=better)
                if check_nan:
                    better |= xp.isnan(values)
                # winner = k where better. Masked writes (copyto(where=)) are slow on random masks;
                # since k only grows along the scan, "the last k that was better" is a running max
                # (a better value is never padding, so k is past the first valid offset).
                xp.multiply(better, index_dtype(k), out=candidate)
                xp.maximum(winner, candidate, out=winner)
            # max() keeps a NaN once it is there and takes a new NaN: torch's running value
            xp.maximum(best, values, out=best)
        if indices_out is not None:
            indices_out.append(_flat_indices(winner, kernel, stride, padding, dilation, out_hw, w,
                                             unbatched, xp))
        if track_winner:
            ctx.save_for_backward(winner)
        ctx.geometry = (x.shape, xpad.shape, pads, offsets, window_slice, kernel, stride, dilation,
                        unbatched)
        return best[0] if unbatched else best

    @staticmethod
    def backward(ctx, grad):
        if ctx.raw is not None:
            return _max_pool2d_backward_cuda(ctx, grad)
        (x_shape, padded_shape, pads, offsets, window_slice, kernel, stride, dilation,
         unbatched) = ctx.geometry
        (winner,) = ctx.saved_tensors
        xp = array_module(grad)
        if unbatched:
            grad = grad[None]
        dxpad = xp.zeros(padded_shape, dtype=grad.dtype)
        # when windows do not overlap (stride >= dilated kernel extent, e.g. the usual 2x2/2),
        # every input position is read by at most one (window, offset): assign instead of add
        overlapping = any(s < d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))
        routed, mask = xp.empty_like(grad), xp.empty(grad.shape, dtype=bool)  # reused scratch
        # g · mask is the fast way to keep g at the winners and 0 elsewhere, but inf · 0 = NaN:
        # an inf/NaN gradient takes the (10x slower) masked select, which leaves exact zeros
        finite = grad.dtype.kind != "f" or bool(xp.isfinite(grad).all())
        for k, (a, b) in enumerate(offsets):
            xp.equal(winner, k, out=mask)
            if finite:
                xp.multiply(grad, mask, out=routed)
            else:
                routed[...] = xp.where(mask, grad, 0)
            if overlapping:
                dxpad[window_slice(a, b)] += routed
            else:
                dxpad[window_slice(a, b)] = routed
        n, c, h, w = x_shape
        top, _, left, _ = pads
        dx = dxpad[:, :, top:top + h, left:left + w]
        if dx.shape != dxpad.shape:
            dx = xp.ascontiguousarray(dx)
        return dx[0] if unbatched else dx


def _flat_indices(winner, kernel, stride, padding, dilation, out_hw, w, unbatched, xp):
    """return_indices: the flat position (i·sH − pH + a·dH)·W + (j·sW − pW + b·dW) of each
    window's maximum within its input plane, from the winning offset k = a·kW + b."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel, stride, padding, dilation, out_hw
    row = (xp.arange(oh) * sh - ph)[:, None] + (winner // kw).astype(xp.int64) * dh
    col = (xp.arange(ow) * sw - pw)[None, :] + (winner % kw).astype(xp.int64) * dw
    indices = row * w + col
    return indices[0] if unbatched else indices


def _max_pool2d_forward_cuda(kernels, ctx, x, kernel, stride, padding, dilation, out_hw,
                             indices_out):
    """MaxPool2d.forward on our kernel; the argmax indices are kept for backward when needed."""
    unbatched = x.ndim == 3
    x4 = x[None] if unbatched else x
    need_indices = indices_out is not None or (ctx.needs_input_grad[0] and is_grad_enabled())
    y, indices = kernels.max_pool2d_forward(x4, kernel, stride, padding, dilation, out_hw,
                                            return_indices=need_indices)
    if indices_out is not None:
        indices_out.append(indices[0] if unbatched else indices)
    ctx.raw = kernels
    ctx.save_for_backward(indices)
    ctx.geometry = (x4.shape, kernel, stride, padding, dilation, unbatched)
    return y[0] if unbatched else y


def _max_pool2d_backward_cuda(ctx, grad):
    (indices,) = ctx.saved_tensors
    x_shape, kernel, stride, padding, dilation, unbatched = ctx.geometry
    dx = ctx.raw.max_pool2d_backward(grad[None] if unbatched else grad, indices, x_shape, kernel,
                                     stride, padding, dilation)
    return dx[0] if unbatched else dx


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """(output, indices) of a 2-D max pooling (``torch.nn.functional.max_pool2d_with_indices``)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode,
                      return_indices=return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Applies a 2-D max pooling over an input of shape (N, C, H, W) or (C, H, W), like
    ``torch.nn.functional.max_pool2d``. ``stride`` defaults to ``kernel_size``. With
    ``return_indices`` returns (output, indices), indices being flat positions h·W + w within each
    input plane (int64), as torch returns them. See the module docstring for the math."""
    op = "max_pool2d"
    if not isinstance(input, Tensor):
        raise TypeError(f"max_pool2d: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4) or 0 in tuple(input.shape)[-3:]:
        raise RuntimeError(f"max_pool2d: expected a non-empty 3-D (unbatched) or 4-D (batched) "
                           f"input, got input of shape {fmt_shape(input.shape)}")
    if input.dtype.name == "bool":
        raise RuntimeError("max_pool2d: bool tensors are not supported")
    kernel = pair_argument(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else pair_argument(stride, "stride", op)
    padding = pair_argument(padding, "padding", op)
    dilation = pair_argument(dilation, "dilation", op)
    shape4 = tuple(input.shape) if input.ndim == 4 else (1,) + tuple(input.shape)
    out_hw = max_pool2d_geometry(shape4, kernel, stride, padding, dilation, bool(ceil_mode))
    indices_out = [] if return_indices else None
    out = MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                          out_hw=out_hw, indices_out=indices_out)
    if return_indices:
        return out, Tensor._make(indices_out[0])
    return out
