"""Activation functions: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax.

Notation as in ``ops.py``: ``g`` is dL/dy (the gradient arriving from the output, shape of y);
each backward returns the vector-Jacobian product dL/dx.

relu, sigmoid and tanh are already Functions in ``ops.py`` (``ReLU``, ``Sigmoid``, ``Tanh``); here
they get torch's functional names. A note on the seed documents in ``../shared/seeds/``: their
examples give the derivative of tanh and ReLU wrongly in places; the correct ones are
tanh'(x) = 1 − tanh²(x) and relu'(x) = [x > 0] (0 at x = 0, as torch).
"""
from __future__ import annotations

import warnings

import numpy as np

from ...autograd import Function
from ...backend import array_module, to_dtype
from ...tensor import Tensor, normalize_dim

__all__ = ["relu", "relu_", "leaky_relu", "leaky_relu_", "sigmoid", "tanh", "softmax",
           "log_softmax"]


def _check_tensor(op: str, input) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be a Tensor, not {type(input).__name__}")


def _check_floating(op: str, input: Tensor) -> None:
    if not input.is_floating_point():
        # torch raises NotImplementedError ("... not implemented for 'Long'"), a RuntimeError
        raise NotImplementedError(f"{op}: expected a floating point input, got {input.dtype.name} "
                                  f"(shape {tuple(input.shape)}); convert it with .float() or "
                                  f"pass dtype=")


# ---------------------------------------------------------------------------------------------
# Elementwise activations
# ---------------------------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """relu(x) = max(x, 0).   dL/dx = g · [x > 0]   (the gradient at exactly 0 is 0, as torch).

    ``inplace=True`` overwrites ``input`` (not allowed on a leaf that requires grad).
    """
    _check_tensor("relu", input)
    return input.relu_() if inplace else input.relu()


def relu_(input: Tensor) -> Tensor:
    """In-place ``relu``."""
    return relu(input, inplace=True)


class LeakyReLU(Function):
    """y = x for x > 0, negative_slope · x otherwise.

    dL/dx = g · (1 if x > 0 else negative_slope)   (at x = 0 the slope is used, as torch).
    Shapes: y and x alike, any shape.
    """

    @staticmethod
    def forward(ctx, x, negative_slope):
        xp = array_module(x)
        positive = x > 0
        ctx.positive = positive
        ctx.slope = negative_slope
        return xp.where(positive, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        return xp.where(ctx.positive, g, g * g.dtype.type(ctx.slope)), None


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """leaky_relu(x) = x if x > 0 else negative_slope · x (see ``LeakyReLU``)."""
    _check_tensor("leaky_relu", input)
    if input.dtype.name == "bool":
        raise RuntimeError("leaky_relu: bool tensors are not supported")
    if inplace:
        return input._inplace(lambda s: LeakyReLU.apply(s, negative_slope))
    return LeakyReLU.apply(input, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place ``leaky_relu``."""
    return leaky_relu(input, negative_slope, inplace=True)


def sigmoid(input: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ).   dL/dx = g · σ(x) · (1 − σ(x))   (``ops.Sigmoid``, overflow-free)."""
    _check_tensor("sigmoid", input)
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """tanh(x).   dL/dx = g · (1 − tanh²(x))   (``ops.Tanh``)."""
    _check_tensor("tanh", input)
    return input.tanh()


# ---------------------------------------------------------------------------------------------
# softmax and log_softmax
# ---------------------------------------------------------------------------------------------
def _shifted(x, dim):
    """x − max(x) along ``dim``: every entry ≤ 0, so exp never overflows (log-sum-exp trick).

    Subtracting the same constant m from every entry of a slice changes neither softmax nor
    log_softmax:  e^(xᵢ−m) / Σⱼ e^(xⱼ−m) = e^xᵢ / Σⱼ e^xⱼ.
    """
    if x.size == 0:  # no slices at all (max of an empty axis is undefined)
        return x
    # (a slice that is all −inf, or holds +inf, gives −inf − (−inf) = nan here, as in torch)
    return x - x.max(axis=dim, keepdims=True)


class Softmax(Function):
    """yᵢ = e^xᵢ / Σⱼ e^xⱼ along ``dim``  (computed as e^(xᵢ−m) / Σⱼ e^(xⱼ−m), m = maxⱼ xⱼ).

    Jacobian: ∂yᵢ/∂xⱼ = yᵢ (δᵢⱼ − yⱼ), so the vector-Jacobian product is

        dL/dxⱼ = Σᵢ gᵢ yᵢ (δᵢⱼ − yⱼ) = yⱼ · (gⱼ − Σᵢ gᵢ yᵢ)

    (the sum along ``dim``). Shapes: y, g, dL/dx all have x's shape.
    """

    @staticmethod
    def forward(ctx, x, dim):
        xp = array_module(x)
        with np.errstate(invalid="ignore", over="ignore"):
            e = xp.exp(_shifted(x, dim))
            y = e / e.sum(axis=dim, keepdims=True)
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=ctx.dim, keepdims=True)), None


class LogSoftmax(Function):
    """yᵢ = log softmax(x)ᵢ = xᵢ − m − log Σⱼ e^(xⱼ−m) along ``dim``, m = maxⱼ xⱼ.

    The shift by m (log-sum-exp) keeps it finite for logits of any magnitude (1e3 and beyond):
    the largest exponent is e⁰ = 1, so the sum lies in [1, n] and its log never overflows.

    Jacobian: ∂yᵢ/∂xⱼ = δᵢⱼ − softmax(x)ⱼ, so

        dL/dxⱼ = gⱼ − softmax(x)ⱼ · Σᵢ gᵢ,      softmax(x) = e^y.

    Shapes: y, g, dL/dx all have x's shape.
    """

    @staticmethod
    def forward(ctx, x, dim):
        xp = array_module(x)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            z = _shifted(x, dim)
            y = z - xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
        ctx.save_for_backward(y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        xp = array_module(y)
        return g - xp.exp(y) * g.sum(axis=ctx.dim, keepdims=True), None


def _softmax_dim(op: str, ndim: int) -> int:
    """torch's legacy choice when ``dim`` is omitted: 0 for 0-, 1- and 3-D inputs, else 1."""
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_like(fn, op: str, input, dim, dtype) -> Tensor:
    _check_tensor(op, input)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    _check_floating(op, input)
    if dim is None:
        dim = _softmax_dim(op, input.ndim)
    d = normalize_dim(dim, input.ndim, op)
    if input.ndim == 0:  # a single element: softmax 1, log_softmax 0 (and the same gradients)
        return fn.apply(input.reshape(1), 0).reshape(())
    return fn.apply(input, d)


def softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax along ``dim`` (see ``Softmax``). ``dtype``: cast the input first, as torch."""
    return _softmax_like(Softmax, "softmax", input, dim, dtype)


def log_softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log_softmax along ``dim`` (see ``LogSoftmax``); stable for logits of any magnitude."""
    return _softmax_like(LogSoftmax, "log_softmax", input, dim, dtype)
