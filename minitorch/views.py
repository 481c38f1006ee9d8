"""Views and in-place ops: the bookkeeping that keeps gradients right when memory is shared.

Versions
--------
Every tensor's memory has a :class:`VersionCounter`; an in-place write bumps it. A view (the
result of reshape/view, permute/transpose, expand, basic indexing) shares its base's memory and
therefore its base's counter. A graph node remembers the version of each tensor whose array it
saved; if the version moved before backward reads the array, backward raises instead of using
the overwritten values (``Function.saved_tensors``).

In-place ops on a recorded graph
--------------------------------
``y.mul_(w)`` with grad on runs out of place on a copy of y — so that what the new node saves
is not overwritten — then :func:`assign` stores the result into y's memory (views of y see it),
bumps y's version and makes y the output of the new node (torch calls this rebasing y's
history). A view records how it was made (:class:`ViewInfo`): an in-place op on a view writes
through to its base (:func:`write_back`), and a view whose base changed since is derived again
from the base when its graph node is asked for (:func:`refresh`), so gradients flow through the
in-place op, as in torch.

Tensor calls these functions; ``Function.apply`` calls one (``Tensor._become_view_of``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ops
from .autograd import enable_grad, is_grad_enabled, no_grad
from .backend.shapes import fmt_shape

__all__ = ["VersionCounter", "ViewInfo", "record_view", "refresh", "assign", "write_back",
           "apply_inplace", "check_leaf_inplace", "check_writable"]


class VersionCounter:
    """How many in-place writes a block of memory has seen; a view shares its base's."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0

    def bump(self) -> None:
        self.value += 1


@dataclass(eq=False)
class ViewInfo:
    """How a view was made: ``fn.apply(base, *args)`` (fn a view Function: Reshape, Permute,
    Expand, GetItem), when base's graph node was ``base_node``."""
    base: object
    fn: type
    args: tuple
    base_node: object


def record_view(view, base, fn, args) -> None:
    """``view`` = ``fn(base, *args)`` shares base's memory: share its version counter too."""
    view._version_counter = base._version_counter
    view._view = ViewInfo(base, fn, args, base._grad_fn)


def refresh(t) -> None:
    """A view whose base was changed by a recorded in-place op since shows the new values (it
    shares the memory) but still points at the old graph node: derive it again from the base,
    so that its gradient flows through the in-place op (torch rebases views too)."""
    view = t._view
    if view is None:
        return
    refresh(view.base)  # the base may itself be a view of a changed tensor
    if view.base._grad_fn is view.base_node:
        return
    with enable_grad():
        fresh = view.fn.apply(view.base, *view.args)
    t._grad_fn, t._requires_grad = fresh._grad_fn, fresh._requires_grad
    t._view = ViewInfo(view.base, view.fn, view.args, view.base._grad_fn)


def check_leaf_inplace(t) -> None:
    if t._requires_grad and t._grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation. Wrap the update in `with minitorch.no_grad():`.")


def check_writable(t) -> None:
    # CuPy arrays have no read-only flag (a CuPy broadcast view writes through silently)
    if not getattr(t._data.flags, "writeable", True):
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location (it was made by expand). "
                           "Please clone() the tensor before performing the operation.")


def write_raw(t, array) -> None:
    """Store ``array`` into t's memory without recording anything (grad off, or nothing needs
    grad) and bump t's version."""
    check_writable(t)
    t._data[...] = array
    t._version_counter.bump()


def assign(t, result) -> None:
    """In-place semantics on a recorded graph: ``result`` (computed out of place, with its
    graph node) becomes t's content.

    Its values are written into t's memory, so views of t see them (as in torch), and t's
    version counter is bumped, so nodes that saved the old values refuse to backward. t becomes
    the output of ``result``'s node; if that node saved its own output, the check now follows
    t: modifying t again before backward raises, as in torch. A view writes through to its base
    (:func:`write_back`).
    """
    if result.dtype is not t.dtype:
        result = ops.Cast.apply(result, t.dtype)
    if t._view is not None:
        write_back(t, result)
    else:
        write_raw(t, result._data)
        t._grad_fn = result._grad_fn
        t._output_nr = result._output_nr
        t._requires_grad = result._requires_grad
        t._accumulator = None
    if result._grad_fn is not None:
        result._grad_fn.output_moved(result, t)


def write_back(t, new) -> None:
    """t is a view of ``base``: store ``new`` into the part of base that t shows (base then
    records the op), and make t a view of the updated base again."""
    view = t._view
    base = view.base
    if view.fn is ops.GetItem:
        base[view.args[0]] = new
    elif view.fn is ops.Reshape:
        base.copy_(new.reshape(base.shape))
    elif view.fn is ops.Permute:
        base.copy_(new.permute(tuple(int(d) for d in np.argsort(view.args[0]))))
    else:
        raise RuntimeError(f"in-place operation on a view made by {view.fn.__name__} "
                           f"(shape {fmt_shape(t.shape)}) is not supported")
    fresh = view.fn.apply(base, *view.args)
    t._grad_fn = fresh._grad_fn
    t._requires_grad = fresh._requires_grad
    t._view = ViewInfo(base, view.fn, view.args, base._grad_fn)


def apply_inplace(t, out_of_place, *others):
    """Run ``out_of_place(t)`` and store the result into t; returns t.

    With grad recording on and t or one of ``others`` requiring grad, the op is recorded
    (:func:`assign`); it runs on a copy of t's values, so that what its node saves is not
    overwritten by the write. Otherwise the result is simply written into t's memory.
    """
    Tensor = type(t)
    refresh(t)
    graph = is_grad_enabled() and (t._requires_grad or any(
        isinstance(o, Tensor) and o._requires_grad for o in others))
    if graph:
        check_leaf_inplace(t)
        original = Tensor._make(t._data.copy(), requires_grad=t._requires_grad)
        # the same place in the graph, its own memory
        original._grad_fn, original._output_nr = t._grad_fn, t._output_nr
        result = out_of_place(original)
    else:
        with no_grad():
            result = out_of_place(t.detach())
    if result.shape != t.shape:
        raise RuntimeError(f"output with shape {fmt_shape(t.shape)} doesn't match the "
                           f"broadcast shape {fmt_shape(result.shape)}")
    if result.dtype.category > t.dtype.category:
        raise RuntimeError(f"result type {result.dtype.name} can't be cast to the desired output "
                           f"type {t.dtype.name}")
    if graph:
        assign(t, result)
    else:
        write_raw(t, result._data)
    return t
