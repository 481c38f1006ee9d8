"""``Parameter``: a Tensor that a Module registers as one of its learnable weights.

Assigning a Parameter to a Module attribute (``self.weight = Parameter(...)``) is what makes it
appear in ``module.parameters()`` and in the state dict; a plain Tensor attribute does not.
"""
from __future__ import annotations

from ..backend import default_float
from ..tensor import Tensor


class Parameter(Tensor):
    """``Parameter(data=None, requires_grad=True)``: a leaf Tensor that requires grad by default.

    It shares storage with ``data`` (no copy), as torch's does. ``Parameter()`` is an empty
    float32 tensor.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            import numpy as np
            data = Tensor._make(np.empty((0,), dtype=default_float.np))
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor as data, got {type(data).__name__}")
        param = cls._make(data._data)  # wraps the same array, as a Parameter
        param._version_counter = data._version_counter  # the same storage: in-place writes are shared
        param.requires_grad = requires_grad  # the setter refuses integer dtypes
        return param

    def __init__(self, data=None, requires_grad=True):
        pass  # everything happened in __new__ (Tensor.__init__ would copy the data)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        # pickle / copy.deepcopy: rebuild from a copy of the array, keeping requires_grad
        return (_rebuild_parameter,
                (self._cpu_array().copy(), self.requires_grad, str(self.device)))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(Tensor._make(self._data.copy()), self.requires_grad)
        if self.grad is not None:
            result.grad = Tensor._make(self.grad._data.copy())
        memo[id(self)] = result
        return result


def _rebuild_parameter(array, requires_grad, device):
    t = Tensor._make(array)
    if device != "cpu":
        t = t.to(device)
    return Parameter(t, requires_grad)
