"""Map-style and iterable datasets, and ways to combine and split them (torch's semantics)."""
from __future__ import annotations

import bisect
import math
import warnings

from ...random import default_generator
from ...tensor import Tensor


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample ``i``; subclasses define ``__getitem__``
    and (for samplers and ``len(loader)``) ``__len__``. ``a + b`` concatenates two datasets."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define ``__iter__`` (and may define ``__len__``).
    A DataLoader batches it in order; shuffling and samplers do not apply to it."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        raise TypeError("IterableDataset does not support '+' (ConcatDataset needs map-style "
                        "datasets)")


class TensorDataset(Dataset):
    """Samples are ``tuple(t[i] for t in tensors)``: the tensors are indexed along dim 0 together,
    so they must share their first dimension."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, expected a "
                                "Tensor")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a 0-d tensor; each tensor needs "
                                 "a first dimension to index samples along")
        sizes = [t.shape[0] for t in tensors]
        if any(n != sizes[0] for n in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes} differ "
                             f"(shapes {shapes})")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset):
    """The datasets one after another: index ``i`` goes to the dataset whose cumulative size
    first exceeds ``i``. Negative indices count from the end, as for a list."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"absolute value of index {idx} should not exceed dataset length "
                                 f"{n}")
            idx += n
        if idx >= n:
            raise IndexError(f"index {idx} is out of range for a ConcatDataset of length {n}")
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


class Subset(Dataset):
    """``dataset`` seen through ``indices``: ``subset[i]`` is ``dataset[indices[i]]`` (a list of
    positions gives the list of those samples' indices, as torch)."""

    def __init__(self, dataset, indices) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)


def _fraction_lengths(n: int, fractions) -> list[int]:
    """torch's rule: ``floor(n * frac)`` each, then the remainder handed out one at a time,
    round-robin from the first split."""
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f"Fraction at index {i} is not between 0 and 1 (got {frac})")
        lengths.append(math.floor(n * frac))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                          "dataset.", stacklevel=3)
    return lengths


def random_split(dataset, lengths, generator=default_generator) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: then
    ``length_k = floor(frac_k * len(dataset))`` and the ``len(dataset) - sum(length_k)`` left over
    go one each to splits 0, 1, 2, ... (round-robin), exactly as torch. The order comes from one
    permutation of ``range(len(dataset))`` drawn from ``generator`` (the global one, seeded by
    ``minitorch.manual_seed``, by default). The sizes match torch; the permutation itself comes
    from NumPy's generator, so the members differ from torch's for the same seed.
    """
    lengths = list(lengths)
    n = len(dataset)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        lengths = _fraction_lengths(n, lengths)
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset! "
                         f"(lengths {lengths} sum to {sum(lengths)}, the dataset has {n})")
    for i, length in enumerate(lengths):
        if float(length) != int(length) or length < 0:
            raise ValueError(f"random_split: length at index {i} is {length}; give "
                             "non-negative integer lengths or fractions that sum to 1")
    lengths = [int(x) for x in lengths]
    perm = (generator or default_generator).rng.permutation(n).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out
