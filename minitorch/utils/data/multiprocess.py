"""The main-process side of loading with worker processes (``DataLoader(num_workers=n > 0)``).

Scheme (torch's, so the batches and their order are the same):

* The sampler and shuffling stay in the main process. Task ``t`` (a list of indices, or for an
  IterableDataset a batch size) goes to the next *active* worker in the cycle 0, 1, ..., n-1, 0, ...
  on that worker's own index queue; ``prefetch_factor * n`` tasks are sent at the start, and one
  more each time a batch is handed out (so at most ``prefetch_factor`` batches per worker are in
  flight).
* Each worker answers on its own result pipe. Answers arrive in any order; they are kept until
  their turn and handed out in task order (``in_order=False``: as they arrive).
* IterableDataset: every worker iterates its own copy. A worker whose copy runs out answers "stop",
  leaves the cycle, and its remaining tasks are skipped; the epoch ends when every worker stopped.
* The main process waits on the result pipes *and* the workers' process sentinels at once, so a
  worker that dies (``os._exit``, SIGKILL, out-of-memory killer) is a ``RuntimeError`` naming it
  and its exit code, never a hang; ``timeout > 0`` bounds each wait.
* Shutdown (end of epoch without ``persistent_workers``, an error, ``KeyboardInterrupt``, the
  iterator garbage-collected after a ``break``, interpreter exit): ``None`` to every worker, the
  result pipes closed (a worker blocked sending a batch gets EPIPE and exits), a join with a
  deadline, then SIGTERM/SIGKILL for any worker still busy. Workers are daemon processes and exit by
  themselves when the main process disappears.
* ``persistent_workers=True``: the same processes serve every epoch; tasks carry an epoch number,
  answers from an abandoned epoch are dropped, and a new epoch restarts each worker's stream.
"""
from __future__ import annotations

import atexit
import itertools
import multiprocessing
import multiprocessing.connection
import multiprocessing.util  # noqa: F401  (registered first, so our atexit hook runs before its)
import os
import signal
import time
import weakref

from .worker import WorkerSpec, worker_loop

_GRACE_S = 2.0  # how long a shutdown waits for idle workers to exit before SIGTERM
_ABORT_GRACE_S = 0.2  # the same after an error, a timeout or KeyboardInterrupt
_SKIP = object()  # a task whose worker had nothing left (IterableDataset)

_live_iterators: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _shutdown_live_iterators() -> None:
    for it in list(_live_iterators):
        it._shutdown(_GRACE_S)


def start_method_context(context):
    """The multiprocessing context the workers start with: the user's (a start-method name or
    a context), else the platform's default, as torch (see the DataLoader docstring: why)."""
    if context is None:
        return multiprocessing.get_context()
    if isinstance(context, str):
        return multiprocessing.get_context(context)
    return context


class _KeyErrorMessage(str):
    """KeyError shows ``repr(message)``; this keeps the traceback text readable."""

    def __repr__(self) -> str:
        return str(self)


def _rebuild_error(failure) -> BaseException:
    """The worker's exception as the same type (RuntimeError if that type cannot be rebuilt)."""
    msg = failure.message()
    exc_type = failure.exc_type
    if isinstance(exc_type, type) and issubclass(exc_type, Exception):
        if exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            return exc_type(msg)
        except Exception:
            pass
    return RuntimeError(msg)


def _describe_exit(code) -> str:
    if code is None:
        return "an unknown exit code"
    text = f"exit code {code}"
    if code < 0:
        try:
            text += f" (killed by signal {signal.Signals(-code).name})"
        except ValueError:
            pass
    return text


class MultiProcessIter:
    """One pass (or, with persistent workers, every pass) over a DataLoader with workers."""

    def __init__(self, loader, base_seed: int) -> None:
        self._owner_pid = os.getpid()
        self._closed = True  # until the workers are up
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor
        self._timeout = loader.timeout
        self._in_order = loader.in_order
        self._persistent = loader.persistent_workers
        self._iterable = loader._iterable
        self._batch_size = loader.batch_size
        self._index_sampler = loader._index_sampler
        self._workers, self._index_queues, self._readers = [], [], []
        self._epoch = -1
        ctx = start_method_context(loader.multiprocessing_context)
        self._method = ctx.get_start_method()
        self._done_event = ctx.Event()
        _live_iterators.add(self)
        self._closed = False
        for wid in range(self._num_workers):
            spec = WorkerSpec(wid, self._num_workers, base_seed, loader.dataset, self._iterable,
                              loader._auto_collation, loader.collate_fn, loader.drop_last,
                              loader.worker_init_fn)
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()  # never block interpreter exit on unsent tasks
            reader, writer = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=worker_loop, daemon=True,
                               args=(spec, index_queue, writer, self._done_event),
                               name=f"minitorch DataLoader worker {wid}")
            try:
                proc.start()
            except Exception as e:
                reader.close()
                writer.close()
                index_queue.close()
                self._shutdown(_ABORT_GRACE_S)
                raise self._start_error(wid, spec, e) from e
            writer.close()  # only the worker writes: its death is EOF on our reader
            self._workers.append(proc)
            self._index_queues.append(index_queue)
            self._readers.append(reader)
        self._reset()

    # ---- epochs ---------------------------------------------------------------------------
    def _reset(self) -> None:
        """Start an epoch: a fresh sampler pass, every worker active, the prefetch primed."""
        self._epoch += 1
        self._sampler_iter = None if self._iterable else iter(self._index_sampler)
        self._active = [True] * self._num_workers
        self._cycle = itertools.cycle(range(self._num_workers))
        self._sent = 0  # tasks sent this epoch
        self._rcvd = 0  # next task to hand out (in order)
        self._pending = {}  # task id -> worker id, not answered yet
        self._done = {}  # task id -> batch (or _SKIP), answered, not handed out yet
        for _ in range(self._prefetch * self._num_workers):
            self._try_put()

    def _try_put(self) -> None:
        for _ in range(self._num_workers):
            wid = next(self._cycle)
            if self._active[wid]:
                break
        else:
            return
        if self._iterable:
            task = self._batch_size
        else:
            try:
                task = next(self._sampler_iter)
            except StopIteration:
                return
        self._index_queues[wid].put((self._epoch, self._sent, task))
        self._pending[self._sent] = wid
        self._sent += 1

    # ---- the iterator protocol -------------------------------------------------------------
    def __iter__(self):
        return self

    def __len__(self) -> int:
        if self._iterable:
            raise TypeError("the iterator of a DataLoader over an IterableDataset has no length "
                            "(len(loader) asks the dataset)")
        return len(self._index_sampler)

    def __next__(self):
        if self._closed:
            raise StopIteration
        try:
            return self._next_batch()
        except StopIteration:
            raise
        except BaseException:  # worker error, death, timeout, KeyboardInterrupt: clean up first
            self._shutdown(_ABORT_GRACE_S)
            raise

    def _next_batch(self):
        while True:
            if self._in_order:
                while self._rcvd < self._sent and self._done.get(self._rcvd, None) is _SKIP:
                    del self._done[self._rcvd]
                    self._rcvd += 1
                if self._rcvd in self._done:
                    batch = self._done.pop(self._rcvd)
                    self._rcvd += 1
                    self._try_put()
                    return batch
            else:
                for t in [t for t, b in self._done.items() if b is _SKIP]:
                    del self._done[t]
                if self._done:
                    batch = self._done.pop(min(self._done))
                    self._try_put()
                    return batch
            if not self._pending:  # nothing in flight and nothing more to send: epoch over
                if not self._persistent:
                    self._shutdown(_GRACE_S)
                raise StopIteration
            self._handle(*self._receive())

    def _handle(self, wid: int, msg) -> None:
        epoch, task_id, kind, payload = msg
        if epoch != self._epoch:
            return  # an answer to an epoch that was abandoned (persistent workers)
        del self._pending[task_id]
        if kind == "data":
            self._done[task_id] = payload
        elif kind == "stop":
            self._active[wid] = False
            self._done[task_id] = _SKIP
            self._try_put()
        else:
            raise _rebuild_error(payload) from None

    def _receive(self):
        """Block until some worker answers; return ``(worker_id, message)``. A worker that exited
        (its sentinel fires, its pipe reaches EOF) is an error once what it sent has been read."""
        deadline = None if self._timeout <= 0 else time.monotonic() + self._timeout
        owner = {}
        for wid, (proc, reader) in enumerate(zip(self._workers, self._readers)):
            owner[reader] = wid
            owner[proc.sentinel] = wid
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = multiprocessing.connection.wait(list(owner), timeout=remaining)
            if not ready:
                busy = sorted(set(self._pending.values()))
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds waiting "
                                   f"for a batch from its worker processes (workers with tasks "
                                   f"in flight: {busy})")
            for obj in ready:
                wid = owner[obj]
                reader = self._readers[wid]
                if reader.poll(0):  # a message, or EOF
                    try:
                        return wid, reader.recv()
                    except EOFError:
                        pass
                raise self._died(wid)

    def _died(self, wid: int) -> RuntimeError:
        proc = self._workers[wid]
        proc.join(timeout=1.0)  # EOF on the pipe can come a moment before the exit status
        hint = ""
        if self._method != "fork" and proc.exitcode == 1:
            hint = (f" (under the {self._method!r} start method the worker re-imports the main "
                    f"module: its output above shows why it failed, e.g. a script without "
                    f"`if __name__ == '__main__':`)")
        return RuntimeError(f"DataLoader worker {wid} (pid {proc.pid}) exited unexpectedly with "
                            f"{_describe_exit(proc.exitcode)}{hint}")

    # ---- errors and shutdown ---------------------------------------------------------------
    def _start_error(self, wid: int, spec: WorkerSpec, exc: Exception) -> BaseException:
        """Name the argument that could not be sent to a spawn/forkserver worker."""
        from multiprocessing.reduction import ForkingPickler
        culprit = None
        parts = (("dataset", spec.dataset), ("collate_fn", spec.collate_fn),
                 ("worker_init_fn", spec.worker_init_fn))
        for name, obj in parts if self._method != "fork" else ():  # fork pickles nothing
            try:
                ForkingPickler.dumps(obj)
            except Exception:
                culprit = (name, obj)
                break
        if culprit is None:
            return RuntimeError(f"DataLoader could not start worker {wid} with the "
                                f"{self._method!r} start method: {type(exc).__name__}: {exc}")
        name, obj = culprit
        kind = type(obj)
        msg = (f"DataLoader could not start worker {wid} with the {self._method!r} start method: "
               f"the {name} ({kind.__module__}.{kind.__qualname__} object) cannot be pickled "
               f"to send it to the worker process ({type(exc).__name__}: {exc}). With 'spawn' "
               f"or 'forkserver' the dataset, collate_fn and worker_init_fn must be picklable "
               f"(defined at a module's top level, no lambdas, open files or locks); or pass "
               f"multiprocessing_context='fork' where the platform has it.")
        try:
            return type(exc)(msg)
        except Exception:
            return RuntimeError(msg)

    def _shutdown(self, grace: float) -> None:
        """Stop the workers (idempotent): ask, wait up to ``grace`` seconds, then terminate.

        While waiting, whatever the workers still send is read and dropped: a worker blocked
        writing a batch bigger than the pipe holds would otherwise never see the request (closing
        our end does not unblock it: forked workers hold copies of the read ends)."""
        if self._closed or os.getpid() != self._owner_pid:
            return
        self._closed = True
        _live_iterators.discard(self)
        if self._done_event is not None:
            self._done_event.set()  # workers skip the tasks still queued
        for q in self._index_queues:
            q.put(None)
        running = {proc.sentinel for proc in self._workers}
        readers = set(self._readers)
        deadline = time.monotonic() + grace
        while running and time.monotonic() < deadline:
            remaining = max(0.0, deadline - time.monotonic())
            for obj in multiprocessing.connection.wait(list(running | readers), timeout=remaining):
                if obj in running:  # that worker exited
                    running.discard(obj)
                    continue
                try:
                    obj.recv_bytes()
                except (EOFError, OSError):
                    readers.discard(obj)
        for proc in self._workers:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=1.0)
            if proc.is_alive():
                proc.kill()
            proc.join()
        for reader in self._readers:
            reader.close()
        for q in self._index_queues:
            q.close()
        self._workers = []

    def __del__(self) -> None:
        try:
            self._shutdown(_GRACE_S)
        except Exception:
            pass
