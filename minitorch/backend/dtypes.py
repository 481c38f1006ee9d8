"""Tensor dtypes and torch's type-promotion rules.

A ``dtype`` is a named wrapper around a NumPy dtype, printed as torch prints its own
(``minitorch.float32``). ``promote_types`` follows torch, not NumPy:

* categories rank bool < integer < floating;
* among tensors of the winning category the wider dtype wins;
* a Python scalar (or a 0-dim tensor) only decides the result when its category is higher than
  every dimensioned tensor's, and then a Python float gives the *default* float dtype, float32
  (NumPy would give float64 for ``int64_array + 0.5``; torch gives float32).
"""
from __future__ import annotations

import numpy as np


class dtype:
    __slots__ = ("name", "np", "is_floating_point", "itemsize")

    def __init__(self, name: str, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.itemsize = self.np.itemsize

    @property
    def category(self) -> int:
        """0 for bool, 1 for integers, 2 for floating point."""
        return {"b": 0, "u": 1, "i": 1, "f": 2}[self.np.kind]

    def __repr__(self):
        return f"minitorch.{self.name}"

    def __reduce__(self):  # pickled as the singleton it names
        return (to_dtype, (self.name,))


float16 = dtype("float16", np.float16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool_ = dtype("bool", np.bool_)

_ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"float": float32, "double": float64, "half": float16, "long": int64, "int": int32})

default_float = float32


def from_numpy_dtype(np_dtype) -> dtype:
    d = _BY_NP.get(np.dtype(np_dtype))
    if d is None:
        raise TypeError(f"unsupported array dtype {np.dtype(np_dtype)}; minitorch supports "
                        + ", ".join(x.name for x in _ALL))
    return d


def to_dtype(x) -> dtype:
    """Accept a minitorch dtype, a name ('float32'), a NumPy dtype, or a torch dtype's str."""
    if isinstance(x, dtype):
        return x
    if isinstance(x, str):
        name = x.split(".")[-1]
        if name in _BY_NAME:
            return _BY_NAME[name]
        raise TypeError(f"unknown dtype {x!r}")
    if x is float:
        return float32
    if x is int:
        return int64
    if x is bool:
        return bool_
    try:
        return from_numpy_dtype(x)
    except TypeError:
        raise TypeError(f"unknown dtype {x!r}") from None


def _wider(a: dtype, b: dtype) -> dtype:
    """The result of two dtypes of one kind of operand: a higher category wins outright (int64 with
    float32 gives float32, as torch; NumPy would widen to float64); within a category the wider wins."""
    if a.category != b.category:
        return a if a.category > b.category else b
    return from_numpy_dtype(np.promote_types(a.np, b.np))


def promote_types(dimensioned, zero_dim=(), scalars=()) -> dtype:
    """Result dtype of an op over tensors with ndim > 0, 0-dim tensors and Python scalars."""
    result = None
    for d in dimensioned:
        result = d if result is None else _wider(result, d)
    lower = None
    for d in zero_dim:
        lower = d if lower is None else _wider(lower, d)
    if lower is not None and (result is None or lower.category > result.category):
        result = lower
    cat = max((_scalar_category(s) for s in scalars), default=-1)
    if result is None or cat > result.category:
        result = {0: bool_, 1: int64, 2: default_float}[cat]
    return result


def _scalar_category(s) -> int:
    if isinstance(s, (bool, np.bool_)):
        return 0
    if isinstance(s, (int, np.integer)):
        return 1
    if isinstance(s, (float, np.floating)):
        return 2
    raise TypeError(f"unsupported scalar operand {s!r} of type {type(s).__name__}")
