"""minitorch on an NVIDIA GPU: every op on CUDA tensors against torch (forward and backward) and
against the CPU path, our kernels against CuPy's own functions, bad input, devices, and the
whole-CNN training comparison rerun on the GPU.

Every test here is marked ``cuda``; without CuPy and a GPU the conftest skips them with a reason.
``make test`` runs them a second time on an emulated GPU (``MINITORCH_FAKE_CUPY=1``: the strict
NumPy-backed CuPy stand-in minitorch/testing/fake_cupy.py, whose ``RawModule`` runs kernels/*.cu
on the CPU with CUDA's semantics), so they run on every commit; ``cp`` below is whichever CuPy
``minitorch.backend.cupy_module()`` loaded. On a GPU the same tests run on real CuPy.
They compare with torch on the CPU (the pinned torch is a CPU build): float64 to ~1e-10, float32
by ‖out − ref‖/‖ref‖ against a float64 reference of the same float32 inputs (float32 arithmetic
lands far under 1e-5 there) or with tests/torch_compare.py's float32 tolerances.

Run on a GPU machine (CuPy installed, e.g. ``pip install -e '.[test,cuda13]'``)::

    .venv/bin/python -m pytest -m cuda -p no:xdist -q tests/test_cuda.py

compute-sanitizer over the kernel tests (one process: no xdist workers; the ``kernel`` tests
launch every entry point of kernels/*.cu at edge sizes)::

    compute-sanitizer --tool memcheck  --error-exitcode 1 .venv/bin/python -m pytest -m cuda -p no:xdist -q tests/test_cuda.py -k kernel
    compute-sanitizer --tool racecheck --error-exitcode 1 .venv/bin/python -m pytest -m cuda -p no:xdist -q tests/test_cuda.py -k kernel
    compute-sanitizer --tool initcheck --error-exitcode 1 .venv/bin/python -m pytest -m cuda -p no:xdist -q tests/test_cuda.py -k kernel
    compute-sanitizer --tool synccheck --error-exitcode 1 .venv/bin/python -m pytest -m cuda -p no:xdist -q tests/test_cuda.py -k kernel

(CuPy's own memory pool and cuBLAS may show up in initcheck; memcheck and racecheck must be clean.)
"""
import numpy as np
import pytest
import torch
from seed_models import cifar_net, simple_cnn
from test_training import train_side_by_side
from torch_compare import RTOL, assert_close, check, to_mt, to_torch

import minitorch
import minitorch.backend as backend

pytestmark = pytest.mark.cuda

RNG = np.random.default_rng(0)
EDGE = [1, 17, 33, 127, 1025]


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def cuda(a, dtype=None, requires_grad=False):
    """A minitorch tensor on the GPU holding a copy of NumPy ``a``."""
    return to_mt(a, dtype, requires_grad, device="cuda")


def host(t):
    return np.asarray(t.detach())  # Tensor.__array__ copies a CUDA tensor to the host


def rel_err(out, ref):
    out, ref = np.asarray(out, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    assert np.isfinite(out).all(), "non-finite output"
    denom = np.linalg.norm(ref)
    return np.linalg.norm(out - ref) / (denom if denom else 1.0)


@pytest.fixture(params=[True, False], ids=["raw-kernels", "cupy"])
def raw(request, monkeypatch):
    """Both hot-path routes: our kernels, and CuPy's functions (cuBLAS)."""
    monkeypatch.setattr(backend, "use_raw_kernels", request.param)
    return request.param


# ---------------------------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------------------------
def test_cuda_is_available_and_tensors_move():
    assert minitorch.cuda.is_available() and minitorch.cuda.device_count() >= 1
    x = minitorch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x.to("cuda")
    assert y.is_cuda and y.device == minitorch.device("cuda:0") and str(y.device) == "cuda:0"
    assert "device='cuda:0'" in repr(y)
    z = (y * 3).cpu()
    assert not z.is_cuda
    z.sum().backward()  # the gradient flows back across the device boundary
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 3.0, np.float32))
    assert x.cuda().is_cuda and minitorch.zeros(3, device="cuda").is_cuda
    assert minitorch.tensor(y).is_cuda                      # a copy stays on its device
    assert minitorch.tensor(y, device="cpu").device == minitorch.device("cpu")
    with pytest.raises(TypeError, match="cuda"):
        y.detach().numpy()
    minitorch.cuda.synchronize()


def test_module_to_cuda_runs_on_the_gpu():
    model = simple_cnn(minitorch)
    assert model.to("cuda") is model
    assert all(p.is_cuda for p in model.parameters())
    out = model(minitorch.randn(2, 3, 32, 32, device="cuda"))
    assert out.is_cuda and out.shape == (2, 10)


@pytest.mark.parametrize("op", [
    lambda a, b: a + b,
    lambda a, b: a @ b,
    lambda a, b: minitorch.nn.functional.linear(a, b),
    lambda a, b: minitorch.cat([a, b]),
    lambda a, b: minitorch.where(a > 0, a, b),
    lambda a, b: minitorch.nn.functional.conv2d(a.reshape(1, 1, 3, 3), b.reshape(1, 1, 3, 3)),
], ids=["add", "matmul", "linear", "cat", "where", "conv2d"])
@pytest.mark.parametrize("first,second", [("cpu", "cuda"), ("cuda", "cpu")])
def test_cross_device_ops_raise_naming_both_devices(op, first, second):
    x, y = minitorch.randn(3, 3, device=first), minitorch.randn(3, 3, device=second)
    with pytest.raises(RuntimeError) as info:
        op(x, y)
    assert "cpu" in str(info.value) and "cuda:0" in str(info.value), str(info.value)


def test_cross_entropy_with_a_target_on_another_device_raises():
    logits = minitorch.randn(4, 5, device="cuda")
    with pytest.raises(RuntimeError, match="cuda:0.*cpu|cpu.*cuda:0"):
        minitorch.nn.functional.cross_entropy(logits, minitorch.tensor([0, 1, 2, 3]))


def test_view_of_a_non_contiguous_cuda_tensor_raises_as_on_the_cpu():
    t = minitorch.randn(4, 6, device="cuda").t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.view(24)
    assert t.reshape(24).shape == (24,)


# ---------------------------------------------------------------------------------------------
# Every op on CUDA against torch (float64: CuPy's path; float32: the kernels where they apply)
# ---------------------------------------------------------------------------------------------
F = lambda L: L.nn.functional  # noqa: E731
OPS = {
    "add": (lambda L, a, b: a + b, [(3, 4), (4,)]),
    "sub_scalar": (lambda L, a: 2.5 - a, [(3, 4)]),
    "mul": (lambda L, a, b: a * b, [(2, 3, 4), (3, 1)]),
    "div": (lambda L, a, b: a / (b.abs() + 1), [(3, 4), (3, 4)]),
    "pow": (lambda L, a: (a.abs() + 0.5) ** 1.5, [(3, 4)]),
    "pow_tensor": (lambda L, a, b: (a.abs() + 0.5) ** b, [(3, 4), (3, 4)]),
    "neg_exp_log": (lambda L, a: (-a).exp() + (a.abs() + 1).log(), [(5, 3)]),
    "sqrt_tanh_sigmoid": (lambda L, a: (a.abs() + 1).sqrt() * a.tanh() + a.sigmoid(), [(5, 3)]),
    "relu_clamp": (lambda L, a: a.relu() + a.clamp(-0.5, 0.5), [(6, 5)]),
    "maximum_minimum": (lambda L, a, b: L.maximum(a, b) - L.minimum(a, b), [(4, 4), (4, 4)]),
    "sum_mean": (lambda L, a: a.sum(1) + a.mean(1), [(4, 5)]),
    "max_dim": (lambda L, a: a.max(1)[0] + a.min(0)[0].sum(), [(4, 5)]),
    "amax": (lambda L, a: a.amax((0, 2)), [(3, 4, 5)]),
    "reshape_permute": (lambda L, a: a.reshape(4, 3, 2).permute(2, 0, 1) * 2, [(6, 4)]),
    "transpose_expand": (lambda L, a: a.transpose(0, 1).expand(2, 4, 3), [(3, 4)]),
    "getitem_basic": (lambda L, a: a[1:, ::2], [(5, 6)]),
    "getitem_advanced": (lambda L, a: a[L.tensor([0, 2, 2, 4])] * 3, [(5, 3)]),
    "cat_stack": (lambda L, a, b: (L.cat([a, b], 1) * 2, L.stack([a, b], 1).sum(0)),
                  [(3, 2), (3, 2)]),
    "where": (lambda L, a, b: L.where(a > 0, a, b), [(4, 4), (4, 4)]),
    "softmax": (lambda L, a: F(L).softmax(a, 1) + F(L).log_softmax(a, 0), [(4, 7)]),
    "matmul": (lambda L, a, b: a @ b, [(2, 5, 17), (17, 3)]),
    "bmm_broadcast": (lambda L, a, b: L.matmul(a, b), [(3, 1, 4, 5), (2, 5, 6)]),
    "matvec": (lambda L, a, b: a @ b, [(7, 5), (5,)]),
    "linear": (lambda L, x, w, b: F(L).linear(x, w, b), [(4, 3, 7), (5, 7), (5,)]),
    "conv2d": (lambda L, x, w, b: F(L).conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2),
                                               groups=2), [(2, 4, 9, 8), (6, 2, 3, 3), (6,)]),
    "conv2d_unbatched_same": (lambda L, x, w: F(L).conv2d(x, w, padding="same"),
                              [(3, 7, 6), (5, 3, 2, 4)]),
    "max_pool2d": (lambda L, x: F(L).max_pool2d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 9, 7)]),
    "max_pool2d_dilated": (lambda L, x: F(L).max_pool2d(x, 2, 1, 1, dilation=2), [(1, 2, 6, 5)]),
    "batch_norm": (lambda L, x, w, b: F(L).batch_norm(x, None, None, w, b, training=True),
                   [(4, 3, 5, 5), (3,), (3,)]),
    "mse_loss": (lambda L, a, b: F(L).mse_loss(a, b), [(4, 5), (4, 5)]),
    "bce_with_logits": (lambda L, a, b: F(L).binary_cross_entropy_with_logits(a, b.sigmoid()),
                        [(4, 5), (4, 5)]),
    "bce": (lambda L, a, b: F(L).binary_cross_entropy(a.sigmoid(), b.sigmoid()), [(4, 5), (4, 5)]),
}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_op_on_cuda_matches_torch(name, dtype, raw):
    fn, shapes = OPS[name]
    # distinct values (no ties for max/max_pool: the gradient's destination is then unique)
    arrays = [(RNG.permutation(int(np.prod(s))).reshape(s) / np.prod(s) * 4 - 2) for s in shapes]
    check(fn, *arrays, dtype=dtype, device="cuda")


@pytest.mark.parametrize("fn", [
    lambda L, x, t: F(L).cross_entropy(x, t, label_smoothing=0.1),
    lambda L, x, t: F(L).nll_loss(F(L).log_softmax(x, 1), t),
], ids=["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cross_entropy_and_nll_on_cuda_match_torch(fn, dtype):
    logits, target = randn(6, 5, dtype=np.float64), RNG.integers(0, 5, 6)
    t_x = to_torch(logits, dtype, True)
    m_x = cuda(logits, dtype, True)
    t_loss = fn(torch, t_x, torch.from_numpy(target))
    m_loss = fn(minitorch, m_x, cuda(target))
    assert_close(m_loss, t_loss, dtype)
    t_loss.backward()
    m_loss.backward()
    assert_close(m_x.grad, t_x.grad, dtype, what="grad")


def test_dropout_and_setitem_on_cuda():
    minitorch.manual_seed(0)
    x = cuda(randn(100, 10), requires_grad=True)
    y = minitorch.nn.functional.dropout(x, 0.5)
    assert y.is_cuda
    kept = host(y) != 0
    y.sum().backward()
    np.testing.assert_array_equal(host(x.grad), np.where(kept, 2.0, 0.0).astype(np.float32))
    z = minitorch.zeros(3, 4, device="cuda")
    z[1] = minitorch.ones(4)          # a CPU value is moved to the tensor's device
    z[minitorch.tensor([0, 2]), 1] = 5.0
    np.testing.assert_array_equal(host(z), [[0, 5, 0, 0], [1, 1, 1, 1], [0, 5, 0, 0]])


@pytest.mark.parametrize("opt", ["sgd", "adam", "adamw"])
def test_optimizer_steps_on_cuda_equal_the_cpu_steps(opt):
    w0, g = randn(5, 4, dtype=np.float64), randn(5, 4, dtype=np.float64)
    results = []
    for dev in ("cpu", "cuda"):
        p = minitorch.nn.Parameter(minitorch.tensor(w0.copy(), device=dev))
        make = {"sgd": lambda ps: minitorch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                "adam": lambda ps: minitorch.optim.Adam(ps, lr=0.01),
                "adamw": lambda ps: minitorch.optim.AdamW(ps, lr=0.01)}[opt]
        o = make([p])
        for _ in range(3):
            p.grad = minitorch.tensor(g, device=dev)
            o.step()
        results.append(host(p))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Our kernels at edge sizes: vs a float64 reference, vs the CPU path, vs CuPy's path
# ---------------------------------------------------------------------------------------------
def kernels_module():
    from minitorch.backend import kernels
    return kernels


SGEMM_SIZES = [(m, n, k) for m in (1, 33, 127) for n in (1, 17, 1025) for k in (1, 33, 1025)] + [
    (1025, 1025, 17), (129, 65, 7), (64, 64, 64), (200, 300, 129)]


@pytest.mark.parametrize("m,n,k", SGEMM_SIZES)
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_kernel_sgemm_edge_sizes_against_float64(m, n, k, ta, tb):
    """The error is measured against ‖|A|·|B|‖, the scale a float32 sum's rounding error is bounded
    by: against ‖A·B‖ a single dot product (m = n = 1) that happens to cancel would fail at any
    float32 accuracy. The data is drawn per case (the same whatever the test order)."""
    cp = backend.cupy_module()
    kernels = kernels_module()
    rng = np.random.default_rng([m, n, k, ta, tb])
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    c = kernels.matmul(cp.asarray(a), cp.asarray(b), ta, tb)
    la, lb = (a.T if ta else a).astype(np.float64), (b.T if tb else b).astype(np.float64)
    err = np.linalg.norm(c.get() - la @ lb) / np.linalg.norm(np.abs(la) @ np.abs(lb))
    assert err < 1e-5, err


@pytest.mark.parametrize("sa,sb", [((70000, 2, 3), (70000, 3, 2)), ((3, 17, 33), (33, 127)),
                                   ((2, 1, 33, 5), (4, 5, 17)), ((1025,), (1025, 3))])
def test_kernel_sgemm_batched_and_broadcast(sa, sb):
    cp = backend.cupy_module()
    a, b = randn(*sa), randn(*sb)
    c = kernels_module().matmul(cp.asarray(a), cp.asarray(b))
    assert rel_err(c.get(), np.matmul(a.astype(np.float64), b)) < 1e-5


def test_kernel_sgemm_misaligned_and_strided_views():
    cp = backend.cupy_module()
    buf = cp.asarray(randn(33 * 64 + 1))
    a = buf[1:].reshape(33, 64)                  # 4 bytes past alignment: the scalar path
    b = cp.asarray(randn(128, 40))[::2]          # a strided view: copied by the wrapper
    c = kernels_module().matmul(a, b)
    assert rel_err(c.get(), a.get().astype(np.float64) @ b.get()) < 1e-5


CONV_SHAPES = [
    # N, C, H, W, O, R, S, stride, padding, dilation, groups
    (2, 3, 33, 17, 17, 3, 3, 1, 1, 1, 1),
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1),
    (3, 33, 17, 17, 127, 3, 3, 2, 1, 1, 1),
    (2, 8, 15, 16, 8, 5, 3, (2, 1), (2, 0), (1, 2), 4),
    (1, 64, 16, 16, 130, 3, 3, 1, 1, 1, 1),
    (2, 6, 9, 9, 6, 3, 3, 1, 1, 1, 6),           # depthwise
    (1, 3, 127, 33, 1025, 1, 1, 1, 0, 1, 1),
]


@pytest.mark.parametrize("shape", CONV_SHAPES)
def test_kernel_conv2d_edge_sizes_against_torch(shape):
    cp = backend.cupy_module()
    n, c, h, w, o, r, s, stride, padding, dilation, groups = shape
    x, wt, b = randn(n, c, h, w), randn(o, c // groups, r, s), randn(o)
    kernels = kernels_module()
    y = kernels.conv2d_forward(cp.asarray(x), cp.asarray(wt), cp.asarray(b), stride, padding,
                               dilation, groups)
    g = randn(*y.shape)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wtt = torch.tensor(wt, dtype=torch.float64, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wtt, torch.tensor(b, dtype=torch.float64), stride, padding,
                                    dilation, groups)
    yt.backward(torch.tensor(g, dtype=torch.float64))
    assert rel_err(y.get(), yt.detach().numpy()) < 1e-5
    dx = kernels.conv2d_backward_data(cp.asarray(g), cp.asarray(wt), x.shape, stride, padding,
                                      dilation, groups)
    assert rel_err(dx.get(), xt.grad.numpy()) < 1e-5
    dw = kernels.conv2d_backward_weight(cp.asarray(g), cp.asarray(x), wt.shape, stride, padding,
                                        dilation, groups)
    assert rel_err(dw.get(), wtt.grad.numpy()) < 1e-5


POOL_SHAPES = [((2, 3, 33, 17), 2, 2, 0, 1, False), ((1, 2, 127, 1025), 3, 2, 1, 1, True),
               ((1, 1, 1, 1), 2, 1, 1, 2, False), ((4, 5, 17, 33), (3, 2), (1, 2), (1, 1), (2, 1), True)]


@pytest.mark.parametrize("case", POOL_SHAPES)
def test_kernel_max_pool2d_equals_the_cpu_path_bit_for_bit(case):
    shape, k, s, p, d, ceil = case
    x = randn(*shape)
    x.reshape(-1)[:3] = 3.0                     # ties
    if x.size > 10:
        x.reshape(-1)[10] = np.nan
    outs = []
    for dev in ("cpu", "cuda"):
        t = minitorch.tensor(x, device=dev, requires_grad=True)
        y, ind = minitorch.nn.functional.max_pool2d(t, k, s, p, d, ceil, return_indices=True)
        g = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(minitorch.tensor(g, device=dev))
        outs.append((host(y), host(ind), host(t.grad)))
    for cpu_out, gpu_out in zip(*outs):
        np.testing.assert_array_equal(gpu_out, cpu_out)


@pytest.mark.parametrize("name", ["matmul", "bmm_broadcast", "linear", "conv2d",
                                  "conv2d_unbatched_same", "max_pool2d"])
def test_kernel_path_equals_cupy_path(name, monkeypatch):
    """Our kernels and CuPy's functions (cuBLAS for the products) on the same CUDA inputs."""
    fn, shapes = OPS[name]
    arrays = [randn(*s) for s in shapes]
    results = []
    for flag in (True, False):
        monkeypatch.setattr(backend, "use_raw_kernels", flag)
        ins = [cuda(a, requires_grad=True) for a in arrays]
        out = fn(minitorch, *ins)
        out.backward(cuda(np.random.default_rng(2).standard_normal(tuple(out.shape))))
        results.append([host(out)] + [host(t.grad) for t in ins])
    for ours, theirs in zip(*results):
        assert rel_err(ours, theirs) < 1e-5


@pytest.mark.parametrize("kernel", ["conv2d_backward_weight", "max_pool2d_backward"])
def test_kernel_results_are_deterministic(kernel):
    """conv backward-weight (split-K, fixed-order reduction) and max-pool backward (a gather over
    overlapping windows): the same inputs give bit-identical results."""
    cp = backend.cupy_module()
    kernels = kernels_module()
    x = cp.asarray(randn(8, 16, 32, 32))
    if kernel == "conv2d_backward_weight":
        g = cp.asarray(randn(8, 32, 32, 32))

        def run():
            return kernels.conv2d_backward_weight(g, x, (32, 16, 3, 3), 1, 1, 1, 1)
    else:
        _, ind = kernels.max_pool2d_forward(x, 3, 1, 1, 1, (32, 32))   # overlapping windows
        g = cp.asarray(randn(8, 16, 32, 32))

        def run():
            return kernels.max_pool2d_backward(g, ind, x.shape, 3, 1, 1, 1)
    assert bool((run() == run()).all())


@pytest.mark.parametrize("call,error,pattern", [
    (lambda k, cp: k.matmul(cp.ones((2, 3)), cp.ones((3, 2))), TypeError, "float32"),  # float64
    (lambda k, cp: k.matmul(cp.ones((2, 3), cp.float32), cp.ones((4, 2), cp.float32)), ValueError,
     r"\(2,3\) @ \(4,2\)"),
    (lambda k, cp: k.matmul(np.ones((2, 3), np.float32), cp.ones((3, 2), cp.float32)), TypeError,
     "mix of NumPy and CuPy"),
    (lambda k, cp: k.matmul(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)), TypeError,
     "need CuPy arrays"),                        # NumPy runs only under a test launcher
    (lambda k, cp: k.conv2d_forward(cp.ones((1, 3, 5, 5), cp.float32),
                                    cp.ones((4, 2, 3, 3), cp.float32)), ValueError, r"\(1,3,5,5\)"),
    (lambda k, cp: k.max_pool2d_forward(cp.ones((1, 1, 4, 4), cp.float32), 2, 2, 0, 1, (3, 3)),
     ValueError, "past the input"),
], ids=["float64", "inner-dims", "numpy-cupy-mix", "numpy", "conv-channels", "pool-output-size"])
def test_kernel_bad_input_raises_before_launch(call, error, pattern):
    cp = backend.cupy_module()
    with pytest.raises(error, match=pattern):
        call(kernels_module(), cp)
    cp.cuda.Device().synchronize()  # nothing was launched that could fail asynchronously


def test_non_float32_cuda_tensors_take_the_cupy_path():
    """Raw kernels serve float32 only; float64 on CUDA runs the generic code (and matches torch
    to float64 precision)."""
    a, b = randn(17, 33, dtype=np.float64), randn(33, 5, dtype=np.float64)
    out = cuda(a) @ cuda(b)
    assert out.dtype is minitorch.float64
    np.testing.assert_allclose(host(out), a @ b, rtol=RTOL["float64"], atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Whole networks: tests/test_training.py's side-by-side training, on the GPU
# ---------------------------------------------------------------------------------------------
def train_on_cuda(build, dtype, opt_name, steps=3, dropout=False):
    train_side_by_side(build, dtype, opt_name, steps=steps, dropout=dropout, device="cuda")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
def test_cifar_net_trains_like_torch_on_cuda(dtype, opt_name, raw):
    train_on_cuda(cifar_net, dtype, opt_name, dropout=True)


@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
def test_simple_cnn_trains_like_torch_on_cuda(opt_name, raw):
    train_on_cuda(simple_cnn, "float32", opt_name, steps=4)
