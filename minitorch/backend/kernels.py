"""Our CUDA kernels: the loader for ``kernels/*.cu`` and launch wrappers that check before launching.

The hot paths of the engine — ``matmul``/``linear`` (SGEMM), ``conv2d`` (implicit GEMM,
forward, backward-data, backward-weight) and ``max_pool2d`` (forward with argmax, backward) —
run on kernels we write (``kernels/sgemm.cu``, ``kernels/conv2d.cu``, ``kernels/maxpool2d.cu``,
each with a comment block on what it computes, its tiles and its launch geometry). The ops reach
them through :func:`minitorch.backend.raw_kernels_for`, which returns this module only for CuPy
float32 arrays while ``minitorch.backend.use_raw_kernels`` is True; otherwise they run their
generic NumPy/CuPy code (CuPy's matmul is cuBLAS), which stays available as the reference and
the benchmark baseline.

Loading: each ``.cu`` file is read as text, its ``#include "…"`` lines are replaced by the
included files (so CuPy's compile cache, which hashes the source text, sees every change), and
the text is compiled once per device by ``cupy.RawModule`` (NVRTC, ``-std=c++17``) and cached.
The folder is found, in order: ``$MINITORCH_KERNEL_DIR``; ``minitorch/backend/cuda/`` (an
installed wheel: setup.py ships the repository's ``kernels/`` there as package data);
``kernels/`` beside the ``minitorch`` package (a source checkout and ``pip install -e .``).

Tile constants: ``kernels/gemm_tile.cuh`` is their only source. Its ``typedef Tile<BM, BN, BK,
TM, TN, KU> TileL;`` and ``TileS`` lines are read when this module is imported, from the folder
the kernels are compiled from, and become :data:`TILE_L`, :data:`TILE_S` (and :data:`TILES`) and
:data:`THREADS` (TY·TX threads per block, the same for both tiles; the header static_asserts
256). Changing a tile is an edit of the header alone. What cannot be read from the header is
tested instead (tests/test_kernels_on_cpu.py): every entry point the wrappers launch is defined,
and every ``__launch_bounds__`` of the sources equals THREADS.

Wrappers: every public function here checks shapes, dtypes (float32 only: anything else raises
TypeError — the ops never send other dtypes), index ranges (every count a kernel indexes with
32-bit ints must fit) and grid limits *before* launching, raising a Python exception that names
the shapes; bad input is never an illegal memory access. Inputs are made C-contiguous
(``ascontiguousarray``: a raw kernel sees only the data pointer), scalars go as ``np.int32`` /
``np.int64``. Outputs are new arrays.

Launching: a wrapper plans a launch — module, entry point, grid, block, arguments — and hands
it to the installed :data:`launcher` (any object with :class:`Launcher`'s attributes). The
default, :class:`CudaLauncher`, compiles with ``cupy.RawModule`` and launches on the current
GPU; it takes CuPy arrays, and a NumPy array handed to a wrapper raises TypeError. A test
installs a CPU stand-in for a ``with`` block, ``use_launcher(CpuLauncher())``:
``minitorch.testing.cuda_cpu.CpuLauncher`` runs the kernels' own source, compiled as C++ with
CUDA's semantics (real barriers, memory and race checkers), on NumPy arrays, behind exactly the
same checks and launch plan. The runtime never imports ``minitorch.testing``.
"""
from __future__ import annotations

import contextlib
import functools
import math
import os
import re
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from .device import cupy_module
from .geometry import ConvGeometry, conv2d_geometry
from .shapes import ArgumentError, fmt_shape, pair_argument

__all__ = ["matmul", "conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
           "max_pool2d_forward", "max_pool2d_backward", "kernel_dir", "kernel_source",
           "Launcher", "CudaLauncher", "use_launcher"]

INT32_MAX = 2 ** 31 - 1
GRID_YZ_MAX = 65535         # CUDA's limit on gridDim.y and gridDim.z
# An edge tile forms int32 indices up to one tile (<= 128) plus a float4 (4) past the end of M,
# N or K (e.g. n0 + frag_col + 3, k0 + kc + 3): sizes must leave this much room below 2^31.
TILE_OVERSHOOT = 256
NVRTC_OPTIONS = ("-std=c++17",)


class Tile(NamedTuple):
    """A tile configuration of ``kernels/gemm_tile.cuh`` (the entry-point suffix is ``name``)."""
    name: str
    BM: int
    BN: int
    BK: int
    TM: int
    TN: int

    @property
    def TY(self):
        return self.BM // self.TM

    @property
    def TX(self):
        return self.BN // self.TN

    @property
    def SA(self):
        return self.BM + 4

    @property
    def SB(self):
        return self.BN + 4


# ---------------------------------------------------------------------------------------------
# Finding, reading and compiling the sources
# ---------------------------------------------------------------------------------------------
def _candidate_dirs():
    env = os.environ.get("MINITORCH_KERNEL_DIR")
    here = Path(__file__).resolve().parent
    if env:
        yield Path(env)
    yield here / "cuda"                       # an installed wheel (package data)
    yield here.parent.parent / "kernels"      # the repository (and an editable install)


def kernel_dir() -> Path:
    """The folder that holds ``sgemm.cu``, ``conv2d.cu`` and ``maxpool2d.cu``."""
    tried = []
    for d in _candidate_dirs():
        if (d / "sgemm.cu").is_file():
            return d
        tried.append(str(d))
    raise FileNotFoundError("minitorch's CUDA kernel sources (sgemm.cu, conv2d.cu, maxpool2d.cu) "
                            "were not found; looked in " + ", ".join(tried) + ". Set "
                            "MINITORCH_KERNEL_DIR to the repository's kernels/ folder.")


_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)


@functools.lru_cache(maxsize=None)
def kernel_source(name: str) -> str:
    """The text of ``kernels/<name>.cu`` with its ``#include "file"`` lines replaced by the
    files' text (each file once; a ``#pragma once`` header included twice appears once)."""
    folder = kernel_dir()
    seen = set()

    def expand(path: Path) -> str:
        text = path.read_text()

        def include(match):
            target = (path.parent / match.group(1)).resolve()
            if target in seen:
                return ""
            seen.add(target)
            return f"// ---- begin {match.group(1)} ----\n{expand(target)}\n// ---- end {match.group(1)} ----"
        return _INCLUDE.sub(include, text)

    return expand(folder / f"{name}.cu")


_TILE_TYPEDEF = re.compile(r"^\s*typedef\s+Tile<([^<>]*)>\s+(\w+)\s*;", re.MULTILINE)


def read_tiles(header: str) -> dict:
    """{C++ name: Tile} for every ``typedef Tile<BM, BN, BK, TM, TN, KU> Name;`` line of
    ``header`` (the text of gemm_tile.cuh; KU, an unroll factor, does not concern the launch)."""
    tiles = {}
    for args, cxx_name in _TILE_TYPEDEF.findall(header):
        bm, bn, bk, tm, tn, _ku = (int(v) for v in args.split(","))
        tiles[cxx_name] = Tile(f"{bm}x{bn}", bm, bn, bk, tm, tn)
    return tiles


def _header_tiles():
    """(TileL, TileS, threads per block) as gemm_tile.cuh defines them."""
    path = kernel_dir() / "gemm_tile.cuh"
    tiles = read_tiles(path.read_text())
    missing = sorted({"TileL", "TileS"} - tiles.keys())
    if missing:
        raise RuntimeError(f"{path} defines no {' or '.join(missing)} (typedef Tile<...> Name;)")
    threads = {t.TY * t.TX for t in tiles.values()}
    if len(threads) != 1:
        raise RuntimeError(f"{path}: the tiles run different block sizes {sorted(threads)}; the "
                           f"launch wrappers use one")
    return tiles["TileL"], tiles["TileS"], threads.pop()


TILE_L, TILE_S, THREADS = _header_tiles()   # THREADS: every kernel here runs THREADS-thread blocks
TILES = {t.name: t for t in (TILE_L, TILE_S)}


# ---------------------------------------------------------------------------------------------
# Launching: the installed launcher runs what the wrappers planned
# ---------------------------------------------------------------------------------------------
class Launcher(Protocol):
    """What runs a planned launch. ``array_kind`` names the arrays it takes: ``"cupy"`` (the
    GPU) or ``"numpy"`` (a CPU stand-in for tests); the wrappers refuse any other kind."""

    array_kind: str

    def multiprocessors(self) -> int:
        """The multiprocessor count the wrappers plan grids and split-K for."""

    def launch(self, module: str, entry: str, grid: tuple, block: tuple, args: tuple) -> None:
        """Run ``extern "C"`` kernel ``entry`` of ``kernels/<module>.cu`` on ``grid`` blocks of
        ``block`` threads with ``args``: C-contiguous arrays first, then ``np.int32`` /
        ``np.int64`` scalars, as the kernel's signature declares."""


@functools.lru_cache(maxsize=None)
def _device_sm_count(device_id: int) -> int:
    cp = cupy_module(required=True)
    return int(cp.cuda.Device(device_id).attributes["MultiProcessorCount"])


class CudaLauncher:
    """The default launcher: the kernels on the current GPU, through CuPy. Each module is
    compiled once per device by ``cupy.RawModule`` (NVRTC with NVRTC_OPTIONS; CuPy also caches
    the binary on disk)."""

    array_kind = "cupy"

    def __init__(self):
        self._modules = {}   # (module, device id) -> cupy.RawModule

    def multiprocessors(self) -> int:
        cp = cupy_module(required=True)
        return _device_sm_count(cp.cuda.Device().id)

    def function(self, module: str, entry: str):
        """The compiled kernel ``entry`` of ``kernels/<module>.cu`` on the current device."""
        cp = cupy_module(required=True)
        key = (module, cp.cuda.Device().id)
        compiled = self._modules.get(key)
        if compiled is None:
            compiled = cp.RawModule(code=kernel_source(module), options=NVRTC_OPTIONS)
            self._modules[key] = compiled
        return compiled.get_function(entry)

    def launch(self, module: str, entry: str, grid: tuple, block: tuple, args: tuple) -> None:
        self.function(module, entry)(tuple(grid), tuple(block), args)


launcher: Launcher = CudaLauncher()   # read at every wrapper call; replace with use_launcher


@contextlib.contextmanager
def use_launcher(new: Launcher):
    """Run every kernel launch inside the ``with`` block through ``new`` (a test's CPU stand-in,
    e.g. ``minitorch.testing.cuda_cpu.CpuLauncher()``); the previous launcher is back on
    exit. Yields ``new``."""
    global launcher
    previous, launcher = launcher, new
    try:
        yield new
    finally:
        launcher = previous


def sm_count() -> int:
    """Multiprocessors to plan for: the installed launcher's."""
    return launcher.multiprocessors()


def _launch(module: str, entry: str, grid: tuple, args: tuple) -> None:
    """Hand the planned launch of ``entry`` (THREADS-thread blocks) to the installed launcher."""
    for i, g in enumerate(grid):  # the wrappers planned the grid within CUDA's limits
        assert 1 <= g <= (INT32_MAX if i == 0 else GRID_YZ_MAX), f"{entry}: bad grid {grid}"
    launcher.launch(module, entry, tuple(int(g) for g in grid), (THREADS, 1, 1), args)


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the wrappers
# ---------------------------------------------------------------------------------------------
def _array_module(op: str, **arrays):
    """NumPy or CuPy, the same for every (non-None) array and the kind the installed launcher
    takes; TypeError for anything else (NumPy arrays without a test launcher among them)."""
    cp = cupy_module(required=False)
    modules = set()
    for name, a in arrays.items():
        if a is None:
            continue
        if isinstance(a, np.ndarray):
            modules.add("numpy")
        elif cp is not None and isinstance(a, cp.ndarray):
            modules.add("cupy")
        else:
            raise TypeError(f"{op}: {name} must be a NumPy or CuPy array, got {type(a).__name__}")
    if len(modules) > 1:
        raise TypeError(f"{op}: all arrays must live on one device, got a mix of NumPy and CuPy "
                        f"arrays ({', '.join(sorted(arrays))})")
    kind, = modules
    if kind != launcher.array_kind:
        names = ", ".join(sorted(name for name, a in arrays.items() if a is not None))
        if kind == "numpy":
            raise TypeError(f"{op}: the CUDA kernels need CuPy arrays, got NumPy arrays ({names}); "
                            f"NumPy arrays run here only in tests, under a CPU stand-in installed "
                            f"with minitorch.backend.kernels.use_launcher (such as "
                            f"minitorch.testing.cuda_cpu.CpuLauncher)")
        raise TypeError(f"{op}: the installed launcher {type(launcher).__name__} runs on "
                        f"{launcher.array_kind} arrays, got {kind} arrays ({names})")
    return cp if kind == "cupy" else np


def _check_float32(op: str, **arrays):
    for name, a in arrays.items():
        if a is not None and a.dtype != np.float32:
            raise TypeError(f"{op}: the CUDA kernels take float32 only, got {name} of dtype "
                            f"{a.dtype} and shape {fmt_shape(a.shape)}")


def _check_ndim(op: str, name: str, a, ndim: int, layout: str):
    if a.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D {layout}, got shape {fmt_shape(a.shape)}")


def _check_elements(op: str, **arrays_or_shapes):
    """Every tensor a kernel indexes with 32-bit offsets has fewer than 2^31 elements."""
    for name, a in arrays_or_shapes.items():
        shape = a.shape if hasattr(a, "shape") else tuple(a)
        if math.prod(shape) > INT32_MAX:
            raise ValueError(f"{op}: {name} of shape {fmt_shape(shape)} has {math.prod(shape)} elements; "
                             f"the kernels index with 32-bit offsets and take at most {INT32_MAX}")


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _i32(*values):
    return tuple(np.int32(v) for v in values)


def choose_tile(m: int, n: int, batch: int, sms: int) -> Tile:
    """TileS when M <= 64 (a 128-row tile would be half empty) or when TileL would not give
    every multiprocessor a block; TileL otherwise."""
    if m <= 64:
        return TILE_S
    blocks_l = _cdiv(m, TILE_L.BM) * _cdiv(n, TILE_L.BN) * batch
    return TILE_L if blocks_l >= sms else TILE_S


# ---------------------------------------------------------------------------------------------
# SGEMM: matmul with NumPy semantics
# ---------------------------------------------------------------------------------------------
def _gemm_operand(xp, op, batch_shape):
    """(array, transposed, ld, batch_stride) describing the logical operand ``op`` (..., R, C)
    for the kernel: ``array`` is C-contiguous and holds op (transposed=False: op[r][c] at
    r·ld + c) or opᵀ (transposed=True: op[r][c] at c·ld + r); batch_stride 0 broadcasts a 2-D
    operand over the batch."""
    rows, cols = op.shape[-2:]
    if op.ndim == 2:
        mats, stride = op, 0
    else:
        if tuple(op.shape[:-2]) != tuple(batch_shape):
            op = xp.broadcast_to(op, tuple(batch_shape) + (rows, cols))
        mats, stride = op.reshape((-1, rows, cols)), rows * cols
    if mats.flags.c_contiguous:
        return mats, False, cols, stride
    swapped = xp.swapaxes(mats, -1, -2)
    if swapped.flags.c_contiguous:
        return swapped, True, rows, stride
    return xp.ascontiguousarray(mats), False, cols, stride


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False):
    """``op(a) @ op(b)`` with NumPy's matmul semantics (1-D operands, broadcast batch dims), where
    ``op`` swaps the last two axes when ``transpose_*`` is set; float32, on our SGEMM kernel.

    A 2-D ``b`` with a batched ``a`` folds the batch into the rows of one GEMM; otherwise one
    GEMM per batch entry (gridDim.z), a 2-D operand broadcast with batch stride 0. Operands that
    are transposed views of contiguous arrays are read in place ("t" kernels); other layouts
    are copied to C-contiguous first.
    """
    op = "matmul (CUDA kernel)"
    xp = _array_module(op, a=a, b=b)
    _check_float32(op, a=a, b=b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{op}: both operands need at least 1 dimension, got shapes "
                         f"{fmt_shape(a.shape)} and {fmt_shape(b.shape)}")
    for name, x, t in (("a", a, transpose_a), ("b", b, transpose_b)):
        if t and x.ndim < 2:
            raise ValueError(f"{op}: transpose_{name} needs a 2-D or batched {name}, got shape "
                             f"{fmt_shape(x.shape)}")
    la = a[None, :] if a.ndim == 1 else (xp.swapaxes(a, -1, -2) if transpose_a else a)
    lb = b[:, None] if b.ndim == 1 else (xp.swapaxes(b, -1, -2) if transpose_b else b)
    m, k = la.shape[-2:]
    k2, n = lb.shape[-2:]
    shapes = (f"{fmt_shape(a.shape)}{'ᵀ' if transpose_a else ''} @ "
              f"{fmt_shape(b.shape)}{'ᵀ' if transpose_b else ''}")
    if k != k2:
        raise ValueError(f"{op}: {shapes}: inner dimensions {k} != {k2}")
    try:
        batch_shape = np.broadcast_shapes(la.shape[:-2], lb.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: {shapes}: batch dimensions {fmt_shape(la.shape[:-2])} and "
                         f"{fmt_shape(lb.shape[:-2])} do not broadcast") from None
    final_shape = tuple(batch_shape) + ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
    for name, v in (("M", m), ("N", n), ("K", k)):
        if v > INT32_MAX - TILE_OVERSHOOT:
            raise ValueError(f"{op}: {shapes}: {name}={v} does not fit the kernel's int32 "
                             f"(at most {INT32_MAX - TILE_OVERSHOOT})")
    batch = math.prod(batch_shape)
    if batch * m * n == 0 or k == 0:
        return xp.zeros(final_shape, dtype=np.float32)
    if lb.ndim == 2 and la.ndim > 2:  # (…, M, K) @ (K, N): one GEMM with batch·M rows
        la = la.reshape(-1, k)
        m, batch, gemm_batch = batch * m, 1, ()
    else:
        gemm_batch = batch_shape
    if m > INT32_MAX - TILE_OVERSHOOT:
        raise ValueError(f"{op}: {shapes}: {m} rows do not fit the kernel's int32")
    A, ta, lda, stride_a = _gemm_operand(xp, la, gemm_batch)
    B, tb, ldb, stride_b = _gemm_operand(xp, lb, gemm_batch)
    c = xp.empty((batch, m, n), dtype=np.float32)
    tile = choose_tile(m, n, batch, sm_count())
    grid_y = _cdiv(m, tile.BM)
    if grid_y > GRID_YZ_MAX:
        raise ValueError(f"{op}: {shapes}: M={m} needs {grid_y} row tiles of {tile.BM}, more than "
                         f"the grid's limit of {GRID_YZ_MAX}")
    entry = f"sgemm_{tile.name}_{'t' if ta else 'n'}{'t' if tb else 'n'}"
    for b0 in range(0, batch, GRID_YZ_MAX):  # gridDim.z <= 65535: launch big batches in chunks
        nb = min(GRID_YZ_MAX, batch - b0)
        a_arg = A[b0:b0 + nb] if stride_a else A
        b_arg = B[b0:b0 + nb] if stride_b else B
        _launch("sgemm", entry, (_cdiv(n, tile.BN), grid_y, nb),
                (a_arg, b_arg, c[b0:b0 + nb], *_i32(m, n, k, lda, ldb, n),
                 np.int64(stride_a), np.int64(stride_b), np.int64(m * n), np.int32(nb)))
    return c.reshape(final_shape)


# ---------------------------------------------------------------------------------------------
# conv2d: implicit GEMM
# ---------------------------------------------------------------------------------------------
def conv_geometry(op, input_shape, weight_shape, stride, padding, dilation, groups) -> ConvGeometry:
    """Check a convolution's shapes and hyper-parameters (the one check conv2d itself makes,
    :func:`minitorch.backend.geometry.conv2d_geometry`); the output is (N, O, P, Q).
    ``padding``: an int, (pH, pW) or (top, bottom, left, right)."""
    if isinstance(padding, (int, np.integer)):
        padding = (padding, padding)
    padding = tuple(int(p) for p in padding)
    if len(padding) not in (2, 4):
        raise ArgumentError(f"{op}: padding must be an int, (pH, pW) or (top, bottom, left, "
                            f"right), got {padding}")
    return conv2d_geometry(tuple(int(v) for v in input_shape), tuple(int(v) for v in weight_shape),
                           None, pair_argument(stride, "stride", op),
                           padding, pair_argument(dilation, "dilation", op), groups, op=op)


def _check_reduction(op: str, k: int, what: str):
    """The GEMM reduction length k leaves the int32 room an edge tile needs."""
    if k > INT32_MAX - TILE_OVERSHOOT:
        raise ValueError(f"{op}: the reduction over {what} has length {k}; the kernels index it "
                         f"with 32-bit ints and take at most {INT32_MAX - TILE_OVERSHOOT}")


def _conv_grid(op, tile, cols, rows, z):
    gy = _cdiv(rows, tile.BM)
    if gy > GRID_YZ_MAX or z > GRID_YZ_MAX or cols > INT32_MAX - tile.BN:
        raise ValueError(f"{op}: the launch grid ({_cdiv(cols, tile.BN)}, {gy}, {z}) exceeds CUDA's "
                         f"limits (y and z at most {GRID_YZ_MAX})")
    return (_cdiv(cols, tile.BN), gy, z)


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y = conv2d(x, weight, bias): x (N, C, H, W), weight (O, C/groups, R, S), bias (O,) or None
    → y (N, O, P, Q). ``padding``: int, (pH, pW) or (top, bottom, left, right)."""
    op = "conv2d forward (CUDA kernel)"
    xp = _array_module(op, x=x, weight=weight, bias=bias)
    _check_float32(op, x=x, weight=weight, bias=bias)
    geo = conv_geometry(op, x.shape, weight.shape, stride, padding, dilation, groups)
    if bias is not None and tuple(bias.shape) != (geo.O,):
        raise ValueError(f"{op}: bias must have shape ({geo.O},), got {fmt_shape(bias.shape)}")
    y_shape = (geo.N, geo.O, geo.P, geo.Q)
    _check_elements(op, x=x, weight=weight, y=y_shape)
    y = xp.empty(y_shape, dtype=np.float32)
    if y.size == 0:
        return y
    x, weight = xp.ascontiguousarray(x), xp.ascontiguousarray(weight)
    bias_arg = weight if bias is None else xp.ascontiguousarray(bias)
    og, npix = geo.O // geo.G, geo.N * geo.P * geo.Q
    _check_reduction(op, geo.C // geo.G * geo.R * geo.S, "(C/groups, R, S)")
    tile = choose_tile(og, npix, geo.G, sm_count())
    grid = _conv_grid(op, tile, npix, og, geo.G)
    _launch("conv2d", f"conv2d_fwd_{tile.name}", grid,
            (x, weight, bias_arg, y, *geo.ints(), np.int32(bias is not None)))
    return y


def conv2d_backward_data(grad, weight, input_shape, stride=1, padding=0, dilation=1, groups=1):
    """dL/dx of conv2d: grad (N, O, P, Q), weight (O, C/groups, R, S) → dx of ``input_shape``."""
    op = "conv2d backward-data (CUDA kernel)"
    xp = _array_module(op, grad=grad, weight=weight)
    _check_float32(op, grad=grad, weight=weight)
    geo = conv_geometry(op, tuple(input_shape), weight.shape, stride, padding, dilation, groups)
    expected = (geo.N, geo.O, geo.P, geo.Q)
    if tuple(grad.shape) != expected:
        raise ValueError(f"{op}: grad has shape {fmt_shape(grad.shape)} but input {fmt_shape(input_shape)} "
                         f"and weight {fmt_shape(weight.shape)} give outputs of shape {fmt_shape(expected)}")
    _check_elements(op, grad=grad, weight=weight, input=input_shape)
    dx = xp.empty(tuple(int(v) for v in input_shape), dtype=np.float32)
    if dx.size == 0:
        return dx
    if grad.size == 0:
        dx[...] = 0
        return dx
    grad, weight = xp.ascontiguousarray(grad), xp.ascontiguousarray(weight)
    cg, npix = geo.C // geo.G, geo.N * geo.H * geo.W
    _check_reduction(op, geo.O // geo.G * geo.R * geo.S, "(O/groups, R, S)")
    tile = choose_tile(cg, npix, geo.G, sm_count())
    grid = _conv_grid(op, tile, npix, cg, geo.G)
    _launch("conv2d", f"conv2d_bwd_data_{tile.name}", grid, (grad, weight, dx, *geo.ints()))
    return dx


def plan_splitk(k: int, blocks: int, sms: int, bk: int, max_splits: int) -> tuple:
    """(splits, kchunk) for backward-weight over a reduction of length k >= 1: enough K slices
    that blocks·splits reaches two blocks per multiprocessor, each slice at least 8 k tiles
    long, at most ``max_splits``; kchunk is a multiple of BK and every slice is non-empty."""
    splits = max(1, min(_cdiv(2 * sms, blocks), _cdiv(k, 8 * bk), max_splits))
    chunk = _cdiv(_cdiv(k, splits), bk) * bk
    return _cdiv(k, chunk), chunk


def conv2d_backward_weight(grad, x, weight_shape, stride=1, padding=0, dilation=1, groups=1):
    """dL/dw of conv2d: grad (N, O, P, Q), x (N, C, H, W) → dw of ``weight_shape``, summed over
    the batch with split-K and a deterministic reduction."""
    op = "conv2d backward-weight (CUDA kernel)"
    xp = _array_module(op, grad=grad, x=x)
    _check_float32(op, grad=grad, x=x)
    geo = conv_geometry(op, x.shape, tuple(weight_shape), stride, padding, dilation, groups)
    expected = (geo.N, geo.O, geo.P, geo.Q)
    if tuple(grad.shape) != expected:
        raise ValueError(f"{op}: grad has shape {fmt_shape(grad.shape)} but input {fmt_shape(x.shape)} and "
                         f"weight {fmt_shape(weight_shape)} give outputs of shape {fmt_shape(expected)}")
    _check_elements(op, grad=grad, x=x, weight=weight_shape)
    dw = xp.empty(tuple(int(v) for v in weight_shape), dtype=np.float32)
    if dw.size == 0:
        return dw
    if grad.size == 0:
        dw[...] = 0
        return dw
    grad, x = xp.ascontiguousarray(grad), xp.ascontiguousarray(x)
    og, kg, k = geo.O // geo.G, dw.size // geo.O, geo.N * geo.P * geo.Q
    _check_reduction(op, k, "(N, P, Q)")
    tile = TILE_S if og <= 64 or kg <= 64 else TILE_L
    blocks = _cdiv(og, tile.BM) * _cdiv(kg, tile.BN) * geo.G
    splits, chunk = plan_splitk(k, blocks, sm_count(), tile.BK,
                                max_splits=min(GRID_YZ_MAX // geo.G, INT32_MAX // dw.size))
    out = dw if splits == 1 else xp.empty((splits,) + dw.shape, dtype=np.float32)
    grid = _conv_grid(op, tile, kg, og, geo.G * splits)
    _launch("conv2d", f"conv2d_bwd_weight_{tile.name}", grid,
            (grad, x, out, *geo.ints(), np.int32(chunk)))
    if splits > 1:
        blocks_r = min(_cdiv(dw.size, THREADS), 32 * sm_count())
        _launch("conv2d", "splitk_reduce", (blocks_r, 1, 1),
                (out, dw, np.int32(dw.size), np.int32(splits)))
    return dw


# ---------------------------------------------------------------------------------------------
# max_pool2d
# ---------------------------------------------------------------------------------------------
def _pool_params(op, input_shape, kernel_size, stride, padding, dilation, out_hw):
    if len(input_shape) != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {fmt_shape(input_shape)}")
    kh, kw = pair_argument(kernel_size, "kernel_size", op, minimum=1)
    sh, sw = pair_argument(stride, "stride", op, minimum=1)
    ph, pw = pair_argument(padding, "padding", op, minimum=0)
    dh, dw = pair_argument(dilation, "dilation", op, minimum=1)
    oh, ow = pair_argument(tuple(out_hw), "output size", op, minimum=1)
    h, w = int(input_shape[2]), int(input_shape[3])
    if ph > kh // 2 or pw > kw // 2:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel size "
                         f"{(kh, kw)}")
    if (oh - 1) * sh - ph >= h or (ow - 1) * sw - pw >= w:
        raise ValueError(f"{op}: output size {(oh, ow)} for input {fmt_shape(input_shape)}, kernel "
                         f"{(kh, kw)}, stride {(sh, sw)}, padding {(ph, pw)} puts a window past "
                         f"the input")
    return _i32(h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw)


def _pool_grid(total: int) -> tuple:
    return (max(1, min(_cdiv(total, THREADS), 32 * sm_count())), 1, 1)


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_hw, return_indices=True):
    """(y, indices) of max pooling x (N, C, H, W) to (N, C, OH, OW); ``indices`` (int64, flat
    h·W + w within each plane, torch's) is None unless ``return_indices``. ``out_hw`` comes
    from the caller's output-size rule (floor or ceil mode) and is checked here."""
    op = "max_pool2d forward (CUDA kernel)"
    xp = _array_module(op, x=x)
    _check_float32(op, x=x)
    params = _pool_params(op, x.shape, kernel_size, stride, padding, dilation, out_hw)
    n, c = x.shape[:2]
    y_shape = (n, c) + tuple(int(v) for v in out_hw)
    _check_elements(op, x=x, y=y_shape)
    x = xp.ascontiguousarray(x)
    y = xp.empty(y_shape, dtype=np.float32)
    ind = xp.empty(y_shape, dtype=np.int64) if return_indices else xp.empty((1,), np.int64)
    if y.size:
        _launch("maxpool2d", "max_pool2d_fwd", _pool_grid(y.size),
                (x, y, ind, np.int64(y.size), *params, np.int32(return_indices)))
    return y, (ind if return_indices else None)


def max_pool2d_backward(grad, indices, input_shape, kernel_size, stride, padding, dilation):
    """dL/dx of max pooling: every grad (N, C, OH, OW) entry goes to its window's argmax
    ``indices`` (int64, from :func:`max_pool2d_forward`), summed where windows share one."""
    op = "max_pool2d backward (CUDA kernel)"
    xp = _array_module(op, grad=grad, indices=indices)
    _check_float32(op, grad=grad)
    if indices.dtype != np.int64 or tuple(indices.shape) != tuple(grad.shape):
        raise TypeError(f"{op}: indices must be int64 of grad's shape {fmt_shape(grad.shape)}, got "
                        f"{indices.dtype} of shape {fmt_shape(indices.shape)}")
    input_shape = tuple(int(v) for v in input_shape)
    if grad.ndim != 4 or tuple(grad.shape[:2]) != input_shape[:2]:
        raise ValueError(f"{op}: grad {fmt_shape(grad.shape)} must be 4-D with the input's batch and "
                         f"channels {fmt_shape(input_shape)}")
    params = _pool_params(op, input_shape, kernel_size, stride, padding, dilation, grad.shape[2:])
    _check_elements(op, grad=grad, input=input_shape)
    grad, indices = xp.ascontiguousarray(grad), xp.ascontiguousarray(indices)
    dx = xp.empty(input_shape, dtype=np.float32)
    if dx.size:
        _launch("maxpool2d", "max_pool2d_bwd", _pool_grid(dx.size),
                (grad, indices, dx, np.int64(dx.size), *params))
    return dx
