"""``minitorch.accelerator``, ``minitorch.backends`` and ``minitorch.cuda``'s additions, answer for
answer against torch on this machine (whatever it has), and the CUDA branch on a fake CuPy."""
import types

import pytest
import torch

import minitorch
from minitorch import accelerator


def describe(fn):
    """What a call gives: ('value', result) or ('raises', exception type)."""
    try:
        return ("value", fn())
    except Exception as e:  # noqa: BLE001  (the exception's type is the answer compared)
        return ("raises", type(e))


def as_type(device):
    return None if device is None else device.type


@pytest.mark.parametrize("name, call", [
    ("is_available", lambda L: L.accelerator.is_available()),
    ("device_count", lambda L: L.accelerator.device_count()),
    ("current_accelerator", lambda L: as_type(L.accelerator.current_accelerator())),
    ("current_accelerator checked",
     lambda L: as_type(L.accelerator.current_accelerator(check_available=True))),
    ("current_device_index", lambda L: L.accelerator.current_device_index()),
    ("set_device_index(0)", lambda L: L.accelerator.set_device_index(0)),
    ("set_device_index(None)", lambda L: L.accelerator.set_device_index(None)),
    ("synchronize", lambda L: L.accelerator.synchronize()),
    ("cuda.is_available", lambda L: L.cuda.is_available()),
    ("cuda.device_count", lambda L: L.cuda.device_count()),
    ("cuda.manual_seed", lambda L: L.cuda.manual_seed(3)),
    ("cuda.manual_seed_all", lambda L: L.cuda.manual_seed_all(3)),
    ("mps.is_available", lambda L: L.backends.mps.is_available()),
    ("mps.is_built", lambda L: L.backends.mps.is_built()),
    ("cudnn.is_available", lambda L: L.backends.cudnn.is_available()),
    ("cudnn.version", lambda L: L.backends.cudnn.version()),
])
def test_answers_match_torch_on_this_machine(name, call):
    if name.startswith("cudnn") and torch.cuda.is_available():
        pytest.skip("with a GPU torch uses cuDNN, which minitorch never does (False/None by design)")
    assert describe(lambda: call(minitorch)) == describe(lambda: call(torch))


@pytest.mark.parametrize("flag", ["cudnn.enabled", "cudnn.benchmark", "cudnn.deterministic",
                                  "cudnn.allow_tf32", "cuda.matmul.allow_tf32"])
def test_inert_flags_start_as_torchs_and_keep_what_is_set(flag):
    def holder(L):
        *path, attr = flag.split(".")
        obj = L.backends
        for part in path:
            obj = getattr(obj, part)
        return obj, attr

    ours, attr = holder(minitorch)
    default = getattr(ours, attr)
    assert default == getattr(*holder(torch))
    try:
        setattr(ours, attr, not default)
        assert getattr(holder(minitorch)[0], attr) is (not default)
        x = minitorch.randn(3, 4)
        assert (x @ x.T).shape == (3, 3)  # nothing changes with the flag flipped
    finally:
        setattr(ours, attr, default)


def test_backends_cudnn_imports_as_a_module():
    import minitorch.backends.cudnn as cudnn
    cudnn.benchmark = True
    try:
        assert minitorch.backends.cudnn.benchmark is True
    finally:
        cudnn.benchmark = False


def test_cuda_manual_seed_leaves_the_cpu_stream_alone():
    # torch.cuda.manual_seed seeds only the GPU generator; ours has none, so the CPU draws after
    # it are those of torch.manual_seed alone, in both libraries
    for L in (torch, minitorch):
        L.manual_seed(0)
        a = L.rand(5)
        L.manual_seed(0)
        L.cuda.manual_seed(123)
        L.cuda.manual_seed_all(123)
        assert L.equal(a, L.rand(5))


def pick_device(L):
    # the device-selection idioms of recent torch programs (examples' main.py files)
    no_accel, no_mps = False, False
    dev = (L.accelerator.current_accelerator().type if L.accelerator.is_available() else "cpu")
    use_accel = not no_accel and L.accelerator.is_available()
    use_mps = not no_mps and L.backends.mps.is_available()
    use_cuda = L.cuda.is_available()
    if use_cuda:
        old = L.device("cuda")
    elif use_mps:
        old = L.device("mps")
    else:
        old = L.device("cpu")
    return dev, use_accel, str(old)


def test_device_selection_idioms_pick_what_torch_picks():
    assert pick_device(minitorch) == pick_device(torch)
    dev = pick_device(minitorch)[0]
    assert minitorch.ones(2, device=dev).device.type == dev


class FakeCupy:
    """Just enough of CuPy for the accelerator's CUDA branch: 2 devices, a current one."""

    def __init__(self, count=2):
        self.current, self.synced = 0, []
        runtime = types.SimpleNamespace(getDeviceCount=lambda: count,
                                        getDevice=lambda: self.current,
                                        setDevice=self._set)
        self.cuda = types.SimpleNamespace(runtime=runtime, Device=self._device)

    def _set(self, i):
        self.current = i

    def _device(self, i):
        return types.SimpleNamespace(synchronize=lambda: self.synced.append(i))


@pytest.fixture
def fake_gpus(monkeypatch):
    cp = FakeCupy()
    monkeypatch.setattr(accelerator, "cuda_is_available", lambda: True)
    monkeypatch.setattr(accelerator, "cupy_module", lambda required=True: cp)
    return cp


def test_cuda_branch_on_a_fake_cupy(fake_gpus):
    assert accelerator.is_available() and accelerator.device_count() == 2
    assert accelerator.current_accelerator(check_available=True) == minitorch.device("cuda")
    assert accelerator.current_device_index() == 0
    accelerator.set_device_index("cuda:1")
    assert accelerator.current_device_index() == 1 == fake_gpus.current
    accelerator.set_device_index(minitorch.device("cuda", 0))
    accelerator.synchronize()
    accelerator.synchronize(1)
    assert fake_gpus.synced == [0, 1]
    with accelerator.device_index(1):
        assert accelerator.current_device_index() == 1
    assert accelerator.current_device_index() == 0
    with accelerator.device_index(None):
        assert accelerator.current_device_index() == 0


@pytest.mark.parametrize("bad, error, words", [
    (2, RuntimeError, "device index 2 is out of range: 2 CUDA devices"),
    ("cuda:5", RuntimeError, "device index 5 is out of range"),
    ("cpu", ValueError, "'cpu' is not the current accelerator"),
    (True, ValueError, "got True"),
    (None, ValueError, "got None"),
])
def test_bad_device_index_names_itself(fake_gpus, bad, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(")):
        accelerator.set_device_index(bad)
    assert fake_gpus.current == 0


def test_without_an_accelerator_device_calls_raise_torchs_error(monkeypatch):
    monkeypatch.setattr(accelerator, "cuda_is_available", lambda: False)
    for call in (accelerator.current_device_index, accelerator.synchronize,
                 lambda: accelerator.set_device_index(0)):
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is "
                                               "available"):
            call()
    with accelerator.device_index(None):  # None: nothing to set, so no device needed
        assert accelerator.device_count() == 0


def test_device_objects_are_read_only_as_torchs():
    """Tensors on one device share its device object, so it must not be changeable: writing a
    field raises AttributeError, as for torch.device, and no other tensor's device moves."""
    a, b = minitorch.ones(2), minitorch.zeros(3)
    for t in (torch.ones(2), a):
        with pytest.raises(AttributeError):
            t.device.type = "cuda"
        with pytest.raises(AttributeError):
            t.device.index = 0
    assert str(b.device) == "cpu" and b.device == minitorch.device("cpu") and a.device is b.device
