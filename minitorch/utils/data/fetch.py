"""Fetchers: one *task* of a DataLoader becomes one batch, in the main process or in a worker.

A task is what the loader's index sampler yields, or, for an ``IterableDataset``, how many samples
to take from the stream:

=========================  ==============================  ===================================
dataset, batching           task                            batch
=========================  ==============================  ===================================
map-style, batch_size=B     a list of indices ``[i, ...]``  ``collate_fn([ds[i] for i ...])``
map-style, batch_size=None  one index ``i``                 ``collate_fn(ds[i])`` (convert)
iterable, batch_size=B      ``B``                           the next ``B`` samples, collated
iterable, batch_size=None   ``None``                        ``collate_fn(next sample)``
=========================  ==============================  ===================================

A stream that runs out mid-batch gives the shorter batch (dropped with ``drop_last``), and every
fetch after that raises ``StopIteration``. The stream's iterator is made at the first fetch, so
``iter(dataset)`` runs in the process that loads (a worker's own copy, with its worker info set).

``where`` says what the last fetch was doing, so a worker can name the dataset index that failed.
"""
from __future__ import annotations


class MapFetcher:
    """Batches from a map-style dataset, ``dataset[i]`` per index (or ``__getitems__(indices)``)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.where = ""

    def fetch(self, task):
        if not self.auto_collation:
            self.where = f"while fetching dataset index {task!r}"
            sample = self.dataset[task]
            self.where = f"while converting the sample of dataset index {task!r}"
            return self.collate_fn(sample)
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            self.where = f"while fetching dataset indices {task!r} with __getitems__"
            samples = getitems(task)
        else:
            samples = []
            for i in task:
                self.where = f"while fetching dataset index {i!r} (of the batch {task!r})"
                samples.append(self.dataset[i])
        self.where = f"while collating the batch of dataset indices {task!r}"
        return self.collate_fn(samples)


class IterableFetcher:
    """Batches from an ``IterableDataset``: the next ``task`` samples of its stream."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.iterator = None
        self.ended = False
        self.taken = 0  # samples taken from this stream so far
        self.where = ""

    def _next_sample(self):
        self.where = f"while fetching sample {self.taken} of the IterableDataset's stream"
        if self.iterator is None:
            self.iterator = iter(self.dataset)
        sample = next(self.iterator)
        self.taken += 1
        return sample

    def fetch(self, task):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            try:
                sample = self._next_sample()
            except StopIteration:
                self.ended = True
                raise
            self.where = f"while converting sample {self.taken - 1} of the stream"
            return self.collate_fn(sample)
        batch = []
        while len(batch) < task:
            try:
                batch.append(self._next_sample())
            except StopIteration:
                self.ended = True
                break
        if not batch or (self.drop_last and len(batch) < task):
            raise StopIteration
        self.where = (f"while collating samples {self.taken - len(batch)}..{self.taken - 1} of "
                      f"the stream")
        return self.collate_fn(batch)


def create_fetcher(iterable: bool, dataset, auto_collation: bool, collate_fn, drop_last: bool):
    if iterable:
        return IterableFetcher(dataset, auto_collation, collate_fn, drop_last)
    return MapFetcher(dataset, auto_collation, collate_fn)
