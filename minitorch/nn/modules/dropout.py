"""``Dropout``: zero each element with probability p while training, scale the rest by 1/(1−p)."""
from __future__ import annotations

import numbers

from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


class Dropout(Module):
    """In ``train()`` mode y = x · mask / (1 − p), mask ~ Bernoulli(1 − p) per element, drawn from
    minitorch's global generator; in ``eval()`` mode y = x."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """In ``train()`` mode zeroes whole channels: y[n, c] = x[n, c] · m[n, c] / (1 − p), one
    m[n, c] ~ Bernoulli(1 − p) per (sample, channel) (``F.dropout2d``); in ``eval()`` y = x."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)
