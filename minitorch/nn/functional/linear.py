"""The layers around a fully connected layer: ``linear``, ``dropout`` and ``flatten``.

Notation as in ``ops.py``: ``g`` is dL/dy (shape of y); each backward returns dL/dx.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from ... import views
from ...autograd import ArrayFunction
from ...backend import matmul as backend_matmul
from ...backend import to_device
from ...ops import unbroadcast
from ...random import default_generator
from ...tensor import Tensor, fmt_shape, matmul

__all__ = ["linear", "dropout", "dropout2d", "flatten"]


# ---------------------------------------------------------------------------------------------
# linear
# ---------------------------------------------------------------------------------------------
class Linear(ArrayFunction):
    """y = x Wᵀ + b over any leading dimensions.

    Shapes: x (*, in), W (out, in), b broadcastable to y (usually (out,)), y (*, out).
    With the leading dims flattened, X (M, in) and G = dL/dY (M, out):

        dL/dx = g W              (*, out) @ (out, in) = (*, in)
        dL/dW = Gᵀ X             (out, M) @ (M, in)   = (out, in)   — summed over all M rows
        dL/db = Σ g over every dimension b was broadcast along (for b (out,): the M rows)

    The three products go through ``backend.matmul`` (our SGEMM on CUDA float32: "nt", "nn" and
    "tn", the transposes read in place; ``xp.matmul`` otherwise).
    """

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.bias_shape = None if b is None else np.shape(b)
        y = backend_matmul(x, w, transpose_b=True)
        return y if b is None else y + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        out_features, in_features = w.shape
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = backend_matmul(g, w)
        if ctx.needs_input_grad[1]:
            gw = backend_matmul(g.reshape(-1, out_features), x.reshape(-1, in_features),
                                transpose_a=True)
        if ctx.needs_input_grad[2]:
            gb = unbroadcast(g, ctx.bias_shape)
        return gx, gw, gb


def _check_same(op, what, t: Tensor, input: Tensor, names: str):
    if t.dtype is not input.dtype:
        raise RuntimeError(f"{op}: {what} has dtype {t.dtype.name} but input has dtype "
                           f"{input.dtype.name} ({names}); convert one of them with .to()")
    if t.device != input.device:
        raise RuntimeError(f"{op}: expected all tensors to be on the same device, but {what} is on "
                           f"{t.device} and input is on {input.device}")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weightᵀ + bias  (see ``Linear`` for the backward formulas).

    input (*, in_features), weight (out_features, in_features), bias (out_features,) or None
    → (*, out_features). As in torch, a 1-D weight (in_features,) gives y = input @ weight (+ bias),
    of shape (*).
    """
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linear(): argument '{name}' must be a Tensor, not {type(t).__name__}")
    if bias is not None and not isinstance(bias, Tensor):
        raise TypeError(f"linear(): argument 'bias' must be a Tensor or None, not "
                        f"{type(bias).__name__}")
    shapes = f"input {fmt_shape(input.shape)}, weight {fmt_shape(weight.shape)}" + (
        "" if bias is None else f", bias {fmt_shape(bias.shape)}")
    if input.ndim == 0 or weight.ndim not in (1, 2):
        raise RuntimeError(f"linear: input must be at least 1-D and weight 1-D or 2-D "
                           f"(out_features,in_features), got {shapes}")
    in_features = weight.shape[-1]
    if input.shape[-1] != in_features:
        raise RuntimeError(
            f"linear: input {fmt_shape(input.shape)} has {input.shape[-1]} features in its last "
            f"dimension but weight {fmt_shape(weight.shape)} expects in_features={in_features}: "
            f"input (N,...,in_features={input.shape[-1]}) does not match weight "
            f"(out_features,in_features={in_features})")
    _check_same("linear", "weight", weight, input, shapes)
    if bias is not None:
        _check_same("linear", "bias", bias, input, shapes)
    if weight.ndim == 1:  # a vector of weights: a dot product per row, no out_features dim
        y = matmul(input, weight)
        return y if bias is None else y + bias
    out_shape = tuple(input.shape[:-1]) + (weight.shape[0],)
    if bias is not None:
        # b must broadcast to y without growing it (usually it is (out_features,))
        ok = bias.ndim <= len(out_shape) and all(
            b in (1, n) for b, n in zip(reversed(bias.shape), reversed(out_shape)))
        if not ok:
            raise RuntimeError(f"linear: bias {fmt_shape(bias.shape)} does not broadcast to the "
                               f"output {fmt_shape(out_shape)} (out_features={weight.shape[0]}; "
                               f"{shapes})")
    return Linear.apply(input, weight, bias)


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
class Dropout(ArrayFunction):
    """y = x · m / (1 − p), m a fixed 0/1 mask with P(mᵢ = 1) = 1 − p  (inverted dropout).

    The mask and the scale are drawn/fixed in forward and passed in as ``noise = m / (1 − p)``
    (for p = 1, noise = 0), so backward uses exactly the mask forward used:

        dL/dx = g · noise = g · m / (1 − p)

    Scaling by 1/(1 − p) while training keeps E[y] = x, so evaluation needs no rescaling.
    Shapes: x, noise, y alike.
    """

    @staticmethod
    def forward(ctx, x, noise):
        ctx.noise = noise
        return x * noise

    @staticmethod
    def backward(ctx, g):
        return g * ctx.noise, None


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1 − p) (see ``Dropout``).

    The mask comes from minitorch's global generator, so ``minitorch.manual_seed`` makes it
    reproducible (it is drawn on the CPU and moved to the input's device). As in torch, when
    ``training`` is False or p = 0 the input itself is returned, and p = 1 gives zeros.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not input.is_floating_point():
        raise RuntimeError(f"dropout: expected a floating point input, got {input.dtype.name}")
    if not training or p == 0 or input.numel() == 0:
        return input
    dt = input._data.dtype
    if p == 1:
        noise = np.zeros(input.shape, dtype=dt)
    else:
        keep = default_generator.rng.random(input.shape) >= p  # True with probability 1 − p
        noise = keep.astype(dt) / dt.type(1 - p)
    if input.device.type != "cpu":
        noise = to_device(noise, input.device)
    if inplace:
        return views.apply_inplace(input, lambda s: Dropout.apply(s, noise))
    return Dropout.apply(input, noise)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels: y[n, c, ...] = x[n, c, ...] · m[n, c] / (1 − p), one mask entry
    m[n, c] ~ Bernoulli(1 − p) per (sample, channel), drawn from minitorch's generator
    (``torch.nn.functional.dropout2d``). The same ``Dropout`` Function with a noise of shape
    (N, C, 1, 1) broadcast over each feature map: dL/dx = g · m[n, c] / (1 − p).

    As torch: a 3-D input is read as (N, C, L) — channel-wise 1-D dropout, not an unbatched
    (C, H, W) image — with torch's warning; other than 3-D or 4-D inputs warn too (deprecated
    in torch), and the mask still covers the first two dims. Identity when not ``training``.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout2d(): argument 'input' must be a Tensor, not {type(input).__name__}")
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated (torch will raise in a future release); dropout2d is for "
                      "(N, C, H, W) or (C, H, W) inputs: use dropout for others.", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim (torch's behaviour; it may change in a future "
                      "release to read (C, H, W)).", stacklevel=2)
    if input.ndim < 2:
        raise RuntimeError(f"dropout2d: expected an input with at least 2 dims (N, C, ...), got "
                           f"shape {fmt_shape(input.shape)}")
    if not input.is_floating_point():
        raise RuntimeError(f"dropout2d: expected a floating point input, got {input.dtype.name}")
    if not training or p == 0 or input.numel() == 0:
        return input
    dt = input._data.dtype
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    if p == 1:
        noise = np.zeros(mask_shape, dtype=dt)
    else:
        keep = default_generator.rng.random(mask_shape) >= p  # True with probability 1 − p
        noise = keep.astype(dt) / dt.type(1 - p)
    if input.device.type != "cpu":
        noise = to_device(noise, input.device)
    if inplace:
        return views.apply_inplace(input, lambda s: Dropout.apply(s, noise))
    return Dropout.apply(input, noise)


# ---------------------------------------------------------------------------------------------
# flatten
# ---------------------------------------------------------------------------------------------
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (``torch.flatten``; torch.nn.functional has no
    flatten, it is here for convenience).  dL/dx = g reshaped back to x's shape."""
    if not isinstance(input, Tensor):
        raise TypeError(f"flatten(): argument 'input' must be a Tensor, not {type(input).__name__}")
    return input.flatten(start_dim, end_dim)
