"""How a list of samples becomes a batch (``default_collate``), as torch's rules:

=====================================  =======================================================
each sample is                          the batch is
=====================================  =======================================================
Tensor of shape S                       ``stack(samples)``, shape (B, *S)
NumPy array (numeric) of shape S        the arrays as tensors, stacked (dtype kept)
NumPy scalar                            a 1-d tensor of its dtype
Python float                            a float64 tensor (B,)    (as torch: not float32)
Python int / bool                       an int64 / bool tensor (B,)
str / bytes                             the list unchanged
dict (Mapping)                          the same keys, each value collated
namedtuple                              the same namedtuple, each field collated
tuple / list (Sequence)                 a **list** with one collated entry per position
=====================================  =======================================================

A sequence sample must have the same length in every sample. Anything else (objects, NumPy
string arrays) is a TypeError naming the type.
"""
from __future__ import annotations

import collections.abc
import copy

import numpy as np

from ...backend import dtypes as _dt
from ...creation import as_tensor, tensor
from ...tensor import Tensor, stack

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _is_numpy_str(a) -> bool:
    return a.dtype.kind in "SaUO"


def default_collate(batch):
    """Merge a list of samples into a batch (see the module docstring for the rules)."""
    if not isinstance(batch, (list, tuple)) or len(batch) == 0:
        raise ValueError(f"default_collate expects a non-empty list of samples (got "
                         f"{type(batch).__name__} of length "
                         f"{len(batch) if hasattr(batch, '__len__') else '?'})")
    elem = batch[0]
    elem_type = type(elem)
    if isinstance(elem, Tensor):
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if _is_numpy_str(elem):
            raise TypeError(_ERR.format(elem.dtype))
        return default_collate([as_tensor(np.asarray(b)) for b in batch])
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        if _is_numpy_str(np.asarray(elem)):
            raise TypeError(_ERR.format(np.asarray(elem).dtype))
        return as_tensor(list(batch))
    if isinstance(elem, bool):
        return tensor(list(batch))
    if isinstance(elem, float):
        return tensor(list(batch), dtype=_dt.float64)
    if isinstance(elem, int):
        return tensor(list(batch))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        try:
            return elem_type(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        for i, s in enumerate(batch):
            if len(s) != size:
                raise RuntimeError(f"each element in list of batch should be of equal size "
                                   f"(sample 0 has {size} entries, sample {i} has {len(s)})")
        columns = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # torch returns a list for tuples (backwards compatibility)
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, c in enumerate(columns):
                clone[i] = c
            return clone
        try:
            return elem_type(columns)
        except TypeError:
            return columns
    raise TypeError(_ERR.format(elem_type))


def default_convert(data):
    """Without batching (``batch_size=None``): NumPy arrays and scalars become tensors, containers
    are converted entry by entry (a tuple becomes a list, as torch), anything else is kept."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if _is_numpy_str(data) else as_tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return as_tensor(data)
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        converted = [default_convert(d) for d in data]
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    return data
