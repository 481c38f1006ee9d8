"""One converter per minitorch op: the ONNX nodes that compute what the op's ``forward`` computes.

A converter receives the :class:`Builder`, the recorded call (``tracing.Call``) and the same call
from the second trace (``other``: another batch size when an axis is dynamic, other input values),
and writes the nodes whose outputs are ``b.out(call, nr)``. Every node is made by
``onnx.helper.make_node``; constants are initializers made by ``onnx.numpy_helper.from_array``.

Shapes that depend on a dynamic axis
------------------------------------
Most ops' non-tensor arguments are the same in both traces. A reshape's target is not when it
holds the batch size (``x.view(x.size(0), -1)`` records ``(N, 512)``): comparing the two traces
tells which entries follow the input, and they are written as ONNX's "copy this dimension" (0) or
"infer it" (−1). ``Expand`` writes 1 there (ONNX's Expand broadcasts both ways).

Where ONNX and minitorch differ (and what is done)
--------------------------------------------------
* ``conv2d``'s geometry keeps only the top/left padding and the output size; the bottom/right
  padding written is the one that gives that output size in both traces (the symmetric one when
  it does, as a user's ``padding=p`` means).
* ``max_pool2d``'s ``ceil_mode`` is not kept either: the one that gives the recorded output size
  is written. Its ``return_indices`` output (flat per-plane positions) has no ONNX equivalent
  (ONNX's MaxPool indices count across the whole tensor); using it fails the export.
* Batch norm exports only in evaluation form (running statistics); ``F.dropout`` in training mode
  and ops whose indices were computed outside the graph (``max(dim)``, advanced indexing) fail
  with :class:`UnsupportedOperatorError` naming the op and the line that called it.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..nn.functional.activation import LeakyReLU
from ..nn.functional.conv import Conv2d
from ..nn.functional.gelu import GELU
from ..nn.functional.linear import Dropout, Linear
from ..nn.functional.normalization import BatchNorm
from ..nn.functional.pooling import MaxPool2d

__all__ = ["CONVERTERS", "UnsupportedOperatorError", "SHAPE_ARGUMENTS"]

INT64_MAX = np.iinfo(np.int64).max


class UnsupportedOperatorError(RuntimeError):
    """An op of the traced forward that has no ONNX conversion (torch's name for it)."""


def unsupported(call, why: str):
    where = f" (called at {call.location})" if call.location else ""
    return UnsupportedOperatorError(
        f"ONNX export: minitorch op {call.op.__module__}.{call.name}{where} cannot be exported: "
        f"{why}")


CONVERTERS: dict = {}
# op -> positions of arguments that may legitimately differ between the two traces (shapes)
SHAPE_ARGUMENTS: dict = {}


def converts(*op_classes, shape_arguments=(), refuses=False):
    """Register a converter; ``refuses=True`` marks one that always raises (checked before the
    two traces are compared, so its own reason is the one reported)."""
    def register(fn):
        fn.refuses = refuses
        for op in op_classes:
            CONVERTERS[op] = fn
            if shape_arguments:
                SHAPE_ARGUMENTS[op] = set(shape_arguments)
        return fn
    return register


def _x(b, call, i=0):
    return b.value(call.operands[i])


def _shape(b, call, i=0) -> tuple:
    return b.trace.values[call.operands[i]].shape


# ---------------------------------------------------------------------------------------------
# Elementwise
# ---------------------------------------------------------------------------------------------
_BINARY = {ops.Add: "Add", ops.Sub: "Sub", ops.Mul: "Mul", ops.Div: "Div", ops.Pow: "Pow",
           ops.Maximum: "Max", ops.Minimum: "Min", ops.MatMul: "MatMul"}
_UNARY = {ops.Neg: "Neg", ops.Exp: "Exp", ops.Log: "Log", ops.Sqrt: "Sqrt", ops.Abs: "Abs",
          ops.Tanh: "Tanh", ops.Sigmoid: "Sigmoid", ops.ReLU: "Relu", ops.Clone: "Identity",
          ops.ToDevice: "Identity"}


@converts(*_BINARY)
def binary(b, call, other):
    b.node(_BINARY[call.op], [_x(b, call, 0), _x(b, call, 1)], b.out(call))


@converts(*_UNARY)
def unary(b, call, other):
    b.node(_UNARY[call.op], [_x(b, call)], b.out(call))


@converts(ops.PowScalar)
def pow_scalar(b, call, other):
    x = b.trace.values[call.operands[0]]
    b.node("Pow", [_x(b, call), b.constant(np.asarray(call.args[1], dtype=x.dtype), "exponent")],
           b.out(call))


@converts(ops.RPowScalar)
def rpow_scalar(b, call, other):
    x = b.trace.values[call.operands[1]]
    b.node("Pow", [b.constant(np.asarray(call.args[0], dtype=x.dtype), "base"), _x(b, call, 1)],
           b.out(call))


@converts(LeakyReLU)
def leaky_relu(b, call, other):
    b.node("LeakyRelu", [_x(b, call)], b.out(call), alpha=float(call.args[1]))


@converts(GELU)
def gelu(b, call, other):
    """ONNX has Gelu from opset 20; before that it is written out (Erf exists since opset 9):
    exact: y = x · ½ (1 + erf(x / √2));   tanh: y = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))."""
    approximate = call.args[1]
    if b.opset >= 20:
        b.node("Gelu", [_x(b, call)], b.out(call), approximate=approximate)
        return
    dtype = b.trace.values[call.operands[0]].dtype
    x = _x(b, call)

    def const(value, hint):
        return b.constant(np.asarray(value, dtype=dtype), hint)
    if approximate == "tanh":
        x3 = b.node("Mul", [b.node("Mul", [x, x], b.fresh("x2")), x], b.fresh("x3"))
        inner = b.node("Add", [x, b.node("Mul", [x3, const(0.044715, "cubic")], b.fresh("c"))],
                       b.fresh("inner"))
        u = b.node("Mul", [inner, const(np.sqrt(2 / np.pi), "sqrt_2_over_pi")], b.fresh("u"))
        phi2 = b.node("Add", [b.node("Tanh", [u], b.fresh("t")), const(1.0, "one")],
                      b.fresh("one_plus_t"))
    else:
        z = b.node("Mul", [x, const(1 / np.sqrt(2.0), "inv_sqrt2")], b.fresh("z"))
        phi2 = b.node("Add", [b.node("Erf", [z], b.fresh("erf")), const(1.0, "one")],
                      b.fresh("one_plus_erf"))
    half_x = b.node("Mul", [x, const(0.5, "half")], b.fresh("half_x"))
    b.node("Mul", [half_x, phi2], b.out(call))


@converts(ops.Clamp)
def clamp(b, call, other):
    dtype = b.trace.values[call.operands[0]].dtype
    lo, hi = call.args[1], call.args[2]
    bounds = ["" if v is None else b.constant(np.asarray(v, dtype=dtype), "clip")
              for v in (lo, hi)]
    b.node("Clip", [_x(b, call)] + bounds, b.out(call))


@converts(ops.Cast)
def cast(b, call, other):
    b.node("Cast", [_x(b, call)], b.out(call), to=b.onnx_type(np.dtype(call.args[1].np)))


@converts(ops.Where)
def where(b, call, other):
    cond = b.trace.values[call.operands[0]]
    c = _x(b, call, 0)
    if cond.dtype != np.bool_:
        c = b.node("Cast", [c], b.fresh("cond"), to=b.onnx_type(np.dtype(bool)))
    b.node("Where", [c, _x(b, call, 1), _x(b, call, 2)], b.out(call))


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------
@converts(Linear)
def linear(b, call, other):
    x, w = _shape(b, call, 0), _shape(b, call, 1)
    bias = call.operands[2]
    inputs = [_x(b, call, 0), _x(b, call, 1)] + ([] if bias is None else [_x(b, call, 2)])
    if len(x) == 2 and len(w) == 2 and (bias is None or len(_shape(b, call, 2)) == 1):
        b.node("Gemm", inputs, b.out(call), transB=1)  # y = x Wᵀ + b
        return
    wt = b.node("Transpose", [inputs[1]], b.fresh("weight_t"), perm=[1, 0])
    if bias is None:
        b.node("MatMul", [inputs[0], wt], b.out(call))
    else:
        y = b.node("MatMul", [inputs[0], wt], b.fresh("matmul"))
        b.node("Add", [y, inputs[2]], b.out(call))


def _end_padding(call, other, start, size, out, kernel, stride, dilation, alt_size, alt_out,
                 reached):
    """The bottom (right) padding that gives the recorded output size in both traces."""
    extent = dilation * (kernel - 1) + 1
    for end in dict.fromkeys((start, reached)):
        if all((n + start + end - extent) // stride + 1 == o
               for n, o in ((size, out), (alt_size, alt_out))):
            return end
    raise unsupported(call, f"no end padding reproduces the output size {out} from the input "
                            f"size {size} in both traces")


@converts(Conv2d)
def conv2d(b, call, other):
    geo, alt = call.kwargs["geometry"], other.kwargs["geometry"]
    top, bottom, left, right = geo.pads
    pad_b = _end_padding(call, other, geo.ph, geo.H, geo.P, geo.R, geo.sh, geo.dh, alt.H, alt.P,
                         bottom)
    pad_r = _end_padding(call, other, geo.pw, geo.W, geo.Q, geo.S, geo.sw, geo.dw, alt.W, alt.Q,
                         right)
    unbatched = len(_shape(b, call, 0)) == 3
    x = _x(b, call, 0)
    if unbatched:
        x = b.node("Unsqueeze", [x, b.ints([0])], b.fresh("batched"))
    inputs = [x, _x(b, call, 1)] + ([] if call.operands[2] is None else [_x(b, call, 2)])
    out = b.fresh("conv") if unbatched else b.out(call)
    b.node("Conv", inputs, out, kernel_shape=[geo.R, geo.S], strides=[geo.sh, geo.sw],
           pads=[geo.ph, geo.pw, pad_b, pad_r], dilations=[geo.dh, geo.dw], group=geo.G)
    if unbatched:
        b.node("Squeeze", [out, b.ints([0])], b.out(call))


@converts(MaxPool2d)
def max_pool2d(b, call, other):
    geo, alt = call.kwargs["geometry"], other.kwargs["geometry"]

    def fits(ceil):
        from ..backend.geometry import pooling_output_size
        return all(pooling_output_size(g.H, g.kh, g.sh, g.ph, g.dh, ceil) == g.OH and
                   pooling_output_size(g.W, g.kw, g.sw, g.pw, g.dw, ceil) == g.OW
                   for g in (geo, alt))
    ceil_mode = 0 if fits(False) else 1
    if not fits(bool(ceil_mode)):
        raise unsupported(call, "the pooling output size follows neither floor nor ceil mode")
    unbatched = len(_shape(b, call, 0)) == 3
    x = _x(b, call, 0)
    if unbatched:
        x = b.node("Unsqueeze", [x, b.ints([0])], b.fresh("batched"))
    out = b.fresh("pool") if unbatched else b.out(call)
    b.node("MaxPool", [x], out, kernel_shape=[geo.kh, geo.kw], strides=[geo.sh, geo.sw],
           pads=[geo.ph, geo.pw, geo.ph, geo.pw], dilations=[geo.dh, geo.dw],
           ceil_mode=ceil_mode)
    if unbatched:
        b.node("Squeeze", [out, b.ints([0])], b.out(call))
    if call.kwargs.get("return_indices"):
        b.unavailable(call, 1, "max_pool2d's return_indices output (ONNX's MaxPool counts "
                               "indices across the whole tensor, torch's within each plane)")


@converts(BatchNorm)
def batch_norm(b, call, other):
    if call.kwargs.get("training"):
        raise unsupported(call, "batch norm with batch statistics (a model in training mode, or "
                                "track_running_stats=False) has no ONNX form here; export in eval "
                                "mode with running statistics")
    x = b.trace.values[call.operands[0]]
    channels = x.shape[1]
    scale = _x(b, call, 1) if call.operands[1] is not None else \
        b.constant(np.ones(channels, x.dtype), "bn_scale")
    shift = _x(b, call, 2) if call.operands[2] is not None else \
        b.constant(np.zeros(channels, x.dtype), "bn_bias")
    stats = []
    for key in ("running_mean", "running_var"):
        vid = call.kw_operands[key]
        name = b.value(vid)
        if b.trace.values[vid].dtype != x.dtype:  # forward casts them to x's dtype
            name = b.node("Cast", [name], b.fresh(key), to=b.onnx_type(x.dtype))
        stats.append(name)
    b.node("BatchNormalization", [_x(b, call), scale, shift] + stats, b.out(call),
           epsilon=float(call.kwargs["eps"]))


@converts(Dropout, refuses=True)
def dropout(b, call, other):
    raise unsupported(call, "dropout in training mode draws a random mask; export runs the model "
                            "in eval mode, so this is F.dropout(..., training=True) written into "
                            "forward (use training=self.training)")


@converts(ops.Softmax, ops.LogSoftmax)
def softmax(b, call, other):
    b.node(call.name, [_x(b, call)], b.out(call), axis=int(call.args[1]))


# ---------------------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------------------
def _reduce(b, call, op_type, axes, keepdim, axes_as_input: bool):
    if axes is not None and len(axes) == 0:  # NumPy's sum over no axis: the input itself
        b.node("Identity", [_x(b, call)], b.out(call))
        return
    inputs, attrs = [_x(b, call)], {"keepdims": int(bool(keepdim))}
    if axes is not None:
        if axes_as_input:
            inputs.append(b.ints(list(axes)))
        else:
            attrs["axes"] = [int(a) for a in axes]
    b.node(op_type, inputs, b.out(call), **attrs)


@converts(ops.Sum)
def reduce_sum(b, call, other):
    _reduce(b, call, "ReduceSum", call.args[1], call.args[2], axes_as_input=True)


@converts(ops.Mean)
def reduce_mean(b, call, other):
    _reduce(b, call, "ReduceMean", call.args[1], call.args[2], axes_as_input=b.opset >= 18)


@converts(ops.AMax)
def reduce_max(b, call, other):
    largest = call.args[3] if len(call.args) > 3 else call.kwargs.get("largest", True)
    _reduce(b, call, "ReduceMax" if largest else "ReduceMin", call.args[1], call.args[2],
            axes_as_input=b.opset >= 18)


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------
def _flatten_axis(shape_in, shape_out):
    """k when ``shape_out`` is (prod(shape_in[:k]), prod(shape_in[k:])), else None."""
    if len(shape_out) != 2 or len(shape_in) < 2:
        return None
    for k in range(1, len(shape_in)):
        if (int(np.prod(shape_in[:k])), int(np.prod(shape_in[k:]))) == tuple(shape_out):
            return k
    return None


@converts(ops.Reshape, shape_arguments=(1,))
def reshape(b, call, other):
    shape_in, alt_in = _shape(b, call), other_shape(b, other)
    target, alt = tuple(call.args[1]), tuple(other.args[1])
    if target == shape_in and alt == alt_in:
        b.node("Identity", [_x(b, call)], b.out(call))
        return
    k = _flatten_axis(shape_in, target)
    if k is not None and _flatten_axis(alt_in, alt) == k:
        b.node("Flatten", [_x(b, call)], b.out(call), axis=k)
        return
    spec = list(target)
    varying = [i for i, (s, t) in enumerate(zip(target, alt)) if s != t]
    if len(target) != len(alt):
        raise unsupported(call, f"the reshape's rank changes with the input ({target} vs {alt})")
    infer = []
    for i in varying:
        if i < len(shape_in) and shape_in[i] == target[i] and alt_in[i] == alt[i]:
            spec[i] = 0  # ONNX: copy the input's dimension i
        else:
            infer.append(i)
    if len(infer) > 1:
        raise unsupported(call, f"the reshape target {target} has {len(infer)} entries that "
                                f"follow the dynamic axes ({target} vs {alt} for the second "
                                f"trace); ONNX can infer only one")
    for i in infer:
        spec[i] = -1
    b.node("Reshape", [_x(b, call), b.ints(spec)], b.out(call))


def other_shape(b, other, i=0):
    return b.other.values[other.operands[i]].shape


@converts(ops.Expand, shape_arguments=(1,))
def expand(b, call, other):
    shape_in, alt_in = _shape(b, call), other_shape(b, other)
    target, alt = tuple(call.args[1]), tuple(other.args[1])
    spec, lead = list(target), len(target) - len(shape_in)
    for i, (s, t) in enumerate(zip(target, alt)):
        if s == t:
            continue
        j = i - lead
        if j >= 0 and shape_in[j] == s and alt_in[j] == t:
            spec[i] = 1  # broadcasting keeps the input's (dynamic) size
        else:
            raise unsupported(call, f"the expanded shape {target} follows a dynamic axis the "
                                    f"input does not have ({target} vs {alt})")
    b.node("Expand", [_x(b, call), b.ints(spec)], b.out(call))


@converts(ops.Permute)
def permute(b, call, other):
    b.node("Transpose", [_x(b, call)], b.out(call), perm=[int(d) for d in call.args[1]])


@converts(ops.Cat)
def cat(b, call, other):
    b.node("Concat", [b.value(v) for v in call.operand_values()], b.out(call),
           axis=int(call.kwargs["dim"]))


@converts(ops.Stack)
def stack(b, call, other):
    dim = int(call.kwargs["dim"])
    parts = [b.node("Unsqueeze", [b.value(v), b.ints([dim])], b.fresh("stacked"))
             for v in call.operand_values()]
    b.node("Concat", parts, b.out(call), axis=dim)


@converts(ops.GetItem)
def get_item(b, call, other):
    index, advanced = call.args[1], call.args[2]
    if advanced:
        raise unsupported(call, "indexing with an integer or boolean tensor (advanced indexing) "
                                "is not converted; use basic slices")
    shape = _shape(b, call)
    items = list(index)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        used = sum(1 for it in items if it is not None and it is not Ellipsis)
        items[at:at + 1] = [slice(None)] * (len(shape) - used)
    axis, out_axis = 0, 0
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    for it in items:
        if it is None:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if isinstance(it, slice):
            if it != slice(None):
                starts.append(0 if it.start is None else int(it.start))
                ends.append(INT64_MAX if it.stop is None else int(it.stop))
                axes.append(axis)
                steps.append(1 if it.step is None else int(it.step))
            out_axis += 1
        else:
            i = int(it)
            starts.append(i)
            ends.append(INT64_MAX if i == -1 else i + 1)
            axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        axis += 1
    x = _x(b, call)
    steps_left = [name for name, todo in (("slice", starts), ("squeeze", squeeze),
                                          ("unsqueeze", unsqueeze)) if todo]
    if not steps_left:
        b.node("Identity", [x], b.out(call))
        return

    def target(step):
        return b.out(call) if step == steps_left[-1] else b.fresh(step)
    if starts:
        x = b.node("Slice", [x, b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)],
                   target("slice"))
    if squeeze:
        x = b.node("Squeeze", [x, b.ints(squeeze)], target("squeeze"))
    if unsqueeze:
        b.node("Unsqueeze", [x, b.ints(unsqueeze)], target("unsqueeze"))


@converts(ops.TakeAlongDim, refuses=True)
def take_along_dim(b, call, other):
    raise unsupported(call, "max(dim)/min(dim) pick their values with indices computed outside "
                            "the recorded ops; use amax(dim)/amin(dim) for the values")
