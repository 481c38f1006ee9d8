"""``minitorch.backends.cuda``: ``is_built()`` and the inert ``matmul.allow_tf32`` flag."""
from __future__ import annotations

import importlib.util


def is_built() -> bool:
    """True when CuPy is installed, minitorch's way of being "built with CUDA" (a GPU may still
    be missing: ``minitorch.cuda.is_available()`` asks for one)."""
    return importlib.util.find_spec("cupy") is not None


class _MatmulFlags:
    """``matmul.allow_tf32`` (torch's default False): settable, no effect; minitorch's SGEMM
    kernel computes in full float32 whatever it says (CuPy's cuBLAS path too, unless the
    environment sets ``CUPY_TF32=1``)."""

    def __init__(self) -> None:
        self.allow_tf32 = False

    def __repr__(self) -> str:
        return f"matmul(allow_tf32={self.allow_tf32})"


matmul = _MatmulFlags()
