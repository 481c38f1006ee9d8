// conv2d.cu — 2-D convolution (cross-correlation, as torch's conv2d) as implicit GEMM:
// forward, backward-data (dL/dx) and backward-weight (dL/dw), float32, NCHW, any stride,
// padding, dilation and groups.
//
// Notation: x (N, C, H, W), w (O, Cg, R, S), y (N, O, P, Q) with G groups, Cg = C/G, Og = O/G,
// RS = R·S, stride (sh, sw), top/left padding (ph, pw), dilation (dh, dw). Output pixel (p, q)
// reads input row  h = p·sh − ph + r·dh  and column  w = q·sw − pw + s·dw  (zero outside the
// input; the bottom/right padding is implied by P and Q). For group g:
//
//   forward          y[n, g·Og+o, p, q] = b[g·Og+o] + Σ_{c,r,s} w[g·Og+o, c, r, s] · x[n, g·Cg+c, h, w]
//   backward-data    dx[n, g·Cg+c, h, w] = Σ_{o,r,s} w[g·Og+o, c, r, s] · dy[n, g·Og+o, p, q]
//                        over the (r, s) with p = (h + ph − r·dh)/sh, q = (w + pw − s·dw)/sw
//                        integers inside [0, P) x [0, Q)
//   backward-weight  dw[g·Og+o, c, r, s] = Σ_{n,p,q} dy[n, g·Og+o, p, q] · x[n, g·Cg+c, h, w]
//
// Implicit GEMM: each is one matrix product per group whose operands are *gathered* from the
// tensors while the tiles are loaded (gemm_tile.cuh), so no im2col matrix is ever written to
// memory (for C = K = 256, 3x3, N = 64, 32x32 it would be 600 MB):
//
//   kernel            M (rows)   N (columns)            K (reduction)      A[m][k]      B[k][n]
//   forward           Og: o      N·P·Q: (n, p, q)       Cg·R·S: (c, r, s)  w (row-major) x gathered
//   backward-data     Cg: c      N·H·W: (n, h, w)       Og·R·S: (o, r, s)  w gathered    dy gathered
//   backward-weight   Og: o      Cg·R·S: (c, r, s)      N·P·Q: (n, p, q)   dy gathered   x gathered
//
// Index maps (the loaders): column j = (n, p, q) ↦ n = j / PQ, p = (j mod PQ) / Q, q = j mod Q;
// k = (c, r, s) ↦ c = k / RS, r = (k mod RS) / S, s = k mod S — all row-major flattenings.
// A loader decomposes its thread's columns once per block and its k once per k tile, then
// steps through 4 consecutive k with carries (no division per element).
//
// backward-data is a *gather*: every dx element is computed by exactly one thread as a sum
// over the taps that reach it — no atomics, deterministic, dx need not be zeroed. With stride
// s > 1 only 1/(sh·sw) of the gathered dy taps are non-zero (the others are skipped as zeros
// inside the tile), so strided backward-data does that much wasted arithmetic.
//
// backward-weight reduces over N·P·Q (e.g. 64·32·32 = 65536) into a small Og x Cg·R·S matrix,
// too few tiles to fill the GPU: it is split along K (split-K). blockIdx.z = split·G + g; split
// `split` sums k in [split·kchunk, min(K, (split+1)·kchunk)) and writes its partial matrix to
// workspace slice `split`; `splitk_reduce` then adds the slices in a fixed order
// (deterministic). With one split the kernel writes dw directly.
//
// Tiles: TileL (128x128x8, 8x8 per thread) or TileS (64x64x16, 4x4 per thread), chosen by the
// wrapper (forward/backward-data: TileS when M <= 64 or TileL would leave SMs idle;
// backward-weight: TileS when M <= 64 or N <= 64, split-K fills the SMs). Launch: block (256, 1, 1);
// grid (ceil(Ncols/BN), ceil(M/BM), G) for forward/backward-data, (…, …, G·splits) for
// backward-weight. The wrapper (minitorch/backend/kernels.py) checks every tensor has fewer
// than 2^31 elements, so 32-bit offsets are exact here, and that the column count and the
// reduction length stay a tile (256) below 2^31, so the edge tiles' indices do not overflow.
//
// Entry points (ints are int32):
//   conv2d_fwd_{128x128|64x64}(x, w, bias, y, N, C, H, W, O, P, Q, R, S, sh, sw, ph, pw, dh, dw, G, has_bias)
//   conv2d_bwd_data_{128x128|64x64}(dy, w, dx, N, C, H, W, O, P, Q, R, S, sh, sw, ph, pw, dh, dw, G)
//   conv2d_bwd_weight_{128x128|64x64}(dy, x, out, N, C, H, W, O, P, Q, R, S, sh, sw, ph, pw, dh, dw, G, kchunk)
//   splitk_reduce(ws, out, total, splits)
//
// Run on the CPU in make test by minitorch/testing/cuda_cpu (tests/test_kernels_on_cpu.py).
#include "gemm_tile.cuh"

namespace mt {

#define MT_CONV_SHAPE_PARAMS                                                                    \
    int N, int C, int H, int W, int O, int P, int Q, int R, int S, int sh, int sw, int ph, int pw, \
        int dh, int dw, int G

// A column index whose pixel is past the end gets this row offset: every tap then lands at a
// negative row and reads zero.
constexpr int kOutside = -(1 << 29);

// ---- forward: B[k = (c, r, s)][j = (n, p, q)] = x[n, c, p·sh − ph + r·dh, q·sw − pw + s·dw] ----
// mn-run: a thread holds one k and 4 consecutive pixels j (decomposed once, in the constructor).
// x points at channel 0 of the group (x + g·Cg·H·W); CHW is the image stride C·H·W.
template <class T>
struct Im2colB {
    const float* x;
    int off[4], hb[4], wb[4];  // image offset n·C·H·W, first row p·sh − ph, first column q·sw − pw
    int klim, H, W, S, RS, dh, dw;
    __device__ __forceinline__ Im2colB(const float* x_, int CHW, int H_, int W_, int Q, int PQ,
                                       int npix, int sh, int sw, int ph, int pw, int S_, int RS_,
                                       int dh_, int dw_, int n0, int kend) {
        const int kr = mnrun_k<T::BN>(), col = mnrun_col<T::BN>();
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int j = n0 + col + i;
            if (j < npix) {
                const int n = j / PQ, pq = j - n * PQ, p = pq / Q, q = pq - p * Q;
                off[i] = n * CHW;
                hb[i] = p * sh - ph;
                wb[i] = q * sw - pw;
            } else {
                off[i] = 0;
                hb[i] = kOutside;
                wb[i] = 0;
            }
        }
        x = x_;
        klim = kend - kr;
        H = H_; W = W_; S = S_; RS = RS_; dh = dh_; dw = dw_;
    }
    __device__ __forceinline__ void load(int k0, float (&v)[4]) const {
        if (k0 < klim) {
            const int k = k0 + mnrun_k<T::BN>();
            const int c = k / RS, rs = k - c * RS, r = rs / S, s = rs - r * S;
            const float* xc = x + c * H * W;
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int h = hb[i] + r * dh, w = wb[i] + s * dw;
                v[i] = (h >= 0 && h < H && w >= 0 && w < W) ? __ldg(xc + off[i] + h * W + w) : 0.f;
            }
        } else {
            v[0] = v[1] = v[2] = v[3] = 0.f;
        }
    }
    __device__ __forceinline__ void store(float* s, const float (&v)[4]) const {
        store_mnrun<T::SB>(s, mnrun_k<T::BN>(), mnrun_col<T::BN>(), v);
    }
};

// ---- backward-data, A[m = c][k = (o, rs)] = w[(g·Og + o)·Cg·RS + c·RS + rs] -----------------
// k-run: a thread holds one c and 4 consecutive k. w points at the group's first filter.
template <class T>
struct WeightTA {
    const float* p;  // &w[g·Og·Cg·RS + c·RS]
    int klim, RS, CgRS, kc;
    __device__ __forceinline__ WeightTA(const float* w, int Cg, int RS_, int m0, int kend) {
        const int c = m0 + krun_row<T>();
        kc = krun_k<T>();
        const bool in = c < Cg;
        p = w + (in ? c : 0) * RS_;
        klim = in ? kend : 0;
        RS = RS_;
        CgRS = Cg * RS_;
    }
    __device__ __forceinline__ void load(int k0, float (&v)[4]) const {
        const int k = k0 + kc;
        int o = k / RS, rs = k - o * RS;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            v[i] = (k + i < klim) ? __ldg(p + o * CgRS + rs) : 0.f;
            if (++rs == RS) { rs = 0; ++o; }
        }
    }
    __device__ __forceinline__ void store(float* s, const float (&v)[4]) const {
        store_krun<T::SA>(s, krun_row<T>(), krun_k<T>(), v);
    }
};

// ---- backward-data, B[k = (o, r, s)][j = (n, h, w)] = dy[n, g·Og+o, p, q] --------------------
// with p = (h + ph − r·dh)/sh and q = (w + pw − s·dw)/sw when both divide exactly and land in
// [0, P) x [0, Q), else 0. mn-run: one k, 4 consecutive input pixels j. dy points at the
// group's first channel (dy + g·Og·P·Q); OPQ is the image stride O·P·Q.
template <class T>
struct Col2imB {
    const float* dy;
    int off[4], hp[4], wp[4];  // n·O·P·Q, h + ph, w + pw
    int klim, P, Q, S, RS, sh, sw, dh, dw;
    __device__ __forceinline__ Col2imB(const float* dy_, int OPQ, int W, int HW, int npix, int ph,
                                       int pw, int P_, int Q_, int S_, int RS_, int sh_, int sw_,
                                       int dh_, int dw_, int n0, int kend) {
        const int kr = mnrun_k<T::BN>(), col = mnrun_col<T::BN>();
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int j = n0 + col + i;
            if (j < npix) {
                const int n = j / HW, hw = j - n * HW, h = hw / W, w = hw - h * W;
                off[i] = n * OPQ;
                hp[i] = h + ph;
                wp[i] = w + pw;
            } else {
                off[i] = 0;
                hp[i] = kOutside;
                wp[i] = 0;
            }
        }
        dy = dy_;
        klim = kend - kr;
        P = P_; Q = Q_; S = S_; RS = RS_; sh = sh_; sw = sw_; dh = dh_; dw = dw_;
    }
    __device__ __forceinline__ void load(int k0, float (&v)[4]) const {
        if (k0 < klim) {
            const int k = k0 + mnrun_k<T::BN>();
            const int o = k / RS, rs = k - o * RS, r = rs / S, s = rs - r * S;
            const float* dyo = dy + o * P * Q;
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const int th = hp[i] - r * dh, tw = wp[i] - s * dw;
                const int p = th / sh, q = tw / sw;  // used only when th, tw >= 0
                const bool ok = th >= 0 && tw >= 0 && p * sh == th && q * sw == tw && p < P && q < Q;
                v[i] = ok ? __ldg(dyo + off[i] + p * Q + q) : 0.f;
            }
        } else {
            v[0] = v[1] = v[2] = v[3] = 0.f;
        }
    }
    __device__ __forceinline__ void store(float* s, const float (&v)[4]) const {
        store_mnrun<T::SB>(s, mnrun_k<T::BN>(), mnrun_col<T::BN>(), v);
    }
};

// ---- backward-weight, A[m = o][k = (n, pq)] = dy[n·O·PQ + (g·Og + o)·PQ + pq] ----------------
// k-run: one o, 4 consecutive k (carry pq into n). dy points at the group's first channel.
template <class T>
struct DyRowsA {
    const float* p;  // &dy[(g·Og + o)·PQ]
    int klim, PQ, OPQ, kc;
    __device__ __forceinline__ DyRowsA(const float* dy, int Og, int PQ_, int OPQ_, int m0, int kend) {
        const int o = m0 + krun_row<T>();
        kc = krun_k<T>();
        const bool in = o < Og;
        p = dy + (in ? o : 0) * PQ_;
        klim = in ? kend : 0;
        PQ = PQ_;
        OPQ = OPQ_;
    }
    __device__ __forceinline__ void load(int k0, float (&v)[4]) const {
        const int k = k0 + kc;
        int n = k / PQ, pq = k - n * PQ;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            v[i] = (k + i < klim) ? __ldg(p + n * OPQ + pq) : 0.f;
            if (++pq == PQ) { pq = 0; ++n; }
        }
    }
    __device__ __forceinline__ void store(float* s, const float (&v)[4]) const {
        store_krun<T::SA>(s, krun_row<T>(), krun_k<T>(), v);
    }
};

// ---- backward-weight, B[k = (n, p, q)][j = (c, r, s)] = x[n, g·Cg+c, p·sh − ph + r·dh, q·sw − pw + s·dw]
// k-run over the transposed operand: a thread holds one j (decomposed once) and 4 consecutive
// k (carry q into p into n). x points at the group's first channel.
template <class T>
struct XRowsB {
    const float* p;  // &x[c·H·W] of the group
    int klim, roff, soff, H, W, CHW, P, Q, PQ, sh, sw, kc;
    __device__ __forceinline__ XRowsB(const float* x, int Kg, int H_, int W_, int CHW_, int P_,
                                      int Q_, int S, int RS, int sh_, int sw_, int ph, int pw,
                                      int dh, int dw, int n0, int kend) {
        const int j = n0 + krun_row<T>();
        kc = krun_k<T>();
        const bool in = j < Kg;
        const int jj = in ? j : 0;
        const int c = jj / RS, rs = jj - c * RS, r = rs / S, s = rs - r * S;
        p = x + c * H_ * W_;
        roff = r * dh - ph;
        soff = s * dw - pw;
        klim = in ? kend : 0;
        H = H_; W = W_; CHW = CHW_; P = P_; Q = Q_; PQ = P_ * Q_; sh = sh_; sw = sw_;
    }
    __device__ __forceinline__ void load(int k0, float (&v)[4]) const {
        const int k = k0 + kc;
        int n = k / PQ, pq = k - n * PQ;
        int pp = pq / Q, q = pq - pp * Q;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int h = pp * sh + roff, w = q * sw + soff;
            v[i] = (k + i < klim && h >= 0 && h < H && w >= 0 && w < W)
                       ? __ldg(p + n * CHW + h * W + w) : 0.f;
            if (++q == Q) { q = 0; if (++pp == P) { pp = 0; ++n; } }
        }
    }
    __device__ __forceinline__ void store(float* s, const float (&v)[4]) const {
        store_krun<T::SB>(s, krun_row<T>(), krun_k<T>(), v);
    }
};

// ---- epilogue: an NCHW tensor, element (m, j = (n, pix)) at out[(n·chans + chan0 + m)·plane + pix]
// vec: plane % 4 == 0 and out 16-byte aligned; then 4 columns j..j+3 (j a multiple of 4) lie
// in one image plane, contiguous: one float4 store.
template <class T>
__device__ __forceinline__ void store_nchw(float* out, int rows, int npix, int plane, int chans,
                                           int chan0, int m0, int n0,
                                           const float (&acc)[T::TM][T::TN],
                                           const float* bias, bool vec) {
#pragma unroll
    for (int i = 0; i < T::TM; ++i) {
        const int m = m0 + frag_row<T>(i);
        if (m >= rows) continue;
        const float b = bias ? __ldg(bias + chan0 + m) : 0.f;
#pragma unroll
        for (int jc = 0; jc < T::TN / 4; ++jc) {
            const int j = n0 + frag_col<T>(4 * jc);
            if (vec && j + 3 < npix) {
                const int n = j / plane, pix = j - n * plane;
                *reinterpret_cast<float4*>(out + (n * chans + chan0 + m) * plane + pix) =
                    make_float4(acc[i][4 * jc] + b, acc[i][4 * jc + 1] + b,
                                acc[i][4 * jc + 2] + b, acc[i][4 * jc + 3] + b);
            } else {
#pragma unroll
                for (int jj = 0; jj < 4; ++jj) {
                    const int jx = j + jj;
                    if (jx < npix) {
                        const int n = jx / plane, pix = jx - n * plane;
                        out[(n * chans + chan0 + m) * plane + pix] = acc[i][4 * jc + jj] + b;
                    }
                }
            }
        }
    }
}

template <class T>
__device__ __forceinline__ void conv2d_fwd_body(const float* __restrict__ x,
                                                const float* __restrict__ w,
                                                const float* __restrict__ bias,
                                                float* __restrict__ y, MT_CONV_SHAPE_PARAMS,
                                                int has_bias) {
    const int g = blockIdx.z, m0 = blockIdx.y * T::BM, n0 = blockIdx.x * T::BN;
    const int Cg = C / G, Og = O / G, RS = R * S, Kg = Cg * RS, PQ = P * Q, npix = N * PQ;
    const RowsKRun<T, T::SA> la(w + g * Og * Kg, Og, Kg, m0, Kg, (Kg % 4 == 0) && aligned16(w));
    const Im2colB<T> lb(x + g * Cg * H * W, C * H * W, H, W, Q, PQ, npix, sh, sw, ph, pw, S, RS,
                        dh, dw, n0, Kg);
    float acc[T::TM][T::TN];
    mainloop<T>(la, lb, 0, Kg, acc);
    store_nchw<T>(y, Og, npix, PQ, O, g * Og, m0, n0, acc, has_bias ? bias : nullptr,
                  (PQ % 4 == 0) && aligned16(y));
}

template <class T>
__device__ __forceinline__ void conv2d_bwd_data_body(const float* __restrict__ dy,
                                                     const float* __restrict__ w,
                                                     float* __restrict__ dx, MT_CONV_SHAPE_PARAMS) {
    const int g = blockIdx.z, m0 = blockIdx.y * T::BM, n0 = blockIdx.x * T::BN;
    const int Cg = C / G, Og = O / G, RS = R * S, Kg = Og * RS, HW = H * W, npix = N * HW;
    const WeightTA<T> la(w + g * Og * Cg * RS, Cg, RS, m0, Kg);
    const Col2imB<T> lb(dy + g * Og * P * Q, O * P * Q, W, HW, npix, ph, pw, P, Q, S, RS, sh, sw,
                        dh, dw, n0, Kg);
    float acc[T::TM][T::TN];
    mainloop<T>(la, lb, 0, Kg, acc);
    store_nchw<T>(dx, Cg, npix, HW, C, g * Cg, m0, n0, acc, nullptr, (HW % 4 == 0) && aligned16(dx));
}

template <class T>
__device__ __forceinline__ void conv2d_bwd_weight_body(const float* __restrict__ dy,
                                                       const float* __restrict__ x,
                                                       float* __restrict__ out,
                                                       MT_CONV_SHAPE_PARAMS, int kchunk) {
    const int g = blockIdx.z % G, split = blockIdx.z / G;
    const int m0 = blockIdx.y * T::BM, n0 = blockIdx.x * T::BN;
    const int Cg = C / G, Og = O / G, RS = R * S, Kg = Cg * RS, PQ = P * Q, K = N * PQ;
    // kend = min(K, kbeg + kchunk) without forming kbeg + kchunk (int32 overflow for K near 2^31)
    const int kbeg = split * kchunk, kend = kbeg + min(kchunk, K - kbeg);
    const DyRowsA<T> la(dy + g * Og * PQ, Og, PQ, O * PQ, m0, kend);
    const XRowsB<T> lb(x + g * Cg * H * W, Kg, H, W, C * H * W, P, Q, S, RS, sh, sw, ph, pw, dh, dw,
                       n0, kend);
    float acc[T::TM][T::TN];
    mainloop<T>(la, lb, kbeg, kend, acc);
    float* o = out + static_cast<long long>(split) * O * Kg + g * Og * Kg;
    store_rowmajor<T>(o, Kg, Og, Kg, m0, n0, acc, (Kg % 4 == 0) && aligned16(out));
}

}  // namespace mt

#define MT_CONV_ARGS N, C, H, W, O, P, Q, R, S, sh, sw, ph, pw, dh, dw, G

#define MT_CONV_ENTRIES(SUFFIX, TILE)                                                              \
    extern "C" __global__ void __launch_bounds__(256, 2) conv2d_fwd_##SUFFIX(                      \
        const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,  \
        float* __restrict__ y, MT_CONV_SHAPE_PARAMS, int has_bias) {                               \
        mt::conv2d_fwd_body<mt::TILE>(x, w, bias, y, MT_CONV_ARGS, has_bias);                       \
    }                                                                                              \
    extern "C" __global__ void __launch_bounds__(256, 2) conv2d_bwd_data_##SUFFIX(                 \
        const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx,         \
        MT_CONV_SHAPE_PARAMS) {                                                                    \
        mt::conv2d_bwd_data_body<mt::TILE>(dy, w, dx, MT_CONV_ARGS);                               \
    }                                                                                              \
    extern "C" __global__ void __launch_bounds__(256, 2) conv2d_bwd_weight_##SUFFIX(               \
        const float* __restrict__ dy, const float* __restrict__ x, float* __restrict__ out,        \
        MT_CONV_SHAPE_PARAMS, int kchunk) {                                                        \
        mt::conv2d_bwd_weight_body<mt::TILE>(dy, x, out, MT_CONV_ARGS, kchunk);                    \
    }

MT_CONV_ENTRIES(128x128, TileL)
MT_CONV_ENTRIES(64x64, TileS)

// splitk_reduce: out[i] = Σ_{s < splits} ws[s·total + i], s in increasing order (deterministic).
// Launch: block (256, 1, 1), grid (min(ceil(total/256), 32·SMs), 1, 1); grid-stride loop.
extern "C" __global__ void __launch_bounds__(256) splitk_reduce(const float* __restrict__ ws,
                                                                float* __restrict__ out,
                                                                int total, int splits) {
    for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<long long>(gridDim.x) * blockDim.x) {
        float s = 0.f;
        for (int p = 0; p < splits; ++p) s += __ldg(ws + p * static_cast<long long>(total) + i);
        out[i] = s;
    }
}
