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
``load`` never unpickles anything: it parses JSON and reads ``.npy`` payloads with
``allow_pickle=False``, so a checkpoint from an untrusted source cannot run code. (torch's
``weights_only=True`` restricts the unpickler; here there is no unpickler at all.) The
``weights_only`` argument is accepted for torch compatibility and changes nothing.

Atomic writes
-------------
``save(obj, path)`` first turns ``obj`` into the description and the list of arrays (so an
unsupported object raises before any file is touched), then writes the archive to a temporary file
in the destination's directory, flushes it, ``os.fsync``s it, and renames it over ``path`` with
``os.replace`` (atomic on POSIX and Windows), then fsyncs the directory. A crash or an exception
mid-save leaves the previous checkpoint at ``path`` untouched and removes the temporary file
(after a hard kill a stray ``.<name>.<random>.tmp`` may remain beside it; it is never read). The
file keeps the permission bits of the checkpoint it replaces. Saving to a file object (anything
with ``write``) writes straight into it: no atomicity there.

Errors on load
--------------
An empty, truncated or corrupt file, or one in another format, raises ``CheckpointError`` (a
``RuntimeError``) that names the file and what is wrong: a torch checkpoint (either of torch's
formats) is recognised and the message says how to convert it; so are pickles, ``.npy``/``.npz``
files, text files and ZIPs that are not checkpoints. Each array's dtype and shape are checked
against the description, and ZIP's CRC-32 catches flipped bytes.

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
import secrets
import stat
import zipfile
from collections import OrderedDict

import numpy as np

from .backend import device as _device, dtype as _dtype, to_device, to_dtype, cuda_is_available
from .backend.dtypes import _BY_NAME as _DTYPE_NAMES
from .nn.parameter import Parameter
from .tensor import Size, Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "minitorch.checkpoint"
FORMAT_VERSION = 1
_DESCRIPTION = "minitorch_checkpoint.json"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed timestamps: equal objects give equal files
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

    def encode(self, obj, where: str):
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
            self._open.add(id(obj))
            try:
                return self._encode_container(obj, where)
            finally:
                self._open.discard(id(obj))
        raise TypeError(f"minitorch.save: cannot save an object of type "
                        f"{type(obj).__module__}.{type(obj).__qualname__} at {where}; supported "
                        "are tensors, NumPy arrays and scalars, None, bool, int, float, str, "
                        "bytes, and lists, tuples and dicts of these (see "
                        "minitorch.serialization)")

    def _encode_container(self, obj, where: str):
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                items.append([self._encode_key(k, where), self.encode(v, f"{where}[{k!r}]")])
            return {"type": "OrderedDict" if isinstance(obj, OrderedDict) else "dict",
                    "items": items}
        kind = "size" if isinstance(obj, Size) else "tuple" if isinstance(obj, tuple) else "list"
        return {"type": kind, "items": [self.encode(v, f"{where}[{i}]")
                                        for i, v in enumerate(obj)]}

    def _encode_key(self, key, where: str):
        ok = (type(key) is tuple and all(_plain_key(k) for k in key)) or _plain_key(key)
        if not ok:
            raise TypeError(f"minitorch.save: cannot save the dict key {key!r} of type "
                            f"{type(key).__name__} in {where}; keys must be None, bool, int, "
                            "float, str, bytes or tuples of these")
        return self.encode(key, f"{where} (a key)")


def _plain_key(k) -> bool:
    return k is None or type(k) in (bool, int, float, str, bytes)


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
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)  # 0o666 & ~umask, as open(path, "wb") would give
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            if os.path.exists(target):
                with contextlib.suppress(OSError):
                    os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


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


class _Decoder:
    def __init__(self, zf: zipfile.ZipFile, path: str, map_location):
        self.zf = zf
        self.path = path
        self.map_location = map_location
        self.members = set(zf.namelist())
        self._arrays: dict[str, np.ndarray] = {}
        self._moved: dict[tuple[str, str], object] = {}

    def fail(self, what: str):
        return CheckpointError(f"minitorch.load: {self.path} is corrupt: {what}")

    def read_array(self, node: dict, where: str) -> np.ndarray:
        name = node.get("data")
        if not isinstance(name, str) or name not in self.members:
            raise self.fail(f"{where} refers to the array {name!r}, which the archive lacks")
        if name not in self._arrays:
            try:
                with self.zf.open(name) as stream:
                    array = np.lib.format.read_array(stream, allow_pickle=False)
                    if stream.read(1):  # also runs ZIP's CRC-32 check to the entry's end
                        raise ValueError("trailing bytes after the array data")
            except (ValueError, EOFError, OSError, zipfile.BadZipFile) as e:
                raise self.fail(f"cannot read the array {name} ({where}): {e}") from None
            if not array.dtype.isnative:
                array = array.astype(array.dtype.newbyteorder("="))
            self._arrays[name] = array
        array = self._arrays[name]
        shape = node.get("shape")
        if (not isinstance(shape, list) or tuple(shape) != array.shape
                or node.get("dtype") != array.dtype.name):
            raise self.fail(f"{where}: the array {name} holds {array.dtype.name} of shape "
                            f"{list(array.shape)}, the description says {node.get('dtype')} of "
                            f"shape {shape}")
        return array

    def decode(self, node, where: str):
        if node is None or type(node) in (bool, int, float, str):
            return node
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise self.fail(f"{where}: unexpected {type(node).__name__} in the description")
        kind = node["type"]
        try:
            if kind in ("list", "tuple", "size"):
                items = [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node["items"])]
                return items if kind == "list" else tuple(items) if kind == "tuple" else Size(items)
            if kind in ("dict", "OrderedDict"):
                out = OrderedDict() if kind == "OrderedDict" else {}
                for k, v in node["items"]:
                    key = self.decode(k, f"{where} (a key)")
                    out[key] = self.decode(v, f"{where}[{key!r}]")
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
        except (KeyError, TypeError, ValueError) as e:
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
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
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
        decoder = _Decoder(zf, path, map_location)
        try:
            description = json.loads(zf.read(_DESCRIPTION).decode("utf-8"),
                                     parse_constant=_refuse_constant)
        except (ValueError, EOFError, OSError, zipfile.BadZipFile) as e:
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
