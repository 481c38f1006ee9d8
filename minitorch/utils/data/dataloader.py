"""DataLoader: batches of samples from a dataset, in the main process or in worker processes
(torch's semantics).

    loader = DataLoader(dataset, batch_size=64, shuffle=True, generator=g, drop_last=False,
                        num_workers=2, persistent_workers=True, pin_memory=True)
    for x, y in loader: ...

Per epoch, a *sampler* orders the indices (``SequentialSampler``, or ``RandomSampler`` when
``shuffle=True``), a ``BatchSampler`` cuts them into lists of ``batch_size`` (the last, shorter one
dropped when ``drop_last``), the samples of each list are fetched with ``dataset[i]`` and merged by
``collate_fn`` (``default_collate``: tensors stacked, numbers to tensors, tuples/dicts recursed).
``len(loader)`` is ``floor(N / B)`` with ``drop_last`` and ``ceil(N / B)`` without.

Shuffling is reproducible: with ``generator=minitorch.Generator().manual_seed(s)`` the loader
draws each epoch's permutation from that generator (so epoch 2 differs from epoch 1, and a
re-created generator repeats the sequence); without one, each epoch's order is seeded from the
global generator, which ``minitorch.manual_seed`` resets. The permutations are NumPy's, not
torch's: the same seed gives a different (equally valid) order than torch. Each ``iter(loader)``
first draws the workers' base seed from that generator (also with ``num_workers=0``, as torch),
so the order does not depend on ``num_workers``.

Worker processes (``num_workers > 0``; see ``multiprocess.py`` for the scheme, ``worker.py`` for
the seeding). The sampler runs in the main process; batch ``t`` is loaded by worker
``t mod num_workers`` (round-robin) and the batches come out in the sampler's order, so they are
exactly those of ``num_workers=0``. ``prefetch_factor`` (default 2) batches per worker are in
flight. Worker ``k`` seeds ``random``, NumPy's global generator and minitorch's with
``base_seed + k`` (NumPy's as torch derives it) and calls ``worker_init_fn(k)``;
``get_worker_info()`` gives ``(id, num_workers, seed, dataset)`` inside a worker, ``None``
outside. An ``IterableDataset`` is iterated by *each* worker on its own copy: split the stream
with ``get_worker_info()``, or every worker yields all of it. ``persistent_workers=True`` keeps
the processes (and their datasets and random state) from one epoch to the next; otherwise they
are shut down at the end of each epoch, when the iterator is dropped (``break``), on an error,
on KeyboardInterrupt and at interpreter exit. An exception in a worker is raised again in the
main process, same type, naming the worker, the dataset index and the original traceback; a
worker that dies is a RuntimeError with its exit code; ``timeout > 0`` bounds each wait for a
batch (RuntimeError).

Start method. ``multiprocessing_context`` (``'fork'``, ``'spawn'``, ``'forkserver'`` or a context
object) chooses how workers start; by default they start as torch's do, with the platform's
default method (``multiprocessing.set_start_method`` honoured): ``'fork'`` on Linux before Python
3.14, ``'forkserver'`` from 3.14, ``'spawn'`` on macOS and Windows. Chosen deliberately: it is
what lets a torch program run unchanged, since with ``'fork'`` the dataset is not pickled, so
lambdas, local classes and scripts without ``if __name__ == '__main__':`` work, and a worker
starts in milliseconds instead of re-importing NumPy and the main module. Fork copies only the
calling thread; the known hazard is a lock held by another thread at that moment. minitorch's own
threads are NumPy's OpenBLAS pool, which re-creates itself safely after fork (pthread_atfork
handlers); there is no OpenMP runtime (the usual cause of forked-worker deadlocks with torch).
Pass ``multiprocessing_context='spawn'`` (or ``'forkserver'``) when the main process runs threads
of its own that may hold locks, or when workers must use the GPU (CUDA cannot be used in a forked
child of a process that initialised it); then the dataset, ``collate_fn`` and
``worker_init_fn`` must be picklable, and the error names the one that is not.

Differences from torch: batches cross from the workers as pickled arrays over a pipe (no shared
memory); ``pin_memory`` (and ``pin_memory_device``) is accepted and does nothing, with or without
workers (the NumPy backend has no pinned host memory; on CUDA, CuPy copies from pageable memory);
``timeout`` matters only with workers (torch refuses it without workers, we ignore it).
"""
from __future__ import annotations

import multiprocessing

from ...random import default_generator
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .fetch import create_fetcher
from .multiprocess import MultiProcessIter
from .sampler import BatchSampler, RandomSampler, SequentialSampler


def _check_context(context, num_workers: int):
    if context is None:
        return None
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                         f"(num_workers > 0), but got num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a "
                        f"string specifying the start method, but got "
                        f"multiprocessing_context={context!r}")
    return context


class DataLoader:
    """Iterate over ``dataset`` in batches. Arguments as ``torch.utils.data.DataLoader``
    (see the module docstring for workers, seeding, the start method and ``pin_memory``)."""

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
            raise ValueError(f"num_workers option should be a non-negative integer (got "
                             f"{num_workers!r}); use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative (got {timeout})")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing. "
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if num_workers > 0 and (not isinstance(prefetch_factor, int)
                                or isinstance(prefetch_factor, bool) or prefetch_factor <= 0):
            raise ValueError(f"prefetch_factor option should be a positive integer with "
                             f"num_workers > 0 (got prefetch_factor={prefetch_factor!r})")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = _check_context(multiprocessing_context, num_workers)
        self.pin_memory = pin_memory  # a no-op (module docstring)
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.in_order = in_order
        self._iterator = None  # the persistent workers' iterator
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None and not self._iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size is not None and self._iterable:
            BatchSampler(range(0), batch_size, drop_last)  # validate batch_size and drop_last

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        """What yields the tasks: lists of indices (batching) or single indices."""
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def _draw_base_seed(self) -> int:
        """The workers' base seed, drawn once per iterator, also without workers (as torch, so
        the shuffling that follows sees the same generator state whatever num_workers is)."""
        rng = (self.generator if self.generator is not None else default_generator).rng
        return int(rng.integers(0, 2**63))

    def _single_process_iter(self):
        fetcher = create_fetcher(self._iterable, self.dataset, self._auto_collation,
                                 self.collate_fn, self.drop_last)
        if not self._iterable:
            for task in self._index_sampler:
                yield fetcher.fetch(task)
            return
        while True:
            try:
                batch = fetcher.fetch(self.batch_size)
            except StopIteration:
                return
            yield batch

    def __iter__(self):
        if self.num_workers == 0:
            self._draw_base_seed()
            return self._single_process_iter()
        if self.persistent_workers:
            if self._iterator is None or self._iterator._closed:
                self._iterator = MultiProcessIter(self, self._draw_base_seed())
            else:
                self._iterator._reset()
            return self._iterator
        return MultiProcessIter(self, self._draw_base_seed())

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError when the stream has no length, as torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)
