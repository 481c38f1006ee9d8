"""``Adam`` and ``AdamW``, as ``torch.optim.Adam`` and ``torch.optim.AdamW``.

One implementation serves both: AdamW is Adam with ``decoupled_weight_decay=True`` (as in torch).

A note on the seed documents (``shared/seeds/003_*`` and ``004_*``): the Adam formulas they give
are wrong. 003 writes θ_new = θ_old − α∇J + β₁(1−β₂ᵗ)/(1−β₁ᵗ)(θ_old − θ_{t−1}), a heavy-ball step
on *parameter differences* with no second-moment estimate at all; 004 writes
θ_{t+1} = θ_t − α/(1−β₁)(∇J + β₂(θ_t − θ_{t−1})/(1−β₂)), likewise with no running averages, and its
"derivation" uses ∇²J (a second derivative) where Adam uses the squared gradient g⊙g, and drops ε.
Adam keeps running averages of the gradient (m) and of its elementwise square (v), corrects both
for their zero initialisation, and divides: the algorithm below (Kingma & Ba, 2015; torch's docs).
"""
from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


def _scalar(value, name: str) -> float:
    """A hyperparameter as a Python float (numbers and 1-element Tensors)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"Tensor {name} must be 1-element")
        return float(value.item())
    return float(value)


class Adam(Optimizer):
    r"""``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
    decoupled_weight_decay=False)``

    The algorithm (torch's, step for step). Inputs: learning rate γ, betas (β₁, β₂), ε, weight
    decay λ. State: m₀ = 0 (first moment), v₀ = 0 (second moment), v̂max₀ = 0, t = 0. Each step,
    for each parameter θ with a gradient::

        t ← t + 1
        g ← ∇θ f(θ)                        (−∇θ f(θ) when maximize)
        if λ ≠ 0:
            θ ← θ (1 − γ λ)                 decoupled (AdamW): shrink θ directly
            g ← g + λ θ                     otherwise (Adam): L2 penalty folded into g
        m ← β₁ m + (1 − β₁) g               running mean of g        (computed as m + (1−β₁)(g − m))
        v ← β₂ v + (1 − β₂) g⊙g             running mean of g²
        c₁ = 1 − β₁ᵗ,  c₂ = 1 − β₂ᵗ          bias corrections: m and v start at 0, so early on
                                            E[m] ≈ c₁ E[g] and E[v] ≈ c₂ E[g²]
        if amsgrad:  vmax ← max(vmax, v);  use vmax in place of v below
        denom = √v / √c₂ + ε                = √(v / c₂) + ε = √v̂ + ε
        θ ← θ − (γ / c₁) · m / denom         = θ − γ m̂ / (√v̂ + ε),  m̂ = m / c₁

    (The Adam formulas in the seed documents are wrong; the module docstring says how.)

    The last two lines are arranged as torch computes them (ε is added *after* the bias
    correction of v, the step size γ/c₁ is a scalar), so float64 results agree to rounding.

    State per parameter: ``'step'`` (a 0-dim float32 tensor on the CPU, as torch's),
    ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v) and, with amsgrad, ``'max_exp_avg_sq'``; the
    buffers have the parameter's dtype and device. Parameters whose ``.grad`` is None are
    skipped. ``foreach``/``fused`` select torch's kernels and change nothing here;
    ``capturable`` and ``differentiable`` are not supported.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = _scalar(betas[0], "betas[0]"), _scalar(betas[1], "betas[1]")
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if capturable or differentiable:
            raise NotImplementedError(
                f"{type(self).__name__}(capturable=True / differentiable=True) is not supported: "
                "minitorch's optimizers update the raw arrays outside the graph")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    group_defaults = dict(amsgrad=False, maximize=False, foreach=None, capturable=False,
                          differentiable=False, decoupled_weight_decay=False, fused=None)
    tensor_step = True
    def _init_state(self, p: Tensor, amsgrad: bool) -> dict:
        state = self.state[p]
        if len(state) == 0:  # lazily, on the first step that sees a gradient for p
            xp = array_module(p._data)
            state["step"] = Tensor._make(np.array(0.0, dtype=np.float32))
            state["exp_avg"] = Tensor._make(xp.zeros_like(p._data))
            state["exp_avg_sq"] = Tensor._make(xp.zeros_like(p._data))
            if amsgrad:
                state["max_exp_avg_sq"] = Tensor._make(xp.zeros_like(p._data))
        return state

    def _update(self, p: Tensor, group: dict) -> None:
        state = self._init_state(p, group["amsgrad"])
        state["step"]._data += 1
        t = float(state["step"]._data)
        moments = [state[name]._data for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
                   if name in state]
        # block by block (Optimizer._blocks): the same operations, with the arrays in cache
        for arrays in self._blocks(p._data, p.grad._data, *moments):
            self._update_arrays(group, t, *arrays)
        for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            if name in state:
                state[name]._bump_version()
        p._bump_version()

    def _update_arrays(self, group: dict, t: float, param, g, m, v, v_max=None) -> None:
        """The algorithm above on arrays (or matching blocks of them), at step t."""
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        xp = array_module(param)
        # In place, with out= into the optimizer's scratch arrays (Optimizer._scratch): the same
        # operations in the same order as the formulas above, so the rounding is unchanged.
        # g (the gradient) is never modified: a changed g goes to the scratch array 0.
        if group["maximize"]:
            g = xp.negative(g, out=self._scratch(param, 0))
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                xp.multiply(param, 1 - lr * weight_decay, out=param)   # θ ← θ (1 − γλ)
            else:                                                     # g ← g + λθ
                decay = xp.multiply(param, weight_decay, out=self._scratch(param, 1))
                g = xp.add(g, decay, out=self._scratch(param, 0))

        work = self._scratch(param, 1)
        xp.subtract(g, m, out=work)            # m ← β₁ m + (1 − β₁) g, as torch's lerp_:
        work *= 1 - beta1                      #   m + (1 − β₁)(g − m)
        m += work
        xp.multiply(v, beta2, out=v)           # v ← β₂ v
        xp.multiply(g, 1 - beta2, out=work)    #   + (1 − β₂) g·g
        work *= g
        v += work

        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5

        if v_max is not None:                  # amsgrad
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        denom = xp.sqrt(v, out=work)           # denom = √v / √c₂ + ε
        denom /= bias_correction2_sqrt
        denom += eps
        update = xp.multiply(m, -step_size, out=self._scratch(param, 2))
        update /= denom                        # θ ← θ − (γ / c₁) m / denom
        param += update


class AdamW(Adam):
    r"""``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    *, maximize=False, foreach=None, capturable=False, differentiable=False, fused=None)``

    Adam with *decoupled* weight decay (Loshchilov & Hutter): before the Adam update, each step
    shrinks the parameter directly, θ ← θ (1 − γλ), instead of adding λθ to the gradient. The
    decay then does not pass through m and v, so it is not rescaled by 1/√v̂. Everything else is
    :class:`Adam` (see its algorithm). Note the default ``weight_decay=1e-2``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)

    def _restore_group_defaults(self):
        super()._restore_group_defaults()
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
