"""Devices: 'cpu' (NumPy) and 'cuda[:i]' (CuPy, loaded lazily)."""
from __future__ import annotations

import numbers
import os
import re

_cupy = None
_cupy_error = None


def cupy_module(required: bool = True):
    """Import CuPy on first use. Returns None (or raises when ``required``) without it.

    Tests only: with ``MINITORCH_FAKE_CUPY=1`` in the environment this is the NumPy-backed
    stand-in :mod:`minitorch.testing.fake_cupy` instead, whose ``RawModule`` runs kernels/*.cu
    on the CPU (``make test`` runs the CUDA tests this way on machines without a GPU)."""
    global _cupy, _cupy_error
    if _cupy is None and _cupy_error is None:
        try:
            if os.environ.get("MINITORCH_FAKE_CUPY") == "1":  # the emulated GPU of the tests
                from ..testing import fake_cupy
                cupy = fake_cupy.install()
            else:
                import cupy  # noqa: PLC0415  (optional dependency, imported lazily)
            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception as e:  # ImportError, or CuPy present without a driver/GPU
            # its text only: the exception's traceback would keep alive every frame of the
            # first caller (the first op's arrays and graph) for the life of the process
            _cupy_error = f"{type(e).__name__}: {e}"
    if _cupy is None and required:
        raise RuntimeError(
            "CUDA is not available: minitorch needs CuPy and an NVIDIA GPU for 'cuda' tensors "
            f"(pip install 'minitorch[cuda12]' or 'minitorch[cuda13]'); the import failed with: "
            f"{_cupy_error}")
    return _cupy


def cuda_is_available() -> bool:
    cp = cupy_module(required=False)
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


_TYPES = ("cpu", "cuda")
# torch's grammar: a type of letters, optionally ':' and a decimal index (no sign, no leading 0)
_DEVICE_STRING = re.compile(r"([a-zA-Z_]+)(?::(0|[1-9][0-9]*))?")


class device:
    """``device('cpu')``, ``device('cuda')``, ``device('cuda:1')`` or ``device('cuda', 1)``.

    A string that is not a device raises RuntimeError naming it, with torch's words: an unknown
    type (``'tpu'``) "Expected one of cpu, cuda device type at start of device string: tpu", a
    malformed one (``'cuda:x'``, ``'cuda:-1'``, ``'cuda:'``) "Invalid device string: 'cuda:x'"."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        type = str(type)
        if not type:
            raise RuntimeError("Device string must not be empty")
        match = _DEVICE_STRING.fullmatch(type)
        if match is None:
            raise RuntimeError(f"Invalid device string: {type!r}")
        if match.group(1) not in _TYPES:
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                               f"device string: {type}")
        if match.group(2) is not None:
            if index is not None:
                raise RuntimeError("type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            index = int(match.group(2))
        elif index is not None:
            if isinstance(index, bool) or not isinstance(index, numbers.Integral):
                raise TypeError(f"device(): argument 'index' must be int, not "
                                f"{index.__class__.__name__} ({index!r})")
            index = int(index)
            if index < 0:
                raise RuntimeError(f"Device index must not be negative, got {index} for "
                                   f"device type {type!r}")
        type = match.group(1)
        if type == "cuda" and index is None:
            index = 0
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):  # read-only, as torch.device (tensors share these objects)
        raise AttributeError(f"attribute '{name}' of 'device' objects is not writable")

    def __eq__(self, other):
        if other is self:  # tensors on one device share its object (backend.device_of)
            return True
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + ("" if self.index is None else f", index={self.index}") + ")"


def to_device(array, dev: device):
    """Copy ``array`` to ``dev`` (no copy when it is already there)."""
    import numpy as np
    if dev.type == "cpu":
        if isinstance(array, np.ndarray):
            return array
        return array.get()
    cp = cupy_module(required=True)
    with cp.cuda.Device(dev.index):
        return cp.asarray(array)
