"""``DataLoader(num_workers > 0)``: real worker processes, checked against num_workers=0 and torch.

What is compared: the batches of 0, 1, 2 and 3 workers (hypothesis draws the dataset size, batch
size, drop_last and a seeded shuffle); which worker loads which batch and the batches an
IterableDataset gives with workers (split with ``get_worker_info`` or not, drop_last per worker)
against torch's DataLoader; the per-worker seeding of ``random``, NumPy and the library's own
generator against torch's rule; the prefetch depth against torch's. What is checked for itself:
errors in workers (type, worker id, dataset index, traceback), dying workers, timeouts, Ctrl-C,
early ``break``, interpreter exit, persistent workers (same PIDs), the 'spawn' start method.
After every failure path no child process is left (``multiprocessing.active_children()``).

The datasets are module-level classes, so the tests also hold where the default start method
pickles them ('forkserver', 'spawn').
"""
import multiprocessing
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data._utils.worker import _generate_state as torch_numpy_seed_state

import minitorch
import minitorch.utils.data as mud
from minitorch.utils.data import DataLoader, TensorDataset, get_worker_info

# torch warns when num_workers exceeds the cores of this 2-core machine
pytestmark = pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")


def no_children():
    """True when no worker process is left (active_children also reaps finished ones)."""
    return multiprocessing.active_children() == []


def as_lists(batch):
    """A batch (tensor, list of tensors, number) as nested Python lists."""
    if isinstance(batch, (list, tuple)):
        return [as_lists(b) for b in batch]
    return batch.tolist() if hasattr(batch, "tolist") else batch


# ---- datasets -----------------------------------------------------------------------------------
class Squares:
    """Map-style: sample i is (float64 i, int i*i, the loading worker's id or -1)."""

    def __init__(self, n, torch_workers=False):
        self.n, self.torch_workers = n, torch_workers

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = (tud if self.torch_workers else mud).get_worker_info()
        return np.float64(i), i * i, -1 if info is None else info.id


class RangeStream:
    """An IterableDataset over range(n); with ``split``, worker k of m takes k, k+m, k+2m, ..."""

    lib = None

    def __init__(self, n, split):
        self.n, self.split = n, split

    def __iter__(self):
        info = self.lib.get_worker_info()
        if info is None or not self.split:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class MStream(RangeStream, mud.IterableDataset):
    lib = mud


class TStream(RangeStream, tud.IterableDataset):
    lib = tud


class Draws:
    """Sample i: (worker id, worker seed, random.random(), np.random.random(), lib.rand(1))."""

    def __init__(self, n, lib):
        self.n, self.torch_workers = n, lib is torch

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        lib = torch if self.torch_workers else minitorch
        info = (tud if self.torch_workers else mud).get_worker_info()
        return (info.id, info.seed, random.random(), float(np.random.random()),
                float(lib.rand(1).item()))


class Failing:
    """Raises ``exc`` at index ``bad``; else sample i is float64 i."""

    def __init__(self, n, bad, exc):
        self.n, self.bad, self.exc = n, bad, exc

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            raise self.exc
        return np.float64(i)


class TwoArgError(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


class Dying:
    """The worker loading index ``bad`` ends: ``os._exit(3)`` or SIGKILL."""

    def __init__(self, n, bad, how):
        self.n, self.bad, self.how = n, bad, how

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            if self.how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return np.float64(i)


class Slow:
    """Index ``slow`` sleeps ``seconds``; sample i is (float64 i, the worker's PID)."""

    def __init__(self, n, slow=-1, seconds=0.0, nbytes=0):
        self.n, self.slow, self.seconds, self.nbytes = n, slow, seconds, nbytes

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.slow:
            time.sleep(self.seconds)
        if self.nbytes:
            return np.full(self.nbytes // 8, float(i))
        return np.float64(i), os.getpid()


class Counting:
    """Counts fetches in a shared integer, to see how many batches are in flight."""

    def __init__(self, n, counter):
        self.n, self.counter = n, counter

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.counter.get_lock():
            self.counter.value += 1
        return np.float64(i)


class WithOffset:
    """Sample i is i + offset; worker_init_fn sets the offset of each worker's copy."""

    offset = 0

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return np.float64(i + self.offset)


def set_offset(worker_id):
    mud.get_worker_info().dataset.offset = 100 * (worker_id + 1)


def failing_init(worker_id):
    raise OSError(f"no shard for worker {worker_id}")


# ---- same batches, same order --------------------------------------------------------------------
@settings(max_examples=8)
@given(n=st.integers(1, 30), batch_size=st.one_of(st.none(), st.integers(1, 7)),
       drop_last=st.booleans(), shuffle=st.booleans(), seed=st.integers(0, 2**32))
def test_batches_equal_for_every_num_workers(n, batch_size, drop_last, shuffle, seed):
    drop_last = drop_last and batch_size is not None

    def batches(num_workers, in_order=True):
        g = minitorch.Generator().manual_seed(seed)
        loader = DataLoader(Squares(n), batch_size=batch_size, drop_last=drop_last,
                            shuffle=shuffle, generator=g, num_workers=num_workers,
                            in_order=in_order)
        out = [as_lists(b) for b in loader]
        # the worker ids aside, the data must be num_workers=0's
        return [b[:2] for b in out], [b[2] for b in out]

    expected, ids = batches(0)
    assert all(i == -1 or i == [-1] * len(i) for i in ids)
    for num_workers in (1, 2, 3):
        got, _ = batches(num_workers)
        assert got == expected, f"num_workers={num_workers}"
    got, _ = batches(2, in_order=False)  # as they arrive: the same batches, any order
    assert sorted(map(repr, got)) == sorted(map(repr, expected))
    assert no_children()


@pytest.mark.parametrize("num_workers,batch_size", [(2, 3), (3, 2), (3, None)])
def test_worker_of_each_batch_matches_torch(num_workers, batch_size):
    """Round-robin: batch t is loaded by worker t mod num_workers, in torch and here."""
    m = [as_lists(b) for b in DataLoader(Squares(17), batch_size=batch_size,
                                         num_workers=num_workers)]
    t = [as_lists(b) for b in tud.DataLoader(Squares(17, torch_workers=True), batch_size=batch_size,
                                             num_workers=num_workers)]
    assert m == t
    assert {tuple(b[2]) if batch_size else b[2] for b in m} != {-1}


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("num_workers,n,batch_size,drop_last", [
    (2, 11, 3, False), (3, 11, 2, True), (3, 10, 4, False), (2, 7, None, False), (3, 2, 1, False),
])
def test_iterable_dataset_with_workers_matches_torch(split, num_workers, n, batch_size,
                                                     drop_last):
    """Each worker iterates its own copy (split via get_worker_info or not); batching and
    drop_last per worker; batches interleaved round-robin until every copy is exhausted."""
    m = [as_lists(b) for b in DataLoader(MStream(n, split), batch_size=batch_size,
                                         drop_last=drop_last, num_workers=num_workers)]
    t = [as_lists(b) for b in tud.DataLoader(TStream(n, split), batch_size=batch_size,
                                             drop_last=drop_last, num_workers=num_workers)]
    assert m == t
    assert no_children()


def test_iterable_dataset_with_persistent_workers_restarts_each_epoch():
    loader = DataLoader(MStream(9, True), batch_size=2, num_workers=2, persistent_workers=True)
    expected = [as_lists(b) for b in tud.DataLoader(TStream(9, True), batch_size=2,
                                                    num_workers=2)]
    first = [as_lists(b) for b in loader]
    second = [as_lists(b) for b in loader]
    assert first == second == expected
    del loader


# ---- seeding -----------------------------------------------------------------------------------
def check_worker_draws(samples, lib):
    """Per worker, in order: seed = base + id, random from random.seed(seed), NumPy from torch's
    state for (base, id), and the library's own rand from manual_seed(seed)."""
    bases = {seed - wid for wid, seed, *_ in samples}
    assert len(bases) == 1, f"workers must share base_seed = seed - id: {bases}"
    streams = {}
    for wid, seed, r, npr, own in samples:
        if wid not in streams:
            gen = lib.Generator().manual_seed(seed)
            streams[wid] = (random.Random(seed),
                            np.random.RandomState(torch_numpy_seed_state(seed - wid, wid)),
                            lambda gen=gen: float(lib.rand(1, generator=gen).item()))
        py, nprs, own_rand = streams[wid]
        assert r == py.random()
        assert npr == nprs.random_sample()
        assert own == own_rand()
    return bases.pop()


def draws(loader):
    return [tuple(s) for s in loader]


def test_worker_seeding_follows_torchs_rule():
    t = draws(tud.DataLoader(Draws(8, torch), batch_size=None, num_workers=2))
    m = draws(DataLoader(Draws(8, minitorch), batch_size=None, num_workers=2))
    check_worker_draws(t, torch)  # the rule is torch's ...
    check_worker_draws(m, minitorch)  # ... and minitorch follows it
    assert {s[0] for s in m} == {0, 1}
    assert len({s[2] for s in m}) == len(m) and len({s[3] for s in m}) == len(m)  # workers differ


def test_worker_seeds_differ_by_epoch_and_repeat_with_a_seed():
    def epochs(loader, k=2):
        return [draws(loader) for _ in range(k)]

    def seeded(seed, **kw):
        return DataLoader(Draws(6, minitorch), batch_size=None, num_workers=2,
                          generator=minitorch.Generator().manual_seed(seed), **kw)

    a1, a2 = epochs(seeded(5))
    assert a1 != a2 and check_worker_draws(a1, minitorch) != check_worker_draws(a2, minitorch)
    assert epochs(seeded(5)) == [a1, a2]  # the same generator seed repeats both epochs
    assert epochs(seeded(6), 1) != [a1]
    minitorch.manual_seed(11)  # without a generator: the global one
    g1 = epochs(DataLoader(Draws(6, minitorch), batch_size=None, num_workers=2))
    minitorch.manual_seed(11)
    assert epochs(DataLoader(Draws(6, minitorch), batch_size=None, num_workers=2)) == g1
    # persistent workers keep their seed and carry their streams on into the next epoch
    p = seeded(5, persistent_workers=True)
    p1, p2 = epochs(p)
    assert p1 == a1 and p2 != p1
    assert {s[1] for s in p1} == {s[1] for s in p2}
    assert check_worker_draws(p1 + p2, minitorch) == check_worker_draws(a1, minitorch)
    del p
    assert no_children()


def test_get_worker_info_and_worker_init_fn():
    assert get_worker_info() is None
    loader = DataLoader(WithOffset(), batch_size=2, num_workers=2, worker_init_fn=set_offset)
    got = [b.tolist() for b in loader]
    # batch t by worker t % 2, whose copy got offset 100 * (worker + 1) in worker_init_fn
    assert got == [[i + 100 * (t % 2 + 1) for i in (2 * t, 2 * t + 1)] for t in range(6)]
    assert WithOffset.offset == 0  # the main process's dataset is untouched
    assert get_worker_info() is None
    info = mud.WorkerInfo(id=0, num_workers=1, seed=3, dataset=None)
    with pytest.raises(AttributeError):
        info.id = 1


# ---- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("exc,raised,text", [
    (ValueError("bad sample 7"), ValueError, "bad sample 7"),
    (KeyError("missing 7"), KeyError, "missing 7"),
    (TwoArgError("a", "b"), RuntimeError, "TwoArgError: a/b"),
])
def test_worker_exception_names_worker_and_index(exc, raised, text):
    loader = DataLoader(Failing(12, 7, exc), batch_size=3, num_workers=2)
    it = iter(loader)
    with pytest.raises(raised) as info:
        list(it)
    msg = str(info.value)
    # index 7 is in the batch [6, 7, 8], task 2, which worker 2 % 2 = 0 loads
    assert f"Caught {type(exc).__name__} in DataLoader worker process 0" in msg
    assert "while fetching dataset index 7 (of the batch [6, 7, 8])" in msg
    assert "Traceback (most recent call last)" in msg and "__getitem__" in msg and text in msg
    assert no_children()
    with pytest.raises(StopIteration):
        next(it)


def test_collate_and_worker_init_errors_are_named():
    with pytest.raises(OSError, match=r"worker process \d while running worker_init_fn\(\d\)"):
        list(DataLoader(WithOffset(), num_workers=2, worker_init_fn=failing_init))
    ragged = mud.Subset([[1, 2], [3]], [0, 1])
    with pytest.raises(RuntimeError, match=r"(?s)worker process 0 while collating the batch of "
                                            r"dataset indices \[0, 1\].*equal size"):
        list(DataLoader(ragged, batch_size=2, num_workers=1))
    assert no_children()


@pytest.mark.parametrize("how,code", [("exit", r"exit code 3"),
                                      ("kill", r"exit code -9 \(killed by signal SIGKILL\)")])
def test_dying_worker_raises_instead_of_hanging(how, code):
    loader = DataLoader(Dying(10, 5, how), batch_size=1, num_workers=2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"DataLoader worker 1 \(pid \d+\) exited "
                                           rf"unexpectedly with {code}"):
        list(loader)  # index 5 is task 5: worker 1
    assert time.monotonic() - start < 5
    assert no_children()


def test_timeout_raises():
    loader = DataLoader(Slow(6, slow=2, seconds=3.0), batch_size=1, num_workers=2, timeout=0.3)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.3 seconds"):
        list(loader)
    assert time.monotonic() - start < 2.5  # well before the slow sample's 3 s
    assert no_children()


def test_keyboard_interrupt_shuts_workers_down():
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        loader = DataLoader(Slow(6, slow=1, seconds=5.0), batch_size=1, num_workers=2)
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.4)
        with pytest.raises(KeyboardInterrupt):
            list(loader)  # blocked waiting for index 1 when the "Ctrl-C" arrives
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert time.monotonic() - start < 3
    assert no_children()


# ---- lifetime of the workers ---------------------------------------------------------------------
def test_early_break_leaves_no_children():
    for _ in DataLoader(Slow(40), batch_size=2, num_workers=2):
        workers = multiprocessing.active_children()
        break
    assert no_children()
    assert [w.exitcode for w in workers] == [0, 0]
    # workers blocked sending big batches (more than a pipe holds) do not hang the shutdown
    it = iter(DataLoader(Slow(40, nbytes=400_000), batch_size=2, num_workers=2))
    assert next(it).shape == (2, 50_000)
    time.sleep(0.2)
    workers = multiprocessing.active_children()
    del it
    assert no_children()
    assert [w.exitcode for w in workers] == [0, 0]  # they exited when asked, not by SIGTERM


def test_persistent_workers_are_reused_across_epochs():
    loader = DataLoader(Slow(8), batch_size=2, num_workers=2, persistent_workers=True)
    pids = [{p for b in loader for p in b[1].tolist()} for _ in range(3)]
    assert pids[0] == pids[1] == pids[2] and len(pids[0]) == 2 and os.getpid() not in pids[0]
    assert len(multiprocessing.active_children()) == 2  # kept between epochs
    # an epoch left early: the next one still gives every batch, in order
    for _ in loader:
        break
    assert [b[0].tolist() for b in loader] == [[2 * t, 2 * t + 1] for t in range(4)]
    del loader
    assert no_children()
    fresh = DataLoader(Slow(8), batch_size=2, num_workers=2)
    once = {p for b in fresh for p in b[1].tolist()}
    assert no_children()  # shut down at the end of each epoch
    assert once.isdisjoint({p for b in fresh for p in b[1].tolist()})


def test_prefetch_factor_batches_per_worker_in_flight_like_torch():
    def in_flight(lib, prefetch_factor):
        counter = multiprocessing.Value("i", 0)
        loader = lib.DataLoader(Counting(50, counter), batch_size=1, num_workers=2,
                                prefetch_factor=prefetch_factor)
        it = iter(loader)
        next(it)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and counter.value < 2 * prefetch_factor + 1:
            time.sleep(0.02)
        time.sleep(0.2)  # and no more than that
        del it
        return counter.value

    for prefetch_factor in (1, 3):
        m = in_flight(mud, prefetch_factor)
        assert m == in_flight(tud, prefetch_factor) == 2 * prefetch_factor + 1
    assert no_children()


def test_interpreter_exit_with_live_workers():
    script = textwrap.dedent("""
        import os, numpy as np
        from minitorch.utils.data import DataLoader

        class Pids:
            def __len__(self): return 100
            def __getitem__(self, i): return np.int64(os.getpid())

        kept = DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=True)
        a = iter(kept); next(a)
        b = iter(DataLoader(Pids(), batch_size=2, num_workers=2)); next(b)  # mid-epoch
        import multiprocessing
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    """)
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - start < 20
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 4
    time.sleep(0.2)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# ---- start methods -----------------------------------------------------------------------------
def test_spawn_context_gives_the_same_batches():
    x = minitorch.tensor(np.arange(30, dtype=np.float32).reshape(10, 3))
    ds = TensorDataset(x, minitorch.tensor(np.arange(10)))
    expected = [as_lists(b) for b in DataLoader(ds, batch_size=4)]
    spawn = DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="spawn")
    assert [as_lists(b) for b in spawn] == expected
    ctx = DataLoader(ds, batch_size=4, num_workers=1,
                     multiprocessing_context=multiprocessing.get_context("fork"))
    assert [as_lists(b) for b in ctx] == expected
    assert no_children()


def test_spawn_with_an_unpicklable_dataset_names_it():
    class LocalDataset:  # a local class cannot be pickled by reference
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.float64(i)

    loader = DataLoader(LocalDataset(), batch_size=2, num_workers=2,
                        multiprocessing_context="spawn")
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError),
                       match=r"could not start worker 0 with the 'spawn' start method: the dataset "
                             r"\(.*LocalDataset object\) cannot be pickled"):
        iter(loader)
    assert no_children()
    # fork does not pickle: the same dataset loads
    fork = DataLoader(LocalDataset(), batch_size=2, num_workers=2,
                      multiprocessing_context="fork")
    assert [b.tolist() for b in fork] == [[0.0, 1.0], [2.0, 3.0]]


# ---- arguments ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,err,match", [
    (dict(prefetch_factor=2), ValueError, "prefetch_factor option could only be specified"),
    (dict(persistent_workers=True), ValueError, "persistent_workers option needs"),
    (dict(multiprocessing_context="spawn"), ValueError, "multiprocessing_context can only be"),
    (dict(num_workers=1, multiprocessing_context="nope"), ValueError, "valid start method"),
    (dict(num_workers=1, multiprocessing_context=3), TypeError, "valid context object"),
    (dict(num_workers=1, prefetch_factor=-1), ValueError, "prefetch_factor option should be"),
])
def test_worker_argument_errors_match_torch(kwargs, err, match):
    with pytest.raises(err, match=match):
        tud.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(err, match=match):
        DataLoader(list(range(4)), **kwargs)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_pin_memory_is_accepted_and_changes_nothing(num_workers):
    ds = TensorDataset(minitorch.tensor(np.arange(10.0)))
    plain = [as_lists(b) for b in DataLoader(ds, batch_size=3)]
    pinned = DataLoader(ds, batch_size=3, num_workers=num_workers, pin_memory=True,
                        pin_memory_device="cuda")
    assert pinned.pin_memory is True
    assert [as_lists(b) for b in pinned] == plain
