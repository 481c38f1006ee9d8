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

    best   = −∞                           winner = first valid offset (per output pixel)
    for each offset k:  better = (slice_k > best) | isnan(slice_k)
                        winner = k where better;  best = maximum(best, slice_k)

The padding is never built: a padded position is −∞ and never wins, so for offset k only the
windows whose position at k lies inside the input take part — a sub-rectangle of the outputs
and one strided slice of x itself (``MaxPool2d.window_part``).

Backward (the vector-Jacobian product): y[n,c,i,j] = x[n,c, position of the winner], so

    dL/dx[n, c, h, w] = Σ_{(i,j) whose winner is (h, w)} g[n, c, i, j]

— each gradient is routed to its window's argmax; overlapping windows (stride < kernel) can share
a winner, so the contributions are *added*. The winner's flat position in its plane is the
window's origin plus a per-offset step (``_flat_indices``, the same numbers ``return_indices``
gives), and one unbuffered scatter-add (``np.add.at``) puts every g there, window after window —
the order torch's CPU kernel adds in, so even the sums of several float32 terms agree bit for
bit. (The first version looped over the kH·kW offsets with a masked product and a strided add
each: kH·kW passes against the scatter's one; on the ResNet stem's 3x3/2 forward+backward,
1 thread, 1.56x → 0.91x torch, at 2 threads 1.58x → 1.16x, A/B in one process.) Windows that
share no input (the seed nets' 2x2/2) need no adds at all: there each offset's slice is written
once, densely (``MaxPool2d.backward_disjoint``), which beats the scatter.

One deliberate difference: with dilation a window can consist of padding only (W=1, kernel 2,
padding 1, dilation 2 reads columns −1 and 1). Its value is −∞ and its index is torch's (the
first position after the left padding, here outside the plane); that output depends on no input,
so it sends no gradient, whereas torch's kernel adds its gradient at that out-of-window index.
"""
from __future__ import annotations

import numpy as np

from ...autograd import ArrayFunction, is_grad_enabled
from ...backend import add_at, array_module, parallel, raw_kernels_for
from ...backend.geometry import PoolGeometry, max_pool2d_geometry
from ...backend.shapes import pair_argument
from ...tensor import Tensor, fmt_shape
from .conv import pad2d

__all__ = ["max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "adaptive_avg_pool2d"]


def first_valid_offset(out_size, kernel, stride, pad, dilation, xp):
    """Per output position along one axis, the first kernel offset a whose position
    i·s − p + a·d is inside the input (not in the left padding): ⌈max(0, p − i·s) / d⌉."""
    start = xp.arange(out_size) * stride - pad
    return (xp.maximum(0, -start) + dilation - 1) // dilation


class MaxPool2d(ArrayFunction):
    """y[n, c, i, j] = max over the window of output pixel (i, j) (module docstring).

    Shapes: x (N, C, H, W) or (C, H, W) → y (N, C, OH, OW); internally ``winner`` (N, C, OH, OW)
    holds the kernel offset a·kW + b of each window's maximum.

    Backward: dL/dx = Σ over offsets k of scatter(g · (winner == k)) into the strided slice of
    offset k — every gradient lands on its argmax, overlaps add up.

    With ``return_indices`` forward returns two outputs: y and the flat indices h·W + w of each
    window's maximum (int64, not differentiable: backward gets zeros for it and ignores them).

    On CUDA float32 (``backend.use_raw_kernels``) ``forward_cuda``/``backward_cuda`` run
    ``kernels/maxpool2d.cu`` instead: one thread per output scanning its window the same way
    (same values, same indices), and a backward that gathers each input's gradient from the
    windows whose argmax it is — the same float32 sums in the same order as the CPU path.
    """

    @staticmethod
    def forward(ctx, x, *, geometry: PoolGeometry, return_indices: bool = False):
        ctx.geometry = geometry
        ctx.unbatched = x.ndim == 3
        ctx.kernels = raw_kernels_for(x)  # None: the generic NumPy/CuPy path
        # the argmax is needed for backward and for return_indices; inference skips it
        ctx.track_winner = return_indices or (ctx.needs_input_grad[0] and is_grad_enabled())
        ctx.return_indices = return_indices  # the flat indices cost several int64 passes
        forward = MaxPool2d.forward_cpu if ctx.kernels is None else MaxPool2d.forward_cuda
        y, indices = forward(ctx, x[None] if ctx.unbatched else x)
        if ctx.unbatched:
            y, indices = y[0], (None if indices is None else indices[0])
        return (y, indices) if return_indices else y

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        g4 = grad[None] if ctx.unbatched else grad
        backward = MaxPool2d.backward_cpu if ctx.kernels is None else MaxPool2d.backward_cuda
        dx = backward(ctx, g4)
        return dx[0] if ctx.unbatched else dx

    # ---- CPU (and generic CuPy): a strided running maximum ---------------------------------
    @staticmethod
    def window_slice(geo: PoolGeometry, a: int, b: int) -> tuple:
        """The positions kernel offset (a, b) reads for every window: a strided slice of xpad."""
        return (slice(None), slice(None),
                slice(a * geo.dh, a * geo.dh + (geo.OH - 1) * geo.sh + 1, geo.sh),
                slice(b * geo.dw, b * geo.dw + (geo.OW - 1) * geo.sw + 1, geo.sw))

    @staticmethod
    def padding_reached(geo: PoolGeometry) -> tuple:
        """(top, bottom, left, right): the padding rows/columns the windows reach."""
        needed_h = (geo.OH - 1) * geo.sh + geo.dh * (geo.kh - 1) + 1
        needed_w = (geo.OW - 1) * geo.sw + geo.dw * (geo.kw - 1) + 1
        return (geo.ph, max(0, needed_h - geo.ph - geo.H), geo.pw, max(0, needed_w - geo.pw - geo.W))

    @staticmethod
    def window_part(geo: PoolGeometry, a: int, b: int):
        """Kernel offset (a, b) without padding: ((rows, cols) of the outputs whose window has
        its offset-(a, b) position inside the input, (rows, cols) of those positions in x), as
        slices, or None when no window has. Window i reads input row i·sH − pH + a·dH."""
        def axis(n_out, s, p, d, offset, size):
            shift = offset * d - p
            i0, i1 = max(0, -(shift // s)), min(n_out, (size - 1 - shift) // s + 1)
            if i1 <= i0:
                return None
            return slice(i0, i1), slice(i0 * s + shift, (i1 - 1) * s + shift + 1, s)
        rows = axis(geo.OH, geo.sh, geo.ph, geo.dh, a, geo.H)
        cols = axis(geo.OW, geo.sw, geo.pw, geo.dw, b, geo.W)
        if rows is None or cols is None:
            return None
        return (rows[0], cols[0]), (rows[1], cols[1])

    @staticmethod
    def forward_cpu(ctx, x):
        """The scan of the module docstring on the unpadded input: for each kernel offset only
        the windows whose position at that offset is inside the input compare (a padded
        position is −∞ and never wins, so the others skip it). Padding the input first, as this
        did before, copied it (ResNet stem 3x3/2 pad 1, (8, 64, 112, 112) float32: 7 ms)."""
        geo = ctx.geometry
        xp = array_module(x)
        lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        # torch's scan order; (outputs, inputs) slices per offset
        parts = [MaxPool2d.window_part(geo, a, b) for a in range(geo.kh) for b in range(geo.kw)]

        best = xp.empty((geo.N, geo.C, geo.OH, geo.OW), dtype=x.dtype)
        winner = index_dtype = first = None
        if ctx.track_winner:
            first_a = first_valid_offset(geo.OH, geo.kh, geo.sh, geo.ph, geo.dh, xp)
            first_b = first_valid_offset(geo.OW, geo.kw, geo.sw, geo.pw, geo.dw, xp)
            # the smallest type that holds every offset: uint8 ops are about twice as fast as int16
            index_dtype = (xp.uint8 if geo.kh * geo.kw <= 2 ** 8 else
                           xp.int16 if geo.kh * geo.kw < 2 ** 15 else xp.int64)
            winner = xp.empty(best.shape, dtype=index_dtype)
            first = (first_a[:, None] * geo.kw + first_b[None, :]).astype(index_dtype)
        # NaN wins (torch: val > max || isnan(val)); one reduction tells whether to look for it
        check_nan = bool(ctx.track_winner and x.dtype.kind == "f" and x.size
                         and xp.isnan(x.max()))

        # the running maximum starts at −∞, as in torch; offset 0 then writes its values, so
        # the −∞ is needed only where offset 0 lies in the padding
        everywhere = (slice(0, geo.OH), slice(0, geo.OW))
        start_low = parts[0] is None or parts[0][0] != everywhere

        def scan(lo, hi):  # images lo..hi-1: every kernel offset, in torch's scan order
            best_, x_ = best[lo:hi], x[lo:hi]
            if start_low:
                best_[...] = lowest
            if ctx.track_winner:
                winner_ = winner[lo:hi]
                winner_[...] = first
                # scratch buffers reused by every offset (no allocation in the loop)
                better, candidate = xp.empty(best_.shape, dtype=bool), xp.empty_like(winner_)
            for k, part in enumerate(parts):
                if part is None:
                    continue
                (oi, oj), (xi, xj) = part
                values, run = x_[:, :, xi, xj], best_[:, :, oi, oj]
                if k == 0:   # everything beats −∞ except −∞, and the winner starts at 0 there
                    run[...] = values
                    continue
                if ctx.track_winner:
                    better_, candidate_ = better[:, :, oi, oj], candidate[:, :, oi, oj]
                    won = winner_[:, :, oi, oj]
                    xp.greater(values, run, out=better_)
                    if check_nan:
                        better_ |= xp.isnan(values)
                    # winner = k where better. Masked writes (copyto(where=)) are slow on random
                    # masks; since k only grows along the scan, "the last k that was better" is
                    # a running max (a better value is never padding: k is past the first valid
                    # offset)
                    xp.multiply(better_, index_dtype(k), out=candidate_)
                    xp.maximum(won, candidate_, out=won)
                # max() keeps a NaN once it is there and takes a new NaN: torch's running value
                xp.maximum(run, values, out=run)

        # the images are independent: split them over the intra-op threads on the CPU
        run_over_images(geo, xp, scan)
        if not ctx.track_winner:
            return best, None
        ctx.save_for_backward(winner)
        return best, _flat_indices(winner, geo, xp) if ctx.return_indices else None

    @staticmethod
    def backward_cpu(ctx, grad):
        """dL/dx = g scattered to the winners: dx.flat[position of the winner of window w] += g[w]
        for every window w, in the order of the windows (torch's CPU kernel adds in the same
        order, so the sums at positions several overlapping windows share come out alike)."""
        geo = ctx.geometry
        (winner,) = ctx.saved_tensors
        xp = array_module(grad)
        if MaxPool2d.windows_disjoint(geo):
            return MaxPool2d.backward_disjoint(geo, winner, grad, xp)
        dx = xp.zeros((geo.N, geo.C, geo.H, geo.W), dtype=grad.dtype)
        # a window of padding only (possible with dilation) depends on no input: no gradient
        inside = _windows_inside(geo, xp)

        plane = geo.H * geo.W
        # the positions in dx as int32 when they fit (np.add.at takes them as they are)
        index = xp.int32 if dx.size < 2 ** 31 else xp.int64
        winner3 = winner.reshape(geo.N * geo.C, geo.OH, geo.OW)      # planes, one after another
        grad3 = grad.reshape(geo.N * geo.C, geo.OH, geo.OW)
        dx_flat = dx.reshape(-1)
        # planes per block: about GRAIN windows, so the block's index array stays in the cache
        step = max(1, parallel.GRAIN // max(1, geo.OH * geo.OW))

        def route(lo, hi):  # images lo..hi-1, a block of planes at a time
            for p0 in range(lo * geo.C, hi * geo.C, step):
                p1 = min(hi * geo.C, p0 + step)
                where = _flat_indices(winner3[p0:p1], geo, xp, index)   # position in its plane
                where += (xp.arange(p0, p1, dtype=index) * plane).reshape(p1 - p0, 1, 1)
                g = grad3[p0:p1]
                if inside is not None:
                    where, g = where[:, inside], g[:, inside]
                # unbuffered: a position that wins several windows gets all their gradients
                add_at(dx_flat, where.reshape(-1), g.reshape(-1))

        run_over_images(geo, xp, route)
        return dx

    @staticmethod
    def windows_disjoint(geo: PoolGeometry) -> bool:
        """No two windows share an input position and none reaches into padding (the seed nets'
        2x2/2): every input then gets the gradient of at most one window, with nothing to add."""
        return (MaxPool2d.padding_reached(geo) == (0, 0, 0, 0)
                and geo.sh >= geo.dh * (geo.kh - 1) + 1 and geo.sw >= geo.dw * (geo.kw - 1) + 1)

    @staticmethod
    def backward_disjoint(geo: PoolGeometry, winner, grad, xp):
        """Disjoint windows: for each kernel offset k, the positions it reads (one strided slice
        of dx, as in forward) get g where the window's winner is k and 0 elsewhere — kH·kW dense
        passes instead of a scatter (pool 2x2/2 of (256, 32, 32, 32) float32: 20.4 → 12.6 ms).
        The product runs on the floats' bit patterns as integers, g·1 or g·0, so the zeros are
        +0.0 even where g is negative or NaN (torch's zeros). The winners get 0 + g, what torch's
        kernel adds into its zeros: g itself, except that −0.0 becomes +0.0."""
        covered = (geo.dh == 1 and geo.dw == 1 and (geo.sh, geo.sw) == (geo.kh, geo.kw)
                   and (geo.H, geo.W) == (geo.OH * geo.sh, geo.OW * geo.sw))
        dx = (xp.empty if covered else xp.zeros)((geo.N, geo.C, geo.H, geo.W), dtype=grad.dtype)
        bits = np.dtype(f"i{grad.dtype.itemsize}")
        dx_bits = dx.view(bits)

        def route(lo, hi):  # images lo..hi-1
            g_bits = (grad[lo:hi] + grad.dtype.type(0)).view(bits)
            for a in range(geo.kh):
                for b in range(geo.kw):
                    xp.multiply(g_bits, winner[lo:hi] == a * geo.kw + b,
                                out=dx_bits[lo:hi][MaxPool2d.window_slice(geo, a, b)])
        run_over_images(geo, xp, route)
        return dx

    # ---- CUDA: kernels/maxpool2d.cu ----------------------------------------------------------
    @staticmethod
    def forward_cuda(ctx, x):
        """One thread per output; the argmax indices are kept for backward when needed."""
        geo = ctx.geometry
        y, indices = ctx.kernels.max_pool2d_forward(x, geo.kernel, geo.stride, geo.padding,
                                                    geo.dilation, geo.out_hw,
                                                    return_indices=ctx.track_winner)
        ctx.save_for_backward(indices)
        return y, indices

    @staticmethod
    def backward_cuda(ctx, grad):
        geo = ctx.geometry
        (indices,) = ctx.saved_tensors
        return ctx.kernels.max_pool2d_backward(grad, indices, (geo.N, geo.C, geo.H, geo.W),
                                               geo.kernel, geo.stride, geo.padding, geo.dilation)


def run_over_images(geo: PoolGeometry, xp, fn) -> None:
    """fn(lo, hi) for image ranges covering the batch: split over the intra-op threads for
    NumPy (each range writes only its own images, so the threads never write the same memory),
    one call on a GPU."""
    if xp is not np:
        fn(0, geo.N)
        return
    per_image = max(1, geo.C * geo.H * geo.W)
    parallel.parallel_for(geo.N, fn, grain=max(1, parallel.GRAIN // per_image))


def _flat_indices(winner, geo: PoolGeometry, xp, dtype=None):
    """The flat position (i·sH − pH + a·dH)·W + (j·sW − pW + b·dW) of each window's maximum
    within its input plane (``return_indices``), from the winning offset k = a·kW + b: the
    window's origin (i·sH − pH)·W + (j·sW − pW) plus the step a·dH·W + b·dW of offset k, looked
    up in a table of kH·kW steps. int64 (torch's indices), or ``dtype`` (backward uses int32
    where the positions fit: half the memory traffic; the ResNet stem's backward at 1 thread,
    A/B in one process, 11.7 → 9.9 ms median)."""
    dtype = dtype or xp.int64
    origin = ((xp.arange(geo.OH) * geo.sh - geo.ph)[:, None] * geo.W +
              (xp.arange(geo.OW) * geo.sw - geo.pw)[None, :]).astype(dtype)
    a, b = xp.divmod(xp.arange(geo.kh * geo.kw), geo.kw)
    where = xp.take((a * geo.dh * geo.W + b * geo.dw).astype(dtype), winner)
    where += origin
    return where


def _windows_inside(geo: PoolGeometry, xp):
    """(OH, OW) mask of the windows with at least one position inside the input, or None when
    all are (every geometry without dilation: padding ≤ kernel // 2)."""
    def axis(n_out, k, s, p, d, size):
        reads = (xp.arange(n_out) * s - p)[:, None] + xp.arange(k)[None, :] * d
        return ((reads >= 0) & (reads < size)).any(axis=1)
    inside = axis(geo.OH, geo.kh, geo.sh, geo.ph, geo.dh, geo.H)[:, None] & \
        axis(geo.OW, geo.kw, geo.sw, geo.pw, geo.dw, geo.W)[None, :]
    return None if bool(inside.all()) else inside


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
    geometry = max_pool2d_geometry(shape4, kernel, stride, padding, dilation, bool(ceil_mode))
    return MaxPool2d.apply(input, geometry=geometry, return_indices=bool(return_indices))


# ---------------------------------------------------------------------------------------------
# average pooling
# ---------------------------------------------------------------------------------------------
class AvgPool2d(ArrayFunction):
    """y[n, c, i, j] = (1 / D[i, j]) · Σ_{a < kH, b < kW} xpad[n, c, i·sH + a, j·sW + b]

    with xpad the input padded by zeros, and the divisor D of window (i, j) as torch's rule:
    with hs = i·sH − pH and he = min(hs + kH, H + pH) (likewise ws, we along W),

        D = divisor_override                              when given, else
        D = (he − hs)·(we − ws)                           with count_include_pad (the default):
                                                          the window clipped to the padded input
        D = (min(he, H) − max(hs, 0))·(min(we, W) − max(ws, 0))   without: its input positions

    (with ceil_mode a last window may run past the padding; what lies beyond it never counts).
    Output size: ``pooling_output_size`` (dilation 1), padding at most half the kernel.

    Backward: y is linear in x, dL/dxpad[n, c, i·sH + a, j·sW + b] += g[n, c, i, j] / D[i, j]
    for every window and offset (overlapping windows add), then the padding is cut off.
    Shapes: x (N, C, H, W) → y (N, C, OH, OW); D (OH, OW).
    """

    @staticmethod
    def forward(ctx, x, *, geometry: PoolGeometry, count_include_pad: bool, divisor_override):
        geo = ctx.geometry = geometry
        ctx.unbatched = x.ndim == 3
        x4 = x[None] if ctx.unbatched else x
        xp = array_module(x)
        ctx.divisor = AvgPool2d.divisors(geo, count_include_pad, divisor_override, xp, x.dtype)
        xpad = pad2d(x4, MaxPool2d.padding_reached(geo))
        total = xpad[MaxPool2d.window_slice(geo, 0, 0)].copy()
        for k in range(1, geo.kh * geo.kw):
            total += xpad[MaxPool2d.window_slice(geo, *divmod(k, geo.kw))]
        y = total / ctx.divisor
        return y[0] if ctx.unbatched else y

    @staticmethod
    def divisors(geo: PoolGeometry, count_include_pad: bool, divisor_override, xp, dtype):
        """D[i, j] of the docstring, an (OH, OW) array of the input's dtype."""
        if divisor_override is not None:
            return xp.full((geo.OH, geo.OW), divisor_override, dtype=dtype)

        def extent(out, k, s, p, size):
            start = xp.arange(out) * s - p
            end = xp.minimum(start + k, size + p)
            if count_include_pad:
                return end - start
            return xp.minimum(end, size) - xp.maximum(start, 0)

        rows = extent(geo.OH, geo.kh, geo.sh, geo.ph, geo.H)
        cols = extent(geo.OW, geo.kw, geo.sw, geo.pw, geo.W)
        return (rows[:, None] * cols[None, :]).astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        geo = ctx.geometry
        g4 = grad[None] if ctx.unbatched else grad
        xp = array_module(grad)
        top, bottom, left, right = MaxPool2d.padding_reached(geo)
        dxpad = xp.zeros((geo.N, geo.C, geo.H + top + bottom, geo.W + left + right),
                         dtype=grad.dtype)
        share = g4 / ctx.divisor
        for k in range(geo.kh * geo.kw):
            dxpad[MaxPool2d.window_slice(geo, *divmod(k, geo.kw))] += share
        dx = xp.ascontiguousarray(dxpad[:, :, top:top + geo.H, left:left + geo.W])
        return dx[0] if ctx.unbatched else dx


def _pool_input(input, op: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (3, 4) or 0 in tuple(input.shape)[-3:]:
        raise RuntimeError(f"{op}: expected a non-empty 3-D (unbatched) or 4-D (batched) "
                           f"input, got input of shape {fmt_shape(input.shape)}")
    if not input.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype.name}")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Applies a 2-D average pooling over an input of shape (N, C, H, W) or (C, H, W), like
    ``torch.nn.functional.avg_pool2d``. ``stride`` defaults to ``kernel_size``; the divisor of
    each window follows ``count_include_pad`` and ``divisor_override`` (see ``AvgPool2d``)."""
    op = "avg_pool2d"
    _pool_input(input, op)
    kernel = pair_argument(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else pair_argument(stride, "stride", op)
    padding = pair_argument(padding, "padding", op)
    if divisor_override is not None and (isinstance(divisor_override, bool) or
                                         not isinstance(divisor_override, (int, np.integer)) or
                                         divisor_override == 0):
        raise RuntimeError(f"{op}: divisor must be not zero (a non-zero int), got "
                           f"divisor_override={divisor_override!r}")
    shape4 = tuple(input.shape) if input.ndim == 4 else (1,) + tuple(input.shape)
    geometry = max_pool2d_geometry(shape4, kernel, stride, padding, (1, 1), bool(ceil_mode), op)
    return AvgPool2d.apply(input, geometry=geometry, count_include_pad=bool(count_include_pad),
                           divisor_override=divisor_override)


class AdaptiveAvgPool2d(ArrayFunction):
    """y[n, c, i, j] = mean of x[n, c, hs_i : he_i, ws_j : we_j], torch's windows

        hs_i = ⌊i·H / OH⌋,   he_i = ⌈(i + 1)·H / OH⌉       (likewise along W)

    Windows may overlap (H = 5, OH = 3: rows 0–1, 1–3, 3–4). The mean is linear and separable,
    so it is computed as y = A · x · Bᵀ with the averaging matrices

        A[i, h] = 1 / (he_i − hs_i) for hs_i ≤ h < he_i, else 0        (OH × H; B likewise, OW × W)

    Backward: dL/dx = Aᵀ · g · B (per (n, c) plane). Shapes: x (N, C, H, W) or (C, H, W) →
    y (N, C, OH, OW) or (C, OH, OW).
    """

    @staticmethod
    def averaging_matrix(out: int, size: int, xp, dtype):
        i = xp.arange(out)
        start = (i * size) // out
        end = -((-(i + 1) * size) // out)  # ⌈(i + 1)·size / out⌉
        h = xp.arange(size)
        inside = (h[None, :] >= start[:, None]) & (h[None, :] < end[:, None])
        return (inside / (end - start)[:, None]).astype(dtype)

    @staticmethod
    def forward(ctx, x, *, output_size: tuple):
        xp = array_module(x)
        ctx.a = AdaptiveAvgPool2d.averaging_matrix(output_size[0], x.shape[-2], xp, x.dtype)
        ctx.b = AdaptiveAvgPool2d.averaging_matrix(output_size[1], x.shape[-1], xp, x.dtype)
        return xp.ascontiguousarray(ctx.a @ x @ ctx.b.T)

    @staticmethod
    def backward(ctx, grad):
        return ctx.a.T @ grad @ ctx.b


def adaptive_avg_pool2d(input, output_size):
    """Average-pools (N, C, H, W) or (C, H, W) to ``output_size`` (an int, or a pair whose None
    entries keep the input's size), like ``torch.nn.functional.adaptive_avg_pool2d``; the windows
    are torch's (see ``AdaptiveAvgPool2d``)."""
    op = "adaptive_avg_pool2d"
    _pool_input(input, op)
    if output_size is None or _is_size(output_size):
        pair = (output_size, output_size)
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 2 and all(
            v is None or _is_size(v) for v in output_size):
        pair = tuple(output_size)
    else:
        raise RuntimeError(f"{op}: output_size must be an int or a pair of ints (or None), got "
                           f"{output_size!r}")
    pair = tuple(int(size if v is None else v)
                 for v, size in zip(pair, tuple(input.shape)[-2:]))
    if min(pair) <= 0:
        raise RuntimeError(f"{op}: output_size must be positive, got {output_size!r} for input "
                           f"of shape {fmt_shape(input.shape)}")
    return AdaptiveAvgPool2d.apply(input, output_size=pair)


def _is_size(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
