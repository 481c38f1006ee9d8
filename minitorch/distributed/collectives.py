"""The collectives on Tensors, with torch.distributed's signatures. Each works in place on the
tensors it is given, on every rank of the default group, and returns a ``Work`` with
``async_op=True`` (None otherwise, after waiting).

With x_r the tensor on rank r of W ranks:

* ``all_reduce(x, op)``: every rank's x becomes op_r x_r (SUM, AVG = SUM / W, MAX, MIN).
* ``broadcast(x, src)``: every rank's x becomes x_src.
* ``all_gather(xs, x)``: xs[r] = x_r on every rank.
* ``reduce_scatter(y, xs, op)``: rank r's y = op_q xs_q[r] (each rank contributes a list of W
  tensors; rank r keeps the reduction of the r-th ones).
* ``barrier()``: returns once every rank has called it.

A tensor that is not contiguous is exchanged through a contiguous copy, written back when the
work completes. None of these are recorded by autograd (as in torch).
"""
from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from .process_group import _check_group, default_group
from .reduce_op import ReduceOp
from .work import Work


def _tensor(t, name: str, op: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    return t


def _buffer(t: Tensor):
    """(a contiguous array holding t's values, a write-back step or None)."""
    arr = t._data
    if arr.flags.c_contiguous:
        return arr, None
    buf = array_module(arr).ascontiguousarray(arr)

    def write_back():
        arr[...] = buf
    return buf, write_back


def _finish(work: Work, tensors, write_back, async_op: bool):
    def bump():
        if write_back is not None:
            write_back()
        for t in tensors:
            t._bump_version()
    work.then(bump)
    if async_op:
        return work
    work.wait()
    return None


def _reduce_op(op, t: Tensor, name: str) -> ReduceOp:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a ReduceOp (SUM, AVG, MAX, MIN), got {op!r}")
    kind = t._data.dtype.kind
    if kind == "b" and op is not ReduceOp.MAX and op is not ReduceOp.MIN:
        raise TypeError(f"{name}: ReduceOp.{op.name} of a bool tensor; use MAX (any) or MIN "
                        f"(all), or an integer dtype")
    if op is ReduceOp.AVG and kind != "f":
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {t.dtype}")
    return op


def _same_kind(t: Tensor, ref: Tensor, what: str, op: str) -> None:
    if tuple(t.shape) != tuple(ref.shape) or t.dtype != ref.dtype or t.device != ref.device:
        raise ValueError(f"{op}: {what} is {t.dtype} of shape {tuple(t.shape)} on {t.device}; "
                         f"expected {ref.dtype} of shape {tuple(ref.shape)} on {ref.device}")


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """tensor ← op over ranks of tensor, in place on every rank."""
    _check_group(group)
    t = _tensor(tensor, "tensor", "all_reduce")
    op = _reduce_op(op, t, "all_reduce")
    buf, write_back = _buffer(t)
    return _finish(default_group().backend.all_reduce(buf, op), [t], write_back, async_op)


def broadcast(tensor, src: int = 0, group=None, async_op: bool = False):
    """tensor ← rank ``src``'s tensor, on every rank."""
    _check_group(group)
    t = _tensor(tensor, "tensor", "broadcast")
    backend = default_group().backend
    if not 0 <= int(src) < backend.world_size:
        raise ValueError(f"broadcast: src={src} is not a rank of this group of "
                         f"{backend.world_size}")
    buf, write_back = _buffer(t)
    return _finish(backend.broadcast(buf, int(src)), [t], write_back, async_op)


def all_gather(tensor_list, tensor, group=None, async_op: bool = False):
    """tensor_list[r] ← rank r's tensor, on every rank; the list holds world-size tensors of
    tensor's shape, dtype and device."""
    _check_group(group)
    t = _tensor(tensor, "tensor", "all_gather")
    backend = default_group().backend
    outs = list(tensor_list)
    if len(outs) != backend.world_size:
        raise ValueError(f"all_gather: tensor_list has {len(outs)} tensors but the group has "
                         f"{backend.world_size} ranks")
    for i, o in enumerate(outs):
        _same_kind(_tensor(o, f"tensor_list[{i}]", "all_gather"), t, f"tensor_list[{i}]",
                   "all_gather")
    xp = array_module(t._data)
    send = xp.ascontiguousarray(t._data)
    recv = xp.empty((backend.world_size,) + send.shape, dtype=send.dtype)

    def scatter_back():
        for o, part in zip(outs, recv):
            o._data[...] = part
    return _finish(backend.all_gather(recv, send).then(scatter_back), outs, None, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op: bool = False):
    """output ← the ranks' inputs concatenated along dim 0 (output has world-size times as many
    elements as input; shape (W·n, ...) or (W, n, ...))."""
    _check_group(group)
    out = _tensor(output_tensor, "output_tensor", "all_gather_into_tensor")
    t = _tensor(input_tensor, "input_tensor", "all_gather_into_tensor")
    backend = default_group().backend
    if out.numel() != backend.world_size * t.numel() or out.dtype != t.dtype:
        raise ValueError(f"all_gather_into_tensor: output is {out.dtype} of shape "
                         f"{tuple(out.shape)}; expected {t.dtype} with {backend.world_size} x "
                         f"{t.numel()} elements (input shape {tuple(t.shape)})")
    send = array_module(t._data).ascontiguousarray(t._data)
    buf, write_back = _buffer(out)
    return _finish(backend.all_gather(buf, send), [out], write_back, async_op)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Rank r's output ← op over ranks of their input_list[r]."""
    _check_group(group)
    out = _tensor(output, "output", "reduce_scatter")
    op = _reduce_op(op, out, "reduce_scatter")
    backend = default_group().backend
    ins = list(input_list)
    if len(ins) != backend.world_size:
        raise ValueError(f"reduce_scatter: input_list has {len(ins)} tensors but the group has "
                         f"{backend.world_size} ranks")
    for i, x in enumerate(ins):
        _same_kind(_tensor(x, f"input_list[{i}]", "reduce_scatter"), out, f"input_list[{i}]",
                   "reduce_scatter")
    xp = array_module(out._data)
    send = xp.stack([x._data for x in ins])
    buf, write_back = _buffer(out)
    return _finish(backend.reduce_scatter(buf, send, op), [out], write_back, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Rank r's output ← op over ranks of block r of input (input has world-size times as many
    elements as output, blocks along dim 0)."""
    _check_group(group)
    out = _tensor(output, "output", "reduce_scatter_tensor")
    t = _tensor(input, "input", "reduce_scatter_tensor")
    op = _reduce_op(op, out, "reduce_scatter_tensor")
    backend = default_group().backend
    if t.numel() != backend.world_size * out.numel() or out.dtype != t.dtype:
        raise ValueError(f"reduce_scatter_tensor: input is {t.dtype} of shape {tuple(t.shape)}; "
                         f"expected {out.dtype} with {backend.world_size} x {out.numel()} "
                         f"elements (output shape {tuple(out.shape)})")
    send = array_module(t._data).ascontiguousarray(t._data)
    buf, write_back = _buffer(out)
    return _finish(backend.reduce_scatter(buf, send, op), [out], write_back, async_op)


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Wait until every rank has called barrier()."""
    _check_group(group)
    return _finish(default_group().backend.barrier(), [], None, async_op)
