"""``minitorch.accelerator``: torch 2.x's device-agnostic accelerator API.

minitorch has one kind of accelerator, CUDA through CuPy, so each function answers for CUDA:

    device = (minitorch.accelerator.current_accelerator().type
              if minitorch.accelerator.is_available() else "cpu")

On a machine without a usable GPU (no CuPy, or CuPy without a driver or device) ``is_available()``
is False, ``device_count()`` is 0 and ``current_accelerator()`` is None, as with a CPU-only torch;
the functions that act on a device (``current_device_index``, ``set_device_index``,
``synchronize``) then raise RuntimeError, as torch's do.

``current_accelerator()`` without ``check_available`` reports CUDA when CuPy is installed even
if no GPU answers (torch reports the accelerator its build supports); ``check_available=True``
also asks for a device. Setting the current device changes CuPy's current device; note that in
minitorch a bare ``'cuda'`` always means ``cuda:0`` (``device('cuda').index == 0``).
"""
from __future__ import annotations

import contextlib
import importlib.util
import numbers

from .backend import cuda_is_available, cupy_module
from .backend import device as _device

_NONE_AVAILABLE = "Cannot access accelerator device when none is available."


def is_available() -> bool:
    """True when a CUDA device can be used (CuPy imports and sees at least one GPU)."""
    return cuda_is_available()


def current_accelerator(check_available: bool = False) -> _device | None:
    """``device('cuda')`` when minitorch can use CUDA here, else None.

    Without ``check_available`` it is enough that CuPy is installed (torch answers for its build,
    whether or not a GPU is present); with it, a device must also be available."""
    if check_available:
        return _device("cuda") if is_available() else None
    return _device("cuda") if importlib.util.find_spec("cupy") is not None else None


def device_count() -> int:
    """The number of CUDA devices CuPy sees; 0 without an accelerator."""
    if not is_available():
        return 0
    return int(cupy_module().cuda.runtime.getDeviceCount())


def _require() -> None:
    if not is_available():
        raise RuntimeError(_NONE_AVAILABLE)


def _index(dev, who: str) -> int:
    """The device index of an int, a ``'cuda:i'`` string or a cuda ``device``, range-checked."""
    if isinstance(dev, bool) or dev is None:
        raise ValueError(f"{who}: expected a device with an index or an integer, got {dev!r}")
    if isinstance(dev, numbers.Integral):
        index = int(dev)
    else:
        d = _device(dev)
        if d.type != "cuda":
            raise ValueError(f"{who}: {str(d)!r} is not the current accelerator (cuda)")
        index = d.index
    count = device_count()
    if not 0 <= index < count:
        raise RuntimeError(f"{who}: device index {index} is out of range: {count} CUDA "
                           f"device{'s' if count != 1 else ''} present")
    return index


def current_device_index() -> int:
    """The index of CuPy's current CUDA device. RuntimeError without an accelerator."""
    _require()
    return int(cupy_module().cuda.runtime.getDevice())


def set_device_index(device, /) -> None:
    """Make CUDA device ``device`` (an int, ``'cuda:i'`` or ``device('cuda', i)``) CuPy's current
    one. RuntimeError without an accelerator or for an index out of range."""
    if device is None:
        raise ValueError(f"set_device_index: expected a device with an index or an integer, got "
                         f"{device!r}")
    _require()
    cupy_module().cuda.runtime.setDevice(_index(device, "set_device_index"))


def synchronize(device=None, /) -> None:
    """Wait until every kernel queued on ``device`` (default: the current one) has finished.
    RuntimeError without an accelerator."""
    _require()
    index = current_device_index() if device is None else _index(device, "synchronize")
    cupy_module().cuda.Device(index).synchronize()


@contextlib.contextmanager
def device_index(device, /):
    """``with device_index(i):`` makes device ``i`` current inside the block and restores the
    previous one after; ``None`` does nothing."""
    if device is None:
        yield
        return
    previous = current_device_index()
    set_device_index(device)
    try:
        yield
    finally:
        set_device_index(previous)


current_device_idx = current_device_index  # torch's older names
set_device_idx = set_device_index
