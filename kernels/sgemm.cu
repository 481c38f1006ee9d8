// sgemm.cu — single-precision matrix multiplication, batched, with transposed operands.
//
// What it computes
// ----------------
// For b in [0, batch):
//     C_b = op(A_b) · op(B_b)          C_b is M x N, op(A_b) is M x K, op(B_b) is K x N
// with every matrix row-major in memory:
//     A_b = A + b·strideA;  op(A)[m][k] = A[m·lda + k]  (suffix n)  or  A[k·lda + m]  (suffix t)
//     B_b = B + b·strideB;  op(B)[k][n] = B[k·ldb + n]  (suffix n)  or  B[n·ldb + k]  (suffix t)
//     C_b = C + b·strideC;  C[m·ldc + n]
// C is overwritten (no alpha/beta). A stride of 0 broadcasts an operand over the batch (one
// weight matrix for a batch of inputs). Any M, N, K >= 0 work (the wrapper keeps them 256 below
// 2^31 for the edge tiles' int32 indices): the edge tiles read zeros past the matrix and store
// only the elements inside it. Used for matmul/bmm (minitorch.ops.MatMul)
// and linear (forward x·Wᵀ = "nt", backward g·W = "nn", gᵀ·x = "tn").
//
// Entry points: sgemm_{128x128|64x64}_{nn|nt|tn|tt}(A, B, C, M, N, K, lda, ldb, ldc,
//               strideA, strideB, strideC, batch)  — ints are int32, strides int64.
//
// Tiles: see gemm_tile.cuh. 128x128x8 with 8x8 per thread for big problems, 64x64x16 with 4x4
// per thread when M <= 64 or when the big tile would not give every SM a block (the launch
// wrapper, minitorch/backend/kernels.py, chooses).
//
// Launch geometry: block (256, 1, 1); grid (ceil(N/BN), ceil(M/BM), batch). Column tiles on x
// (no 65535 limit; the wrapper checks y). One batch entry per blockIdx.z (a loop over the batch
// inside the block cost ptxas 8-28 bytes of spills in TileL); the wrapper launches batches
// above 65535 in chunks of 65535.
//
// Vectorised global access: a float4 load/store is used where the 4 elements are in bounds
// and the address is 16-byte aligned. Alignment is decided once per operand from the base
// pointer, the leading dimension and the batch stride (all multiples of 4 floats, pointer
// 16-byte aligned); otherwise, and at the edges, a scalar path with per-element guards.
//
// Run on the CPU in make test by minitorch/testing/cuda_cpu (tests/test_kernels_on_cpu.py).
#include "gemm_tile.cuh"

namespace mt {

template <class T, bool TA, bool TB>
__device__ __forceinline__ void sgemm_body(const float* __restrict__ A, const float* __restrict__ B,
                                           float* __restrict__ C, int M, int N, int K, int lda,
                                           int ldb, int ldc, long long strideA, long long strideB,
                                           long long strideC, int batch) {
    const int m0 = blockIdx.y * T::BM, n0 = blockIdx.x * T::BN;
    const bool va = (lda % 4 == 0) && (strideA % 4 == 0) && aligned16(A);
    const bool vb = (ldb % 4 == 0) && (strideB % 4 == 0) && aligned16(B);
    const bool vc = (ldc % 4 == 0) && (strideC % 4 == 0) && aligned16(C);
    typedef typename If<TA, KRowsRun<T, T::BM, T::SA>, RowsKRun<T, T::SA> >::type LoadA;
    typedef typename If<TB, RowsKRun<T, T::SB>, KRowsRun<T, T::BN, T::SB> >::type LoadB;
    const int b = blockIdx.z;
    if (b >= batch) return;
    {
        const LoadA la(A + b * strideA, M, lda, m0, K, va);
        const LoadB lb(B + b * strideB, N, ldb, n0, K, vb);
        float acc[T::TM][T::TN];
        mainloop<T>(la, lb, 0, K, acc);
        store_rowmajor<T>(C + b * strideC, ldc, M, N, m0, n0, acc, vc);
    }
}

}  // namespace mt

#define MT_SGEMM_ENTRY(NAME, TILE, TA, TB)                                                       \
    extern "C" __global__ void __launch_bounds__(256, 2)                                         \
    NAME(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C, int M,  \
         int N, int K, int lda, int ldb, int ldc, long long strideA, long long strideB,          \
         long long strideC, int batch) {                                                          \
        mt::sgemm_body<mt::TILE, TA, TB>(A, B, C, M, N, K, lda, ldb, ldc, strideA, strideB,       \
                                         strideC, batch);                                         \
    }

MT_SGEMM_ENTRY(sgemm_128x128_nn, TileL, false, false)
MT_SGEMM_ENTRY(sgemm_128x128_nt, TileL, false, true)
MT_SGEMM_ENTRY(sgemm_128x128_tn, TileL, true, false)
MT_SGEMM_ENTRY(sgemm_128x128_tt, TileL, true, true)
MT_SGEMM_ENTRY(sgemm_64x64_nn, TileS, false, false)
MT_SGEMM_ENTRY(sgemm_64x64_nt, TileS, false, true)
MT_SGEMM_ENTRY(sgemm_64x64_tn, TileS, true, false)
MT_SGEMM_ENTRY(sgemm_64x64_tt, TileS, true, true)
