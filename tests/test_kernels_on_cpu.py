"""The real kernels/*.cu, run on the CPU through the launch wrappers, against torch float32.

Every test runs with ``minitorch.testing.cuda_cpu.CpuLauncher`` installed (the autouse fixture
``cpu``): ``minitorch.backend.kernels`` then takes NumPy arrays and, after exactly the checks and
launch planning it does for a GPU (tile choice, grid, batch chunks, split-K), runs each launch on
the CUDA-on-CPU layer — the unchanged .cu source compiled as C++, 256 threads per block with real
barriers, arguments checked against the kernel's signature, exact-size buffers, outputs poisoned
with NaN (an element no thread writes fails the comparison). Sizes are 1, 3, 17, 33, 127, 129,
130 and other tile non-multiples, so that every edge path runs.

Build variant: ``$MINITORCH_CUDA_CPU_VARIANT`` — ``fast`` in ``make test``; ``make test-kernels``
reruns this file under ``race`` (shared-memory hazards, uninitialised shared reads, out-of-bounds
and two-block global writes) and ``asan`` (AddressSanitizer + UBSan, libasan preloaded).

Tolerances: the kernels sum in float32 in another order than torch, so results are compared by
‖out − torch‖ / ‖torch‖ < 1e-5 (float32 rounding lands near 1e-7) — for SGEMM against float64 and
relative to ‖|A|·|B|‖, the bound of float32 rounding in a sum; max-pool forward is compared
bit for bit (a max rounds nothing) and max-pool backward bit for bit with minitorch's CPU path
(the same float32 sums in the same order).
"""
import os
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
from minitorch.testing.cuda_cpu import CpuLauncher, load

RNG = np.random.default_rng(0)
SIZES = (1, 3, 17, 33, 127, 129, 130)
F32 = 1e-5


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def rel_err(out, ref):
    """‖out − ref‖ / ‖ref‖ in float64 (NaN, from an unwritten element, fails any bound)."""
    out, ref = np.asarray(out, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    denom = np.linalg.norm(ref)
    return np.linalg.norm(out - ref) / (denom if denom else 1.0)


def assert_f32(out, ref, what):
    err = rel_err(out, ref)
    assert err < F32, f"{what}: relative error {err}"


def assert_gemm(c, a, b, what):
    """c = a @ b (torch float32 operands) to float32 accuracy, the error measured against
    ‖|a|·|b|‖: the scale a float32 sum's rounding is bounded by (against ‖a·b‖ a short output
    whose dot products cancel would fail at any accuracy)."""
    ref = (a.double() @ b.double()).numpy()
    err = np.linalg.norm(np.asarray(c, np.float64) - ref) / max(
        np.linalg.norm((a.double().abs() @ b.double().abs()).numpy()), 1e-300)
    assert err < F32, f"{what}: error {err} relative to |a|·|b|"


def launched(cpu, prefix):
    """The most recent launch whose entry starts with ``prefix``."""
    found = [launch for launch in cpu.launches if launch.entry.startswith(prefix)]
    assert found, f"no {prefix} kernel was launched"
    return found[-1]


@pytest.fixture(autouse=True)
def cpu():
    """Every test runs the kernels on the CPU: a fresh launcher (an empty launch log) installed
    for the test, the GPU launcher back afterwards."""
    with kernels.use_launcher(CpuLauncher()) as launcher:
        yield launcher


@pytest.fixture(params=["128x128", "64x64"])
def tile(request, monkeypatch):
    """Force one tile configuration (the wrappers otherwise pick by problem size)."""
    t = kernels.TILES[request.param]
    monkeypatch.setattr(kernels, "choose_tile", lambda *args: t)
    return t


# ---------------------------------------------------------------------------------------------
# The sources and the launcher seam
# ---------------------------------------------------------------------------------------------
def test_tile_constants_of_the_header_match_the_wrappers():
    text = kernels.kernel_source("sgemm")
    found = dict((name, tuple(int(v) for v in args.split(","))) for args, name in re.findall(
        r"typedef Tile<([\d,\s]+)> (Tile[LS]);", text))
    for name, t in (("TileL", kernels.TILE_L), ("TileS", kernels.TILE_S)):
        assert found[name][:5] == (t.BM, t.BN, t.BK, t.TM, t.TN), name


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


def test_numpy_arrays_are_refused_without_a_test_launcher(cpu):
    a, b = randn(3, 4), randn(4, 2)
    with kernels.use_launcher(kernels.CudaLauncher()):
        with pytest.raises(TypeError, match=r"need CuPy arrays, got NumPy arrays \(a, b\).*"
                                            r"use_launcher"):
            kernels.matmul(a, b)
        with pytest.raises(TypeError, match=r"\(weight, x\)"):
            kernels.conv2d_forward(randn(1, 2, 5, 5), randn(3, 2, 3, 3), None)
    assert kernels.launcher is cpu and not cpu.launches
    assert kernels.matmul(a, b).shape == (3, 2) and cpu.launches


def test_the_runtime_never_imports_the_test_support():
    """A fresh interpreter: import minitorch and the kernel wrappers, run a conv net forward and
    backward; minitorch.testing stays unloaded and the GPU launcher stays installed."""
    code = ("import sys, minitorch, minitorch.backend.kernels as k\n"
            "x = minitorch.randn(2, 3, 8, 8, requires_grad=True)\n"
            "minitorch.nn.functional.max_pool2d(minitorch.nn.functional.conv2d(x, minitorch.randn("
            "4, 3, 3, 3)), 2).sum().backward()\n"
            "assert type(k.launcher).__name__ == 'CudaLauncher'\n"
            "print(sorted(m for m in sys.modules if m.startswith('minitorch.testing')))")
    env = {k: v for k, v in os.environ.items() if k != "MINITORCH_FAKE_CUPY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent, env=env)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# Every entry point is reached through a wrapper
# ---------------------------------------------------------------------------------------------
def _entry_scenario(entry, monkeypatch):
    """The wrapper call that launches ``entry`` (forcing the tile where the planner would not
    pick it for a small problem)."""
    m = re.match(r"(sgemm|conv2d_fwd|conv2d_bwd_data|conv2d_bwd_weight)_(\d+x\d+)(?:_(\w\w))?$", entry)
    if m:
        t = kernels.TILES[m.group(2)]
        monkeypatch.setattr(kernels, "choose_tile", lambda *args: t)
    if entry.startswith("sgemm"):
        ta, tb = m.group(3)[0] == "t", m.group(3)[1] == "t"
        a, b = randn(*((9, 7) if ta else (7, 9))), randn(*((5, 9) if tb else (9, 5)))
        c = kernels.matmul(a, b, ta, tb)
        assert_f32(c, (torch.from_numpy(a).T if ta else torch.from_numpy(a)) @
                   (torch.from_numpy(b).T if tb else torch.from_numpy(b)), entry)
    elif entry.startswith("conv2d_bwd_weight"):
        # the wrapper picks TileL for backward-weight when O/groups and C/groups·R·S exceed 64
        shape = (1, 65, 3, 3, 65, 1, 1) if t.BM == 128 else (1, 3, 5, 5, 4, 3, 3)
        n, c, h, w, o, r, s = shape
        x, g = randn(n, c, h, w), randn(n, o, h - r + 1, w - s + 1)
        dw = kernels.conv2d_backward_weight(g, x, (o, c, r, s))
        xt, gt = torch.from_numpy(x), torch.from_numpy(g)
        ref = torch.nn.grad.conv2d_weight(xt, (o, c, r, s), gt)
        assert_f32(dw, ref, entry)
    elif entry.startswith(("conv2d", "splitk")):
        x, w = randn(4, 3, 17, 16), randn(8, 3, 3, 3)      # reduction 4·15·14: split-K
        g = randn(4, 8, 15, 14)
        y = kernels.conv2d_forward(x, w)
        dx = kernels.conv2d_backward_data(g, w, x.shape)
        dw = kernels.conv2d_backward_weight(g, x, w.shape)
        xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
        yt = torch.nn.functional.conv2d(xt, wt)
        yt.backward(torch.from_numpy(g))
        for out, ref, what in ((y, yt, "y"), (dx, xt.grad, "dx"), (dw, wt.grad, "dw")):
            assert_f32(out, ref.detach(), f"{entry}: {what}")
    else:
        x = randn(2, 3, 9, 7)
        y, ind = kernels.max_pool2d_forward(x, 3, 2, 1, 1, (5, 4))
        g = randn(*y.shape)
        dx = kernels.max_pool2d_backward(g, ind, x.shape, 3, 2, 1, 1)
        xt = torch.from_numpy(x).requires_grad_()
        yt, it = torch.nn.functional.max_pool2d(xt, 3, 2, 1, return_indices=True)
        yt.backward(torch.from_numpy(g))
        np.testing.assert_array_equal(y, yt.detach().numpy())
        np.testing.assert_array_equal(ind, it.numpy())
        assert_f32(dx, xt.grad, entry)


ALL_ENTRIES = sorted(e for name in ("sgemm", "conv2d", "maxpool2d")
                     for e in load(kernels.kernel_source(name), name).compiled)


@pytest.mark.parametrize("entry", ALL_ENTRIES)
def test_every_entry_point_is_launched_by_its_wrapper_and_matches_torch(cpu, entry, monkeypatch):
    """The list comes from the compiled modules: a new entry point without a scenario here
    fails."""
    _entry_scenario(entry, monkeypatch)
    assert entry in cpu.entries(), (entry, cpu.entries())


# ---------------------------------------------------------------------------------------------
# SGEMM
# ---------------------------------------------------------------------------------------------
SGEMM_SIZES = [(m, n, SIZES[(i + 2 * j) % len(SIZES)])
               for i, m in enumerate(SIZES) for j, n in enumerate(SIZES)]   # every (m, n), k varied


@pytest.mark.parametrize("m,n,k", SGEMM_SIZES)
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_sgemm_matches_torch_at_edge_sizes(cpu, tile, m, n, k, ta, tb):
    a = randn(k, m) if ta else randn(m, k)
    b = randn(n, k) if tb else randn(k, n)
    c = kernels.matmul(a, b, ta, tb)
    assert_gemm(c, torch.from_numpy(a).T if ta else torch.from_numpy(a),
                torch.from_numpy(b).T if tb else torch.from_numpy(b),
                f"{m}x{n}x{k} ta={ta} tb={tb} tile {tile.name}")
    # (a size-1 operand is contiguous either way and may take the other kernel: both are right)
    if min(m, n, k) > 1:
        assert launched(cpu, "sgemm").entry == f"sgemm_{tile.name}_{'t' if ta else 'n'}{'t' if tb else 'n'}"


@pytest.mark.parametrize("batch,m,n,k,expected", [(200, 130, 129, 17, "128x128"),
                                                   (1, 130, 129, 17, "64x64"),
                                                   (1, 33, 2000, 9, "64x64")])
def test_sgemm_wrapper_chooses_the_tile_by_problem_size(cpu, batch, m, n, k, expected):
    a, b = randn(batch, m, k), randn(batch, k, n)
    assert_f32(kernels.matmul(a, b), torch.from_numpy(a) @ torch.from_numpy(b), "batched")
    assert launched(cpu, "sgemm").entry == f"sgemm_{expected}_nn"


def test_sgemm_vectorises_aligned_operands_and_not_misaligned_ones(cpu, tile):
    """The float4 path (a vector __ldg) is taken for 16-byte aligned rows and not otherwise."""
    a, b = randn(40, 32), randn(32, 36)
    kernels.matmul(a, b)
    loads = launched(cpu, "sgemm").vector_loads
    assert loads["A"] > 0 and loads["B"] > 0
    # a view that starts one float in: 4 bytes past a 16-byte boundary, so only scalar loads
    buf = randn(40 * 32 + 1)
    a1 = buf[1:].reshape(40, 32)
    assert a1.__array_interface__["data"][0] % 16 != 0
    c = kernels.matmul(a1, b)
    assert_f32(c, torch.from_numpy(a1) @ torch.from_numpy(b), "misaligned a")
    loads = launched(cpu, "sgemm").vector_loads
    assert loads["A"] == 0 and loads["B"] > 0
    # K not a multiple of 4: rows of A are not 16-byte aligned, scalar path for A
    kernels.matmul(randn(40, 33), randn(33, 36))
    assert launched(cpu, "sgemm").vector_loads["A"] == 0


@pytest.mark.parametrize("entry", ["sgemm_128x128_nn", "sgemm_64x64_nn", "sgemm_64x64_tt",
                                   "sgemm_128x128_tn"])
def test_sgemm_kernel_respects_leading_dimensions_wider_than_the_matrix(cpu, entry):
    """Launched directly (the wrapper always passes packed matrices): rows padded to a leading
    dimension that is a multiple of 4 while K and N are not. The padding holds NaN, so a float4
    load that strays past the matrix (NaN · 0 = NaN) shows up; C's padding must stay unwritten
    (it keeps the launcher's NaN poison)."""
    ta, tb = entry[-2] == "t", entry[-1] == "t"
    m, n, k, pad = 37, 45, 19, 5            # ld = 24, 52 (multiples of 4), C's ld = 48

    def padded(rows, cols, ld):
        buf = np.full((rows, ld), np.nan, dtype=np.float32)
        buf[:, :cols] = randn(rows, cols)
        return buf
    a = padded(k, m, m + 3) if ta else padded(m, k, k + pad)
    b = padded(n, k, k + pad) if tb else padded(k, n, n + 7)
    c = np.full((m, n + 3), -7.0, dtype=np.float32)
    t = kernels.TILES[entry.split("_")[1]]
    cpu.launch("sgemm", entry, (-(-n // t.BN), -(-m // t.BM), 1), (256, 1, 1),
               (a, b, c, *kernels._i32(m, n, k, a.shape[1], b.shape[1], c.shape[1]),
                np.int64(0), np.int64(0), np.int64(0), np.int32(1)))
    la = a[:, :m].T if ta else a[:, :k]
    lb = b[:, :k].T if tb else b[:, :n]
    assert_f32(c[:, :n], torch.from_numpy(np.ascontiguousarray(la)) @
               torch.from_numpy(np.ascontiguousarray(lb)), entry)
    assert np.isnan(c[:, n:]).all()
    assert launched(cpu, entry).vector_loads["A"] > 0


@pytest.mark.parametrize("sa,sb", [((3, 17, 5), (5, 9)), ((2, 3, 17, 5), (3, 5, 9)),
                                   ((1, 17, 5), (4, 5, 9)), ((5,), (2, 5, 3)), ((2, 4, 5), (5,)),
                                   ((5,), (5,)), ((17, 5), (2, 5, 9)), ((3, 129, 33), (33, 130)),
                                   ((2, 1, 33, 5), (4, 5, 17))])
def test_sgemm_wrapper_batching_and_broadcasting_follow_torch(sa, sb):
    a, b = randn(*sa), randn(*sb)
    c = kernels.matmul(a, b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert c.shape == tuple(torch.matmul(ta, tb).shape)
    # measured against |a|·|b|: a short dot product that cancels (the (5,) @ (5,) case drew one
    # in a CI run: 2e-5 relative to its tiny result) says nothing about the kernel
    assert_gemm(c, ta, tb, f"{sa} @ {sb}")


def test_sgemm_wrapper_reads_transposed_views_in_place_and_copies_other_layouts(cpu):
    base = randn(2, 9, 17)
    at = np.swapaxes(base, 1, 2)                       # (2, 17, 9), a transposed view
    b = randn(9, 6)
    assert_f32(kernels.matmul(at, b), torch.from_numpy(at) @ torch.from_numpy(b), "transposed")
    assert launched(cpu, "sgemm").entry == "sgemm_64x64_nn"   # folded, the view made contiguous
    b3 = randn(2, 9, 6)
    kernels.matmul(at, b3)
    assert launched(cpu, "sgemm").entry.endswith("_tn")        # read in place
    strided = randn(17, 18)[:, ::2]                            # neither layout: copied
    assert_f32(kernels.matmul(strided, b), torch.from_numpy(strided.copy()) @ torch.from_numpy(b),
               "strided")


def test_sgemm_wrapper_handles_empty_and_zero_k(cpu):
    assert kernels.matmul(randn(0, 3), randn(3, 4)).shape == (0, 4)
    z = kernels.matmul(randn(3, 0), randn(0, 4))
    assert z.shape == (3, 4) and not z.any()
    assert not cpu.launches


@pytest.mark.parametrize("batch,chunk", [(7, 3), (6, 3), (2, 1)])
def test_sgemm_launches_big_batches_in_chunks(cpu, monkeypatch, batch, chunk):
    """gridDim.z is limited to 65535: bigger batches go in chunks (here the limit is ``chunk``),
    each launch given views of A, B and C at the chunk's offset."""
    monkeypatch.setattr(kernels, "GRID_YZ_MAX", chunk)
    a, b = randn(batch, 33, 3), randn(batch, 3, 17)
    assert_f32(kernels.matmul(a, b), torch.from_numpy(a) @ torch.from_numpy(b), "chunked batch")
    grids = [launch.grid[2] for launch in cpu.launches]
    assert sum(grids) == batch and max(grids) == chunk and len(grids) == -(-batch // chunk)


def test_sgemm_broadcast_batches_launch_in_chunks_too(cpu, monkeypatch):
    monkeypatch.setattr(kernels, "GRID_YZ_MAX", 3)
    a, b = randn(5, 1, 17, 3), randn(4, 3, 9)
    assert_f32(kernels.matmul(a, b), torch.from_numpy(a) @ torch.from_numpy(b), "broadcast")
    assert [launch.grid[2] for launch in cpu.launches] == [3] * 6 + [2]


@given(m=st.integers(1, 70), n=st.integers(1, 70), k=st.integers(1, 40), ta=st.booleans(),
       tb=st.booleans(), batch=st.integers(1, 3))
def test_sgemm_hypothesis(m, n, k, ta, tb, batch):
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    a = rng.standard_normal((batch,) + ((k, m) if ta else (m, k))).astype(np.float32)
    b = rng.standard_normal((batch,) + ((n, k) if tb else (k, n))).astype(np.float32)
    c = kernels.matmul(a, b, ta, tb)
    la = torch.from_numpy(a).mT if ta else torch.from_numpy(a)
    lb = torch.from_numpy(b).mT if tb else torch.from_numpy(b)
    assert_gemm(c, la, lb, f"{batch}x{m}x{n}x{k}")


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
    (1, 3, 33, 17, 17, 3, 3, 2, 1, 1, 1),
    (1, 33, 9, 9, 127, 3, 3, 1, 1, 1, 1),             # 127 output channels, reduction 297
    (1, 130, 3, 5, 129, 1, 1, 1, 0, 1, 1),            # 129 x 130 channels
    (3, 4, 13, 11, 8, 3, 3, 2, 1, 2, 2),              # stride, dilation and groups together
    (2, 6, 9, 9, 6, 3, 3, 1, 1, 1, 6),                # depthwise
    (1, 3, 127, 33, 4, 1, 1, 1, 0, 1, 1),             # 127 x 33 pixels
    (2, 8, 15, 16, 8, 5, 3, (2, 1), (2, 0), (1, 2), 4),
]


def conv_reference(x, w, b, stride, padding, dilation, groups, g):
    """torch in float32: y, and dx, dw with the cotangent g."""
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = None if b is None else torch.from_numpy(b)
    if isinstance(padding, tuple) and len(padding) == 4:
        top, bottom, left, right = padding
        y = torch.nn.functional.conv2d(torch.nn.functional.pad(xt, (left, right, top, bottom)),
                                       wt, bt, stride, 0, dilation, groups)
    else:
        y = torch.nn.functional.conv2d(xt, wt, bt, stride, padding, dilation, groups)
    y.backward(torch.from_numpy(g))
    return y.detach(), xt.grad, wt.grad


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch(cpu, tile, case):
    n, c, h, w, o, r, s, stride, padding, dilation, groups = case
    x, wt, b = randn(n, c, h, w), randn(o, c // groups, r, s), randn(o)
    y = kernels.conv2d_forward(x, wt, b, stride, padding, dilation, groups)
    g = randn(*y.shape)
    y_ref, dx_ref, dw_ref = conv_reference(x, wt, b, stride, padding, dilation, groups, g)
    assert_f32(y, y_ref, "forward")
    assert launched(cpu, "conv2d_fwd").entry == f"conv2d_fwd_{tile.name}"
    dx = kernels.conv2d_backward_data(g, wt, x.shape, stride, padding, dilation, groups)
    assert_f32(dx, dx_ref, "backward-data")
    assert launched(cpu, "conv2d_bwd_data").entry == f"conv2d_bwd_data_{tile.name}"
    dw = kernels.conv2d_backward_weight(g, x, wt.shape, stride, padding, dilation, groups)
    assert_f32(dw, dw_ref, "backward-weight")


@pytest.mark.parametrize("n,hw,split", [(4, 17, True), (1, 8, False)])
def test_conv2d_backward_weight_split_k_and_a_single_slice(cpu, n, hw, split):
    """A long reduction over (N, P, Q) is split (one workspace slice per split, summed by
    splitk_reduce); one of fewer than 8 k tiles is not (dw written directly)."""
    x, w = randn(n, 3, hw, hw), randn(8, 3, 3, 3)
    g = randn(n, 8, hw, hw)
    dw = kernels.conv2d_backward_weight(g, x, w.shape, 1, 1, 1, 1)
    splits, _ = kernels.plan_splitk(n * hw * hw, 1, cpu.sm_count, kernels.TILE_S.BK, 65535)
    assert (splits > 1) == split
    assert launched(cpu, "conv2d_bwd_weight").grid[2] == splits
    assert ("splitk_reduce" in cpu.entries()) == split
    assert_f32(dw, conv_reference(x, w, None, 1, 1, 1, 1, g)[2], "split-K dw")


def test_conv2d_bias_is_optional(cpu):
    w = randn(3, 2, 3, 3)
    for shape in ((1, 2, 4, 4), (1, 2, 5, 5)):         # P·Q = 16 (float4 stores), 25 (scalar)
        x = randn(*shape)
        y = kernels.conv2d_forward(x, w, None, 1, 1, 1, 1)
        assert_f32(y, conv_reference(x, w, None, 1, 1, 1, 1, np.zeros(y.shape, np.float32))[0],
                   f"no bias {shape}")


@given(n=st.integers(1, 3), cg=st.integers(1, 4), og=st.integers(1, 5), groups=st.integers(1, 2),
       h=st.integers(1, 9), w=st.integers(1, 9), r=st.integers(1, 3), s=st.integers(1, 3),
       stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 2))
def test_conv2d_hypothesis(n, cg, og, groups, h, w, r, s, stride, pad, dil):
    if (h + 2 * pad - dil * (r - 1) - 1) < 0 or (w + 2 * pad - dil * (s - 1) - 1) < 0:
        return  # the kernel does not fit: the wrapper's error is tested separately
    rng = np.random.default_rng(n + 7 * cg + 31 * h + 131 * w)
    x = rng.standard_normal((n, cg * groups, h, w)).astype(np.float32)
    wt = rng.standard_normal((og * groups, cg, r, s)).astype(np.float32)
    y = kernels.conv2d_forward(x, wt, None, stride, pad, dil, groups)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y_ref, dx_ref, dw_ref = conv_reference(x, wt, None, stride, pad, dil, groups, g)
    assert_f32(y, y_ref, "forward")
    assert_f32(kernels.conv2d_backward_data(g, wt, x.shape, stride, pad, dil, groups), dx_ref,
               "backward-data")
    assert_f32(kernels.conv2d_backward_weight(g, x, wt.shape, stride, pad, dil, groups),
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
    ((1, 3, 127, 3), 3, 2, 1, 2, True),
    ((2, 1, 129, 130), 2, 2, 0, 1, True),
    ((1, 2, 130, 129), (3, 5), (2, 3), (1, 2), (1, 1), False),
    ((3, 2, 17, 33), 4, 3, 2, 1, True),
]


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_equals_torch_and_the_cpu_path_bit_for_bit(cpu, case):
    shape, k, s, p, d, ceil = case
    x = randn(*shape)
    if x.size > 8:
        x.reshape(-1)[3] = x.reshape(-1)[4] = 7.0   # a tie: the first in scan order wins
        x.reshape(-1)[9] = np.nan                     # a NaN always wins
    out_hw = max_pool2d_geometry(shape, pair(k), pair(s), pair(p), pair(d), ceil).out_hw
    y, ind = kernels.max_pool2d_forward(x, k, s, p, d, out_hw)
    xt = minitorch.tensor(x, requires_grad=True)
    y_cpu, ind_cpu = minitorch.nn.functional.max_pool2d(xt, k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(y, y_cpu.detach().numpy())
    np.testing.assert_array_equal(ind, ind_cpu.numpy())
    torch_x = torch.tensor(x, requires_grad=True)
    y_t, ind_t = torch.nn.functional.max_pool2d(torch_x, k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(y, y_t.detach().numpy())
    np.testing.assert_array_equal(ind, ind_t.numpy())
    g = randn(*y.shape)
    y_cpu.backward(minitorch.tensor(g))
    y_t.backward(torch.from_numpy(g))
    dx = kernels.max_pool2d_backward(g, ind, shape, k, s, p, d)
    np.testing.assert_array_equal(dx, xt.grad.numpy())   # same float32 sums, same order
    np.testing.assert_allclose(dx, torch_x.grad.numpy(), rtol=F32, atol=F32)


def test_max_pool2d_forward_can_skip_the_indices(cpu):
    y, ind = kernels.max_pool2d_forward(randn(1, 1, 4, 4), 2, 2, 0, 1, (2, 2),
                                        return_indices=False)
    assert ind is None and launched(cpu, "max_pool2d_fwd")


@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 12), w=st.integers(1, 12),
       kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       dh=st.integers(1, 2), dw=st.integers(1, 2), ceil=st.booleans(), data=st.data())
def test_max_pool2d_hypothesis(n, c, h, w, kh, kw, sh, sw, dh, dw, ceil, data):
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
def test_bad_input_raises_before_launch_naming_the_shapes(cpu, call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert not cpu.launches


def test_tensors_of_2_31_elements_or_more_are_refused(monkeypatch):
    monkeypatch.setattr(kernels, "INT32_MAX", 100)
    with pytest.raises(ValueError, match="32-bit offsets"):
        kernels.conv2d_forward(randn(1, 2, 8, 8), randn(2, 2, 3, 3))


def test_gemm_extents_leave_a_tile_of_room_below_2_31(cpu, monkeypatch):
    """Edge tiles form int32 indices up to a tile past M, N, K (n0 + frag_col + 3, k0 + kc + 3):
    the wrappers refuse extents within TILE_OVERSHOOT of 2^31 (here 2^31 is played by 300)."""
    monkeypatch.setattr(kernels, "INT32_MAX", 300)
    limit = 300 - kernels.TILE_OVERSHOOT
    with pytest.raises(ValueError, match=f"N={limit + 1} does not fit"):
        kernels.matmul(randn(2, 3), randn(3, limit + 1))
    with pytest.raises(ValueError, match=f"reduction over \\(N, P, Q\\) has length {limit + 1}"):
        kernels.conv2d_backward_weight(randn(1, 1, 5, 9), randn(1, 1, 5, 9), (1, 1, 1, 1))
    assert not cpu.launches
    c = kernels.matmul(randn(2, 3), randn(3, limit))  # at the limit: runs
    assert c.shape == (2, limit)


# ---------------------------------------------------------------------------------------------
# The CUDA glue of the ops, on the CPU kernels: MatMul, Linear, Conv2d, MaxPool2d
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def kernels_on_numpy(monkeypatch):
    """Route the hot paths to the kernel wrappers for NumPy float32 arrays (which run on the
    CPU layer), exactly as ``raw_kernels_for`` routes CuPy float32 arrays on a GPU."""
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
def test_ops_take_the_kernel_path_and_match_torch(cpu, kernels_on_numpy, fn, shapes):
    arrays = [RNG.permutation(int(np.prod(s))).reshape(s).astype(np.float32) / 10
              for s in shapes]
    check(fn, *arrays, dtype="float32")
    assert cpu.launches, "the kernel path was not taken"


def test_max_pool2d_return_indices_on_the_kernel_path(cpu, kernels_on_numpy):
    x = RNG.permutation(2 * 8 * 8).reshape(1, 2, 8, 8).astype(np.float32)
    y, ind = minitorch.nn.functional.max_pool2d(minitorch.tensor(x), 2, return_indices=True)
    y_t, ind_t = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    assert_close(y, y_t, "float32")
    np.testing.assert_array_equal(ind.numpy(), ind_t.numpy())
    assert "max_pool2d_fwd" in cpu.entries()


def test_a_training_step_of_the_simple_cnn_on_the_kernel_path(cpu, kernels_on_numpy):
    """SimpleCNN (conv → relu → pool → linear), one SGD step on a batch of 2, through the real
    kernels: loss and every parameter match torch."""
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
        launched(cpu, entry)
