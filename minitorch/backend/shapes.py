"""Argument helpers every layer shares: how shapes are written in messages, pair arguments.

These sit at the bottom of the house so that the tensor, the ops, the kernel wrappers, the
layers and the transforms all parse ``kernel_size=3`` and print ``(4,5)`` the same way.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["ShapeError", "ArgumentError", "fmt_shape", "fmt_pair", "pair_argument"]


class ShapeError(RuntimeError, ValueError):
    """Operand shapes or sizes that do not fit together (broadcasting, matmul, a kernel larger
    than its padded input, index assignment).

    torch raises RuntimeError for these, so ``except RuntimeError`` written for torch catches
    it; it is also a ValueError, Python's usual error for a bad argument value.
    """


class ArgumentError(TypeError, ValueError):
    """An argument of the wrong form (``kernel_size="3"``, a triple where a pair is expected).

    torch raises TypeError for a wrong type and ValueError for a wrong length; this is both.
    """


def fmt_shape(shape) -> str:
    """(4,5) / (2,) / () — the compact form used in every error message."""
    shape = tuple(int(n) for n in shape)
    return "(" + ",".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_pair(pair) -> str:
    """(3,3): a (height, width) pair as messages write it."""
    return f"({pair[0]},{pair[1]})"


def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def pair_argument(value, name: str, op: str, minimum: int | None = None) -> tuple:
    """An int or a sequence of one or two ints → (value_h, value_w), as torch's ``_pair``.

    ``minimum``, when given, is the smallest value allowed (1 for a stride, 0 for a padding).
    Raises :class:`ArgumentError` naming ``op``, ``name`` and the value.
    """
    if _is_int(value):
        pair = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) in (1, 2)
          and all(_is_int(v) for v in value)):
        pair = (int(value[0]), int(value[-1]))
    else:
        raise ArgumentError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if minimum is not None and min(pair) < minimum:
        raise ArgumentError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return pair
