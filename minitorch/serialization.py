"""``minitorch.save`` / ``minitorch.load``: checkpoints in a neutral format, never pickled.

What can be saved
-----------------
Tensors (and ``nn.Parameter``), NumPy arrays and NumPy scalars, ``None``, ``bool``, ``int``,
``float`` (``nan`` and ``inf`` included), ``str``, ``bytes``, and any nesting of ``list``,
``tuple``, ``dict`` and ``OrderedDict`` over them (dict keys: ``None``/bool/int/float/str/bytes
or tuples of these), plus ``minitorch.Size``, ``minitorch.dtype`` and ``minitorch.device``. That
covers what training saves: a model's ``state_dict()``, an optimizer's ``state_dict()`` (its
integer keys and ``betas`` tuples survive), the RNG state, epoch counters, metrics. Subclasses of
list/tuple/dict (a ``defaultdict``, a namedtuple) are saved as their base type. Anything else (a
Module, a function, an arbitrary object) is refused at save time with a TypeError naming where
in the object it sits, e.g. ``obj['state'][0]['hook']``.

The format (version 1)
----------------------
A ZIP archive, entries stored uncompressed with fixed timestamps (the same object gives the
same bytes), readable with nothing but the standard library and NumPy::

    minitorch_checkpoint.json   {"format": "minitorch.checkpoint", "version": 1, "object": NODE}
    data/0.npy, data/1.npy, ... one NumPy .npy file per array (numpy.save's format, no pickle)

A NODE is JSON: ``null``, ``true``/``false``, a string, an integer or a float stand for
themselves; everything else is an object with a ``"type"``:

* ``{"type": "float", "value": "nan" | "inf" | "-inf"}`` (JSON has no such numbers);
* ``{"type": "list" | "tuple" | "size", "items": [NODE, ...]}``;
* ``{"type": "dict" | "OrderedDict", "items": [[KEY_NODE, VALUE_NODE], ...]}`` (keys are
  nodes, so ``0`` and ``"0"`` stay apart, in insertion order);
* ``{"type": "tensor", "data": "data/3.npy", "dtype": "float32", "shape": [64, 1, 3, 3],
  "device": "cpu", "requires_grad": true, "parameter": true}``;
* ``{"type": "ndarray" | "numpy_scalar", "data": "data/4.npy", "dtype": ..., "shape": [...]}``;
* ``{"type": "bytes", "hex": "..."}``, ``{"type": "dtype", "name": "float32"}``,
  ``{"type": "device", "name": "cuda:0"}``.

Each tensor keeps its dtype, shape and ``requires_grad``; a ``Parameter`` loads as a Parameter.
Tensors that wrap the very same array (``state_dict()`` entries of tied weights) are written once
and load sharing one array; a tensor that is a *view* of another (a slice, a transpose) is written
as its own copy, so after loading it no longer shares memory with its base. Identity of Tensor
objects is not kept (two references to one tensor load as two tensors over one array); ``.grad``
and the autograd graph are not saved (torch does not save them either).

Safe by construction
--------------------
``load`` never unpickles anything: it parses JSON and reads ``.npy`` payloads itself, refusing
object arrays, so a checkpoint from an untrusted source cannot run code. (torch's
``weights_only=True`` restricts the unpickler; here there is no unpickler at all.) The
``weights_only`` argument is accepted for torch compatibility and changes nothing.

Nor can a hostile or damaged file make ``load`` allocate more than the file can hold. Before an
array's data is read, its ``.npy`` header (at most 10,000 bytes, numpy's own limit) must give
the dtype and shape of the description, and header plus ``prod(shape) * itemsize`` data bytes
must be exactly the ZIP entry's declared uncompressed size; that size must be what the entry's
compressed bytes can expand to (equal for stored entries, at most deflate's 1032:1 for deflated
ones, which is all ``load`` accepts) and the compressed bytes must fit in the file. Only then is
the array allocated, and the entry is read into it in chunks, never past the declared size. So a
200-byte entry that declares 2**40 floats, or a deflated entry that expands to far more than
the description says, is refused before anything large is allocated or decompressed. The
description nests containers at most ``MAX_DEPTH`` (100) deep; ``save`` refuses deeper objects.

Atomic writes
-------------
``save(obj, path)`` first turns ``obj`` into the description and the list of arrays (so an
unsupported object raises before any file is touched), then writes the archive to a temporary file
in the destination's directory, flushes it, ``os.fsync``s it, and renames it over ``path`` with
``os.replace`` (atomic on POSIX and Windows), then fsyncs the directory. A crash or an exception
mid-save leaves the previous checkpoint at ``path`` untouched and removes the temporary file.
After a hard kill a stray ``.<name>.<12 hex digits>.tmp`` may remain beside it (it is never
read); the next successful save of the same checkpoint deletes such files of *its own name* that
were last modified more than ``STALE_TEMP_AGE_S`` (10 minutes) ago. A writer that is still
running keeps its temporary file fresh (it streams into it and renames it right after the final
fsync), so a concurrent save of the same path is left alone; no other file is ever touched. An
``OSError`` while writing (a full disk: ``ENOSPC``, ``EFBIG``) is raised again with the same
errno and class, naming the checkpoint's path (``write`` and ``fsync`` name no file). The
file keeps the permission bits of the checkpoint it replaces. Saving to a file object (anything
with ``write``) writes straight into it: no atomicity there.

Errors on load
--------------
An empty, truncated or corrupt file, or one in another format, raises ``CheckpointError`` (a
``RuntimeError``, as torch raises for a file it cannot read) that names the file and what is
wrong: a torch checkpoint (either of torch's formats) is recognised and the message says how to
convert it; so are pickles, ``.npy``/``.npz`` files, text files and ZIPs that are not
checkpoints. Each array's dtype and shape are checked against the description, and ZIP's CRC-32
catches flipped bytes. Whatever the damage (flipped bytes, a truncation, an edited ZIP or
``.npy`` header: a compression method or flag minitorch does not write, an encrypted entry, a
description nested too deep) the error is a ``CheckpointError``;
``tests/test_checkpoint_fuzz.py`` checks this, and the memory bound, on random damage.

Moving between torch and minitorch
----------------------------------
``torch`` is never imported here; the bridge is NumPy. To load a state dict that torch saved
(with torch installed)::

    import torch, minitorch
    sd = torch.load("model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict({k: v.numpy() for k, v in sd.items()})   # NumPy arrays are accepted
    # or keep it as a minitorch checkpoint:
    minitorch.save({k: minitorch.from_numpy(v.numpy()) for k, v in sd.items()}, "model.mtc")

and to write one that torch loads::

    sd = minitorch.load("model.mtc")
    torch.save({k: torch.from_numpy(v.numpy()) for k, v in sd.items()}, "model.pt")

``examples/convert_checkpoint.py`` does both for whole nested objects (optimizer state dicts
too): ``python examples/convert_checkpoint.py in.pt out.mtc`` and the reverse. torch's names for
parameters and buffers are minitorch's (see ``nn.Module``), so the keys match as they are.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import secrets
import stat
import struct
import time
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from .backend import cuda_is_available, to_device, to_dtype
from .backend import device as _device
from .backend import dtype as _dtype
from .backend.dtypes import _BY_NAME as _DTYPE_NAMES
from .nn.parameter import Parameter
from .tensor import Size, Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_NAME", "FORMAT_VERSION", "MAX_DEPTH"]

FORMAT_NAME = "minitorch.checkpoint"
FORMAT_VERSION = 1
_DESCRIPTION = "minitorch_checkpoint.json"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: equal objects give equal files
MAX_DEPTH = 100  # containers in containers: save refuses deeper objects, load deeper descriptions
STALE_TEMP_AGE_S = 600  # a save's temporary file untouched this long is an orphan of a killed save
_NPY_MAX_HEADER = 10_000  # numpy's max_header_size for untrusted .npy files
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand a byte to more than ~1032 (RFC 1951 limits)
_READ_CHUNK = 1 << 20
# what the zipfile/zlib/numpy header readers raise on damaged input (our own CheckpointError is
# re-raised before these are caught; MemoryError is not among them)
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError, struct.error, OverflowError)
# torch's legacy (pre-1.6) format begins with its magic number 0x1950a86a20f9469cfc6c, pickled
_TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
_TORCH_HINT = ("minitorch never unpickles. Convert it with torch installed: "
               "`python examples/convert_checkpoint.py {path} out.mtc`, or in Python "
               "`sd = torch.load(path, map_location='cpu', weights_only=True)` then "
               "`model.load_state_dict({{k: v.numpy() for k, v in sd.items()}})`")


class CheckpointError(RuntimeError):
    """A file that ``minitorch.load`` cannot read: corrupt, truncated, or another format."""


# ================================================================================================
# save
# ================================================================================================
class _Encoder:
    """Turns an object into a JSON-ready description plus the arrays to store beside it."""

    def __init__(self):
        self.arrays: list[tuple[str, np.ndarray]] = []
        self._file_of: dict[int, str] = {}  # id(array) -> its entry; the arrays stay alive in obj
        self._open: set[int] = set()  # containers being encoded (to refuse cycles)

    def _store(self, array) -> str:
        key = id(array)
        if key not in self._file_of:
            name = f"data/{len(self.arrays)}.npy"
            host = array if isinstance(array, np.ndarray) else array.get()  # CuPy -> host copy
            self.arrays.append((name, host))
            self._file_of[key] = name
        return self._file_of[key]

    def encode(self, obj, where: str, depth: int = 0):
        if obj is None or type(obj) in (bool, int, str):
            return obj
        if isinstance(obj, Tensor):
            return {"type": "tensor", "data": self._store(obj._data), "dtype": obj.dtype.name,
                    "shape": list(obj.shape), "device": str(obj.device),
                    "requires_grad": bool(obj.requires_grad),
                    "parameter": isinstance(obj, Parameter)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError(f"minitorch.save: cannot save the object array at {where}: "
                                "arrays of Python objects would need pickle")
            return {"type": "ndarray", "data": self._store(obj), "dtype": obj.dtype.name,
                    "shape": list(obj.shape)}
        if isinstance(obj, np.generic):  # before float: np.float64 is a float subclass
            if obj.dtype.hasobject:
                raise TypeError(f"minitorch.save: cannot save the NumPy object scalar at {where}")
            arr = np.asarray(obj)
            return {"type": "numpy_scalar", "data": self._store(arr), "dtype": arr.dtype.name,
                    "shape": []}
        if isinstance(obj, int):  # an int subclass (an IntEnum) is saved as a plain int
            return int(obj)
        if isinstance(obj, float):
            value = float(obj)
            if math.isfinite(value):
                return value
            return {"type": "float", "value": "nan" if math.isnan(value) else
                    ("inf" if value > 0 else "-inf")}
        if isinstance(obj, str):
            return str(obj)
        if isinstance(obj, (bytes, bytearray)):
            return {"type": "bytes", "hex": bytes(obj).hex()}
        if isinstance(obj, _dtype):
            return {"type": "dtype", "name": obj.name}
        if isinstance(obj, _device):
            return {"type": "device", "name": str(obj)}
        if isinstance(obj, (list, tuple, dict)):
            if id(obj) in self._open:
                raise ValueError(f"minitorch.save: the object contains itself at {where} "
                                 "(a circular reference cannot be saved)")
            if depth >= MAX_DEPTH:
                raise ValueError(f"minitorch.save: containers nested more than {MAX_DEPTH} deep "
                                 f"at {_shorten(where)} (minitorch.load refuses deeper nesting)")
            self._open.add(id(obj))
            try:
                return self._encode_container(obj, where, depth + 1)
            finally:
                self._open.discard(id(obj))
        raise TypeError(f"minitorch.save: cannot save an object of type "
                        f"{type(obj).__module__}.{type(obj).__qualname__} at {where}; supported "
                        "are tensors, NumPy arrays and scalars, None, bool, int, float, str, "
                        "bytes, and lists, tuples and dicts of these (see "
                        "minitorch.serialization)")

    def _encode_container(self, obj, where: str, depth: int):
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                items.append([self._encode_key(k, where, depth),
                              self.encode(v, f"{where}[{k!r}]", depth)])
            return {"type": "OrderedDict" if isinstance(obj, OrderedDict) else "dict",
                    "items": items}
        kind = "size" if isinstance(obj, Size) else "tuple" if isinstance(obj, tuple) else "list"
        return {"type": kind, "items": [self.encode(v, f"{where}[{i}]", depth)
                                        for i, v in enumerate(obj)]}

    def _encode_key(self, key, where: str, depth: int):
        ok = (type(key) is tuple and all(_plain_key(k) for k in key)) or _plain_key(key)
        if not ok:
            raise TypeError(f"minitorch.save: cannot save the dict key {key!r} of type "
                            f"{type(key).__name__} in {where}; keys must be None, bool, int, "
                            "float, str, bytes or tuples of these")
        return self.encode(key, f"{where} (a key)", depth)


def _plain_key(k) -> bool:
    return k is None or type(k) in (bool, int, float, str, bytes)


def _shorten(where: str, keep: int = 120) -> str:
    return where if len(where) <= keep else f"{where[:keep // 2]}...{where[-keep // 2:]}"


def _write_array(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    """One ``.npy`` entry, streamed into the archive (numpy.save's format, no pickle)."""
    info = _zip_info(name)
    with zf.open(info, "w", force_zip64=array.nbytes > (1 << 30)) as out:
        np.lib.format.write_array(out, array, allow_pickle=False)


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _write_archive(fh, description: dict, arrays) -> None:
    text = json.dumps(description, allow_nan=False, separators=(",", ":")).encode("utf-8")
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_zip_info(_DESCRIPTION), text)
        for name, array in arrays:
            _write_array(zf, name, array)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: str, write) -> None:
    """``write(fh)`` into a temporary file beside ``path``, fsync it, then rename it over
    ``path``; on any failure the temporary file is removed and ``path`` is left as it was."""
    target = os.path.realpath(path)  # through a symlink: replace what it points at
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise IsADirectoryError(f"minitorch.save: {path!r} is a directory, not a file path")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"minitorch.save: cannot write {path!r}: the directory "
                                f"{directory!r} does not exist")
    base = os.path.basename(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")  # _temp_name_pattern
        try:
            fd = os.open(tmp, flags, 0o666)  # 0o666 & ~umask, as open(path, "wb") would give
            break
        except FileExistsError:
            continue
        except OSError as e:  # read-only folder, no inodes left, ...
            raise _naming(e, path) from e
    try:
        with os.fdopen(fd, "wb") as fh:
            if os.path.exists(target):
                with contextlib.suppress(OSError):
                    os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):  # a full disk: write() and fsync() name no file
            raise _naming(e, path) from e
        raise
    _fsync_directory(directory)
    _remove_stale_temp_files(directory, base)


def _naming(error: OSError, path: str) -> OSError:
    """``error`` again (same errno, so the same OSError subclass), naming the checkpoint."""
    if error.errno is None:
        return OSError(f"minitorch.save: cannot write the checkpoint {path!r}: {error}")
    return OSError(error.errno, f"{error.strerror} (minitorch.save; the checkpoint that was at "
                   "this path, if any, is unchanged)", path)


def _temp_name_pattern(base: str) -> re.Pattern:
    """The names of ``_atomic_write``'s temporary files for the checkpoint named ``base``."""
    return re.compile(re.escape(f".{base}.") + r"[0-9a-f]{12}\.tmp")


def _remove_stale_temp_files(directory: str, base: str) -> None:
    """Delete orphaned temporary files of this checkpoint (saves killed mid-write): regular files
    named like ``_atomic_write``'s for ``base``, not modified for ``STALE_TEMP_AGE_S``. A save in
    progress writes into its file until the rename, so its file is never that old. Best effort:
    a file that cannot be examined or removed is left."""
    pattern = _temp_name_pattern(base)
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_TEMP_AGE_S:
                os.unlink(entry.path)


def save(obj, f) -> None:
    """Save ``obj`` (a state dict, an optimizer state dict, nested containers of tensors, ...)
    to ``f``: a path (``str`` or ``os.PathLike``), written atomically, or a binary file object
    (written in place, not atomic). The format is described in ``minitorch.serialization``."""
    encoder = _Encoder()
    description = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
                   "object": encoder.encode(obj, "obj")}
    arrays = encoder.arrays

    def write(fh):
        _write_archive(fh, description, arrays)

    if isinstance(f, (str, os.PathLike)):
        _atomic_write(os.fspath(f), write)
    elif hasattr(f, "write"):
        write(f)
    else:
        raise TypeError(f"minitorch.save: f must be a path (str or os.PathLike) or a binary file "
                        f"object, got {type(f).__name__}")


# ================================================================================================
# load
# ================================================================================================
def _resolve_device(map_location, saved: str):
    """Where a tensor saved on ``saved`` goes, after torch's rules for ``map_location``:
    None keeps it (an error if that is CUDA and CUDA is missing), a device or string sends every
    tensor there, a dict maps saved locations (``{'cuda:0': 'cpu'}``)."""
    if map_location is None:
        return _device(saved)
    if isinstance(map_location, dict):
        return map_location.get(saved, _device(saved))
    return map_location


class _Bounded:
    """A read-only view of the first ``budget`` bytes of ``stream``: numpy's header reader reads
    through it, so a header that claims to be 4 GB long costs at most ``budget`` bytes."""

    def __init__(self, stream, budget: int):
        self.stream, self.budget, self.consumed = stream, budget, 0

    def read(self, n: int = -1) -> bytes:
        n = self.budget if n is None or n < 0 else min(n, self.budget)
        data = self.stream.read(n)
        self.budget -= len(data)
        self.consumed += len(data)
        return data


class _Decoder:
    def __init__(self, zf: zipfile.ZipFile, path: str, map_location, archive_size: int):
        self.zf = zf
        self.path = path
        self.map_location = map_location
        self.archive_size = archive_size
        self.entries = {info.filename: info for info in zf.infolist()}
        self._arrays: dict[str, np.ndarray] = {}
        self._moved: dict[tuple[str, str], object] = {}

    def fail(self, what: str):
        return CheckpointError(f"minitorch.load: {self.path} is corrupt: {what}")

    @contextlib.contextmanager
    def reading(self, name: str, where: str):
        """Turn what zipfile, zlib and numpy's header parser raise on damage into a
        CheckpointError naming the file, the entry and where in the object it belongs."""
        try:
            yield
        except CheckpointError:
            raise
        except _READ_ERRORS as e:
            raise self.fail(f"cannot read {name} (the {where}): {type(e).__name__}: {e}") \
                from None

    def entry(self, name: str, where: str) -> zipfile.ZipInfo:
        """The ZIP entry ``name``, once its directory record is plausible: not encrypted, stored
        or deflated, an uncompressed size its compressed bytes can expand to, and compressed
        bytes that fit in the file. ``where`` says what the entry is, for the message."""
        info = self.entries.get(name)
        if info is None:
            raise self.fail(f"{where} refers to the array {name!r}, which the archive lacks")
        if info.flag_bits & 0x61:  # bit 0: encrypted, 5: patch data, 6: strong encryption
            raise self.fail(f"the entry {name} ({where}) has ZIP flag bits {info.flag_bits:#06x}, "
                            "which mark it encrypted or patched; minitorch never writes such "
                            "entries (the ZIP directory is damaged)")
        method, packed, size = info.compress_type, info.compress_size, info.file_size
        if method == zipfile.ZIP_STORED:
            if size != packed:
                raise self.fail(f"the entry {name} ({where}) is stored uncompressed but its ZIP "
                                f"record gives {packed} bytes stored and {size} bytes of content")
        elif method == zipfile.ZIP_DEFLATED:
            if size > packed * _DEFLATE_MAX_RATIO:
                raise self.fail(f"the entry {name} ({where}) claims {size} bytes of content from "
                                f"{packed} deflated bytes, more than deflate can expand to")
        else:
            raise self.fail(f"the entry {name} ({where}) uses ZIP compression method {method}; "
                            "minitorch writes entries stored (method 0) and reads stored or "
                            "deflated (8) ones")
        if packed > self.archive_size:
            raise self.fail(f"the entry {name} ({where}) claims {packed} bytes, more than the "
                            f"whole file ({self.archive_size} bytes)")
        return info

    def read_description(self) -> bytes:
        info = self.entry(_DESCRIPTION, "object description")
        with self.reading(_DESCRIPTION, "object description"), self.zf.open(info) as stream:
            text = _read_exactly(stream, info.file_size)
            if len(text) != info.file_size or stream.read(1):  # read(1): to the CRC-32 check
                raise self.fail(f"{_DESCRIPTION} holds {len(text)} bytes, its ZIP record says "
                                f"{info.file_size}")
        return text

    def read_array(self, node: dict, where: str) -> np.ndarray:
        name, shape, dtype = node.get("data"), node.get("shape"), node.get("dtype")
        if not isinstance(name, str) or name not in self.entries:
            raise self.fail(f"{where} refers to the array {name!r}, which the archive lacks")
        if (not isinstance(shape, list) or len(shape) > 64
                or not all(type(n) is int and n >= 0 for n in shape)):
            raise self.fail(f"{where}: the shape {_clip(shape)} is not a list of at most 64 "
                            "non-negative integers")
        if name not in self._arrays:
            self._arrays[name] = self._read_npy(name, tuple(shape), dtype, where)
        array = self._arrays[name]
        if tuple(shape) != array.shape or dtype != array.dtype.name:
            raise self.fail(f"{where}: the array {name} holds {array.dtype.name} of shape "
                            f"{list(array.shape)}, the description says {_named(dtype)} of shape "
                            f"{shape}")
        return array

    def _read_npy(self, name: str, shape: tuple, dtype, where: str) -> np.ndarray:
        """The array of the ``.npy`` entry ``name``: its header is read and checked against
        the description and the entry's size before the array is allocated and filled."""
        info = self.entry(name, f"array at {where}")
        with self.reading(name, f"array at {where}"), self.zf.open(info) as stream:
            header = _Bounded(stream, min(info.file_size, 12 + _NPY_MAX_HEADER))
            version = np.lib.format.read_magic(header)
            if version not in ((1, 0), (2, 0)):
                raise self.fail(f"the array {name} ({where}) is in .npy format version "
                                f"{version[0]}.{version[1]}; minitorch writes 1.0 and reads 1.0 "
                                "and 2.0")
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else
                           np.lib.format.read_array_header_2_0)
            stored_shape, fortran_order, stored_dtype = read_header(
                header, max_header_size=_NPY_MAX_HEADER)
            self._check_header(name, info, header.consumed, stored_shape, stored_dtype, shape,
                               dtype, where)
            array = np.empty(stored_shape[::-1] if fortran_order else stored_shape,
                             dtype=stored_dtype)
            if array.nbytes:
                data = array.reshape(-1).view(np.uint8)
                filled = 0
                while filled < len(data):
                    got = stream.readinto(data[filled:filled + _READ_CHUNK])
                    if not got:
                        raise self.fail(f"the array {name} ({where}) ends after {filled} of its "
                                        f"{len(data)} data bytes")
                    filled += got
            if stream.read(1):  # nothing may follow; the read also runs ZIP's CRC-32 check
                raise self.fail(f"the array {name} ({where}) has trailing bytes after the "
                                "array data")
        if fortran_order:
            array = array.transpose()
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        return array

    def _check_header(self, name: str, info: zipfile.ZipInfo, header_bytes: int,
                      stored_shape: tuple, stored_dtype: np.dtype, shape: tuple, dtype,
                      where: str) -> None:
        """Refuse, before anything is allocated, an entry whose ``.npy`` header disagrees with
        the description or with the size of the entry itself."""
        if stored_dtype.hasobject:
            raise self.fail(f"the array {name} ({where}) holds Python objects "
                            f"({stored_dtype.str}), which would need pickle; minitorch never "
                            "unpickles")
        native = stored_dtype.newbyteorder("=") if not stored_dtype.isnative else stored_dtype
        if tuple(stored_shape) != shape or native.name != dtype:
            raise self.fail(f"{where}: the array {name} holds {native.name} of shape "
                            f"{list(stored_shape)}, the description says {_named(dtype)} of shape "
                            f"{list(shape)}")
        data_bytes = math.prod(shape) * stored_dtype.itemsize
        if header_bytes + data_bytes != info.file_size:
            extra = info.file_size - header_bytes - data_bytes
            raise self.fail(
                f"the array {name} ({where}): its header declares {native.name} of shape "
                f"{list(shape)} = {data_bytes} bytes after a {header_bytes}-byte header, but the "
                f"entry holds {info.file_size} bytes (" +
                (f"{extra} trailing bytes after the array data)" if extra > 0 else
                 f"{-extra} bytes short: truncated)"))

    def decode(self, node, where: str, depth: int = 0):
        if node is None or type(node) in (bool, int, float, str):
            return node
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise self.fail(f"{where}: unexpected {type(node).__name__} in the description")
        kind = node["type"]
        if kind in ("list", "tuple", "size", "dict", "OrderedDict") and depth >= MAX_DEPTH:
            raise self.fail(f"containers nested more than {MAX_DEPTH} deep at {_shorten(where)} "
                            "(minitorch.save writes at most that)")
        try:
            if kind in ("list", "tuple", "size"):
                items = [self.decode(v, f"{where}[{i}]", depth + 1)
                         for i, v in enumerate(node["items"])]
                return items if kind == "list" else tuple(items) if kind == "tuple" else Size(items)
            if kind in ("dict", "OrderedDict"):
                out = OrderedDict() if kind == "OrderedDict" else {}
                for k, v in node["items"]:
                    key = self.decode(k, f"{where} (a key)", depth + 1)
                    out[key] = self.decode(v, f"{where}[{_clip(key)}]", depth + 1)
                return out
            if kind == "tensor":
                return self._tensor(node, where)
            if kind == "ndarray":
                return self.read_array(node, where)
            if kind == "numpy_scalar":
                return self.read_array(node, where)[()]
            if kind == "float":
                return float({"nan": "nan", "inf": "inf", "-inf": "-inf"}[node["value"]])
            if kind == "bytes":
                return bytes.fromhex(node["hex"])
            if kind == "dtype":
                return to_dtype(node["name"])
            if kind == "device":
                return _device(node["name"])
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, RuntimeError) as e:  # RuntimeError: device()
            raise self.fail(f"{where}: malformed {kind!r} entry ({type(e).__name__}: {e})") \
                from None
        raise self.fail(f"{where}: unknown entry type {kind!r}")

    def _tensor(self, node: dict, where: str):
        if node.get("dtype") not in _DTYPE_NAMES:
            raise self.fail(f"{where}: a tensor of unsupported dtype {node.get('dtype')!r}")
        array = self.read_array(node, where)
        saved = node.get("device", "cpu")
        try:
            saved = str(_device(saved))
        except (RuntimeError, TypeError, ValueError):
            raise self.fail(f"{where}: unknown device {saved!r}") from None
        dev = _resolve_device(self.map_location, saved)
        if dev.type == "cuda" and not cuda_is_available():
            raise RuntimeError(f"minitorch.load: {self.path}: {where} was saved on {saved} but "
                               "CUDA is not available here; pass map_location='cpu' to load it "
                               "on the CPU")
        key = (node["data"], str(dev))
        if key not in self._moved:  # tensors that shared one array share it again
            self._moved[key] = to_device(array, dev) if dev.type != "cpu" else array
        data = self._moved[key]
        requires_grad = bool(node.get("requires_grad", False))
        requires_grad = requires_grad and data.dtype.kind == "f"  # only floats can require grad
        if node.get("parameter"):
            return Parameter(Tensor._make(data), requires_grad)
        return Tensor._make(data, requires_grad=requires_grad)


def _describe_foreign(head: bytes, path: str) -> str:
    """What a file that is not a ZIP archive looks like, for the error message."""
    if head.startswith(_TORCH_LEGACY_MAGIC):
        return (f"{path} is a PyTorch checkpoint in torch's legacy (pre-1.6) format, not a "
                "minitorch checkpoint. " + _TORCH_HINT.format(path=path))
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return (f"{path} is a Python pickle, not a minitorch checkpoint; minitorch never "
                "unpickles files (unpickling can run arbitrary code)")
    if head.startswith(b"\x93NUMPY"):
        return f"{path} is a NumPy .npy file, not a minitorch checkpoint; read it with numpy.load"
    try:
        text = head.decode("utf-8")
        looks_text = all(c.isprintable() or c in "\r\n\t" for c in text)
    except UnicodeDecodeError:
        looks_text = False
    if looks_text:
        return (f"{path} is not a minitorch checkpoint: it looks like a text file (it starts "
                f"with {head[:40]!r}); a checkpoint is a ZIP archive")
    return (f"{path} is not a minitorch checkpoint: it is neither a ZIP archive nor any format "
            f"minitorch recognises (it starts with {head[:16]!r})")


def _load_stream(fh, path: str, map_location):
    start = fh.tell()
    head = fh.read(64)
    fh.seek(start)
    if isinstance(head, str):
        raise TypeError(f"minitorch.load: {path} was opened in text mode; open it with 'rb'")
    if not head:
        raise CheckpointError(f"minitorch.load: {path} is empty (0 bytes): not a checkpoint, or "
                              "a save that never completed")
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise CheckpointError("minitorch.load: " + _describe_foreign(head, path))
    archive_size = fh.seek(0, os.SEEK_END) - start
    fh.seek(start)
    try:
        zf = zipfile.ZipFile(fh)
    except _READ_ERRORS as e:
        raise CheckpointError(f"minitorch.load: {path} is truncated or corrupt: it begins like a "
                              f"ZIP archive but cannot be opened as one ({e})") from None
    with zf:
        names = zf.namelist()
        if _DESCRIPTION not in names:
            if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
                raise CheckpointError(f"minitorch.load: {path} is a PyTorch checkpoint "
                                      "(torch.save's zip format), not a minitorch checkpoint. "
                                      + _TORCH_HINT.format(path=path))
            if names and all(n.endswith(".npy") for n in names):
                raise CheckpointError(f"minitorch.load: {path} is a NumPy .npz archive, not a "
                                      "minitorch checkpoint; read it with numpy.load")
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            raise CheckpointError(f"minitorch.load: {path} is a ZIP archive but not a minitorch "
                                  f"checkpoint: it has no {_DESCRIPTION} (entries: "
                                  f"{shown or 'none'})")
        decoder = _Decoder(zf, path, map_location, archive_size)
        text = decoder.read_description()
        try:
            description = json.loads(text.decode("utf-8"), parse_constant=_refuse_constant)
        except RecursionError:
            raise decoder.fail(f"cannot read {_DESCRIPTION}: nested too deeply for the JSON "
                               f"parser (minitorch.save nests containers at most {MAX_DEPTH} "
                               "deep)") from None
        except ValueError as e:  # UnicodeDecodeError and json.JSONDecodeError included
            raise decoder.fail(f"cannot read {_DESCRIPTION}: {e}") from None
        if not isinstance(description, dict) or description.get("format") != FORMAT_NAME:
            raise decoder.fail(f"{_DESCRIPTION} does not describe a {FORMAT_NAME}")
        version = description.get("version")
        if type(version) is not int or version < 1:
            raise decoder.fail(f"invalid format version {version!r}")
        if version > FORMAT_VERSION:
            raise CheckpointError(f"minitorch.load: {path} uses checkpoint format version "
                                  f"{version}, newer than this minitorch reads "
                                  f"({FORMAT_VERSION}); upgrade minitorch")
        if "object" not in description:
            raise decoder.fail(f"{_DESCRIPTION} has no 'object'")
        return decoder.decode(description["object"], "obj")


def _read_exactly(stream, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``, read in chunks (never more than ``size``)."""
    parts, left = [], size
    while left > 0:
        part = stream.read(min(left, _READ_CHUNK))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _clip(value, keep: int = 80) -> str:
    """``repr(value)``, shortened for a message (a hostile file may put megabytes there)."""
    text = repr(value)
    return text if len(text) <= keep else text[:keep] + "..."


def _named(value) -> str:
    """A dtype name from the description as written, or the repr of what stands there instead."""
    return value if isinstance(value, str) and len(value) <= 80 else _clip(value)


def _refuse_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


def load(f, map_location=None, *, weights_only: bool | None = True):
    """Load an object saved by ``minitorch.save`` from a path or a binary file object.

    ``map_location`` (as torch's): None puts each tensor on the device it was saved from; a
    device or string (``'cpu'``) puts every tensor there; a dict maps saved locations to devices
    (``{'cuda:0': 'cpu'}``). ``weights_only`` is accepted for torch compatibility and changes
    nothing: loading never unpickles, so it is always as safe as torch's ``weights_only=True``.
    Raises ``CheckpointError`` naming the file when it is corrupt, truncated or another format.
    """
    if weights_only not in (None, True, False):
        raise TypeError(f"weights_only must be a bool, got {weights_only!r}")
    if isinstance(map_location, dict):  # a bad device name raises here, naming it
        map_location = {str(_device(k)): _device(v) for k, v in map_location.items()}
    elif isinstance(map_location, (str, _device)):
        map_location = _device(map_location)
    elif map_location is not None:
        raise TypeError("map_location must be None, a device, a string or a dict from saved "
                        f"locations to devices, got {type(map_location).__name__}")
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        if os.path.isdir(path):
            raise IsADirectoryError(f"minitorch.load: {path!r} is a directory, not a checkpoint")
        with open(path, "rb") as fh:
            return _load_stream(fh, path, map_location)
    if not hasattr(f, "read"):
        raise TypeError(f"minitorch.load: f must be a path (str or os.PathLike) or a binary file "
                        f"object, got {type(f).__name__}")
    name = str(getattr(f, "name", "<file object>"))
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"minitorch.load: {name} was opened in text mode; open it with 'rb'")
    seekable = getattr(f, "seekable", None)
    if not (callable(seekable) and seekable()):
        f = io.BytesIO(f.read())
    return _load_stream(f, name, map_location)


# ---- torch.serialization's allow-list of globals: accepted, and nothing to allow ----------------
_safe_globals: list = []


def _check_globals(safe_globals, who: str) -> list:
    if isinstance(safe_globals, (str, bytes)) or not hasattr(safe_globals, "__iter__"):
        raise TypeError(f"{who} expects a list of classes or functions (or (object, name) "
                        f"pairs), got {type(safe_globals).__name__}")
    return list(safe_globals)


def add_safe_globals(safe_globals: list) -> None:
    """``torch.serialization.add_safe_globals([...])``: accepted, and changes nothing.

    torch's ``load(weights_only=True)`` runs a restricted unpickler that refuses every class not
    on an allow-list, and this call extends the list. minitorch never unpickles (a checkpoint is
    JSON plus ``.npy`` arrays, see the module docstring), so no class ever needs allowing: the
    objects are only remembered, so that ``get_safe_globals()`` answers as torch's does."""
    _safe_globals.extend(_check_globals(safe_globals, "add_safe_globals"))


def get_safe_globals() -> list:
    """The objects given to ``add_safe_globals`` (and active ``safe_globals`` blocks)."""
    return list(_safe_globals)


def clear_safe_globals() -> None:
    """Forget what ``add_safe_globals`` was given."""
    _safe_globals.clear()


class safe_globals:
    """``with torch.serialization.safe_globals([...]):`` accepted, and changes nothing inside.

    In torch this context manager allow-lists classes for ``load(weights_only=True)`` for the
    duration of the block. ``minitorch.load`` never unpickles, so there is nothing to allow:
    the block runs as it would without it (and ``get_safe_globals()`` lists the objects while it
    runs, as torch's)."""

    def __init__(self, safe_globals: list) -> None:
        self.safe_globals = _check_globals(safe_globals, "safe_globals")

    def __enter__(self):
        self._before = list(_safe_globals)
        _safe_globals.extend(self.safe_globals)
        return self

    def __exit__(self, *exc) -> None:
        _safe_globals[:] = self._before
