"""Loss functions: cross_entropy, nll_loss, mse_loss, smooth_l1_loss, huber_loss,
binary_cross_entropy(_with_logits).

Notation as in ``ops.py``: ``g`` is dL/d(loss) arriving from above (a scalar for 'mean' and 'sum',
the loss's shape for 'none'); each backward returns dL/d(input).

Reductions (every loss): 'none' keeps one loss per element/position, 'sum' adds them, 'mean'
divides the sum by their number — except where weights are involved, see each function. The
legacy ``size_average``/``reduce`` arguments are accepted and mapped as torch maps them.

Cross-entropy, and a correction to the seed documents
-----------------------------------------------------
For one sample with logits z (C,), class probabilities p = softmax(z) and a target class y:

    ℓ = −log p_y = −z_y + log Σⱼ e^(zⱼ)

    ∂ℓ/∂z_k = −δ_ky + e^(z_k) / Σⱼ e^(zⱼ) = p_k − δ_ky           i.e.  ∇_z ℓ = p − onehot(y)

and with 'mean' over a batch of N samples, L = (1/N) Σₙ ℓₙ, so

    ∂L/∂z_{n,k} = (p_{n,k} − onehot(yₙ)_k) / N.

The seed document ``004`` writes J = −Σᵢ yᵢ log pᵢ and then ∂J/∂pᵢ = 1/pᵢ − yᵢ. That is wrong:
∂J/∂pᵢ = −yᵢ / pᵢ. Pushed through the softmax Jacobian ∂pᵢ/∂z_k = pᵢ(δᵢk − p_k) it gives
∂J/∂z_k = Σᵢ (−yᵢ/pᵢ) pᵢ (δᵢk − p_k) = −y_k + p_k Σᵢ yᵢ = p_k − y_k (for Σᵢ yᵢ = 1), the formula
above. torch computes cross_entropy as log_softmax followed by nll_loss, and so does
``cross_entropy`` here with weights, smoothing, ignored targets or spatial dims: the chain rule
through ``LogSoftmax.backward`` and ``NLLLoss.backward`` produces exactly p − onehot, scaled by
1/N (or wₙ/Σw with class weights). Plain (N, C) logits with class indices go through one
Function, ``CrossEntropy``, whose backward computes that formula directly.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

from ...autograd import ArrayFunction, is_grad_enabled
from ...backend import array_module, parallel, promote_types
from ...ops import unbroadcast
from ...tensor import Tensor, broadcast_shapes, fmt_shape, where
from .activation import log_softmax

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss"]

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------------------------------------
# Shared helpers: reductions and argument checks
# ---------------------------------------------------------------------------------------------
def _reduction(op: str, size_average, reduce, reduction: str) -> str:
    """The reduction to use: the legacy booleans win when given (with torch's warning)."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{reduction}' instead.", UserWarning, stacklevel=3)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected "
                         "'none', 'mean' or 'sum')")
    return reduction


def _reduce(loss, reduction: str):
    """Reduce an array of per-element losses: 'none' → as is, 'sum' → Σ, 'mean' → Σ / count."""
    xp = array_module(loss)
    if reduction == "none":
        return loss
    total = xp.asarray(loss.sum(), dtype=loss.dtype)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty input gives nan, as torch
        return total / loss.dtype.type(loss.size)


def _unreduce(g, shape, reduction: str):
    """The gradient of ``_reduce``: g itself, g broadcast, or g / count broadcast."""
    xp = array_module(g)
    if reduction == "none":
        return g
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            g = g / g.dtype.type(max(int(np.prod(shape, dtype=np.int64)), 1))
    return xp.broadcast_to(g, shape)


def _check_tensor(op: str, name: str, t) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be a Tensor, not {type(t).__name__}")


def _check_floating(op: str, name: str, t: Tensor) -> None:
    if not t.is_floating_point():
        raise RuntimeError(f"{op}: expected {name} to be floating point, got {t.dtype.name} "
                           f"(shape {fmt_shape(t.shape)})")


def _no_grad_arg(op: str, name: str, t: Tensor) -> None:
    """torch defines no gradient for these weights and refuses them when they require grad."""
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}: is not differentiable with respect to argument '{name}' (as in "
                           f"torch); pass {name}.detach()")


def _fits(shape, target_shape) -> bool:
    """Whether ``shape`` broadcasts to ``target_shape`` without making it larger."""
    shape, target_shape = tuple(shape), tuple(target_shape)
    return len(shape) <= len(target_shape) and all(
        a in (1, b) for a, b in zip(reversed(shape), reversed(target_shape)))


# ---------------------------------------------------------------------------------------------
# nll_loss
# ---------------------------------------------------------------------------------------------
def _target_weights(target, weight, ignore_index, dtype):
    """Per-position weights wₙ = weight[tₙ] · [tₙ ≠ ignore_index] (weight = 1 when None).

    Also returns the 'safe' targets (ignored ones replaced by class 0, so they can index) and the
    keep mask.
    """
    xp = array_module(target)
    keep = target != ignore_index
    if weight is None and keep.all():  # the usual case: every target counts, with weight 1
        return xp.ones(target.shape, dtype=dtype), target, keep
    safe = xp.where(keep, target, 0)
    w = weight[safe] if weight is not None else xp.ones(target.shape, dtype=dtype)
    return xp.where(keep, w, dtype.type(0)).astype(dtype, copy=False), safe, keep


class NLLLoss(ArrayFunction):
    """Negative log-likelihood of the target classes.

    Shapes: x (N, C, d1, …) — log-probabilities, usually ``log_softmax`` output; t (N, d1, …)
    class indices; weight (C,) or None. For every position n (a sample, or a sample's pixel):

        wₙ = weight[tₙ] · [tₙ ≠ ignore_index]          ℓₙ = −wₙ · x[n, tₙ]

    'none' → ℓ (N, d1, …);   'sum' → Σₙ ℓₙ;   'mean' → Σₙ ℓₙ / Σₙ wₙ (a weighted mean: without a
    weight it divides by the number of targets that are not ignored; all ignored gives nan).

    Backward: ℓₙ depends only on the picked entry x[n, tₙ], so

        dL/dx[n, c] = −wₙ · ĝₙ · [c = tₙ],    ĝ = g ('none'), g ('sum'), g / Σₙ wₙ ('mean').
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        """``ignore_index`` None: the caller found every target a class index, so no target is
        ignored; without a weight every wₙ is then 1 (Σₙ wₙ = the number of targets) and the
        losses are just −x[n, tₙ]."""
        xp = array_module(x)
        if weight is None and ignore_index is None:
            w = keep = None
            safe = target
        else:  # (None: every target is a class index, so -1 is none of them)
            w, safe, keep = _target_weights(target, weight,
                                            -1 if ignore_index is None else ignore_index, x.dtype)
        index = safe[:, None]  # (N, 1, d1, …): where along the class axis to pick
        if x.ndim == 2:  # (N, C): plain integer indexing, a few µs cheaper than take_along_axis
            picked = x[xp.arange(x.shape[0]), safe]
        else:
            picked = xp.take_along_axis(x, index, axis=1).squeeze(1)
        if w is None:
            losses = -picked
            total_weight = xp.asarray(losses.size, dtype=x.dtype)
        else:
            losses = xp.where(keep, -w * picked, x.dtype.type(0))  # ignored positions: exactly 0
            total_weight = xp.asarray(w.sum(), dtype=x.dtype)
        ctx.in_shape, ctx.index, ctx.weights, ctx.keep = x.shape, index, w, keep
        ctx.total_weight, ctx.reduction = total_weight, reduction
        if reduction == "none":
            return losses
        loss_sum = xp.asarray(losses.sum(), dtype=x.dtype)
        if reduction == "sum":
            return loss_sum
        with np.errstate(invalid="ignore", divide="ignore"):
            return loss_sum / total_weight

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        if ctx.reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                g = g / ctx.total_weight
        if ctx.weights is None:  # every wₙ = 1
            g_picked = -g
        else:
            with np.errstate(invalid="ignore"):
                g_picked = xp.where(ctx.keep, -ctx.weights * g, g.dtype.type(0))
        gx = xp.zeros(ctx.in_shape, dtype=g.dtype)
        if len(ctx.in_shape) == 2:  # (N, C): plain integer indexing, as in forward
            gx[xp.arange(ctx.in_shape[0]), ctx.index[:, 0]] = g_picked
        else:
            xp.put_along_axis(gx, ctx.index, xp.expand_dims(g_picked, 1) if g_picked.ndim else
                              g_picked, axis=1)
        return gx, None, None, None, None


def _check_class_input(op: str, input) -> int:
    """Input (C,) or (N, C, d1, …), floating point; returns C."""
    _check_tensor(op, "input", input)
    if input.ndim == 0:
        raise RuntimeError(f"{op}: input must be (C,) or (N,C,d1,...), got a 0-d tensor")
    _check_floating(op, "input", input)
    return input.shape[0 if input.ndim == 1 else 1]


def _class_index_target(op: str, input: Tensor, target: Tensor, ignore_index: int):
    """Check class-index targets against input (C,) or (N, C, d1, …); return them as int64, and
    whether none of them can be ``ignore_index`` (all are class indices, and it is not one)."""
    n_classes = input.shape[0 if input.ndim == 1 else 1]
    if target.device != input.device:
        raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found input "
                           f"on {input.device} and target on {target.device}")
    if target.dtype.name not in ("int64", "uint8"):
        hint = ""
        if target.is_floating_point():
            hint = (f"; a target of class probabilities must have the input's shape "
                    f"{fmt_shape(input.shape)}")
        raise RuntimeError(f"{op}: expected target dtype to be int64 (Long) or uint8 (Byte) class "
                           f"indices, but got {target.dtype.name} (target "
                           f"{fmt_shape(target.shape)}, input {fmt_shape(input.shape)}){hint}")
    expected = () if input.ndim == 1 else tuple(input.shape[:1]) + tuple(input.shape[2:])
    if input.ndim >= 2 and target.ndim >= 1 and target.shape[0] != input.shape[0]:
        raise ValueError(f"{op}: input batch_size {input.shape[0]} does not match target "
                         f"batch_size {target.shape[0]} (input {fmt_shape(input.shape)}, target "
                         f"{fmt_shape(target.shape)})")
    if tuple(target.shape) != expected:
        raise RuntimeError(f"{op}: expected a target of class indices of shape "
                           f"{fmt_shape(expected)} for input {fmt_shape(input.shape)}, got target "
                           f"{fmt_shape(target.shape)}")
    t = target._data.astype(np.int64)  # a copy: backward must not see later in-place changes
    if t.size == 0 or (0 <= t.min() and t.max() < n_classes):  # all in range: nothing to find
        return t, not 0 <= ignore_index < n_classes
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        value = int(t[bad].reshape(-1)[0])
        raise IndexError(f"{op}: target {value} is out of bounds for {n_classes} classes (valid "
                         f"class indices are 0..{n_classes - 1}; ignore_index={ignore_index} "
                         f"marks a target to skip)")
    return t, False


def _class_weight(op: str, weight, n_classes: int, input: Tensor):
    if weight is None:
        return None
    _check_tensor(op, "weight", weight)
    if weight.device != input.device:
        raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found input "
                           f"on {input.device} and weight on {weight.device}")
    if weight.ndim != 1 or weight.shape[0] != n_classes:
        raise RuntimeError(f"{op}: weight tensor should be defined either for all {n_classes} "
                           f"classes or no classes but got weight tensor of shape "
                           f"{fmt_shape(weight.shape)} (input {fmt_shape(input.shape)})")
    if weight.dtype is not input.dtype:
        raise RuntimeError(f"{op}: weight has dtype {weight.dtype.name} but input has dtype "
                           f"{input.dtype.name}; convert the weight with .to({input.dtype.name})")
    return weight


def _nll(input: Tensor, target, weight, ignore_index: int, reduction: str,
         none_ignored: bool = False) -> Tensor:
    """``NLLLoss`` on checked arguments; an unbatched (C,) input is a batch of one.
    ``none_ignored``: no target equals ignore_index (``_class_index_target`` found it)."""
    w = None if weight is None else weight._data
    if none_ignored:
        ignore_index = None
    if input.ndim == 1:
        out = NLLLoss.apply(input.reshape(1, -1), target.reshape(1), w, ignore_index, reduction)
        return out.reshape(()) if reduction == "none" else out
    return NLLLoss.apply(input, target, w, ignore_index, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood loss: −weight[t]·input[n, t] per position (see ``NLLLoss``).

    input (N, C, d1, …) or (C,) log-probabilities; target (N, d1, …) or () class indices, int64
    (or uint8); weight (C,) per-class weights (not differentiable, as torch).
    """
    op = "nll_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    n_classes = _check_class_input(op, input)
    _check_tensor(op, "target", target)
    t, none_ignored = _class_index_target(op, input, target, ignore_index)
    weight = _class_weight(op, weight, n_classes, input)
    if weight is not None:
        _no_grad_arg(op, "weight", weight)
    return _nll(input, t, weight, ignore_index, reduction, none_ignored)


# ---------------------------------------------------------------------------------------------
# cross_entropy
# ---------------------------------------------------------------------------------------------
# No e^x overflows, nor does a whole row underflow, while every row's maximum lies in
# [−limit, limit]: e^60 ≈ 1.1e26 (float32's largest is 3.4e38 ≈ e^88), e^600 ≈ 3.8e260 (float64's
# e^709). Sums of up to 10^9 such terms stay finite. Tried on inputs of at least
# _NO_SHIFT_ABOVE logits: on smaller ones the pass it saves costs less than the check.
_NO_SHIFT_LIMIT = {np.float32: 60.0, np.float64: 600.0}
_NO_SHIFT_ABOVE = 1 << 16


class CrossEntropy(ArrayFunction):
    """The usual classifier loss in one Function: logits x (N, C), class indices t (N,), every
    target a class index, no class weight, no label smoothing. (torch composes log_softmax and
    nll_loss; ``cross_entropy`` does too in every other case. Here the log-softmax is never
    written out, and backward is the formula below, with no graph between.)

        ℓₙ = (m − x[n, tₙ]) + log Σ_c e^(x[n, c] − m)    (= −log softmax(xₙ)[tₙ]; m the row max)
        dL/dx[n, c] = ĝₙ · (softmax(xₙ)_c − [c = tₙ]),     ĝ = g ('none'), g ('sum'), g / N ('mean')

    The shift by m keeps every e^(x − m) ≤ 1, so nothing overflows, and the sum in [1, C]; taking
    m − x[n, tₙ] first keeps a small loss (a confident, right prediction) as accurate as torch's
    — log Σ e^x − x[n, tₙ] would round at the size of m. When every row's maximum lies in
    [−60, 60] (float32; [−600, 600] for float64) and there are many logits, the subtraction pass
    is skipped: no e^x can overflow then and each sum Sₙ = Σ_c e^(x[n, c]) keeps a term of at
    least e^−60, and the log term is log(Sₙ · e^(−m)), a product, not a difference. Forward keeps
    E = e^(x − m) (or e^x) and its row sums S; backward forms softmax = E / S first and then
    multiplies by ĝ (ĝ / S could overflow where S is near e^−60).
    """

    @staticmethod
    def forward(ctx, x, target, reduction):
        xp = array_module(x)
        n = x.shape[0]
        m = x.max(axis=1, keepdims=True)
        shift = True
        if xp is np and x.size >= _NO_SHIFT_ABOVE and x.shape[1] > 1:   # (no device sync)
            limit = _NO_SHIFT_LIMIT.get(x.dtype.type)
            shift = not (limit and np.abs(m).max() <= limit)   # (False for a NaN maximum)
        e, sums = xp.empty_like(x), xp.empty((n, 1), dtype=x.dtype)

        def rows(r0, r1):
            if shift:
                xp.exp(xp.subtract(x[r0:r1], m[r0:r1], out=e[r0:r1]), out=e[r0:r1])
            else:
                xp.exp(x[r0:r1], out=e[r0:r1])
            e[r0:r1].sum(axis=1, keepdims=True, out=sums[r0:r1])
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            _on_row_blocks(rows, x)
            m1 = m[:, 0]
            rest = sums[:, 0] if shift else sums[:, 0] * xp.exp(-m1)   # Σ_c e^(x − m), in [1, C]
            losses = (m1 - x[xp.arange(n), target]) + xp.log(rest)
        ctx.save_for_backward(e, sums)   # (released after backward, as every saved array)
        ctx.target, ctx.reduction = target, reduction
        if reduction == "none":
            return losses
        total = xp.asarray(losses.sum(), dtype=x.dtype)
        return total if reduction == "sum" else total / x.dtype.type(n)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        e, sums = ctx.saved_tensors
        n = e.shape[0]
        if ctx.reduction == "none":
            c = g[:, None]                     # ĝₙ, one per row
        else:
            c = g if ctx.reduction == "sum" else g / g.dtype.type(n)
        dx = xp.empty_like(e)

        def rows(r0, r1):
            xp.divide(e[r0:r1], sums[r0:r1], out=dx[r0:r1])          # softmax(xₙ)
            dx[r0:r1] *= c[r0:r1] if ctx.reduction == "none" else c  # · ĝₙ
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            _on_row_blocks(rows, e)
            dx[xp.arange(n), ctx.target] -= c[:, 0] if ctx.reduction == "none" else c
        return dx, None, None


def _on_row_blocks(fn, x) -> None:
    """fn(r0, r1) over the rows of x (N, C): in cache-sized blocks on the intra-op threads for
    NumPy arrays above ``parallel.ROW_BLOCKS_ABOVE`` entries when there are threads (rows are
    independent: the same bits), else in one call. On one thread the blocks cost more than the
    cache saves (these passes are short: forward+backward of (4096, 1000) float32 10.8 → 11.3
    ms; at 2 threads 10.5 → 8.2 ms)."""
    if (array_module(x) is np and x.size > parallel.ROW_BLOCKS_ABOVE
            and parallel.get_num_threads() > 1):
        parallel.for_row_blocks(x.shape[0], x.shape[1], fn)
    else:
        fn(0, x.shape[0])


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between softmax(input) and the target, along the class dim (dim 1, or 0 for
    an unbatched (C,) input). (N, C) or (C,) float32/float64 logits with class indices, no
    weight, no smoothing and an ignore_index that is no class (the default −100): one Function,
    ``CrossEntropy``; otherwise composed of ``LogSoftmax`` and ``NLLLoss``.

    Shapes: input (N, C, d1, …) or (C,) logits; target either
      * class indices (N, d1, …) or (), int64 (or uint8): ℓₙ = −wₙ log softmax(xₙ)[tₙ];
        gradient of the mean (derived in this module's docstring):
            dL/dxₙ = (softmax(xₙ) − onehot(tₙ)) · wₙ / Σₘ wₘ   (= (softmax − onehot)/N unweighted)
      * class probabilities q of the input's shape (floating point):
            ℓₙ = −Σ_c weight_c q_{n,c} log softmax(xₙ)_c,  'mean' divides by N·d1·… (not by the
            weights); dL/dxₙ = (softmax(xₙ) Σ_c weight_c q_{n,c} − weight ⊙ qₙ) / (N·d1·…).

    label_smoothing ε ∈ [0, 1] mixes the target with the uniform distribution over C classes:
      * probabilities: q ← (1 − ε) q + ε / C;
      * indices (torch's formula, reproduced exactly):
            loss = (1 − ε) · nll_loss(log p, t, weight) + (ε / C) · S,
            Sₙ = −Σ_c weight_c log p_{n,c}   (0 where tₙ is ignored),
        with S reduced by 'none'/'sum', and for 'mean' divided by the same Σₙ wₙ as the nll term.
        Unweighted, the gradient of the mean is (softmax − ((1 − ε) onehot + ε/C)) / N.

    ignore_index: targets equal to it contribute nothing, also to the 'mean' denominator.
    Stable for logits of any magnitude (log_softmax subtracts the max first).
    """
    op = "cross_entropy"
    reduction = _reduction(op, size_average, reduce, reduction)
    n_classes = _check_class_input(op, input)
    _check_tensor(op, "target", target)
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"{op}: label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    weight = _class_weight(op, weight, n_classes, input)
    # the weight broadcast along the class dim: (C,) or (1, C, 1, …)
    weight_b = None if weight is None else weight.reshape(
        tuple(n_classes if d == class_dim else 1 for d in range(input.ndim)))

    if tuple(target.shape) == tuple(input.shape):  # class probabilities
        if not target.is_floating_point():
            raise RuntimeError(f"{op}: a target of the input's shape {fmt_shape(input.shape)} "
                               f"holds class probabilities and must be floating point, got "
                               f"{target.dtype.name}; class indices need shape "
                               f"{fmt_shape(tuple(input.shape[:1]) + tuple(input.shape[2:]))}")
        log_p = log_softmax(input, class_dim)
        q = target if label_smoothing == 0 else target * (1 - label_smoothing) + \
            label_smoothing / n_classes
        terms = log_p * q if weight_b is None else log_p * q * weight_b
        if reduction == "none":
            return -terms.sum(class_dim)
        if reduction == "sum":
            return -terms.sum()
        return -terms.sum() / (input.numel() // n_classes if n_classes else 0)

    t, none_ignored = _class_index_target(op, input, target, ignore_index)
    if (weight is None and label_smoothing == 0 and none_ignored and input.ndim <= 2
            and input.numel() > 0 and input.dtype.name in ("float32", "float64")):
        if input.ndim == 1:
            out = CrossEntropy.apply(input.reshape(1, -1), t.reshape(1), reduction)
            return out.reshape(()) if reduction == "none" else out
        return CrossEntropy.apply(input, t, reduction)
    if weight is not None:
        _no_grad_arg(op, "weight", weight)
    log_p = log_softmax(input, class_dim)
    nll = _nll(log_p, t, weight, ignore_index, reduction, none_ignored)
    if label_smoothing == 0:
        return nll
    # the uniform part: Sₙ = −Σ_c weight_c log p_{n,c}, zero at ignored targets
    smooth = -(log_p if weight_b is None else log_p * weight_b).sum(class_dim)
    keep = t != ignore_index
    smooth = where(Tensor._make(keep), smooth, 0.0)
    if reduction == "mean":
        w, _, _ = _target_weights(t, None if weight is None else weight._data, ignore_index,
                                  input._data.dtype)
        smooth = smooth.sum() / Tensor._make(array_module(w).asarray(w.sum(), dtype=w.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


# ---------------------------------------------------------------------------------------------
# mse_loss
# ---------------------------------------------------------------------------------------------
def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
             weight=None) -> Tensor:
    """Mean squared error: ℓᵢ = (xᵢ − yᵢ)², reduced by 'none' | 'mean' (Σℓ / n) | 'sum'.

    With ``weight`` (input's shape): ℓᵢ = wᵢ (xᵢ − yᵢ)², and 'mean' is Σᵢ wᵢ(xᵢ − yᵢ)² / Σᵢ wᵢ.

    Backward ('mean', no weight): dL/dx = g · 2(x − y) / n,  dL/dy = −g · 2(x − y) / n, summed
    over the dims a broadcast input was expanded along. Written with differentiable ops (Sub,
    PowScalar, Sum/Mean), whose backward formulas compose to exactly these.

    A target of another shape is broadcast (with torch's warning); shapes that do not broadcast
    raise an error naming both.
    """
    op = "mse_loss"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{op}: Using a target size {fmt_shape(target.shape)} that is different to "
                      f"the input size {fmt_shape(input.shape)}. This will likely lead to "
                      f"incorrect results due to broadcasting. Please ensure they have the same "
                      f"size.", UserWarning, stacklevel=2)
        broadcast_shapes(op, tuple(input.shape), tuple(target.shape))
    reduction = _reduction(op, size_average, reduce, reduction)
    if not (input.is_floating_point() or target.is_floating_point()):
        raise NotImplementedError(f"{op}: expected floating point input or target, got "
                                  f"{input.dtype.name} and {target.dtype.name}")
    squared = (input - target) ** 2
    if weight is not None:
        _check_tensor(op, "weight", weight)
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError(f"{op}: weight {fmt_shape(weight.shape)} and input "
                             f"{fmt_shape(input.shape)} must have the same size")
        squared = squared * weight
        if reduction == "mean":
            return squared.sum() / weight.sum()
    if reduction == "none":
        return squared
    return squared.sum() if reduction == "sum" else squared.mean()


# ---------------------------------------------------------------------------------------------
# smooth_l1_loss, huber_loss
# ---------------------------------------------------------------------------------------------
class Huber(ArrayFunction):
    """The Function behind ``smooth_l1_loss`` and ``huber_loss``. For d = x − y, z = |d|, a
    threshold δ ≥ 0, the curvature c of the quadratic part and the slope s of the linear part
    (with c δ = s, so the two pieces meet at z = δ with equal value and slope):

        ℓᵢ = c zᵢ² / 2         if zᵢ < δ      (quadratic near 0)
        ℓᵢ = s (zᵢ − δ/2)      otherwise      (linear in the tails)

    smooth_l1_loss: δ = β, c = 1/β, s = 1:  ℓ = z²/(2β) inside, z − β/2 outside.
    huber_loss:     δ = delta, c = 1, s = δ: ℓ = z²/2 inside, δ (z − δ/2) outside.
    δ = 0 (smooth_l1's β = 0) is the L1 loss ℓ = s z, as torch's l1_loss (c is unused).

    Backward, with ĝ = g ('none', 'sum') or g / n ('mean'), n the number of elements of the
    broadcast shape:

        dℓ/dxᵢ = ĝᵢ · c dᵢ           if |dᵢ| < δ    (the residual, scaled)
        dℓ/dxᵢ = ĝᵢ · s sign(dᵢ)     otherwise      (sign(0) = 0 at δ = 0, as torch's L1)
        dℓ/dyᵢ = −dℓ/dxᵢ

    each summed over the dims that x (or y) was broadcast along. Shapes: x, y broadcastable.
    Infinite or NaN residuals give inf/NaN losses silently, as in torch.
    """

    @staticmethod
    def forward(ctx, x, y, delta, curvature, slope, reduction):
        xp = array_module(x)
        with np.errstate(over="ignore", invalid="ignore"):
            z = xp.abs(x - y)
            if delta > 0:
                losses = xp.where(z < delta, (0.5 * curvature) * z * z, slope * (z - 0.5 * delta))
            else:
                losses = slope * z
        ctx.save_for_backward(x, y)
        ctx.delta, ctx.curvature, ctx.slope, ctx.reduction = delta, curvature, slope, reduction
        return _reduce(losses.astype(z.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        xp = array_module(x)
        with np.errstate(over="ignore", invalid="ignore"):
            d = x - y
            dloss = xp.sign(d) * d.dtype.type(ctx.slope)
            if ctx.delta > 0:
                dloss = xp.where(xp.abs(d) < ctx.delta, d * ctx.curvature, dloss)
            gd = _unreduce(g, d.shape, ctx.reduction) * dloss
        gx = unbroadcast(gd, x.shape) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(-gd, y.shape) if ctx.needs_input_grad[1] else None
        return gx, gy, None, None, None, None


def _regression_pair(op: str, input, target):
    """Check input and target, warn (as torch) when their shapes differ, and return the dtype
    both are computed in (torch's promotion of the two)."""
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"{op}: Using a target size {fmt_shape(target.shape)} that is different to "
                      f"the input size {fmt_shape(input.shape)}. This will likely lead to "
                      f"incorrect results due to broadcasting. Please ensure they have the same "
                      f"size.", UserWarning, stacklevel=3)
        broadcast_shapes(op, tuple(input.shape), tuple(target.shape))
    dt = promote_types([input.dtype, target.dtype])
    if not dt.is_floating_point:
        raise NotImplementedError(f"{op}: expected floating point input or target, got "
                                  f"{input.dtype.name} and {target.dtype.name}")
    return dt


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1 loss: squared below ``beta``, absolute above (see ``Huber`` for the backward).

        ℓᵢ = (xᵢ − yᵢ)² / (2β)    if |xᵢ − yᵢ| < β
        ℓᵢ = |xᵢ − yᵢ| − β/2      otherwise

    reduced by 'none' | 'mean' (Σℓ / n) | 'sum'. β = 0 is the L1 loss |x − y| (gradient
    sign(x − y), 0 where x = y, as torch); β < 0 raises. As β grows the loss tends to 0: it
    is the Huber loss divided by β, so the quadratic part is z²/(2β), not z²/2.

    A target of another shape is broadcast (with torch's warning); input and target may have
    different dtypes (computed in torch's promotion of the two). Both are differentiable.
    """
    op = "smooth_l1_loss"
    dt = _regression_pair(op, input, target)
    reduction = _reduction(op, size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta "
                           f"(got beta={beta})")
    x = input if input.dtype is dt else input.to(dt)
    y = target if target.dtype is dt else target.to(dt)
    beta = float(beta)
    return Huber.apply(x, y, beta, 1.0 / beta if beta > 0 else 0.0, 1.0, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    """Huber loss: squared below ``delta``, delta-scaled absolute above (see ``Huber``).

        ℓᵢ = (xᵢ − yᵢ)² / 2                 if |xᵢ − yᵢ| < δ
        ℓᵢ = δ (|xᵢ − yᵢ| − δ/2)            otherwise

    = δ · smooth_l1_loss(β = δ); the gradient is the residual x − y clipped to [−δ, δ]. δ must
    be positive. With ``weight`` (the input's shape, differentiable as in torch): ℓᵢ ← wᵢ ℓᵢ,
    and 'mean' is Σᵢ wᵢℓᵢ / n — divided by the number of elements, not by Σw as mse_loss's
    weighted mean is (torch's own difference between the two, reproduced).

    The result has the input's dtype (torch's huber_loss writes into an output like the input:
    a float64 target with a float32 input gives float32; an integer input with a floating
    target raises). A target of another shape is broadcast, with torch's warning.
    """
    op = "huber_loss"
    dt = _regression_pair(op, input, target)
    reduction = _reduction(op, None, None, reduction)
    if not delta > 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta "
                           f"(got delta={delta})")
    if not input.is_floating_point():
        raise RuntimeError(f"{op}: result type {dt.name} can't be cast to the desired output "
                           f"type {input.dtype.name} (the output takes the input's dtype)")
    if weight is not None:
        _check_tensor(op, "weight", weight)
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError(f"{op}: weight {fmt_shape(weight.shape)} and input "
                             f"{fmt_shape(input.shape)} must have the same size")
    x = input if input.dtype is dt else input.to(dt)
    y = target if target.dtype is dt else target.to(dt)
    delta = float(delta)
    loss = Huber.apply(x, y, delta, 1.0, delta, "none" if weight is not None else reduction)
    if loss.dtype is not input.dtype:
        loss = loss.to(input.dtype)
    if weight is None:
        return loss
    loss = loss * weight
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy
# ---------------------------------------------------------------------------------------------
def _elementwise_weight(op: str, name: str, weight, shape, dtype) -> Tensor | None:
    """A weight that broadcasts to ``shape`` (e.g. (C,) against (N, C)), cast to ``dtype``."""
    if weight is None:
        return None
    _check_tensor(op, name, weight)
    _no_grad_arg(op, name, weight)
    if not _fits(weight.shape, shape):
        raise RuntimeError(f"{op}: {name} {fmt_shape(weight.shape)} does not broadcast to the "
                           f"input's shape {fmt_shape(shape)}")
    return weight if weight.dtype is dtype else weight.to(dtype)


class BinaryCrossEntropy(ArrayFunction):
    """ℓᵢ = −wᵢ [yᵢ log xᵢ + (1 − yᵢ) log(1 − xᵢ)],  x ∈ [0, 1] probabilities, y targets in [0, 1].

    As torch, each log is clamped at −100 so that x = 0 or 1 gives a finite loss (and log(1 − x)
    is computed as log1p(−x)). Reduced by 'none' | 'mean' (Σℓ / n) | 'sum'.

    Backward, with ĝ = g ('none', 'sum') or g / n ('mean'):

        dL/dxᵢ = ĝᵢ wᵢ (xᵢ − yᵢ) / max(xᵢ (1 − xᵢ), ε)    (ε ≈ 1e-12: torch's guard at x = 0 or 1)
        dL/dyᵢ = −ĝᵢ wᵢ log(xᵢ / (1 − xᵢ))                     (minus the logit of x)

    Shapes: x, y (any, equal); w broadcast to them.
    """

    @staticmethod
    def forward(ctx, x, y, w, reduction):
        xp = array_module(x)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), x.dtype.type(-100))
            log_1mx = xp.maximum(xp.log1p(-x), x.dtype.type(-100))
        losses = (y - 1) * log_1mx - y * log_x
        if w is not None:
            losses = losses * w
        ctx.save_for_backward(x, y)
        ctx.w, ctx.reduction = w, reduction
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        xp = array_module(x)
        g = _unreduce(g, x.shape, ctx.reduction)
        if ctx.w is not None:
            g = g * ctx.w
        gx = gy = None
        if ctx.needs_input_grad[0]:
            # torch's guard is the float32 number nearest 1e-12 (9.99999996e-13), also in float64
            eps = x.dtype.type(np.float32(1e-12))
            gx = g * (x - y) / xp.maximum(x * (1 - x), eps)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gy = -g * xp.log(x / (1 - x))
        return gx, gy, None, None


def _check_in_unit_interval(op: str, name: str, t: Tensor) -> None:
    a = t._data
    outside = ~((a >= 0) & (a <= 1))  # also catches nan
    if outside.any():
        value = float(a[outside].reshape(-1)[0])
        hint = (" (did you forget a sigmoid? binary_cross_entropy_with_logits takes raw scores)"
                if name == "input" else "")
        raise RuntimeError(f"{op}: all elements of {name} should be between 0 and 1, but found "
                           f"{value} in {name} {fmt_shape(t.shape)}{hint}")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy between probabilities ``input`` and ``target`` (see
    ``BinaryCrossEntropy``). input and target: the same shape and dtype, values in [0, 1];
    weight: broadcastable to the input's shape (not differentiable, as torch)."""
    op = "binary_cross_entropy"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: Using a target size {fmt_shape(target.shape)} that is different "
                         f"to the input size {fmt_shape(input.shape)} is deprecated. Please ensure "
                         f"they have the same size.")
    reduction = _reduction(op, size_average, reduce, reduction)
    _check_floating(op, "input", input)
    if target.dtype is not input.dtype:
        raise RuntimeError(f"{op}: target has dtype {target.dtype.name} but input has dtype "
                           f"{input.dtype.name}; convert the target with .to({input.dtype.name})")
    _check_in_unit_interval(op, "input", input)
    _check_in_unit_interval(op, "target", target)
    w = _elementwise_weight(op, "weight", weight, input.shape, input.dtype)
    return BinaryCrossEntropy.apply(input, target, None if w is None else w._data, reduction)


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# ---------------------------------------------------------------------------------------------
def _log_sigmoid(x):
    """log σ(x) = −log(1 + e⁻ˣ) = min(x, 0) − log1p(e^(−|x|)): exp never overflows."""
    xp = array_module(x)
    return xp.minimum(x, x.dtype.type(0)) - xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid(x):
    """σ(x) without overflow: with e = e^(−|x|), 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0."""
    xp = array_module(x)
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class BinaryCrossEntropyWithLogits(ArrayFunction):
    """Binary cross-entropy of σ(x) against y, computed from the logits x directly.

    With log σ(x) evaluated stably (see ``_log_sigmoid``) and pos_weight p (1 when None):

        ℓᵢ = wᵢ [ (1 − yᵢ) xᵢ − (1 + (pᵢ − 1) yᵢ) log σ(xᵢ) ]

    which equals −wᵢ [pᵢ yᵢ log σ(xᵢ) + (1 − yᵢ) log(1 − σ(xᵢ))] since log(1 − σ(x)) = log σ(x) − x.
    It stays finite for |x| = 1e3 and beyond, where σ(x) rounds to 0 or 1.

    Backward, with ĝ = g ('none', 'sum') or g / n ('mean'):

        dL/dxᵢ = ĝᵢ wᵢ [ (1 + (pᵢ − 1) yᵢ) σ(xᵢ) − pᵢ yᵢ ]      (σ(x) − y when p = 1)
        dL/dyᵢ = ĝᵢ wᵢ [ −xᵢ − (pᵢ − 1) log σ(xᵢ) ]             (−x when p = 1)

    Shapes: x, y (equal); w and p broadcast to them (p is usually (C,), one per class).
    """

    @staticmethod
    def forward(ctx, x, y, w, pos_weight, reduction):
        log_sig = _log_sigmoid(x)
        if pos_weight is None:
            losses = (1 - y) * x - log_sig
        else:
            losses = (1 - y) * x - (1 + (pos_weight - 1) * y) * log_sig
        if w is not None:
            losses = losses * w
        ctx.save_for_backward(x, y)
        ctx.weight, ctx.pos_weight, ctx.reduction = w, pos_weight, reduction
        return _reduce(losses, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        w, p = ctx.weight, ctx.pos_weight
        g = _unreduce(g, x.shape, ctx.reduction)
        if w is not None:
            g = g * w
        gx = gy = None
        if ctx.needs_input_grad[0]:
            s = _sigmoid(x)
            gx = g * (s - y if p is None else (1 + (p - 1) * y) * s - p * y)
        if ctx.needs_input_grad[1]:
            gy = g * (-x if p is None else -x - (p - 1) * _log_sigmoid(x))
        return gx, gy, None, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step (see ``BinaryCrossEntropyWithLogits``).

    input: logits; target: probabilities of the input's shape (floating point); weight:
    broadcastable to the input's shape; pos_weight: the weight of positive examples, broadcastable
    (usually (C,) for input (N, C)). weight and pos_weight are not differentiable, as torch.
    """
    op = "binary_cross_entropy_with_logits"
    _check_tensor(op, "input", input)
    _check_tensor(op, "target", target)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{op}: Target size {fmt_shape(target.shape)} must be the same as input "
                         f"size {fmt_shape(input.shape)}")
    reduction = _reduction(op, size_average, reduce, reduction)
    _check_floating(op, "input", input)
    _check_floating(op, "target", target)
    dt = promote_types([input.dtype, target.dtype])
    x = input if input.dtype is dt else input.to(dt)
    y = target if target.dtype is dt else target.to(dt)
    w = _elementwise_weight(op, "weight", weight, input.shape, dt)
    p = _elementwise_weight(op, "pos_weight", pos_weight, input.shape, dt)
    return BinaryCrossEntropyWithLogits.apply(x, y, None if w is None else w._data,
                                              None if p is None else p._data, reduction)
