"""Activation layers: the Module forms of ``F.relu``, ``sigmoid``, ``tanh``, ``softmax`` and
``log_softmax``."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"]


class ReLU(Module):
    """y = max(x, 0). ``inplace=True`` overwrites the input (as ``F.relu(x, inplace=True)``)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """y = 1 / (1 + exp(−x))."""

    def forward(self, input):
        return input.sigmoid()


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, input):
        return input.tanh()


class Softmax(Module):
    """y_i = exp(x_i) / Σ_j exp(x_j) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)  # dim=None: torch's legacy implicit dim, with a warning

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y_i = x_i − log Σ_j exp(x_j) along ``dim``."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
