"""Property-based fuzzing of ``minitorch.load`` on damaged checkpoints.

A small checkpoint (tensors, a Fortran-ordered NumPy array, a NumPy scalar, nested containers) is
damaged by hypothesis: ``.npy`` headers rewritten (any shape, huge ones included, any dtype,
agreeing with the description or not), fields of the ZIP records set to arbitrary values
(compression method, flags, CRC, sizes, name and extra lengths, offsets, the end record), random
bytes flipped, the file truncated. Whatever the damage, loading it

* raises nothing but ``CheckpointError`` (naming the file), or loads;
* allocates at most ``PEAK_BOUND`` bytes (tracemalloc; NumPy reports its array buffers to it), a
  small multiple of the undamaged load's own peak: no header may make it allocate what it declares;
* writes nothing anywhere (an audit hook watches every open for writing, rename, removal, ...).

A checker counts only if it catches a planted bug, so the same property is run against two
broken readers and must fail on both: one without the header check (``_check_header``), and the
reader of before that check existed (``numpy.lib.format.read_array`` on the whole entry, the
description compared afterwards).
"""
from __future__ import annotations

import io
import json
import os
import struct
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import minitorch
import minitorch.serialization as ser
from minitorch.serialization import CheckpointError

PEAK_BOUND = 2 << 20  # bytes; an undamaged load of GOOD peaks near 30 KB


def _good_checkpoint() -> bytes:
    obj = {"w": minitorch.arange(24, dtype=minitorch.float32).reshape(2, 3, 4),
           "i": minitorch.tensor([1, 2, 3]),
           "p": minitorch.nn.Parameter(minitorch.ones(5)),
           "f": np.arange(6.0).reshape(2, 3).T,  # F-contiguous: written with fortran_order
           "s": np.float64(2.5),
           "meta": {"step": 3, "betas": (0.9, 0.999), "name": "x", 0: [None, b"\x00"],
                    "nan": float("nan"), "dt": minitorch.float16}}
    buf = io.BytesIO()
    minitorch.save(obj, buf)
    return buf.getvalue()


GOOD = _good_checkpoint()
ARRAYS = sorted(n for n in zipfile.ZipFile(io.BytesIO(GOOD)).namelist() if n.endswith(".npy"))


# ---- the property --------------------------------------------------------------------------------
_WRITE_EVENTS = {"os.remove", "os.rename", "os.replace", "os.mkdir", "os.rmdir", "os.chmod",
                 "os.chown", "os.link", "os.symlink", "os.truncate", "os.utime", "shutil.copyfile",
                 "shutil.rmtree", "shutil.move"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_watch: list | None = None  # the writes seen while a load is watched


def _audit(event, args):
    if _watch is None:
        return
    if event == "open":
        path, mode, flags = args
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS):
            _watch.append((event, path, mode))
    elif event in _WRITE_EVENTS:
        _watch.append((event, *args))


sys.addaudithook(_audit)  # audit hooks cannot be removed; this one is idle outside check_load


def check_load(data: bytes) -> None:
    """Load ``data`` from a file and assert the property; a violation is an AssertionError."""
    global _watch
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.mtc"
        path.write_bytes(data)
        before = sorted(os.listdir(folder))
        _watch = []
        tracemalloc.start()
        try:
            minitorch.load(path)
        except CheckpointError as e:
            assert str(path) in str(e), f"the error does not name the file: {e}"
        except Exception as e:  # noqa: BLE001  (the property: nothing else may escape)
            raise AssertionError(f"load raised {type(e).__name__}: {e}") from e
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            writes, _watch = _watch, None
        assert peak <= PEAK_BOUND, f"load allocated {peak} bytes at its peak"
        assert not writes, f"load wrote: {writes}"
        assert sorted(os.listdir(folder)) == before


# ---- damage --------------------------------------------------------------------------------------
# (offset, struct format) of the fields of each ZIP record, by signature
_RECORDS = {
    b"PK\x03\x04": {"flags": (6, "<H"), "method": (8, "<H"), "crc": (14, "<I"),
                    "compress_size": (18, "<I"), "file_size": (22, "<I"),
                    "name_len": (26, "<H"), "extra_len": (28, "<H")},
    b"PK\x01\x02": {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"),
                    "compress_size": (20, "<I"), "file_size": (24, "<I"), "name_len": (28, "<H"),
                    "extra_len": (30, "<H"), "comment_len": (32, "<H"), "offset": (42, "<I")},
    b"PK\x05\x06": {"disk_entries": (8, "<H"), "entries": (10, "<H"), "cd_size": (12, "<I"),
                    "cd_offset": (16, "<I"), "comment_len": (20, "<H")},
}
_SPECIAL = [0, 1, 2, 8, 12, 14, 99, 0x20, 0x40, 0x61, 0x800, 0xFFFF, 2 ** 31, 2 ** 32 - 1]
_DESCRS = ["<f4", "<f8", ">f4", "<i8", "|u1", "|b1", "<f2", "|O", "<U3", "<c8", "|V8", "<M8[s]"]


def _records(data: bytes):
    """(start, signature) of every ZIP record in ``data`` (GOOD's layout: no false matches)."""
    found = []
    for signature in _RECORDS:
        start = data.find(signature)
        while start >= 0:
            found.append((start, signature))
            start = data.find(signature, start + 1)
    return sorted(found)


dims = st.one_of(st.integers(1, 30), st.integers(0, 2 ** 40), st.sampled_from([2 ** 20, 2 ** 62]))
npy_edits = st.fixed_dictionaries({
    "entry": st.sampled_from(ARRAYS), "shape": st.lists(dims, max_size=4),
    "descr": st.sampled_from(_DESCRS), "fortran": st.booleans(), "version": st.sampled_from([1, 2]),
    "describe": st.booleans()})  # describe: the description is edited to agree with the header
positions = st.integers(0, 10 ** 6)  # taken modulo the number of records, fields or bytes
field_edits = st.tuples(positions, positions,
                        st.one_of(st.sampled_from(_SPECIAL), st.integers(0, 2 ** 32 - 1)))


def _some(strategy):
    """Half the time none, else one or two: each kind of damage is drawn alone as often as not."""
    return st.one_of(st.just([]), st.lists(strategy, min_size=1, max_size=2))


damages = st.fixed_dictionaries({
    "npy": _some(npy_edits), "fields": _some(field_edits),
    "flips": _some(st.tuples(positions, st.integers(1, 255))),
    "cut": st.one_of(st.none(), positions),
})


def _edit_npy(data: bytes, edits) -> bytes:
    """Rewrite the headers of some ``.npy`` entries (their data bytes kept) and, for the edits
    that say so, the description's shape and dtype of every node that points at the entry."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    description = json.loads(entries["minitorch_checkpoint.json"])
    for edit in edits:
        old = io.BytesIO(entries[edit["entry"]])
        read_header = (np.lib.format.read_array_header_1_0 if np.lib.format.read_magic(old)
                       == (1, 0) else np.lib.format.read_array_header_2_0)
        read_header(old)  # skipped: what follows is the data
        header = io.BytesIO()
        write = (np.lib.format.write_array_header_1_0 if edit["version"] == 1 else
                 np.lib.format.write_array_header_2_0)
        write(header, {"descr": edit["descr"], "fortran_order": edit["fortran"],
                       "shape": tuple(edit["shape"])})
        entries[edit["entry"]] = header.getvalue() + old.read()
        if edit["describe"]:
            _describe(description["object"], edit["entry"], edit["shape"],
                      np.dtype(edit["descr"]).newbyteorder("=").name)
    entries["minitorch_checkpoint.json"] = json.dumps(description).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in entries.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content)
    return out.getvalue()


def _describe(node, entry, shape, dtype):
    if isinstance(node, dict):
        if node.get("data") == entry:
            node["shape"], node["dtype"] = list(shape), dtype
        for value in node.values():
            _describe(value, entry, shape, dtype)
    elif isinstance(node, list):
        for value in node:
            _describe(value, entry, shape, dtype)


def damage(spec) -> bytes:
    data = _edit_npy(GOOD, spec["npy"]) if spec["npy"] else GOOD
    buf = bytearray(data)
    records = _records(data)
    for which, field, value in spec["fields"]:
        start, signature = records[which % len(records)]
        fields = list(_RECORDS[signature].values())
        offset, fmt = fields[field % len(fields)]
        value &= (1 << 8 * struct.calcsize(fmt)) - 1
        buf[start + offset:start + offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    for at, bits in spec["flips"]:
        buf[at % len(buf)] ^= bits
    if spec["cut"] is not None:
        del buf[spec["cut"] % (len(buf) + 1):]
    return bytes(buf)


# ---- the tests -----------------------------------------------------------------------------------
def fuzz(max_examples: int, phases=tuple(Phase)) -> None:
    @settings(max_examples=max_examples, deadline=None, database=None, phases=phases,
              report_multiple_bugs=False, suppress_health_check=list(HealthCheck))
    @given(spec=damages)
    def run(spec):
        check_load(damage(spec))

    run()


def test_undamaged_checkpoint_loads_within_the_bound():
    check_load(GOOD)
    loaded = minitorch.load(io.BytesIO(GOOD))
    assert loaded["meta"]["betas"] == (0.9, 0.999) and loaded["f"].flags.f_contiguous


def test_damaged_checkpoints_raise_only_checkpoint_error_and_stay_within_the_bound():
    fuzz(max(300, settings().max_examples))


@pytest.mark.parametrize("spec, expect", [
    ({"npy": [{"entry": ARRAYS[0], "shape": [2 ** 40], "descr": "<f4", "fortran": False,
               "version": 1, "describe": True}], "fields": [], "flips": [], "cut": None},
     "its header declares float32 of shape [1099511627776]"),
    ({"npy": [], "fields": [(6, 1, 1)], "flips": [], "cut": None}, "compression method 1"),
    ({"npy": [], "fields": [(6, 0, 1)], "flips": [], "cut": None}, "flag bits 0x0001"),
    ({"npy": [], "fields": [], "flips": [(40, 0xFF)], "cut": None}, ""),
    ({"npy": [], "fields": [], "flips": [], "cut": 100}, "truncated or corrupt"),
], ids=["huge-header", "method", "encrypted", "flip", "cut"])
def test_examples_of_each_kind_of_damage(spec, expect):
    check_load(damage(spec))
    if expect:
        with pytest.raises(CheckpointError, match=expect.replace("[", r"\[").replace("]", r"\]")):
            minitorch.load(io.BytesIO(damage(spec)))


def _read_npy_before_the_header_check(self, name, shape, dtype, where):
    """The reader of before the header check: the whole entry is read, then compared."""
    with self.reading(name, f"array at {where}"), self.zf.open(name) as stream:
        array = np.lib.format.read_array(stream, allow_pickle=False)
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


@pytest.mark.parametrize("planted", ["no_header_check", "read_then_compare"])
def test_the_fuzzer_catches_a_reader_without_the_header_check(planted, monkeypatch):
    if planted == "no_header_check":
        monkeypatch.setattr(ser._Decoder, "_check_header", lambda self, *args: None)
    else:
        monkeypatch.setattr(ser._Decoder, "_read_npy", _read_npy_before_the_header_check)
    with pytest.raises(AssertionError, match=r"load allocated \d+ bytes|load raised MemoryError"):
        fuzz(1000, phases=(Phase.generate,))  # found by random search (in ~50 draws on average)
