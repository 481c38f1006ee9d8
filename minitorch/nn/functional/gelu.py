"""GELU, the activation of BERT and GPT: x weighted by the probability that a standard normal
variable is below x.

Notation as in ``ops.py``: ``g`` is dL/dy (shape of y); each backward returns dL/dx.
"""
from __future__ import annotations

import math

import numpy as np

from ...autograd import ArrayFunction
from ...backend import array_module
from ...tensor import Tensor

__all__ = ["gelu"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_CUBIC = 0.044715


def _erf(z):
    """erf of a float64 array: libm's on NumPy (NumPy has none: ``math.erf`` mapped over the
    values, 1.3-3x faster than ``np.frompyfunc(math.erf)``'s object array on a GPT-sized
    activation, the same bits), ``cupyx.scipy.special.erf`` on CuPy."""
    xp = array_module(z)
    if xp is np:
        values = np.fromiter(map(math.erf, z.ravel().tolist()), dtype=np.float64, count=z.size)
        return values.reshape(z.shape)
    from cupyx.scipy.special import erf  # CuPy is present: z is a CuPy array
    return erf(z)


class GELU(ArrayFunction):
    """Exact (``approximate='none'``)::

        y = x Φ(x),   Φ(x) = ½ (1 + erf(x / √2)),   φ(x) = e^(−x²/2) / √(2π)
        dL/dx = g · (Φ(x) + x φ(x))

    tanh approximation (``approximate='tanh'``, GPT-2's)::

        u = √(2/π) (x + 0.044715 x³),   t = tanh(u),   y = ½ x (1 + t)
        dL/dx = g · (½ (1 + t) + ½ x (1 − t²) · √(2/π) (1 + 3 · 0.044715 x²))

    Φ is computed in float64 and cast to x's dtype (erf is not in NumPy; the two formulas agree
    to ~1e-3, so a model trained with one should be run with the same one). Shapes: any.
    """

    @staticmethod
    def forward(ctx, x, approximate):
        xp = array_module(x)
        ctx.approximate, ctx.out_dtype = approximate, x.dtype
        if approximate == "tanh":  # in place: two new arrays instead of eight (out= keeps
            # a 0-d result an array, which NumPy would make a scalar); float16 computes in
            # float32, as torch's kernel does (0.044715 x³ overflows float16 from |x| ≈ 112)
            given, x = x, (x.astype(np.float32) if x.dtype == np.float16 else x)
            f = x.dtype.type
            with np.errstate(over="ignore"):  # a huge x: u = ±inf, t = ±1, as in torch
                t = xp.multiply(x, f(_CUBIC), out=xp.empty_like(x))
                t *= x
                t *= x
                t += x                               # x + 0.044715 x³
                t *= f(_SQRT_2_OVER_PI)              # u
            xp.tanh(t, out=t)
            ctx.save_for_backward(given, t)
            y = xp.add(t, 1, out=xp.empty_like(x))
            y *= x
            y *= f(0.5)                              # ½ x (1 + t)
            return y.astype(ctx.out_dtype, copy=False)
        cdf = (0.5 * (1.0 + _erf(x.astype(np.float64) / math.sqrt(2.0)))).astype(x.dtype)
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        x, aux = ctx.saved_tensors
        xp = array_module(x)
        half = x.dtype.type(0.5)
        if ctx.approximate == "tanh":  # in place, as forward (float16 in float32)
            x, t = (x.astype(np.float32) if x.dtype == np.float16 else x), aux
            f = x.dtype.type
            half = f(0.5)
            with np.errstate(over="ignore", invalid="ignore"):
                du = xp.multiply(x, f(3 * _CUBIC), out=xp.empty_like(x))
                du *= x
                du += 1
                du *= f(_SQRT_2_OVER_PI)             # du/dx
                slope = xp.multiply(x, half, out=xp.empty_like(x))
                one_minus_t2 = xp.multiply(t, t, out=xp.empty_like(x))
                xp.subtract(1, one_minus_t2, out=one_minus_t2)
                slope *= one_minus_t2
                slope *= du                          # ½ x (1 − t²) du/dx
            xp.add(t, 1, out=du)
            du *= half                               # ½ (1 + t)
            slope += du
            slope *= g
            return slope.astype(g.dtype, copy=False), None
        pdf = x.dtype.type(_INV_SQRT_2PI) * xp.exp(-half * x * x)
        return g * (aux + x * pdf), None


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x Φ(x) (``approximate='none'``) or its tanh approximation (``'tanh'``); see
    :class:`GELU` for both formulas and their derivatives."""
    if not isinstance(input, Tensor):
        raise TypeError(f"gelu(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if not input.is_floating_point():
        raise RuntimeError(f"gelu: expected a floating point input, got {input.dtype.name}")
    return GELU.apply(input, approximate)
