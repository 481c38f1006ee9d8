"""Where arrays live.

Every op in minitorch is written once against an *array module* ``xp``: NumPy on the CPU, CuPy
on an NVIDIA GPU (Chainer's habit). ``array_module(a)`` returns the module an array belongs to,
so op code reads ``xp = array_module(x)`` and then uses NumPy's API.

CuPy is optional. It is imported the first time a CUDA device is asked for, never at import time,
and every CPU path works without it.
"""
from __future__ import annotations

import numpy as np

from .dtypes import dtype, float16, float32, float64, uint8, int8, int16, int32, int64, bool_  # noqa: F401
from .dtypes import to_dtype, from_numpy_dtype, default_float, promote_types  # noqa: F401
from .device import device, to_device, cupy_module, cuda_is_available  # noqa: F401


def array_module(*arrays):
    """NumPy or CuPy: the module that owns ``arrays`` (NumPy when CuPy was never loaded)."""
    cp = cupy_module(required=False)
    if cp is not None:
        for a in arrays:
            if isinstance(a, cp.ndarray):
                return cp
    return np


def device_of(array) -> device:
    """The device an array lives on."""
    if isinstance(array, np.ndarray) or np.isscalar(array):
        return device("cpu")
    return device("cuda", int(array.device.id))
