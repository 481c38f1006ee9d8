"""``minitorch.nn.init``: fill a tensor in place with the values a layer should start from.

Every function works in place under ``no_grad`` and returns the tensor. Random values come from
minitorch's global generator (``minitorch.manual_seed``) or the ``generator`` passed in; they are
drawn on the CPU and copied to the tensor's device and dtype, so a seed gives the same start on
every device. (The numbers differ from torch's: the distributions are the same, the random
streams are not.)

Fans. For a weight of shape (out, in, *kernel) the *receptive field* is prod(kernel) (1 for a
Linear weight) and::

    fan_in  = in  · receptive field      (the inputs summed into one output)
    fan_out = out · receptive field

Variance-preserving schemes pick the spread from a fan:

* Xavier/Glorot (2010):  std = gain · sqrt(2 / (fan_in + fan_out))
* Kaiming/He (2015):     std = gain / sqrt(fan)         fan = fan_in or fan_out (``mode``)

and a uniform distribution U(−b, b) has std b/sqrt(3), so the uniform variants use
b = sqrt(3) · std.

Torch's default for Linear and Conv weights is ``kaiming_uniform_(w, a=sqrt(5))``: with
leaky-ReLU gain sqrt(2 / (1 + 5)) this gives b = sqrt(3) · sqrt(1/3) / sqrt(fan_in) =
1 / sqrt(fan_in), the same bound as their biases.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..autograd import no_grad
from ..random import _generator
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_"]


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance stable through ``nonlinearity``.

    ============================  =================================
    linear, conv*, sigmoid        1
    tanh                          5/3
    relu                          sqrt(2)
    leaky_relu (slope ``param``)  sqrt(2 / (1 + slope²)), slope 0.01 by default
    selu                          3/4
    ============================  =================================
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _check_tensor(tensor, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(tensor).__name__}")


def _fill_from(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Copy freshly drawn NumPy ``values`` into ``tensor`` (cast to its dtype, moved to its
    device)."""
    with no_grad():
        tensor.copy_(Tensor._make(values))
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from U(a, b)."""
    _check_tensor(tensor, "uniform_")
    return _fill_from(tensor, _generator(generator).uniform(a, b, tuple(tensor.shape)))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from N(mean, std²)."""
    _check_tensor(tensor, "normal_")
    return _fill_from(tensor, _generator(generator).normal(mean, std, tuple(tensor.shape)))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with draws from N(mean, std²) conditioned on lying in [a, b] (absolute bounds).

    Drawn by rejection: draw from N(mean, std²), redraw the values that fell outside [a, b], until
    none is left. The accepted values follow exactly the truncated distribution. (torch uses the
    inverse CDF instead; the distribution is the same.)
    """
    _check_tensor(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    rng = _generator(generator)
    values = rng.normal(mean, std, tuple(tensor.shape))
    outside = (values < a) | (values > b)
    tries = 0
    while outside.any():
        values[outside] = rng.normal(mean, std, int(outside.sum()))
        outside = (values < a) | (values > b)
        tries += 1
        if tries > 10_000:  # [a, b] holds almost none of the mass: clamp what is left
            values = np.clip(values, a, b)
            break
    return _fill_from(tensor, values)


def constant_(tensor, val):
    """Fill with the number ``val``."""
    _check_tensor(tensor, "constant_")
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, zeros elsewhere)."""
    _check_tensor(tensor, "eye_")
    if tensor.ndim != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    return _fill_from(tensor, np.eye(*tensor.shape))


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel); see the module docstring."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    num_output_fmaps, num_input_fmaps = tensor.shape[0], tensor.shape[1]
    receptive_field_size = int(np.prod(tensor.shape[2:], dtype=np.int64))
    return num_input_fmaps * receptive_field_size, num_output_fmaps * receptive_field_size


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """U(−b, b) with b = gain · sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """N(0, std²) with std = gain · sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """U(−b, b) with b = sqrt(3) · gain / sqrt(fan); ``a`` is the leaky-ReLU slope for the gain."""
    _check_tensor(tensor, "kaiming_uniform_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """N(0, std²) with std = gain / sqrt(fan)."""
    _check_tensor(tensor, "kaiming_normal_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013), torch's recipe.

    The tensor is seen as a matrix of rows = shape[0] and cols = numel / rows (trailing dims
    flattened). Draw A ~ N(0, 1) of shape (rows, cols) — transposed to (cols, rows) when
    rows < cols, so that it is tall — and take its reduced QR decomposition A = QR. Q's columns
    are orthonormal; multiplying column k by sign(R[k, k]) makes Q unique (the sign-corrected Q
    is Haar-distributed, not biased by the QR routine's sign convention). Then Qᵀ is taken back
    when A was transposed, so W Wᵀ = gain²·I (rows ≤ cols) or Wᵀ W = gain²·I (rows ≥ cols).
    """
    _check_tensor(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor  # torch: nothing to fill
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    a = _generator(generator).standard_normal((rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))[None, :]
    if rows < cols:
        q = q.T
    return _fill_from(tensor, (gain * q).reshape(tuple(tensor.shape)))
