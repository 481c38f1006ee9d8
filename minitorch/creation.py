"""Factories that make tensors, mirroring torch's names and keyword arguments."""
from __future__ import annotations

import math
import numbers
import sys

import numpy as np

from .backend import cuda_is_available as _cuda_is_available
from .backend import default_float, from_numpy_dtype, promote_types, to_device, to_dtype
from .backend import device as _device
from .backend import dtypes as _dt
from .random import _generator
from .tensor import Tensor, _size_args

_default_device = None  # set_default_device: where factories put tensors (None: the CPU)


def set_default_device(device) -> None:
    """Factories (zeros, randn, tensor, arange, ...) create tensors on ``device`` from now on
    when given no ``device=`` (``torch.set_default_device``; None goes back to the CPU).
    ``from_numpy`` still shares the array's CPU memory, and a Tensor's copy keeps its device."""
    global _default_device
    if device is None:
        _default_device = None
        return
    dev = _device(device)
    if dev.type == "cuda" and not _cuda_is_available():
        raise RuntimeError(f"set_default_device({device!r}): CUDA is not available (CuPy "
                           "and a GPU are needed: pip install cupy-cuda12x)")
    _default_device = None if dev.type == "cpu" else dev


def get_default_device():
    """The device factories use when given none (``torch.get_default_device``)."""
    return _default_device if _default_device is not None else _device("cpu")


def _finish(arr, dtype=None, device=None, requires_grad=False) -> Tensor:
    if device is None:
        device = _default_device
    if dtype is not None:
        arr = arr.astype(to_dtype(dtype).np, copy=False)
    if device is not None:
        arr = to_device(arr, _device(device))  # (a NumPy array for the CPU stays as it is)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def _infer_dtype(data):
    """torch.tensor's inference: NumPy arrays and scalars and tensors keep their dtype; Python
    floats give float32 (the default float), ints int64, bools bool; a (nested) sequence takes
    the promotion of its elements' dtypes, so [1, 2.5] is float32 and [np.float64(1.0)] float64."""
    if isinstance(data, Tensor):
        return data.dtype
    if isinstance(data, (np.ndarray, np.generic)):
        return from_numpy_dtype(data.dtype)
    if isinstance(data, (list, tuple)):
        kinds = set(map(type, data))
        if kinds <= {float, int, bool}:  # plain Python numbers (the common case): types decide
            return (default_float if float in kinds or not kinds else
                    _dt.int64 if int in kinds else _dt.bool_)
        return promote_types([_infer_dtype(x) for x in data])
    if isinstance(data, bool):
        return _dt.bool_
    if isinstance(data, numbers.Integral):
        return _dt.int64
    if isinstance(data, numbers.Real):
        return default_float
    raise TypeError(f"could not infer a tensor dtype from {data!r} of type {type(data).__name__}")


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, NumPy arrays, Tensors;
    a Tensor's copy stays on its device unless ``device`` says otherwise, as in torch)."""
    if isinstance(data, Tensor):
        if device is None:
            device = data.device
        arr = data._data.copy()
    else:
        if isinstance(data, (list, tuple)):
            _check_ragged(data)
        np_dtype = to_dtype(dtype).np if dtype is not None else _infer_dtype(data).np
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
            data = [np.asarray(x) for x in data]
        arr = np.array(data, dtype=np_dtype)
    from_numpy_dtype(arr.dtype)  # reject unsupported dtypes with a clear message
    return _finish(arr, dtype, device, requires_grad)


def _check_ragged(data, depth=0):
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], (list, tuple)):
        n = len(data[0])
        for i, row in enumerate(data):
            if not isinstance(row, (list, tuple)) or len(row) != n:
                got = len(row) if isinstance(row, (list, tuple)) else "a scalar"
                raise ValueError(f"expected sequence of length {n} at dim {depth + 1} (got {got} "
                                 f"at index {i})")
            _check_ragged(row, depth + 1)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, np.ndarray) and device is None:
        return _finish(data, dtype)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    from_numpy_dtype(array.dtype)
    return Tensor._make(array)


def _new_shape(size, op: str) -> tuple:
    """The shape of a new tensor: ints, none negative."""
    shape = _size_args(size)
    if any(n < 0 for n in shape):
        raise RuntimeError(f"{op}: Dimension size must be non-negative, got size {list(shape)}")
    return shape


def _check_nbytes(shape: tuple, np_dtype, op: str, name: str) -> None:
    """Refuse a tensor no address space can hold, naming its shape and bytes (torch: "Storage
    size calculation overflowed with sizes=[...]"; NumPy only says "array is too big")."""
    itemsize = np.dtype(np_dtype).itemsize
    numel = math.prod(shape)
    if numel * itemsize > sys.maxsize:
        raise RuntimeError(f"{op}: a tensor of shape {list(shape)} and dtype {name} would need "
                           f"{numel} elements x {itemsize} bytes = {numel * itemsize} bytes, more "
                           f"than can be addressed (at most {sys.maxsize} bytes): storage size "
                           "calculation overflowed")


def _filled(fill, size, dtype, device, requires_grad, op="zeros"):
    shape = _new_shape(size, op)
    dt = to_dtype(dtype) if dtype is not None else default_float
    _check_nbytes(shape, dt.np, op, dt.name)
    return _finish(np.full(shape, fill, dtype=dt.np), None, device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(1, size, dtype, device, requires_grad, "ones")


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _filled(0, size, dtype, device, requires_grad, "empty")


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if isinstance(fill_value, Tensor) and fill_value.numel() == 1:
        fill_value = fill_value.item()
    if not isinstance(fill_value, (numbers.Number, np.generic)):
        raise TypeError(f"full(): argument 'fill_value' must be Number, not "
                        f"{type(fill_value).__name__}")
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = _dt.bool_
        elif isinstance(fill_value, (numbers.Integral,)):
            dtype = _dt.int64
    return _filled(fill_value, (tuple(size) if not isinstance(size, int) else (size,)), dtype,
                   device, requires_grad, "full")


def _like(t: Tensor, fill, dtype, device, requires_grad, op):
    return _filled(fill, t.shape, dtype or t.dtype, device or t.device, requires_grad, op)


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(input, 0, dtype, device, requires_grad, "zeros_like")


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(input, 1, dtype, device, requires_grad, "ones_like")


def empty_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(input, 0, dtype, device, requires_grad, "empty_like")


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(input, fill_value, dtype, device, requires_grad, "full_like")


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (numbers.Integral,)) for v in (start, end, step))
        dtype = _dt.int64 if is_int else default_float
    arr = np.arange(start, end, step, dtype=np.float64 if to_dtype(dtype).is_floating_point else None)
    return _finish(arr, dtype, device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.linspace(start, end, steps), dtype or default_float, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(np.eye(n, m), dtype or default_float, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples, drawn on the CPU from the seeded generator."""
    shape = _new_shape(size, "randn")
    _check_nbytes(shape, np.float64, "randn", "float64 (the dtype samples are drawn in)")
    return _finish(_generator(generator).standard_normal(shape), dtype or default_float, device,
                   requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1)."""
    shape = _new_shape(size, "rand")
    _check_nbytes(shape, np.float64, "rand", "float64 (the dtype samples are drawn in)")
    return _finish(_generator(generator).random(shape), dtype or default_float, device,
                   requires_grad)


def randint(low, high=None, size=None, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:
        if high is None:
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    arr = _generator(generator).integers(low, high, size=_size_args((size,)) if isinstance(size, int)
                                          else tuple(size))
    return _finish(arr, dtype or _dt.int64, device, requires_grad)


def randperm(n, generator=None, dtype=None, device=None) -> Tensor:
    return _finish(_generator(generator).permutation(n), dtype or _dt.int64, device)


def rand_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(*input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(*input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)
