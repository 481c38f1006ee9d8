"""Activation functions: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax.

Notation as in ``ops.py``: ``g`` is dL/dy (the gradient arriving from the output, shape of y);
each backward returns the vector-Jacobian product dL/dx.

relu, sigmoid and tanh are already Functions in ``ops.py`` (``ReLU``, ``Sigmoid``, ``Tanh``); here
they get torch's functional names. A note on the seed documents in ``../shared/seeds/``: their
examples give the derivative of tanh and ReLU wrongly in places; the correct ones are
tanh'(x) = 1 − tanh²(x) and relu'(x) = [x > 0] (0 at x = 0, as torch).
"""
from __future__ import annotations

from ... import views
from ...autograd import ArrayFunction
from ...backend import array_module
from ...tensor import Tensor

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


class LeakyReLU(ArrayFunction):
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
        return views.apply_inplace(input, lambda s: LeakyReLU.apply(s, negative_slope))
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
# softmax and log_softmax (the Functions are ops.Softmax and ops.LogSoftmax)
# ---------------------------------------------------------------------------------------------
def softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax along ``dim`` (see ``ops.Softmax``). ``dtype``: cast the input first, as torch."""
    _check_tensor("softmax", input)
    return input.softmax(dim, dtype=dtype)


def log_softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log_softmax along ``dim`` (see ``ops.LogSoftmax``); stable for logits of any magnitude."""
    _check_tensor("log_softmax", input)
    return input.log_softmax(dim, dtype=dtype)
