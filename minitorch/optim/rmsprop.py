"""``RMSprop``, as ``torch.optim.RMSprop`` (Hinton's lecture 6e; the centered form from Graves,
2013, "Generating sequences with recurrent neural networks")."""
from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, capturable=False, foreach=None, maximize=False, differentiable=False)``

    The algorithm (torch's, step for step). Inputs: learning rate γ, smoothing α, ε, weight decay
    λ, momentum μ. State: v₀ = 0 (running mean of g²), m₀ = 0 (running mean of g, centered only),
    b₀ = 0 (momentum buffer), t = 0. Each step, for each parameter θ with a gradient::

        t ← t + 1
        g ← ∇θ f(θ)                       (−∇θ f(θ) when maximize)
        if λ ≠ 0:  g ← g + λ θ            (L2 penalty folded into the gradient)
        v ← α v + (1 − α) g⊙g             running mean of g²
        if centered:
            m ← α m + (1 − α) g           running mean of g  (computed as m + (1−α)(g − m))
            d = √(v − m⊙m) + ε             the running *standard deviation* of g
        else:
            d = √v + ε                     the running RMS of g
        if μ > 0:
            b ← μ b + g / d                heavy-ball momentum on the normalised gradient
            θ ← θ − γ b
        else:
            θ ← θ − γ g / d

    ε is added *outside* the square root (Adadelta puts it inside), and there is no bias
    correction: v starts at 0, so the first steps are large (|Δθ| ≈ γ / √(1 − α) on step 1).

    State per parameter: ``'step'`` (a 0-dim float32 tensor on the CPU, as torch's),
    ``'square_avg'`` (v), ``'momentum_buffer'`` (b, when μ > 0) and ``'grad_avg'`` (m, when
    centered), with the parameter's dtype and device. Parameters whose ``.grad`` is None are
    skipped. ``foreach`` selects torch's kernels and changes nothing here; ``capturable`` and
    ``differentiable`` are not supported.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if capturable or differentiable:
            raise NotImplementedError(
                "RMSprop(capturable=True / differentiable=True) is not supported: minitorch's "
                "optimizers update the raw arrays outside the graph")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    group_defaults = dict(momentum=0, centered=False, foreach=None, maximize=False,
                          differentiable=False, capturable=False)
    tensor_step = True
    def _init_state(self, p: Tensor, group: dict) -> dict:
        state = self.state[p]
        xp = array_module(p._data)
        if len(state) == 0:  # lazily, on the first step that sees a gradient for p
            state["step"] = Tensor._make(np.array(0.0, dtype=np.float32))
            state["square_avg"] = Tensor._make(xp.zeros_like(p._data))
        # a group whose momentum or centered is switched on later starts that buffer at 0
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor._make(xp.zeros_like(p._data))
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = Tensor._make(xp.zeros_like(p._data))
        return state

    def _update(self, p: Tensor, group: dict) -> None:
        lr = float(group["lr"])
        alpha = group["alpha"]
        eps = group["eps"]
        momentum = group["momentum"]
        state = self._init_state(p, group)
        param = p._data
        xp = array_module(param)

        state["step"]._data += 1

        g = self._l2_gradient(p, group)                       # −g if maximize; g ← g + λθ

        v = state["square_avg"]._data
        xp.multiply(v, alpha, out=v)                          # v ← α v + (1 − α) g·g
        v += (1 - alpha) * g * g
        if group["centered"]:
            m = state["grad_avg"]._data
            m += (1 - alpha) * (g - m)                        # m ← α m + (1 − α) g, as lerp_
            d = xp.sqrt(v - m * m)                            # d = √(v − m²) + ε
        else:
            d = xp.sqrt(v)                                    # d = √v + ε
        d += eps

        if momentum > 0:
            b = state["momentum_buffer"]._data
            xp.multiply(b, momentum, out=b)                   # b ← μ b + g / d
            b += g / d
            param += (-lr) * b                                # θ ← θ − γ b
        else:
            param += (-lr) * (g / d)                          # θ ← θ − γ g / d

        for name in ("square_avg", "grad_avg", "momentum_buffer"):
            if name in state:
                state[name]._bump_version()
        p._bump_version()
