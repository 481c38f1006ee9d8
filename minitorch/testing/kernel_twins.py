"""NumPy twins of the CUDA kernels in ``kernels/*.cu``: the same index math, run on the CPU.

Test support (see :mod:`minitorch.testing`): :class:`TwinLauncher` is a kernel launcher for
:func:`minitorch.backend.kernels.use_launcher`. Under it the kernel wrappers take NumPy arrays
and, after exactly the checks and launch plan they make on the GPU, hand each launch to the
twin of its entry point, so a CPU test suite checks the wrappers' logic and the kernels' index
math together::

    with kernels.use_launcher(TwinLauncher()) as twins:
        c = kernels.matmul(a, b)                       # a, b: NumPy float32
        assert (twins.last_launch["sgemm_64x64_nn"]["C"].writes == 1).all()

Each twin is a line-by-line transcription of its kernel. The grid's blocks run one after
another; inside a block the 256 threads run *together*, as NumPy arrays indexed by ``tid``
(every per-thread variable of the kernel is an array of 256 values here), so a twin executes
exactly the kernel's formulas: thread → load position, k → (c, r, s), column → (n, p, q),
edge guards, the float4-or-scalar choice, the shared-memory stage a tile goes to, the
accumulator fragment and the epilogue's addresses. Names follow the kernels'.

What a twin checks while it runs (an AssertionError says where):

* every global read and write the kernel would perform is inside its array;
* every float4 access is 16-byte aligned (the address of the array's first element is taken
  from the real NumPy buffer, so a misaligned view really takes the scalar path);
* shared memory: stores stay inside their stage, no two threads store to one word in one
  phase, and the compute phase reads only words stored for the tile it is working on (the
  double-buffer parity);
* outputs: the launcher records how often every output element was written
  (``TwinLauncher.last_launch``; the tests require exactly once).

Arithmetic is float64 in the GEMM twins (the kernels use float32 FMAs): a twin is a check of
the index math, so it is compared with float64 references to tight tolerances. The pooling
twins add in float32 in the kernel's order, so they reproduce the kernel's (and the CPU path's)
sums exactly.
"""
from __future__ import annotations

import numpy as np

from ..backend.kernels import THREADS, TILES

TID = np.arange(THREADS)


# ---------------------------------------------------------------------------------------------
# Device memory with checks
# ---------------------------------------------------------------------------------------------
class DeviceArray:
    """A kernel argument: the flat memory of a C-contiguous array and its base address."""

    def __init__(self, array, name):
        if not array.flags.c_contiguous:
            raise AssertionError(f"{name}: kernels take C-contiguous arrays (the wrapper must make "
                                 f"them so), got strides {array.strides}")
        self.array = array
        self.flat = array.reshape(-1)
        self.name = name
        self.itemsize = array.itemsize
        self.addr = array.__array_interface__["data"][0]
        self.writes = np.zeros(self.flat.size, dtype=np.int64)  # stores per element
        self.float4 = 0                                          # float4 accesses (loads + stores)

    def aligned16(self, offset=0):
        """aligned16(p + offset) of the kernel (offset in elements)."""
        return (self.addr + self.itemsize * offset) % 16 == 0

    def _check(self, idx, mask, what):
        bad = mask & ((idx < 0) | (idx >= self.flat.size))
        if bad.any():
            raise AssertionError(f"out-of-bounds {what} of {self.name}: element "
                                 f"{int(idx[bad].flat[0])} of {self.flat.size}")

    def read(self, idx, mask):
        """Scalar loads ``mask ? p[idx] : 0``."""
        idx = np.asarray(idx, dtype=np.int64)
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), idx.shape)
        self._check(idx, mask, "read")
        return np.where(mask, self.flat[np.where(mask, idx, 0)].astype(np.float64), 0.0)

    def read4(self, idx, mask):
        """float4 loads of p[idx .. idx+3] where ``mask``; returns (…, 4)."""
        idx = np.asarray(idx, dtype=np.int64)
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), idx.shape)
        addr = self.addr + self.itemsize * idx
        if (mask & (addr % 16 != 0)).any():
            raise AssertionError(f"misaligned float4 read of {self.name}")
        self._check(idx, mask, "float4 read")
        self._check(idx + 3, mask, "float4 read")
        self.float4 += int(mask.sum())
        out = np.zeros(idx.shape + (4,))
        for i in range(4):
            out[..., i] = np.where(mask, self.flat[np.where(mask, idx + i, 0)], 0.0)
        return out

    def write(self, idx, values, mask):
        """Scalar stores ``if (mask) p[idx] = values``."""
        idx = np.asarray(idx, dtype=np.int64)
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), idx.shape)
        self._check(idx, mask, "write")
        np.add.at(self.writes, idx[mask], 1)
        self.flat[idx[mask]] = np.broadcast_to(values, idx.shape)[mask]


    def write4(self, idx, values, mask):
        """float4 stores of values (…, 4) to p[idx .. idx+3] where ``mask``."""
        idx = np.asarray(idx, dtype=np.int64)
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), idx.shape)
        if (mask & ((self.addr + self.itemsize * idx) % 16 != 0)).any():
            raise AssertionError(f"misaligned float4 write of {self.name}")
        self.float4 += int(mask.sum())
        for i in range(4):
            self.write(idx + i, values[..., i], mask)


def c_div(a, b):
    """C's integer division (truncates toward zero), elementwise."""
    a = np.asarray(a)
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


# ---------------------------------------------------------------------------------------------
# gemm_tile.cuh
# ---------------------------------------------------------------------------------------------
def krun_row(T):
    return TID // (T.BK // 4)


def krun_k(T):
    return (TID % (T.BK // 4)) * 4


def mnrun_k(width):
    return TID // (width // 4)


def mnrun_col(width):
    return (TID % (width // 4)) * 4


def frag_row(T, i):
    return (i // 4) * (T.TY * 4) + (TID // T.TX) * 4 + (i % 4)


def frag_col(T, j):
    return (j // 4) * (T.TX * 4) + (TID % T.TX) * 4 + (j % 4)


class Stage:
    """One shared-memory stage of an operand: BK rows of LD floats."""

    def __init__(self, T, ld, name):
        self.data = np.full(T.BK * ld, np.nan)
        self.written = np.zeros(T.BK * ld, dtype=bool)
        self.tile = None
        self.name = name

    def store(self, idx, values, tile):
        idx = np.asarray(idx).reshape(-1)
        if idx.min() < 0 or idx.max() >= self.data.size:
            raise AssertionError(f"shared store outside stage {self.name}")
        if np.unique(idx).size != idx.size:
            raise AssertionError(f"two threads store to one word of {self.name}")
        self.written[:] = False
        self.data[idx] = np.asarray(values).reshape(-1)
        self.written[idx] = True
        self.tile = tile

    def read(self, idx, tile):
        if self.tile != tile:
            raise AssertionError(f"{self.name}: computing tile {tile} on a stage holding tile "
                                 f"{self.tile}")
        if not self.written[idx].all():
            raise AssertionError(f"{self.name}: reading a word not stored for tile {tile}")
        return self.data[idx]


def store_krun(T, ld):
    """Shared positions of a k-run store, s[(kc + i)·LD + row] for i < 4: (256, 4)."""
    return (krun_k(T)[:, None] + np.arange(4)) * ld + krun_row(T)[:, None]


def store_mnrun(width, ld):
    """Shared positions of an mn-run store (one float4), s[kr·LD + col + i]: (256, 4)."""
    return (mnrun_k(width) * ld + mnrun_col(width))[:, None] + np.arange(4)


def mainloop(T, la, lb, kbeg, kend):
    """acc (256, TM, TN) of one block: gemm_tile.cuh's ``mainloop``."""
    acc = np.zeros((THREADS, T.TM, T.TN))
    if kbeg >= kend:
        return acc
    ty, tx = TID // T.TX, TID % T.TX
    kk = np.arange(T.BK)[:, None, None]
    ia = kk * T.SA + np.stack([c * (T.TY * 4) + ty * 4 + e
                               for c in range(T.TM // 4) for e in range(4)], axis=1)
    ib = kk * T.SB + np.stack([c * (T.TX * 4) + tx * 4 + e
                               for c in range(T.TN // 4) for e in range(4)], axis=1)
    ntiles = (kend - kbeg + T.BK - 1) // T.BK
    As = [Stage(T, T.SA, "As[0]"), Stage(T, T.SA, "As[1]")]
    Bs = [Stage(T, T.SB, "Bs[0]"), Stage(T, T.SB, "Bs[1]")]
    ra, rb = la.load(kbeg), lb.load(kbeg)
    As[0].store(la.store_index(), ra, 0)
    Bs[0].store(lb.store_index(), rb, 0)
    # __syncthreads()
    for kt in range(ntiles):
        cur = kt & 1
        more = kt + 1 < ntiles
        if more:
            k0 = kbeg + (kt + 1) * T.BK
            ra, rb = la.load(k0), lb.load(k0)
        # the BK k steps at once: fa[kk, t, i] = As[kk·SA + (i/4)·TY·4 + ty·4 + i%4], likewise fb
        fa, fb = As[cur].read(ia, kt), Bs[cur].read(ib, kt)
        acc += np.einsum("kti,ktj->tij", fa, fb)
        if more:
            As[cur ^ 1].store(la.store_index(), ra, kt + 1)
            Bs[cur ^ 1].store(lb.store_index(), rb, kt + 1)
        # __syncthreads()
    return acc


class RowsKRun:
    """gemm_tile.cuh RowsKRun: operand stored [rows][K]; a thread holds one row and 4 k."""

    def __init__(self, T, ld_s, x, off, rows, ld, r0, kend, vec):
        r = r0 + krun_row(T)
        kc = krun_k(T)
        inside = r < rows
        self.x, self.vec = x, vec
        self.p = off + np.where(inside, r, 0) * ld + kc
        self.klim = np.where(inside, kend - kc, 0)
        self.store_index = lambda: store_krun(T, ld_s)

    def load(self, k0):
        v4 = self.vec & (k0 + 3 < self.klim)
        scalar = self.x.read(self.p[:, None] + k0 + np.arange(4),
                             (~v4[:, None]) & (k0 + np.arange(4) < self.klim[:, None]))
        return np.where(v4[:, None], self.x.read4(self.p + k0, v4), scalar)


class KRowsRun:
    """gemm_tile.cuh KRowsRun: operand stored [K][cols]; a thread holds one k and 4 columns."""

    def __init__(self, T, width, ld_s, x, off, cols, ld, c0, kend, vec):
        kr = mnrun_k(width)
        c = c0 + mnrun_col(width)
        self.x, self.vec, self.ld = x, vec, ld
        self.p = off + kr * ld + c
        self.klim = kend - kr
        self.ncols = cols - c
        self.store_index = lambda: store_mnrun(width, ld_s)

    def load(self, k0):
        live = k0 < self.klim
        q = self.p + k0 * self.ld
        v4 = live & self.vec & (3 < self.ncols)
        scalar = self.x.read(q[:, None] + np.arange(4),
                             (live & ~v4)[:, None] & (np.arange(4) < self.ncols[:, None]))
        return np.where(v4[:, None], self.x.read4(q, v4), scalar)


def store_rowmajor(T, out, off, ldc, M, N, m0, n0, acc, vec):
    """gemm_tile.cuh store_rowmajor: element (m, n) at out[off + m·ldc + n]."""
    for i in range(T.TM):
        m = m0 + frag_row(T, i)
        for jc in range(T.TN // 4):
            n = n0 + frag_col(T, 4 * jc)
            v4 = vec & (m < M) & (n + 3 < N)
            out.write4(off + m * ldc + n, acc[:, i, 4 * jc:4 * jc + 4], v4)
            for jj in range(4):
                out.write(off + m * ldc + n + jj, acc[:, i, 4 * jc + jj],
                          (m < M) & ~v4 & (n + jj < N))


# ---------------------------------------------------------------------------------------------
# sgemm.cu
# ---------------------------------------------------------------------------------------------
def sgemm(T, ta, tb, grid, A, B, C, M, N, K, lda, ldb, ldc, strideA, strideB, strideC, batch):
    va = lda % 4 == 0 and strideA % 4 == 0 and A.aligned16()
    vb = ldb % 4 == 0 and strideB % 4 == 0 and B.aligned16()
    vc = ldc % 4 == 0 and strideC % 4 == 0 and C.aligned16()
    for bz in range(grid[2]):
        b = bz
        if b >= batch:
            continue
        for by in range(grid[1]):
            for bx in range(grid[0]):
                m0, n0 = by * T.BM, bx * T.BN
                if ta:
                    la = KRowsRun(T, T.BM, T.SA, A, b * strideA, M, lda, m0, K, va)
                else:
                    la = RowsKRun(T, T.SA, A, b * strideA, M, lda, m0, K, va)
                if tb:
                    lb = RowsKRun(T, T.SB, B, b * strideB, N, ldb, n0, K, vb)
                else:
                    lb = KRowsRun(T, T.BN, T.SB, B, b * strideB, N, ldb, n0, K, vb)
                acc = mainloop(T, la, lb, 0, K)
                store_rowmajor(T, C, b * strideC, ldc, M, N, m0, n0, acc, vc)


# ---------------------------------------------------------------------------------------------
# conv2d.cu
# ---------------------------------------------------------------------------------------------
K_OUTSIDE = -(1 << 29)


class Im2colB:
    """conv2d.cu Im2colB: B[k = (c, r, s)][j = (n, p, q)] = x[n, c, p·sh − ph + r·dh, q·sw − pw + s·dw]."""

    def __init__(self, T, x, xoff, CHW, H, W, Q, PQ, npix, sh, sw, ph, pw, S, RS, dh, dw, n0, kend):
        col = mnrun_col(T.BN)
        j = n0 + col[:, None] + np.arange(4)                     # (256, 4)
        ok = j < npix
        n = j // PQ
        pq = j - n * PQ
        p = pq // Q
        q = pq - p * Q
        self.off = np.where(ok, n * CHW, 0)
        self.hb = np.where(ok, p * sh - ph, K_OUTSIDE)
        self.wb = np.where(ok, q * sw - pw, 0)
        self.kr = mnrun_k(T.BN)
        self.klim = kend - self.kr
        self.x, self.xoff = x, xoff
        self.H, self.W, self.S, self.RS, self.dh, self.dw = H, W, S, RS, dh, dw
        self.store_index = lambda: store_mnrun(T.BN, T.SB)

    def load(self, k0):
        live = k0 < self.klim
        k = k0 + self.kr
        c = k // self.RS
        rs = k - c * self.RS
        r = rs // self.S
        s = rs - r * self.S
        xc = self.xoff + c * self.H * self.W
        h = self.hb + (r * self.dh)[:, None]
        w = self.wb + (s * self.dw)[:, None]
        inside = live[:, None] & (h >= 0) & (h < self.H) & (w >= 0) & (w < self.W)
        return self.x.read(xc[:, None] + self.off + h * self.W + w, inside)


class WeightTA:
    """conv2d.cu WeightTA: A[c][k = (o, rs)] = w[(g·Og + o)·Cg·RS + c·RS + rs]."""

    def __init__(self, T, w, woff, Cg, RS, m0, kend):
        c = m0 + krun_row(T)
        self.kc = krun_k(T)
        inside = c < Cg
        self.p = woff + np.where(inside, c, 0) * RS
        self.klim = np.where(inside, kend, 0)
        self.RS, self.CgRS, self.w = RS, Cg * RS, w
        self.store_index = lambda: store_krun(T, T.SA)

    def load(self, k0):
        k = k0 + self.kc
        o = k // self.RS
        rs = k - o * self.RS
        v = np.zeros((THREADS, 4))
        for i in range(4):
            v[:, i] = self.w.read(self.p + o * self.CgRS + rs, k + i < self.klim)
            rs = rs + 1
            wrap = rs == self.RS
            rs = np.where(wrap, 0, rs)
            o = np.where(wrap, o + 1, o)
        return v


class Col2imB:
    """conv2d.cu Col2imB: B[k = (o, r, s)][j = (n, h, w)] = dy[n, g·Og+o, p, q] (when integral)."""

    def __init__(self, T, dy, dyoff, OPQ, W, HW, npix, ph, pw, P, Q, S, RS, sh, sw, dh, dw, n0, kend):
        col = mnrun_col(T.BN)
        j = n0 + col[:, None] + np.arange(4)
        ok = j < npix
        n = j // HW
        hw = j - n * HW
        h = hw // W
        w = hw - h * W
        self.off = np.where(ok, n * OPQ, 0)
        self.hp = np.where(ok, h + ph, K_OUTSIDE)
        self.wp = np.where(ok, w + pw, 0)
        self.kr = mnrun_k(T.BN)
        self.klim = kend - self.kr
        self.dy, self.dyoff = dy, dyoff
        self.P, self.Q, self.S, self.RS, self.sh, self.sw, self.dh, self.dw = P, Q, S, RS, sh, sw, dh, dw
        self.store_index = lambda: store_mnrun(T.BN, T.SB)

    def load(self, k0):
        live = k0 < self.klim
        k = k0 + self.kr
        o = k // self.RS
        rs = k - o * self.RS
        r = rs // self.S
        s = rs - r * self.S
        dyo = self.dyoff + o * self.P * self.Q
        th = self.hp - (r * self.dh)[:, None]
        tw = self.wp - (s * self.dw)[:, None]
        p, q = c_div(th, self.sh), c_div(tw, self.sw)
        ok = (live[:, None] & (th >= 0) & (tw >= 0) & (p * self.sh == th) & (q * self.sw == tw)
              & (p < self.P) & (q < self.Q))
        return self.dy.read(dyo[:, None] + self.off + p * self.Q + q, ok)


class DyRowsA:
    """conv2d.cu DyRowsA: A[o][k = (n, pq)] = dy[n·O·PQ + (g·Og + o)·PQ + pq]."""

    def __init__(self, T, dy, dyoff, Og, PQ, OPQ, m0, kend):
        o = m0 + krun_row(T)
        self.kc = krun_k(T)
        inside = o < Og
        self.p = dyoff + np.where(inside, o, 0) * PQ
        self.klim = np.where(inside, kend, 0)
        self.PQ, self.OPQ, self.dy = PQ, OPQ, dy
        self.store_index = lambda: store_krun(T, T.SA)

    def load(self, k0):
        k = k0 + self.kc
        n = k // self.PQ
        pq = k - n * self.PQ
        v = np.zeros((THREADS, 4))
        for i in range(4):
            v[:, i] = self.dy.read(self.p + n * self.OPQ + pq, k + i < self.klim)
            pq = pq + 1
            wrap = pq == self.PQ
            pq = np.where(wrap, 0, pq)
            n = np.where(wrap, n + 1, n)
        return v


class XRowsB:
    """conv2d.cu XRowsB: B[k = (n, p, q)][j = (c, r, s)] = x[n, g·Cg+c, p·sh − ph + r·dh, q·sw − pw + s·dw]."""

    def __init__(self, T, x, xoff, Kg, H, W, CHW, P, Q, S, RS, sh, sw, ph, pw, dh, dw, n0, kend):
        j = n0 + krun_row(T)
        self.kc = krun_k(T)
        inside = j < Kg
        jj = np.where(inside, j, 0)
        c = jj // RS
        rs = jj - c * RS
        r = rs // S
        s = rs - r * S
        self.p = xoff + c * H * W
        self.roff = r * dh - ph
        self.soff = s * dw - pw
        self.klim = np.where(inside, kend, 0)
        self.H, self.W, self.CHW, self.P, self.Q, self.PQ, self.sh, self.sw = H, W, CHW, P, Q, P * Q, sh, sw
        self.x = x
        self.store_index = lambda: store_krun(T, T.SB)

    def load(self, k0):
        k = k0 + self.kc
        n = k // self.PQ
        pq = k - n * self.PQ
        pp = pq // self.Q
        q = pq - pp * self.Q
        v = np.zeros((THREADS, 4))
        for i in range(4):
            h = pp * self.sh + self.roff
            w = q * self.sw + self.soff
            ok = (k + i < self.klim) & (h >= 0) & (h < self.H) & (w >= 0) & (w < self.W)
            v[:, i] = self.x.read(self.p + n * self.CHW + h * self.W + w, ok)
            q = q + 1
            wq = q == self.Q
            q = np.where(wq, 0, q)
            pp = np.where(wq, pp + 1, pp)
            wp = pp == self.P
            pp = np.where(wp, 0, pp)
            n = np.where(wp, n + 1, n)
        return v


def store_nchw(T, out, rows, npix, plane, chans, chan0, m0, n0, acc, bias, vec):
    """conv2d.cu store_nchw: element (m, j = (n, pix)) at out[(n·chans + chan0 + m)·plane + pix]."""
    for i in range(T.TM):
        m = m0 + frag_row(T, i)
        b = bias.read(chan0 + m, m < rows) if bias is not None else np.zeros(THREADS)
        for jc in range(T.TN // 4):
            j = n0 + frag_col(T, 4 * jc)
            v4 = vec & (m < rows) & (j + 3 < npix)
            n = j // plane
            pix = j - n * plane
            out.write4((n * chans + chan0 + m) * plane + pix,
                       acc[:, i, 4 * jc:4 * jc + 4] + b[:, None], v4)
            for jj in range(4):
                jx = j + jj
                nx = jx // plane
                px = jx - nx * plane
                out.write((nx * chans + chan0 + m) * plane + px, acc[:, i, 4 * jc + jj] + b,
                          (m < rows) & ~v4 & (jx < npix))


def conv2d_fwd(T, grid, x, w, bias, y, N, C, H, W, O, P, Q, R, S, sh, sw, ph, pw, dh, dw, G, has_bias):
    Cg, Og, RS = C // G, O // G, R * S
    Kg, PQ = Cg * RS, P * Q
    npix = N * PQ
    for g in range(grid[2]):
        for by in range(grid[1]):
            for bx in range(grid[0]):
                m0, n0 = by * T.BM, bx * T.BN
                la = RowsKRun(T, T.SA, w, g * Og * Kg, Og, Kg, m0, Kg, Kg % 4 == 0 and w.aligned16())
                lb = Im2colB(T, x, g * Cg * H * W, C * H * W, H, W, Q, PQ, npix, sh, sw, ph, pw,
                             S, RS, dh, dw, n0, Kg)
                acc = mainloop(T, la, lb, 0, Kg)
                store_nchw(T, y, Og, npix, PQ, O, g * Og, m0, n0, acc, bias if has_bias else None,
                           PQ % 4 == 0 and y.aligned16())


def conv2d_bwd_data(T, grid, dy, w, dx, N, C, H, W, O, P, Q, R, S, sh, sw, ph, pw, dh, dw, G):
    Cg, Og, RS = C // G, O // G, R * S
    Kg, HW = Og * RS, H * W
    npix = N * HW
    for g in range(grid[2]):
        for by in range(grid[1]):
            for bx in range(grid[0]):
                m0, n0 = by * T.BM, bx * T.BN
                la = WeightTA(T, w, g * Og * Cg * RS, Cg, RS, m0, Kg)
                lb = Col2imB(T, dy, g * Og * P * Q, O * P * Q, W, HW, npix, ph, pw, P, Q, S, RS,
                             sh, sw, dh, dw, n0, Kg)
                acc = mainloop(T, la, lb, 0, Kg)
                store_nchw(T, dx, Cg, npix, HW, C, g * Cg, m0, n0, acc, None,
                           HW % 4 == 0 and dx.aligned16())


def conv2d_bwd_weight(T, grid, dy, x, out, N, C, H, W, O, P, Q, R, S, sh, sw, ph, pw, dh, dw, G, kchunk):
    Cg, Og, RS = C // G, O // G, R * S
    Kg, PQ = Cg * RS, P * Q
    K = N * PQ
    for z in range(grid[2]):
        g, split = z % G, z // G
        kbeg = split * kchunk
        kend = kbeg + min(kchunk, K - kbeg)
        for by in range(grid[1]):
            for bx in range(grid[0]):
                m0, n0 = by * T.BM, bx * T.BN
                la = DyRowsA(T, dy, g * Og * PQ, Og, PQ, O * PQ, m0, kend)
                lb = XRowsB(T, x, g * Cg * H * W, Kg, H, W, C * H * W, P, Q, S, RS, sh, sw, ph,
                            pw, dh, dw, n0, kend)
                acc = mainloop(T, la, lb, kbeg, kend)
                store_rowmajor(T, out, split * O * Kg + g * Og * Kg, Kg, Og, Kg, m0, n0, acc,
                               Kg % 4 == 0 and out.aligned16())


def _grid_stride(grid, total):
    """Every index a grid-stride loop ``for (i = blockIdx.x·blockDim.x + threadIdx.x; i < total;
    i += gridDim.x·blockDim.x)`` visits, over all launched threads at once."""
    stride = grid[0] * THREADS
    start = np.arange(min(stride, total))
    visits = (start[None, :] + stride * np.arange(-(-total // stride))[:, None]).reshape(-1)
    return visits[visits < total]


def splitk_reduce(grid, ws, out, total, splits):
    i = _grid_stride(grid, total)
    s = np.zeros(i.size)
    for p in range(splits):
        s = s + ws.read(p * total + i, True)
    out.write(i, s, True)


# ---------------------------------------------------------------------------------------------
# maxpool2d.cu
# ---------------------------------------------------------------------------------------------
def max_pool2d_fwd(grid, x, y, ind, total, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, write_ind):
    o = _grid_stride(grid, total)
    nc = o // (OH * OW)
    ij = o - nc * OH * OW
    i = ij // OW
    j = ij - i * OW
    hs, ws = i * sh - ph, j * sw - pw
    a0 = np.where(hs < 0, c_div(-hs + dh - 1, dh), 0)
    b0 = np.where(ws < 0, c_div(-ws + dw - 1, dw), 0)
    plane = nc * H * W
    best = np.full(o.shape, -np.inf)
    besti = (hs + a0 * dh) * W + (ws + b0 * dw)
    row_live = np.ones(o.shape, dtype=bool)
    for a in range(kh):
        h = hs + a * dh
        row_live &= ~((a >= a0) & (h >= H))          # `break` out of the a loop
        in_row = row_live & (a >= a0)
        col_live = in_row.copy()
        for b in range(kw):
            w_ = ws + b * dw
            col_live &= ~((b >= b0) & (w_ >= W))     # `break` out of the b loop
            act = col_live & (b >= b0)
            v = x.read(plane + h * W + w_, act)
            better = act & ((v > best) | np.isnan(v))
            best = np.where(better, v, best)
            besti = np.where(better, h * W + w_, besti)
    y.write(o, best, True)
    if write_ind:
        ind.write(o, besti, True)


def max_pool2d_bwd(grid, dy, ind, dx, total, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw):
    e = _grid_stride(grid, total)
    nc = e // (H * W)
    hw = e - nc * H * W
    h = hw // W
    w_ = hw - h * W
    base = nc * OH * OW
    total_sum = np.zeros(e.shape, dtype=np.float32)  # float32 adds in the kernel's order
    a_live = np.ones(e.shape, dtype=bool)
    for a in range(kh):
        th = h + ph - a * dh
        a_live &= th >= 0                            # `break` (th decreases with a)
        i = c_div(th, sh)
        a_ok = a_live & (i * sh == th) & (i < OH)    # else `continue`
        b_live = a_ok.copy()
        for b in range(kw):
            tw = w_ + pw - b * dw
            b_live &= tw >= 0
            j = c_div(tw, sw)
            ok = b_live & (j * sw == tw) & (j < OW)
            o = base + i * OW + j
            hit = ok & (ind.read(o, ok) == hw)
            total_sum = total_sum + dy.read(o, hit).astype(np.float32)
    dx.write(e, total_sum, True)


# ---------------------------------------------------------------------------------------------
# Launch
# ---------------------------------------------------------------------------------------------
# Entry points with a tile suffix (``<family>_<tile>``; sgemm: ``sgemm_<tile>_<nn|nt|tn|tt>``)
# and plain ones: entry family -> (module, twin, names of its array arguments in order).
_TILED = {
    "sgemm": ("sgemm", sgemm, ("A", "B", "C")),
    "conv2d_fwd": ("conv2d", conv2d_fwd, ("x", "w", "bias", "y")),
    "conv2d_bwd_data": ("conv2d", conv2d_bwd_data, ("dy", "w", "dx")),
    "conv2d_bwd_weight": ("conv2d", conv2d_bwd_weight, ("dy", "x", "out")),
}
_PLAIN = {
    "splitk_reduce": ("conv2d", splitk_reduce, ("ws", "out")),
    "max_pool2d_fwd": ("maxpool2d", max_pool2d_fwd, ("x", "y", "ind")),
    "max_pool2d_bwd": ("maxpool2d", max_pool2d_bwd, ("dy", "ind", "dx")),
}


def twin_for(entry):
    """(module, twin, its leading arguments, array names) of kernel entry point ``entry``."""
    if entry in _PLAIN:
        module, fn, names = _PLAIN[entry]
        return module, fn, (), names
    head, _, suffix = entry.rpartition("_")
    if head in _TILED and suffix in TILES:                           # conv2d_fwd_64x64
        module, fn, names = _TILED[head]
        return module, fn, (TILES[suffix],), names
    family, _, tile = head.rpartition("_")
    if family == "sgemm" and tile in TILES and suffix in ("nn", "nt", "tn", "tt"):
        module, fn, names = _TILED[family]                           # sgemm_128x128_nt
        return module, fn, (TILES[tile], suffix[0] == "t", suffix[1] == "t"), names
    raise KeyError(f"no twin for kernel {entry!r}")


DEFAULT_SM_COUNT = 132      # an H100 SXM: the multiprocessors the wrappers plan for


class TwinLauncher:
    """A :class:`minitorch.backend.kernels.Launcher` that runs each kernel's NumPy twin on NumPy
    arrays. ``last_launch`` maps every entry point launched to ``{array name: DeviceArray}`` of
    its most recent launch (the arrays' data, write counts and float4 accesses)."""

    array_kind = "numpy"

    def __init__(self, sm_count: int = DEFAULT_SM_COUNT):
        self.sm_count = sm_count
        self.last_launch = {}

    def multiprocessors(self) -> int:
        return self.sm_count

    def launch(self, module, entry, grid, block, args):
        """Run the twin of kernel ``entry`` of ``kernels/<module>.cu`` with the kernel's launch
        configuration and arguments (arrays first, as in the kernel's signature; NumPy scalars
        for the ints)."""
        assert tuple(block) == (THREADS, 1, 1), block
        home, fn, lead, names = twin_for(entry)
        assert module == home, f"{entry} is a kernel of {home}.cu, launched from {module}.cu"
        n_arrays = len(names)
        arrays = [DeviceArray(a, name) for a, name in zip(args[:n_arrays], names)]
        for a in args[n_arrays:]:
            assert isinstance(a, (np.int32, np.int64)), f"{entry}: scalar {a!r} is not np.int32/np.int64"
        scalars = [int(a) for a in args[n_arrays:]]
        fn(*lead, tuple(grid), *arrays, *scalars)
        self.last_launch[entry] = {a.name: a for a in arrays}
