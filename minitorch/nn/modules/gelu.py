"""``GELU``: y = x Φ(x), or its tanh approximation (``F.gelu``)."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["GELU"]


class GELU(Module):
    """``GELU(approximate='none')``; ``approximate='tanh'`` is GPT-2's approximation."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
