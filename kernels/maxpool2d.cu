// maxpool2d.cu — 2-D max pooling, float32, NCHW: forward with argmax indices, backward as a
// deterministic gather.
//
// What it computes (torch's max_pool2d, see minitorch/nn/functional/pooling.py)
// -----------------------------------------------------------------------------
// For plane nc (= n·C + c) and output pixel (i, j), the window is the positions
//     (hs + a·dh, ws + b·dw),   hs = i·sh − ph,  ws = j·sw − pw,  a < kh, b < kw,
// and the output is the largest input value among those inside the H x W plane (padding is
// −∞ and never chosen). The scan follows torch's CPU kernel: rows a, then columns b, from the
// first position inside the plane, replacing the running maximum when  v > best  or v is NaN.
// So on ties the first maximum wins, a NaN always wins (the last NaN if several), and a window
// with no position inside the plane gives −∞ with the index of its first position past the
// top/left padding (outside the plane: such a window sends no gradient).
//     y[nc, i, j]   = best
//     ind[nc, i, j] = h·W + w of the winner (int64, torch's return_indices)
//
// backward (the vector-Jacobian product): each gradient goes to its window's argmax, and
// overlapping windows add up:
//     dx[nc, h, w] = Σ_{(i, j) whose window holds (h, w) and ind[nc, i, j] == h·W + w} dy[nc, i, j]
// computed as a *gather*: one thread per input element visits the (at most kh·kw) windows
// that can hold it — tap a gives window row i = (h + ph − a·dh)/sh when that divides exactly,
// the same for b — in row-major window order (i, j) (taps a and b from the last to the first):
// the order in which torch's CPU kernel and our CPU path scatter-add the contributions, so all
// three give the same float32 sums. No atomics, deterministic, dx needs no zeroing. (An out-of-plane index h'·W + w' of an empty window cannot equal an in-window
// h·W + w: such an index has w' >= W or h' >= H, see pooling.py.)
//
// Launch geometry: block (256, 1, 1), grid (min(ceil(total/256), 32·SMs), 1, 1) with a
// grid-stride loop (total = N·C·OH·OW outputs for forward, N·C·H·W inputs for backward). One
// thread per element: pooling reads each input ~kh·kw/(sh·sw) times and is memory-bound;
// consecutive threads take consecutive w (or j), so loads and stores coalesce.
//
// Entry points (ints int32, the element counts int64):
//   max_pool2d_fwd(x, y, ind, total, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, write_ind)
//   max_pool2d_bwd(dy, ind, dx, total, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw)
//
// Run on the CPU in make test by minitorch/testing/cuda_cpu (tests/test_kernels_on_cpu.py).

extern "C" __global__ void __launch_bounds__(256)
max_pool2d_fwd(const float* __restrict__ x, float* __restrict__ y, long long* __restrict__ ind,
               long long total, int H, int W, int OH, int OW, int kh, int kw, int sh, int sw,
               int ph, int pw, int dh, int dw, int write_ind) {
    const float neg_inf = __int_as_float(0xff800000);
    for (long long o = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; o < total;
         o += static_cast<long long>(gridDim.x) * blockDim.x) {
        const long long nc = o / (static_cast<long long>(OH) * OW);
        const int ij = static_cast<int>(o - nc * OH * OW);
        const int i = ij / OW, j = ij - i * OW;
        const int hs = i * sh - ph, ws = j * sw - pw;
        const int a0 = hs < 0 ? (-hs + dh - 1) / dh : 0;  // first row offset inside the plane
        const int b0 = ws < 0 ? (-ws + dw - 1) / dw : 0;
        const float* plane = x + nc * H * W;
        float best = neg_inf;
        long long besti = static_cast<long long>(hs + a0 * dh) * W + (ws + b0 * dw);
        for (int a = a0; a < kh; ++a) {
            const int h = hs + a * dh;
            if (h >= H) break;
            for (int b = b0; b < kw; ++b) {
                const int w = ws + b * dw;
                if (w >= W) break;
                const float v = __ldg(plane + h * W + w);
                if (v > best || v != v) {  // v != v: NaN
                    best = v;
                    besti = h * W + w;
                }
            }
        }
        y[o] = best;
        if (write_ind) ind[o] = besti;
    }
}

extern "C" __global__ void __launch_bounds__(256)
max_pool2d_bwd(const float* __restrict__ dy, const long long* __restrict__ ind,
               float* __restrict__ dx, long long total, int H, int W, int OH, int OW, int kh,
               int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
    for (long long e = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; e < total;
         e += static_cast<long long>(gridDim.x) * blockDim.x) {
        const long long nc = e / (static_cast<long long>(H) * W);
        const int hw = static_cast<int>(e - nc * H * W);
        const int h = hw / W, w = hw - h * W;
        const long long base = nc * OH * OW;
        float sum = 0.f;
        for (int a = kh - 1; a >= 0; --a) {  // window rows i in increasing order (torch's)
            const int th = h + ph - a * dh;  // = i·sh for the window row i that puts tap a on h
            if (th < 0) continue;            // th grows as a falls
            const int i = th / sh;
            if (i >= OH) break;              // and so does i
            if (i * sh != th) continue;
            for (int b = kw - 1; b >= 0; --b) {  // window columns j in increasing order
                const int tw = w + pw - b * dw;
                if (tw < 0) continue;
                const int j = tw / sw;
                if (j >= OW) break;
                if (j * sw != tw) continue;
                const long long o = base + i * OW + j;
                if (__ldg(ind + o) == hw) sum += __ldg(dy + o);
            }
        }
        dx[e] = sum;
    }
}
