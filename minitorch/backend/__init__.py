"""Where arrays live.

Every op in minitorch is written once against an *array module* ``xp``: NumPy on the CPU, CuPy
on an NVIDIA GPU (Chainer's habit). ``array_module(a)`` returns the module an array belongs to,
so op code reads ``xp = array_module(x)`` and then uses NumPy's API.

CuPy is optional. It is imported the first time a CUDA device is asked for, never at import time,
and every CPU path works without it.

The hot paths — matmul/linear, conv2d, max_pool2d — run our own CUDA kernels (``kernels/*.cu``,
loaded and launched by :mod:`minitorch.backend.kernels`) on CuPy float32 arrays while
``use_raw_kernels`` is True; set ``minitorch.backend.use_raw_kernels = False`` to run them on
CuPy's own functions instead (matmul through cuBLAS): the reference and benchmark baseline.
"""
from __future__ import annotations

import numpy as np

from .dtypes import dtype, float16, float32, float64, uint8, int8, int16, int32, int64, bool_
from .dtypes import to_dtype, from_numpy_dtype, default_float, promote_types
from .device import device, to_device, cupy_module, cuda_is_available


def array_module(*arrays):
    """NumPy or CuPy: the module that owns ``arrays`` (NumPy when CuPy was never loaded)."""
    cp = cupy_module(required=False)
    if cp is not None:
        for a in arrays:
            if isinstance(a, cp.ndarray):
                return cp
    return np


def add_at(a, index, values) -> None:
    """a[index] += values, unbuffered: repeated indices all add (``np.add.at``; on CuPy
    ``cupyx.scatter_add``, which takes the same indices)."""
    if isinstance(a, np.ndarray):
        np.add.at(a, index, values)
        return
    import cupyx  # here, not at the top: CuPy is present (a is a CuPy array)
    cupyx.scatter_add(a, index, values)


_DEVICES = {}  # one device object per place (as torch's are, they are not changed after)


def device_of(array) -> device:
    """The device an array lives on (``tensor.device`` is read in every argument check)."""
    if isinstance(array, np.ndarray) or np.isscalar(array):
        key = None
    else:
        key = int(array.device.id)
    found = _DEVICES.get(key)
    if found is None:
        found = _DEVICES[key] = device("cpu") if key is None else device("cuda", key)
    return found


# Route the hot paths (matmul, linear, conv2d, max_pool2d) on CuPy float32 arrays to our CUDA
# kernels (True) or to CuPy's own functions (False). Read at every call.
use_raw_kernels = True


def raw_kernels_for(*arrays):
    """The kernel wrappers (:mod:`minitorch.backend.kernels`) when an op on ``arrays`` should run
    our CUDA kernels — ``use_raw_kernels`` is on and every array (None entries aside) is a CuPy
    float32 array — else None (NumPy, other dtypes, switch off: the generic ``xp`` code)."""
    if not use_raw_kernels:
        return None
    cp = cupy_module(required=False)
    if cp is None:
        return None
    present = [a for a in arrays if a is not None]
    if not present or not all(isinstance(a, cp.ndarray) and a.dtype == np.float32 for a in present):
        return None
    from . import kernels
    return kernels


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    """``op(a) @ op(b)`` with NumPy's matmul semantics, ``op`` swapping the last two axes when
    ``transpose_*`` is set (a transposed operand is read in place by our SGEMM; elsewhere it is
    a free view). CuPy float32 with ``use_raw_kernels``: our SGEMM kernel; otherwise
    ``xp.matmul`` (NumPy's BLAS, or cuBLAS through CuPy)."""
    kernels = raw_kernels_for(a, b)
    if kernels is not None:
        return kernels.matmul(a, b, transpose_a, transpose_b)
    xp = array_module(a, b)
    if transpose_a:
        a = xp.swapaxes(a, -1, -2)
    if transpose_b:
        b = xp.swapaxes(b, -1, -2)
    if a.ndim > 2 and b.ndim == 2 and a.size and b.size:
        # (…, M, K) @ (K, N) is one (…·M, K) @ (K, N) product: NumPy would instead loop over
        # the leading dims, one small GEMM each (a Transformer's linear layer on (B, T, K):
        # 706 µs against 101 for (64, 11, 64) @ (64, 256), float32, 1 thread)
        return xp.matmul(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
    if xp is np and a.ndim > 2 and a.shape[:-2] == b.shape[:-2] and a.dtype == b.dtype:
        return _batched_matmul_on_threads(a, b)
    return xp.matmul(a, b)


#: the fewest multiply-adds a batched product needs before its batch is split over threads
BATCHED_MATMUL_THREADS_ABOVE = 1 << 22


def _batched_matmul_on_threads(a, b):
    """A batch of products (…, M, K) @ (…, K, N) with equal batch dims. NumPy runs them one
    after another, each a small GEMM that OpenBLAS does not split over its threads (attention's
    (B, H, T, T) scores: the same time at 1 and 2 threads); with several intra-op threads the
    batch is cut into one range per thread instead (``parallel.parallel_blas_for``, OpenBLAS
    on one thread meanwhile): 64 products 128x64 @ 64x128, float32, 1.39 → 0.85 ms at 2
    threads. Each product is the same GEMM call either way."""
    from . import parallel
    (m, k), n = a.shape[-2:], b.shape[-1]
    batch = a.shape[:-2]
    count = int(np.prod(batch))
    if count * m * n * k < BATCHED_MATMUL_THREADS_ABOVE or parallel.parallel_blas_threads() <= 1:
        return np.matmul(a, b)
    a3, b3 = a.reshape(count, m, k), b.reshape(count, k, n)
    out = np.empty((count, m, n), dtype=np.result_type(a, b))
    parallel.parallel_blas_for(count, lambda lo, hi: np.matmul(a3[lo:hi], b3[lo:hi],
                                                               out=out[lo:hi]))
    return out.reshape(*batch, m, n)
