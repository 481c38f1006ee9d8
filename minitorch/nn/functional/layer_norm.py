"""Layer normalisation: each sample normalised over its last dims (the Transformer's norm).

Notation as in ``ops.py``: ``g`` is dL/dy (shape of y); each backward returns dL/dx.
"""
from __future__ import annotations

import numbers

from ...autograd import ArrayFunction
from ...backend import array_module
from ...tensor import Tensor, fmt_shape

__all__ = ["layer_norm"]


class LayerNorm(ArrayFunction):
    """Normalise x over its last k dims (``normalized_shape``, of m = prod(normalized_shape)
    entries); means and sums Σ below run over those k axes, one set per leading index::

        μ  = (1/m) Σ x,   σ² = (1/m) Σ (x − μ)²   (biased, as torch)
        r  = 1 / sqrt(σ² + eps),   x̂ = (x − μ) · r
        y  = γ ⊙ x̂ + β                            γ, β of shape normalized_shape (1 and 0 if absent)

    Backward, with ĝ = dL/dx̂ = g ⊙ γ::

        dL/dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂))
        dL/dγ = Σ_leading g ⊙ x̂,      dL/dβ = Σ_leading g

    (the dL/dx formula is batch norm's with the roles of the axes swapped: x̂ depends on x
    directly and through μ and σ², whose derivatives give the two mean terms).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        inv_std = (1 / array_module(x).sqrt(var + eps)).astype(x.dtype)
        x_hat = centered * inv_std
        y = x_hat if weight is None else x_hat * weight
        if bias is not None:
            y = y + bias
        ctx.axes = axes
        ctx.save_for_backward(x_hat, inv_std, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        x_hat, inv_std, weight = ctx.saved_tensors
        axes = ctx.axes
        lead = tuple(range(g.ndim - len(axes)))
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gh = g if weight is None else g * weight
            gx = inv_std * (gh - gh.mean(axis=axes, keepdims=True)
                            - x_hat * (gh * x_hat).mean(axis=axes, keepdims=True))
        if ctx.needs_input_grad[1]:
            gw = (g * x_hat).sum(axis=lead)
        if ctx.needs_input_grad[2]:
            gb = g.sum(axis=lead)
        return gx, gw, gb, None, None


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise ``input`` over its last ``len(normalized_shape)`` dims, then scale by ``weight``
    and shift by ``bias`` (both of shape ``normalized_shape``); see :class:`LayerNorm`."""
    if not isinstance(input, Tensor):
        raise TypeError(f"layer_norm(): argument 'input' must be a Tensor, not "
                        f"{type(input).__name__}")
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(n) for n in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != normalized_shape or input.ndim < k:
        raise RuntimeError(f"layer_norm: given normalized_shape={list(normalized_shape)}, "
                           f"expected input with shape [*, {', '.join(map(str, normalized_shape))}]"
                           f", but got input of size {fmt_shape(input.shape)}")
    if not input.is_floating_point():
        raise RuntimeError(f"layer_norm: expected a floating point input, got {input.dtype.name}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if not isinstance(t, Tensor) or tuple(t.shape) != normalized_shape:
            got = fmt_shape(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(f"layer_norm: {name} must have shape {fmt_shape(normalized_shape)} "
                               f"(normalized_shape), got {got}")
        if t.dtype is not input.dtype:
            raise RuntimeError(f"layer_norm: expected {name} to have dtype {input.dtype.name} "
                               f"like the input, but got {t.dtype.name}")
    return LayerNorm.apply(input, weight, bias, k, float(eps))
