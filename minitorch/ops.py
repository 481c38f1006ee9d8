"""The differentiable ops behind Tensor's methods, one ``Function`` per op.

Notation: ``g`` is the gradient arriving from the output (dL/dy, same shape as y); each backward
returns the vector-Jacobian product dL/dx = g · ∂y/∂x for every input. Forward and backward get
raw arrays of one array module ``xp`` (NumPy or CuPy), already of one dtype (Tensor's methods do the
type promotion and shape checks before calling ``apply``).

Broadcasting: when an input of shape s was broadcast to the output's shape, every copy of an
element contributed to the loss, so its gradient is the *sum* of g over the broadcast axes —
``unbroadcast(g, s)``.
"""
from __future__ import annotations

import numpy as np

from .autograd import ArrayFunction
from .backend import add_at, array_module, parallel
from .backend import matmul as backend_matmul


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: over leading axes ``shape`` lacks, and over axes where it has 1."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    g = g.sum(axis=axes, keepdims=True) if axes else g
    return g.reshape(shape)


# ---------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------
class Add(ArrayFunction):
    """y = a + b.            dL/da = unbroadcast(g),  dL/db = unbroadcast(g)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


class Sub(ArrayFunction):
    """y = a - b.            dL/da = unbroadcast(g),  dL/db = -unbroadcast(g)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), -unbroadcast(g, sb)


class Mul(ArrayFunction):
    """y = a * b.            dL/da = unbroadcast(g * b),  dL/db = unbroadcast(g * a)."""

    @staticmethod
    def forward(ctx, a, b):
        # each input's gradient needs only the other input: save just what will be used (so
        # that modifying an input that is not needed does not block backward, as in torch)
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        ctx.shapes = (np.shape(a), np.shape(b))
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        ga = unbroadcast(g * b, sa) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * a, sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(ArrayFunction):
    """y = a / b.            dL/da = unbroadcast(g / b),  dL/db = unbroadcast(-g * a / b²)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)  # a only for dL/db
        ctx.shapes = (np.shape(a), np.shape(b))
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ga = unbroadcast(g / b, sa) if ctx.needs_input_grad[0] else None
            gb = unbroadcast(-g * (a / b) / b, sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(ArrayFunction):
    """y = -x.               dL/dx = -g."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(ArrayFunction):
    """y = a ** b (both tensors).

    dL/da = unbroadcast(g · b · a^(b-1))   (0 where b == 0, as torch)
    dL/db = unbroadcast(g · y · ln a)      (0 where a == 0 and b >= 0, as torch)
    """

    @staticmethod
    def forward(ctx, a, b):
        xp = array_module(a, b)
        with np.errstate(all="ignore"):
            y = xp.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        xp = array_module(a, b)
        ga = gb = None
        with np.errstate(all="ignore"):
            if ctx.needs_input_grad[0]:
                ga = unbroadcast(xp.where(b == 0, 0, g * b * xp.power(a, b - 1)), np.shape(a))
            if ctx.needs_input_grad[1]:
                gb = unbroadcast(xp.where((a == 0) & (b >= 0), 0, g * y * xp.log(a)), np.shape(b))
        return ga, gb


class PowScalar(ArrayFunction):
    """y = x ** p for a Python number p.   dL/dx = g · p · x^(p-1)   (0 when p == 0)."""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        with np.errstate(all="ignore"):
            return x ** p

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return g * 0, None
        with np.errstate(all="ignore"):
            return g * p * x ** (p - 1), None


class RPowScalar(ArrayFunction):
    """y = s ** x for a Python number s.   dL/dx = g · y · ln s   (0 where s == 0 and x >= 0)."""

    @staticmethod
    def forward(ctx, s, x):
        xp = array_module(x)
        with np.errstate(all="ignore"):
            y = xp.power(x.dtype.type(s), x)
        ctx.save_for_backward(x, y)
        ctx.s = s
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        xp = array_module(x)
        with np.errstate(all="ignore"):
            if ctx.s == 0:
                return None, xp.where(x >= 0, 0, g * y * np.log(0.0)).astype(g.dtype)
            return None, g * y * x.dtype.type(np.log(ctx.s))


class MatMul(ArrayFunction):
    """y = a @ b with NumPy/torch semantics (1-D operands get a dim added then removed; leading
    batch dims broadcast).  For the 2-D case a (n,k) @ b (k,m) = y (n,m):

        dL/da = g @ bᵀ   (n,m)@(m,k) = (n,k)
        dL/db = aᵀ @ g   (k,n)@(n,m) = (k,m)

    summed over broadcast batch dims. The products go through ``backend.matmul``: our SGEMM
    kernel on CUDA float32 (reading the transposed operands in place), ``xp.matmul`` otherwise.
    """

    @staticmethod
    def forward(ctx, a, b):
        # dL/da needs only b and dL/db only a: save just what will be used
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        ctx.shapes = (a.shape, b.shape)
        return backend_matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        sa2 = (1,) + sa if len(sa) == 1 else sa  # a 1-D a is a row (1,k)
        sb2 = sb + (1,) if len(sb) == 1 else sb  # a 1-D b is a column (k,1)
        batch = np.broadcast_shapes(sa2[:-2], sb2[:-2])
        g2 = g.reshape(batch + (sa2[-2], sb2[-1]))
        ga = gb = None
        if ctx.needs_input_grad[0]:
            b2 = b.reshape(sb2)
            ga = unbroadcast(backend_matmul(g2, b2, transpose_b=True), sa2).reshape(sa)
        if ctx.needs_input_grad[1]:
            a2 = a.reshape(sa2)
            gb = unbroadcast(backend_matmul(a2, g2, transpose_a=True), sb2).reshape(sb)
        return ga, gb


class Maximum(ArrayFunction):
    """y = max(a, b) elementwise.  g goes to the larger input; on ties it is split in half (torch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return array_module(a, b).maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        wa = (a > b) + 0.5 * (a == b)
        return unbroadcast(g * wa, np.shape(a)), unbroadcast(g * (1 - wa), np.shape(b))


class Minimum(ArrayFunction):
    """y = min(a, b) elementwise.  g goes to the smaller input; on ties it is split in half (torch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return array_module(a, b).minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        wa = (a < b) + 0.5 * (a == b)
        return unbroadcast(g * wa, np.shape(a)), unbroadcast(g * (1 - wa), np.shape(b))


class Where(ArrayFunction):
    """y = where(cond, a, b).   dL/da = unbroadcast(g·[cond]),  dL/db = unbroadcast(g·[not cond])."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (np.shape(a), np.shape(b))
        return array_module(a, b).where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        zero = g.dtype.type(0)
        sa, sb = ctx.shapes
        return None, unbroadcast(xp.where(ctx.cond, g, zero), sa), unbroadcast(xp.where(ctx.cond, zero, g), sb)


# ---------------------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------------------
class Exp(ArrayFunction):
    """y = eˣ.               dL/dx = g · y."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(over="ignore"):
            y = array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(ArrayFunction):
    """y = ln x.             dL/dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return array_module(x).log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / x


class Log1p(ArrayFunction):
    """y = ln(1 + x), accurate for small x (no rounding of 1 + x).     dL/dx = g / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return array_module(x).log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (1 + x)


class Sin(ArrayFunction):
    """y = sin x.            dL/dx = g · cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(invalid="ignore"):
            return array_module(x).sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with np.errstate(invalid="ignore"):
            return g * array_module(x).cos(x)


class Cos(ArrayFunction):
    """y = cos x.            dL/dx = −g · sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(invalid="ignore"):
            return array_module(x).cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with np.errstate(invalid="ignore"):
            return -g * array_module(x).sin(x)


class Sqrt(ArrayFunction):
    """y = √x.               dL/dx = g / (2y)."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(invalid="ignore"):
            y = array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (2 * y)


class Abs(ArrayFunction):
    """y = |x|.              dL/dx = g · sign(x)   (sign(0) = 0, as torch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * array_module(x).sign(x)


class Tanh(ArrayFunction):
    """y = tanh x.           dL/dx = g · (1 − y²)."""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


class Sigmoid(ArrayFunction):
    """y = σ(x) = 1 / (1 + e⁻ˣ).   dL/dx = g · y · (1 − y).

    Computed without overflow: with e = e^(−|x|), σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0.
    """

    @staticmethod
    def forward(ctx, x):
        xp = array_module(x)
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class ReLU(ArrayFunction):
    """y = max(x, 0).        dL/dx = g where not (y ≤ 0), else 0.

    Written as torch's threshold backward: a NaN input gives y = NaN, and NaN ≤ 0 is false, so
    the gradient passes there (torch's rule); in effect a select, so an infinite g at a negative
    input gives 0, not inf · 0 = NaN. NumPy's ``where`` is 3x slower than g · mask, so for large
    NumPy arrays we multiply and take the select only when the product is not finite (its sums
    tell, in one pass): the same result either way (where the mask kept g, the product is g).
    Large contiguous NumPy arrays are split over the intra-op threads (``backend.parallel``),
    and the product goes into g itself when the engine says nothing else holds it
    (``grads_owned``): a fresh output above glibc's 32 MB mmap ceiling is new memory on every
    call, and its first touch cost 16–108 ms for a (256, 32, 32, 32) gradient inside the CIFAR
    Net's B256 step on the test VM (13 ms in place).
    """

    @staticmethod
    def forward(ctx, x):
        xp = array_module(x)
        if xp is np and x.size >= 2 * parallel.GRAIN and x.flags.c_contiguous:
            y = np.empty_like(x)
            xf, yf, zero = x.reshape(-1), y.reshape(-1), x.dtype.type(0)
            parallel.parallel_for(
                x.size, lambda lo, hi: np.maximum(xf[lo:hi], zero, out=yf[lo:hi]), parallel.GRAIN)
        else:
            y = xp.maximum(x, x.dtype.type(0))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        xp = array_module(g)
        if xp is np and g.dtype.kind == "f" and g.size >= 4096 and g.flags.c_contiguous \
                and y.flags.c_contiguous:
            # into g itself when nobody else holds it (the engine's grads_owned): no fresh array
            dx = g if ctx.grads_owned[:1] == (True,) else np.empty_like(g)
            yf, gf, dxf, sums = y.reshape(-1), g.reshape(-1), dx.reshape(-1), []

            def part(lo, hi):
                keep = np.less_equal(yf[lo:hi], 0)
                np.logical_not(keep, out=keep)      # not (y ≤ 0): y > 0 or y is NaN
                np.multiply(gf[lo:hi], keep, out=dxf[lo:hi])
                sums.append(dxf[lo:hi].sum())

            with np.errstate(invalid="ignore", over="ignore"):  # inf · 0: redone below
                parallel.parallel_for(g.size, part, parallel.GRAIN)
                finite = np.isfinite(sum(sums))
            if finite:
                return dx
        return xp.where(y <= 0, g.dtype.type(0), g)


class Clamp(ArrayFunction):
    """y = min(max(x, lo), hi).   dL/dx = g · [lo ≤ x ≤ hi]   (boundaries included, as torch)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        xp = array_module(x)
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        y = x
        if lo is not None:
            y = xp.maximum(y, x.dtype.type(lo))
        if hi is not None:
            y = xp.minimum(y, x.dtype.type(hi))
        return y if y is not x else x.copy()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        mask = True
        if ctx.lo is not None:
            mask = mask & (x >= ctx.lo)
        if ctx.hi is not None:
            mask = mask & (x <= ctx.hi)
        return g * mask, None, None


class Cast(ArrayFunction):
    """y = x converted to another dtype.   dL/dx = g converted back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype.np)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.in_dtype), None


class ToDevice(ArrayFunction):
    """y = x copied to another device.     dL/dx = g copied back."""

    @staticmethod
    def forward(ctx, x, dev):
        from .backend import device_of, to_device
        ctx.src = device_of(x)
        return to_device(x, dev)

    @staticmethod
    def backward(ctx, g):
        from .backend import to_device
        return to_device(g, ctx.src), None


class Clone(ArrayFunction):
    """y = a copy of x.      dL/dx = g."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------
def _expand_back(g, in_shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced axes."""
    xp = array_module(g)
    if axes is None:
        axes = tuple(range(len(in_shape)))
    if not keepdim:
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(in_shape)))
    return xp.broadcast_to(g, in_shape)


class Sum(ArrayFunction):
    """y = Σ x over ``axes``.    dL/dx = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.in_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.in_shape, ctx.axes, ctx.keepdim), None, None


class Mean(ArrayFunction):
    """y = (1/n) Σ x over ``axes``, n the number of elements reduced.   dL/dx = g / n, broadcast."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.in_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.n = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
        return x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        g = g / g.dtype.type(ctx.n) if ctx.n else g
        return _expand_back(g, ctx.in_shape, ctx.axes, ctx.keepdim), None, None


class AMax(ArrayFunction):
    """y = max of x over ``axes`` (the value only; the min with ``largest=False``).

    dL/dx = g · [x == y] / (number of ties): the gradient is shared evenly among equal maxima,
    as torch does for ``max()``/``amax()``.

    NaN: the max of a slice holding a NaN is NaN, and NaN == NaN is false. torch's full
    reduction ``max()``/``min()`` counts NaN positions as equal to a NaN result (the gradient
    goes to the NaN, shared among several); its ``amax``/``amin`` do not (the count is 0, so the
    slice's gradient is 0/0 = NaN). ``nan_equal`` selects the first rule.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest=True, nan_equal=False):
        y = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.in_shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.nan_equal = nan_equal
        if keepdim:
            return y
        return y.reshape(tuple(n for i, n in enumerate(x.shape)
                               if axes is not None and i not in axes))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        mask = (x == y)
        if ctx.nan_equal and x.dtype.kind == "f":
            xp = array_module(x)
            mask |= xp.isnan(x) & xp.isnan(y)
        count = mask.sum(axis=ctx.axes, keepdims=True)
        g = _expand_back(g, ctx.in_shape, ctx.axes, ctx.keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):  # amax of a NaN slice: 0/0, as torch
            return g * mask / count.astype(g.dtype), None, None, None, None


class Norm(ArrayFunction):
    """y = ‖x‖_p over ``axes`` = (Σ |xᵢ|^p)^(1/p)  (p = ∞: max |xᵢ|, p = −∞: min |xᵢ|,
    p = 0: the number of non-zero entries).

    Backward, with y broadcast back over the reduced axes (torch's rules, including at y = 0):

        p = 0:        dL/dx = 0
        p = 1:        dL/dx = g · sign(x)
        p = 2:        dL/dx = g · x / y                        (0 where y = 0)
        p = ±∞:       dL/dx = g · sign(x) · [|x| = y] / (number of ties)
        otherwise:    dL/dx = g · sign(x) · |x|^(p−1) / y^(p−1)  (0 where y = 0)
    """

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        xp = array_module(x)
        a = xp.abs(x)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if p == 0:
                y = (a != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
            elif p == np.inf:
                y = a.max(axis=axes, keepdims=True)
            elif p == -np.inf:
                y = a.min(axis=axes, keepdims=True)
            elif p == 1:
                y = a.sum(axis=axes, keepdims=True)
            elif p == 2:
                y = xp.sqrt((a * a).sum(axis=axes, keepdims=True))
            else:
                y = (a ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(x, y)
        ctx.p, ctx.in_shape, ctx.axes, ctx.keepdim = p, x.shape, axes, keepdim
        if keepdim:
            return y
        return y.reshape(tuple(n for i, n in enumerate(x.shape) if axes is not None
                               and i not in axes))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        xp = array_module(x)
        p = ctx.p
        g = _expand_back(g, ctx.in_shape, ctx.axes, ctx.keepdim)
        y = xp.broadcast_to(y, x.shape)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if p == 0:
                dx = xp.zeros_like(x)
            elif p == 1:
                dx = g * xp.sign(x)
            elif p == 2:
                dx = xp.where(y == 0, x.dtype.type(0), g * x / y)
            elif p in (np.inf, -np.inf):
                mask = xp.abs(x) == y
                count = mask.sum(axis=ctx.axes, keepdims=True)
                dx = g * xp.sign(x) * mask / count.astype(x.dtype)
            else:
                a = xp.abs(x)
                dx = xp.where(y == 0, x.dtype.type(0),
                              g * xp.sign(x) * a ** (p - 1) / y ** (p - 1))
        return dx.astype(x.dtype, copy=False), None, None, None


class TakeAlongDim(ArrayFunction):
    """y = x gathered along ``dim`` at ``index`` (how ``max(dim)`` picks its values).

    dL/dx = zeros with g scattered back to the gathered positions.
    """

    @staticmethod
    def forward(ctx, x, index, dim, keepdim):
        xp = array_module(x)
        idx = index if keepdim else xp.expand_dims(index, dim)
        ctx.in_shape, ctx.index, ctx.dim = x.shape, idx, dim
        y = xp.take_along_axis(x, idx, axis=dim)
        return y if keepdim else y.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        gx = xp.zeros(ctx.in_shape, dtype=g.dtype)
        xp.put_along_axis(gx, ctx.index, g.reshape(ctx.index.shape), axis=ctx.dim)
        return gx, None, None, None


# ---------------------------------------------------------------------------------------------
# softmax and log_softmax
# ---------------------------------------------------------------------------------------------
def _rowwise(fn, dim, *arrays):
    """``fn(*arrays, dim=dim)``, fn working on slices along ``dim`` and writing into the last
    array (returned). NumPy arrays along their last dim with more than
    ``parallel.ROW_BLOCKS_ABOVE`` entries go in cache-sized blocks of rows on the intra-op
    threads instead (``parallel.for_row_blocks``): the same formula on each block, the same
    bits; CuPy, other dims and non-contiguous arrays in one call."""
    x = arrays[0]
    if (array_module(x) is not np or dim != x.ndim - 1 or x.size <= parallel.ROW_BLOCKS_ABOVE
            or not all(a.flags.c_contiguous for a in arrays)):
        fn(*arrays, dim=dim)
        return arrays[-1]
    rows = [a.reshape(-1, x.shape[-1]) for a in arrays]  # views: the blocks write into the last
    parallel.for_row_blocks(len(rows[0]), x.shape[-1],
                            lambda r0, r1: fn(*(r[r0:r1] for r in rows), dim=-1))
    return arrays[-1]


class Softmax(ArrayFunction):
    """yᵢ = e^xᵢ / Σⱼ e^xⱼ along ``dim``  (computed as e^(xᵢ−m) / Σⱼ e^(xⱼ−m), m = maxⱼ xⱼ).

    Jacobian: ∂yᵢ/∂xⱼ = yᵢ (δᵢⱼ − yⱼ), so the vector-Jacobian product is

        dL/dxⱼ = Σᵢ gᵢ yᵢ (δᵢⱼ − yⱼ) = yⱼ · (gⱼ − Σᵢ gᵢ yᵢ)

    (the sum along ``dim``). Shapes: y, g, dL/dx all have x's shape.
    """

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        with np.errstate(invalid="ignore", over="ignore"):
            y = _rowwise(Softmax.rows, dim, x, array_module(x).empty_like(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def rows(x, y, dim):
        """y = softmax(x) along dim, written into y (and returned). Subtracting the slice's
        maximum m first changes nothing, e^(xᵢ−m) / Σⱼ e^(xⱼ−m) = e^xᵢ / Σⱼ e^xⱼ, but every
        exponent is then ≤ 0 and exp cannot overflow (the log-sum-exp trick). A slice that is
        all −inf, or holds +inf, gives −inf − (−inf) = nan there, as in torch."""
        xp = array_module(x)
        if x.size == 0:  # no slices at all (the max of an empty axis is undefined)
            return y
        xp.subtract(x, x.max(axis=dim, keepdims=True), out=y)   # x − m ≤ 0
        xp.exp(y, out=y)
        y /= y.sum(axis=dim, keepdims=True)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return _rowwise(Softmax.vjp, ctx.dim, y, g, array_module(y).empty_like(y)), None

    @staticmethod
    def vjp(y, g, dx, dim):
        """dx = y · (g − Σ g·y) along dim, written into dx (and returned)."""
        array_module(y).subtract(g, (g * y).sum(axis=dim, keepdims=True), out=dx)
        dx *= y
        return dx


class LogSoftmax(ArrayFunction):
    """yᵢ = log softmax(x)ᵢ = xᵢ − m − log Σⱼ e^(xⱼ−m) along ``dim``, m = maxⱼ xⱼ.

    The shift by m (log-sum-exp) keeps it finite for logits of any magnitude (1e3 and beyond):
    the largest exponent is e⁰ = 1, so the sum lies in [1, n] and its log never overflows.

    Jacobian: ∂yᵢ/∂xⱼ = δᵢⱼ − softmax(x)ⱼ, so

        dL/dxⱼ = gⱼ − softmax(x)ⱼ · Σᵢ gᵢ,      softmax(x) = e^y.

    Shapes: y, g, dL/dx all have x's shape.
    """

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            y = _rowwise(LogSoftmax.rows, dim, x, array_module(x).empty_like(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def rows(x, y, dim):
        """y = log_softmax(x) along dim, written into y (and returned); the shift by the max as
        in ``Softmax.rows``."""
        xp = array_module(x)
        if x.size == 0:
            return y
        xp.subtract(x, x.max(axis=dim, keepdims=True), out=y)   # x − m
        y -= xp.log(xp.exp(y).sum(axis=dim, keepdims=True))    # − log Σⱼ e^(xⱼ−m)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return _rowwise(LogSoftmax.vjp, ctx.dim, y, g, array_module(y).empty_like(y)), None

    @staticmethod
    def vjp(y, g, dx, dim):
        """dx = g − softmax(x) · Σᵢ gᵢ (softmax(x) = e^y), written into dx (and returned)."""
        xp = array_module(y)
        xp.exp(y, out=dx)
        dx *= g.sum(axis=dim, keepdims=True)
        return xp.subtract(g, dx, out=dx)



# ---------------------------------------------------------------------------------------------
# Shape ops (outputs are views of the input where NumPy can make them so)
# ---------------------------------------------------------------------------------------------
class Reshape(ArrayFunction):
    """y = x with a new shape (view, reshape, flatten, squeeze, unsqueeze).   dL/dx = g reshaped back."""
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class Permute(ArrayFunction):
    """y = x with axes reordered by ``dims``.   dL/dx = g permuted by the inverse permutation."""
    is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return array_module(x).transpose(x, dims)

    @staticmethod
    def backward(ctx, g):
        inverse = tuple(int(d) for d in np.argsort(ctx.dims))  # plain ints: CuPy takes no array
        return array_module(g).transpose(g, inverse), None


class Expand(ArrayFunction):
    """y = x broadcast to ``shape`` (no copy).   dL/dx = unbroadcast(g, x.shape)."""
    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape), None


class GetItem(ArrayFunction):
    """y = x[index].   dL/dx = zeros with g added at the indexed positions (repeated integer
    indices accumulate, hence ``add.at``).

    Basic indexing (ints, slices, None, ...) gives a view of x, as in torch; integer-array and
    mask indexing give a copy.
    """
    is_view = True  # when the result shares x's memory

    @staticmethod
    def forward(ctx, x, index, advanced):
        ctx.in_shape, ctx.in_dtype, ctx.index, ctx.advanced = x.shape, x.dtype, index, advanced
        if not advanced and not any(i is Ellipsis for i in index):
            # x[1, 2] would give a NumPy scalar (a copy); x[1, 2, ...] is a 0-dim view
            return x[index + (Ellipsis,)]
        return x[index]

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        gx = xp.zeros(ctx.in_shape, dtype=ctx.in_dtype)
        if ctx.advanced:
            add_at(gx, ctx.index, g)
        else:
            gx[ctx.index] = g
        return gx, None, None


class SetItem(ArrayFunction):
    """y = x with y[index] = v (out of place; ``x[index] = v`` on a graph tensor rebinds to y).

    dL/dx = g with the overwritten positions zeroed;   dL/dv = unbroadcast(g[index], v.shape).
    """

    @staticmethod
    def forward(ctx, x, v, index):
        ctx.index, ctx.value_shape = index, np.shape(v)
        y = x.copy()
        y[index] = v
        return y

    @staticmethod
    def backward(ctx, g):
        gx = g.copy()
        gx[ctx.index] = 0
        gv = unbroadcast(g[ctx.index], ctx.value_shape) if ctx.needs_input_grad[1] else None
        return gx, gv, None


class Scatter(ArrayFunction):
    """y = x with src written at ``index`` along ``dim`` (``x.scatter(dim, index, src)``): for
    every position i = (i₀, …, i_{n−1}) of index (whose shape may be smaller than x's and src's)

        y[i₀, …, index[i], …, i_{n−1}] = src[i]        (index[i] in place of i_dim)

    and y = x elsewhere; ``src`` may be a scalar (``value=``). ``positions`` is that fancy index.

    dL/dx = g with the written positions zeroed;  dL/dsrc[i] = g[i₀, …, index[i], …] for i in
    index's shape, 0 for the src entries never read. If index repeats a position, which write
    lands is unspecified (torch says the same); the gradient still gathers g for each of them.
    """

    @staticmethod
    def forward(ctx, x, src, *, positions: tuple, region: tuple, scalar: bool = False):
        ctx.positions, ctx.region = positions, region
        ctx.src_shape = None if scalar else src.shape
        y = x.copy()
        y[positions] = src if ctx.src_shape is None else src[region]
        return y

    @staticmethod
    def backward(ctx, g):
        gx = gs = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[ctx.positions] = 0
        if ctx.src_shape is not None and ctx.needs_input_grad[1]:
            gs = array_module(g).zeros(ctx.src_shape, dtype=g.dtype)
            gs[ctx.region] = g[ctx.positions]
        return gx, gs


class Copy(ArrayFunction):
    """y = src broadcast to dst's shape and cast to dst's dtype (``dst.copy_(src)``, ``fill_``):
    dst's old values are discarded.

    dL/ddst = 0;   dL/dsrc = unbroadcast(g, src.shape), cast back to src's dtype.
    """

    @staticmethod
    def forward(ctx, dst, src):
        xp = array_module(dst)
        ctx.src_shape, ctx.src_dtype = np.shape(src), xp.asarray(src).dtype
        return xp.broadcast_to(xp.asarray(src), dst.shape).astype(dst.dtype, copy=True)

    @staticmethod
    def backward(ctx, g):
        g_dst = array_module(g).zeros_like(g) if ctx.needs_input_grad[0] else None
        g_src = None
        if ctx.needs_input_grad[1]:
            g_src = unbroadcast(g, ctx.src_shape).astype(ctx.src_dtype, copy=False)
        return g_dst, g_src


class Cat(ArrayFunction):
    """y = concatenation of the inputs along ``dim``.   dL/dxᵢ = the slice of g that xᵢ filled."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.sizes = [x.shape[dim] for x in xs]
        ctx.dim = dim
        return array_module(*xs).concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        return tuple(xp.split(g, [int(i) for i in np.cumsum(ctx.sizes)[:-1]], axis=ctx.dim))


class Stack(ArrayFunction):
    """y = the inputs stacked along a new axis ``dim``.   dL/dxᵢ = g taken at index i of ``dim``."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        return array_module(*xs).stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return tuple(g.take(i, axis=ctx.dim) for i in range(g.shape[ctx.dim]))
