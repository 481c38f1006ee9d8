"""``Adadelta``, as ``torch.optim.Adadelta`` (Zeiler, 2012: "ADADELTA: an adaptive learning rate
method")."""
from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
    capturable=False, maximize=False, differentiable=False)``

    The algorithm (torch's, step for step). Inputs: learning rate γ (a plain scale on the step;
    Zeiler's method has none, γ = 1), decay ρ, ε, weight decay λ. State: v₀ = 0 (running mean of
    g²), u₀ = 0 (running mean of Δ²), t = 0. Each step, for each parameter θ with a gradient::

        t ← t + 1
        g ← ∇θ f(θ)                       (−∇θ f(θ) when maximize)
        if λ ≠ 0:  g ← g + λ θ            (L2 penalty folded into the gradient)
        v ← ρ v + (1 − ρ) g⊙g             running mean of g²
        Δ ← √(u + ε) / √(v + ε) ⊙ g        the step in θ's own units: RMS of past steps over
                                           the RMS of the gradients (u is the *old* u here)
        u ← ρ u + (1 − ρ) Δ⊙Δ             running mean of Δ², updated after Δ is taken
        θ ← θ − γ Δ

    ε sits inside both square roots: it starts the very first step at Δ ≈ √ε · g / √((1−ρ)g² + ε)
    (u₀ = 0), and keeps the ratio finite where v is 0. No bias correction, unlike Adam.

    State per parameter: ``'step'`` (a 0-dim float32 tensor on the CPU, as torch's),
    ``'square_avg'`` (v) and ``'acc_delta'`` (u), with the parameter's dtype and device.
    Parameters whose ``.grad`` is None are skipped. ``foreach`` selects torch's kernels and
    changes nothing here; ``capturable`` and ``differentiable`` are not supported.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable or differentiable:
            raise NotImplementedError(
                "Adadelta(capturable=True / differentiable=True) is not supported: minitorch's "
                "optimizers update the raw arrays outside the graph")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    group_defaults = dict(foreach=None, maximize=False, differentiable=False, capturable=False)
    tensor_step = True
    def _init_state(self, p: Tensor) -> dict:
        state = self.state[p]
        if len(state) == 0:  # lazily, on the first step that sees a gradient for p
            xp = array_module(p._data)
            state["step"] = Tensor._make(np.array(0.0, dtype=np.float32))
            state["square_avg"] = Tensor._make(xp.zeros_like(p._data))
            state["acc_delta"] = Tensor._make(xp.zeros_like(p._data))
        return state

    def _update(self, p: Tensor, group: dict) -> None:
        lr = float(group["lr"])
        rho = group["rho"]
        eps = group["eps"]
        state = self._init_state(p)
        param = p._data
        xp = array_module(param)

        state["step"]._data += 1

        g = self._l2_gradient(p, group)                       # −g if maximize; g ← g + λθ

        v = state["square_avg"]._data
        u = state["acc_delta"]._data
        xp.multiply(v, rho, out=v)                            # v ← ρ v + (1 − ρ) g·g
        v += (1 - rho) * g * g
        std = xp.sqrt(v + eps)                                # √(v + ε)
        delta = xp.sqrt(u + eps)                              # Δ = √(u + ε) / √(v + ε) · g
        delta /= std
        delta *= g
        xp.multiply(u, rho, out=u)                            # u ← ρ u + (1 − ρ) Δ·Δ
        u += (1 - rho) * delta * delta
        param += (-lr) * delta                                # θ ← θ − γ Δ

        state["square_avg"]._bump_version()
        state["acc_delta"]._bump_version()
        p._bump_version()
