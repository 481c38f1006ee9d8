"""Gradient clipping, as ``torch.nn.utils``.

``clip_grad_norm_`` treats all the gradients as one long vector g = (g_1, ..., g_k) and::

    total_norm = ‖(‖g_1‖_p, ..., ‖g_k‖_p)‖_p     (= ‖g‖_p; for p = inf, max_i max |g_i|)
    coef       = min(max_norm / (total_norm + 1e-6), 1)
    g_i       ← coef · g_i                          for every i

so the gradients keep their direction and their total norm becomes at most ~max_norm. It works
in place on ``p.grad`` and returns ``total_norm`` (the norm *before* clipping) as a 0-dim
tensor. Everything runs on the raw arrays: clipping is not part of the graph.
"""
from __future__ import annotations

import math

from ... import views
from ...backend import array_module
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads_of(parameters) -> list:
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def _vector_norm(a, p: float):
    """‖a‖_p of a raw array, as a 0-dim array of a's dtype (``torch.linalg.vector_norm``)."""
    xp = array_module(a)
    mag = xp.abs(a)
    if mag.size == 0:
        return xp.zeros((), dtype=a.dtype)
    if p == math.inf:
        return mag.max()
    if p == -math.inf:
        return mag.min()
    if p == 0:  # the number of non-zero entries
        return (mag != 0).sum().astype(a.dtype)
    if p == 1:
        return mag.sum()
    if p == 2:
        return xp.sqrt((mag * mag).sum())
    return (mag ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach=None) -> Tensor:
    """The p-norm of all ``tensors`` seen as one vector: the norm of their norms."""
    arrays = [t._data for t in _as_list(tensors)]
    if not arrays:
        from ...creation import tensor
        return tensor(0.0)
    norm_type = float(norm_type)
    xp = array_module(arrays[0])
    norms = xp.stack([_vector_norm(a, norm_type) for a in arrays])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return Tensor._make(xp.asarray(total))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale every gradient by min(max_norm / (total_norm + 1e-6), 1), in place."""
    grads = _grads_of(parameters)
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    xp = array_module(grads[0]._data)
    total = xp.asarray(total)
    # Python scalars do not change the dtype, so a float32 norm gives a float32 factor (as torch)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        views.check_writable(g)
        g._data *= coef.astype(g._data.dtype)  # torch multiplies by the factor cast to g's dtype
        g._bump_version()


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Rescale the gradients of ``parameters`` so their total ``norm_type``-norm is at most
    ``max_norm``; returns the total norm before clipping (a 0-dim tensor; 0.0 without grads)."""
    parameters = _as_list(parameters)  # a generator would be used up by the first pass
    total = get_total_norm(_grads_of(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient entry into [−clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads_of(parameters):
        views.check_writable(g)
        xp = array_module(g._data)
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._bump_version()
