"""The CUDA kernels' index math, proven on the CPU through their NumPy twins.

Every test here runs with ``minitorch.testing.kernel_twins.TwinLauncher`` installed as the
kernel launcher (the autouse fixture ``twins``): ``minitorch.backend.kernels`` then takes NumPy
arrays and hands each launch to the kernel's twin (the kernel's formulas for thread → tile
position, k → (c, r, s), column → (n, p, q), edge guards, float4-or-scalar choice,
shared-memory stages, fragments and epilogue, executed over the 256 threads of each block),
after the same argument preparation and launch plan as on the GPU. The twins assert that every
access is in bounds and aligned and that shared memory is used race-free; these tests compare
the results with NumPy and torch and require every output element to be written exactly once. Sizes are small, with 1, 17, 33 and
tile non-multiples, so that every edge path runs.

What this cannot show: that the CUDA C++ matches its twin line for line (review), and anything
about the hardware — those are tests/test_cuda.py's job, on a GPU.
"""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_compare import assert_close, check

import minitorch
from minitorch.backend import kernels
from minitorch.backend.geometry import max_pool2d_geometry
from minitorch.testing.kernel_twins import TwinLauncher

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def launched(twins, prefix):
    """The arrays of the most recent launch whose entry starts with ``prefix``."""
    entries = [e for e in twins.last_launch if e.startswith(prefix)]
    assert entries, f"no {prefix} kernel was launched"
    return twins.last_launch[entries[-1]]


@pytest.fixture(autouse=True)
def twins():
    """Every test runs the kernels on their NumPy twins: a fresh launcher (an empty launch log)
    installed for the test, the GPU launcher back afterwards."""
    with kernels.use_launcher(TwinLauncher()) as launcher:
        yield launcher


@pytest.fixture(params=["128x128", "64x64"])
def tile(request, monkeypatch):
    """Force one tile configuration (the wrappers otherwise pick by problem size)."""
    t = kernels.TILES[request.param]
    monkeypatch.setattr(kernels, "choose_tile", lambda *args: t)
    return t


def assert_close64(actual, expected, what):
    """Twin (float64 arithmetic on float32 inputs, result stored as float32) vs a float64
    reference: equal up to the final rounding to float32."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=2e-6,
                               atol=2e-6 * scale, err_msg=what)


# ---------------------------------------------------------------------------------------------
# The sources: what the twins mirror is what nvcc compiles
# ---------------------------------------------------------------------------------------------
def test_tile_constants_of_the_header_match_the_wrappers():
    text = kernels.kernel_source("sgemm")
    found = dict((name, tuple(int(v) for v in args.split(","))) for args, name in re.findall(
        r"typedef Tile<([\d,\s]+)> (Tile[LS]);", text))
    for name, t in (("TileL", kernels.TILE_L), ("TileS", kernels.TILE_S)):
        assert found[name][:5] == (t.BM, t.BN, t.BK, t.TM, t.TN), name


def test_every_entry_point_the_wrappers_launch_is_defined():
    sgemm, conv, pool = (kernels.kernel_source(m) for m in ("sgemm", "conv2d", "maxpool2d"))
    for t in kernels.TILES.values():
        for ops in ("nn", "nt", "tn", "tt"):
            name = f"sgemm_{t.name}_{ops}"
            assert re.search(rf"MT_SGEMM_ENTRY\({name}, Tile{'L' if t.BM == 128 else 'S'}, "
                             rf"{'true' if ops[0] == 't' else 'false'}, "
                             rf"{'true' if ops[1] == 't' else 'false'}\)", sgemm), name
        assert f"MT_CONV_ENTRIES({t.name}, Tile{'L' if t.BM == 128 else 'S'})" in conv
    assert 'extern "C" __global__ void __launch_bounds__(256) splitk_reduce(' in conv
    for name in ("max_pool2d_fwd", "max_pool2d_bwd"):
        assert re.search(rf"\n{name}\(", pool), name


def test_every_kernel_is_bounded_to_the_block_the_wrappers_launch():
    """THREADS comes from the tiles of gemm_tile.cuh; the pooling and split-K kernels state
    their block size only in ``__launch_bounds__``, which must agree."""
    for module in ("sgemm", "conv2d", "maxpool2d"):
        bounds = re.findall(r"__launch_bounds__\((\d+)", kernels.kernel_source(module))
        assert bounds and all(int(b) == kernels.THREADS for b in bounds), (module, bounds)


def test_the_tiles_are_read_from_the_header(monkeypatch, tmp_path):
    """gemm_tile.cuh is the one source of the tile constants: a changed typedef changes them."""
    header = (kernels.kernel_dir() / "gemm_tile.cuh").read_text()
    assert kernels.read_tiles(header) == {"TileL": kernels.TILE_L, "TileS": kernels.TILE_S}
    (tmp_path / "sgemm.cu").write_text("// a copy")
    (tmp_path / "gemm_tile.cuh").write_text(
        header.replace("Tile<64, 64, 16, 4, 4, 16> TileS", "Tile<32, 128, 16, 2, 8, 16> TileS"))
    monkeypatch.setenv("MINITORCH_KERNEL_DIR", str(tmp_path))
    assert kernels._header_tiles() == (kernels.TILE_L, kernels.Tile("32x128", 32, 128, 16, 2, 8),
                                       256)
    (tmp_path / "gemm_tile.cuh").write_text(header.replace("> TileS;", "> TileSmall;"))
    with pytest.raises(RuntimeError, match="defines no TileS"):
        kernels._header_tiles()


def test_kernel_dir_is_found_from_the_package_or_the_environment(monkeypatch, tmp_path):
    repo_kernels = kernels.kernel_dir()
    assert (repo_kernels / "gemm_tile.cuh").is_file() and repo_kernels.name == "kernels"
    (tmp_path / "sgemm.cu").write_text("// a copy")
    monkeypatch.setenv("MINITORCH_KERNEL_DIR", str(tmp_path))
    assert kernels.kernel_dir() == tmp_path
    monkeypatch.setattr(kernels, "_candidate_dirs", lambda: iter([tmp_path / "nowhere"]))
    with pytest.raises(FileNotFoundError, match="nowhere.*MINITORCH_KERNEL_DIR"):
        kernels.kernel_dir()


def test_kernel_source_inlines_the_shared_header_once():
    text = kernels.kernel_source("conv2d")
    assert not re.search(r'^\s*#\s*include', text, re.M)
    assert text.count("struct Tile {") == 1 and "mainloop" in text


def test_kernel_sources_compile_with_nvrtc_as_cupy_would():
    """NVRTC (what cupy.RawModule uses) compiles every module for sm_80 and sm_90. Needs CuPy's
    NVRTC binding and libnvrtc; without them this test is skipped (CI compiles with nvcc)."""
    nvrtc = pytest.importorskip("cupy_backends.cuda.libs.nvrtc")
    try:
        nvrtc.getVersion()
    except Exception as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"libnvrtc not loadable: {e!r}")
    for name in ("sgemm", "conv2d", "maxpool2d"):
        for arch in ("sm_80", "sm_90"):
            prog = nvrtc.createProgram(kernels.kernel_source(name), name + ".cu", [], [])
            try:
                nvrtc.compileProgram(prog, list(kernels.NVRTC_OPTIONS) + [f"-arch={arch}"])
            except Exception:
                pytest.fail(f"{name}.cu for {arch}: {nvrtc.getProgramLog(prog)}")
            assert nvrtc.getProgramLog(prog).strip() in ("", "\x00"), nvrtc.getProgramLog(prog)


# ---------------------------------------------------------------------------------------------
# The launcher seam: NumPy arrays reach the twins only through an installed test launcher
# ---------------------------------------------------------------------------------------------
def test_numpy_arrays_are_refused_without_a_test_launcher(twins):
    a, b = randn(3, 4), randn(4, 2)
    with kernels.use_launcher(kernels.CudaLauncher()):
        with pytest.raises(TypeError, match=r"need CuPy arrays, got NumPy arrays \(a, b\).*"
                                            r"use_launcher"):
            kernels.matmul(a, b)
        with pytest.raises(TypeError, match=r"\(weight, x\)"):
            kernels.conv2d_forward(randn(1, 2, 5, 5), randn(3, 2, 3, 3), None)
    assert kernels.launcher is twins and not twins.last_launch
    assert kernels.matmul(a, b).shape == (3, 2) and twins.last_launch


def test_the_runtime_never_imports_the_test_support():
    """A fresh interpreter: import minitorch and the kernel wrappers, run a conv net forward and
    backward; minitorch.testing stays unloaded and the GPU launcher stays installed."""
    code = ("import sys, minitorch, minitorch.backend.kernels as k\n"
            "x = minitorch.randn(2, 3, 8, 8, requires_grad=True)\n"
            "minitorch.nn.functional.max_pool2d(minitorch.nn.functional.conv2d(x, minitorch.randn("
            "4, 3, 3, 3)), 2).sum().backward()\n"
            "assert type(k.launcher).__name__ == 'CudaLauncher'\n"
            "print(sorted(m for m in sys.modules if m.startswith('minitorch.testing')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# SGEMM
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (17, 33, 17), (33, 17, 33), (1, 33, 5),
                                   (130, 129, 9), (64, 64, 16)])
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_sgemm_twin_matches_numpy_at_edge_sizes(twins, tile, m, n, k, ta, tb):
    a = randn(k, m) if ta else randn(m, k)
    b = randn(n, k) if tb else randn(k, n)
    c = kernels.matmul(a, b, ta, tb)
    ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    assert_close64(c, ref, f"{m}x{n}x{k} ta={ta} tb={tb} tile {tile.name}")
    # (a size-1 operand is contiguous either way and may take the other kernel: both are right)
    if min(m, n, k) > 1:
        assert f"sgemm_{tile.name}_{'t' if ta else 'n'}{'t' if tb else 'n'}" in twins.last_launch
    launch = launched(twins, f"sgemm_{tile.name}_")
    assert (launch["C"].writes.reshape(c.shape) == 1).all()


def test_sgemm_vectorises_aligned_operands_and_not_misaligned_ones(twins, tile):
    a, b = randn(40, 32), randn(32, 36)
    kernels.matmul(a, b)
    launch = launched(twins, "sgemm")
    assert launch["A"].float4 > 0 and launch["B"].float4 > 0 and launch["C"].float4 > 0
    # a view that starts one float in: 4 bytes past a 16-byte boundary, so only scalar loads
    buf = randn(40 * 32 + 1)
    a1 = buf[1:].reshape(40, 32)
    assert a1.__array_interface__["data"][0] % 16 != 0
    c = kernels.matmul(a1, b)
    assert_close64(c, a1.astype(np.float64) @ b, "misaligned a")
    assert launched(twins, "sgemm")["A"].float4 == 0 and launched(twins, "sgemm")["B"].float4 > 0
    # K not a multiple of 4: rows of A are not 16-byte aligned, scalar path for A
    kernels.matmul(randn(40, 33), randn(33, 36))
    assert launched(twins, "sgemm")["A"].float4 == 0


@pytest.mark.parametrize("entry", ["sgemm_128x128_nn", "sgemm_64x64_nn", "sgemm_64x64_tt"])
def test_sgemm_kernel_respects_leading_dimensions_wider_than_the_matrix(twins, entry):
    """Launched directly (the wrapper always passes packed matrices): rows padded to a leading
    dimension that is a multiple of 4 while K and N are not. The padding holds NaN, so a float4
    load that strays past the matrix (NaN · 0 = NaN) or a store into it shows up."""
    ta, tb = entry[-2] == "t", entry[-1] == "t"
    m, n, k, pad = 37, 45, 19, 5            # ld = 24, 52 (multiples of 4), C's ld = 48
    def padded(rows, cols, ld):
        buf = np.full((rows, ld), np.nan, dtype=np.float32)
        buf[:, :cols] = randn(rows, cols)
        return buf
    a = padded(k, m, m + 3) if ta else padded(m, k, k + pad)
    b = padded(n, k, k + pad) if tb else padded(k, n, n + 7)
    c = np.full((m, n + 3), -7.0, dtype=np.float32)
    twins.launch("sgemm", entry, (-(-n // 64), -(-m // 64), 1) if "64x64" in entry
                        else (-(-n // 128), -(-m // 128), 1), (256, 1, 1),
                        (a, b, c, *kernels._i32(m, n, k, a.shape[1], b.shape[1], c.shape[1]),
                         np.int64(0), np.int64(0), np.int64(0), np.int32(1)))
    la = a[:, :m].T if ta else a[:, :k]
    lb = b[:, :k].T if tb else b[:, :n]
    assert_close64(c[:, :n], la.astype(np.float64) @ lb, entry)
    assert (c[:, n:] == -7.0).all()
    assert launched(twins, entry)["A"].float4 > 0


@pytest.mark.parametrize("sa,sb", [((3, 17, 5), (5, 9)), ((2, 3, 17, 5), (3, 5, 9)),
                                   ((1, 17, 5), (4, 5, 9)), ((5,), (2, 5, 3)), ((2, 4, 5), (5,)),
                                   ((5,), (5,)), ((17, 5), (2, 5, 9))])
def test_sgemm_wrapper_batching_and_broadcasting_follow_numpy(sa, sb):
    a, b = randn(*sa), randn(*sb)
    c = kernels.matmul(a, b)
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert c.shape == ref.shape
    assert_close64(c, ref, f"{sa} @ {sb}")


def test_sgemm_wrapper_reads_transposed_views_in_place_and_copies_other_layouts(twins):
    base = randn(2, 9, 17)
    at = np.swapaxes(base, 1, 2)                       # (2, 17, 9), a transposed view
    b = randn(9, 6)
    assert_close64(kernels.matmul(at, b), np.matmul(at.astype(np.float64), b), "transposed view")
    assert "sgemm_64x64_nn" in twins.last_launch  # folded, the view made contiguous
    b3 = randn(2, 9, 6)
    kernels.matmul(at, b3)
    assert any(e.endswith("_tn") for e in twins.last_launch)  # read in place
    strided = randn(17, 18)[:, ::2]                    # neither layout: copied
    assert_close64(kernels.matmul(strided, b), strided.astype(np.float64) @ b, "strided")


def test_sgemm_wrapper_handles_empty_and_zero_k(twins):
    assert kernels.matmul(randn(0, 3), randn(3, 4)).shape == (0, 4)
    z = kernels.matmul(randn(3, 0), randn(0, 4))
    assert z.shape == (3, 4) and not z.any()
    assert not twins.last_launch


def test_sgemm_launches_big_batches_in_chunks_of_65535(monkeypatch):
    monkeypatch.setattr(kernels, "GRID_YZ_MAX", 3)
    a, b = randn(7, 2, 3), randn(7, 3, 4)
    assert_close64(kernels.matmul(a, b), np.matmul(a.astype(np.float64), b), "chunked batch")


@given(m=st.integers(1, 70), n=st.integers(1, 70), k=st.integers(1, 40), ta=st.booleans(),
       tb=st.booleans(), batch=st.integers(1, 3))
def test_sgemm_twin_hypothesis(m, n, k, ta, tb, batch):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a = rng.standard_normal((batch,) + ((k, m) if ta else (m, k))).astype(np.float32)
    b = rng.standard_normal((batch,) + ((n, k) if tb else (k, n))).astype(np.float32)
    c = kernels.matmul(a, b, ta, tb)
    la = np.swapaxes(a, -1, -2) if ta else a
    lb = np.swapaxes(b, -1, -2) if tb else b
    assert_close64(c, np.matmul(la.astype(np.float64), lb), f"{batch}x{m}x{n}x{k}")


# ---------------------------------------------------------------------------------------------
# conv2d: forward, backward-data, backward-weight
# ---------------------------------------------------------------------------------------------
CONV_CASES = [
    # N, C, H, W, O, R, S, stride, padding, dilation, groups
    (2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1),
    (2, 4, 9, 8, 6, 3, 2, (2, 1), (1, 0), (1, 2), 2),
    (1, 6, 5, 5, 6, 1, 1, 1, 0, 1, 3),
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1),
    (1, 2, 17, 17, 3, 5, 5, 3, 2, 1, 1),
    (2, 2, 6, 6, 2, 3, 3, 1, (2, 2, 1, 0), 1, 1),     # asymmetric padding (as 'same' makes)
]


def conv_reference(x, w, b, stride, padding, dilation, groups, g):
    """torch in float64: y, and dx, dw with the cotangent g."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bt = None if b is None else torch.tensor(b, dtype=torch.float64)
    if isinstance(padding, tuple) and len(padding) == 4:
        top, bottom, left, right = padding
        xp_ = torch.nn.functional.pad(xt, (left, right, top, bottom))
        y = torch.nn.functional.conv2d(xp_, wt, bt, stride, 0, dilation, groups)
    else:
        y = torch.nn.functional.conv2d(xt, wt, bt, stride, padding, dilation, groups)
    y.backward(torch.tensor(g, dtype=torch.float64))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_twins_match_torch(twins, tile, case):
    n, c, h, w, o, r, s, stride, padding, dilation, groups = case
    x, wt, b = randn(n, c, h, w), randn(o, c // groups, r, s), randn(o)
    y = kernels.conv2d_forward(x, wt, b, stride, padding, dilation, groups)
    g = randn(*y.shape)
    y_ref, dx_ref, dw_ref = conv_reference(x, wt, b, stride, padding, dilation, groups, g)
    assert_close64(y, y_ref, "forward")
    assert (launched(twins, "conv2d_fwd")["y"].writes == 1).all()
    dx = kernels.conv2d_backward_data(g, wt, x.shape, stride, padding, dilation, groups)
    assert_close64(dx, dx_ref, "backward-data")
    assert (launched(twins, "conv2d_bwd_data")["dx"].writes == 1).all()
    dw = kernels.conv2d_backward_weight(g, x, wt.shape, stride, padding, dilation, groups)
    assert_close64(dw, dw_ref, "backward-weight")


def test_conv2d_backward_weight_split_k_covers_the_batch_once(twins, monkeypatch):
    """Many splits (a small SM count would give few; 132 gives many here): each partial slice is
    written once, the reduction writes dw once, and the sum equals torch's."""
    x, w = randn(4, 3, 17, 17), randn(8, 3, 3, 3)
    g = randn(4, 8, 17, 17)
    dw = kernels.conv2d_backward_weight(g, x, w.shape, 1, 1, 1, 1)
    splits, chunk = kernels.plan_splitk(4 * 17 * 17, 1, twins.multiprocessors(), 16, 65535)
    assert splits > 1
    assert (launched(twins, "conv2d_bwd_weight")["out"].writes == 1).all()
    assert launched(twins, "conv2d_bwd_weight")["out"].flat.size == splits * w.size
    assert (launched(twins, "splitk_reduce")["out"].writes == 1).all()
    assert_close64(dw, conv_reference(x, w, None, 1, 1, 1, 1, g)[2], "split-K dw")


def test_conv2d_bias_is_optional_and_vector_stores_need_a_multiple_of_4_plane(twins):
    x, w = randn(1, 2, 4, 4), randn(3, 2, 3, 3)
    y = kernels.conv2d_forward(x, w, None, 1, 1, 1, 1)            # P·Q = 16: float4 stores
    assert launched(twins, "conv2d_fwd")["y"].float4 > 0
    assert_close64(y, conv_reference(x, w, None, 1, 1, 1, 1, np.zeros((1, 3, 4, 4)))[0], "no bias")
    kernels.conv2d_forward(randn(1, 2, 5, 5), w, None, 1, 1, 1, 1)   # P·Q = 25: scalar stores
    assert launched(twins, "conv2d_fwd")["y"].float4 == 0


@given(n=st.integers(1, 3), cg=st.integers(1, 4), og=st.integers(1, 5), groups=st.integers(1, 2),
       h=st.integers(1, 9), w=st.integers(1, 9), r=st.integers(1, 3), s=st.integers(1, 3),
       stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 2))
def test_conv2d_twins_hypothesis(n, cg, og, groups, h, w, r, s, stride, pad, dil):
    if (h + 2 * pad - dil * (r - 1) - 1) < 0 or (w + 2 * pad - dil * (s - 1) - 1) < 0:
        return  # the kernel does not fit: the wrapper's error is tested separately
    rng = np.random.default_rng(n + 7 * cg + 31 * h + 131 * w)
    x = rng.standard_normal((n, cg * groups, h, w)).astype(np.float32)
    wt = rng.standard_normal((og * groups, cg, r, s)).astype(np.float32)
    y = kernels.conv2d_forward(x, wt, None, stride, pad, dil, groups)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y_ref, dx_ref, dw_ref = conv_reference(x, wt, None, stride, pad, dil, groups, g)
    assert_close64(y, y_ref, "forward")
    assert_close64(kernels.conv2d_backward_data(g, wt, x.shape, stride, pad, dil, groups), dx_ref,
                   "backward-data")
    assert_close64(kernels.conv2d_backward_weight(g, x, wt.shape, stride, pad, dil, groups),
                   dw_ref, "backward-weight")


@given(k=st.integers(1, 10 ** 6), blocks=st.integers(1, 500), sms=st.integers(1, 200),
       bk=st.sampled_from([8, 16]), max_splits=st.integers(1, 65535))
def test_split_k_plan_covers_k_with_non_empty_slices(k, blocks, sms, bk, max_splits):
    splits, chunk = kernels.plan_splitk(k, blocks, sms, bk, max_splits)
    assert 1 <= splits <= max_splits and chunk % bk == 0
    assert (splits - 1) * chunk < k <= splits * chunk   # the last slice is non-empty, all k covered


# ---------------------------------------------------------------------------------------------
# max_pool2d
# ---------------------------------------------------------------------------------------------
POOL_CASES = [
    # shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 8, 8), 2, 2, 0, 1, False),
    ((1, 2, 7, 9), 3, 2, 1, 1, True),
    ((2, 1, 5, 6), (3, 2), (1, 2), (1, 1), (2, 1), False),
    ((1, 1, 1, 1), 2, 1, 1, 2, False),       # a window of padding only: -inf, sends no gradient
    ((1, 2, 17, 33), 3, 1, 1, 1, False),     # overlapping windows: gradients add up
    ((1, 1, 33, 17), (2, 4), (3, 1), (1, 2), (1, 3), True),
]


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_twins_equal_the_cpu_path_and_torch_bit_for_bit(twins, case):
    shape, k, s, p, d, ceil = case
    x = randn(*shape)
    if x.size > 8:
        x.reshape(-1)[3] = x.reshape(-1)[4] = 7.0   # a tie: the first in scan order wins
        x.reshape(-1)[9] = np.nan                     # a NaN always wins
    out_hw = max_pool2d_geometry(shape, pair(k), pair(s), pair(p), pair(d), ceil).out_hw
    y, ind = kernels.max_pool2d_forward(x, k, s, p, d, out_hw)
    assert (launched(twins, "max_pool2d_fwd")["y"].writes == 1).all()
    xt = minitorch.tensor(x, requires_grad=True)
    y_cpu, ind_cpu = minitorch.nn.functional.max_pool2d(xt, k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(y, y_cpu.detach().numpy())
    np.testing.assert_array_equal(ind, ind_cpu.numpy())
    y_t, ind_t = torch.nn.functional.max_pool2d(torch.tensor(x), k, s, p, d, ceil,
                                                return_indices=True)
    np.testing.assert_array_equal(y, y_t.numpy())
    np.testing.assert_array_equal(ind, ind_t.numpy())
    g = randn(*y.shape)
    y_cpu.backward(minitorch.tensor(g))
    dx = kernels.max_pool2d_backward(g, ind, shape, k, s, p, d)
    assert (launched(twins, "max_pool2d_bwd")["dx"].writes == 1).all()
    np.testing.assert_array_equal(dx, xt.grad.numpy())   # same float32 sums, same order


def test_max_pool2d_forward_can_skip_the_indices(twins):
    y, ind = kernels.max_pool2d_forward(randn(1, 1, 4, 4), 2, 2, 0, 1, (2, 2),
                                        return_indices=False)
    assert ind is None and not launched(twins, "max_pool2d_fwd")["ind"].writes.any()


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 12), w=st.integers(1, 12),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2), ceil=st.booleans(), data=st.data())
def test_max_pool2d_twins_hypothesis(n, c, h, w, kh, kw, sh, sw, dh, dw, ceil, data):
    ph, pw = data.draw(st.integers(0, kh // 2)), data.draw(st.integers(0, kw // 2))
    try:
        out_hw = max_pool2d_geometry((n, c, h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw),
                                     ceil).out_hw
    except RuntimeError:
        return  # an empty output: rejected before any kernel
    rng = np.random.default_rng(h * 13 + w)
    x = rng.permutation(n * c * h * w).reshape(n, c, h, w).astype(np.float32)  # no ties
    y, ind = kernels.max_pool2d_forward(x, (kh, kw), (sh, sw), (ph, pw), (dh, dw), out_hw)
    y_t, ind_t = torch.nn.functional.max_pool2d(torch.tensor(x), (kh, kw), (sh, sw), (ph, pw),
                                                (dh, dw), ceil, return_indices=True)
    np.testing.assert_array_equal(y, y_t.numpy())
    np.testing.assert_array_equal(ind, ind_t.numpy())
    xt = minitorch.tensor(x, requires_grad=True)
    y_cpu = minitorch.nn.functional.max_pool2d(xt, (kh, kw), (sh, sw), (ph, pw), (dh, dw), ceil)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y_cpu.backward(minitorch.tensor(g))
    np.testing.assert_array_equal(
        kernels.max_pool2d_backward(g, ind, x.shape, (kh, kw), (sh, sw), (ph, pw), (dh, dw)),
        xt.grad.numpy())


# ---------------------------------------------------------------------------------------------
# Bad input raises before any launch
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,words", [
    (lambda: kernels.matmul(randn(3, 4).astype(np.float64), randn(4, 2)), TypeError,
     ["float32", "float64", "(3,4)"]),
    (lambda: kernels.matmul(randn(3, 4), randn(5, 2)), ValueError, ["(3,4) @ (5,2)", "4 != 5"]),
    (lambda: kernels.matmul(randn(2, 3, 4), randn(3, 4, 2)), ValueError, ["do not broadcast"]),
    (lambda: kernels.matmul(randn(4), randn(4), transpose_a=True), ValueError, ["transpose_a"]),
    (lambda: kernels.matmul([[1.0]], randn(1, 1)), TypeError, ["NumPy or CuPy array", "list"]),
    (lambda: kernels.conv2d_forward(randn(1, 3, 5, 5), randn(4, 2, 3, 3)), ValueError,
     ["(1,3,5,5)", "(4,2,3,3)"]),
    (lambda: kernels.conv2d_forward(randn(1, 2, 2, 2), randn(4, 2, 3, 3)), ValueError,
     ["does not fit"]),
    (lambda: kernels.conv2d_forward(randn(1, 2, 5, 5), randn(4, 2, 3, 3), randn(3)), ValueError,
     ["bias", "(3,)"]),
    (lambda: kernels.conv2d_forward(randn(2, 5, 5), randn(4, 2, 3, 3)), ValueError, ["4-D"]),
    (lambda: kernels.conv2d_forward(randn(1, 2, 5, 5), randn(4, 2, 3, 3), stride=0), ValueError,
     ["stride"]),
    (lambda: kernels.conv2d_backward_data(randn(1, 4, 4, 4), randn(4, 2, 3, 3), (1, 2, 5, 5)),
     ValueError, ["(1,4,4,4)", "(1,4,3,3)"]),
    (lambda: kernels.conv2d_backward_weight(randn(1, 4, 3, 3), randn(1, 2, 5, 5), (4, 3, 3, 3)),
     ValueError, ["(1,2,5,5)", "(4,3,3,3)"]),
    (lambda: kernels.max_pool2d_forward(randn(1, 1, 4, 4), 2, 2, 0, 1, (3, 3)), ValueError,
     ["(3, 3)", "past the input"]),
    (lambda: kernels.max_pool2d_forward(randn(1, 1, 4, 4), 2, 2, 2, 1, (3, 3)), ValueError,
     ["half the kernel"]),
    (lambda: kernels.max_pool2d_backward(randn(1, 1, 2, 2), np.zeros((1, 1, 2, 2), np.int32),
                                         (1, 1, 4, 4), 2, 2, 0, 1), TypeError, ["int64"]),
    (lambda: kernels.max_pool2d_backward(randn(1, 2, 2, 2), np.zeros((1, 2, 2, 2), np.int64),
                                         (1, 1, 4, 4), 2, 2, 0, 1), ValueError, ["(1,2,2,2)"]),
])
def test_bad_input_raises_before_launch_naming_the_shapes(twins, call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert not twins.last_launch


def test_tensors_of_2_31_elements_or_more_are_refused(monkeypatch):
    monkeypatch.setattr(kernels, "INT32_MAX", 100)
    with pytest.raises(ValueError, match="32-bit offsets"):
        kernels.conv2d_forward(randn(1, 2, 8, 8), randn(2, 2, 3, 3))


def test_gemm_extents_leave_a_tile_of_room_below_2_31(twins, monkeypatch):
    """Edge tiles form int32 indices up to a tile past M, N, K (n0 + frag_col + 3, k0 + kc + 3):
    the wrappers refuse extents within TILE_OVERSHOOT of 2^31 (here 2^31 is played by 300)."""
    monkeypatch.setattr(kernels, "INT32_MAX", 300)
    limit = 300 - kernels.TILE_OVERSHOOT
    with pytest.raises(ValueError, match=f"N={limit + 1} does not fit"):
        kernels.matmul(randn(2, 3), randn(3, limit + 1))
    with pytest.raises(ValueError, match=f"reduction over \\(N, P, Q\\) has length {limit + 1}"):
        kernels.conv2d_backward_weight(randn(1, 1, 5, 9), randn(1, 1, 5, 9), (1, 1, 1, 1))
    assert not twins.last_launch
    c = kernels.matmul(randn(2, 3), randn(3, limit))  # at the limit: runs
    assert c.shape == (2, limit)


# ---------------------------------------------------------------------------------------------
# The CUDA glue of the ops, on the twins: MatMul, Linear, Conv2d, MaxPool2d
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def kernels_on_numpy(monkeypatch):
    """Route the hot paths to the kernel wrappers for NumPy float32 arrays (which run the twins),
    exactly as ``raw_kernels_for`` routes CuPy float32 arrays on a GPU."""
    def route(*arrays):
        present = [a for a in arrays if a is not None]
        ok = present and all(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in present)
        return kernels if ok else None
    import minitorch.backend as backend
    import minitorch.nn.functional.conv as conv
    import minitorch.nn.functional.pooling as pooling
    for module in (backend, conv, pooling):
        monkeypatch.setattr(module, "raw_kernels_for", route)


@pytest.mark.parametrize("fn,shapes", [
    (lambda L, a, b: L.matmul(a, b), [(5, 17), (17, 3)]),
    (lambda L, a, b: L.matmul(a, b), [(2, 3, 4), (4,)]),
    (lambda L, a, b: L.matmul(a, b), [(2, 1, 3, 4), (5, 4, 2)]),
    (lambda L, a, b: L.matmul(a.mT, b), [(2, 6, 3), (2, 6, 4)]),
    (lambda L, x, w, b: L.nn.functional.linear(x, w, b), [(3, 2, 7), (5, 7), (5,)]),
    (lambda L, x, w, b: L.nn.functional.conv2d(x, w, b, stride=2, padding=1, groups=2),
     [(2, 4, 7, 6), (6, 2, 3, 3), (6,)]),
    (lambda L, x, w: L.nn.functional.conv2d(x, w, padding="same", dilation=2), [(3, 5, 6), (2, 3, 2, 2)]),
    (lambda L, x: L.nn.functional.max_pool2d(x, 3, 2, 1), [(2, 3, 9, 7)]),
    (lambda L, x: L.nn.functional.max_pool2d(x, 2), [(3, 8, 8)]),
])
def test_ops_take_the_kernel_path_and_match_torch(twins, kernels_on_numpy, fn, shapes):
    arrays = [RNG.permutation(int(np.prod(s))).reshape(s).astype(np.float32) / 10
              for s in shapes]
    check(fn, *arrays, dtype="float32")
    assert twins.last_launch, "the kernel path was not taken"


def test_max_pool2d_return_indices_on_the_kernel_path(twins, kernels_on_numpy):
    x = RNG.permutation(2 * 8 * 8).reshape(1, 2, 8, 8).astype(np.float32)
    y, ind = minitorch.nn.functional.max_pool2d(minitorch.tensor(x), 2, return_indices=True)
    y_t, ind_t = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert_close(y, y_t, "float32")
    np.testing.assert_array_equal(ind.numpy(), ind_t.numpy())
    assert "max_pool2d_fwd" in twins.last_launch


def test_a_training_step_of_the_simple_cnn_on_the_kernel_path(twins, kernels_on_numpy):
    """SimpleCNN (conv → relu → pool → linear), one SGD step on a batch of 2, through the twins:
    loss and every parameter match torch."""
    from seed_models import simple_cnn
    torch.manual_seed(0)
    t_model, m_model = simple_cnn(torch), simple_cnn(minitorch)
    m_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    x = RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)
    y = np.array([3, 7])
    losses = []
    for L, model in ((torch, t_model), (minitorch, m_model)):
        opt = L.optim.SGD(model.parameters(), lr=0.1)
        loss = L.nn.functional.cross_entropy(model(L.from_numpy(x.copy())), L.from_numpy(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    t_params = dict(t_model.named_parameters())
    for name, p in m_model.named_parameters():
        assert_close(p, t_params[name], "float32", rtol=1e-4, what=name)
    for entry in ("conv2d_fwd", "conv2d_bwd_weight", "max_pool2d_fwd", "max_pool2d_bwd", "sgemm"):
        launched(twins, entry)
