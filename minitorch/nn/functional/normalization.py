"""Batch normalisation: ``batch_norm`` as one Function with a hand-derived backward."""
from __future__ import annotations

from ...autograd import ArrayFunction
from ...backend import array_module
from ...tensor import Tensor, fmt_shape

__all__ = ["batch_norm"]


class BatchNorm(ArrayFunction):
    """Per-channel normalisation of x of shape (N, C, *spatial); channel c is dim 1.

    Notation: for channel c the statistics run over the m = N · prod(spatial) entries of that
    channel (every axis but 1); γ = weight, β = bias (1 and 0 when absent), both of shape (C,).

    Forward, training (batch statistics)::

        μ      = (1/m) Σ x                       biased variance, as torch normalises with:
        σ²     = (1/m) Σ (x − μ)²
        r      = 1 / sqrt(σ² + eps)              ("inverse std", saved for backward)
        x̂      = (x − μ) · r
        y      = γ · x̂ + β

    and, when running statistics are given, they are updated in place with the *unbiased*
    variance (torch's rule; the normalisation above still uses the biased one)::

        running_mean ← (1 − momentum) · running_mean + momentum · μ
        running_var  ← (1 − momentum) · running_var  + momentum · σ² · m / (m − 1)

    Forward, evaluation (``training=False``): μ and σ² are running_mean and running_var; nothing
    is updated.

    Backward, with g = dL/dy (shape of x) and sums Σ over every axis but 1::

        dL/dβ = Σ g
        dL/dγ = Σ g · x̂
        training:  dL/dx = (γ · r / m) · (m · g − Σ g − x̂ · Σ (g · x̂))
        eval:      dL/dx = γ · r · g

    The training formula follows from x̂ depending on x directly *and* through μ and σ²:
    dL/dx̂ = γ g, and pushing it through x̂ = (x − μ) r gives
    dL/dx = r · (dL/dx̂ − mean(dL/dx̂) − x̂ · mean(dL/dx̂ · x̂)). In evaluation μ and σ² are
    constants, so only the direct term remains. No gradient flows into the running statistics.

    Shapes: x (N, C, *), running stats / γ / β (C,), y like x. ``apply(x, weight, bias,
    running_mean=..., running_var=..., training=..., momentum=..., eps=...)``: only x, γ and β
    are differentiable inputs; the running statistics are passed as keyword arrays.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, running_mean, running_var, training, momentum, eps):
        # running_mean / running_var: raw arrays (or None), updated in place when training
        xp = array_module(x)
        axes = (0,) + tuple(range(2, x.ndim))  # every axis but the channel axis
        # per-channel vectors reshaped to broadcast against x: (1, C, 1, 1, ...)
        bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if training:
            m = x.size // x.shape[1]
            mean = x.mean(axis=axes)
            centered = x - mean.reshape(bshape)
            var = (centered * centered).mean(axis=axes)  # biased: divides by m
            if running_mean is not None:
                running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            if running_var is not None:
                unbiased = var * (m / (m - 1))
                running_var[...] = (1 - momentum) * running_var + momentum * unbiased
        else:
            mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
            centered = x - mean.reshape(bshape)
        inv_std = (1 / xp.sqrt(var + eps)).astype(x.dtype)
        x_hat = centered * inv_std.reshape(bshape)
        y = x_hat if weight is None else x_hat * weight.reshape(bshape)
        if bias is not None:
            y = y + bias.reshape(bshape)
        ctx.training = training
        ctx.has_weight = weight is not None
        ctx.save_for_backward(x_hat, inv_std, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        x_hat, inv_std, weight = ctx.saved_tensors
        axes = (0,) + tuple(range(2, g.ndim))
        bshape = (1, g.shape[1]) + (1,) * (g.ndim - 2)
        need_x, need_w, need_b = ctx.needs_input_grad
        sum_g = g.sum(axis=axes)
        sum_g_xhat = (g * x_hat).sum(axis=axes)
        gx = None
        if need_x:
            scale = inv_std if weight is None else weight * inv_std  # γ · r, shape (C,)
            if ctx.training:
                m = g.size // g.shape[1]
                gx = (scale / m).reshape(bshape) * (
                    m * g - sum_g.reshape(bshape) - x_hat * sum_g_xhat.reshape(bshape))
            else:
                gx = scale.reshape(bshape) * g
        gw = sum_g_xhat if need_w else None
        gb = sum_g if need_b else None
        return gx, gw, gb


def _check_channel_vector(name, t, channels, input):
    if t is None:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"batch_norm: {name} must be a Tensor or None, got {type(t).__name__}")
    if t.numel() != channels or t.ndim != 1:
        raise RuntimeError(f"batch_norm: {name} should contain {channels} elements (one per "
                           f"channel of input {fmt_shape(input.shape)}), but has shape "
                           f"{fmt_shape(t.shape)}")
    if t.device != input.device:
        raise RuntimeError(f"batch_norm: expected all tensors to be on the same device, but "
                           f"input is on {input.device} and {name} on {t.device}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) of ``input`` (N, C, *) to zero mean and unit variance, then
    scale by ``weight`` and shift by ``bias``; see :class:`BatchNorm` for the formulas.

    ``training=True`` uses the batch's statistics and, when ``running_mean``/``running_var`` are
    given, updates them in place (exponential average with ``momentum``, unbiased variance).
    ``training=False`` normalises with the running statistics, which must then be given.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"batch_norm: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, *), got "
                         f"shape {fmt_shape(input.shape)}")
    if not input.is_floating_point():
        raise TypeError(f"batch_norm: input must be floating point, got {input.dtype.name}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_channel_vector(name, t, channels, input)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype is not input.dtype:
            raise RuntimeError(f"batch_norm: expected {name} to have dtype {input.dtype.name} "
                               f"like the input, but got {t.dtype.name}")
    if training:
        per_channel = input.numel() // channels if channels else 0
        if per_channel <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {fmt_shape(input.shape)}")
    elif running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be given when "
                           "training=False (evaluation normalises with them)")
    # the running statistics are updated in place: pass their arrays, which forward writes
    rm = running_mean._data if running_mean is not None else None
    rv = running_var._data if running_var is not None else None
    out = BatchNorm.apply(input, weight, bias, training=bool(training), momentum=momentum,
                          eps=eps, running_mean=rm, running_var=rv)
    for t in (running_mean, running_var):
        if t is not None and training:
            t._bump_version()
    return out
