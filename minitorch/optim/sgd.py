"""``SGD``: stochastic gradient descent with optional momentum, as ``torch.optim.SGD``."""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
    maximize=False, foreach=None, differentiable=False, fused=None)``

    The algorithm (torch's, step for step). Inputs: learning rate γ, momentum μ, dampening τ,
    weight decay λ. For each parameter θ with a gradient, at step t::

        g ← ∇θ f(θ)                  (−∇θ f(θ) when maximize)
        if λ ≠ 0:  g ← g + λ θ        (L2 penalty folded into the gradient)
        if μ ≠ 0:
            b ← g                     on the first step (t = 1): the buffer starts as the gradient
            b ← μ b + (1 − τ) g       afterwards
            g ← g + μ b               if nesterov  (look ahead along the momentum)
            g ← b                     otherwise
        θ ← θ − γ g

    Note the momentum form: torch (and we) accumulate the *gradient* in b and scale by γ at the end,
    unlike Sutskever et al., who put γ inside the buffer; the two differ when γ changes.

    State per parameter: ``'momentum_buffer'`` (only when momentum ≠ 0). Parameters whose
    ``.grad`` is None are skipped. ``foreach`` and ``fused`` pick torch's kernels and change
    nothing here; ``differentiable=True`` is not supported.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={momentum}, dampening={dampening})")
        if differentiable:
            raise NotImplementedError("SGD(differentiable=True) is not supported: minitorch's "
                                      "optimizers update the raw arrays outside the graph")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    group_defaults = dict(nesterov=False, maximize=False, foreach=None, differentiable=False,
                          fused=False)
    def _update(self, p: Tensor, group: dict) -> None:
        lr = float(group["lr"])
        momentum = group["momentum"]
        dampening = group["dampening"]
        weight_decay = group["weight_decay"]
        param = p._data
        xp = array_module(param)

        # In place, with out= into the optimizer's scratch arrays (Optimizer._scratch): the same
        # operations in the same order as the formulas above, so the rounding is unchanged.
        g = p.grad._data  # never modified: a changed g goes to the scratch array 0
        if group["maximize"]:
            g = xp.negative(g, out=self._scratch(param, 0))
        if weight_decay != 0:                                # g ← g + λθ
            decay = xp.multiply(param, weight_decay, out=self._scratch(param, 1))
            g = xp.add(g, decay, out=self._scratch(param, 0))

        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = Tensor._make(g.copy())  # the first step: b = g
                state["momentum_buffer"] = buf
            else:
                b = buf._data
                xp.multiply(b, momentum, out=b)              # b ← μ b
                b += xp.multiply(g, 1 - dampening, out=self._scratch(param, 1))  # + (1 − τ) g
                buf._bump_version()
            if group["nesterov"]:                            # g ← g + μ b
                ahead = xp.multiply(buf._data, momentum, out=self._scratch(param, 1))
                g = xp.add(g, ahead, out=self._scratch(param, 0))
            else:
                g = buf._data

        param += xp.multiply(g, -lr, out=self._scratch(param, 1))  # θ ← θ − γ g
        p._bump_version()
