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
    monkeypatch.setattr(parallel, "ROW_BLOCKS_ABOVE", 0)
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
    # overlapping windows add a position's gradients in torch's order (window after window),
    # one plane per block here (GRAIN = 1): torch's bits, on 3 threads as on one
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[1], grads[2])


# ---- work that calls BLAS: one range per thread, OpenBLAS on one thread meanwhile -------------
def _numpy_blas_is_openblas() -> bool:
    return "openblas" in np.__config__.CONFIG["Build Dependencies"]["blas"]["name"].lower()


def test_numpys_openblas_is_found_when_numpy_uses_one():
    """The ctypes lookup finds the thread setters of the OpenBLAS NumPy loaded (NumPy's wheels
    bundle scipy-openblas); without them conv2d would run its chunks serially."""
    setters = parallel.blas_thread_setters()
    assert (setters is not None) == _numpy_blas_is_openblas()


def test_parallel_blas_for_runs_ranges_at_once_with_one_blas_thread_and_restores_it(threads):
    setters = parallel.blas_thread_setters()
    if setters is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS: parallel_blas_for runs serially (below)")
    set_threads, get_threads = setters
    before = get_threads()
    seen = []
    together = threading.Barrier(3, timeout=10)  # broken unless the 3 ranges run at once

    def fn(lo, hi):
        seen.append((lo, hi, get_threads()))
        together.wait()
        np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)  # BLAS from every thread
    parallel.parallel_blas_for(7, fn)
    assert sorted(seen) == [(0, 2, 1), (2, 4, 1), (4, 7, 1)]
    assert get_threads() == before
    with pytest.raises(ZeroDivisionError):                  # restored after an error too
        parallel.parallel_blas_for(3, lambda lo, hi: 1 / 0)
    assert get_threads() == before


def test_set_num_threads_sets_openblas_threads_too(threads):
    setters = parallel.blas_thread_setters()
    if setters is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS: it keeps the count it read at import")
    assert setters[1]() == 3                       # the fixture's set_num_threads(3)
    minitorch.set_num_threads(2)
    assert setters[1]() == 2 and minitorch.get_num_threads() == 2
    inside = []

    def fn(lo, hi):  # inside parallel_blas_for: OpenBLAS stays at 1, the new count comes after
        if lo == 0:
            minitorch.set_num_threads(3)
        inside.append(setters[1]())
    parallel.parallel_blas_for(2, fn)
    assert inside == [1, 1] and setters[1]() == 3


SPIN_PROBE = """
import sys, threading, time
import numpy as np                       # first: OpenBLAS reads its environment as it loads

def idle_cpu_share():  # CPU time of the whole process while the caller sleeps after a GEMM
    a = np.ones((512, 512)); a @ a
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(0.05)
    return (time.process_time() - cpu) / (time.perf_counter() - wall)

busy = sys.argv[1] == "busy"             # another thread multiplies matrices all along
stop = threading.Event()
def multiply():
    a = np.random.rand(400, 400)
    while not stop.is_set():
        a @ a
if busy:
    threading.Thread(target=multiply).start()
before = max(idle_cpu_share() for _ in range(3))
import minitorch                         # restarts OpenBLAS's workers if it may
from minitorch.backend import parallel
minitorch.set_num_threads(2)
minitorch.tensor(np.random.rand(2048, 1000).astype(np.float32)).softmax(-1)  # our threads
after = max(idle_cpu_share() for _ in range(3))
ok = np.allclose(np.ones((512, 512)) @ np.ones((512, 512)), 512.0)  # the restarted workers
stop.set()
print(before, after, ok, parallel.shorten_blas_idle_spin(), sep="|")
"""


@pytest.mark.parametrize("case", ["alone", "user_value", "busy"])
def test_openblas_idle_spin_is_shortened_when_numpy_was_imported_first(case):
    """A script that imports NumPy before minitorch: OpenBLAS has read its environment without
    minitorch's OPENBLAS_THREAD_TIMEOUT=4, and its idle worker spins on a core after every
    matrix product (a whole core while the caller sleeps). ``import minitorch`` restarts it
    with the short spin — unless the user set a value (kept), or another Python thread is
    running, which could be inside a matrix product: a restart then deadlocks (seen in 9 of 15
    runs before this check), so the spin stays and nothing hangs."""
    import os
    import subprocess
    import sys
    if not _numpy_blas_is_openblas() or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs NumPy's OpenBLAS and 2 CPUs (one for its worker)")
    env = {k: v for k, v in os.environ.items() if k not in (
        "OPENBLAS_THREAD_TIMEOUT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    if case == "user_value":
        env["OPENBLAS_THREAD_TIMEOUT"] = "30"
    out = subprocess.run([sys.executable, "-c", SPIN_PROBE, case], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout.strip().split("|")
    before, after, ok, status = float(out[0]), float(out[1]), out[2] == "True", out[3]
    assert ok and before > 0.5, out   # the worker spun (busy: the other thread's core too)
    if case == "alone":
        assert after < 0.2 and status.startswith("OPENBLAS_THREAD_TIMEOUT=4 (NumPy was loaded first"), out
    elif case == "user_value":
        assert after > 0.5 and status == "OPENBLAS_THREAD_TIMEOUT=30 (read when NumPy loaded)", out
    else:
        assert status.startswith("OpenBLAS's default spin, kept: other Python threads"), out


def test_parallel_blas_for_runs_serially_on_one_thread_or_without_openblas(threads, monkeypatch):
    seen = []
    fn = lambda lo, hi: seen.append((lo, hi, threading.get_ident()))
    minitorch.set_num_threads(1)
    parallel.parallel_blas_for(5, fn)
    assert parallel.parallel_blas_threads() == 1
    minitorch.set_num_threads(3)
    monkeypatch.setitem(parallel._blas, "found", True)
    monkeypatch.setitem(parallel._blas, "setters", None)   # a NumPy on another BLAS
    parallel.parallel_blas_for(5, fn)
    assert parallel.parallel_blas_threads() == 1
    assert seen == [(0, 5, threading.get_ident())] * 2


@pytest.mark.parametrize("path", ["chunks", "pieces", "image-major", "1x1"])
@pytest.mark.parametrize("blas", ["openblas", "unreachable"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_conv2d_on_threads_matches_torch(threads, path, blas, dtype, monkeypatch):
    """conv2d's CPU paths on 3 threads: chunks of a large batch (3 ranges of chunks), a small
    batch cut into one piece per thread (its columns kept), and the image-major paths (RGB-like
    first layer, 1x1), with OpenBLAS reachable (ranges run at once) or not (serially): output
    and the three gradients as torch."""
    from minitorch.nn.functional.conv import Conv2d
    if blas == "unreachable":
        monkeypatch.setitem(parallel._blas, "found", True)
        monkeypatch.setitem(parallel._blas, "setters", None)
    elif parallel.blas_thread_setters() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS")
    ranges = []
    parallel_for = parallel.parallel_for
    monkeypatch.setattr(parallel, "parallel_for",
                        lambda n, fn, grain=1: ranges.append(n) or parallel_for(n, fn, grain))
    if path == "chunks":
        monkeypatch.setattr(Conv2d, "chunk_above", 0)
        monkeypatch.setattr(Conv2d, "chunk_elements", 1)           # one image per chunk
    c, o, k, kwargs = {"chunks": (4, 6, 3, dict(padding=1, stride=(1, 2))),
                       "pieces": (4, 6, 3, dict(padding=(2, 1), dilation=2)),
                       "image-major": (2, 24, 3, dict(padding=1, stride=2)),  # 18 < 24
                       "1x1": (4, 6, 1, {})}[path]
    rng = np.random.default_rng(17)
    x, w, b = rng.standard_normal((7, c, 9, 8)), rng.standard_normal((o, c, k, k)) / 3, \
        rng.standard_normal(o)
    check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, **kwargs), x, w, b, dtype=dtype)
    # forward and backward each split the batch: 7 one-image chunks, or 3 pieces, or 7 images
    expected = {"chunks": 7, "pieces": 3}.get(path, 7)
    assert ranges == ([expected, expected] if blas == "openblas" else [])


# ---- batched matmul and attention's softmax on threads ----------------------------------------
def _count_ranges(monkeypatch):
    ranges = []
    parallel_for = parallel.parallel_for
    monkeypatch.setattr(parallel, "parallel_for",
                        lambda n, fn, grain=1: ranges.append(n) or parallel_for(n, fn, grain))
    return ranges


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batched_matmul_on_threads_matches_torch_and_numpy(threads, dtype, monkeypatch):
    """A batch of products with equal batch dims, split over 3 threads (every batch counts
    here): the products and both gradients as torch, the products bit for bit NumPy's."""
    from minitorch import backend
    if parallel.blas_thread_setters() is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS: batched products run as one matmul")
    monkeypatch.setattr(backend, "BATCHED_MATMUL_THREADS_ABOVE", 0)
    ranges = _count_ranges(monkeypatch)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 5, 4, 3)), rng.standard_normal((2, 5, 3, 6))
    check(lambda L, a, b: a @ b, a, b, dtype=dtype)
    assert ranges == [10, 10, 10]  # forward, dL/da, dL/db: 2·5 products each
    a32, b32 = a.astype(dtype), b.astype(dtype)
    np.testing.assert_array_equal(backend.matmul(a32, b32, transpose_b=False), a32 @ b32)
    np.testing.assert_array_equal(backend.matmul(a32, b32.swapaxes(-1, -2), transpose_b=True),
                                  a32 @ b32)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_attention_softmax_in_blocks_on_threads_matches_torch_and_one_thread(threads, dtype,
                                                                          monkeypatch):
    """scaled_dot_product_attention's softmax in blocks of rows on 3 threads (one row per block
    here), with a causal mask and a row whose keys are all masked: torch's output and
    gradients, and the same bits as one thread."""
    ranges = _count_ranges(monkeypatch)
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((2, 3, 6, 4)) for _ in range(3))
    mask = np.tril(np.ones((6, 6), dtype=bool))
    check(lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
          q, k, v, dtype=dtype)
    assert 36 in ranges  # 2·3·6 rows, one block each
    mask[2] = False      # query 2 sees no key: its output is 0, not NaN

    def run():
        qt, kt, vt = (minitorch.tensor(a, dtype=getattr(minitorch, dtype), requires_grad=True)
                      for a in (q, k, v))
        out = minitorch.nn.functional.scaled_dot_product_attention(
            qt, kt, vt, attn_mask=minitorch.tensor(mask))
        out.backward(minitorch.tensor(np.ones(out.shape), dtype=out.dtype))
        return [t.detach().numpy() for t in (out, qt.grad, kt.grad, vt.grad)]
    on_threads = run()
    minitorch.set_num_threads(1)
    on_one = run()
    assert not np.isnan(on_threads[0]).any() and not on_threads[0][:, :, 2].any()
    for x, y in zip(on_threads, on_one):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_in_blocks_of_rows_on_threads_matches_torch_and_one_thread(threads, op, dtype,
                                                                          monkeypatch):
    """softmax / log_softmax along the last dim in blocks of rows (one row each here) on 3
    threads: torch's values and gradients, also for rows with −inf and +inf, and the same bits
    as one thread; along another dim the work is not split."""
    ranges = _count_ranges(monkeypatch)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 4, 5)) * 3
    check(lambda L, x: getattr(x, op)(-1), x, dtype=dtype)
    assert ranges == [8, 8]  # forward and backward, 2·4 rows
    check(lambda L, x: getattr(x, op)(1), x, dtype=dtype)
    assert ranges == [8, 8]
    x[0, 1] = -np.inf        # a row of −inf and a row holding +inf: NaN rows, as torch
    x[1, 2, 3] = np.inf

    def run():
        t = minitorch.tensor(x, dtype=getattr(minitorch, dtype), requires_grad=True)
        y = getattr(t, op)(-1)
        y.backward(minitorch.tensor(np.ones(x.shape), dtype=y.dtype))
        return y.detach().numpy(), t.grad.numpy()
    on_threads = run()
    expected = getattr(torch.tensor(x), op)(-1).numpy()
    np.testing.assert_array_equal(np.isnan(on_threads[0]), np.isnan(expected))
    minitorch.set_num_threads(1)
    for a, b in zip(on_threads, run()):
        np.testing.assert_array_equal(a, b)
