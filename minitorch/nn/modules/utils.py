"""Argument normalisation shared by the layers."""
from __future__ import annotations

import collections.abc


def _pair(x) -> tuple:
    """2 → (2, 2); (2, 3) → (2, 3) (how Conv2d and friends store sizes)."""
    if isinstance(x, collections.abc.Iterable):
        return tuple(x)
    return (x, x)
