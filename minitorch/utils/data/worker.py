"""What runs inside a DataLoader worker process: seeding, ``get_worker_info``, the task loop.

Seeding (torch's scheme, so a program that reads ``get_worker_info().seed`` or draws random numbers
in its dataset sees the same structure). Once per iterator the main process draws
``base_seed`` uniformly from ``[0, 2**63)`` with the loader's ``generator`` (or the global one);
worker ``k`` then sets

* ``seed = base_seed + k`` for Python's ``random.seed`` and ``minitorch.manual_seed``;
* NumPy's global ``np.random.seed(state)`` with ``state`` the 4 words that
  ``np.random.SeedSequence([k, base_seed mod 2**32, base_seed // 2**32, 0], pool_size=4)``
  generates: the same 4 words torch feeds NumPy in its workers, so for equal base seeds the
  ``np.random`` draws of worker ``k`` equal torch's.

So the workers of one epoch draw different numbers, a new iterator (a new epoch without
``persistent_workers``) draws a new ``base_seed``, and re-seeding the generator repeats everything.

The loop: each message on the worker's index queue is ``None`` (exit) or ``(epoch, task_id,
task)`` (skipped once the main process has set ``done_event``: it is shutting down); the worker
answers every task on its result pipe with ``(epoch, task_id, kind, payload)``, ``kind`` one of
``"data"`` (the batch), ``"stop"`` (its stream is exhausted: an IterableDataset copy that ran out)
or ``"error"`` (a ``WorkerFailure``). A new ``epoch`` number (persistent workers) restarts the
worker's stream. The worker ignores SIGINT (Ctrl-C reaches the whole process group:
the main process decides and shuts the workers down), and exits on its own when the main process
is gone.
"""
from __future__ import annotations

import dataclasses
import multiprocessing
import pickle
import queue
import random
import signal
import traceback

import numpy as np

from ...random import manual_seed
from .fetch import create_fetcher

_POLL_S = 1.0  # how often an idle worker checks that the main process still lives


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """Inside a worker: its ``id`` (0 .. num_workers-1), ``num_workers``, the ``seed`` it was
    seeded with, and ``dataset``, this process's own copy of the dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The ``WorkerInfo`` of the current DataLoader worker process; ``None`` in the main process.

    An ``IterableDataset`` uses it to split its stream (each worker iterates its own copy)::

        info = get_worker_info()
        if info is not None:
            start, step = info.id, info.num_workers   # worker k takes items k, k+n, k+2n, ...
    """
    return _worker_info


def numpy_seed_state(base_seed: int, worker_id: int) -> np.ndarray:
    """The 4 uint32 words worker ``worker_id`` seeds NumPy's global generator with."""
    entropy = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32, 0]
    return np.random.SeedSequence(entropy, pool_size=4).generate_state(4)


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed Python's ``random``, minitorch's global generator and NumPy's for this worker."""
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(numpy_seed_state(base_seed, worker_id))
    return seed


@dataclasses.dataclass
class WorkerFailure:
    """An exception raised in a worker, as text (the exception object itself may not pickle)."""

    worker_id: int
    where: str
    type_name: str
    traceback: str
    exc_type: type | None = None

    def message(self) -> str:
        return (f"Caught {self.type_name} in DataLoader worker process {self.worker_id} "
                f"{self.where}.\nOriginal {self.traceback}")


@dataclasses.dataclass
class WorkerSpec:
    """Everything a worker needs, sent once when it starts (pickled under spawn/forkserver)."""

    worker_id: int
    num_workers: int
    base_seed: int
    dataset: object
    iterable: bool
    auto_collation: bool
    collate_fn: object
    drop_last: bool
    worker_init_fn: object


def _failure(spec: WorkerSpec, where: str, exc: BaseException) -> WorkerFailure:
    return WorkerFailure(spec.worker_id, where, type(exc).__name__, traceback.format_exc(),
                         type(exc))


def _send(conn, spec: WorkerSpec, msg) -> None:
    """Send a reply; a payload that cannot be pickled becomes an error naming its task."""
    epoch, task_id, kind, payload = msg
    try:
        conn.send(msg)
        return
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        if kind == "error":  # the exception's class did not pickle: send it by name only
            failure = dataclasses.replace(payload, exc_type=None)
        else:
            failure = _failure(spec, f"while sending the batch of task {task_id} to the main "
                                     f"process (it could not be pickled)", e)
    conn.send((epoch, task_id, "error", failure))


def worker_loop(spec: WorkerSpec, index_queue, result_conn, done_event) -> None:
    """The worker process's main function (see the module docstring)."""
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    seed = seed_worker(spec.base_seed, spec.worker_id)
    _worker_info = WorkerInfo(spec.worker_id, spec.num_workers, seed, spec.dataset)
    init_failure = None
    if spec.worker_init_fn is not None:
        try:
            spec.worker_init_fn(spec.worker_id)
        except Exception as e:
            init_failure = _failure(spec, f"while running worker_init_fn({spec.worker_id})", e)
    parent = multiprocessing.parent_process()
    epoch, fetcher = None, None
    try:
        while True:
            try:
                msg = index_queue.get(timeout=_POLL_S)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    return
                continue
            if msg is None:
                return
            if done_event.is_set():
                continue  # shutting down: skip the tasks still queued, wait for None
            task_epoch, task_id, task = msg
            if task_epoch != epoch:  # a new epoch restarts the stream of an IterableDataset
                epoch = task_epoch
                fetcher = create_fetcher(spec.iterable, spec.dataset, spec.auto_collation,
                                         spec.collate_fn, spec.drop_last)
            if init_failure is not None:
                reply = (epoch, task_id, "error", init_failure)
            else:
                try:
                    reply = (epoch, task_id, "data", fetcher.fetch(task))
                except StopIteration as e:
                    if not spec.iterable:
                        reply = (epoch, task_id, "error", _failure(spec, fetcher.where, e))
                    else:
                        reply = (epoch, task_id, "stop", None)
                except Exception as e:
                    reply = (epoch, task_id, "error", _failure(spec, fetcher.where, e))
            _send(result_conn, spec, reply)
            del reply
    except (BrokenPipeError, EOFError, ConnectionResetError):
        return  # the main process closed its end: it is shutting down
