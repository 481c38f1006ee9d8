"""A strict NumPy-backed stand-in for the part of CuPy that minitorch uses: the engine's CUDA path
run without a GPU (tests only; ``MINITORCH_FAKE_CUPY=1``, see :func:`minitorch.backend.device.cupy_module`).

:func:`module` builds a module object named ``cupy`` (``xp.__name__ == "cupy"``, as minitorch
checks in places) and :func:`cupyx` one named ``cupyx``. What it keeps of CuPy's behaviour:

* "Device memory": a :class:`ndarray` holds a private NumPy array; ``cp.asarray(numpy_array)``
  copies host data in, ``.get()`` copies it out. Views (slices, reshapes, transposes) share
  the device memory, as CuPy's do.
* CuPy's refusals, with CuPy's errors: ``numpy.asarray(cupy_array)`` (``__array__``) raises
  TypeError "Implicit conversion to a NumPy array is not allowed"; a NumPy array given to a
  CuPy function, an operator or a ufunc raises TypeError "Unsupported type"; assigning a NumPy
  array into a slice (``a[1:] = numpy_array``) raises ValueError ("non-scalar numpy.ndarray
  cannot be used for fill"). Python and NumPy scalars mix freely; ``int()``/``float()``/
  ``bool()`` of one-element arrays work; NumPy arrays and lists are accepted as *indices*
  (CuPy uploads them) — all as CuPy does.
* Results are CuPy-shaped: a reduction or an integer index gives a 0-d array, not a scalar.
* NumPy functions called on these arrays dispatch here (``__array_function__``,
  ``__array_ufunc__``) as they do to CuPy; a function CuPy does not have raises TypeError.
* Only names CuPy has exist (:data:`FUNCTIONS`, each checked against CuPy's namespace): code
  that uses a NumPy function CuPy lacks fails here as it would on a GPU.
* ``RawModule(code=...)`` compiles the CUDA source with :mod:`minitorch.testing.cuda_cpu` and
  ``get_function(name)(grid, block, args)`` runs the kernel on the CPU with every check of that
  layer (argument types against the kernel's signature, exact-size buffers, poisoned outputs,
  barrier divergence, and the variant's checkers: ``$MINITORCH_CUDA_CPU_VARIANT``).
* ``cupyx.scatter_add`` (unbuffered add at indices), ``cuda.Device`` (one device; ``with``
  blocks, ``synchronize``, ``attributes["MultiProcessorCount"]``), ``cuda.runtime``.

What it does not model: asynchronous execution and streams, memory pools, several devices,
CuPy's own kernel-fusion numerics (results are NumPy's), dtype support gaps.
"""
from __future__ import annotations

import functools
import re
import types

import numpy as np

DEVICE_COUNT = 1
SM_COUNT = 132                      # an H100 SXM, as the CPU launcher plans for
DEVICE_NAME = "CUDA-on-CPU emulator (minitorch.testing.cuda_cpu)"

# NumPy functions that CuPy has at top level too (the names of cupy/__init__.py that are NumPy
# functions); each runs NumPy's function on the device memory.
FUNCTIONS = frozenset("""
isscalar ndim common_type result_type can_cast promote_types issubdtype
abs absolute add all allclose amax amin angle any append apply_along_axis apply_over_axes arange
arccos arccosh arcsin arcsinh arctan arctan2 arctanh argmax argmin argpartition argsort argwhere
around array_equal array_equiv array_repr array_split array_str asarray_chkfinite atleast_1d
atleast_2d atleast_3d average bartlett bincount bitwise_and bitwise_count bitwise_not bitwise_or
bitwise_xor blackman broadcast_arrays broadcast_shapes broadcast_to cbrt ceil choose clip
column_stack compress concatenate conj conjugate convolve copy copysign copyto corrcoef correlate
cos cosh count_nonzero cov cross cumprod cumsum cumulative_prod cumulative_sum deg2rad degrees
delete diag diag_indices diag_indices_from diagflat diagonal diff digitize divide divmod dot dsplit
dstack ediff1d einsum empty empty_like equal exp exp2 expand_dims expm1 extract eye fabs
fill_diagonal fix flatnonzero flip fliplr flipud float_power floor floor_divide fmax fmin fmod
format_float_positional format_float_scientific frexp frombuffer fromfile fromfunction fromiter
fromstring full full_like gcd genfromtxt get_printoptions gradient greater greater_equal hamming
hanning heaviside histogram histogram2d histogramdd hsplit hstack hypot i0 identity imag indices
inner interp intersect1d invert isclose iscomplex iscomplexobj isfinite isfortran isin isinf isnan
isneginf isposinf isreal isrealobj ix_ kaiser kron lcm ldexp left_shift less less_equal lexsort
linspace load loadtxt log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or
logical_xor logspace mask_indices matmul matrix_transpose max maximum may_share_memory mean median
meshgrid min minimum mod modf moveaxis multiply nan_to_num nanargmax nanargmin nancumprod nancumsum
nanmax nanmean nanmedian nanmin nanprod nanstd nansum nanvar negative nextafter nonzero not_equal
ones ones_like outer packbits pad partition percentile piecewise place poly polyadd polyfit polymul
polysub polyval positive power printoptions prod ptp put put_along_axis putmask quantile rad2deg
radians ravel ravel_multi_index real real_if_close reciprocal remainder repeat require reshape
resize right_shift rint roll rollaxis roots rot90 round row_stack save savez savez_compressed
searchsorted select set_printoptions setdiff1d setxor1d shape shares_memory sign signbit sin sinc
sinh size sort sort_complex split sqrt square squeeze stack std subtract sum swapaxes take
take_along_axis tan tanh tensordot tile trace transpose trapezoid tri tril tril_indices
tril_indices_from trim_zeros triu triu_indices triu_indices_from true_divide trunc union1d unique
unique_all unique_counts unique_inverse unique_values unpackbits unravel_index unwrap vander var
vdot vsplit vstack where zeros zeros_like
""".split())
# Types, dtype helpers and constants CuPy re-exports from NumPy.
CONSTANTS = """
bool bool_ byte bytes_ cdouble character complex128 complex64 complexfloating csingle double dtype
finfo flexible float16 float32 float64 floating generic half iinfo inexact int16 int32 int64 int8
int_ intc integer intp long longlong number object_ short signedinteger single ubyte uint uint16
uint32 uint64 uint8 uintc uintp ulong ulonglong unsignedinteger ushort void
inf nan pi e newaxis
""".split()
# ndarray methods CuPy has (cupy/_core/core.pyx), run by NumPy's on the device memory.
METHODS = frozenset("""
all any argmax argmin argsort astype clip conj conjugate copy cumprod cumsum diagonal dot fill
flatten item max mean min nonzero prod ptp put ravel repeat reshape round sort squeeze std sum
swapaxes take tolist tobytes trace transpose var view
""".split())


class CUDARuntimeError(RuntimeError):
    """cupy_backends.cuda.api.runtime.CUDARuntimeError"""


# ---------------------------------------------------------------------------------------------
# Devices
# ---------------------------------------------------------------------------------------------
_device_stack = [0]


class Device:
    """cupy.cuda.Device: ``Device()`` is the current device, ``with Device(i):`` makes i current."""

    def __init__(self, device=None):
        self.id = _device_stack[-1] if device is None else int(device)
        if not 0 <= self.id < DEVICE_COUNT:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def __enter__(self):
        _device_stack.append(self.id)
        return self

    def __exit__(self, *exc):
        _device_stack.pop()

    def use(self):
        _device_stack[-1] = self.id

    def synchronize(self):
        """Kernels run synchronously here: nothing to wait for."""

    @property
    def attributes(self):
        return {"MultiProcessorCount": SM_COUNT, "MaxThreadsPerBlock": 1024, "WarpSize": 32,
                "MaxGridDimY": 65535, "MaxGridDimZ": 65535}

    @property
    def compute_capability(self):
        return "90"

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(("Device", self.id))

    def __int__(self):
        return self.id

    def __repr__(self):
        return f"<CUDA Device {self.id} (emulated)>"


def _runtime_module():
    rt = types.ModuleType("cupy.cuda.runtime")
    rt.CUDARuntimeError = CUDARuntimeError
    rt.getDeviceCount = lambda: DEVICE_COUNT
    rt.getDevice = lambda: _device_stack[-1]

    def get_device_properties(device):
        Device(device)
        return {"name": DEVICE_NAME.encode(), "multiProcessorCount": SM_COUNT,
                "totalGlobalMem": 0, "major": 9, "minor": 0}
    rt.getDeviceProperties = get_device_properties
    rt.deviceSynchronize = lambda: None
    return rt


# ---------------------------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------------------------
def _unsupported(x):
    return TypeError(f"Unsupported type {type(x)}")


def _unwrap(x):
    """Device arrays → their memory; NumPy arrays refused (CuPy: no implicit host-to-device)."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        raise _unsupported(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


def _unwrap_index(key):
    """Indices may be device arrays, NumPy arrays or lists (CuPy uploads the last two)."""
    if isinstance(key, ndarray):
        return key._a
    if isinstance(key, tuple):
        return tuple(_unwrap_index(k) for k in key)
    if isinstance(key, list):
        return [_unwrap_index(k) for k in key]
    return key


def _basic(key) -> bool:
    """A basic index (ints, slices, None, Ellipsis) — no array or list in it."""
    keys = key if isinstance(key, tuple) else (key,)
    return not any(isinstance(k, (ndarray, np.ndarray, list)) for k in keys)


def _wrap(r, device=None):
    """NumPy results → device arrays (a NumPy scalar becomes a 0-d array, as CuPy returns)."""
    if isinstance(r, np.ndarray):
        return ndarray._of(r, device)
    if isinstance(r, np.generic):
        return ndarray._of(np.asarray(r), device)
    if isinstance(r, tuple):
        return tuple(_wrap(v, device) for v in r)
    if isinstance(r, list):
        return [_wrap(v, device) for v in r]
    return r


def _function(name):
    numpy_fn = getattr(np, name)

    @functools.wraps(numpy_fn)
    def fn(*args, **kwargs):
        return _wrap(numpy_fn(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
    fn.__module__ = "cupy"
    return fn


class ndarray:
    """cupy.ndarray over a private NumPy array (the device memory)."""

    __slots__ = ("_a", "_device")
    __array_priority__ = 100.0
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("the CuPy stand-in allocates its own memory")
        self._a = np.empty(shape, dtype=dtype, order=order)
        self._device = Device().id

    @classmethod
    def _of(cls, a: np.ndarray, device=None):
        obj = object.__new__(cls)
        obj._a = a
        obj._device = Device().id if device is None else device
        return obj

    # ---- attributes --------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray._of(self._a.T, self._device))
    mT = property(lambda self: ndarray._of(np.swapaxes(self._a, -1, -2), self._device))
    real = property(lambda self: ndarray._of(self._a.real, self._device))
    imag = property(lambda self: ndarray._of(self._a.imag, self._device))
    device = property(lambda self: Device(self._device))

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self._a.ctypes.data, device_id=self._device)

    @property
    def base(self):
        return None if self._a.base is None else ndarray._of(self._a.base, self._device)

    # ---- host <-> device ---------------------------------------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        """A host (NumPy) copy."""
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def set(self, arr, stream=None):
        """Copy host data in (same shape)."""
        if not isinstance(arr, np.ndarray) or arr.shape != self.shape:
            raise ValueError("set() needs a numpy.ndarray of the array's shape")
        self._a[...] = arr

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` "
                        "to construct a NumPy array explicitly.")

    def __reduce__(self):
        return _array_from_host, (self.get(),)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    # ---- conversions and printing (CuPy fetches the value) -----------------------------------
    def __int__(self):
        return int(self._a)

    def __float__(self):
        return float(self._a)

    def __complex__(self):
        return complex(self._a)

    def __bool__(self):
        return bool(self._a)

    def __len__(self):
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __repr__(self):
        return repr(self._a)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a, spec)

    # ---- indexing ----------------------------------------------------------------------------
    def __getitem__(self, key):
        return _wrap(self._a[_unwrap_index(key)], self._device)

    def __setitem__(self, key, value):
        if isinstance(value, np.ndarray) and value.ndim > 0 and _basic(key):
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        self._a[_unwrap_index(key)] = value._a if isinstance(value, ndarray) else value

    # ---- numpy protocol: NumPy functions and ufuncs dispatch to this module -----------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc.__name__ not in FUNCTIONS or method not in ("__call__", "at", "reduce"):
            return NotImplemented
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(o) for o in kwargs["out"])
        result = getattr(ufunc, method)(*_unwrap(inputs), **kwargs)
        if method == "at":
            return None
        return _wrap(result, self._device)

    def __array_function__(self, func, types_, args, kwargs):
        if func.__name__ not in FUNCTIONS and func is not np.lib.stride_tricks.as_strided:
            return NotImplemented
        return _wrap(func(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}),
                     self._device)

    def __getattr__(self, name):
        if name in METHODS:
            method = getattr(self._a, name)
            device = self._device

            def call(*args, **kwargs):
                return _wrap(method(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}),
                             device)
            return call
        raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        return ndarray._of(self._a.astype(dtype, order=order, copy=copy), self._device)

    def scatter_add(self, slices, value):
        np.add.at(self._a, _unwrap_index(slices), _unwrap(value))


def _binary(name, reflected=False, inplace=False):
    ufunc = getattr(np, name)

    def op(self, other):
        if isinstance(other, np.ndarray):
            raise _unsupported(other)
        other = other._a if isinstance(other, ndarray) else other
        if inplace:
            ufunc(self._a, other, out=self._a)
            return self
        a, b = (other, self._a) if reflected else (self._a, other)
        return _wrap(ufunc(a, b), self._device)
    return op


for _op, _fn in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("matmul", "matmul"),
                 ("truediv", "true_divide"), ("floordiv", "floor_divide"), ("mod", "remainder"),
                 ("pow", "power"), ("and", "bitwise_and"), ("or", "bitwise_or"),
                 ("xor", "bitwise_xor"), ("lshift", "left_shift"), ("rshift", "right_shift")):
    setattr(ndarray, f"__{_op}__", _binary(_fn))
    setattr(ndarray, f"__r{_op}__", _binary(_fn, reflected=True))
    setattr(ndarray, f"__i{_op}__", _binary(_fn, inplace=True))
for _op, _fn in (("eq", "equal"), ("ne", "not_equal"), ("lt", "less"), ("le", "less_equal"),
                 ("gt", "greater"), ("ge", "greater_equal")):
    setattr(ndarray, f"__{_op}__", _binary(_fn))
for _op, _fn in (("neg", "negative"), ("pos", "positive"), ("abs", "absolute"), ("invert", "invert")):
    setattr(ndarray, f"__{_op}__", (lambda f: lambda self: _wrap(f(self._a), self._device))(getattr(np, _fn)))


# ---------------------------------------------------------------------------------------------
# Creating arrays (the only way host data gets in)
# ---------------------------------------------------------------------------------------------
def _array_from_host(obj, dtype=None, copy=True, order="K", ndmin=0):
    if isinstance(obj, ndarray):
        a = np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin)
    else:
        a = np.array(_host_value(obj), dtype=dtype, copy=True, order=order, ndmin=ndmin)
    return ndarray._of(a)


def _host_value(obj):
    """Host data (NumPy arrays, lists, scalars) as NumPy sees it; device arrays inside a list
    refuse, as CuPy's do (TypeError: implicit conversion)."""
    if isinstance(obj, (list, tuple)):
        return type(obj)(_host_value(v) for v in obj)
    if isinstance(obj, ndarray):
        obj.__array__()
    return obj


def asarray(a, dtype=None, order=None, *, blocking=False):
    """A device array of ``a``: the same array when it already is one of ``dtype``; host data
    is copied in."""
    if isinstance(a, ndarray) and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return _array_from_host(a, dtype=dtype, copy=isinstance(a, ndarray) or None,
                            order=order or "K")


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    return _array_from_host(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin)


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, ndarray):
        return _array_from_host(a, dtype=dtype, order="C")
    if a._a.flags.c_contiguous and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    return ndarray._of(np.ascontiguousarray(a._a, dtype=dtype), a._device)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    return a.get(order=order, out=out) if isinstance(a, ndarray) else np.asarray(a, order=order)


def get_array_module(*args):
    return _MODULE if any(isinstance(a, ndarray) for a in args) else np


# ---------------------------------------------------------------------------------------------
# Raw kernels: the CUDA source on the CPU
# ---------------------------------------------------------------------------------------------
class RawKernel:
    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, grid, block, args, shared_mem=0, stream=None, enable_cooperative_groups=False):
        if shared_mem:
            raise NotImplementedError("dynamic shared memory is not emulated")
        host = []
        for a in args:
            if isinstance(a, np.ndarray):     # CuPy: kernel arguments live on the device
                raise _unsupported(a)
            host.append(a._a if isinstance(a, ndarray) else a)
        self.module.launch(self.name, tuple(grid), tuple(block), tuple(host))


class RawModule:
    """cupy.RawModule(code=...): the source compiled for the CPU by minitorch.testing.cuda_cpu
    (build variant $MINITORCH_CUDA_CPU_VARIANT, default fast)."""

    def __init__(self, code=None, path=None, options=(), backend="nvrtc", translate_cucomplex=False,
                 enable_cooperative_groups=False, name_expressions=None, jitify=False):
        from .cuda_cpu import load
        from .cuda_cpu.launcher import default_variant
        if code is None:
            raise NotImplementedError("the CuPy stand-in compiles source code only (code=...)")
        m = re.search(r"^//\s*(\w+)\.cu\b", code, re.M)     # "// sgemm.cu — …" names the file
        self.options = tuple(options)
        self._module = load(code, m.group(1) if m else "module", default_variant())

    def get_function(self, name):
        if name not in self._module.compiled:
            raise CUDARuntimeError(f"CUDA_ERROR_NOT_FOUND: named symbol not found ({name})")
        return RawKernel(self._module, name)


# ---------------------------------------------------------------------------------------------
# The module objects
# ---------------------------------------------------------------------------------------------
def _scatter_add(a, slices, value):
    """cupyx.scatter_add: a[slices] += value, unbuffered (repeated indices all add)."""
    if not isinstance(a, ndarray):
        raise TypeError("cupyx.scatter_add takes a cupy.ndarray")
    a.scatter_add(slices, value)


def _build():
    cp = types.ModuleType("cupy", __doc__)
    for name in FUNCTIONS:  # those this NumPy has (2.5 removed row_stack, for one)
        if hasattr(np, name):
            setattr(cp, name, _function(name))
    for name in CONSTANTS:
        if hasattr(np, name):
            setattr(cp, name, getattr(np, name))
    for fn in (asarray, array, ascontiguousarray, asnumpy, get_array_module):
        setattr(cp, fn.__name__, fn)
    cp.ndarray, cp.RawModule, cp.RawKernel = ndarray, RawModule, RawKernel
    cp.cuda = types.ModuleType("cupy.cuda")
    cp.cuda.Device, cp.cuda.runtime = Device, _runtime_module()
    cp.cuda.is_available = lambda: True
    cp.lib = types.ModuleType("cupy.lib")
    cp.lib.stride_tricks = types.ModuleType("cupy.lib.stride_tricks")
    cp.lib.stride_tricks.as_strided = lambda x, shape=None, strides=None: ndarray._of(
        np.lib.stride_tricks.as_strided(_unwrap(x), shape, strides), x._device)
    cp.is_available = lambda: True
    cp.__version__ = "0+minitorch.fake"
    cp.emulated = True      # how tests tell the stand-in from CuPy
    x = types.ModuleType("cupyx")
    x.scatter_add = _scatter_add
    return cp, x


_MODULE, _CUPYX = _build()


def module():
    """The stand-in ``cupy`` module."""
    return _MODULE


def cupyx():
    """The stand-in ``cupyx`` module (``scatter_add``)."""
    return _CUPYX


def install():
    """The stand-in ``cupy`` module, with ``cupyx`` importable as the stand-in too (minitorch
    does ``import cupyx`` for ``scatter_add``). Called by ``cupy_module()`` under
    ``MINITORCH_FAKE_CUPY=1``; a process that asks for the stand-in gets it for good."""
    import sys
    sys.modules["cupyx"] = _CUPYX
    return _MODULE
