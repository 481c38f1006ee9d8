"""Backprop by hand: one small conv-pool-linear network, its gradients computed three ways.

    x (2, 1, 6, 6) ─conv 3×3, 2 channels─▶ z (2, 2, 4, 4) ─ReLU─▶ a ─max-pool 2×2─▶ p (2, 2, 2, 2)
      ─flatten─▶ h (2, 8) ─linear 8→3─▶ logits (2, 3) ─cross-entropy with labels y─▶ L

1. **By the formulas, in NumPy** (``numpy_gradients``): the forward pass as im2col + one matrix
   product, then every vector-Jacobian product written out —
       dL/dlogits = (softmax − onehot) / N
       dL/dW_fc = dlogitsᵀ h,   dL/db_fc = Σₙ dlogits,   dL/dh = dlogits W_fc
       dL/da = each pooled gradient routed to its window's argmax (zeros elsewhere)
       dL/dz = dL/da ⊙ [z > 0]
       dL/dW = G colsᵀ,   dL/db = Σ G,   dL/dx = col2im(Wᵀ G)      (G = dL/dz as (O, N·OH·OW))
   (derivations: docs/convolution.md, docs/max_pooling.md, docs/softmax_cross_entropy.md).
2. **By minitorch's autograd** (``minitorch_gradients``).
3. **By torch's autograd** (``torch_gradients``), when torch is installed.

The three are printed side by side. Then the gradcheck walk-through: one weight's derivative by
central differences, the step-size trade-off, and ``minitorch.autograd.gradcheck`` on the full
Jacobian. Run:  python examples/backprop_by_hand.py [--seed N]
Exit status 0 when every gradient agrees (to 1e-10, in float64).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minitorch

N, C, H, W = 2, 1, 6, 6      # batch, channels, height, width
O, K = 2, 3                  # conv output channels, kernel size
CLASSES = 3
TOLERANCE = 1e-10
NAMES = ("conv.weight", "conv.bias", "fc.weight", "fc.bias", "x")


def make_problem(seed: int = 0) -> dict:
    """Random float64 inputs, labels and parameters (continuous values: no ties in the max-pool)."""
    rng = np.random.default_rng(seed)
    hidden = O * ((H - K + 1) // 2) * ((W - K + 1) // 2)      # 2 · 2 · 2 = 8
    return {
        "x": rng.standard_normal((N, C, H, W)),
        "y": rng.integers(0, CLASSES, N),
        "conv.weight": rng.standard_normal((O, C, K, K)) * 0.5,
        "conv.bias": rng.standard_normal(O) * 0.1,
        "fc.weight": rng.standard_normal((CLASSES, hidden)) * 0.5,
        "fc.bias": rng.standard_normal(CLASSES) * 0.1,
    }


# ---------------------------------------------------------------------------------------------
# 1. The formulas, in NumPy
# ---------------------------------------------------------------------------------------------
def im2col(x: np.ndarray, k: int) -> np.ndarray:
    """cols (C·k·k, N·OH·OW): row (c, p, q), column (n, i, j) holds x[n, c, i+p, j+q]
    (stride 1, no padding; the layout minitorch's conv2d uses)."""
    n, c, h, w = x.shape
    oh, ow = h - k + 1, w - k + 1
    cols = np.empty((c, k, k, n, oh, ow))
    for p in range(k):
        for q in range(k):
            cols[:, p, q] = x[:, :, p:p + oh, q:q + ow].transpose(1, 0, 2, 3)
    return cols.reshape(c * k * k, n * oh * ow)


def col2im(dcols: np.ndarray, x_shape: tuple, k: int) -> np.ndarray:
    """The adjoint of im2col: every copy of a pixel sends its gradient back, and they add up."""
    n, c, h, w = x_shape
    oh, ow = h - k + 1, w - k + 1
    dcols = dcols.reshape(c, k, k, n, oh, ow)
    dx = np.zeros(x_shape)
    for p in range(k):
        for q in range(k):
            dx[:, :, p:p + oh, q:q + ow] += dcols[:, p, q].transpose(1, 0, 2, 3)
    return dx


def numpy_forward_backward(prob: dict) -> tuple[float, dict]:
    """The loss and every gradient, by the formulas written out."""
    x, y = prob["x"], prob["y"]
    w, b = prob["conv.weight"], prob["conv.bias"]
    w_fc, b_fc = prob["fc.weight"], prob["fc.bias"]
    n = x.shape[0]
    oh, ow = H - K + 1, W - K + 1

    # forward -------------------------------------------------------------------------------
    cols = im2col(x, K)                                   # (C·K·K, N·OH·OW) = (9, 32)
    w2 = w.reshape(O, -1)                                 # (O, C·K·K)       = (2, 9)
    z = (w2 @ cols + b[:, None]).reshape(O, n, oh, ow).transpose(1, 0, 2, 3)   # (N, O, OH, OW)
    a = np.maximum(z, 0)
    windows = a.reshape(n, O, oh // 2, 2, ow // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(n, O, oh // 2, ow // 2, 4)  # the 4 values of each 2×2 window
    winner = windows.argmax(axis=-1)                      # first maximum in row-major scan order
    pooled = windows.max(axis=-1)                         # (N, O, 2, 2)
    h = pooled.reshape(n, -1)                             # (N, 8)
    logits = h @ w_fc.T + b_fc                            # (N, 3)
    shifted = logits - logits.max(axis=1, keepdims=True)
    softmax = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(softmax[np.arange(n), y]))

    # backward ------------------------------------------------------------------------------
    onehot = np.eye(CLASSES)[y]
    d_logits = (softmax - onehot) / n                     # softmax − onehot, mean over N
    d_w_fc = d_logits.T @ h                               # (3, N) @ (N, 8)
    d_b_fc = d_logits.sum(axis=0)
    d_h = d_logits @ w_fc                                 # (N, 3) @ (3, 8)
    d_pooled = d_h.reshape(pooled.shape)
    d_windows = np.zeros(windows.shape)                   # route to the argmax of each window
    np.put_along_axis(d_windows, winner[..., None], d_pooled[..., None], axis=-1)
    d_a = d_windows.reshape(n, O, oh // 2, ow // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    d_a = d_a.reshape(n, O, oh, ow)
    d_z = d_a * (z > 0)                                   # ReLU: pass where z > 0
    g = d_z.transpose(1, 0, 2, 3).reshape(O, -1)          # G: (O, N·OH·OW), the layout of w2 @ cols
    d_w = (g @ cols.T).reshape(w.shape)                   # (O, N·OH·OW) @ (N·OH·OW, C·K·K)
    d_b = g.sum(axis=1)
    d_x = col2im(w2.T @ g, x.shape, K)                    # (C·K·K, O) @ (O, N·OH·OW), then col2im
    grads = {"conv.weight": d_w, "conv.bias": d_b, "fc.weight": d_w_fc, "fc.bias": d_b_fc,
             "x": d_x}
    return float(loss), grads


def numpy_gradients(prob: dict) -> dict:
    return numpy_forward_backward(prob)[1]


# ---------------------------------------------------------------------------------------------
# 2. and 3. The same network in minitorch and in torch: one function, two libraries
# ---------------------------------------------------------------------------------------------
def library_loss(L, t: dict):
    """The network, written once for L = minitorch or torch; t holds L's tensors."""
    F = L.nn.functional
    z = F.conv2d(t["x"], t["conv.weight"], t["conv.bias"])
    pooled = F.max_pool2d(F.relu(z), 2)
    logits = F.linear(pooled.flatten(1), t["fc.weight"], t["fc.bias"])
    return F.cross_entropy(logits, t["y"])


def library_gradients(L, prob: dict) -> tuple[float, dict]:
    t = {k: L.tensor(v) if k == "y" else L.tensor(v, requires_grad=True) for k, v in prob.items()}
    loss = library_loss(L, t)
    loss.backward()
    return loss.item(), {k: t[k].grad.detach().numpy() for k in NAMES}


def minitorch_gradients(prob: dict) -> dict:
    return library_gradients(minitorch, prob)[1]


def torch_gradients(prob: dict) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    return library_gradients(torch, prob)[1]


# ---------------------------------------------------------------------------------------------
# The gradcheck walk-through
# ---------------------------------------------------------------------------------------------
def numpy_loss(prob: dict) -> float:
    return numpy_forward_backward(prob)[0]


def central_difference(prob: dict, name: str, index: tuple, eps: float) -> float:
    """(L(θ + ε) − L(θ − ε)) / 2ε for one entry θ = prob[name][index]."""
    plus = {k: v.copy() for k, v in prob.items()}
    minus = {k: v.copy() for k, v in prob.items()}
    plus[name][index] += eps
    minus[name][index] -= eps
    return (numpy_loss(plus) - numpy_loss(minus)) / (2 * eps)


def gradcheck_walkthrough(prob: dict, analytic: dict, out=print) -> bool:
    name, index = "conv.weight", (1, 0, 1, 2)
    exact = analytic[name][index]
    out(f"\n== gradcheck walk-through ==\n"
        f"1. One entry, {name}{list(index)}: backward says dL/dθ = {exact:+.12f}.\n"
        f"   Central difference (L(θ+ε) − L(θ−ε)) / 2ε; its error is O(ε²) from the Taylor\n"
        f"   remainder plus O(u/ε) from rounding (u ≈ 1.1e-16 in float64):")
    errors = {}
    for eps in (1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-11):
        approx = central_difference(prob, name, index, eps)
        errors[eps] = abs(approx - exact)
        out(f"     ε = {eps:7.0e}   estimate {approx:+.12f}   |error| = {errors[eps]:.1e}")
    best = min(errors, key=errors.get)
    out(f"   The error is smallest near ε = {best:.0e} (≈ u^(1/3)): too large an ε sees the\n"
        f"   curvature, too small an ε subtracts two nearly equal numbers. (A ReLU or max-pool\n"
        f"   kink inside [θ−ε, θ+ε] would also spoil it: keep ε small and the inputs tie-free.)")
    ok_one = errors[1e-5] < 1e-8

    # 2. the full Jacobian of one layer: minitorch.autograd.gradcheck
    rng = np.random.default_rng(1)
    x = minitorch.tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = minitorch.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    ok_conv = minitorch.autograd.gradcheck(
        lambda x, w: minitorch.nn.functional.conv2d(x, w, stride=2, padding=1), (x, w))
    xp = minitorch.tensor(rng.permutation(50).reshape(1, 2, 5, 5) / 10.0, requires_grad=True)
    ok_pool = minitorch.autograd.gradcheck(
        lambda x: minitorch.nn.functional.max_pool2d(x, 3, stride=2, padding=1), (xp,))
    out(f"2. The full Jacobian, entry by entry: minitorch.autograd.gradcheck perturbs every input\n"
        f"   element (one pair of forward passes each) and runs one backward per output element\n"
        f"   with a one-hot cotangent, comparing all of J (float64, |Δ| ≤ 1e-5 + 1e-3·|J|):\n"
        f"     conv2d(x (1,2,5,5), w (3,2,3,3), stride=2, padding=1) ... {ok_conv}\n"
        f"     max_pool2d(x (1,2,5,5), 3, stride=2, padding=1), distinct inputs ... {ok_pool}")
    return bool(ok_one and ok_conv and ok_pool)


# ---------------------------------------------------------------------------------------------
def main(argv=None, out=print) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    prob = make_problem(args.seed)
    loss_np, by_hand = numpy_forward_backward(prob)
    loss_mt, by_minitorch = library_gradients(minitorch, prob)
    by_torch = torch_gradients(prob)

    out("== one conv-pool-linear network, float64 ==")
    out(f"loss: NumPy formulas {loss_np:.15f}   minitorch {loss_mt:.15f}")
    header = f"{'gradient':<12} {'shape':<14} {'‖g‖ (NumPy)':>12} {'max|NumPy−minitorch|':>21}"
    header += f" {'max|NumPy−torch|':>17}" if by_torch is not None else "   (torch not installed)"
    out(header)
    worst = abs(loss_np - loss_mt)
    for name in NAMES:
        g = by_hand[name]
        d_mt = float(np.max(np.abs(g - by_minitorch[name])))
        row = f"{name:<12} {str(g.shape):<14} {np.linalg.norm(g):>12.6f} {d_mt:>21.1e}"
        worst = max(worst, d_mt)
        if by_torch is not None:
            d_t = float(np.max(np.abs(g - by_torch[name])))
            worst = max(worst, d_t)
            row += f" {d_t:>17.1e}"
        out(row)
    out("\nfirst rows, side by side (dL/dfc.weight[0, :4]):")
    out(f"  NumPy     {np.array2string(by_hand['fc.weight'][0, :4], precision=8)}")
    out(f"  minitorch {np.array2string(by_minitorch['fc.weight'][0, :4], precision=8)}")
    if by_torch is not None:
        out(f"  torch     {np.array2string(by_torch['fc.weight'][0, :4], precision=8)}")
    agree = worst <= TOLERANCE
    out(("ALL GRADIENTS AGREE" if agree else "GRADIENTS DISAGREE")
        + f" (largest difference {worst:.1e}, tolerance {TOLERANCE:.0e})")

    checked = gradcheck_walkthrough(prob, by_hand, out)
    out("GRADCHECK PASSED" if checked else "GRADCHECK FAILED")
    return 0 if agree and checked else 1


if __name__ == "__main__":
    sys.exit(main())
