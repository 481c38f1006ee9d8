"""Array-level image operations behind ``minitorch.vision.transforms`` and the datasets.

Every function takes an array laid out ``(..., H, W)`` (channels and batch in front) and is
written against the array module ``xp`` (NumPy, or CuPy for arrays on a GPU). Index conventions
are torch's: pixel ``i`` covers ``[i, i + 1)``, so its centre sits at ``i + 0.5``.

resize (bilinear, ``align_corners=False``, no antialiasing) -- ``F.interpolate``'s formula::

    scale = in / out
    src   = max((dst + 0.5) * scale - 0.5, 0)           # source coordinate of output pixel dst
    i0    = floor(src),  i1 = min(i0 + 1, in - 1),  l1 = src - i0,  l0 = 1 - l1
    out   = l0 * x[i0] + l1 * x[i1]                     # along H, then along W

resize (nearest): ``src = min(floor(dst * scale), in - 1)``.

rotate (counter-clockwise by ``angle`` degrees about ``center``): each output pixel reads the
input at the inversely rotated position (image y points down, hence the signs)::

    x_src = cx + cos(a) * (x - cx) - sin(a) * (y - cy)
    y_src = cy + sin(a) * (x - cx) + cos(a) * (y - cy)

Note on the seed document (003): it writes rotation as ``x' = R(theta) . x``, multiplying the
image itself by the 2x2 matrix; the matrix acts on pixel *coordinates*, and to fill every output
pixel it is applied inversely (output -> input), as above.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import array_module


def _float_work(arr):
    """A floating copy to compute in (float64 for integer input) and a function that casts the
    result back: integers are rounded (half to even) and clipped to their dtype's range."""
    xp = array_module(arr)
    if arr.dtype.kind == "f":
        return arr, lambda out: out.astype(arr.dtype, copy=False)
    if arr.dtype.kind == "b":
        return arr.astype(xp.float64), lambda out: out >= 0.5
    info = np.iinfo(arr.dtype)

    def back(out):
        return xp.clip(xp.rint(out), info.min, info.max).astype(arr.dtype)
    return arr.astype(xp.float64), back


def _linear_taps(out_size: int, in_size: int, xp):
    """Source indices and weights of bilinear interpolation along one axis (align_corners=False)."""
    scale = in_size / out_size
    src = xp.maximum((xp.arange(out_size, dtype=xp.float64) + 0.5) * scale - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), in_size - 1)
    i1 = xp.minimum(i0 + 1, in_size - 1)
    l1 = src - i0
    return i0, i1, 1.0 - l1, l1


def resize(arr, size, interpolation: str = "bilinear"):
    """Resize the last two axes to ``size = (h, w)`` by bilinear or nearest interpolation."""
    xp = array_module(arr)
    out_h, out_w = int(size[0]), int(size[1])
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"resize: output size must be positive, got {(out_h, out_w)}")
    in_h, in_w = arr.shape[-2:]
    if in_h == 0 or in_w == 0:
        raise ValueError(f"resize: input image of shape {tuple(arr.shape)} is empty")
    if interpolation == "nearest":
        rows = xp.minimum((xp.arange(out_h) * (in_h / out_h)).astype(xp.int64), in_h - 1)
        cols = xp.minimum((xp.arange(out_w) * (in_w / out_w)).astype(xp.int64), in_w - 1)
        return arr[..., rows[:, None], cols[None, :]]
    if interpolation != "bilinear":
        raise ValueError(f"resize: interpolation must be 'bilinear' or 'nearest', got "
                         f"{interpolation!r}")
    work, back = _float_work(arr)
    r0, r1, a0, a1 = _linear_taps(out_h, in_h, xp)
    c0, c1, b0, b1 = _linear_taps(out_w, in_w, xp)
    rows = a0[:, None] * work[..., r0, :] + a1[:, None] * work[..., r1, :]
    out = b0 * rows[..., c0] + b1 * rows[..., c1]
    return back(out)


def hflip(arr):
    """Mirror left-right (reverse the W axis)."""
    return arr[..., ::-1].copy()


def vflip(arr):
    """Mirror top-bottom (reverse the H axis)."""
    return arr[..., ::-1, :].copy()


def crop(arr, top: int, left: int, height: int, width: int):
    """``arr[..., top:top + height, left:left + width]`` (in bounds; a copy)."""
    H, W = arr.shape[-2:]
    if top < 0 or left < 0 or top + height > H or left + width > W or height <= 0 or width <= 0:
        raise ValueError(f"crop: window top={top}, left={left}, height={height}, width={width} "
                         f"does not fit in an image of size {(H, W)}")
    return arr[..., top:top + height, left:left + width].copy()


def center_crop(arr, size, fill=0):
    """The central ``size = (h, w)`` window of the last two axes, torchvision's rule::

        top  = round((H - h) / 2),   left = round((W - w) / 2)     (round half to even)

    so an odd difference puts the extra pixel at the bottom/right for (H - h) / 2 = 0.5, 2.5, ...
    and at the top/left for 1.5, 3.5, ... (Python's ``round``, as torchvision). A window larger
    than the image first pads with ``fill``: ``(w - W) // 2`` on the left and ``(w - W + 1) // 2``
    on the right (the extra column on the right), likewise top/bottom; then the crop above."""
    h, w = int(size[0]), int(size[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"center_crop: size must be positive, got {(h, w)}")
    H, W = arr.shape[-2:]
    if h > H or w > W:
        dw, dh = max(w - W, 0), max(h - H, 0)
        arr = pad(arr, (dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2), fill)
        H, W = arr.shape[-2:]
        if (H, W) == (h, w):
            return arr
    top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
    return crop(arr, top, left, h, w)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def parse_padding(padding) -> tuple[int, int, int, int]:
    """torchvision's padding forms: ``p`` (all sides), ``(lr, tb)``, ``(left, top, right, bottom)``
    -> ``(left, top, right, bottom)``."""
    if isinstance(padding, (int, np.integer)):
        p = (int(padding),) * 4
    elif isinstance(padding, (list, tuple)) and len(padding) in (1, 2, 4):
        vals = [int(v) for v in padding]
        p = (tuple(vals * 4) if len(vals) == 1 else
             (vals[0], vals[1], vals[0], vals[1]) if len(vals) == 2 else tuple(vals))
    else:
        raise ValueError(f"padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")
    if any(v < 0 for v in p):
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    return p


def pad(arr, padding, fill=0, padding_mode: str = "constant"):
    """Pad the last two axes; ``padding`` as :func:`parse_padding`. Modes: constant (``fill``),
    edge (repeat the border pixel), reflect (mirror without repeating it), symmetric (with)."""
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"padding_mode must be one of {_PAD_MODES}, got {padding_mode!r}")
    left, top, right, bottom = parse_padding(padding)
    xp = array_module(arr)
    widths = [(0, 0)] * (arr.ndim - 2) + [(top, bottom), (left, right)]
    if padding_mode == "constant":
        return xp.pad(arr, widths, mode="constant", constant_values=fill)
    if padding_mode == "reflect":
        H, W = arr.shape[-2:]
        if max(top, bottom) >= H or max(left, right) >= W:
            raise ValueError(f"reflect padding {(left, top, right, bottom)} must be smaller than "
                             f"the image size {(H, W)} in each dimension")
    return xp.pad(arr, widths, mode=padding_mode)


def rotate(arr, angle: float, interpolation: str = "nearest", center=None, fill=0):
    """Rotate the last two axes counter-clockwise by ``angle`` degrees (same output size).

    ``center = (x, y)`` in torchvision's convention (origin at the top-left *corner*, so the
    default is ``(W / 2, H / 2)``, the middle of the image). Output pixels whose source falls
    outside the image read ``fill``; with bilinear interpolation each of the four taps outside the
    image contributes ``fill`` (so the border blends towards ``fill``).
    """
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"rotate: interpolation must be 'nearest' or 'bilinear', got "
                         f"{interpolation!r}")
    xp = array_module(arr)
    H, W = arr.shape[-2:]
    cx, cy = ((W - 1) / 2, (H - 1) / 2) if center is None else (center[0] - 0.5, center[1] - 0.5)
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    ys, xs = xp.meshgrid(xp.arange(H, dtype=xp.float64), xp.arange(W, dtype=xp.float64),
                         indexing="ij")
    dx, dy = xs - cx, ys - cy
    x_src = cx + cos * dx - sin * dy
    y_src = cy + sin * dx + cos * dy
    work, back = _float_work(arr)
    if interpolation == "nearest":
        xi, yi = xp.rint(x_src).astype(xp.int64), xp.rint(y_src).astype(xp.int64)
        return back(_gather(work, yi, xi, fill, xp))
    x0, y0 = xp.floor(x_src).astype(xp.int64), xp.floor(y_src).astype(xp.int64)
    wx1, wy1 = x_src - x0, y_src - y0
    out = ((1 - wy1) * (1 - wx1) * _gather(work, y0, x0, fill, xp)
           + (1 - wy1) * wx1 * _gather(work, y0, x0 + 1, fill, xp)
           + wy1 * (1 - wx1) * _gather(work, y0 + 1, x0, fill, xp)
           + wy1 * wx1 * _gather(work, y0 + 1, x0 + 1, fill, xp))
    return back(out)


def _gather(arr, yi, xi, fill, xp):
    """``arr[..., yi, xi]`` where the indices are in bounds, ``fill`` elsewhere."""
    H, W = arr.shape[-2:]
    inside = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
    vals = arr[..., xp.clip(yi, 0, H - 1), xp.clip(xi, 0, W - 1)]
    return xp.where(inside, vals, xp.asarray(fill, dtype=arr.dtype))
