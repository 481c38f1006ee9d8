"""``Tensor``: an array of the current backend plus what autograd needs.

A Tensor holds ``_data`` (a NumPy or CuPy array), ``requires_grad``, ``grad`` and, when it was
produced by a recorded op, ``grad_fn`` (the graph node of that op, see ``autograd.py``). Methods
check their arguments, apply torch's type promotion, and call one ``Function`` from ``ops.py``.
"""
from __future__ import annotations

import collections
import numbers
import warnings

import numpy as np

from . import ops, views
from .autograd import AccumulateGrad, is_grad_enabled, no_grad, run_backward
from .backend import (
    array_module,
    default_float,
    device,
    device_of,
    from_numpy_dtype,
    promote_types,
    to_device,
    to_dtype,
)
from .backend import dtype as _dtype
from .backend.shapes import ShapeError, fmt_shape

MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])
TopkResult = collections.namedtuple("topk", ["values", "indices"])


class Size(tuple):
    """A tuple of ints, printed as torch prints ``torch.Size``."""

    def __repr__(self):
        return f"minitorch.Size({list(self)})"

    def numel(self):
        return int(np.prod(self, dtype=np.int64))


def broadcast_shapes(op: str, *shapes) -> tuple:
    """The broadcast result of ``shapes`` or a ShapeError that names them all."""
    ndim = max(len(s) for s in shapes)
    out = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i} - {1}
        if len(sizes) > 1:
            raise ShapeError(f"{op}: cannot broadcast " + " with ".join(fmt_shape(s) for s in shapes)
                             + f": sizes {' and '.join(str(n) for n in sorted(sizes))} differ at "
                             f"dimension {i} (counting from the end)")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def normalize_dim(dim: int, ndim: int, op: str = "") -> int:
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{lo}, {hi}], "
                         f"but got {dim})")
    return int(dim) % max(ndim, 1)


def normalize_dims(dim, ndim: int, op: str = ""):
    """None (all dims) or a sorted tuple of non-negative dims."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if len(dims) == 0:
        return None  # torch: an empty dim list reduces over everything
    out = tuple(sorted({normalize_dim(d, ndim, op) for d in dims}))
    if len(out) != len(dims):
        raise RuntimeError(f"{op}: dim {dims} appears multiple times in the list of dims")
    if ndim == 0:
        return None
    return out


def _reshapes_in_place(arr, shape) -> bool:
    """Whether ``arr.reshape(shape)`` is a view: NumPy's ``copy=False`` refuses otherwise; CuPy's
    reshape copies silently, so there the result must share arr's memory."""
    if isinstance(arr, np.ndarray):
        try:
            np.reshape(arr, shape, copy=False)
        except ValueError:
            return False
        return True
    return arr.size == 0 or array_module(arr).may_share_memory(arr.reshape(shape), arr)


def _size_args(size) -> tuple:
    """zeros(2, 3), zeros((2, 3)) and zeros([2, 3]) all mean shape (2, 3)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    out = []
    for n in size:
        if isinstance(n, (bool, np.bool_)) or not hasattr(n, "__index__"):
            raise TypeError(f"size must be a tuple of ints, got {size!r}")
        out.append(n.__index__())  # ints, NumPy ints and 1-element integer tensors, as torch
    return tuple(out)


class Tensor:
    # _grad_fn/_output_nr: the graph node that produced this tensor and which of its outputs
    # this is; _accumulator: a leaf's AccumulateGrad; _version_counter, _view: see views.py
    __slots__ = ("_data", "_requires_grad", "grad", "_grad_fn", "_output_nr", "_accumulator",
                 "_version_counter", "_view", "_retains_grad", "__weakref__", "__dict__")
    __array_priority__ = 1000  # numpy scalars defer to our reflected operators

    # ---- construction ---------------------------------------------------------------------
    def __init__(self, *args, dtype=None, requires_grad=False):
        """torch's legacy constructor: ``Tensor(data)`` copies data as float32 (unless ``dtype``
        says otherwise); ``Tensor(2, 3)`` is a new (2, 3) tensor (zero-filled here; torch leaves
        it uninitialised). Prefer ``minitorch.tensor(data)``, which infers the dtype."""
        np_dtype = to_dtype(dtype or default_float).np
        if not args:
            arr = np.zeros((0,), dtype=np_dtype)
        elif len(args) > 1 or isinstance(args[0], (int, np.integer, Size)):
            arr = np.zeros(_size_args(args), dtype=np_dtype)
        else:
            data = args[0]
            arr = np.array(data._cpu_array() if isinstance(data, Tensor) else data, dtype=np_dtype)
        self._reset(arr)
        if requires_grad:
            self.requires_grad = True  # the setter checks the dtype

    def _reset(self, arr, requires_grad=False):
        """Every field, for a tensor that wraps ``arr`` and has no history."""
        self._data = arr
        self._requires_grad = requires_grad
        self.grad = None
        self._grad_fn = None
        self._output_nr = 0
        self._accumulator = None
        self._version_counter = views.VersionCounter()
        self._view = None
        self._retains_grad = False

    @classmethod
    def _make(cls, arr, requires_grad=False):
        """Wrap an array without copying (the internal constructor)."""
        t = object.__new__(cls)
        t._reset(np.asarray(arr) if isinstance(arr, np.generic) else arr, requires_grad)
        return t

    def _wrap(self, arr):
        return Tensor._make(arr)

    # ---- basic properties -----------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self._data.shape[normalize_dim(dim, self.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self) -> _dtype:
        return from_numpy_dtype(self._data.dtype)

    @property
    def device(self) -> device:
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def data(self) -> "Tensor":
        """The same storage, detached from the graph (torch's ``.data``)."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, other):
        self._data = other._data if isinstance(other, Tensor) else other

    @property
    def _version(self) -> int:
        return self._version_counter.value

    def _bump_version(self):
        self._version_counter.bump()

    # ---- autograd properties --------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        views.refresh(self)
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if self._grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. "
                               f"This tensor (shape {fmt_shape(self.shape)}) is the output of "
                               f"{self._grad_fn.name()}; use .detach() to get a leaf.")
        if flag and self._data.dtype.kind != "f":
            raise RuntimeError("only Tensors of floating point dtype can require gradients, got "
                               f"{self.dtype.name}")
        self._requires_grad = flag

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        views.refresh(self)
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._grad_fn is None or self._retains_grad:
            return
        node = self._grad_fn
        node._retained = node._retained + (self,)
        self._retains_grad = True

    def _graph_node(self):
        """The node backward sends this tensor's gradient to."""
        if self._grad_fn is not None:
            return self._grad_fn
        if self._accumulator is None:
            self._accumulator = AccumulateGrad(self)
        return self._accumulator

    def _graph_edge(self) -> tuple:
        """(node, output_nr): where backward sends this tensor's gradient."""
        return (self._graph_node(), self._output_nr)

    def _become_view_of(self, base, view_fn, args) -> None:
        """Called by Function.apply: this tensor is ``view_fn(base, *args)`` and shares base's
        memory (see views.py)."""
        views.record_view(self, base, view_fn, args)

    def detach(self) -> "Tensor":
        """Same storage, no graph: ``requires_grad=False`` and no ``grad_fn``."""
        t = Tensor._make(self._data)
        t._version_counter = self._version_counter
        return t

    def detach_(self) -> "Tensor":
        self._grad_fn = None
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False) -> None:
        """Accumulate d(self)/d(leaf) · ``gradient`` into every leaf's ``.grad``.

        ``gradient`` is the cotangent (dL/dself); it may be omitted only for a single-element tensor,
        where it is 1.
        """
        if create_graph:
            raise NotImplementedError("create_graph=True (higher-order gradients) is not supported")
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        xp = array_module(self._data)
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this "
                                   f"tensor has shape {fmt_shape(self.shape)}: pass "
                                   f"backward(gradient=...) of that shape")
            g = xp.ones(self._data.shape, dtype=self._data.dtype)
        else:
            if isinstance(gradient, Tensor) and gradient.device != self.device:
                raise RuntimeError(f"backward: the gradient is on {gradient.device} but the tensor "
                                   f"is on {self.device}; move it with .to({str(self.device)!r})")
            g = gradient._data if isinstance(gradient, Tensor) else xp.asarray(gradient)
            if tuple(g.shape) != tuple(self.shape):
                raise RuntimeError(f"backward: gradient has shape {fmt_shape(g.shape)} but the tensor "
                                   f"has shape {fmt_shape(self.shape)}")
            g = g.astype(self._data.dtype, copy=False)
        run_backward(self._graph_edge(), g, retain_graph=bool(retain_graph))

    # ---- conversion -----------------------------------------------------------------------
    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to "
                               f"Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._cpu_array().tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self.device.type != "cpu":
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        return self._data

    def _cpu_array(self):
        return self._data if isinstance(self._data, np.ndarray) else self._data.get()

    def __array__(self, dtype=None, copy=None):
        """NumPy's protocol: ``np.asarray(t)`` shares a CPU tensor's memory; ``np.array(t)``
        (copy=True) copies, as with torch; copy=False refuses to make a copy."""
        a = self._cpu_array()
        out = a if dtype is None else a.astype(dtype, copy=False)
        if copy is False and out is not self._data:
            raise ValueError(f"__array__(copy=False): a {self.dtype.name} tensor on {self.device} "
                             f"cannot be given as a {out.dtype} NumPy array without a copy")
        return out.copy() if copy and out is self._data else out

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} elements is "
                               "ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self):
        a = self._cpu_array()
        prefix = "tensor("
        if a.size == 0 and a.ndim == 1:
            body = "[]"
        else:
            body = np.array2string(a, separator=", ", prefix=prefix, threshold=1000,
                                   precision=4, floatmode="maxprec_equal"
                                   if a.dtype.kind == "f" else "maxprec")
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if a.size == 0 and a.ndim != 1:
            extras.append(f"size={tuple(a.shape)}")
        if self.dtype.name not in ("float32", "int64", "bool"):
            extras.append(f"dtype={self.dtype!r}")
        if self._grad_fn is not None:
            extras.append(f"grad_fn=<{self._grad_fn.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return prefix + body + "".join(", " + e for e in extras) + ")"

    # ---- dtype and device -----------------------------------------------------------------
    def to(self, *args, **kwargs) -> "Tensor":
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; differentiable."""
        dev = kwargs.pop("device", None)
        dt = kwargs.pop("dtype", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dt = a.device, a.dtype
            elif isinstance(a, (device,)) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda")):
                dev = device(a)
            elif isinstance(a, str) and a.split(".")[-1] not in _dtypes._BY_NAME:
                dev = device(a)  # neither a device we know nor a dtype: device() says so
            elif a is not None:
                dt = to_dtype(a)
        out = self
        if dev is not None and device(dev) != self.device:
            out = ops.ToDevice.apply(out, device(dev))
        if dt is not None and to_dtype(dt) is not out.dtype:
            out = ops.Cast.apply(out, to_dtype(dt))
        if copy and out is self:
            out = self.clone()
        return out

    def type(self, dtype=None):
        if dtype is None:
            return f"minitorch.{self.dtype.name}"
        return self.to(getattr(dtype, "legacy_dtype", dtype))  # also minitorch.LongTensor etc.

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device_index=None):
        return self.to(device("cuda", device_index or 0))

    def double(self):
        return self.to(_dtypes.float64)

    def float(self):
        return self.to(_dtypes.float32)

    def half(self):
        return self.to(_dtypes.float16)

    def long(self):
        return self.to(_dtypes.int64)

    def int(self):
        return self.to(_dtypes.int32)

    def bool(self):
        return self.to(_dtypes.bool_)

    def clone(self) -> "Tensor":
        return ops.Clone.apply(self)

    def contiguous(self) -> "Tensor":
        if self._data.flags.c_contiguous:
            return self
        return ops.Clone.apply(self)

    # ---- type promotion for binary ops ----------------------------------------------------
    def _operands(self, other, op: str, reverse: bool = False, float_result: bool = False,
                  broadcast: bool = True):
        """Return (a, b) ready for a binary Function: Tensors of one dtype on one device, or a
        0-dim array standing in for a Python scalar."""
        if isinstance(other, Tensor):
            da, db = self._data, other._data
            # fast path (most calls): two NumPy arrays of one dtype need no promotion and no cast
            if (type(da) is np.ndarray and type(db) is np.ndarray and da.dtype == db.dtype
                    and (not float_result or da.dtype.kind == "f")):
                if broadcast and da.shape != db.shape:
                    broadcast_shapes(op, da.shape, db.shape)
                return (other, self) if reverse else (self, other)
        xp = array_module(self._data)
        if isinstance(other, Tensor):
            if other.device != self.device:
                raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found "
                                   f"at least two devices, {self.device} and {other.device}")
            tensors = [self, other]
            dims = [t.dtype for t in tensors if t.ndim > 0]
            zero = [t.dtype for t in tensors if t.ndim == 0]
            dt = promote_types(dims, zero)
        elif isinstance(other, (numbers.Number, np.generic)) and not isinstance(other, complex):
            tensors = [self]
            dt = promote_types([self.dtype] if self.ndim else [], [] if self.ndim else [self.dtype],
                               [other])
        elif isinstance(other, np.ndarray):
            return self._operands(Tensor._make(xp.asarray(other)), op, reverse, float_result,
                                  broadcast)
        else:
            return None
        if float_result and not dt.is_floating_point:
            dt = default_float
        a = self if self.dtype is dt else ops.Cast.apply(self, dt)
        if isinstance(other, Tensor):
            b = other if other.dtype is dt else ops.Cast.apply(other, dt)
            if broadcast and a.shape != b.shape:
                broadcast_shapes(op, a.shape, b.shape)
        else:
            b = xp.asarray(other, dtype=dt.np)
        return (b, a) if reverse else (a, b)

    def _binary(self, other, fn, op, reverse=False, float_result=False):
        pair = self._operands(other, op, reverse, float_result)
        if pair is None:
            return NotImplemented
        return fn.apply(*pair)

    def __add__(self, other):
        return self._binary(other, ops.Add, "add")

    def __radd__(self, other):
        return self._binary(other, ops.Add, "add", reverse=True)

    def _no_bool_sub(self, other):
        if self.dtype is _dtypes.bool_ or isinstance(other, (bool, np.bool_)) or (
                isinstance(other, Tensor) and other.dtype is _dtypes.bool_):
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or `logical_not()` "
                               "operator instead.")

    def __sub__(self, other):
        self._no_bool_sub(other)
        return self._binary(other, ops.Sub, "sub")

    def __rsub__(self, other):
        self._no_bool_sub(other)
        return self._binary(other, ops.Sub, "sub", reverse=True)

    def __mul__(self, other):
        return self._binary(other, ops.Mul, "mul")

    def __rmul__(self, other):
        return self._binary(other, ops.Mul, "mul", reverse=True)

    def __truediv__(self, other):
        return self._binary(other, ops.Div, "div", float_result=True)

    def __rtruediv__(self, other):
        return self._binary(other, ops.Div, "div", reverse=True, float_result=True)

    def __neg__(self):
        if self.dtype is _dtypes.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "Use the `~` or `logical_not()` operator instead.")
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __pow__(self, other):
        if isinstance(other, Tensor):
            if self.dtype is _dtypes.bool_ and other.dtype is _dtypes.bool_:
                raise NotImplementedError("\"pow\" not implemented for 'Bool'")
            return self._binary(other, ops.Pow, "pow")
        if isinstance(other, (numbers.Real, np.generic)):
            dt = promote_types([self.dtype], [], [other])
            if dt is _dtypes.bool_:
                raise NotImplementedError("\"pow\" not implemented for 'Bool'")
            base = self if self.dtype is dt else ops.Cast.apply(self, dt)
            if dt.category == 1 and other < 0:
                raise RuntimeError("Integers to negative integer powers are not allowed.")
            p = other.item() if isinstance(other, np.generic) else other
            return ops.PowScalar.apply(base, p)
        return NotImplemented

    def __rpow__(self, other):
        if isinstance(other, (numbers.Real, np.generic)):
            dt = promote_types([self.dtype], [], [other])
            if dt is _dtypes.bool_:
                raise NotImplementedError("\"pow\" not implemented for 'Bool'")
            x = self if self.dtype is dt else ops.Cast.apply(self, dt)
            return ops.RPowScalar.apply(other.item() if isinstance(other, np.generic) else other, x)
        return NotImplemented

    def pow(self, exponent):
        return self ** exponent

    def __matmul__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        return matmul(self, other)

    def __rmatmul__(self, other):
        if isinstance(other, np.ndarray):
            return matmul(Tensor._make(other), self)
        return NotImplemented

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def neg(self):
        return -self

    def matmul(self, other):
        return matmul(self, other)

    def mm(self, mat2):
        return mm(self, mat2)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The vector p-norm over ``dim`` (all elements when None), as ``torch.norm``:
        p = 'fro' (2), a number, inf or -inf (``ops.Norm``); 'nuc' is not implemented."""
        if isinstance(p, str):
            if p != "fro":
                raise NotImplementedError(f"norm: p={p!r} (the nuclear norm) is not implemented "
                                          "in minitorch; 'fro' and numeric p are")
            if isinstance(dim, (tuple, list)) and len(dim) > 2:
                # torch takes 'fro' over more than two dims as a matrix norm, and refuses
                raise RuntimeError(f"norm: p='fro' takes one dim or two (a matrix norm), got "
                                   f"dim={tuple(dim)}")
            p = 2
        if not isinstance(p, (numbers.Real, np.generic)) or isinstance(p, bool):
            raise TypeError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
        x = self if dtype is None else self.to(dtype)
        if not x.is_floating_point():
            raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                               f"Got {x.dtype.name} instead.")
        return ops.Norm.apply(x, float(p), normalize_dims(dim, x.ndim, "norm"), bool(keepdim))

    def __format__(self, spec):
        """format(t, '+.2f') formats a 0-dim tensor's value, as torch does."""
        if self.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string passed to Tensor.__format__: {spec!r} "
                            f"(only 0-dim tensors take one; this one has shape "
                            f"{fmt_shape(self.shape)})")
        return repr(self)

    def maximum(self, other):
        return self._binary(other, ops.Maximum, "maximum")

    def minimum(self, other):
        return self._binary(other, ops.Minimum, "minimum")

    # ---- comparisons (no gradient) --------------------------------------------------------
    def _compare(self, other, ufunc, op):
        pair = self._operands(other, op)
        if pair is None:
            return NotImplemented
        a, b = (p._data if isinstance(p, Tensor) else p for p in pair)
        return Tensor._make(ufunc(a, b))

    def __eq__(self, other):
        return self._compare(other, array_module(self._data).equal, "eq")

    def __ne__(self, other):
        return self._compare(other, array_module(self._data).not_equal, "ne")

    def __lt__(self, other):
        return self._compare(other, array_module(self._data).less, "lt")

    def __le__(self, other):
        return self._compare(other, array_module(self._data).less_equal, "le")

    def __gt__(self, other):
        return self._compare(other, array_module(self._data).greater, "gt")

    def __ge__(self, other):
        return self._compare(other, array_module(self._data).greater_equal, "ge")

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def __invert__(self):
        if self._data.dtype.kind not in "biu":
            raise TypeError("~ (bitwise not) is only supported on integer and bool tensors")
        return Tensor._make(~self._data)

    def logical_not(self):
        return Tensor._make(array_module(self._data).logical_not(self._data))

    def __and__(self, other):
        return self._compare(other, array_module(self._data).bitwise_and, "and")

    def __or__(self, other):
        return self._compare(other, array_module(self._data).bitwise_or, "or")

    def equal(self, other) -> bool:
        return self.shape == other.shape and bool((self == other).all())

    def all(self):
        return Tensor._make(array_module(self._data).asarray(self._data.all()))

    def any(self):
        return Tensor._make(array_module(self._data).asarray(self._data.any()))

    def allclose(self, other, rtol=1e-05, atol=1e-08) -> bool:
        return bool(array_module(self._data).allclose(self._data, other._data, rtol=rtol, atol=atol))

    # ---- elementwise functions ------------------------------------------------------------
    def _floating(self):
        """Integer inputs of float functions are promoted to the default float dtype (torch)."""
        return self if self.is_floating_point() else ops.Cast.apply(self, default_float)

    def exp(self):
        return ops.Exp.apply(self._floating())

    def log1p(self):
        return ops.Log1p.apply(self._floating())

    def sin(self):
        return ops.Sin.apply(self._floating())

    def cos(self):
        return ops.Cos.apply(self._floating())

    def log(self):
        return ops.Log.apply(self._floating())

    def sqrt(self):
        return ops.Sqrt.apply(self._floating())

    def tanh(self):
        return ops.Tanh.apply(self._floating())

    def sigmoid(self):
        return ops.Sigmoid.apply(self._floating())

    def _no_bool(self, name, message=None):
        if self.dtype is _dtypes.bool_:
            raise RuntimeError(message or f"{name}(): bool tensors are not supported")

    def abs(self):
        self._no_bool("abs", "\"abs\" not implemented for 'Bool'")
        return ops.Abs.apply(self)

    __abs__ = abs

    def relu(self):
        self._no_bool("relu", "Boolean inputs not supported for relu")
        return ops.ReLU.apply(self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            # tensor bounds (broadcast): y = where(x < lo, lo, x), then where(y > hi, hi, y), so
            # x keeps the gradient on the boundaries and a bound gets it where it clamps (torch)
            y = self
            if min is not None:
                y = where(y < min, min, y)
            if max is not None:
                y = where(y > max, max, y)
            return y
        for v in (min, max):
            if v is not None and not isinstance(v, (numbers.Real, np.generic)):
                raise TypeError(f"clamp: min and max must be numbers, got {v!r}")
        # the result dtype is that of self combined with the bounds as scalars (bool.clamp(1, 2)
        # gives int64, int64.clamp(0.5) gives float32)
        dt = promote_types([self.dtype] if self.ndim else [], [] if self.ndim else [self.dtype],
                           [v for v in (min, max) if v is not None])
        x = self if self.dtype is dt else ops.Cast.apply(self, dt)
        return ops.Clamp.apply(x, min, max)

    clip = clamp

    def clamp_min(self, min):
        return self.clamp(min=min)

    def clamp_max(self, max):
        return self.clamp(max=max)

    # ---- reductions -----------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, dtype=None):
        x = self
        if dtype is not None:
            x = x.to(dtype)
        elif not x.is_floating_point():
            x = x.to(_dtypes.int64)
        return ops.Sum.apply(x, normalize_dims(dim, self.ndim, "sum"), keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        x = self if dtype is None else self.to(dtype)
        if not x.is_floating_point():
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                               f"floating point or complex dtype. Got: {x.dtype.name}")
        return ops.Mean.apply(x, normalize_dims(dim, self.ndim, "mean"), keepdim)

    def _extremum(self, dim, keepdim, largest, name):
        if isinstance(dim, Tensor):  # max(other): the elementwise maximum
            return self.maximum(dim) if largest else self.minimum(dim)
        if dim is None:
            if self.numel() == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                                   "input.numel() == 0. Specify the reduction dim with the 'dim' "
                                   "argument.")
            return ops.AMax.apply(self, None, False, largest, True)
        d = normalize_dim(dim, self.ndim, name)
        self._check_reduced_dim_not_empty(d, name)
        if self.ndim == 0:
            return (MaxResult if largest else MinResult)(self.clone(), Tensor._make(
                array_module(self._data).asarray(0, dtype=np.int64)))
        xp = array_module(self._data)
        idx = (xp.argmax if largest else xp.argmin)(self._data, axis=d, keepdims=keepdim)
        values = ops.TakeAlongDim.apply(self, idx, d, keepdim)
        return (MaxResult if largest else MinResult)(values, Tensor._make(idx.astype(np.int64)))

    def max(self, dim=None, keepdim=False):
        """``max()`` → the largest value; ``max(dim)`` → (values, indices); ``max(other)`` →
        elementwise maximum."""
        return self._extremum(dim, keepdim, True, "max")

    def min(self, dim=None, keepdim=False):
        return self._extremum(dim, keepdim, False, "min")

    def amax(self, dim=(), keepdim=False):
        return ops.AMax.apply(self, normalize_dims(dim, self.ndim, "amax"), keepdim, True, False)

    def amin(self, dim=(), keepdim=False):
        return ops.AMax.apply(self, normalize_dims(dim, self.ndim, "amin"), keepdim, False, False)

    def _check_reduced_dim_not_empty(self, d: int, name: str) -> None:
        """max(dim)/argmax(dim) over a dim of size 0 has no answer (other dims may be empty:
        zeros(0, 3).max(1) gives empty results, as torch)."""
        if self.ndim and self.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size "
                             f"(input of shape {fmt_shape(self.shape)})")

    def _arg(self, dim, keepdim, fn, name):
        if dim is None and self.numel() == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")  # torch's type for argmax/argmin
        self._no_bool(name, f"{name}(): does not support bool input")
        if dim is not None:
            # range check, also for 0-dim tensors
            self._check_reduced_dim_not_empty(normalize_dim(dim, self.ndim, name), name)
        xp = array_module(self._data)
        if dim is None:
            idx = fn(self._data.reshape(-1))
            if keepdim:
                idx = xp.asarray(idx).reshape((1,) * self.ndim)
        else:
            idx = fn(self._data, axis=normalize_dim(dim, self.ndim, name), keepdims=keepdim) \
                if self.ndim else xp.asarray(0)
        return Tensor._make(xp.asarray(idx).astype(np.int64))

    def argmax(self, dim=None, keepdim=False):
        return self._arg(dim, keepdim, array_module(self._data).argmax, "argmax")

    def argmin(self, dim=None, keepdim=False):
        return self._arg(dim, keepdim, array_module(self._data).argmin, "argmin")

    # ---- triangles, masks, top-k, sampling (attention and text generation) -----------------
    def _triangle(self, diagonal: int, upper: bool, op: str) -> "Tensor":
        """Keep the lower (tril) or upper (triu) triangle of the last two dims, zero the rest:
        y = where(keep, x, 0), keep[i, j] = j − i ≤ diagonal (tril) or ≥ diagonal (triu).
        dL/dx = g · [keep]."""
        if self.ndim < 2:
            raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got shape "
                               f"{fmt_shape(self.shape)}")
        xp = array_module(self._data)
        rows, cols = self.shape[-2:]
        keep = (xp.triu if upper else xp.tril)(xp.ones((rows, cols), dtype=bool), int(diagonal))
        return ops.Where.apply(keep, self, xp.zeros((), dtype=self._data.dtype))

    def tril(self, diagonal=0):
        return self._triangle(diagonal, False, "tril")

    def triu(self, diagonal=0):
        return self._triangle(diagonal, True, "triu")

    def masked_fill(self, mask, value):
        """y = value where ``mask`` else x (mask broadcasts to x's shape).
        dL/dx = g · [not mask];  a 0-dim tensor value gets dL/dvalue = Σ g · [mask]."""
        if not isinstance(mask, Tensor) or mask.dtype is not _dtypes.bool_:
            got = mask.dtype.name if isinstance(mask, Tensor) else type(mask).__name__
            raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with "
                               f"dtype {got}")
        if broadcast_shapes("masked_fill", mask.shape, self.shape) != tuple(self.shape):
            raise RuntimeError(f"masked_fill: the mask of shape {fmt_shape(mask.shape)} does not "
                               f"broadcast to the input's shape {fmt_shape(self.shape)}")
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but "
                                   f"got tensor with {value.ndim} dimension(s).")
            value = value if value.dtype is self.dtype else ops.Cast.apply(value, self.dtype)
        else:
            value = array_module(self._data).asarray(value, dtype=self._data.dtype)
        return ops.Where.apply(mask._data, value, self)

    def masked_fill_(self, mask, value):
        return views.apply_inplace(self, lambda s: s.masked_fill(mask, value), value)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """(values, indices) of the k largest (``largest=False``: smallest) entries along ``dim``,
        in order.  values = take_along_dim(x, indices): dL/dx scatters g back to the chosen
        positions (``ops.TakeAlongDim``); indices get no gradient. NaN counts as the largest."""
        x = self.reshape(1) if self.ndim == 0 else self
        d = normalize_dim(dim, x.ndim, "topk")
        n = x.shape[d]
        if not isinstance(k, numbers.Integral) or not 0 <= k <= n:
            raise RuntimeError(f"topk: k ({k}) is out of range for dimension {d} of size {n} "
                               f"(input of shape {fmt_shape(self.shape)})")
        xp = array_module(x._data)
        order = xp.argsort(x._data, axis=d, kind="stable")  # ascending, NaN last
        if largest:
            order = xp.flip(order, axis=d)
        idx = xp.take(order, xp.arange(int(k)), axis=d)
        values = ops.TakeAlongDim.apply(x, idx, d, True)
        indices = Tensor._make(idx.astype(np.int64))
        if self.ndim == 0:
            values, indices = values.reshape(()), indices.reshape(())
        return TopkResult(values, indices)

    def multinomial(self, num_samples, replacement=False, generator=None):
        return multinomial(self, num_samples, replacement, generator=generator)

    # ---- shape ops ------------------------------------------------------------------------
    def _infer_shape(self, shape, op):
        shape = _size_args(shape)
        n = self.numel()
        if shape.count(-1) > 1:
            raise RuntimeError(f"{op}: only one dimension can be inferred, got shape {list(shape)}")
        if any(s < -1 for s in shape):
            raise RuntimeError(f"{op}: invalid shape dimension in {list(shape)}")
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if -1 in shape:
            if known == 0 or n % known:
                raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {n}")
            shape = tuple(n // known if s == -1 else s for s in shape)
        elif known != n:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {n} "
                               f"(input shape {fmt_shape(self.shape)})")
        return shape

    def reshape(self, *shape):
        shape = self._infer_shape(shape, "reshape")
        if shape == self.shape:
            return ops.Reshape.apply(self, shape) if self._requires_grad else self.detach()
        return ops.Reshape.apply(self, shape)

    def view(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list, Size)):
            return self._view_as_dtype(to_dtype(shape[0]))
        shape = self._infer_shape(shape, "view")
        if not _reshapes_in_place(self._data, shape):
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (shape "
                f"{fmt_shape(self.shape)} -> {fmt_shape(shape)}: at least one dimension spans "
                f"across two contiguous subspaces). Use .reshape(...) instead.")
        return ops.Reshape.apply(self, shape)

    def _view_as_dtype(self, dt) -> "Tensor":
        """``view(dtype)``: the same bytes read as another dtype (not a conversion; as torch, the
        result is not differentiable). A different element size changes the last dimension."""
        try:
            arr = self._data.view(dt.np)
        except ValueError as e:
            raise RuntimeError(f"view({dt!r}): cannot view a {self.dtype.name} tensor of shape "
                               f"{fmt_shape(self.shape)} as {dt.name}: {e}") from None
        out = Tensor._make(arr)
        out._version_counter = self._version_counter  # the same memory
        return out

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        s = normalize_dim(start_dim, self.ndim, "flatten")
        e = normalize_dim(end_dim, self.ndim, "flatten")
        if s > e:
            raise RuntimeError(f"flatten() has invalid args: start_dim ({start_dim}) cannot come "
                               f"after end_dim ({end_dim})")
        shp = self.shape
        return self.reshape(shp[:s] + (int(np.prod(shp[s:e + 1], dtype=np.int64)),) + shp[e + 1:])

    def unflatten(self, dim, sizes):
        d = normalize_dim(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:d] + tuple(sizes) + self.shape[d + 1:])

    def permute(self, *dims):
        dims = _size_args(dims) if dims and not isinstance(dims[0], (tuple, list)) else tuple(dims[0])
        if len(dims) != self.ndim:
            raise RuntimeError(f"permute: number of dimensions in the tensor input does "
                               f"not match the length of the desired ordering of dimensions i.e. "
                               f"input.dim() = {self.ndim} is not equal to len(dims) = {len(dims)}")
        nd = tuple(normalize_dim(d, self.ndim, "permute") for d in dims)
        if len(set(nd)) != len(nd):
            raise RuntimeError(f"permute(): duplicate dims are not allowed: {list(dims)}")
        return ops.Permute.apply(self, nd)

    def transpose(self, dim0, dim1):
        if self.ndim == 0:
            return self
        perm = list(range(self.ndim))
        a, b = normalize_dim(dim0, self.ndim, "transpose"), normalize_dim(dim1, self.ndim, "transpose")
        perm[a], perm[b] = perm[b], perm[a]
        return ops.Permute.apply(self, tuple(perm))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.transpose(0, 1) if self.ndim == 2 else self

    @property
    def T(self):
        return ops.Permute.apply(self, tuple(reversed(range(self.ndim)))) if self.ndim > 1 else self

    @property
    def mT(self):
        if self.ndim < 2:
            raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def unsqueeze(self, dim):
        d = normalize_dim(dim, self.ndim + 1, "unsqueeze")
        return ops.Reshape.apply(self, self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        if dim is None:
            dims = {i for i, n in enumerate(self.shape) if n == 1}
        else:
            dims = {d for d in (normalize_dims(dim, self.ndim, "squeeze") or ()) if self.shape[d] == 1}
        return ops.Reshape.apply(self, tuple(n for i, n in enumerate(self.shape) if i not in dims))

    def expand(self, *sizes):
        sizes = _size_args(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                               f"or equal to the number of dimensions in the tensor ({self.ndim})")
        lead = len(sizes) - self.ndim
        out = []
        for i, s in enumerate(sizes):
            if i < lead:
                if s < 0:
                    raise RuntimeError(f"expand: the expanded size {s} is not allowed in a leading, "
                                       "non-existing dimension")
                out.append(s)
                continue
            cur = self.shape[i - lead]
            if s == -1:
                s = cur
            if cur != s and cur != 1:
                raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                                   f"size ({cur}) at non-singleton dimension {i}.  Target sizes: "
                                   f"{list(sizes)}.  Tensor sizes: {list(self.shape)}")
            out.append(s)
        return ops.Expand.apply(self, tuple(out))

    def expand_as(self, other):
        return self.expand(other.shape)

    def broadcast_to(self, shape):
        return self.expand(shape)

    def split(self, split_size, dim=0):
        d = normalize_dim(dim, self.ndim, "split")
        n = self.shape[d]
        if isinstance(split_size, int):
            sizes = [split_size] * (n // split_size) + ([n % split_size] if n % split_size else [])
        else:
            sizes = list(split_size)
            if sum(sizes) != n:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                                   f"(input tensor's size at dimension {d}), but got split_sizes={sizes}")
        out, start = [], 0
        for s in sizes:
            out.append(self[(slice(None),) * d + (slice(start, start + s),)])
            start += s
        return tuple(out)

    def narrow(self, dim, start, length):
        """The view of ``length`` entries along ``dim`` from ``start`` (negative: from the end),
        sharing self's memory (``self[..., start:start + length, ...]``; the gradient lands in
        that slice)."""
        d = normalize_dim(dim, self.ndim, "narrow")
        n = self.shape[d]
        start, length = int(start), int(length)
        if not -n <= start <= n:
            raise IndexError(f"narrow(): start {start} is out of range for dimension {d} of size "
                             f"{n} (shape {fmt_shape(self.shape)})")
        start = start + n if start < 0 else start
        if length < 0 or start + length > n:
            raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension "
                               f"size ({n}) of dim {d} (shape {fmt_shape(self.shape)})")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def chunk(self, chunks, dim=0):
        n = self.shape[normalize_dim(dim, self.ndim, "chunk")]
        return self.split(max(1, -(-n // chunks)), dim)

    # ---- indexing -------------------------------------------------------------------------
    def _index(self, index):
        """Convert an index to what the array module takes; report whether it is 'advanced'."""
        xp = array_module(self._data)
        items = index if isinstance(index, tuple) else (index,)
        out, advanced = [], False
        for it in items:
            if isinstance(it, Tensor):
                if it.dtype.category == 2:
                    raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
                # an index on another device is moved, as torch takes CPU indices for CUDA tensors
                it = it._data if it.device == self.device else to_device(it._data, self.device)
                advanced = True
            elif isinstance(it, (list, range, np.ndarray)):
                # a range indexes as the list of its values, as in torch
                it = xp.asarray(list(it) if isinstance(it, range) else it)
                if it.size == 0:
                    it = it.astype(np.int64)  # x[[]] selects nothing
                if it.dtype.kind == "f":
                    raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
                advanced = True
            elif isinstance(it, slice) and it.step is not None and it.step <= 0:
                raise ValueError(f"step must be greater than zero (got the slice {it}: tensors "
                                 "have no negative strides, as in torch)")
            elif not (it is None or it is Ellipsis or isinstance(it, (slice, int, np.integer))):
                raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                                 f"bool tensors are valid indices (got {type(it).__name__})")
            out.append(it)
        return tuple(out), advanced

    def __getitem__(self, index):
        idx, advanced = self._index(index)
        try:
            return ops.GetItem.apply(self, idx, advanced)
        except IndexError as e:
            raise IndexError(f"index {index!r} is invalid for a tensor of shape "
                             f"{fmt_shape(self.shape)}: {e}") from None

    def __setitem__(self, index, value):
        idx, _ = self._index(index)
        if not isinstance(value, Tensor):
            value = Tensor._make(array_module(self._data).asarray(value, dtype=self._data.dtype))
        elif value.device != self.device:
            value = value.to(self.device)
        views.refresh(self)
        with no_grad():
            region = self[index].shape  # (an invalid index raises here, naming the shape)
        try:
            fits = np.broadcast_shapes(tuple(value.shape), region) == region
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"index assignment: a value of shape {fmt_shape(value.shape)} cannot "
                             f"be broadcast to the indexed region of shape {fmt_shape(region)} "
                             f"(tensor of shape {fmt_shape(self.shape)})")
        if is_grad_enabled() and (self._requires_grad or value._requires_grad):
            views.check_leaf_inplace(self)
            v = value if value.dtype is self.dtype else ops.Cast.apply(value, self.dtype)
            views.assign(self, ops.SetItem.apply(self, v, idx))  # SetItem saves nothing of self
            return
        views.check_writable(self)
        self._data[idx] = value._data
        self._bump_version()

    def scatter(self, dim, index, src=None, *, value=None):
        """A copy of self with ``src`` (a tensor, or a number: ``value``) written at ``index``
        along ``dim``: y[i₀, …, index[i], …] = src[i] for i over index's shape
        (``ops.Scatter``; differentiable in self and src, as torch)."""
        if src is None and value is None:
            raise TypeError("scatter(): expected a src tensor or a value")
        src = value if src is None else src
        if self.ndim == 0:
            raise RuntimeError("scatter(): a 0-d self is not supported; reshape it to (1,) first")
        d = normalize_dim(dim, self.ndim, "scatter")
        if not isinstance(index, Tensor) or index.dtype.name != "int64":
            raise RuntimeError(f"scatter(): Expected dtype int64 for index, got "
                               f"{index.dtype.name if isinstance(index, Tensor) else type(index).__name__}")
        # as torch, a 0-d index (or src) counts as one element: zeros(10).scatter_(0, tensor(3), ..)
        index = index.reshape(1) if index.ndim == 0 else index
        src = src.reshape(1) if isinstance(src, Tensor) and src.ndim == 0 else src
        where = f"(self {fmt_shape(self.shape)}, index {fmt_shape(index.shape)}"
        if isinstance(src, Tensor):
            where += f", src {fmt_shape(src.shape)}"
            if src.dtype is not self.dtype:
                raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype "
                                   f"(got {self.dtype.name} and {src.dtype.name})")
            if src.device != self.device:
                src = src.to(self.device)
        where += f", dim={d})"
        src_shape = tuple(src.shape) if isinstance(src, Tensor) else None
        if index.ndim != self.ndim or (src_shape is not None and index.ndim != len(src_shape)):
            raise RuntimeError(f"scatter(): Index tensor must have the same number of dimensions "
                               f"as self and src {where}")
        for k, m in enumerate(index.shape):
            if (src_shape is not None and m > src_shape[k]) or (k != d and m > self.shape[k]):
                raise RuntimeError(f"scatter(): Expected index size {m} at dim {k} to be at most "
                                   f"the size of src there, and of self outside dim {where}")
        xp = array_module(self._data)
        idx = index._data if index.device == self.device else to_device(index._data, self.device)
        size = self.shape[d]
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
            bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
            raise RuntimeError(f"scatter(): index {bad} is out of bounds for dimension {d} with "
                               f"size {size} {where}")
        positions = tuple(idx if k == d else xp.arange(m).reshape((-1,) + (1,) * (idx.ndim - k - 1))
                          for k, m in enumerate(idx.shape))
        region = tuple(slice(0, m) for m in idx.shape)
        scalar = not isinstance(src, Tensor)
        if scalar:
            src = xp.asarray(src, dtype=self._data.dtype)
        return ops.Scatter.apply(self, src, positions=positions, region=region, scalar=scalar)

    def scatter_(self, dim, index, src=None, *, value=None):
        """In-place ``scatter`` (``zeros(10).scatter_(0, index, value=1)``: one-hot rows)."""
        return self._inplace(lambda s: s.scatter(dim, index, src, value=value), src)

    # ---- in-place ops (optimizers, initialisation): the bookkeeping is in views.py --------
    def _inplace(self, out_of_place, *others):
        """Run ``out_of_place(self)`` and store the result into self (``views.apply_inplace``)."""
        return views.apply_inplace(self, out_of_place, *others)

    # ``x += y`` on a tensor is in place, as in torch (an optimizer step ``w -= lr * w.grad``
    # must update w itself, not rebind the name to a new tensor)
    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def add_(self, other, alpha=1):
        return self._inplace(lambda s: s.add(other, alpha=alpha), other)

    def sub_(self, other, alpha=1):
        return self._inplace(lambda s: s.sub(other, alpha=alpha), other)

    def mul_(self, other):
        return self._inplace(lambda s: s * other, other)

    def div_(self, other):
        return self._inplace(lambda s: s / other, other)

    def pow_(self, exponent):
        return self._inplace(lambda s: s ** exponent, exponent)

    def clamp_(self, min=None, max=None):
        return self._inplace(lambda s: s.clamp(min, max))

    def sqrt_(self):
        return self._inplace(lambda s: s.sqrt())

    def exp_(self):
        return self._inplace(lambda s: s.exp())

    def relu_(self):
        return self._inplace(lambda s: s.relu())

    def addcmul_(self, tensor1, tensor2, value=1):
        return self._inplace(lambda s: s + value * tensor1 * tensor2, tensor1, tensor2)

    def addcdiv_(self, tensor1, tensor2, value=1):
        return self._inplace(lambda s: s + value * tensor1 / tensor2, tensor1, tensor2)

    def lerp_(self, end, weight):
        return self._inplace(lambda s: s + weight * (end - s), end, weight)

    def copy_(self, src):
        """Copy ``src`` (broadcast to self's shape, cast to self's dtype) into self."""
        if not isinstance(src, Tensor):
            src = Tensor._make(array_module(self._data).asarray(src))
        if broadcast_shapes("copy_", self.shape, src.shape) != tuple(self.shape):
            raise RuntimeError(f"copy_: the source of shape {fmt_shape(src.shape)} cannot be "
                               f"broadcast to the destination's shape {fmt_shape(self.shape)}")
        if src.device != self.device:
            src = src.to(self.device)
        return self._inplace(lambda s: ops.Copy.apply(s, src), src)

    def fill_(self, value):
        if isinstance(value, Tensor) and value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions")
        return self.copy_(value)

    def zero_(self):
        return self.fill_(0)

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from .random import _generator
        return self.copy_(Tensor._make(_generator(generator).uniform(a, b, self.shape)))

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from .random import _generator
        return self.copy_(Tensor._make(_generator(generator).normal(mean, std, self.shape)))

    # ---- conveniences ---------------------------------------------------------------------
    def type_as(self, other):
        return self.to(other.dtype)

    def new_zeros(self, *size):
        return Tensor._make(array_module(self._data).zeros(_size_args(size), dtype=self._data.dtype))

    def new_ones(self, *size):
        return Tensor._make(array_module(self._data).ones(_size_args(size), dtype=self._data.dtype))

    def new_tensor(self, data):
        return Tensor._make(array_module(self._data).asarray(data, dtype=self._data.dtype))

    def softmax(self, dim=None, dtype=None):
        """softmax along ``dim`` (``ops.Softmax``); ``dtype``: cast first, as torch."""
        return self._softmax_like(ops.Softmax, "softmax", dim, dtype)

    def log_softmax(self, dim=None, dtype=None):
        """log_softmax along ``dim`` (``ops.LogSoftmax``); stable for logits of any magnitude."""
        return self._softmax_like(ops.LogSoftmax, "log_softmax", dim, dtype)

    def _softmax_like(self, fn, op: str, dim, dtype) -> "Tensor":
        x = self if dtype is None else self.to(to_dtype(dtype))
        if not x.is_floating_point():
            # torch raises NotImplementedError ("... not implemented for 'Long'"), a RuntimeError
            raise NotImplementedError(f"{op}: expected a floating point input, got {x.dtype.name} "
                                      f"(shape {tuple(x.shape)}); convert it with .float() or "
                                      f"pass dtype=")
        if dim is None:
            # torch's legacy choice when dim is omitted: 0 for 0-, 1- and 3-D inputs, else 1
            warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the "
                          "call to include dim=X as an argument.", UserWarning, stacklevel=4)
            dim = 0 if x.ndim in (0, 1, 3) else 1
        d = normalize_dim(dim, x.ndim, op)
        if x.ndim == 0:  # a single element: softmax 1, log_softmax 0 (and the same gradients)
            return fn.apply(x.reshape(1), 0).reshape(())
        return fn.apply(x, d)


from .backend import dtypes as _dtypes


# ---- module-level functions that Tensor methods share -------------------------------------
def write_out(out, op: str, result_fn, *inputs, same_dtype: bool = False) -> Tensor:
    """The ``out=`` argument of torch's functions: compute ``result_fn()`` and store it in
    ``out`` (resized to the result's shape, with a warning if it held elements), returning out.

    As in torch, out= does not record a graph: it refuses inputs that require grad while
    recording is on. ``same_dtype``: the result's dtype must be out's (matmul, mm); otherwise
    the result may be cast to out's dtype within its category or above (a float into an int
    is refused).
    """
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be a Tensor, not {type(out).__name__}")
    if is_grad_enabled() and any(isinstance(t, Tensor) and t._requires_grad
                                 for t in (*inputs, out)):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    result = result_fn()
    if same_dtype and result.dtype is not out.dtype:
        raise RuntimeError(f"{op}: Expected out tensor to have dtype {result.dtype.name}, but got "
                           f"{out.dtype.name} instead")
    if result.dtype.category > out.dtype.category:
        raise RuntimeError(f"{op}: result type {result.dtype.name} can't be cast to the desired "
                           f"output type {out.dtype.name}")
    if result.device != out.device:
        raise RuntimeError(f"{op}: out is on {out.device} but the result is on {result.device}")
    if out.shape != result.shape:
        if out.numel():
            warnings.warn(f"{op}: an output with one or more elements was resized since it had "
                          f"shape {list(out.shape)}, which does not match the required output "
                          f"shape {list(result.shape)}", UserWarning, stacklevel=3)
        out._data = array_module(out._data).empty(result.shape, dtype=out._data.dtype)
    views.write_raw(out, result._data)
    return out


def mm(input: Tensor, mat2: Tensor, out=None) -> Tensor:
    """The product of two matrices (2-D only, no broadcasting: ``matmul`` is the general one)."""
    for name, t in (("self", input), ("mat2", mat2)):
        if not isinstance(t, Tensor):
            raise TypeError(f"mm(): argument '{name}' must be a Tensor, not {type(t).__name__}")
        if t.ndim != 2:
            raise RuntimeError(f"mm: {name} must be a matrix, got a tensor of shape "
                               f"{fmt_shape(t.shape)}")
    if out is not None:
        return write_out(out, "mm", lambda: matmul(input, mat2), input, mat2, same_dtype=True)
    return matmul(input, mat2)


def matmul(a: Tensor, b: Tensor, out=None) -> Tensor:
    """a @ b; shapes checked first: ``matmul: (4,5) @ (6,2): 5 != 6``."""
    if out is not None:
        return write_out(out, "matmul", lambda: matmul(a, b), a, b, same_dtype=True)
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul: expected two Tensors, got {type(a).__name__} and {type(b).__name__}")
    sa, sb = a.shape, b.shape
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D: {fmt_shape(sa)} @ {fmt_shape(sb)}")
    k_a = sa[-1]
    k_b = sb[0] if b.ndim == 1 else sb[-2]
    if k_a != k_b:
        raise ShapeError(f"matmul: {fmt_shape(sa)} @ {fmt_shape(sb)}: {k_a} != {k_b}")
    if a.dtype is not b.dtype:
        # torch does not promote here: int64 @ float32 is an error, not a float32 product
        raise RuntimeError(f"matmul: expected both operands to have the same dtype, but got "
                           f"{a.dtype.name} {fmt_shape(sa)} @ {b.dtype.name} {fmt_shape(sb)}; "
                           f"convert one with .to()")
    if a.ndim > 2 or b.ndim > 2:
        broadcast_shapes(f"matmul: batch dimensions of {fmt_shape(sa)} @ {fmt_shape(sb)}",
                         sa[:-2] if a.ndim > 1 else (), sb[:-2] if b.ndim > 1 else ())
    a, b = a._operands(b, "matmul", broadcast=False)
    return ops.MatMul.apply(a, b)


def _tensor_list(tensors, op):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected a list of Tensors, but element {i} is "
                            f"{type(t).__name__}")
    devs = {t.device for t in tensors}
    if len(devs) > 1:
        raise RuntimeError(f"{op}: expected all tensors to be on the same device, but found "
                           + " and ".join(sorted(str(d) for d in devs)))
    dt = promote_types([t.dtype for t in tensors])
    return [t if t.dtype is dt else ops.Cast.apply(t, dt) for t in tensors]


def cat(tensors, dim=0) -> Tensor:
    """Concatenate along an existing dim; all other sizes must match."""
    tensors = _tensor_list(tensors, "cat")
    ref = tensors[0]
    d = normalize_dim(dim, ref.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for k, (a, b) in enumerate(zip(t.shape, ref.shape))
                                     if k != d):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {d}: tensor 0 "
                               f"has shape {fmt_shape(ref.shape)} but tensor {i} has shape "
                               f"{fmt_shape(t.shape)}")
    return ops.Cat.apply(*tensors, dim=d)


concat = concatenate = cat


def stack(tensors, dim=0) -> Tensor:
    """Stack equal-shaped tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    ref = tensors[0]
    for i, t in enumerate(tensors):
        if t.shape != ref.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{fmt_shape(ref.shape)} at entry 0 and {fmt_shape(t.shape)} at "
                               f"entry {i}")
    return ops.Stack.apply(*tensors, dim=normalize_dim(dim, ref.ndim + 1, "stack"))


def where(condition, input, other) -> Tensor:
    """Elementwise ``input`` where ``condition`` holds, else ``other`` (differentiable in both)."""
    if not isinstance(condition, Tensor) or condition.dtype is not _dtypes.bool_:
        raise TypeError("where: expected condition to be a bool Tensor")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):  # two Python scalars
        dt = promote_types([], [], [input, other])
        input = Tensor._make(array_module(condition._data).asarray(input, dtype=dt.np))
    if not isinstance(input, Tensor):
        input, other = other, input
        swapped = True
    else:
        swapped = False
    if condition.device != input.device:
        raise RuntimeError(f"where: expected all tensors to be on the same device, but found "
                           f"condition on {condition.device} and input on {input.device}")
    a, b = input._operands(other, "where")
    if swapped:
        a, b = b, a
    shapes = [condition.shape] + [x.shape for x in (a, b) if isinstance(x, Tensor)]
    broadcast_shapes("where", *shapes)
    return ops.Where.apply(condition._data, a, b)


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Draw ``num_samples`` category indices from each row of ``input`` (1-D or 2-D, entries
    non-negative weights, not necessarily summing to 1): P(i) = wᵢ / Σⱼ wⱼ. Without replacement
    a drawn category is not drawn again. Int64 result of shape (num_samples,) or (rows,
    num_samples), drawn on the CPU from minitorch's generator. No gradient."""
    from .random import _generator
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be a Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim not in (1, 2) or not input.is_floating_point():
        raise RuntimeError(f"multinomial: expected a 1-D or 2-D floating point tensor of "
                           f"probabilities, got {input.dtype.name} of shape {fmt_shape(input.shape)}")
    w = np.asarray(input._cpu_array(), dtype=np.float64).reshape(-1, input.shape[-1])
    n = w.shape[1]
    if not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample num_samples={num_samples} (must be > 0)")
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample ({num_samples}) > "
                           f"prob_dist.size(-1) ({n}) samples without replacement")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    totals = w.sum(axis=1)
    if np.any(totals <= 0):
        raise RuntimeError(f"multinomial: invalid distribution in row(s) "
                           f"{np.flatnonzero(totals <= 0).tolist()}: the weights sum to 0")
    rng = _generator(generator)
    out = np.stack([rng.choice(n, size=num_samples, replace=replacement, p=row / row.sum())
                    for row in w]).astype(np.int64)
    if input.ndim == 1:
        out = out[0]
    return Tensor._make(to_device(out, input.device) if input.device.type != "cpu" else out)
