"""``pixel_shuffle`` and ``pixel_unshuffle``: moving values between channels and space.

With upscale factor r, ``pixel_shuffle`` maps (*, C·r², H, W) → (*, C, H·r, W·r):

    y[..., c, h·r + i, w·r + j] = x[..., c·r² + i·r + j, h, w]        (i, j < r)

``pixel_unshuffle`` with downscale factor r is its inverse, (*, C, H·r, W·r) → (*, C·r², H, W).
Both are a reshape, a permutation of axes and a reshape, so their backward is the inverse
rearrangement of the gradient (each entry moves back where it came from, nothing is summed);
autograd derives it from the reshape and permute ops they are built of.
"""
from __future__ import annotations

import numbers

from ...tensor import Tensor, fmt_shape

__all__ = ["pixel_shuffle", "pixel_unshuffle"]


def _check(input, factor, op: str, name: str) -> int:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s) (shape {fmt_shape(input.shape)})")
    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral) or factor <= 0:
        raise RuntimeError(f"{op} expects {name} to be a positive integer, but got {factor!r}")
    return int(factor)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) → (*, C, H·r, W·r), r = ``upscale_factor`` (see the module docstring)."""
    r = _check(input, upscale_factor, "pixel_shuffle", "upscale_factor")
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r} (input of shape {fmt_shape(input.shape)})")
    nb = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    # (..., C, i, j, H, W) → (..., C, H, i, W, j)
    x = x.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) → (*, C·r², H, W), r = ``downscale_factor``: pixel_shuffle's inverse."""
    r = _check(input, downscale_factor, "pixel_unshuffle", "downscale_factor")
    *batch, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by "
                           f"downscale_factor={r}, got input of shape {fmt_shape(input.shape)}")
    nb = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    # (..., C, H, i, W, j) → (..., C, i, j, H, W)
    x = x.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)
