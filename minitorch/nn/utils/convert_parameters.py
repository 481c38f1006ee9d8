"""One flat vector for all parameters and back (``torch.nn.utils.parameters_to_vector``)."""
from __future__ import annotations

from ...tensor import Tensor, cat

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(params):
    devices = {str(p.device) for p in params}
    if len(devices) > 1:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        f"supported (devices: {sorted(devices)})")


def parameters_to_vector(parameters) -> Tensor:
    """cat(p.view(-1) for p in parameters): differentiable, a new tensor."""
    params = list(parameters)
    _check_same_device(params)
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters) -> None:
    """Point each parameter's data at its slice of ``vec`` (shared memory, as torch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected minitorch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    _check_same_device(params)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise RuntimeError(f"vector_to_parameters: the vector has {vec.numel()} elements but the "
                           f"parameters have {total}")
    pointer = 0
    for param in params:
        n = param.numel()
        param.data = vec.detach()._data[pointer:pointer + n].reshape(param.shape)
        pointer += n
