// gemm_tile.cuh — the shared-memory tile engine of every GEMM-shaped kernel in this folder
// (sgemm.cu, conv2d.cu). float32 only. Included by textual substitution: nvcc resolves
// `#include "gemm_tile.cuh"` itself; minitorch/backend/kernels.py pastes this file into the
// source text it hands to NVRTC (so CuPy's compile cache keys on the full text).
//
// What it computes
// ----------------
// One thread block computes one BM x BN tile of C = A · B, where A is M x K and B is K x N,
// summing over k in [kbeg, kend):
//
//     acc[m][n] = Σ_k A[m][k] · B[k][n]          m in [m0, m0+BM), n in [n0, n0+BN)
//
// How A and B are read is the caller's business: a *loader* object knows where element (m, k)
// or (k, n) lives in global memory (a plain row-major matrix for SGEMM; an implicit im2col
// gather for the convolutions) and returns 0 outside the matrix. The engine only moves tiles:
//
//   global --(loader.load: 4 floats per thread, into registers)--> registers
//   registers --(loader.store)--> shared memory, A as As[k][m], B as Bs[k][n]
//   shared --(float4 reads of a column of As and a row of Bs)--> TM x TN outer products
//
// Tile sizes (two configurations, 256 threads each)
// -------------------------------------------------
//   TileL: BM=128, BN=128, BK=8,  TM=8, TN=8   — for large problems (e.g. SGEMM 4096^3)
//   TileS: BM=64,  BN=64,  BK=16, TM=4, TN=4   — when M <= 64 or TileL makes too few blocks
//
// Why: 256 threads x TM·TN accumulators = a BM x BN tile. TileL does 64 FMAs per 4 shared
// loads of 4 floats per k step (2 float4 of A + 2 float4 of B), arithmetic intensity enough to
// feed the FMA pipes from shared memory; 8x8 accumulators + fragments + prefetch registers fit
// under 128 registers, so two blocks (512 threads) share an SM. (ptxas, CUDA 13.0: with the k
// step loop fully unrolled TileL spills 24-100 bytes at the 128-register cap; unrolled by 2
// (KU) it spills nothing on sm_80 and sm_90.) Each tile of A and of B is
// BM·BK = BN·BK = 1024 floats = exactly one float4 per thread per operand, so every thread
// does one (vectorised when possible) global load per operand per k tile.
//
// Thread -> accumulator mapping (the "fragment")
// ----------------------------------------------
// tid = threadIdx.x, ty = tid / TX, tx = tid % TX with TY = BM/TM, TX = BN/TN (16 x 16).
// Accumulator acc[i][j] is C element
//     row m0 + (i/4)·(TY·4) + ty·4 + i%4,     col n0 + (j/4)·(TX·4) + tx·4 + j%4
// i.e. a thread owns TM/4 x TN/4 blocks of 4x4, spaced TY·4 rows and TX·4 columns apart. For
// a fixed k each thread reads TM/4 float4 of As and TN/4 float4 of Bs: the 16 threads of a
// half-warp read 16 consecutive float4 of Bs (conflict-free) and the same float4 of As (a
// broadcast).
//
// Thread -> load position (one float4 worth per operand per tile)
// ---------------------------------------------------------------
//   "k-run" (the 4 values lie along k, e.g. row-major A: A[m][k..k+3]):
//        row = tid / (BK/4),  kc = (tid % (BK/4))·4;   stored transposed: S[(kc+i)·LD + row]
//   "mn-run" (the 4 values lie along m or n, e.g. row-major B: B[k][n..n+3]):
//        kr = tid / (W/4),  col = (tid % (W/4))·4;     stored as one float4: S[kr·LD + col]
// Shared rows are padded by 4 floats (LD = BM+4 or BN+4): in TileL the transposing k-run
// stores of the two halves of a warp then land 16 banks apart instead of on the same banks
// (conflict-free); in TileS the four k groups of a warp land 0, 16, 0, 16 banks apart (2-way
// conflicts instead of 4-way). Every row stays 16-byte aligned for the float4 accesses.
//
// Pipeline: two shared-memory stages and a register prefetch. While the block computes on
// stage kt&1, each thread loads tile kt+1 from global memory into registers; after the
// compute it stores them into the other stage, then one __syncthreads() per tile. Stage
// (kt+1)&1 was last read during tile kt-1, which every thread finished before the barrier
// that ended tile kt-1, so the store cannot race with those reads.
//
// Executed on the CPU, unchanged, in every make test: minitorch/testing/cuda_cpu (real barriers,
// race/ASan checker builds; docs/cuda_kernels.md).
#pragma once

namespace mt {

template <int BM_, int BN_, int BK_, int TM_, int TN_, int KU_>
struct Tile {
    static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
    static constexpr int KU = KU_;  // unroll factor of the k step loop (register pressure)
    static constexpr int TY = BM / TM, TX = BN / TN;  // the thread grid over the tile
    static constexpr int THREADS = TY * TX;
    static constexpr int SA = BM + 4, SB = BN + 4;     // padded shared row lengths (floats)
    static constexpr int A_STAGE = BK * SA, B_STAGE = BK * SB;
    static_assert(THREADS == 256, "the launch uses 256 threads per block");
    static_assert(BM * BK == 4 * THREADS && BN * BK == 4 * THREADS,
                  "one float4 per thread per operand and tile");
    static_assert(TM % 4 == 0 && TN % 4 == 0 && BK % 4 == 0, "fragments are float4s");
};

typedef Tile<128, 128, 8, 8, 8, 2> TileL;
typedef Tile<64, 64, 16, 4, 4, 16> TileS;

template <bool C, class X, class Y> struct If { typedef X type; };
template <class X, class Y> struct If<false, X, Y> { typedef Y type; };

__device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0ull;
}

// ---- load positions -----------------------------------------------------------------------
template <class T> __device__ __forceinline__ int krun_row() { return threadIdx.x / (T::BK / 4); }
template <class T> __device__ __forceinline__ int krun_k() { return (threadIdx.x % (T::BK / 4)) * 4; }
template <int W> __device__ __forceinline__ int mnrun_k() { return threadIdx.x / (W / 4); }
template <int W> __device__ __forceinline__ int mnrun_col() { return (threadIdx.x % (W / 4)) * 4; }

template <int LD>
__device__ __forceinline__ void store_krun(float* s, int row, int kc, const float (&v)[4]) {
#pragma unroll
    for (int i = 0; i < 4; ++i) s[(kc + i) * LD + row] = v[i];
}

template <int LD>
__device__ __forceinline__ void store_mnrun(float* s, int kr, int col, const float (&v)[4]) {
    *reinterpret_cast<float4*>(s + kr * LD + col) = make_float4(v[0], v[1], v[2], v[3]);
}

// ---- the accumulator fragment -------------------------------------------------------------
template <class T> __device__ __forceinline__ int frag_row(int i) {
    return (i / 4) * (T::TY * 4) + (static_cast<int>(threadIdx.x) / T::TX) * 4 + (i % 4);
}
template <class T> __device__ __forceinline__ int frag_col(int j) {
    return (j / 4) * (T::TX * 4) + (static_cast<int>(threadIdx.x) % T::TX) * 4 + (j % 4);
}

// ---- generic loaders for a matrix stored row-major with leading dimension ld ---------------
// Loaders are built once per block with the k range's end (kend) and keep as few registers as
// possible: a pointer already offset to the thread's first element and the count of valid
// elements after it; the shared-memory position is recomputed from threadIdx.x in store().
//
// RowsKRun: the operand is stored [rows][K] (A for C = A·B, or B for C = A·Bᵀ); a thread
// holds one row and 4 consecutive k. LD is the shared row length of the operand's stage.
template <class T, int LD>
struct RowsKRun {
    const float* p;  // &X[r][kc]
    int klim;        // element k0 + i is valid iff k0 + i < klim (0 when the row is outside)
    bool vec;
    __device__ __forceinline__ RowsKRun(const float* x, int rows, int ld, int r0, int kend, bool vec_) {
        const int r = r0 + krun_row<T>(), kc = krun_k<T>();
        const bool in = r < rows;
        p = x + static_cast<long long>(in ? r : 0) * ld + kc;
        klim = in ? kend - kc : 0;
        vec = vec_;  // ld % 4 == 0 and x 16-byte aligned: k (a multiple of 4) keeps alignment
    }
    __device__ __forceinline__ void load(int k0, float (&v)[4]) const {
        if (vec && k0 + 3 < klim) {
            const float4 x = __ldg(reinterpret_cast<const float4*>(p + k0));
            v[0] = x.x; v[1] = x.y; v[2] = x.z; v[3] = x.w;
        } else {
#pragma unroll
            for (int i = 0; i < 4; ++i) v[i] = (k0 + i < klim) ? __ldg(p + k0 + i) : 0.f;
        }
    }
    __device__ __forceinline__ void store(float* s, const float (&v)[4]) const {
        store_krun<LD>(s, krun_row<T>(), krun_k<T>(), v);
    }
};

// KRowsRun: the operand is stored [K][cols] (B for C = A·B, or A for C = Aᵀ·B); a thread holds
// one k and 4 consecutive columns. W is the tile width along the columns (BM or BN).
template <class T, int W, int LD>
struct KRowsRun {
    const float* p;  // &X[kr][c]
    int ld, klim, ncols;  // k0 valid iff k0 < klim; column c + i valid iff i < ncols
    bool vec;
    __device__ __forceinline__ KRowsRun(const float* x, int cols, int ld_, int c0, int kend, bool vec_) {
        const int kr = mnrun_k<W>(), c = c0 + mnrun_col<W>();
        p = x + static_cast<long long>(kr) * ld_ + c;
        ld = ld_;
        klim = kend - kr;
        ncols = cols - c;
        vec = vec_;  // ld % 4 == 0 and x 16-byte aligned: c (a multiple of 4) keeps alignment
    }
    __device__ __forceinline__ void load(int k0, float (&v)[4]) const {
        if (k0 < klim) {
            const float* q = p + static_cast<long long>(k0) * ld;
            if (vec && 3 < ncols) {
                const float4 x = __ldg(reinterpret_cast<const float4*>(q));
                v[0] = x.x; v[1] = x.y; v[2] = x.z; v[3] = x.w;
            } else {
#pragma unroll
                for (int i = 0; i < 4; ++i) v[i] = (i < ncols) ? __ldg(q + i) : 0.f;
            }
        } else {
            v[0] = v[1] = v[2] = v[3] = 0.f;
        }
    }
    __device__ __forceinline__ void store(float* s, const float (&v)[4]) const {
        store_mnrun<LD>(s, mnrun_k<W>(), mnrun_col<W>(), v);
    }
};

// ---- the main loop ------------------------------------------------------------------------
// acc = Σ_{k in [kbeg, kend)} A[m][k]·B[k][n] for this block's tile (kbeg a multiple of 4;
// the loaders were built with the same kend). Every thread of the block must call it with the
// same kbeg and kend (the barriers).
template <class T, class LA, class LB>
__device__ __forceinline__ void mainloop(const LA& la, const LB& lb, int kbeg, int kend,
                                         float (&acc)[T::TM][T::TN]) {
    __shared__ __align__(16) float As[2 * T::A_STAGE];
    __shared__ __align__(16) float Bs[2 * T::B_STAGE];
#pragma unroll
    for (int i = 0; i < T::TM; ++i)
#pragma unroll
        for (int j = 0; j < T::TN; ++j) acc[i][j] = 0.f;
    if (kbeg >= kend) return;  // uniform over the block: K == 0 (or an empty split) gives 0
    const int ty = threadIdx.x / T::TX, tx = threadIdx.x % T::TX;
    const int ntiles = (kend - kbeg + T::BK - 1) / T::BK;
    float ra[4], rb[4];
    la.load(kbeg, ra);
    lb.load(kbeg, rb);
    la.store(As, ra);
    lb.store(Bs, rb);
    __syncthreads();
    for (int kt = 0; kt < ntiles; ++kt) {
        const int cur = kt & 1;
        const bool more = kt + 1 < ntiles;
        if (more) {  // prefetch tile kt+1 into registers while computing on tile kt
            const int k0 = kbeg + (kt + 1) * T::BK;
            la.load(k0, ra);
            lb.load(k0, rb);
        }
        const float* a = As + cur * T::A_STAGE;
        const float* b = Bs + cur * T::B_STAGE;
#pragma unroll(T::KU)
        for (int kk = 0; kk < T::BK; ++kk) {
            float fa[T::TM], fb[T::TN];
#pragma unroll
            for (int c = 0; c < T::TM / 4; ++c) {
                const float4 v = *reinterpret_cast<const float4*>(a + kk * T::SA + c * (T::TY * 4) + ty * 4);
                fa[4 * c + 0] = v.x; fa[4 * c + 1] = v.y; fa[4 * c + 2] = v.z; fa[4 * c + 3] = v.w;
            }
#pragma unroll
            for (int c = 0; c < T::TN / 4; ++c) {
                const float4 v = *reinterpret_cast<const float4*>(b + kk * T::SB + c * (T::TX * 4) + tx * 4);
                fb[4 * c + 0] = v.x; fb[4 * c + 1] = v.y; fb[4 * c + 2] = v.z; fb[4 * c + 3] = v.w;
            }
#pragma unroll
            for (int i = 0; i < T::TM; ++i)
#pragma unroll
                for (int j = 0; j < T::TN; ++j) acc[i][j] = fmaf(fa[i], fb[j], acc[i][j]);
        }
        if (more) {
            la.store(As + (cur ^ 1) * T::A_STAGE, ra);
            lb.store(Bs + (cur ^ 1) * T::B_STAGE, rb);
        }
        __syncthreads();
    }
}

// ---- epilogue: a row-major C (element (m, n) at C[m·ldc + n]) -------------------------------
// vec: ldc % 4 == 0 and C 16-byte aligned; then each group of 4 columns is one float4 store.
template <class T>
__device__ __forceinline__ void store_rowmajor(float* C, int ldc, int M, int N, int m0, int n0,
                                               const float (&acc)[T::TM][T::TN], bool vec) {
#pragma unroll
    for (int i = 0; i < T::TM; ++i) {
        const int m = m0 + frag_row<T>(i);
        if (m >= M) continue;
        float* row = C + static_cast<long long>(m) * ldc;
#pragma unroll
        for (int jc = 0; jc < T::TN / 4; ++jc) {
            const int n = n0 + frag_col<T>(4 * jc);
            if (vec && n + 3 < N) {
                *reinterpret_cast<float4*>(row + n) =
                    make_float4(acc[i][4 * jc], acc[i][4 * jc + 1], acc[i][4 * jc + 2], acc[i][4 * jc + 3]);
            } else {
#pragma unroll
                for (int jj = 0; jj < 4; ++jj)
                    if (n + jj < N) row[n + jj] = acc[i][4 * jc + jj];
            }
        }
    }
}

}  // namespace mt
