"""Record one forward pass: every op call with its inputs, outputs and non-tensor arguments.

Why not read the backward graph
-------------------------------
A graph recorded for backward (``grad_fn``, ``next_functions``) knows the ops and how their
results feed each other, but not everything a forward graph needs: which inputs were parameters
or constants (a tensor that needs no gradient has no edge at all), an op's non-tensor arguments
(a reshape's target, a softmax's dim), or the running statistics a batch norm read. So the tracer
watches the forward pass itself, through one hook in ``Function.apply``
(:func:`minitorch.autograd.observe_calls`): each call reports its op class, its arguments as
given, its keyword arguments and its result Tensors.

Which value is which
--------------------
Each Tensor argument of a call is resolved to a *value* of the trace, in this order:

1. its graph edge ``(grad_fn, output_nr)``, when that node's outputs were recorded by an earlier
   call: the trace runs with grad recording on and the inputs requiring grad, so every tensor that
   depends on an input carries the edge of the call that made it. In-place ops keep this right:
   ``relu_()`` gives the tensor the node of the ReLU (``views.assign``), though its Tensor object
   and its memory stay the same;
2. the Tensor object itself: the inputs, the model's parameters and buffers;
3. its array: ``detach()`` and a custom ``autograd.Function`` return new Tensors over the array an
   observed op produced;
4. otherwise a constant, whose values are copied now (a tensor created inside ``forward``).

Non-tensor arrays among the arguments (a Python scalar as a 0-dim array, a batch norm's running
statistics) go through steps 3 and 4.

What the trace cannot see, the exporter checks by tracing twice (``export.py``): ops that bypass
``Function.apply`` (``argmax``, comparisons, ``.numpy()``) make a "constant" that changes with the
input, and a batch size that flows into a constant (``zeros(x.shape[0])``) makes one change shape.

Each call also keeps where the user's code made it (the first stack frame outside minitorch's
engine), so an op that cannot be exported is reported with the line that called it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np

from .. import autograd
from ..tensor import Tensor

__all__ = ["Trace", "Call", "Value", "Location", "trace"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# frames in these parts of minitorch are the engine's, not the user's code; a forward written in
# minitorch/vision/models.py or examples/ is the user's
_ENGINE = tuple(os.path.join(_PACKAGE, p) for p in (
    "autograd.py", "tensor.py", "ops.py", "views.py", "creation.py", "__init__.py", "nn" + os.sep,
    "backend" + os.sep, "onnx" + os.sep))


@dataclass(frozen=True)
class Location:
    """Where user code called an op."""
    filename: str
    lineno: int
    function: str

    def __str__(self) -> str:
        import linecache
        line = linecache.getline(self.filename, self.lineno).strip()
        where = f"{os.path.relpath(self.filename) if self.filename.startswith(os.sep) else self.filename}"
        return f"{where}:{self.lineno} in {self.function}" + (f": {line}" if line else "")


def _user_location() -> Location | None:
    frame = sys._getframe(2)
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if not name.startswith(_ENGINE):
            return Location(frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


@dataclass
class Value:
    """One value of the trace. ``kind``: 'input', 'output' (of a call), 'parameter' (a model
    parameter or buffer, ``name`` its state-dict key) or 'constant'. ``array`` holds the data of
    parameters and constants (a NumPy copy taken when it was first seen)."""
    id: int
    kind: str
    shape: tuple
    dtype: np.dtype
    name: str | None = None
    array: np.ndarray | None = None
    call: int | None = None        # the call that produced an 'output'
    output_nr: int = 0


@dataclass
class Call:
    """One ``Function.apply``. ``operands[i]`` is the value id of ``args[i]`` when that argument is
    a Tensor or an array, None otherwise; ``kw_operands`` likewise for keyword arrays."""
    index: int
    op: type
    args: tuple
    kwargs: dict
    operands: tuple
    kw_operands: dict
    outputs: tuple                 # value ids, one per result
    location: Location | None

    @property
    def name(self) -> str:
        return self.op.__name__

    def operand_values(self) -> list:
        return [v for v in self.operands if v is not None]


@dataclass
class Trace:
    values: dict = field(default_factory=dict)     # id -> Value
    calls: list = field(default_factory=list)
    inputs: list = field(default_factory=list)     # value ids of the tensor arguments
    outputs: list = field(default_factory=list)    # value ids of the returned tensors


def _numpy(array) -> np.ndarray:
    return np.array(array.get() if hasattr(array, "get") else array, copy=True)


def _is_array(a) -> bool:
    return not isinstance(a, Tensor) and hasattr(a, "shape") and hasattr(a, "dtype") \
        and not isinstance(a, np.generic)


class _Recorder:
    def __init__(self, named_tensors: dict):
        self.trace = Trace()
        self.by_edge, self.by_tensor, self.by_array = {}, {}, {}
        self._keep = []   # objects whose id() keys a map: alive while tracing
        for name, t in named_tensors.items():
            vid = self._new("parameter", t._data, name=name, array=_numpy(t._data))
            self._remember(vid, tensor=t, array=t._data)

    def _new(self, kind, data, **extra) -> int:
        vid = len(self.trace.values)
        self.trace.values[vid] = Value(vid, kind, tuple(data.shape), np.dtype(data.dtype), **extra)
        return vid

    def _remember(self, vid, tensor=None, array=None, edge=None):
        if tensor is not None:
            self.by_tensor[id(tensor)] = vid
            self._keep.append(tensor)
        if array is not None:
            self.by_array[id(array)] = vid
            self._keep.append(array)
        if edge is not None:
            self.by_edge[(id(edge[0]), edge[1])] = vid
            self._keep.append(edge[0])

    def add_input(self, t: Tensor) -> int:
        vid = self._new("input", t._data)
        self.trace.inputs.append(vid)
        self._remember(vid, tensor=t, array=t._data,
                       edge=(t._grad_fn, t._output_nr) if t._grad_fn is not None else None)
        return vid

    def resolve(self, a) -> int:
        if isinstance(a, Tensor):
            if a._grad_fn is not None:
                vid = self.by_edge.get((id(a._grad_fn), a._output_nr))
                if vid is not None:
                    return vid
            vid = self.by_tensor.get(id(a))
            if vid is not None:
                return vid
            data = a._data
        else:
            data = a
        vid = self.by_array.get(id(data))
        if vid is not None:
            return vid
        vid = self._new("constant", data, array=_numpy(data))
        self._remember(vid, array=data)
        return vid

    def observe(self, op, args, kwargs, node, results):
        index = len(self.trace.calls)
        operands = tuple(self.resolve(a) if isinstance(a, Tensor) or _is_array(a) else None
                         for a in args)
        kw_operands = {k: self.resolve(v) for k, v in kwargs.items() if _is_array(v)}
        outputs = []
        for nr, r in enumerate(results):
            if not isinstance(r, Tensor):
                outputs.append(None)
                continue
            vid = self._new("output", r._data, call=index, output_nr=nr)
            self._remember(vid, tensor=r, array=r._data,
                           edge=(r._grad_fn, r._output_nr) if r._grad_fn is not None else None)
            outputs.append(vid)
        self.trace.calls.append(Call(index, op, tuple(args), dict(kwargs), operands, kw_operands,
                                     tuple(outputs), _user_location()))


def _flatten_outputs(out, where="output") -> list:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for i, o in enumerate(out) for t in _flatten_outputs(o, f"{where}[{i}]")]
    raise TypeError(f"ONNX export: the model's {where} is a {type(out).__name__}; forward must "
                    f"return a Tensor or a tuple/list of Tensors")


def trace(model, args: tuple, kwargs: dict) -> Trace:
    """Run ``model(*args, **kwargs)`` once and record it. Tensor arguments become the trace's
    inputs (fresh copies that require grad when floating, so the input's own tensors are left
    alone); the model's parameters and buffers are named by their state-dict keys."""
    named = {}
    if hasattr(model, "state_dict"):
        for name, t in model.state_dict(keep_vars=True).items():
            if isinstance(t, Tensor):
                named.setdefault(name, t)
    recorder = _Recorder(named)
    call_args = []
    with autograd.enable_grad():
        for a in args:
            if isinstance(a, Tensor):
                leaf = Tensor._make(a._data.copy())
                if leaf.is_floating_point():
                    # a non-leaf copy: in-place ops on the input inside forward stay legal
                    a = leaf.requires_grad_().clone()
                else:
                    a = leaf
                recorder.add_input(a)
            call_args.append(a)
        with autograd.observe_calls(recorder.observe):
            out = model(*call_args, **kwargs)
    recorder.trace.outputs = [recorder.resolve(t) for t in _flatten_outputs(out)]
    return recorder.trace
