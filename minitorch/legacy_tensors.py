"""torch's legacy typed constructors: ``LongTensor``, ``FloatTensor``, ``DoubleTensor``,
``IntTensor``, ``BoolTensor``.

Old torch code (and the ONNX export path of word_language_model) still writes
``torch.LongTensor(n)``. Each name here behaves as torch's:

* ``LongTensor(n)``, ``LongTensor(2, 3)``, ``LongTensor(minitorch.Size([2, 3]))``: a tensor of
  that shape. torch leaves its memory uninitialised; here it is zeros (the values must not be
  relied upon either way).
* ``LongTensor([1, 2])``, ``LongTensor((1, 2))``, ``LongTensor(ndarray)``: the data, cast to
  the type's dtype (a tuple is data, a ``Size`` is a shape, as in torch).
* ``LongTensor()``: an empty tensor of shape (0,).
* ``isinstance(t, minitorch.LongTensor)`` is True for an int64 tensor, ``LongTensor.dtype`` is
  ``minitorch.int64``, and ``t.type(minitorch.LongTensor)`` casts, as in torch.

They always create CPU tensors (torch's CUDA variants live under ``torch.cuda``).
"""
from __future__ import annotations

import numbers

import numpy as np

from .backend import dtypes as _dt
from .creation import tensor, zeros
from .tensor import Size, Tensor

__all__ = ["LongTensor", "FloatTensor", "DoubleTensor", "IntTensor", "BoolTensor"]


class _LegacyTensorType(type):
    """The metaclass: a tensor is an instance of the type whose dtype it has."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.legacy_dtype

    def __repr__(cls) -> str:
        return f"<class 'minitorch.{cls.__name__}'>"


class _LegacyTensor(metaclass=_LegacyTensorType):
    legacy_dtype = None

    def __new__(cls, *args):
        dt = cls.legacy_dtype
        if not args:
            return zeros(0, dtype=dt, device="cpu")
        sizes = len(args) > 1 or isinstance(args[0], (numbers.Integral, Size))
        if sizes and not isinstance(args[0], bool):
            shape = tuple(args[0]) if isinstance(args[0], Size) else args
            if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0
                       for n in shape):
                raise TypeError(f"{cls.__name__}(): expected sizes (non-negative ints) or one "
                                f"sequence of data, got {args!r}")
            return zeros(*shape, dtype=dt, device="cpu")
        data = args[0]
        if isinstance(data, (Tensor, np.ndarray)):
            data = np.asarray(data)
        return tensor(data, dtype=dt, device="cpu")


def _legacy(name: str, dt) -> type:
    return _LegacyTensorType(name, (_LegacyTensor,), {"legacy_dtype": dt, "dtype": dt,
                                                      "__module__": "minitorch",
                                                      "__doc__": f"{name}(*sizes) or "
                                                                 f"{name}(data): a {dt.name} "
                                                                 "tensor (torch's legacy "
                                                                 "constructor)."})


LongTensor = _legacy("LongTensor", _dt.int64)
FloatTensor = _legacy("FloatTensor", _dt.float32)
DoubleTensor = _legacy("DoubleTensor", _dt.float64)
IntTensor = _legacy("IntTensor", _dt.int32)
BoolTensor = _legacy("BoolTensor", _dt.bool_)
