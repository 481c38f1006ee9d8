"""Intra-op threads (minitorch/backend/parallel.py) and the ops that split their work over them:
the ranges, errors, errstate and nesting of parallel_for; ReLU and max_pool2d computed by
several threads give torch's values and gradients (also with inf/NaN), bit for bit the same as
one thread."""
import multiprocessing
import threading

import numpy as np
import pytest
import torch
from torch_compare import check

import minitorch
from minitorch.backend import parallel


@pytest.fixture
def threads(monkeypatch):
    """Three threads and no minimum work per thread, so small test arrays are split too."""
    before = minitorch.get_num_threads()
    minitorch.set_num_threads(3)
    monkeypatch.setattr(parallel, "GRAIN", 1)
    yield 3
    minitorch.set_num_threads(before)


def test_ranges_cover_every_item_once_on_several_threads(threads):
    seen = []
    together = threading.Barrier(3, timeout=10)  # broken unless the 3 ranges run at once

    def fn(lo, hi):
        seen.append((lo, hi))
        together.wait()
    parallel.parallel_for(10, fn)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]
    seen.clear()
    fn = lambda lo, hi: seen.append((lo, hi))
    parallel.parallel_for(10, fn, grain=4)          # at most 10 // 4 = 2 ranges
    assert sorted(seen) == [(0, 5), (5, 10)]
    seen.clear()
    parallel.parallel_for(0, fn)
    assert seen == []


def test_an_error_in_any_range_reaches_the_caller_after_all_ranges_ran(threads):
    done = []

    def fn(lo, hi):
        done.append(lo)
        if lo == 3:
            raise ValueError("range 3")
    with pytest.raises(ValueError, match="range 3"):
        parallel.parallel_for(9, fn)
    assert sorted(done) == [0, 3, 6]


def test_errstate_of_the_caller_applies_in_the_workers(threads):
    a = np.ones(9)

    def fn(lo, hi):
        a[lo:hi] / np.zeros(hi - lo)
    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            parallel.parallel_for(9, fn)
    with np.errstate(divide="ignore"):
        parallel.parallel_for(9, fn)  # no warning, no error


def test_a_nested_call_runs_in_its_thread(threads):
    inner = []

    def outer(lo, hi):
        parallel.parallel_for(4, lambda a, b: inner.append((lo, a, b)))
    parallel.parallel_for(6, outer)
    assert sorted(inner) == [(0, 0, 4), (2, 0, 4), (4, 0, 4)]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_refuses_what_is_not_a_positive_integer(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive integer"):
        minitorch.set_num_threads(bad)


def test_the_default_reads_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert parallel._default_threads() == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert parallel._default_threads() >= 1


def _child(queue):
    out = []
    parallel.parallel_for(6, lambda lo, hi: out.append(lo))
    queue.put(sorted(out))


def test_a_forked_child_gets_its_own_pool(threads):
    parallel.parallel_for(6, lambda lo, hi: None)  # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    child.join(30)
    assert child.exitcode == 0, "the child hung or failed"
    assert queue.get(timeout=5) == [0, 2, 4]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_on_threads_matches_torch_and_one_thread(threads, dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 7, 6))
    x[0, 0, :3] = [np.nan, 0.0, -0.0]
    check(lambda L, x: L.relu(x), x, dtype=dtype)
    g = rng.standard_normal(x.shape)
    g[x <= 0] = np.inf                       # inf where the input is negative: must give 0
    g[1, 1, 1] = np.nan
    grads = []
    for n in (3, 1):
        minitorch.set_num_threads(n)
        xt = minitorch.tensor(x, dtype=getattr(minitorch, dtype), requires_grad=True)
        minitorch.relu(xt).backward(minitorch.tensor(g, dtype=getattr(minitorch, dtype)))
        grads.append(xt.grad.numpy())
    xt = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    torch.relu(xt).backward(torch.tensor(g, dtype=getattr(torch, dtype)))
    np.testing.assert_array_equal(grads[0], xt.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=2, stride=1, dilation=2)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_max_pool2d_on_threads_matches_torch(threads, kwargs, dtype):
    rng = np.random.default_rng(4)
    x = rng.permutation(7 * 3 * 8 * 8).reshape(7, 3, 8, 8) / 100.0
    x[2, 1, 0, :4] = np.nan
    x[4] = 1.0                                  # ties everywhere in one image
    fn = lambda L, x: L.nn.functional.max_pool2d(x, **kwargs)
    check(fn, x, dtype=dtype)
    g = rng.standard_normal(tuple(fn(torch, torch.from_numpy(x)).shape))
    g[0, 0, 0, 0] = np.inf
    grads = []
    for L, n in ((torch, None), (minitorch, 3), (minitorch, 1)):
        if n:
            minitorch.set_num_threads(n)
        xt = L.tensor(x, requires_grad=True)
        fn(L, xt).backward(L.tensor(g))
        grads.append(xt.grad.numpy())
    # where windows overlap, torch adds a position's gradients in another order: last bit
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-15, atol=1e-15)
    np.testing.assert_array_equal(grads[1], grads[2])  # 3 threads: the bits of one
