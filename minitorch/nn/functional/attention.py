"""Scaled dot-product attention as one Function with a hand-derived backward (see
docs/attention.md for the derivation step by step).

Notation as in ``ops.py``: ``g`` is dL/dy (shape of y); each backward returns dL/dx.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ...autograd import ArrayFunction
from ...backend import array_module, parallel, to_device
from ...backend import matmul as backend_matmul
from ...ops import unbroadcast
from ...random import default_generator
from ...tensor import Tensor, broadcast_shapes, fmt_shape

__all__ = ["scaled_dot_product_attention"]


def masked_softmax_(s):
    """softmax along the last axis, computed in place in ``s`` (which it returns): the scores
    are a fresh array nobody else holds, and each pass over the (…, L, S) block costs. A row
    that is entirely −inf (every key masked) gives 0s, not NaNs (what torch's CPU kernel
    returns), so its output and gradients are 0.

    On NumPy the rows go in cache-sized blocks over the intra-op threads
    (``parallel.for_row_blocks``)."""
    xp = array_module(s)
    if (xp is not np or s.ndim == 0 or s.size <= parallel.ROW_BLOCKS_ABOVE
            or not s.flags.c_contiguous):
        return _softmax_rows_(s)
    rows = s.reshape(-1, s.shape[-1])  # a view (s is contiguous): the blocks write into s
    parallel.for_row_blocks(rows.shape[0], rows.shape[1], lambda r0, r1: _softmax_rows_(rows[r0:r1]))
    return s


def _softmax_rows_(s):
    xp = array_module(s)
    m = s.max(axis=-1, keepdims=True)
    finite = xp.isfinite(m)
    if not bool(finite.all()):
        m = xp.where(finite, m, s.dtype.type(0))
    s -= m
    xp.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    if not bool((total > 0).all()):
        total = xp.where(total == 0, s.dtype.type(1), total)
    s /= total
    return s


class ScaledDotProductAttention(ArrayFunction):
    """For queries Q (…, L, E), keys K (…, S, E), values V (…, S, Eᵥ), an additive mask M
    broadcastable to (…, L, S) (0 where a query may look, −inf where not; 0 when absent), a
    dropout noise D (entries 0 or 1/(1−p); 1 when absent) and a scale c (1/√E by default)::

        S = c · Q Kᵀ + M          (…, L, S)   scores
        P = softmax(S) row-wise   (…, L, S)   attention weights, each row sums to 1
        P̃ = P ⊙ D                             (dropout on the weights)
        O = P̃ V                   (…, L, Eᵥ)

    Backward, with G = dL/dO and (when the weights are returned too) G_P̃ = dL/dP̃::

        dL/dV = P̃ᵀ G                              (…, S, Eᵥ)
        dL/dP̃ = G Vᵀ + G_P̃,   dL/dP = dL/dP̃ ⊙ D   (…, L, S)
        dL/dS = P ⊙ (dL/dP − rowsum(dL/dP ⊙ P))   (softmax's vector-Jacobian product)
        dL/dQ = c · dL/dS K                       (…, L, E)
        dL/dK = c · dL/dSᵀ Q                      (…, S, E)
        dL/dM = dL/dS, summed over the dims M was broadcast along

    The six products (two forward, four backward) go through ``backend.matmul`` (our batched
    SGEMM kernel on CUDA float32, transposes read in place; ``xp.matmul`` otherwise). ``apply(q, k, v, mask, noise, scale,
    need_weights)``: mask is a Tensor (differentiable), a raw array or None; with
    ``need_weights`` forward returns (O, P̃).
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, noise, scale, need_weights):
        s = backend_matmul(q, k, transpose_b=True)
        s *= q.dtype.type(scale)
        if mask is not None:
            if np.broadcast_shapes(s.shape, np.shape(mask)) == s.shape:
                s += mask
            else:  # the mask has batch dims the scores lack
                s = s + mask
        p = masked_softmax_(s)
        pd = p if noise is None else p * noise
        o = backend_matmul(pd, v)
        ctx.save_for_backward(q, k, v, p, pd)
        ctx.noise, ctx.scale, ctx.need_weights = noise, scale, need_weights
        ctx.mask_shape = None if mask is None else np.shape(mask)
        return (o, pd) if need_weights else o

    @staticmethod
    def backward(ctx, g, g_weights=None):
        q, k, v, p, pd = ctx.saved_tensors
        need_q, need_k, need_v, need_mask = ctx.needs_input_grad[:4]
        gq = gk = gv = gm = None
        if need_v:
            gv = unbroadcast(backend_matmul(pd, g, transpose_a=True), v.shape)
        if need_q or need_k or need_mask:
            gp = backend_matmul(g, v, transpose_b=True)
            if g_weights is not None:
                gp = gp + g_weights
            if ctx.noise is not None:
                gp = gp * ctx.noise
            gs = p * (gp - (gp * p).sum(axis=-1, keepdims=True))
            c = q.dtype.type(ctx.scale)
            if need_q:
                gq = unbroadcast(backend_matmul(gs, k) * c, q.shape)
            if need_k:
                gk = unbroadcast(backend_matmul(gs, q, transpose_a=True) * c, k.shape)
            if need_mask:
                gm = unbroadcast(gs, ctx.mask_shape)
        return gq, gk, gv, gm, None, None, None


def _additive_mask(mask: Tensor, dtype, xp):
    """A bool mask (True: may attend) as 0 / −inf; a float mask as it is (a Tensor, so that a
    mask that requires grad gets one)."""
    if mask.dtype.name == "bool":
        return xp.where(mask._data, dtype.type(0), dtype.type(-np.inf))
    if not mask.is_floating_point():
        raise RuntimeError(f"scaled_dot_product_attention: attn_mask must be bool or floating "
                           f"point, got {mask.dtype.name}")
    return mask


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False,
                                 need_weights=False):
    """softmax(Q Kᵀ · scale + mask) V over the last two dims; see
    :class:`ScaledDotProductAttention` for the shapes, the forward and the backward.

    ``attn_mask``: bool (True = may attend, as torch) or float (added to the scores),
    broadcastable to (…, L, S). ``is_causal``: query i sees keys 0..i (a lower-triangular
    mask, aligned top-left as torch's; not together with attn_mask). ``dropout_p``: dropout on
    the attention weights, drawn from minitorch's generator. ``scale``: default 1/√E.
    ``need_weights`` (minitorch only, used by MultiheadAttention): also return the weights.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, got "
                            f"{type(t).__name__}")
        if t.ndim < 2 or not t.is_floating_point():
            raise RuntimeError(f"scaled_dot_product_attention: {name} must be a floating point "
                               f"tensor of at least 2 dims (…, seq, features), got "
                               f"{t.dtype.name} of shape {fmt_shape(t.shape)}")
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not implemented")
    if not (query.dtype is key.dtype and key.dtype is value.dtype):
        raise RuntimeError(f"scaled_dot_product_attention: expected query, key and value to have "
                           f"the same dtype, but got {query.dtype.name}, {key.dtype.name} and "
                           f"{value.dtype.name}")
    L, E = query.shape[-2:]
    S = key.shape[-2]
    if key.shape[-1] != E or value.shape[-2] != S:
        raise RuntimeError(f"scaled_dot_product_attention: shapes do not fit: query "
                           f"{fmt_shape(query.shape)} (…, L, E), key {fmt_shape(key.shape)} "
                           f"(…, S, E), value {fmt_shape(value.shape)} (…, S, Ev)")
    batch = broadcast_shapes("scaled_dot_product_attention", query.shape[:-2], key.shape[:-2],
                             value.shape[:-2])
    if not isinstance(dropout_p, numbers.Real) or not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    xp = array_module(query._data)
    dt = query._data.dtype
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: _scaled_dot_product_attention: "
                               "Explicit attn_mask should not be set when is_causal=True")
        mask = xp.where(xp.tril(xp.ones((L, S), dtype=bool)), dt.type(0), dt.type(-np.inf))
    elif attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"scaled_dot_product_attention: attn_mask must be a Tensor or None, "
                            f"got {type(attn_mask).__name__}")
        broadcast_shapes(f"scaled_dot_product_attention: attn_mask {fmt_shape(attn_mask.shape)} "
                         f"vs scores", attn_mask.shape, (*batch, L, S))
        mask = _additive_mask(attn_mask, dt, xp)
        if isinstance(mask, Tensor) and mask.dtype is not query.dtype:
            mask = mask.to(query.dtype)
    noise = None
    if dropout_p > 0:
        shape = (*batch, L, S)
        if dropout_p == 1:
            noise = np.zeros(shape, dtype=dt)
        else:
            keep = default_generator.rng.random(shape) >= dropout_p
            noise = keep.astype(dt) / dt.type(1 - dropout_p)
        if query.device.type != "cpu":
            noise = to_device(noise, query.device)
    c = 1.0 / math.sqrt(E) if scale is None else float(scale)
    return ScaledDotProductAttention.apply(query, key, value, mask, noise, c, bool(need_weights))
