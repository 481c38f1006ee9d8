"""``ReduceOp``: how ``all_reduce`` and ``reduce_scatter`` combine the ranks' tensors."""
from __future__ import annotations

import enum


class ReduceOp(enum.Enum):
    """torch.distributed's reduction operators (the ones this package supports).

    With tensors x_r on ranks r = 0 .. W-1, elementwise:
    SUM = Σ_r x_r;  AVG = (1/W) Σ_r x_r (floating point only);  MAX = max_r x_r;  MIN = min_r x_r.
    """
    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"

    def __repr__(self):
        return f"<ReduceOp.{self.name}>"
