"""``minitorch.onnx.export``: a model's forward pass, traced, written as an ONNX graph.

How it works
------------
1. The model is put in eval mode (dropout is the identity, batch norm uses its running
   statistics) and its forward runs once under the tracer (``tracing.py``), which records every
   op call: op class, input values, non-tensor arguments, outputs, the user's source line.
2. It runs a second time on another input: the example input with each dynamic axis one longer
   and its values changed (``x · 0.75 + 0.125``). The two traces must hold the same ops; a value
   the trace took for a constant must be the same in both (else it was computed from the input
   outside the recorded ops, and ONNX would freeze it: the export fails naming the op and the
   line); a shape argument that differs tells which of its entries follow a dynamic axis.
3. Each call reached from the outputs is converted (``converters.py``) into nodes made with
   ``onnx.helper``; parameters and buffers become initializers named by their state-dict keys,
   other constants initializers of their own.
4. ``onnx.checker.check_model(full_check=True)`` checks the model (with shape inference) before
   it is written.

An op with no conversion raises :class:`UnsupportedOperatorError` naming the op and the line of
the model's code that called it.
"""
from __future__ import annotations

import os

import numpy as np

from ..tensor import Tensor
from . import tracing
from .converters import CONVERTERS, SHAPE_ARGUMENTS, UnsupportedOperatorError, unsupported

__all__ = ["export", "UnsupportedOperatorError", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET = 13
_HINT = ("ONNX export needs the onnx package: pip install onnx (and onnxruntime to run the "
         "result); in a minitorch checkout: .venv/bin/pip install -e '.[onnx]'")


def _import_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as e:
        raise ImportError(f"{_HINT} ({e})") from None
    return onnx


class Builder:
    """Collects the nodes and initializers of the graph while the converters run."""

    def __init__(self, onnx, trace, other, opset: int):
        self.onnx, self.trace, self.other, self.opset = onnx, trace, other, opset
        self.nodes, self.initializers = [], []
        self.names = {}            # value id -> ONNX name
        self.taken = set()
        self.outputs = {}          # (call index, output nr) -> name chosen for it
        self.missing = {}          # value id -> why it has no ONNX value

    def fresh(self, hint: str) -> str:
        base = hint.replace("/", "_") or "v"
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def value(self, vid: int) -> str:
        if vid in self.missing:
            raise self.missing[vid]
        if vid in self.names:
            return self.names[vid]
        v = self.trace.values[vid]
        if v.kind in ("parameter", "constant"):
            name = self.fresh(v.name if v.kind == "parameter" else "const")
            self.initializers.append(self.onnx.numpy_helper.from_array(
                np.ascontiguousarray(v.array), name))
            self.names[vid] = name
            return name
        raise RuntimeError(f"ONNX export: value {vid} ({v.kind}) is used before it is computed")

    def constant(self, array, hint: str) -> str:
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, values) -> str:
        return self.constant(np.asarray(values, dtype=np.int64), "shape")

    def onnx_type(self, dtype) -> int:
        return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def out(self, call, nr: int = 0) -> str:
        vid = call.outputs[nr]
        if vid not in self.names:
            self.names[vid] = self.fresh(f"{call.name.lower()}_{call.index}")
        return self.names[vid]

    def unavailable(self, call, nr: int, why: str) -> None:
        vid = call.outputs[nr]
        self.names.pop(vid, None)
        self.missing[vid] = unsupported(call, why)

    def node(self, op_type: str, inputs, output: str, **attrs) -> str:
        self.nodes.append(self.onnx.helper.make_node(
            op_type, list(inputs), [output], name=f"{op_type}_{len(self.nodes)}", **attrs))
        return output


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------
def _split_args(args):
    """torch's convention: ``args`` is a Tensor, or a tuple whose last item may be a dict of
    keyword arguments."""
    if isinstance(args, Tensor):
        return (args,), {}
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"ONNX export: args must be a Tensor or a tuple of arguments for forward, "
                        f"got {type(args).__name__}")
    args = tuple(args)
    if args and isinstance(args[-1], dict):
        return args[:-1], dict(args[-1])
    return args, {}


def _dynamic_axes(dynamic_axes, names) -> dict:
    """{name: {axis: dim_param}} from torch's forms ({name: {axis: label}} or {name: [axes]})."""
    out = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            raise ValueError(f"ONNX export: dynamic_axes names {name!r}, which is neither an "
                             f"input nor an output name ({', '.join(names)})")
        if isinstance(axes, dict):
            out[name] = {int(a): str(label) for a, label in axes.items()}
        else:
            out[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
    return out


def _second_input(x: Tensor, axes) -> Tensor:
    """The example input grown by one along each dynamic axis, its values changed."""
    arr = x.detach().cpu().numpy()
    for axis in sorted(axes):
        if not -arr.ndim <= axis < arr.ndim:
            raise ValueError(f"ONNX export: dynamic axis {axis} is out of range for an input of "
                             f"shape {tuple(arr.shape)}")
        first = np.take(arr, [0], axis=axis)
        arr = np.concatenate([arr, first], axis=axis)
    if arr.dtype.kind == "f":
        arr = arr * arr.dtype.type(0.75) + arr.dtype.type(0.125)
    out = Tensor._make(np.ascontiguousarray(arr))
    return out.to(x.device) if x.device.type != "cpu" else out


# ---------------------------------------------------------------------------------------------
# comparing the two traces
# ---------------------------------------------------------------------------------------------
def _static(value):
    """What must not change between the traces (a conv/pool geometry minus its batch size)."""
    if hasattr(value, "_replace") and hasattr(value, "_fields") and "N" in value._fields:
        return value._replace(N=0)
    return value


def _compare(trace, other) -> None:
    if [c.op for c in trace.calls] != [c.op for c in other.calls]:
        first = next((a for a, b in zip(trace.calls, other.calls) if a.op is not b.op),
                     trace.calls[min(len(trace.calls), len(other.calls)) - 1]
                     if trace.calls else None)
        where = f" (first difference: {first.name} at {first.location})" if first else ""
        raise UnsupportedOperatorError(
            f"ONNX export: forward ran different ops for two inputs{where}: its control flow "
            f"depends on the input's values or shape, which a static ONNX graph cannot follow")
    for a, b in zip(trace.calls, other.calls):
        shape_args = SHAPE_ARGUMENTS.get(a.op, set())
        for i, (x, y) in enumerate(zip(a.args, b.args)):
            if a.operands[i] is None and i not in shape_args and not _same(_static(x), _static(y)):
                raise unsupported(a, f"its argument {i} changes with the input ({x!r} vs {y!r}): "
                                     f"computed from the input's shape or values in Python")
        for k in a.kwargs:
            if k not in a.kw_operands and not _same(_static(a.kwargs[k]), _static(b.kwargs[k])):
                raise unsupported(a, f"its argument {k}= changes with the input "
                                     f"({a.kwargs[k]!r} vs {b.kwargs[k]!r})")
        pairs = list(zip(a.operands, b.operands)) + [(a.kw_operands[k], b.kw_operands[k])
                                                     for k in a.kw_operands]
        for va, vb in pairs:
            if va is None:
                continue
            x, y = trace.values[va], other.values[vb]
            if x.kind != y.kind or x.name != y.name:
                raise unsupported(a, "its inputs come from different places for two inputs")
            if x.kind == "constant" and not (
                    x.array.shape == y.array.shape and
                    np.array_equal(x.array, y.array, equal_nan=x.array.dtype.kind in "fc")):
                what = ("its shape depends on the input's shape (e.g. zeros(x.shape[0]))"
                        if x.array.shape != y.array.shape else
                        "it depends on the input's values")
                raise unsupported(a, f"a tensor argument of shape {x.shape} was computed outside "
                                     f"the ops minitorch records (.detach(), .numpy(), .item(), "
                                     f"argmax, a comparison, a new tensor) and {what}; ONNX would "
                                     f"freeze it")


def _same(x, y) -> bool:
    try:
        result = x == y
        return bool(result) if not isinstance(result, np.ndarray) else bool(result.all())
    except Exception:  # noqa: BLE001 - values that cannot be compared are taken as different
        return x is y


def _needed_calls(trace) -> list:
    needed_values, needed_calls = set(trace.outputs), set()
    for call in reversed(trace.calls):
        if any(v in needed_values for v in call.outputs if v is not None):
            needed_calls.add(call.index)
            needed_values.update(call.operand_values())
            needed_values.update(call.kw_operands.values())
    return [c for c in trace.calls if c.index in needed_calls]


# ---------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------
def export(model, args, f=None, *, kwargs=None, export_params: bool = True, verbose=None,
           input_names=None, output_names=None, opset_version=None, dynamic_axes=None,
           keep_initializers_as_inputs: bool = False, training=None,
           do_constant_folding: bool = True, dynamo: bool = False, **unsupported_options):
    """Export ``model`` (a Module or a function of Tensors) to ONNX, with torch's signature.

    ``args``: the example input — a Tensor or a tuple of forward's positional arguments (a final
    dict holds keyword arguments, or pass ``kwargs=``). ``f``: a path or a binary file object
    (None: only return the model). ``input_names``/``output_names`` name the graph's inputs (the
    Tensor arguments, in order) and outputs; default ``input``/``output`` (``input_0``, … when
    there are several). ``dynamic_axes``: ``{name: {axis: label}}`` or ``{name: [axes]}``, e.g.
    ``{"input": {0: "batch"}, "output": {0: "batch"}}`` for any batch size. ``opset_version``:
    13 to the onnx package's newest (default 17).

    The model runs in eval mode while it is traced and its mode is restored afterwards
    (``training`` must be None or ``"eval"``). ``export_params=False``, initializers as inputs and
    torch's dynamo exporter are not provided; ``do_constant_folding`` and ``verbose`` change
    nothing (ONNX Runtime folds constants itself). Returns the ``onnx.ModelProto``.

    Raises :class:`UnsupportedOperatorError` for an op that has no ONNX form, naming it and the
    line of user code that called it; ImportError with an install hint without ``onnx``.
    """
    onnx = _import_onnx()
    if unsupported_options:
        raise TypeError(f"ONNX export: unsupported option(s) "
                        f"{', '.join(sorted(unsupported_options))}")
    if not export_params or keep_initializers_as_inputs or dynamo:
        raise NotImplementedError("ONNX export: only export_params=True, "
                                  "keep_initializers_as_inputs=False and dynamo=False are "
                                  "provided")
    if training not in (None, "eval", "EVAL") and getattr(training, "name", None) != "EVAL":
        raise NotImplementedError(f"ONNX export: training={training!r}: only eval-mode export "
                                  f"is provided")
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"ONNX export: opset_version={opset} is not supported (use "
                         f"{MIN_OPSET}..{newest})")
    args, call_kwargs = _split_args(args)
    call_kwargs.update(kwargs or {})
    tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    if not tensor_positions:
        raise ValueError("ONNX export: args holds no Tensor to use as the model's input")
    n_in = len(tensor_positions)
    input_names = list(input_names or (["input"] if n_in == 1 else
                                       [f"input_{k}" for k in range(n_in)]))
    if len(input_names) != n_in:
        raise ValueError(f"ONNX export: {len(input_names)} input_names for {n_in} tensor "
                         f"arguments")

    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [m.training for m in modules]
    for m in modules:
        m.training = False
    try:
        trace = tracing.trace(model, args, call_kwargs)
        n_out = len(trace.outputs)
        output_names = list(output_names or (["output"] if n_out == 1 else
                                             [f"output_{k}" for k in range(n_out)]))
        if len(output_names) != n_out:
            raise ValueError(f"ONNX export: {len(output_names)} output_names for the model's "
                             f"{n_out} outputs")
        axes = _dynamic_axes(dynamic_axes, input_names + output_names)
        second = list(args)
        for name, pos in zip(input_names, tensor_positions):
            second[pos] = _second_input(args[pos], axes.get(name, {}))
        other = tracing.trace(model, tuple(second), call_kwargs)
    finally:
        for m, mode in zip(modules, modes):
            m.training = mode
    if len(other.outputs) != len(trace.outputs):
        raise UnsupportedOperatorError("ONNX export: forward returned a different number of "
                                       "outputs for two inputs")
    for call in _needed_calls(trace):
        convert = CONVERTERS.get(call.op)
        if convert is None:
            raise unsupported(call, f"no ONNX conversion is written for {call.name} (see "
                                    f"minitorch/onnx/converters.py)")
        if convert.refuses:
            convert(None, call, None)
    _compare(trace, other)
    proto = _build(onnx, trace, other, opset, input_names, output_names, axes)
    onnx.checker.check_model(proto, full_check=True)
    if f is not None:
        if hasattr(f, "write"):
            f.write(proto.SerializeToString())
        else:
            _write_file(os.fspath(f), proto.SerializeToString())
    return proto


def _write_file(path: str, data: bytes) -> None:
    from ..training.files import write_atomically
    write_atomically(path, lambda fh: fh.write(data))


def _value_info(onnx, name, value, other_value, labels: dict):
    dims = []
    for axis, (n, m) in enumerate(zip(value.shape, other_value.shape)):
        label = labels.get(axis) if axis in labels else labels.get(axis - len(value.shape))
        if label is None and n != m:
            label = f"{name}_dynamic_axes_{axis + 1}"
        dims.append(label if label is not None else int(n))
    return onnx.helper.make_tensor_value_info(
        name, onnx.helper.np_dtype_to_tensor_dtype(value.dtype), dims)


def _build(onnx, trace, other, opset, input_names, output_names, axes):
    b = Builder(onnx, trace, other, opset)
    for vid, name in zip(trace.inputs, input_names):
        b.taken.add(name)
        b.names[vid] = name
    b.taken.update(output_names)
    aliases = []   # outputs that are not a call's own output: an Identity node at the end
    for vid, name in zip(trace.outputs, output_names):
        v = trace.values[vid]
        if v.kind == "output" and vid not in b.names:
            b.names[vid] = name
        else:
            aliases.append((vid, name))
    calls_b = {c.index: c for c in other.calls}
    for call in _needed_calls(trace):
        CONVERTERS[call.op](b, call, calls_b[call.index])
    for vid, name in aliases:
        b.node("Identity", [b.value(vid)], name)
    for vid in trace.outputs:
        b.value(vid)  # raises for an output that has no ONNX form
    inputs = [_value_info(onnx, name, trace.values[vid], other.values[vo], axes.get(name, {}))
              for name, vid, vo in zip(input_names, trace.inputs, other.inputs)]
    outputs = [_value_info(onnx, name, trace.values[vid], other.values[vo], axes.get(name, {}))
               for name, vid, vo in zip(output_names, trace.outputs, other.outputs)]
    graph = onnx.helper.make_graph(b.nodes, "minitorch", inputs, outputs, b.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    from .. import __version__
    model = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="minitorch",
                                   producer_version=__version__)
    model.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    return model

