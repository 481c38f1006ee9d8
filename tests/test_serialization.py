"""minitorch.save / minitorch.load: round trips, training resumption, atomic writes, corrupt and
foreign files, and torch interoperability through examples/convert_checkpoint.py."""
from __future__ import annotations

import errno
import importlib.util
import io
import json
import math
import os
import pickle
import stat
import struct
import time
import tracemalloc
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch_compare import assert_close

import minitorch
import minitorch.serialization as ser
from minitorch.serialization import CheckpointError

DTYPES = ["float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool"]
ROOT = Path(__file__).resolve().parents[1]


def _load_example():
    spec = importlib.util.spec_from_file_location("convert_checkpoint",
                                                  ROOT / "examples" / "convert_checkpoint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


convert = _load_example()


# ---- structural equality: types, order, dtypes, shapes, bits -----------------------------------
def assert_same(a, b, where="obj"):
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, minitorch.Tensor):
        assert a.dtype is b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        assert a.requires_grad == b.requires_grad, f"{where}: requires_grad differs"
        assert a.device == b.device
        assert a._cpu_array().tobytes() == b._cpu_array().tobytes(), f"{where}: values differ"
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), f"{where}: {a!r} != {b!r}"
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{where}: values differ"
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                     == math.copysign(1, b)), f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def roundtrip(obj, tmp_path, name="ckpt.mtc"):
    path = tmp_path / name
    minitorch.save(obj, path)
    return minitorch.load(path)


# ---- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2**80, 1.5, -0.0, 1e-310, float("inf"),
                                   float("-inf"), float("nan"), "", "héllo\n\"x\"", b"\x00\xffab",
                                   (), [], {}, (1, "a"), [None, [2.5]]],
                         ids=repr)
def test_python_scalars_and_containers_roundtrip(value, tmp_path):
    assert_same(value, roundtrip(value, tmp_path))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_tensor_roundtrip_keeps_dtype_shape_and_bits(dtype, data, tmp_path_factory):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    array = data.draw(hnp.arrays(np.dtype(dtype), shape))  # nan, inf, -0.0 included
    t = minitorch.from_numpy(array)
    back = roundtrip(t, tmp_path_factory.mktemp("t"))
    assert_same(t, back)
    assert back.is_contiguous()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool", "uint8", "float16"])
def test_numpy_arrays_and_scalars_roundtrip(dtype, tmp_path):
    a = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    obj = {"array": a, "fortran": np.asfortranarray(a), "strided": a[:, ::2],
           "scalar": a.reshape(-1)[1], "bigendian": a.astype(a.dtype.newbyteorder(">"))}
    back = roundtrip(obj, tmp_path)
    for key in ("array", "fortran", "strided", "scalar"):
        assert_same(obj[key], back[key], key)
    assert back["bigendian"].dtype.isnative and back["bigendian"].dtype.name == a.dtype.name
    np.testing.assert_array_equal(back["bigendian"], a)


def test_parameters_requires_grad_and_minitorch_types_roundtrip(tmp_path):
    p = minitorch.nn.Parameter(minitorch.randn(3, 2))
    frozen = minitorch.nn.Parameter(minitorch.randn(2), requires_grad=False)
    leaf = minitorch.randn(4, requires_grad=True)
    nonleaf = leaf * 2
    obj = {"p": p, "frozen": frozen, "leaf": leaf, "int": minitorch.arange(5),
           "size": minitorch.Size([2, 3]), "dtype": minitorch.float64,
           "device": minitorch.device("cpu")}
    back = roundtrip(dict(obj, nonleaf=nonleaf), tmp_path)
    assert_same(obj, {k: v for k, v in back.items() if k != "nonleaf"})
    assert isinstance(back["p"], minitorch.nn.Parameter) and back["p"].requires_grad
    assert not back["frozen"].requires_grad
    # a non-leaf loads as a leaf that requires grad (torch does the same); the graph is not saved
    assert back["nonleaf"].is_leaf and back["nonleaf"].requires_grad
    np.testing.assert_array_equal(back["nonleaf"].detach().numpy(), nonleaf.detach().numpy())


def _nested():
    tensors = st.sampled_from(DTYPES).flatmap(
        lambda d: hnp.arrays(np.dtype(d), hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)))
    leaves = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
              | st.text(max_size=5) | st.binary(max_size=4)
              | tensors.map(minitorch.from_numpy))
    keys = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4) \
        | st.tuples(st.integers(0, 3), st.text(max_size=2))
    return st.recursive(
        leaves,
        lambda children: (st.lists(children, max_size=4)
                          | st.lists(children, max_size=4).map(tuple)
                          | st.dictionaries(keys, children, max_size=4)
                          | st.dictionaries(st.text(max_size=4), children, max_size=4)
                          .map(OrderedDict)),
        max_leaves=12)


@given(obj=_nested())
def test_nested_structures_roundtrip(obj, tmp_path_factory):
    assert_same(obj, roundtrip(obj, tmp_path_factory.mktemp("nested")))


def test_int_and_str_keys_stay_apart_and_order_is_kept(tmp_path):
    obj = {"state": {1: "one", "1": "string one", (0, "a"): 3, None: 0, 2.5: 1},
           "order": OrderedDict([("z", 1), ("a", 2), ("m", 3)])}
    assert_same(obj, roundtrip(obj, tmp_path))


def test_tensors_sharing_an_array_load_sharing_it_views_are_copied(tmp_path):
    base = minitorch.randn(4, 4)
    obj = {"a": base, "b": base.detach(), "view": base[1:3], "t": base.T}
    back = roundtrip(obj, tmp_path)
    assert np.shares_memory(back["a"].numpy(), back["b"].numpy())
    assert not np.shares_memory(back["a"].numpy(), back["view"].numpy())
    np.testing.assert_array_equal(back["view"].numpy(), base.numpy()[1:3])
    np.testing.assert_array_equal(back["t"].numpy(), base.numpy().T)
    with zipfile.ZipFile(tmp_path / "ckpt.mtc") as zf:
        assert sum(n.startswith("data/") for n in zf.namelist()) == 3  # base once, two views


def test_same_object_gives_identical_bytes(tmp_path):
    minitorch.manual_seed(0)
    sd = minitorch.nn.Linear(3, 2).state_dict()
    minitorch.save(sd, tmp_path / "a")
    minitorch.save(sd, tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_file_objects_and_pathlike(tmp_path):
    obj = {"w": minitorch.randn(2, 3), "n": 3}
    buf = io.BytesIO()
    minitorch.save(obj, buf)
    buf.seek(0)
    assert_same(obj, minitorch.load(buf))

    class Unseekable:  # a pipe or socket: load reads it whole
        def __init__(self, data):
            self._buf = io.BytesIO(data)

        def read(self, n=-1):
            return self._buf.read(n)

    assert_same(obj, minitorch.load(Unseekable(buf.getvalue())))
    minitorch.save(obj, str(tmp_path / "s.mtc"))
    with open(tmp_path / "s.mtc", "rb") as fh:
        assert_same(obj, minitorch.load(fh))
    with pytest.raises(TypeError, match="binary file object"):
        minitorch.save(obj, 42)
    with open(tmp_path / "s.mtc", "r") as fh, pytest.raises(TypeError, match="text mode"):
        minitorch.load(fh)


def test_unsupported_objects_are_refused_with_their_location(tmp_path):
    path = tmp_path / "x.mtc"
    with pytest.raises(TypeError, match=r"Linear at obj\['model'\]"):
        minitorch.save({"model": minitorch.nn.Linear(2, 2)}, path)
    with pytest.raises(TypeError, match=r"function at obj\['state'\]\[0\]\[1\]"):
        minitorch.save({"state": [[1, lambda: 0]]}, path)
    with pytest.raises(TypeError, match="object array"):
        minitorch.save([np.array([object()])], path)
    with pytest.raises(TypeError, match="dict key"):
        minitorch.save({frozenset(): 1}, path)
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        minitorch.save({"l": loop}, path)
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        minitorch.load(tmp_path / "x.mtc", weights_only="yes")
    assert os.listdir(tmp_path) == []  # refused before any file was created


# ---- a model and its optimizer: training continues identically ---------------------------------
class Net(minitorch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = minitorch.nn.Linear(5, 16)
        self.drop = minitorch.nn.Dropout(0.3)
        self.fc2 = minitorch.nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(self.drop(self.fc1(x).relu()))


def _batches(n):
    rng = np.random.default_rng(1)
    return [(rng.standard_normal((8, 5)).astype(np.float32), rng.integers(0, 3, 8))
            for _ in range(n)]


def _train(model, opt, sched, batches):
    for x, y in batches:
        opt.zero_grad()
        loss = minitorch.nn.functional.cross_entropy(model(minitorch.tensor(x)),
                                                     minitorch.tensor(y))
        loss.backward()
        opt.step()
        sched.step()


def _setup(seed):
    minitorch.manual_seed(seed)
    model = Net()
    opt = minitorch.optim.Adam(model.parameters(), lr=0.01, amsgrad=True, weight_decay=1e-3)
    sched = minitorch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def test_training_resumed_from_checkpoint_matches_uninterrupted_run(tmp_path):
    batches = _batches(10)
    model, opt, sched = _setup(0)
    _train(model, opt, sched, batches[:4])
    minitorch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "rng": minitorch.get_rng_state(),
                    "epoch": 4}, tmp_path / "ckpt.mtc")
    _train(model, opt, sched, batches[4:])  # the uninterrupted run

    resumed, opt2, sched2 = _setup(123)  # different initial weights, fresh optimizer
    ckpt = minitorch.load(tmp_path / "ckpt.mtc")
    resumed.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    minitorch.set_rng_state(ckpt["rng"])  # the dropout masks continue where they were
    assert ckpt["epoch"] == 4
    assert set(ckpt["optimizer"]["state"]) == {0, 1, 2, 3}
    assert ckpt["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    _train(resumed, opt2, sched2, batches[4:])

    for (name, a), (_, b) in zip(model.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]


def test_load_state_dict_takes_numpy_arrays(tmp_path):
    model = minitorch.nn.Linear(3, 2)
    arrays = {"weight": np.full((2, 3), 0.5, np.float64), "bias": np.array([1.0, 2.0])}
    model.load_state_dict(arrays)
    np.testing.assert_array_equal(model.weight.detach().numpy(), np.full((2, 3), 0.5, np.float32))
    assert model.weight.dtype is minitorch.float32


# ---- atomic writes -------------------------------------------------------------------------------
def _failing_writer(monkeypatch, after: int):
    """Make the archive writer crash after ``after`` arrays, with part of the next one written."""
    real = ser._write_array
    calls = []

    def write(zf, name, array):
        if len(calls) == after:
            with zf.open(ser._zip_info(name), "w") as out:
                out.write(b"\x93NUMPY partial")
            raise OSError("disk full (simulated)")
        calls.append(name)
        real(zf, name, array)

    monkeypatch.setattr(ser, "_write_array", write)


@pytest.mark.parametrize("after", [0, 2])
def test_crash_mid_save_keeps_previous_checkpoint_and_leaves_no_temp_file(after, tmp_path,
                                                                          monkeypatch):
    path = tmp_path / "model.mtc"
    old = {"w": minitorch.randn(3, 3), "step": 1}
    minitorch.save(old, path)
    before = path.read_bytes()
    os.chmod(path, 0o600)

    _failing_writer(monkeypatch, after)
    new = {"w": minitorch.randn(3, 3), "b": minitorch.randn(3), "c": minitorch.randn(2), "step": 2}
    with pytest.raises(OSError, match="disk full"):
        minitorch.save(new, path)
    assert path.read_bytes() == before
    assert_same(old, minitorch.load(path))
    assert os.listdir(tmp_path) == ["model.mtc"]  # the temporary file is gone

    monkeypatch.undo()
    minitorch.save(new, path)  # a save that completes replaces it, keeping its mode
    assert_same(new, minitorch.load(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["model.mtc"]


def test_crash_on_first_save_leaves_nothing(tmp_path, monkeypatch):
    _failing_writer(monkeypatch, 0)
    with pytest.raises(OSError):
        minitorch.save({"w": minitorch.ones(2)}, tmp_path / "new.mtc")
    assert os.listdir(tmp_path) == []


def test_save_fsyncs_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd)))
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b)))
    minitorch.save([minitorch.ones(2)], tmp_path / "c.mtc")
    assert events[:2] == ["fsync", "replace"]


def test_save_to_a_missing_directory_or_a_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        minitorch.save(1, tmp_path / "nope" / "c.mtc")
    with pytest.raises(IsADirectoryError):
        minitorch.save(1, tmp_path)
    with pytest.raises(IsADirectoryError):
        minitorch.load(tmp_path)


# ---- corrupt, truncated and foreign files --------------------------------------------------------
def _good(tmp_path):
    path = tmp_path / "good.mtc"
    minitorch.save({"w": minitorch.arange(100, dtype=minitorch.float32), "n": 1}, path)
    return path


def _rewrite(src: Path, dst: Path, description=None, entries=None):
    """Copy an archive, replacing its description and/or some entries."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "minitorch_checkpoint.json" and description is not None:
                data = json.dumps(description(json.loads(data))).encode()
            if entries and name in entries:
                data = entries[name]
            zout.writestr(name, data)
    return dst


def _load_error(path):
    with pytest.raises(CheckpointError) as info:
        minitorch.load(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_empty_and_truncated_files(tmp_path):
    good = _good(tmp_path)
    data = good.read_bytes()
    (tmp_path / "empty").write_bytes(b"")
    assert "empty" in _load_error(tmp_path / "empty")
    for cut in (10, len(data) // 2, len(data) - 10):
        bad = tmp_path / f"cut{cut}"
        bad.write_bytes(data[:cut])
        assert "truncated or corrupt" in _load_error(bad)


def test_flipped_byte_in_tensor_data_is_caught(tmp_path):
    good = _good(tmp_path)
    data = bytearray(good.read_bytes())
    at = data.index(np.arange(100, dtype=np.float32)[50:52].tobytes())
    data[at] ^= 0xFF
    bad = tmp_path / "flipped"
    bad.write_bytes(bytes(data))
    message = _load_error(bad)
    assert "corrupt" in message and "data/0.npy" in message and "CRC" in message


def test_text_pickle_numpy_and_unrelated_zip_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, this is not a checkpoint\n")
    assert "text file" in _load_error(tmp_path / "notes.txt")
    (tmp_path / "obj.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    assert "pickle" in _load_error(tmp_path / "obj.pkl")
    np.save(tmp_path / "a.npy", np.ones(3))
    assert "numpy.load" in _load_error(tmp_path / "a.npy")
    np.savez(tmp_path / "a.npz", x=np.ones(3))
    assert ".npz" in _load_error(tmp_path / "a.npz")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.md", "hi")
    assert "readme.md" in _load_error(tmp_path / "other.zip")
    (tmp_path / "bin").write_bytes(bytes(range(7, 40)))
    assert "neither a ZIP" in _load_error(tmp_path / "bin")


@pytest.mark.parametrize("legacy", [False, True])
def test_torch_checkpoint_is_recognised_with_a_conversion_hint(legacy, tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path, _use_new_zipfile_serialization=not legacy)
    message = _load_error(path)
    assert "PyTorch checkpoint" in message and "convert_checkpoint.py" in message
    assert ("legacy" in message) == legacy


@pytest.mark.parametrize("damage, expect", [
    (lambda d: {**d, "format": "something.else"}, "does not describe"),
    (lambda d: {**d, "version": 99}, "newer than this minitorch reads"),
    (lambda d: {**d, "version": "1"}, "invalid format version"),
    (lambda d: {k: v for k, v in d.items() if k != "object"}, "has no 'object'"),
    (lambda d: {**d, "object": [1, 2]}, "unexpected list"),
    (lambda d: {**d, "object": {"type": "pickle"}}, "unknown entry type 'pickle'"),
    (lambda d: {**d, "object": {"type": "dict", "items": [[1]]}}, "malformed 'dict'"),
    (lambda d: {**d, "object": {"type": "float", "value": "big"}}, "malformed 'float'"),
    (lambda d: {**d, "object": {"type": "tensor", "data": "data/9.npy", "dtype": "float32",
                                "shape": [100]}}, "lacks"),
    (lambda d: {**d, "object": {"type": "tensor", "data": "data/0.npy", "dtype": "float32",
                                "shape": [10, 10]}}, "the description says float32 of shape"),
    (lambda d: {**d, "object": {"type": "tensor", "data": "data/0.npy", "dtype": "complex64",
                                "shape": [100]}}, "unsupported dtype 'complex64'"),
    (lambda d: {**d, "object": {"type": "tensor", "data": "data/0.npy", "dtype": "float32",
                                "shape": [100], "device": "tpu"}}, "unknown device 'tpu'"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_damaged_descriptions(damage, expect, tmp_path):
    bad = _rewrite(_good(tmp_path), tmp_path / "bad.mtc", description=damage)
    assert expect in _load_error(bad)


def test_damaged_entries(tmp_path):
    good = _good(tmp_path)
    bad = _rewrite(good, tmp_path / "json.mtc", entries={"minitorch_checkpoint.json": b"{nope"})
    assert "cannot read minitorch_checkpoint.json" in _load_error(bad)
    nan = _rewrite(good, tmp_path / "nan.mtc", entries={"minitorch_checkpoint.json":
                                                        b'{"format": NaN}'})
    assert "NaN" in _load_error(nan)
    obj_npy = io.BytesIO()
    np.save(obj_npy, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    evil = _rewrite(good, tmp_path / "evil.mtc", entries={"data/0.npy": obj_npy.getvalue()})
    assert "pickle" in _load_error(evil)  # an object array inside is refused, never unpickled
    extra = _rewrite(good, tmp_path / "extra.mtc",
                     entries={"data/0.npy": _npy(np.arange(100, dtype=np.float32)) + b"xx"})
    assert "trailing bytes" in _load_error(extra)


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


# ---- hostile files: nothing big is allocated or decompressed before the checks --------------------
def _archive(path: Path, obj_node, entries, method=zipfile.ZIP_STORED):
    """A checkpoint written by hand: the description ``obj_node`` and ``{name: bytes}``."""
    description = {"format": "minitorch.checkpoint", "version": 1, "object": obj_node}
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        zf.writestr("minitorch_checkpoint.json", json.dumps(description))
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _npy_header(shape, descr="<f4"):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": tuple(shape)})
    return buf.getvalue()


def _tensor_node(shape, dtype="float32"):
    return {"type": "tensor", "data": "data/0.npy", "dtype": dtype, "shape": list(shape),
            "device": "cpu", "requires_grad": False, "parameter": False}


def _peak_bytes_of(fn):
    """Run ``fn`` under tracemalloc (NumPy reports its array buffers to it); its peak bytes."""
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("described", [[2 ** 40], [10]])
def test_npy_header_declaring_a_huge_array_is_refused_before_allocating(described, tmp_path):
    # a 200-byte entry whose header declares 2**40 floats (4 TiB): a bare MemoryError before
    entry = _npy_header([2 ** 40])
    entry += b"\0" * (200 - len(entry))
    path = _archive(tmp_path / "hostile.mtc", _tensor_node(described), {"data/0.npy": entry})
    peak = _peak_bytes_of(lambda: _load_error(path))
    message = _load_error(path)
    assert "data/0.npy" in message and "[1099511627776]" in message
    if described == [10]:
        assert "the description says float32 of shape [10]" in message
    else:
        assert "4398046511104 bytes after a 128-byte header, but the entry holds 200" in message
    assert peak < 1 << 20


def test_deflated_entry_is_checked_before_it_is_decompressed(tmp_path):
    # 32 MiB of zeros deflate to ~32 KiB; the description says 10 floats
    bomb = _npy(np.zeros(8 << 20, np.float32))
    path = _archive(tmp_path / "bomb.mtc", _tensor_node([10]), {"data/0.npy": bomb},
                    method=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    peak = _peak_bytes_of(lambda: _load_error(path))
    assert "holds float32 of shape [8388608], the description says float32 of shape [10]" in \
        _load_error(path)
    assert peak < 4 << 20  # reading it all first (as before) peaks above 32 MiB


def test_zip_record_claiming_more_than_deflate_can_expand_is_refused(tmp_path):
    good = _good(tmp_path)
    deflated = _archive(tmp_path / "deflated.mtc", None, {}, method=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as z:
        for name in zin.namelist():
            z.writestr(name, zin.read(name))
    assert_same(minitorch.load(good), minitorch.load(deflated))  # a re-zipped checkpoint loads
    data = _set_zip_field(deflated.read_bytes(), "data/0.npy", "file_size", 2 ** 32 - 2)
    (tmp_path / "claims.mtc").write_bytes(data)
    assert "claims 4294967294 bytes of content from" in _load_error(tmp_path / "claims.mtc")


# offsets of fields in a ZIP local file header and central directory record
_LOCAL, _CENTRAL = b"PK\x03\x04", b"PK\x01\x02"
_FIELDS = {"flags": (6, 8, "<H"), "method": (8, 10, "<H"), "compress_size": (18, 20, "<I"),
           "file_size": (22, 24, "<I")}


def _set_zip_field(data: bytes, name: str, field: str, value: int) -> bytes:
    """``data`` (a ZIP) with ``field`` of entry ``name`` set to ``value`` in both its local
    header and its central directory record."""
    data = bytearray(data)
    local_at, central_at, fmt = _FIELDS[field]
    found = 0
    for signature, at, name_at in ((_LOCAL, local_at, 30), (_CENTRAL, central_at, 46)):
        start = data.find(signature)
        while start >= 0:
            if data[start + name_at:start + name_at + len(name)] == name.encode():
                data[start + at:start + at + struct.calcsize(fmt)] = struct.pack(fmt, value)
                found += 1
            start = data.find(signature, start + 1)
    assert found == 2
    return bytes(data)


@pytest.mark.parametrize("field, value, expect", [
    ("method", 1, "uses ZIP compression method 1"),        # shrink: NotImplementedError before
    ("method", 99, "uses ZIP compression method 99"),      # AES: NotImplementedError before
    ("method", 12, "uses ZIP compression method 12"),      # bzip2 over stored bytes
    ("flags", 0x1, "has ZIP flag bits 0x0001"),            # "encrypted, password required"
    ("flags", 0x20, "has ZIP flag bits 0x0020"),           # patch data: NotImplementedError
    ("flags", 0x40, "has ZIP flag bits 0x0040"),           # strong encryption
])
def test_flipped_zip_method_or_flags_raise_checkpoint_error(field, value, expect, tmp_path):
    good = _good(tmp_path)
    for entry in ("data/0.npy", "minitorch_checkpoint.json"):
        bad = tmp_path / f"bad-{entry.replace('/', '-')}"
        bad.write_bytes(_set_zip_field(good.read_bytes(), entry, field, value))
        message = _load_error(bad)
        assert expect in message and entry in message


def _nested_description(depth: int) -> bytes:
    node = 1
    for _ in range(depth):
        node = {"type": "list", "items": [node]}
    return json.dumps({"format": "minitorch.checkpoint", "version": 1, "object": node}).encode()


def test_deeply_nested_descriptions_raise_checkpoint_error(tmp_path):
    good = _good(tmp_path)
    deep = _rewrite(good, tmp_path / "deep.mtc", entries={
        "minitorch_checkpoint.json": _nested_description(400)})  # RecursionError in decode before
    assert "containers nested more than 100 deep at obj[0][0]" in _load_error(deep)
    deeper = _rewrite(good, tmp_path / "deeper.mtc", entries={
        "minitorch_checkpoint.json": b'{"format": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"})
    assert "nested too deeply for the JSON parser" in _load_error(deeper)  # json.loads' own


def test_save_and_load_agree_on_the_nesting_limit(tmp_path):
    obj = 1
    for _ in range(ser.MAX_DEPTH):
        obj = [obj]
    assert roundtrip(obj, tmp_path) == obj  # as deep as load accepts
    with pytest.raises(ValueError, match=r"containers nested more than 100 deep at obj\[0\]"):
        minitorch.save([obj], tmp_path / "deeper.mtc")
    assert not (tmp_path / "deeper.mtc").exists()
    keyed = {(1, 2): 0}  # a tuple key counts as one level below its dict, on save as on load
    for _ in range(ser.MAX_DEPTH - 2):
        keyed = [keyed]
    assert roundtrip(keyed, tmp_path) == keyed
    with pytest.raises(ValueError, match="containers nested more than 100 deep"):
        minitorch.save([keyed], tmp_path / "deeper.mtc")


# ---- a full disk, and the temporary files of killed saves ---------------------------------------
@pytest.mark.parametrize("error, where", [(errno.ENOSPC, "fsync"), (errno.EFBIG, "write"),
                                          (errno.ENOSPC, "replace")])
def test_disk_full_while_saving_names_the_checkpoint(error, where, tmp_path, monkeypatch):
    path = tmp_path / "model.mtc"
    minitorch.save({"w": minitorch.ones(3)}, path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(error, os.strerror(error))  # as write() and fsync() raise it: no file name

    if where == "write":
        monkeypatch.setattr(ser, "_write_array", fail)
    else:
        monkeypatch.setattr(os, where, fail)
    with pytest.raises(OSError) as info:
        minitorch.save({"w": minitorch.zeros(3)}, path)
    assert info.value.errno == error and info.value.filename == str(path)
    assert f"[Errno {error}] {os.strerror(error)}" in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.mtc"]


def test_next_save_removes_stale_temporary_files_of_the_same_checkpoint_only(tmp_path):
    path = tmp_path / "model.mtc"
    hour_ago = time.time() - 3600

    def make(name, old=True, content=b"x" * 1000):
        p = tmp_path / name
        p.write_bytes(content)
        if old:
            os.utime(p, (hour_ago, hour_ago))
        return p

    stale = [make(".model.mtc.0123456789ab.tmp"), make(".model.mtc.ffffffffffff.tmp")]
    kept = [make(".model.mtc.0123456789ab.tmp.keep"), make(".model.mtc.0123456789.tmp"),
            make(".other.mtc.0123456789ab.tmp"), make("model.mtc.0123456789ab.tmp"),
            make(".model.mtc.0123456789AB.tmp"), make("notes.txt"),
            make(".model.mtc.aaaaaaaaaaaa.tmp", old=False)]  # a save in progress
    (tmp_path / ".model.mtc.bbbbbbbbbbbb.tmp").mkdir()  # not a regular file: left
    os.utime(tmp_path / ".model.mtc.bbbbbbbbbbbb.tmp", (hour_ago, hour_ago))
    outside = make("outside.bin")
    (tmp_path / ".model.mtc.cccccccccccc.tmp").symlink_to(outside)  # a link is not followed
    os.utime(tmp_path / ".model.mtc.cccccccccccc.tmp", (hour_ago, hour_ago), follow_symlinks=False)

    minitorch.save({"w": minitorch.ones(2)}, path)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept) and outside.read_bytes() == b"x" * 1000
    assert (tmp_path / ".model.mtc.bbbbbbbbbbbb.tmp").is_dir()
    assert (tmp_path / ".model.mtc.cccccccccccc.tmp").is_symlink()
    assert_same({"w": minitorch.ones(2)}, minitorch.load(path))


def test_orphan_of_a_killed_save_is_removed_by_the_next_save(tmp_path, monkeypatch):
    path = tmp_path / "model.mtc"
    minitorch.save({"step": 1}, path)
    real_open = os.open
    created = []
    monkeypatch.setattr(os, "open", lambda p, *a: (created.append(p), real_open(p, *a))[1])
    monkeypatch.setattr(ser, "_write_array", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    monkeypatch.setattr(os, "unlink", lambda p: None)  # killed: no clean-up ran
    with pytest.raises(KeyboardInterrupt):
        minitorch.save({"w": minitorch.ones(2)}, path)
    monkeypatch.undo()
    orphan = Path(created[-1])
    assert orphan.exists() and orphan.name.startswith(".model.mtc.")
    minitorch.save({"step": 2}, path)
    assert orphan.exists()  # it could still be a concurrent writer's: too young to remove
    os.utime(orphan, (time.time() - ser.STALE_TEMP_AGE_S - 5,) * 2)
    minitorch.save({"step": 3}, path)
    assert os.listdir(tmp_path) == ["model.mtc"] and minitorch.load(path) == {"step": 3}


def test_map_location(tmp_path):
    good = _good(tmp_path)
    on_cuda = _rewrite(good, tmp_path / "cuda.mtc", description=lambda d: _set_device(d, "cuda:0"))
    if not minitorch.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location='cpu'"):
            minitorch.load(on_cuda)
    for where in ("cpu", minitorch.device("cpu"), {"cuda:0": "cpu"}):
        back = minitorch.load(on_cuda, map_location=where)
        assert back["w"].device == minitorch.device("cpu")
        np.testing.assert_array_equal(back["w"].numpy(), np.arange(100, dtype=np.float32))
    with pytest.raises(TypeError, match="map_location"):
        minitorch.load(good, map_location=3)
    with pytest.raises(RuntimeError, match="device type"):
        minitorch.load(good, map_location="gpu")


def _set_device(description, dev):
    for _key, node in description["object"]["items"]:
        if isinstance(node, dict) and node.get("type") == "tensor":
            node["device"] = dev
    return description


@pytest.mark.cuda
def test_cuda_tensors_roundtrip(tmp_path):
    t = minitorch.randn(3, 4).to("cuda")
    back = roundtrip({"t": t}, tmp_path)["t"]
    assert back.device == minitorch.device("cuda:0")
    np.testing.assert_array_equal(back.cpu().numpy(), t.cpu().numpy())
    assert minitorch.load(tmp_path / "ckpt.mtc", map_location="cpu")["t"].device.type == "cpu"


# ---- torch interoperability through examples/convert_checkpoint.py -------------------------------
def _torch_net():
    return torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


def _mt_net():
    return minitorch.nn.Sequential(minitorch.nn.Linear(5, 16), minitorch.nn.ReLU(),
                                   minitorch.nn.Linear(16, 3))


def _step(L, model, opt, x, y):
    opt.zero_grad()
    loss = L.nn.functional.cross_entropy(model(L.tensor(x)), L.tensor(y))
    loss.backward()
    opt.step()


def _assert_same_weights(mt_model, torch_model, exact=False):
    mt_sd, t_sd = mt_model.state_dict(), torch_model.state_dict()
    assert list(mt_sd) == list(t_sd)
    for k in mt_sd:
        if exact:
            np.testing.assert_array_equal(mt_sd[k].numpy(), t_sd[k].numpy(), err_msg=k)
        else:
            assert_close(mt_sd[k], t_sd[k], dtype="float32", what=k)


def test_torch_checkpoint_converts_to_minitorch_and_training_continues(tmp_path):
    batches = _batches(6)
    torch.manual_seed(0)
    tm = _torch_net()
    topt = torch.optim.Adam(tm.parameters(), lr=0.01)
    for x, y in batches[:3]:
        _step(torch, tm, topt, x, y)
    torch.save({"model": tm.state_dict(), "optimizer": topt.state_dict(), "epoch": 3},
               tmp_path / "t.pt")
    assert convert.main([str(tmp_path / "t.pt"), str(tmp_path / "m.mtc")]) == 0

    ckpt = minitorch.load(tmp_path / "m.mtc")
    assert isinstance(ckpt["model"], OrderedDict) and ckpt["epoch"] == 3
    mm = _mt_net()
    mm.load_state_dict(ckpt["model"])
    mopt = minitorch.optim.Adam(mm.parameters(), lr=0.5)
    mopt.load_state_dict(ckpt["optimizer"])
    _assert_same_weights(mm, tm, exact=True)
    assert mopt.param_groups[0]["lr"] == 0.01

    # the documented shortcut: torch.load, then NumPy arrays into load_state_dict
    direct = _mt_net()
    direct.load_state_dict({k: v.numpy() for k, v in torch.load(
        tmp_path / "t.pt", weights_only=True)["model"].items()})
    _assert_same_weights(direct, tm, exact=True)

    for x, y in batches[3:]:
        _step(torch, tm, topt, x, y)
        _step(minitorch, mm, mopt, x, y)
    _assert_same_weights(mm, tm)


def test_minitorch_checkpoint_converts_to_torch_and_training_continues(tmp_path):
    batches = _batches(6)
    minitorch.manual_seed(0)
    mm = _mt_net()
    mopt = minitorch.optim.Adam(mm.parameters(), lr=0.01)
    for x, y in batches[:3]:
        _step(minitorch, mm, mopt, x, y)
    minitorch.save({"model": mm.state_dict(), "optimizer": mopt.state_dict(),
                    "extras": [np.arange(3), np.float32(0.5), minitorch.Size([1, 2])]},
                   tmp_path / "m.mtc")
    assert convert.main([str(tmp_path / "m.mtc"), str(tmp_path / "t.pt")]) == 0

    ckpt = torch.load(tmp_path / "t.pt", weights_only=True)  # torch's safe loader accepts it
    assert isinstance(ckpt["extras"][0], torch.Tensor) and ckpt["extras"][1] == 0.5
    assert ckpt["extras"][2] == torch.Size([1, 2])
    tm = _torch_net()
    tm.load_state_dict(ckpt["model"])
    topt = torch.optim.Adam(tm.parameters(), lr=0.5)
    topt.load_state_dict(ckpt["optimizer"])
    _assert_same_weights(mm, tm, exact=True)

    for x, y in batches[3:]:
        _step(torch, tm, topt, x, y)
        _step(minitorch, mm, mopt, x, y)
    _assert_same_weights(mm, tm)


def test_conversion_functions_keep_types_and_flags():
    tp = torch.nn.Parameter(torch.randn(2, 3))
    obj = OrderedDict(p=tp, frozen=torch.nn.Parameter(torch.ones(2), requires_grad=False),
                      i=torch.arange(4), b=torch.tensor([True, False]), h=torch.ones(2).half(),
                      dt=torch.float64, dev=torch.device("cpu"), size=torch.Size([3]),
                      nested={0: [torch.zeros(1), (1, "x")]})
    mt = convert.torch_to_minitorch(obj)
    assert isinstance(mt, OrderedDict) and isinstance(mt["p"], minitorch.nn.Parameter)
    assert mt["p"].requires_grad and not mt["frozen"].requires_grad
    assert mt["i"].dtype is minitorch.int64 and mt["b"].dtype is minitorch.bool
    assert mt["h"].dtype is minitorch.float16 and mt["dt"] is minitorch.float64
    assert mt["dev"] == minitorch.device("cpu") and mt["size"] == minitorch.Size([3])
    assert isinstance(mt["nested"][0][1], tuple)
    back = convert.minitorch_to_torch(mt)
    assert isinstance(back["p"], torch.nn.Parameter) and back["p"].requires_grad
    assert back["dt"] is torch.float64 and isinstance(back["size"], torch.Size)
    for k in ("p", "i", "b", "h"):
        assert back[k].dtype == obj[k].dtype and torch.equal(back[k].detach(), obj[k].detach())
    with pytest.warns(UserWarning, match="bfloat16"):
        bf = convert.torch_to_minitorch(torch.ones(2, dtype=torch.bfloat16))
    assert bf.dtype is minitorch.float32
