r"""``LBFGS``: limited-memory BFGS with an optional strong-Wolfe line search, as
``torch.optim.LBFGS``.

The algorithm (torch's, step for step)
--------------------------------------
All parameters are viewed as one flat vector x (their concatenation, in order); g = ∇f(x) is the
concatenation of their ``.grad`` (zeros for a parameter without one). One call of
``step(closure)`` runs up to ``max_iter`` iterations and ``max_eval`` evaluations of the closure::

    f, g ← closure()                                   (one evaluation)
    if max|g| ≤ tolerance_grad: return                 (already optimal)
    repeat:
        k ← k + 1                                      (k counts iterations over all steps)
        if k = 1:  d ← −g,  history empty,  H₀ ← 1
        else:
            y ← g − g_prev,  s ← t·d                   (the last step and the change of gradient)
            if yᵀs > 1e-10:                            (curvature condition; else skip the pair)
                push (y, s, ρ = 1 / yᵀs), dropping the oldest beyond history_size pairs
                H₀ ← yᵀs / yᵀy                         (scale of the initial inverse Hessian)
            d ← −H g  by the two-loop recursion (below)
        t ← lr · min(1, 1 / Σ|g|)  if k = 1,  else lr
        if gᵀd > −tolerance_change: stop               (not a descent direction any more)
        x ← x + t·d          with t from the line search when line_search_fn='strong_wolfe',
                             else t as is (then f, g ← closure() unless this is the last iteration)
        stop when: max_iter iterations, max_eval evaluations, max|g| ≤ tolerance_grad,
                   max|t·d| ≤ tolerance_change, or |f − f_prev| < tolerance_change

The two-loop recursion computes d = −H g with H the L-BFGS inverse-Hessian approximation built
from the m stored pairs (sᵢ, yᵢ), oldest first, without ever forming H::

    q ← −g
    for i = m−1, ..., 0:   αᵢ ← ρᵢ sᵢᵀq;   q ← q − αᵢ yᵢ
    r ← H₀ q
    for i = 0, ..., m−1:   βᵢ ← ρᵢ yᵢᵀr;   r ← r + (αᵢ − βᵢ) sᵢ
    d ← r

The strong-Wolfe line search looks for a step t along d (from f, g at t = 0, with
φ(t) = f(x + t d) and φ'(t) = ∇f(x + t d)ᵀd) meeting both

    sufficient decrease (Armijo):   φ(t) ≤ φ(0) + c₁ t φ'(0)         c₁ = 1e-4
    strong curvature:               |φ'(t)| ≤ −c₂ φ'(0)              c₂ = 0.9

It first *brackets* such a t: starting from the initial t, each trial either fails Armijo (or
is no lower than the previous trial), or has φ'(t) ≥ 0 — then [t_prev, t] brackets a minimum —
or meets both conditions (done); otherwise t moves out to the minimizer of the cubic through
(t_prev, φ, φ') and (t, φ, φ'), clamped to [t + 0.01 (t − t_prev), 10 t]. Then it *zooms*: the
cubic's minimizer inside the bracket is tried (pushed 10 % of the bracket away from an end it
hugs twice in a row), and replaces the bracket's high or low end by the same rules, until the
conditions hold, the bracket is shorter than tolerance_change / max|d|, or the evaluations
(``max_eval`` minus those already spent in this step) run out. The low end is returned.

The cubic through (a, fa, ga) and (b, fb, gb) has its minimizer at::

    d₁ = ga + gb − 3 (fa − fb) / (a − b),   d₂ = √(d₁² − ga gb)
    t  = b − (b − a) (gb + d₂ − d₁) / (gb − ga + 2 d₂)          (for a ≤ b; mirrored otherwise)

clamped to the bounds; when d₁² < ga gb (no real minimizer) the middle of the bounds is used.

Scalars (yᵀs, ρ, H₀, gᵀd, t) keep the parameters' dtype as torch's 0-dim tensors do, the loss is
a Python float, so float32 runs round where torch's do.

State and state dict
--------------------
The optimizer's state is global but, as in torch, it lives under the first parameter:
``func_evals``, ``n_iter`` (counted over all steps), ``d``, ``t``, ``old_dirs`` (the yᵢ),
``old_stps`` (the sᵢ), ``ro``, ``H_diag``, ``prev_flat_grad``, ``prev_loss`` and ``al``. The next
``step`` continues from them, and ``state_dict()``/``load_state_dict()`` carry them (flat buffers
are not shaped like the first parameter, so this optimizer loads them without a shape check).
Only one parameter group is allowed.
"""
from __future__ import annotations

import copy

import numpy as np

from ..autograd import enable_grad, no_grad
from ..backend import array_module, device_of, to_device
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["LBFGS"]

_STATE_ARRAYS = ("d", "prev_flat_grad")  # single flat buffers
_STATE_LISTS = ("old_dirs", "old_stps", "ro", "al")  # lists of buffers (or None in al)
_STATE_SCALARS = ("t", "H_diag")  # a 0-dim buffer or a Python number


def _cubic_minimizer(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2), clamped to
    ``bounds`` (default: between x1 and x2); the middle of the bounds when it has none."""
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(t, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t along ``d`` meeting the strong Wolfe conditions (see the module docstring).

    ``evaluate(t)`` returns (φ(t), ∇f(x + t d)) with the parameters left at x; ``f``, ``g`` and
    ``gtd`` = gᵀd are their values at t = 0. Returns (f, g, t, number of evaluations)."""
    xp = array_module(d)
    d_norm = xp.abs(d).max()
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = g_new.dot(d)

    # bracketing
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate: the cubic's minimizer beyond t
        t_next = _cubic_minimizer(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                  bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:  # out of evaluations while bracketing
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point meets the conditions
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimizer(bracket[0], bracket_f[0], bracket_gtd[0],
                             bracket[1], bracket_f[1], bracket_gtd[1])
        # keep away from the bracket's ends when progress stalls
        b_min, b_max = min(bracket), max(bracket)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < eps:
            if insufficient_progress or t >= b_max or t <= b_min:
                t = b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False

        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:
            # Armijo fails, or no lower than the low end: t becomes the high end
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                # the old low end becomes the high end
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new

    return bracket_f[low], bracket_g[low], bracket[low], evals


def _as_scalar(value):
    """A number for ``lr`` (a 1-element Tensor is allowed, as in torch)."""
    return value.item() if isinstance(value, Tensor) else value


class LBFGS(Optimizer):
    r"""``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None)``

    L-BFGS as in the module docstring. ``max_eval`` defaults to ``max_iter * 5 // 4``;
    ``line_search_fn`` is None (fixed step ``lr``) or ``'strong_wolfe'``. ``step(closure)``
    needs the closure (it zeroes the gradients, computes the loss, calls ``backward()`` and
    returns the loss); it returns the loss of the first evaluation. One parameter group only.
    Memory: ``history_size`` pairs of flat vectors, 2 · history_size · (number of parameters).
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS line_search_fn must be None or 'strong_wolfe', "
                             f"got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): "
                             f"got {len(self.param_groups)} groups")

    @property
    def _params(self):
        return self.param_groups[0]["params"]

    # ---- the flat view of all parameters ---------------------------------------------------
    def _flat_grad(self):
        parts = []
        for p in self._params:
            if p.grad is None:
                xp = array_module(p._data)
                parts.append(xp.zeros(p._data.size, dtype=p._data.dtype))
            else:
                parts.append(p.grad._data.reshape(-1))
        xp = array_module(*parts)
        return xp.concatenate(parts)

    def _add_step(self, t, d) -> None:
        """x ← x + t d, parameter by parameter (in place)."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += t * d[offset:offset + n].reshape(p._data.shape)
            p._bump_version()
            offset += n

    def _copy_params(self):
        return [p._data.copy() for p in self._params]

    def _set_params(self, arrays) -> None:
        for p, a in zip(self._params, arrays):
            p._data[...] = a
            p._bump_version()

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return loss

    # ---- the step ------------------------------------------------------------------------
    def step(self, closure):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` re-evaluates the loss and its
        gradients. Returns the loss of the first evaluation (the closure's own return value)."""
        if closure is None:
            raise TypeError("LBFGS.step needs a closure that re-evaluates the model and returns "
                            "the loss")
        group = self.param_groups[0]
        with no_grad():
            return self._step(closure, group)

    def _step(self, closure, group):
        lr = _as_scalar(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]
        if line_search_fn not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        xp = array_module(flat_grad)
        if xp.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = _unwrap(state.get("d")), _unwrap(state.get("t"))
        old_dirs = [_unwrap(v) for v in state.get("old_dirs") or []]
        old_stps = [_unwrap(v) for v in state.get("old_stps") or []]
        ro = [_unwrap(v) for v in state.get("ro") or []]
        H_diag = _unwrap(state.get("H_diag"))
        prev_flat_grad, prev_loss = _unwrap(state.get("prev_flat_grad")), state.get("prev_loss")
        al = [_unwrap(v) for v in state["al"]] if "al" in state else None

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                if al is None:
                    al = [None] * history_size
                q = -flat_grad                                   # the two-loop recursion
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q -= al[i] * old_dirs[i]
                r = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]
                d = r

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # the step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break

            evals = 0
            if line_search_fn is not None:
                x_init = self._copy_params()

                def evaluate(step, x_init=x_init, d=d):
                    self._add_step(step, d)
                    value = float(self._evaluate(closure))
                    grad = self._flat_grad()
                    self._set_params(x_init)
                    return value, grad

                loss, flat_grad, t, evals = _strong_wolfe(
                    evaluate, t, d, loss, flat_grad, gtd, tolerance_change=1e-9,
                    max_ls=max_eval - current_evals)
                self._add_step(t, d)
                opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_step(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the last iteration's point is not re-evaluated
                    loss = float(self._evaluate(closure))
                    flat_grad = self._flat_grad()
                    opt_cond = xp.abs(flat_grad).max() <= tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals

            # stopping
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if xp.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = _wrap(d)
        state["t"] = _wrap(t)
        state["old_dirs"] = [_wrap(v) for v in old_dirs] if old_dirs is not None else None
        state["old_stps"] = [_wrap(v) for v in old_stps] if old_stps is not None else None
        state["ro"] = [_wrap(v) for v in ro] if ro is not None else None
        state["H_diag"] = _wrap(H_diag)
        state["prev_flat_grad"] = _wrap(prev_flat_grad)
        state["prev_loss"] = prev_loss
        if al is not None:
            state["al"] = [_wrap(v) for v in al]
        return orig_loss

    # ---- state dict ----------------------------------------------------------------------
    def load_state_dict(self, state_dict: dict) -> None:
        """Load a dict made by ``state_dict()`` (also torch's): one group with as many
        parameters as this optimizer's; buffers are copied to the first parameter's device and
        dtype (they are flat, so no shape check as the other optimizers make)."""
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): "
                             f"the state dict has {len(saved_groups)} groups")
        saved = saved_groups[0]
        if len(saved["params"]) != len(self._params):
            raise ValueError(
                f"loaded state dict contains a parameter group that doesn't match the size of "
                f"optimizer's group: group 0 has {len(saved['params'])} parameters in the "
                f"state dict and {len(self._params)} in the optimizer")
        first = self._params[0]
        loaded = {}
        for key, value in state_dict["state"].items():
            if key == saved["params"][0]:
                loaded = {name: _cast_like(first, v) for name, v in value.items()}
        saved["params"] = self._params
        self.param_groups = saved_groups
        self.state.clear()
        if loaded:
            self.state[first] = loaded


def _unwrap(value):
    """The array inside a state Tensor (numbers and None unchanged)."""
    return value._data if isinstance(value, Tensor) else value


def _wrap(value):
    """A state value as torch keeps it: arrays (also 0-dim scalars) become Tensors."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, np.generic):
        return value
    if isinstance(value, np.generic):
        value = np.asarray(value)
    return Tensor._make(value)


def _cast_like(param: Tensor, value):
    """A copy of a loaded state value: buffers (ours or torch's) on ``param``'s device and in its
    dtype, lists element by element, numbers as they are."""
    if isinstance(value, list):
        return [_cast_like(param, v) for v in value]
    if value is None or isinstance(value, (int, float)):
        return value
    array = value._data if isinstance(value, Tensor) else value
    if array_module(array) is np:
        array = np.asarray(array)
    array = to_device(array, device_of(param._data))
    return Tensor._make(array.astype(param._data.dtype, copy=True))
