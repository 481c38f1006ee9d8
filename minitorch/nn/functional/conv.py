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
input needs one. A batch whose ``cols`` would be large is done in chunks of images instead
(``Conv2d.chunks``): the same sums, chunk by chunk, and backward rebuilds each chunk's columns.
1x1 kernels without padding, and layers with C·kH·kW < O, keep their columns per image and write
NCHW directly (``Conv2d.forward_image_major``).

Where the time goes, and what did not pay
-----------------------------------------
``python -m benchmarks.conv_profile`` times each phase (``cpu_phase_times`` below mirrors the
code). On the 64→64 3x3 layer at batch 32 (2 cores, quiet: load 0.34–0.49, 2026-11-30 10:42 UTC),
in ms at 1 / 2 threads: im2col 6.8 / 9.1 plus 6.9 / 8.6 again in backward (it is chunked), GEMM Y
24.0 / 16.5, GEMM dW 21.1 / 15.6, GEMM dcols 20.3 / 15.3, col2im 17.4 / 21.7, the rest ≈ 11;
total 104 / 95 against torch's 51 / 31. The three GEMMs run at OpenBLAS's speed for these shapes
(70–115 GFLOP/s on one core, where torch's whole convolution runs at ~140), so at 1 thread they
alone take longer than torch's whole call, and at 2 threads the copies (im2col, col2im,
transposes) stay on one core — so at 2+ threads the batch's chunks (and, below the chunking
threshold, one piece of the batch per thread; image by image on the image-major path) run on
threads of their own, OpenBLAS on one thread each (``backend.parallel.parallel_blas_for``):
forward+backward of that layer at 2 threads 98 → 65 ms, the seed's 32→64 @16 N64 22 → 18 ms,
ResNet's 1x1 256→64 @56 N8 44 → 24 ms, the seed's first layer 9.0 → 5.9 ms (A/B in one
process, 2026-11-30; torch 35, 10, 37, 6.5). Tried, measured side by side, and not kept:

* stride 1 on the flat padded image (the taps as contiguous shifted slices, dL/dx as a
  convolution of dL/dy): the copies cost what im2col costs, the GEMMs span the padded grid — slower.
* dL/dx as im2col(dL/dy) @ the flipped kernel (no col2im; a GEMM with inner dimension O·kH·kW):
  56.2 → 55.6 ms at 1 thread, 40.1 → 39.6 ms at 2; again on the chunked path (2026-11-30):
  0.97–1.02x on the large layers, 1.14x slower at 32→64 @16 N256.
* scratch arrays kept between calls for the temporaries (page faults): no change end to end
  (glibc's mmap threshold grows to keep freed blocks of this size in the heap); the same for
  the chunk buffers (0.96–1.02x).
* im2col/col2im alone split over threads (``backend.parallel``), the GEMMs on OpenBLAS's two:
  2x faster in isolation, but up to 1.7x slower end to end at 2 threads (conv2 N64: 30 → 51
  ms) — the copies then compete with the GEMMs' threads.
* col2im on a padded-width grid (dL/dcols over (OH, Wp) columns, zeros in the extra ones, so each
  offset's add is one long contiguous run instead of OH rows of OW): 0.51 → 0.33 ms per image of
  the 64→64 @32 layer in isolation, ~4% of its backward once the 6% larger GEMM and the extra
  copy of dL/dy are paid — not built.
* Winograd F(2x2, 3x3) forward in NumPy (tensordot transforms): 95 ms against im2col's 43 ms; and
  again (2026-11-30) with the tiles in an (H, W, N, C) layout so every transform is a long
  contiguous ufunc: 90 ms against 51 on 64→64 @32 N32 (transposes in and out 40 ms, the
  transforms 29, and the 16 small GEMMs with inner dimension C = 64 run at ~53 GFLOP/s, so the
  2.25x fewer multiplications save only 28 → 20 ms). It cannot pay without a compiled kernel.
"""
from __future__ import annotations

import numpy as np

from ...autograd import ArrayFunction
from ...backend import array_module, parallel, raw_kernels_for
from ...backend.geometry import ConvGeometry, conv2d_geometry
from ...backend.shapes import pair_argument
from ...tensor import Tensor, fmt_shape

__all__ = ["conv2d"]


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


def im2col(xpad, kernel, stride, dilation, out_hw, out=None):
    """cols (C·kH·kW, N·OH·OW): column (n, i, j) is the window under output pixel (i, j) of
    image n, row (c, p, q) is kernel tap (p, q) of channel c. ``out``: a flat buffer of at least
    that many elements to write into (its first C·kH·kW·N·OH·OW entries), instead of a new array."""
    xp = array_module(xpad)
    n, c = xpad.shape[:2]
    windows = window_view(xpad, kernel, stride, dilation, out_hw)
    # the one copy of im2col: the (C, kH, kW, N, OH, OW) strided view → contiguous
    if out is None:
        cols = xp.ascontiguousarray(windows)
    else:
        cols = out[:windows.size].reshape(windows.shape)
        xp.copyto(cols, windows)
    return cols.reshape(c * kernel[0] * kernel[1], n * out_hw[0] * out_hw[1])


def col2im_add(dcols, dxpad_cn, kernel, stride, dilation, out_hw):
    """The adjoint of im2col, added into ``dxpad_cn`` (C, N, Hp, Wp) — any strides, e.g. a
    transposed view of an NCHW array: each kernel offset's (C, N, OH, OW) slab of dcols
    (C·kH·kW, N·OH·OW), or of a (C, kH, kW, N, OH, OW) view of any strides, is added to the
    strided slice of pixels im2col read for it. A pixel that im2col copied into several columns
    gets the sum of their gradients."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    c, n = dxpad_cn.shape[:2]
    if dcols.ndim != 6:  # (C·kH·kW, N·OH·OW) → (C, kH, kW, N, OH, OW); a 6-D view is used as is
        dcols = dcols.reshape(c, kh, kw, n, oh, ow)
    for p in range(kh):
        for q in range(kw):
            # the pixels that kernel offset (p, q) read, for all output positions at once
            rows = slice(p * dh, p * dh + (oh - 1) * sh + 1, sh)
            cols = slice(q * dw, q * dw + (ow - 1) * sw + 1, sw)
            dxpad_cn[:, :, rows, cols] += dcols[:, p, q]
    return dxpad_cn


def col2im(dcols, padded_shape, kernel, stride, dilation, out_hw):
    """The adjoint of im2col: dcols (C·kH·kW, N·OH·OW) → dxpad, laid out (C, N, Hp, Wp) like
    dcols, summing the gradients of every copy im2col made of a pixel. One strided add per
    kernel offset (:func:`col2im_add` into zeros)."""
    n, c, hp, wp = padded_shape
    dxpad = array_module(dcols).zeros((c, n, hp, wp), dtype=dcols.dtype)
    return col2im_add(dcols, dxpad, kernel, stride, dilation, out_hw)


# ---------------------------------------------------------------------------------------------
# The Function
# ---------------------------------------------------------------------------------------------
class Conv2d(ArrayFunction):
    """y = conv2d(x, w, b): Y = w2 @ im2col(xpad) + b, per group, then Y's columns to NCHW.

    Shapes (G = groups, K_g = C/G·kH·kW, M = N·OH·OW):
        x (N, C, H, W) or (C, H, W),  w (O, C/G, kH, kW),  b (O,) or None  →  y (N, O, OH, OW)
        cols (G, K_g, M),  w2 (G, O/G, K_g),  Y = w2 @ cols (G, O/G, M) = (O, N, OH, OW) → y

    Backward, with G2 = dL/dy transposed to (O, N, OH, OW) and viewed as (G, O/G, M):
        dL/db = Σ_{n,i,j} dL/dy                 (O,)
        dL/dw = G2 @ colsᵀ                      (G, O/G, K_g) → (O, C/G, kH, kW)
        dL/dx = col2im(w2ᵀ @ G2)               (G, K_g, M) → (C, N, Hp, Wp) → crop, to NCHW

    On CUDA float32 (``backend.use_raw_kernels``) ``forward_cuda``/``backward_cuda`` run our
    implicit-GEMM kernels instead (``kernels/conv2d.cu``: the same sums, no im2col matrix in
    memory). Both paths read the call from one :class:`ConvGeometry` (``ctx.geometry``).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, geometry: ConvGeometry):
        ctx.geometry = geometry
        ctx.unbatched = x.ndim == 3
        ctx.kernels = raw_kernels_for(x, weight, bias)  # None: the generic NumPy/CuPy path
        x4 = x[None] if ctx.unbatched else x
        forward = Conv2d.forward_cpu if ctx.kernels is None else Conv2d.forward_cuda
        y = forward(ctx, x4, weight, bias)
        return y[0] if ctx.unbatched else y

    @staticmethod
    def backward(ctx, grad):
        g4 = grad[None] if ctx.unbatched else grad
        backward = Conv2d.backward_cpu if ctx.kernels is None else Conv2d.backward_cuda
        dx, dw, db = backward(ctx, g4)
        if dx is not None and ctx.unbatched:
            dx = dx[0]
        return dx, dw, db

    # ---- CPU (and generic CuPy): im2col + GEMM ---------------------------------------------
    #: entries of one chunk's column matrix (4 MiB of float32), and the size of the whole
    #: batch's column matrix above which the batch is cut into chunks; see :meth:`chunks`
    chunk_elements = 1 << 20
    chunk_above = 6 << 20

    @staticmethod
    def chunks(geo: ConvGeometry, xp, threads: int = 1) -> tuple:
        """``(ranges, kept)``: the image ranges [n0, n1) the CPU path works on, and whether
        forward keeps the columns of all of them for backward.

        A column matrix larger than ``chunk_above`` entries (kH·kW times the input: 75 MB for
        64→64 3x3 @32 at batch 32) is written once and read once, from memory, and a fresh
        array that size costs page faults on every call. Cut into chunks of as many images as
        make about ``chunk_elements`` entries (at least one image), each chunk's cols stays in
        the cache between im2col and its GEMM, and one buffer serves every chunk; backward then
        rebuilds each chunk's cols instead of keeping the whole batch's from forward (one more
        copy, from the cache, and 9x less memory held between forward and backward). Measured
        on the 2-core test machine at 1 thread: 9-16% faster on the layers above the
        threshold, 6-30% slower on smaller ones (smaller GEMMs, the extra copy) — hence one
        chunk there, whose columns are kept, and on a GPU (CuPy). With ``threads`` > 1 (see
        :func:`~minitorch.backend.parallel.parallel_blas_for`) a batch under the threshold is
        cut into one range per thread instead, its columns still kept."""
        per_image = geo.C * geo.R * geo.S * geo.P * geo.Q
        if xp is not np:
            return [(0, geo.N)], True
        if geo.N * per_image <= Conv2d.chunk_above:
            pieces = max(1, min(threads, geo.N))
            return [(geo.N * i // pieces, geo.N * (i + 1) // pieces) for i in range(pieces)], True
        step = max(1, Conv2d.chunk_elements // max(per_image, 1))
        return [(n0, min(geo.N, n0 + step)) for n0 in range(0, geo.N, step)], False

    @staticmethod
    def forward_cpu(ctx, x, weight, bias):
        geo = ctx.geometry
        xp = array_module(x, weight)
        pointwise = geo.R == geo.S == 1 and not any(geo.pads)
        ctx.image_major = geo.G == 1 and (pointwise or geo.C * geo.R * geo.S < geo.O)
        if ctx.image_major:
            return Conv2d.forward_image_major(ctx, x, weight, bias)
        n, o, groups, pq = geo.N, geo.O, geo.G, geo.P * geo.Q
        k_g = geo.C // groups * geo.R * geo.S
        xpad = pad2d(x, geo.pads)
        w2 = weight.reshape(groups, o // groups, k_g)                      # (G, O/G, K_g)
        y = xp.empty((n, o, pq), dtype=xp.result_type(x, weight))
        per_image = groups * k_g * pq
        ctx.chunks, ctx.cols_kept = Conv2d.chunks(geo, xp, parallel.parallel_blas_threads())
        chunks = ctx.chunks
        # kept: the columns of every image, in one array (chunk [n0, n1) at n0·per_image)
        kept = xp.empty(n * per_image, dtype=x.dtype) if ctx.cols_kept else None

        def run(lo, hi):  # chunks[lo:hi], on one thread, each in the kept array or in a buffer
            buffer = kept if ctx.cols_kept else xp.empty(
                max(n1 - n0 for n0, n1 in chunks[lo:hi]) * per_image, dtype=x.dtype)
            for n0, n1 in chunks[lo:hi]:
                m = (n1 - n0) * pq
                out = buffer[n0 * per_image:] if ctx.cols_kept else buffer
                cols = im2col(xpad[n0:n1], geo.kernel, geo.stride, geo.dilation, geo.out_hw,
                              out=out).reshape(groups, k_g, m)             # (G, K_g, m)
                y_cn = xp.matmul(w2, cols).reshape(o, n1 - n0, pq)         # one GEMM per group
                if bias is not None:
                    y_cn += bias.reshape(o, 1, 1)  # each bias value covers one contiguous row
                # (O, n, OH·OW) → (n, O, OH·OW): whole planes stay contiguous
                y[n0:n1] = y_cn.transpose(1, 0, 2)

        parallel.parallel_blas_for(len(chunks), run)  # one thread per range of chunks
        # keep only what backward will read: for dL/dw the columns (kept) or the padded input
        # (backward rebuilds each chunk's columns), for dL/dx the weight
        needs_x, needs_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward((kept if ctx.cols_kept else xpad) if needs_w else None,
                              weight if needs_x else None)
        return y.reshape(n, o, geo.P, geo.Q)

    @staticmethod
    def backward_cpu(ctx, grad):
        if ctx.image_major:
            return Conv2d.backward_image_major(ctx, grad)
        cols_or_xpad, weight = ctx.saved_tensors
        geo = ctx.geometry
        xp = array_module(grad)
        n, o, groups, pq = geo.N, geo.O, geo.G, geo.P * geo.Q
        k_g = geo.C // groups * geo.R * geo.S
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        g3 = grad.reshape(n, o, pq)
        if needs_b:
            db = g3.sum(axis=(0, 2))
        if not (needs_x or needs_w):
            return dx, dw, db
        chunks, per_image = ctx.chunks, groups * k_g * pq
        if needs_x:
            w2t = weight.reshape(groups, o // groups, k_g).swapaxes(-1, -2)   # (G, K_g, O/G)
            dx = xp.empty((n, geo.C, geo.H, geo.W), dtype=grad.dtype)
            _, _, hp, wp = geo.padded_shape
            top, _, left, _ = geo.pads
        dw_parts = []  # (first chunk, Σ of its range's dL/dw) per thread

        def run(lo, hi):  # chunks[lo:hi], on one thread, in buffers of its own
            dw = None
            most = max(n1 - n0 for n0, n1 in chunks[lo:hi])  # images in the largest chunk
            if needs_w and not ctx.cols_kept:
                buffer = xp.empty(most * per_image, dtype=grad.dtype)
            if needs_x:
                dcols_buffer = xp.empty(most * per_image, dtype=grad.dtype)
                dxpad_buffer = xp.empty(most * geo.C * hp * wp, dtype=grad.dtype)
            for n0, n1 in chunks[lo:hi]:
                m = (n1 - n0) * pq
                # dL/dy of these images in the layout of Y: (n, O, OH·OW) → (O, n, OH·OW)
                g2 = xp.empty((o, n1 - n0, pq), dtype=grad.dtype)
                g2[...] = g3[n0:n1].transpose(1, 0, 2)
                g2 = g2.reshape(groups, o // groups, m)                       # (G, O/G, m)
                if needs_w:
                    if ctx.cols_kept:
                        cols = cols_or_xpad[n0 * per_image:n1 * per_image]
                    else:
                        cols = im2col(cols_or_xpad[n0:n1], geo.kernel, geo.stride, geo.dilation,
                                      geo.out_hw, out=buffer)
                    cols = cols.reshape(groups, k_g, m)
                    # dw += G2 @ colsᵀ. We form its transpose cols @ G2ᵀ (G, K_g, O/G), which
                    # OpenBLAS computes 15-20% faster for these shapes; transpose the small result
                    part = xp.matmul(cols, g2.swapaxes(-1, -2)).swapaxes(-1, -2)
                    dw = part if dw is None else dw + part                    # (G, O/G, K_g)
                if needs_x:
                    dcols = xp.matmul(w2t, g2, out=dcols_buffer[:groups * k_g * m].reshape(
                        groups, k_g, m))                                      # (G, K_g, m)
                    # col2im into a zeroed (C, n, Hp, Wp) buffer laid out like dcols, then crop
                    # the padding and return to NCHW in one copy
                    dxpad = dxpad_buffer[:geo.C * (n1 - n0) * hp * wp].reshape(
                        geo.C, n1 - n0, hp, wp)
                    dxpad.fill(0)
                    col2im_add(dcols, dxpad, geo.kernel, geo.stride, geo.dilation, geo.out_hw)
                    dx[n0:n1] = dxpad[:, :, top:top + geo.H, left:left + geo.W].transpose(
                        1, 0, 2, 3)
            if dw is not None:
                dw_parts.append((lo, dw))

        parallel.parallel_blas_for(len(chunks), run)  # one thread per range of chunks
        for _, part in sorted(dw_parts, key=lambda item: item[0]):  # the same order every run
            dw = part if dw is None else dw + part
        if needs_w:
            dw = dw.reshape(o, geo.C // groups, geo.R, geo.S)
        return dx, dw, db

    # ---- CPU, 1x1 kernels or few input channels: columns per image, no transposes --------
    @staticmethod
    def forward_image_major(ctx, x, weight, bias):
        """y[n] = w2 @ cols[n], cols[n] (C·kH·kW, OH·OW) the columns of image n alone: one GEMM
        per image, whose result (O, OH·OW) is already image n of the NCHW output. The layout of
        the main path, (C·kH·kW, N·OH·OW), makes one large GEMM but its output (O, N, OH·OW)
        needs a transpose to NCHW, and backward another for dL/dy. Two cases pay for this:

        * C·kH·kW < O (a first layer on RGB images: 27 < 32): those output-sized copies cost
          more than the GEMMs. Measured at 1 thread on the seed's first layer (batch 64 and 256,
          input without gradient): 0.65-0.72x the time of the main path.
        * a 1x1 kernel without padding reads each pixel once: the columns of image n are the
          image itself (every sH-th row and sW-th column of it), no copy at stride 1. ResNet's
          1x1 256→64 @56 at batch 8, 1 thread: forward 14.5 → 9.6 ms, forward+backward 50 → 35.
        """
        geo = ctx.geometry
        xp = array_module(x, weight)
        n, o, pq, k = geo.N, geo.O, geo.P * geo.Q, geo.C * geo.R * geo.S
        xpad = pad2d(x, geo.pads)
        windows = window_view(xpad, geo.kernel, geo.stride, geo.dilation, geo.out_hw)
        windows = windows.transpose(3, 0, 1, 2, 4, 5)                    # [n, c, p, q, i, j]
        own = windows.flags.c_contiguous  # a 1x1 kernel at stride 1: x is its own columns
        cols = windows.reshape(n, k, pq) if own else xp.empty((n, k, pq), dtype=x.dtype)
        y = xp.empty((n, o, pq), dtype=xp.result_type(x, weight))

        def run(lo, hi):  # images [lo, hi) on one thread
            if not own:  # the one copy: windows → (n, C·kH·kW, OH·OW)
                cols[lo:hi].reshape(windows[lo:hi].shape)[...] = windows[lo:hi]
            xp.matmul(weight.reshape(o, k), cols[lo:hi], out=y[lo:hi])  # (n, O, OH·OW)
            if bias is not None:
                y[lo:hi] += bias.reshape(o, 1)

        parallel.parallel_blas_for(n, run)
        needs_x, needs_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        # a 1x1 kernel at stride 1 without padding: the columns are x's own memory. Keep x itself
        # then, so that an in-place change of x before backward is caught (saved-tensor version
        # check); with padding they are the padded copy's, which is kept
        kept = x if own and xpad is x else cols
        ctx.save_for_backward(kept if needs_w else None, weight if needs_x else None)
        return y.reshape(n, o, geo.P, geo.Q)

    @staticmethod
    def backward_image_major(ctx, grad):
        """dL/dw = Σₙ g[n] @ cols[n]ᵀ, dL/dcols[n] = w2ᵀ @ g[n] (then col2im straight into
        NCHW), dL/db = Σ_{n,i,j} g — the sums of the main path, image by image."""
        cols, weight = ctx.saved_tensors
        geo = ctx.geometry
        xp = array_module(grad)
        n, o, pq, k = geo.N, geo.O, geo.P * geo.Q, geo.C * geo.R * geo.S
        cols = None if cols is None else cols.reshape(n, k, pq)  # x itself at 1x1, stride 1
        g = grad.reshape(n, o, pq)
        needs_x, needs_w, needs_b = ctx.needs_input_grad[:3]
        dx = dw = db = None
        if needs_b:
            db = g.sum(axis=(0, 2))
        if not (needs_x or needs_w):
            return dx, dw, db
        if needs_x:
            pointwise = geo.R == geo.S == 1 and geo.stride == (1, 1) and not any(geo.pads)
            # one column per pixel (1x1, stride 1): dL/dcols is dL/dx; else col2im into dxpad
            dxpad = xp.empty((n, geo.C, geo.H, geo.W), dtype=grad.dtype) if pointwise else \
                xp.zeros(geo.padded_shape, dtype=grad.dtype)
        dw_parts = []  # (first image, Σ over its range of g[n] @ cols[n]ᵀ) per thread

        def run(lo, hi):  # images [lo, hi) on one thread
            if needs_w:
                dw_parts.append((lo, xp.matmul(g[lo:hi], cols[lo:hi].swapaxes(1, 2)).sum(axis=0)))
            if needs_x:
                if pointwise:
                    xp.matmul(weight.reshape(o, k).T, g[lo:hi],
                              out=dxpad[lo:hi].reshape(hi - lo, k, pq))
                    return
                dcols = xp.matmul(weight.reshape(o, k).T, g[lo:hi]).reshape(
                    hi - lo, geo.C, geo.R, geo.S, geo.P, geo.Q)
                col2im_add(dcols.transpose(1, 2, 3, 0, 4, 5), dxpad[lo:hi].transpose(1, 0, 2, 3),
                           geo.kernel, geo.stride, geo.dilation, geo.out_hw)

        parallel.parallel_blas_for(n, run)
        for _, part in sorted(dw_parts, key=lambda item: item[0]):  # the same order every run
            dw = part if dw is None else dw + part
        if needs_w:
            dw = dw.reshape(o, geo.C, geo.R, geo.S)
        if needs_x:
            top, _, left, _ = geo.pads
            dx = dxpad[:, :, top:top + geo.H, left:left + geo.W]
            if dx.shape != dxpad.shape:
                dx = xp.ascontiguousarray(dx)
        return dx, dw, db

    # ---- CUDA: our implicit-GEMM kernels ----------------------------------------------------
    @staticmethod
    def forward_cuda(ctx, x, weight, bias):
        """y = conv2d_fwd(x, w, b); saves x and w (not cols)."""
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              weight if ctx.needs_input_grad[0] else None)
        return ctx.kernels.conv2d_forward(x, weight, bias, **_kernel_args(ctx.geometry))

    @staticmethod
    def backward_cuda(ctx, grad):
        """dx = conv2d_bwd_data(g, w), dw = conv2d_bwd_weight(g, x), db = Σ_{n,i,j} g."""
        x, weight = ctx.saved_tensors
        geo = ctx.geometry
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = ctx.kernels.conv2d_backward_data(grad, weight, (geo.N, geo.C, geo.H, geo.W),
                                                  **_kernel_args(geo))
        if ctx.needs_input_grad[1]:
            dw = ctx.kernels.conv2d_backward_weight(grad, x, (geo.O, geo.C // geo.G, geo.R, geo.S),
                                                    **_kernel_args(geo))
        if ctx.needs_input_grad[2]:
            db = grad.sum(axis=(0, 2, 3))
        return dx, dw, db


def cpu_phase_times(geo: ConvGeometry, x, weight, bias, grad) -> dict:
    """``{phase: seconds}`` for one run of the CPU path's forward and backward (groups = 1,
    input, weight and bias gradients), chunk by chunk as ``forward_cpu``/``backward_cpu`` run it,
    with a clock around each step (for ``benchmarks/conv_profile.py``; kept beside the code it
    mirrors). It runs the chunks one after another, as the code does on one thread; with more
    threads the code runs ranges of chunks at once (``parallel_blas_for``), BLAS on one thread
    each, and a phase's time here is the sum over those threads."""
    import time
    from collections import defaultdict
    xp = array_module(x)
    n, o, pq, k = geo.N, geo.O, geo.P * geo.Q, geo.C * geo.R * geo.S
    spent = defaultdict(float)
    clock = [time.perf_counter()]

    def lap(name):
        now = time.perf_counter()
        spent[name] += now - clock[0]
        clock[0] = now

    chunks, kept = Conv2d.chunks(geo, xp)  # one thread's way through the batch
    size = k * (chunks[0][1] - chunks[0][0]) * pq
    w2 = weight.reshape(o, k)
    xpad = pad2d(x, geo.pads)
    y = xp.empty((n, o, pq), dtype=x.dtype)
    buffer = None if kept else xp.empty(size, dtype=x.dtype)
    lap("pad")
    for n0, n1 in chunks:
        cols = im2col(xpad[n0:n1], geo.kernel, geo.stride, geo.dilation, geo.out_hw, out=buffer)
        lap("im2col")
        y_cn = xp.matmul(w2, cols).reshape(o, n1 - n0, pq)
        lap("GEMM y")
        y_cn += bias.reshape(o, 1, 1)
        y[n0:n1] = y_cn.transpose(1, 0, 2)
        lap("bias, y→NCHW")
    g3 = grad.reshape(n, o, pq)
    g3.sum(axis=(0, 2))
    lap("db")
    _, _, hp, wp = geo.padded_shape
    top, _, left, _ = geo.pads
    dx = xp.empty((n, geo.C, geo.H, geo.W), dtype=x.dtype)
    dcols_buffer = xp.empty(size, dtype=x.dtype)
    dxpad_buffer = xp.empty(geo.C * (chunks[0][1] - chunks[0][0]) * hp * wp, dtype=x.dtype)
    lap("buffers")
    for n0, n1 in chunks:
        m = (n1 - n0) * pq
        g2 = xp.empty((o, n1 - n0, pq), dtype=x.dtype)
        g2[...] = g3[n0:n1].transpose(1, 0, 2)
        g2 = g2.reshape(o, m)
        lap("dy→CN")
        if not kept:
            cols = im2col(xpad[n0:n1], geo.kernel, geo.stride, geo.dilation, geo.out_hw,
                          out=buffer)
            lap("im2col again")
        dw = xp.matmul(cols, g2.T).T  # noqa: F841 (timed, not used)
        lap("GEMM dw")
        dcols = xp.matmul(w2.T, g2, out=dcols_buffer[:k * m].reshape(k, m))
        lap("GEMM dcols")
        dxpad = dxpad_buffer[:geo.C * (n1 - n0) * hp * wp].reshape(geo.C, n1 - n0, hp, wp)
        dxpad.fill(0)
        col2im_add(dcols, dxpad, geo.kernel, geo.stride, geo.dilation, geo.out_hw)
        lap("col2im")
        dx[n0:n1] = dxpad[:, :, top:top + geo.H, left:left + geo.W].transpose(1, 0, 2, 3)
        lap("dx crop→NCHW")
    return dict(spent)


def _kernel_args(geo: ConvGeometry) -> dict:
    """The keyword arguments of the kernel wrappers for ``geo`` (they check it again, as they
    check every launch, and get the same ConvGeometry back from the cache)."""
    return dict(stride=geo.stride, padding=geo.pads, dilation=geo.dilation, groups=geo.G)


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
    return Conv2d.apply(input, weight, bias, geometry=geometry)
