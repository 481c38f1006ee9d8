"""Reverse-mode automatic differentiation.

The graph
---------
Every op is a Function with two static methods, as in ``torch.autograd.Function``::

    forward(ctx, *inputs)        -> output            y = f(x)
    backward(ctx, grad_output)   -> grad per input     dL/dx = dL/dy · ∂y/∂x   (the vector-Jacobian product)

The engine's own ops subclass :class:`ArrayFunction`: inside their ``forward`` and ``backward`` the
arguments are raw arrays (NumPy or CuPy), so the math is written once with ``xp = array_module(x)``.
``ArrayFunction.apply`` does the bookkeeping: it unwraps the Tensors, calls ``forward``, wraps the
result and, when any input requires grad, records the call as a graph node. The node *is* the
``ctx`` object: it keeps what ``save_for_backward`` stored and the edges to its inputs' nodes
(``next_functions``). A leaf tensor that requires grad is represented by an
:class:`AccumulateGrad` node that adds the incoming gradient to ``leaf.grad``. Users subclass
:class:`Function`, torch's API: the same recording, with Tensors in and out of forward and backward.

Backward
--------
``run_backward(root, grad)`` sorts the nodes reachable from ``root`` topologically with an explicit
stack (no recursion, so a 10,000-op chain works), then visits them root-first. Each node receives
the sum of the gradients of all its consumers (fan-out accumulates), returns one gradient per input,
and passes each on to that input's node. Unless ``retain_graph`` is set, a node frees its saved
arrays after use; a second backward through it raises.

Gradient buffers. When the engine holds the only reference to a gradient array (CPython's
reference count says so: torch's engine makes the same test before it steals a buffer), it tells
the node (``ctx.grads_owned``) and an elementwise backward may write its result there — ReLU's
does — and a leaf keeps it as ``.grad`` without a copy. A gradient the user passed to
``backward()``, one array handed to two inputs, or one a Function still holds is never written.
Measured on the CIFAR Net's B256 training step (1 / 2 threads, A/B in one process): 539 → 496 ms
and 377 → 329 ms.

Several outputs
---------------
``forward`` may return a tuple of arrays (``max_pool2d`` with ``return_indices``); ``apply``
then returns a tuple of Tensors, each knowing its ``output_nr``. Integer outputs, and float
outputs passed to ``ctx.mark_non_differentiable``, get no gradient. ``backward`` receives one
gradient per output — zeros for an output the loss did not use — as torch's does.

In-place safety
---------------
Every Tensor has a version counter that in-place ops bump (views share their base's counter). A
node remembers the versions of the tensors whose arrays it saved; if one changed before backward
reads it, backward raises instead of silently using the modified values. It keeps the counter,
not the Tensor: a node that saved its own output would otherwise be in a reference cycle with it,
and the output's memory would wait for Python's cyclic garbage collector. The bookkeeping of views
and recorded in-place ops lives in ``views.py``.
"""
from __future__ import annotations

import contextlib
import functools
import sys
from typing import NamedTuple

import numpy as np

from .backend import array_module

# --------------------------------------------------------------------------------------------
# Grad mode
# --------------------------------------------------------------------------------------------
_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


class set_grad_enabled:
    """``set_grad_enabled(False)`` turns recording off now; as a context manager it restores
    the previous mode on exit, and as a decorator it sets the mode only while the decorated
    function runs (as torch's does)."""

    def __init__(self, mode: bool):
        global _grad_enabled
        self.prev = _grad_enabled
        self.mode = bool(mode)
        _grad_enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev
        return False

    def __call__(self, func):
        global _grad_enabled
        _grad_enabled = self.prev  # making the decorator must not switch the mode
        mode = self.mode

        @functools.wraps(func)
        def inner(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)
        return inner


class _GradMode(contextlib.ContextDecorator):
    mode = True

    def __new__(cls, func=None):
        if func is None:
            return super().__new__(cls)
        return cls()(func)  # used bare, as ``@no_grad``: decorate func right away

    def __enter__(self):
        global _grad_enabled
        self.prev = _grad_enabled
        _grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.prev
        return False

    def __call__(self, func):  # works as @no_grad and as @no_grad()
        @functools.wraps(func)
        def inner(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)
        return inner


class no_grad(_GradMode):
    """Ops inside do not record a graph: their results do not require grad."""
    mode = False


class enable_grad(_GradMode):
    mode = True


# --------------------------------------------------------------------------------------------
# Graph nodes
# --------------------------------------------------------------------------------------------
class Node:
    """Something backward visits: a Function call or a leaf's AccumulateGrad.

    ``next_functions`` has one ``(node, output_nr)`` pair per tensor input, as in torch: the
    node that produced the input and which of its outputs the input is; ``(None, 0)`` for an
    input that needs no gradient.
    """
    next_functions: tuple = ()
    n_outputs: int = 1

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """The graph node of a leaf tensor: adds the gradient it receives into ``variable.grad``."""

    def __init__(self, variable):
        self.variable = variable

    def accumulate(self, grad, owned: bool = False):
        """Add ``grad`` to the leaf's ``.grad``; ``owned``: nothing else refers to ``grad`` (the
        engine's ``sole_reference``), so a first gradient is kept as it is, not copied."""
        t = self.variable
        if grad.dtype != t._data.dtype:
            grad, owned = grad.astype(t._data.dtype), True
        if t.grad is None:
            # a copy unless it is ours alone: backward may hand the same array to two leaves
            t.grad = t._wrap(grad if owned else grad.copy())
        else:
            # in place, as torch's accumulation (no new array of the parameter's size per
            # backward); a .grad someone made read-only, or of another shape, gets a new array
            # (asarray: the sum of two 0-dim arrays is a scalar, with no memory to write into)
            acc, xp = t.grad._data, array_module(grad)
            if acc.flags.writeable and acc.shape == grad.shape and acc.dtype == grad.dtype \
                    and array_module(acc) is xp:
                xp.add(acc, grad, out=acc)
                t.grad._bump_version()
            else:
                t.grad._data = xp.asarray(acc + grad)


_NO_EDGE = (None, 0)


def _saved_version(t) -> tuple:
    """What a node keeps to check a saved tensor later: its version counter (shared with its
    views), the version now, and shape and dtype for the error message — not the Tensor. A
    node that saved its own output would otherwise form a cycle (output → ._grad_fn → node →
    output) that only the cyclic garbage collector frees: every such output's memory would
    outlive its last use (torch's SavedVariable keeps the counter too)."""
    return t._version_counter, t._version_counter.value, tuple(t.shape), t.dtype


class OutputMeta(NamedTuple):
    """What backward and ``minitorch.viz`` need to know of one output of a recorded call."""
    shape: tuple
    dtype: np.dtype
    differentiable: bool


class ArrayFunction(Node):
    """Base class of the engine's own differentiable ops (ops.py, nn.functional): ``forward``
    and ``backward`` work on raw arrays (NumPy or CuPy). Users write :class:`Function`, whose
    forward and backward receive Tensors, as torch's.

    ``apply(*args)`` runs forward; positional Tensor arguments are the op's differentiable
    inputs, anything else (ints, tuples, None) passes through unchanged. ``forward`` returns one
    array or a tuple of arrays (then ``apply`` returns a tuple of Tensors). ``backward``
    receives one gradient per output (zeros for an output that got none) and returns one
    gradient per positional argument (``None`` for non-tensors or inputs that need none).

    Integer and bool outputs are never differentiable; ``ctx.mark_non_differentiable(a)``
    marks a float output as not differentiable either (torch's rule for, e.g., indices).
    """

    # set on the node by apply. next_functions and input_shapes list the tensor (and array)
    # arguments, as torch's next_functions do; _edges and _shapes have one entry per positional
    # argument, aligned with what backward returns
    needs_input_grad: tuple = ()
    next_functions: tuple = ()
    input_shapes: tuple = ()
    _edges: tuple = ()
    _shapes: tuple = ()
    outputs: tuple = ()  # an OutputMeta per output
    _saved = ()
    _saved_versions = ()
    _non_differentiable = ()
    is_view = False  # True on ops whose output may be a view of their first input (views.py)
    _released = False
    _retained = ()  # non-leaf outputs whose .grad should be kept (retain_grad)
    materialize_grads = True
    #: set by the engine before backward: per output, whether its gradient array is backward's
    #: to overwrite (nothing else refers to it; see ``sole_reference``)
    grads_owned: tuple = ()

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    def name(self) -> str:
        return type(self).__name__ + "Backward"

    @property
    def output_meta(self):
        """(shape, NumPy dtype) of the first output (for minitorch.viz)."""
        return self.outputs[0][:2] if self.outputs else None

    # ---- ctx API --------------------------------------------------------------------------
    def save_for_backward(self, *arrays):
        self._saved = arrays

    def mark_non_differentiable(self, *arrays):
        """The outputs among ``arrays`` get no gradient and do not require grad."""
        self._non_differentiable = tuple(id(a) for a in arrays)

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or directly access saved "
                f"tensors after they have already been freed): {self.name()} already freed its "
                f"saved values. Specify retain_graph=True on the first backward() call if you "
                f"need to backward through the graph a second time.")
        for counter, version, shape, dtype in self._saved_versions:
            if counter.value != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{dtype.name} tensor of shape {shape}], which is "
                    f"input to {self.name()}, is at version {counter.value}; expected version "
                    f"{version} instead.")
        return self._saved

    def output_moved(self, old, new) -> None:
        """Tensor ``new`` now holds this node's output ``old`` (an in-place op computed old out of
        place and stored it into new's memory): the saved-version check follows ``new``."""
        if self._saved_versions:
            self._saved_versions = tuple(
                _saved_version(new) if counter is old._version_counter else (counter, *rest)
                for counter, *rest in self._saved_versions)

    # ---- recording ------------------------------------------------------------------------
    def _record_inputs(self, args, needs) -> None:
        """The edges to the inputs' graph nodes, one per positional argument, and the public
        next_functions/input_shapes: one per tensor (or array) argument, as torch lists them."""
        Tensor = _tensor_class()
        edges, shapes, next_functions, input_shapes = [], [], [], []
        for a, n in zip(args, needs):  # one pass: this runs for every recorded op
            edge = a._graph_edge() if n else _NO_EDGE
            edges.append(edge)
            shape = a.shape if isinstance(a, Tensor) else None
            shapes.append(shape)
            if shape is not None or hasattr(a, "shape"):  # a tensor (or array) operand
                next_functions.append(edge)
                input_shapes.append(shape)
        self._edges, self._shapes = tuple(edges), tuple(shapes)
        self.next_functions, self.input_shapes = tuple(next_functions), tuple(input_shapes)

    def _call_backward(self, grads: list) -> tuple:
        """Run backward on the gradients of the outputs; one gradient (or None) per input."""
        out = type(self).backward(self, *grads)
        return out if isinstance(out, tuple) else (out,)

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _tensor_class()
        raw, needs = [], []  # one pass over the arguments (this runs for every op)
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a._data)
                needs.append(a.requires_grad)
            else:
                raw.append(a)
                needs.append(False)
        ctx = cls()
        ctx.needs_input_grad = needs = tuple(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        if not (_grad_enabled and True in needs):  # nothing to record (no_grad, constants)
            ctx._saved = ()
            results = tuple(Tensor._make(o) for o in outs)
            return cls._finish(ctx, args, kwargs, raw, outs, results, out, False)
        # integer and bool results are not differentiable (x.long(), argmax): torch never
        # records them, so no gradient can flow back through a rounding
        differentiable = [o.dtype.kind == "f" and id(o) not in ctx._non_differentiable
                          for o in outs]
        record = any(differentiable)
        results = tuple(Tensor._make(o, requires_grad=record and d)
                        for o, d in zip(outs, differentiable))
        if record:
            ctx._record_inputs(args, needs)
            ctx.outputs = tuple(OutputMeta(tuple(o.shape), o.dtype, d)
                                for o, d in zip(outs, differentiable))
            ctx.n_outputs = len(outs)
            for nr, (r, d) in enumerate(zip(results, differentiable)):
                if d:
                    r._grad_fn, r._output_nr = ctx, nr
            if ctx._saved:
                saved_ids = {id(s) for s in ctx._saved}
                ctx._saved_versions = tuple(
                    _saved_version(t) for t in [*(a for a in args if isinstance(a, Tensor)),
                                                *results] if id(t._data) in saved_ids)
        else:
            ctx._saved = ()
        return cls._finish(ctx, args, kwargs, raw, outs, results, out, record)

    @classmethod
    def _finish(cls, ctx, args, kwargs, raw, outs, results, out, record):
        """The last steps of ``apply``, recorded or not: views, the tracing hook, the result."""
        if cls.is_view and array_module(outs[0]).may_share_memory(outs[0], raw[0]):
            # a view shares its base's memory, hence its version counter; in-place ops on it
            # write through to the base (see minitorch/views.py)
            own = results[0]._version_counter
            results[0]._become_view_of(args[0], cls, args[1:])
            if ctx._saved_versions:  # a saved view output: check the counter it now shares
                ctx._saved_versions = tuple(
                    _saved_version(results[0]) if counter is own else (counter, *rest)
                    for counter, *rest in ctx._saved_versions)
        if _call_observer is not None:
            _call_observer(cls, args, kwargs, ctx if record else None, results)
        return results if isinstance(out, tuple) else results[0]


# The tracing hook. While set (by ``observe_calls``), every ``Function.apply`` reports its call
# after forward: the op class, its arguments as given (Tensors and the non-tensor ones), its
# keyword arguments, the recorded node (None when nothing was recorded) and the tuple of result
# Tensors. The backward graph alone lacks forward facts (which inputs were parameters or
# constants, an op's non-tensor arguments); ``minitorch.onnx.export`` reads them here.
_call_observer = None


@contextlib.contextmanager
def observe_calls(observer):
    """``observer(cls, args, kwargs, node, results)`` sees every ``Function.apply`` inside the
    block (one observer at a time; nesting raises)."""
    global _call_observer
    if _call_observer is not None:
        raise RuntimeError("observe_calls: another observer is already installed")
    _call_observer = observer
    try:
        yield
    finally:
        _call_observer = None


_Tensor = None


def _tensor_class():
    """minitorch.Tensor (tensor.py imports this module, so it is looked up on first use)."""
    global _Tensor
    if _Tensor is None:
        from .tensor import Tensor
        _Tensor = Tensor
    return _Tensor


# --------------------------------------------------------------------------------------------
# Function: torch's custom-Function API, on Tensors
# --------------------------------------------------------------------------------------------
class Function(ArrayFunction):
    """A differentiable op written by the user, as ``torch.autograd.Function``.

    ``forward(ctx, *args)`` receives the Tensors (and other arguments) given to ``apply`` and
    returns a Tensor or a tuple of them; it runs with grad recording off. ``backward(ctx,
    *grad_outputs)`` receives one Tensor per output (dL/d output) and returns one gradient per
    input of forward — a Tensor, or None for an input that needs none::

        class Square(minitorch.autograd.Function):
            @staticmethod
            def forward(ctx, x):             # y = x²
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, grad_output):  # dL/dx = dL/dy · 2x
                (x,) = ctx.saved_tensors
                return grad_output * 2 * x

        y = Square.apply(x)

    The ctx API: ``save_for_backward(*tensors)`` / ``saved_tensors`` (checked against later
    in-place changes), ``needs_input_grad``, ``mark_non_differentiable(*outputs)``,
    ``mark_dirty(*inputs)`` (forward changed these inputs in place and returns them),
    ``set_materialize_grads(False)`` (backward gets None, not zeros, for an unused output).
    torch 2's style of a ``forward`` without ctx plus ``setup_context(ctx, inputs, output)``
    works too. Backward always runs with grad recording off: higher-order gradients are not
    supported, so ``once_differentiable`` changes nothing.
    """
    _dirty = ()

    # ---- ctx API --------------------------------------------------------------------------
    def mark_non_differentiable(self, *tensors):
        self._non_differentiable = tuple(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self._dirty = tuple(id(t) for t in tensors)

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)

    # ---- recording ------------------------------------------------------------------------
    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _tensor_class()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = cls()
        ctx.needs_input_grad = needs
        record = _grad_enabled and any(needs)
        if record:  # before forward: an input that forward changes in place gets a new node
            ctx._record_inputs(args, needs)
        with no_grad():
            if cls.setup_context is not Function.setup_context:  # torch 2's style
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        outs = out if isinstance(out, tuple) else (out,)
        inputs = {id(a) for a in args if isinstance(a, Tensor)}
        results, metas = [], []
        for nr, o in enumerate(outs):
            if not isinstance(o, Tensor):  # other outputs pass through, as in torch
                results.append(o)
                metas.append(OutputMeta((), None, False))
                continue
            differentiable = o.is_floating_point() and id(o) not in ctx._non_differentiable
            if id(o) in ctx._dirty:
                if id(o) not in inputs:
                    raise RuntimeError(f"{cls.__name__}.forward: mark_dirty() was given a tensor "
                                       f"that is not an input (shape {tuple(o.shape)})")
                if o._grad_fn is None and o._requires_grad:
                    raise RuntimeError(f"{cls.__name__}: a leaf Variable that requires grad "
                                       "has been used in an in-place operation (mark_dirty).")
                r = o  # the input itself, with a new history
            else:
                # a new Tensor on the same memory: an output never shares an input's history
                r = Tensor._make(o._data)
                r._version_counter = o._version_counter
            if record and differentiable:
                r._grad_fn, r._output_nr, r._requires_grad = ctx, nr, True
                r._accumulator = None
            results.append(r)
            metas.append(OutputMeta(tuple(o.shape), o._data.dtype, differentiable))
        if record:
            ctx.outputs = tuple(metas)
            ctx.n_outputs = len(outs)
            ctx._saved_versions = tuple(_saved_version(t) for t in ctx._saved
                                        if isinstance(t, Tensor))
        else:
            ctx._saved = ()
        return tuple(results) if isinstance(out, tuple) else results[0]

    def _call_backward(self, grads: list) -> tuple:
        Tensor = _tensor_class()
        wrapped = [None if g is None else Tensor._make(g) for g in grads]
        out = type(self).backward(self, *wrapped)
        out = out if isinstance(out, tuple) else (out,)
        n = len(self._edges)
        if len(out) < n or any(g is not None for g in out[n:]):
            raise RuntimeError(f"function {self.name()} returned an incorrect number of "
                               f"gradients (expected {n}, got {len(out)})")
        arrays = []
        for k, g in enumerate(out[:n]):
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"function {self.name()} returned a gradient of type "
                                f"{type(g).__name__} for input {k}; expected a Tensor or None")
            arrays.append(None if g is None else g._data)
        return tuple(arrays)

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError


def once_differentiable(backward):
    """torch marks a backward that cannot itself be differentiated; minitorch never records
    the backward pass (no higher-order gradients), so the decorator returns it unchanged."""
    return backward


FunctionCtx = Function  # the type of ctx, for annotations written against torch


# --------------------------------------------------------------------------------------------
# The backward pass
# --------------------------------------------------------------------------------------------
def topological_order(root: Node) -> list:
    """Nodes reachable from ``root``, each before every node that produced one of its inputs.

    Depth-first post-order with an explicit stack, reversed.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent, _ in node.next_functions:
            if parent is not None and id(parent) not in visited:
                stack.append((parent, False))
    order.reverse()
    return order


def _references(array) -> int:
    return sys.getrefcount(array)


def _calibrate() -> int | None:
    """What ``_references`` reports for an array held by one variable, and None where the count
    cannot be trusted (another interpreter, a free-threaded build, a second holder not seen)."""
    if sys.implementation.name != "cpython" or not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    array = np.empty(1)
    alone = _references(array)
    other = array  # noqa: F841 (a second holder)
    return alone if _references(array) == alone + 1 else None


_ALONE = _calibrate()


def sole_reference(array) -> bool:
    """Whether the caller's one variable is all that refers to ``array``, a writeable NumPy array
    that owns its memory: then nobody else can see a change to it, and a backward may write its
    result into the gradient it received instead of a new array (torch's engine makes the same
    test, use_count() == 1, before it steals a gradient buffer). A view (its base holds the
    memory), a gradient the user passed to ``backward()``, one array handed to two inputs (by
    Add's backward, say) or kept by a Function all fail the test. Call it as
    ``sole_reference(g)`` with ``g`` a plain local variable (the count includes it)."""
    return _ALONE is not None and type(array) is np.ndarray and array.base is None \
        and array.flags.writeable and _references(array) <= _ALONE + 1  # + this parameter


def _output_grads(node, grads: dict) -> tuple:
    """(the gradients that reached ``node``'s outputs, whether each is backward's to overwrite):
    zeros for outputs that got none (torch's materialised grads; None instead after
    ``ctx.set_materialize_grads(False)``); (None, ()) when no output got one (nothing to
    propagate)."""
    key = id(node)
    # (each test runs before anything else takes a reference to g)
    if node.n_outputs == 1:
        g = grads.pop((key, 0), None)
        if g is None:
            return None, ()
        owned = sole_reference(g)
        return [g], (owned,)
    found, owned = [], []
    for nr in range(node.n_outputs):
        g = grads.pop((key, nr), None)
        owned.append(g is not None and sole_reference(g))
        found.append(g)
    if all(g is None for g in found):
        return None, ()
    if not node.materialize_grads:
        return found, tuple(owned)
    xp = array_module(*(g for g in found if g is not None))
    return [xp.zeros(meta.shape, dtype=meta.dtype) if g is None else g
            for g, meta in zip(found, node.outputs)], tuple(o or g is None for o, g in
                                                             zip(owned, found))


def run_backward(root: tuple, grad, retain_graph: bool = False) -> None:
    """Backpropagate ``grad`` from output ``root = (node, output_nr)`` through the graph."""
    root_node, root_nr = root
    grads = {(id(root_node), root_nr): grad}
    for node in topological_order(root_node):
        if isinstance(node, AccumulateGrad):
            g = grads.pop((id(node), 0), None)
            if g is not None:
                owned = sole_reference(g)  # before the call below takes references to g
                node.accumulate(g, owned=owned)
            g = None
            continue
        out_grads, node.grads_owned = _output_grads(node, grads)
        if out_grads is None:
            continue
        for t in node._retained:
            g = out_grads[t._output_nr]
            if t.grad is None:
                t.grad = t._wrap(g.copy())
            else:
                t.grad._data = t.grad._data + g
        with no_grad():
            in_grads = node._call_backward(out_grads)
        if len(in_grads) != len(node._edges):
            raise RuntimeError(f"{node.name()} returned {len(in_grads)} gradients for "
                               f"{len(node._edges)} inputs")
        for (parent, nr), gi, shape in zip(node._edges, in_grads, node._shapes):
            if parent is None or gi is None:
                continue
            if tuple(gi.shape) != tuple(shape):
                raise RuntimeError(f"{node.name()} returned a gradient of shape {tuple(gi.shape)} "
                                   f"for an input of shape {tuple(shape)}")
            key = (id(parent), nr)
            grads[key] = grads[key] + gi if key in grads else gi
        # drop this step's references to the gradients: sole_reference counts every holder
        g = gi = in_grads = out_grads = None
        if not retain_graph:
            node._saved = ()
            node._released = True


# --------------------------------------------------------------------------------------------
# gradcheck
# --------------------------------------------------------------------------------------------
class GradcheckError(RuntimeError):
    pass


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare the full analytic Jacobian of ``fn`` with central differences, in float64.

    For every input x that requires grad and every output element y_i:

    * numeric:  J[i, j] ≈ (y_i(x + eps·e_j) − y_i(x − eps·e_j)) / (2·eps)   — one pair of
      forward passes per input element j;
    * analytic: row i of J is the gradient of y_i, obtained by one backward pass with the
      cotangent e_i (a one-hot vector) — exactly the vector-Jacobian product backward computes.

    Passes when ``|analytic − numeric| <= atol + rtol·|numeric|`` everywhere. Inputs must be
    float64: in float32 the differences drown in rounding error.
    """
    Tensor = _tensor_class()
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    for x in diff:
        if x.dtype.name != "float64":
            raise ValueError(f"gradcheck: inputs must be float64, got {x.dtype.name} for an input "
                             f"of shape {tuple(x.shape)}")

    def outputs():
        out = fn(*inputs)
        return out if isinstance(out, (tuple, list)) else (out,)

    with no_grad():
        base = [o._data.copy() for o in outputs()]
    for k, x in enumerate(diff):
        xp = array_module(x._data)
        data = x._data
        for o_idx, y0 in enumerate(base):
            numeric = np.zeros((y0.size, data.size))
            for j in range(data.size):
                at = np.unravel_index(j, data.shape)  # element j in row-major order, any strides
                orig = data[at].item()
                with no_grad():
                    data[at] = orig + eps
                    # copies: an output may be a view of x (fn = lambda x: x[1:]), which the
                    # next perturbation would change
                    plus = outputs()[o_idx]._data.reshape(-1).copy()
                    data[at] = orig - eps
                    minus = outputs()[o_idx]._data.reshape(-1).copy()
                    data[at] = orig
                numeric[:, j] = _to_numpy((plus - minus) / (2 * eps))
            analytic = np.zeros_like(numeric)
            for i in range(y0.size):
                for t in diff:
                    t.grad = None
                out = outputs()[o_idx]
                if not out.requires_grad:
                    continue
                cot = xp.zeros(y0.size, dtype=y0.dtype)
                cot[i] = 1
                out.backward(Tensor._make(cot.reshape(y0.shape)))
                if x.grad is not None:
                    analytic[i] = _to_numpy(x.grad._data).reshape(-1)
            for t in diff:
                t.grad = None
            err = np.abs(analytic - numeric)
            bad = err > atol + rtol * np.abs(numeric)
            if bad.any():
                i, j = np.unravel_index(np.argmax(err - rtol * np.abs(numeric)), err.shape)
                msg = (f"gradcheck: Jacobian mismatch for input {k} (shape {tuple(x.shape)}), "
                       f"output {o_idx} (shape {tuple(y0.shape)}): at [output {i}, input {j}] "
                       f"numeric={numeric[i, j]:.10g} analytic={analytic[i, j]:.10g}; "
                       f"{int(bad.sum())} of {bad.size} entries differ")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def _to_numpy(a):
    return a if isinstance(a, np.ndarray) else a.get()
