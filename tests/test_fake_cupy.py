"""The CuPy stand-in (minitorch/testing/fake_cupy.py) is as strict as CuPy where minitorch could
go wrong on a GPU: no implicit device-to-host conversion, no NumPy arrays mixed into device
computations, CuPy-shaped results — and its RawModule runs the real kernels on the CPU.

These run in the ordinary suite (the stand-in is imported directly, not installed); ``make test``
then runs every ``cuda``-marked test with it installed (``MINITORCH_FAKE_CUPY=1``).
"""
import copy
import pickle

import numpy as np
import pytest

from minitorch.backend import kernels
from minitorch.testing import fake_cupy

cp = fake_cupy.module()


def test_it_is_a_module_named_cupy_with_cupys_names():
    assert cp.__name__ == "cupy" and cp.emulated
    assert cp.float32 is np.float32 and cp.newaxis is None and cp.inf == np.inf
    for name in ("matmul", "where", "take_along_axis", "put_along_axis", "may_share_memory", "pad"):
        assert callable(getattr(cp, name))
    assert not hasattr(cp, "insert")              # NumPy has it, CuPy does not
    assert cp.cuda.runtime.getDeviceCount() == 1
    assert fake_cupy.cupyx().scatter_add is not None


def test_host_data_goes_in_and_out_by_copy_only():
    host = np.arange(6.0).reshape(2, 3)
    a = cp.asarray(host)
    host[0, 0] = 100.0
    assert float(a[0, 0]) == 0.0                 # the device has its own copy
    back = a.get()
    back[0, 1] = -1.0
    assert float(a[0, 1]) == 1.0
    assert isinstance(back, np.ndarray) and cp.asnumpy(a).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert cp.asarray(a) is a and cp.asarray(a, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda a: np.add(np.ones(3), a),
                                     lambda a: np.ones(3) + a, lambda a: a + np.ones(3),
                                     lambda a: cp.maximum(a, np.ones(3)),
                                     lambda a: cp.stack([a, np.ones(3)]),
                                     lambda a: cp.asarray([a, a])],
                         ids=["np.asarray", "np.array", "np.add", "numpy+cupy", "cupy+numpy",
                              "cupy-function", "in-a-list", "device-array-in-host-list"])
def test_implicit_conversion_and_mixing_with_numpy_raise_as_in_cupy(convert):
    a = cp.arange(3.0)
    with pytest.raises(TypeError, match="Implicit conversion|Unsupported type"):
        convert(a)


def test_assigning_numpy_arrays_into_slices_raises_but_scalars_and_indices_work():
    a = cp.zeros((3, 4))
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        a[1] = np.ones(4)
    a[1] = 2.0
    a[np.array([0, 2]), 1] = 5.0                  # a NumPy index (CuPy uploads it)
    a[[0], 0] = np.float32(7)
    a[2, 2:] = cp.asarray(np.array([8.0, 9.0]))
    assert a.get().tolist() == [[7, 5, 0, 0], [2, 2, 2, 2], [0, 5, 8, 9]]


def test_results_are_device_arrays_and_scalars_are_zero_d_arrays():
    a = cp.asarray(np.arange(6.0).reshape(2, 3))
    for r in (a.sum(), cp.max(a), a[1, 2], np.sum(a), a.argmax()):
        assert isinstance(r, cp.ndarray) and r.ndim == 0
    assert float(a.sum()) == 15.0 and int(a[1, 2]) == 5 and bool(a[0, 1])
    assert isinstance(np.exp(a), cp.ndarray)       # NumPy functions dispatch to the device
    v = a.T
    v[0, 0] = -1.0                                 # views share device memory
    assert float(a[0, 0]) == -1.0
    assert repr(cp.arange(2)) == "array([0, 1])" and f"{a[0, 1]:.1f}" == "1.0"


def test_numpy_functions_cupy_lacks_raise():
    with pytest.raises(TypeError, match="no implementation found for 'numpy.insert'"):
        np.insert(cp.arange(3), 0, 1)


def test_copies_and_pickles_go_through_the_host():
    a = cp.arange(4.0)
    for b in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert isinstance(b, cp.ndarray) and b.get().tolist() == [0, 1, 2, 3]
        b[0] = 9.0
        assert float(a[0]) == 0.0


def test_scatter_add_adds_at_repeated_indices():
    a = cp.zeros(4)
    fake_cupy.cupyx().scatter_add(a, cp.asarray(np.array([0, 1, 1, 3])), cp.ones(4))
    assert a.get().tolist() == [1, 2, 0, 1]


def test_devices():
    assert cp.cuda.Device().id == 0 and cp.cuda.Device().attributes["MultiProcessorCount"] == 132
    with cp.cuda.Device(0) as d:
        assert cp.zeros(2).device == d
    with pytest.raises(fake_cupy.CUDARuntimeError, match="invalid device ordinal"):
        cp.cuda.Device(1)


def test_raw_module_runs_the_kernel_source_on_the_cpu():
    mod = cp.RawModule(code=kernels.kernel_source("maxpool2d"), options=kernels.NVRTC_OPTIONS)
    fn = mod.get_function("max_pool2d_fwd")
    x = cp.asarray(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    y, ind = cp.empty((1, 1, 2, 2), np.float32), cp.empty((1, 1, 2, 2), np.int64)
    fn((1, 1, 1), (256, 1, 1), (x, y, ind, np.int64(4), *(np.int32(v) for v in
                                                           (4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1)),
                                np.int32(1)))
    assert y.get().ravel().tolist() == [5, 7, 13, 15] and ind.get().ravel().tolist() == [5, 7, 13, 15]
    with pytest.raises(TypeError, match="Unsupported type"):
        fn((1,), (256,), (np.zeros(16, np.float32), y, ind))
    with pytest.raises(fake_cupy.CUDARuntimeError, match="named symbol not found"):
        mod.get_function("nope")


def test_dtype_functions_take_device_arrays_as_cupys_do():
    """NumPy's dtype helpers on CuPy arrays dispatch to CuPy's (which accept arrays)."""
    a, b = cp.zeros(2, np.float32), cp.zeros(2, np.int64)
    assert np.result_type(a, b) == np.float64 and cp.result_type(a, 1.0) == np.float32
    assert np.can_cast(a, np.float64) and cp.ndim(a) == 1 and not cp.isscalar(a)
