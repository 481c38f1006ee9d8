"""A compiled kernel module loaded with ctypes, and launches on it with CUDA's argument rules.

:meth:`Module.launch` does what ``cupy.RawKernel.__call__`` does on a GPU, plus what a memory
checker would:

1. every argument is checked against the entry point's parameter types as the *compiler* saw
   them (:mod:`.signature`): arrays for pointers with the right element type, NumPy scalars of
   exactly the declared size for the rest — a mismatch raises :class:`SignatureMismatch`;
2. each array becomes a device buffer of exactly its size (``mtcpu_alloc``), 16-byte aligned
   like CuPy's allocations, or misaligned by as much as the array's own offset in its base
   allocation (a view 4 bytes in stays 4 bytes off); const-pointer arguments are copied in,
   the others — outputs — are filled with poison (NaN, 0xA5 bytes for integers) so that an
   element the kernel forgets to write shows up;
3. the grid runs (runtime.cpp); afterwards the inputs must be byte-for-byte unchanged, the
   canaries around every buffer intact, and the variant's checker must have nothing to report;
   otherwise :class:`KernelError` names what went wrong, with source lines;
4. the outputs are copied back into the arrays given.

Grid and block limits are CUDA's (block ≤ 1024 threads, grid y and z ≤ 65535).
"""
from __future__ import annotations

import ctypes
import functools
import re
import subprocess
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import build as _build
from .signature import Param, SignatureMismatch, check_argument, entry_declarations


class KernelError(AssertionError):
    """A checker found an error during a launch (or the launch broke a CUDA rule)."""


class LaunchStats(NamedTuple):
    vector_loads: dict    # pointer parameter name -> vector (__ldg of 8/16 bytes) loads from it



def _root(a: np.ndarray):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def misalignment(a: np.ndarray) -> int:
    """How far past a 16-byte boundary CuPy would place ``a``'s data: its byte offset inside its
    base allocation (CuPy's allocations are 256-byte aligned) modulo 16."""
    root = _root(a)
    return (a.ctypes.data - root.ctypes.data) % 16


def _line_map(source: str):
    """Map a line of the expanded source (kernel_source pastes included files between
    ``// ---- begin X ----`` and ``// ---- end X ----``) to (file, line) of the original."""
    stack, out = [["<module>", 0]], {}
    for number, text in enumerate(source.splitlines(), start=1):
        m = re.match(r"// ---- (begin|end) (\S+) ----$", text.strip())
        if m and m.group(1) == "begin":
            stack.append([m.group(2), 0])
            continue
        if m and m.group(1) == "end" and len(stack) > 1:
            stack.pop()
            continue
        stack[-1][1] += 1
        out[number] = (stack[-1][0], stack[-1][1])
    return out


class Module:
    """One kernel source compiled for one variant (see :mod:`.build`) and loaded."""

    def __init__(self, source: str, name: str, variant: str = "fast"):
        if variant == "asan" and not _build.asan_loaded():
            raise RuntimeError("the asan build of the CUDA-on-CPU layer needs libasan loaded first "
                               "in the process: run it in a subprocess with the environment of "
                               "minitorch.testing.cuda_cpu.sanitizer_environment() (LD_PRELOAD="
                               f"{_build.asan_runtime()})")
        self.name, self.variant, self.source = name, variant, source
        self.path = _build.build(source, name, variant)
        self.lib = ctypes.CDLL(str(self.path), mode=ctypes.RTLD_LOCAL)
        self._lock = threading.Lock()
        lib = self.lib
        lib.mtcpu_entry_name.restype = ctypes.c_char_p
        lib.mtcpu_entry_types.restype = ctypes.c_char_p
        lib.mtcpu_errors.restype = ctypes.c_char_p
        lib.mtcpu_anchor.restype = ctypes.c_size_t
        lib.mtcpu_alloc.restype = ctypes.c_void_p
        lib.mtcpu_alloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int, ctypes.c_char_p]
        lib.mtcpu_launch.argtypes = [ctypes.c_int] + [ctypes.c_uint] * 6 + [ctypes.c_void_p]
        lib.mtcpu_vector_loads.restype = ctypes.c_ulonglong
        # entry points: as compiled (names and parameter types the compiler deduced) …
        self.compiled = {}
        for i in range(lib.mtcpu_entry_count()):
            types = lib.mtcpu_entry_types(i).decode()
            self.compiled[lib.mtcpu_entry_name(i).decode()] = (i, tuple(types.split(",")) if types else ())
        # … and as declared (parameter names for messages; the build test compares the two)
        declared = entry_declarations(_build.preprocess(source, name, variant), f"{name}.cu")
        self.declared = {d.name: d for d in declared}
        self.params = {}
        for entry, (_, types) in self.compiled.items():
            d = self.declared.get(entry)
            names = [p.name for p in d.params] if d and len(d.params) == len(types) else \
                [f"arg{i}" for i in range(len(types))]
            self.params[entry] = tuple(Param(t, n) for t, n in zip(types, names))
        self._symbols = _symbols(self.path)
        self._register_shared()
        self._lines = _line_map(source)

    # ---- the symbol table: load base, __shared__ variables, exported functions ---------------
    @functools.cached_property
    def base(self) -> int:
        anchor = next(v for v, _, _, n in self._symbols if n == "mtcpu_anchor")
        return self.lib.mtcpu_anchor() - anchor

    @functools.cached_property
    def _kernel_object_names(self) -> set:
        """The names the kernel's own object file defines (not runtime.cpp's, nor those of a
        libstdc++ the compiler linked in statically)."""
        return {n for _, _, _, n in _symbols(self.path.with_suffix(".o"))}

    def exported_functions(self) -> set:
        """The global functions of the kernel's object file that are not the runtime's: the
        kernels' ``extern "C"`` entry points as the linker sees them."""
        return {n for _, _, t, n in self._symbols if t == "T" and n in self._kernel_object_names
                and not n.startswith(("mtcpu_", "_Z", "__tsan_", "_init", "_fini"))}

    def shared_variables(self) -> list:
        """(address, size, short name) of every __shared__ variable. cuda_cpu.h makes them
        function-local statics, and in device code local statics are exactly the __shared__
        variables: the local statics of the kernel's own functions — in the unnamed namespace
        the build wraps the source in (mangled ``_ZZN12_GLOBAL__N_1…``), or of an ``extern "C"``
        entry point (``_ZZ<length><entry>E…``) — not the runtime's. Only names the kernel's own
        object file defines count: a compiler whose libstdc++ is linked in statically (a GCC
        with only libstdc++.a in its library folder) brings its own unnamed-namespace statics,
        such as the exception globals, and filling those with NaN bytes crashed the process."""
        entry_prefixes = tuple(f"_ZZ{len(e)}{e}E" for e in self.compiled)
        found = [(v, s, n) for v, s, t, n in self._symbols
                 if n in self._kernel_object_names and n.startswith(("_ZZN12_GLOBAL__N_1",) + entry_prefixes)
                 and t in "bBdD" and s > 0]
        if not found:
            return []
        names = subprocess.run(["c++filt"], input="\n".join(n for _, _, n in found),
                               capture_output=True, text=True, check=True,
                               env=_build.tool_environment()).stdout.splitlines()
        return [(self.base + v, s, _short_name(d)) for (v, s, _), d in zip(found, names)]

    def _register_shared(self):
        shared = self.shared_variables()
        n = len(shared)
        addrs = (ctypes.c_size_t * n)(*[a for a, _, _ in shared])
        sizes = (ctypes.c_size_t * n)(*[s for _, s, _ in shared])
        self._shared_names = [name.encode() for _, _, name in shared]
        names = (ctypes.c_char_p * n)(*self._shared_names)
        self.lib.mtcpu_set_shared(n, addrs, sizes, names)

    # ---- reports ------------------------------------------------------------------------------
    def _where(self, path: str, line: int) -> str:
        if path.endswith(f"{self.name}.cu") and line in self._lines:
            f, n = self._lines[line]
            return f"{self.name}.cu:{n}" if f == "<module>" else f"{f}:{n}"
        return f"{Path(path).name}:{line}"

    def symbolize(self, text: str) -> str:
        """Replace ``pc 0x…`` by the source line (the race variant is built with -g) and the
        cached file's line numbers by those of kernels/*.cu."""
        pcs = sorted(set(re.findall(r"pc (0x[0-9a-f]+)", text)))
        if pcs:
            query = "\n".join(hex(int(p, 16) - self.base - 1) for p in pcs)
            out = subprocess.run(["addr2line", "-e", str(self.path), "-C", "-f"], input=query,
                                 capture_output=True, text=True,
                                 env=_build.tool_environment()).stdout.splitlines()
            for i, p in enumerate(pcs):
                if 2 * i + 1 < len(out):
                    m = re.match(r"(.*):(\d+)", out[2 * i + 1])
                    where = self._where(m.group(1), int(m.group(2))) if m else out[2 * i + 1]
                    text = text.replace(f"pc {p}", where)
        return re.sub(r"(\S+\.cu):(\d+)", lambda m: self._where(m.group(1), int(m.group(2))), text)

    # ---- launching ----------------------------------------------------------------------------
    def launch(self, entry: str, grid, block, args):
        """Run ``entry`` on ``grid`` blocks of ``block`` threads with ``args`` (NumPy arrays for
        pointers, NumPy or Python scalars), as CuPy would; outputs are written into the arrays.
        Returns the launch's :class:`LaunchStats`."""
        if entry not in self.compiled:
            raise KernelError(f"{self.name}.cu has no extern \"C\" kernel {entry!r} (it has "
                              f"{', '.join(sorted(self.compiled))})")
        index, _ = self.compiled[entry]
        params = self.params[entry]
        grid = tuple(int(g) for g in grid) + (1,) * (3 - len(grid))
        block = tuple(int(b) for b in block) + (1,) * (3 - len(block))
        if not (1 <= grid[0] <= 2 ** 31 - 1 and 1 <= grid[1] <= 65535 and 1 <= grid[2] <= 65535):
            raise KernelError(f"{entry}: grid {grid} is outside CUDA's limits")
        if min(block) < 1 or block[0] > 1024 or block[1] > 1024 or block[2] > 64 or \
                block[0] * block[1] * block[2] > 1024:
            raise KernelError(f"{entry}: block {block} is outside CUDA's limits (1024 threads)")
        if len(args) != len(params):
            raise SignatureMismatch(f"{entry} takes {len(params)} arguments "
                                    f"({', '.join(f'{p.type} {p.name}' for p in params)}), the "
                                    f"launch passes {len(args)}")
        with self._lock:    # the runtime's state is per shared object; ctypes drops the GIL
            return self._launch(entry, index, params, grid, block, args)

    def _launch(self, entry, index, params, grid, block, args):
        storage, slots, buffers = [], [], []
        try:
            for i, (param, arg) in enumerate(zip(params, args)):
                if check_argument(entry, i, param, arg):
                    buffers.append(self._device_buffer(entry, param, arg, args, i))
                    storage.append(ctypes.c_void_p(buffers[-1][0]))
                else:
                    storage.append(_scalar(param.type, arg))
                slots.append(ctypes.cast(ctypes.pointer(storage[-1]), ctypes.c_void_p))
            argv = (ctypes.c_void_p * max(1, len(slots)))(*slots)
            errors = self.lib.mtcpu_launch(index, *grid, *block, argv)
            report = self.lib.mtcpu_errors().decode() if errors else ""
            stats = {param.name: self.lib.mtcpu_vector_loads(i)
                     for i, (_, param, _, _) in enumerate(buffers)}
            for ptr, param, host, original in buffers:
                device = _view(ptr, host)
                if original is not None:
                    if not np.array_equal(device.reshape(-1).view(np.uint8),
                                          original.reshape(-1).view(np.uint8)):
                        report += (f"the kernel changed its input {param.name} ({param.type}), "
                                   f"a const pointer\n")
                else:
                    host[...] = device
        finally:
            self.lib.mtcpu_free_all()
        if report:
            raise KernelError(f"{entry} on grid {grid}, block {block} ({self.variant} build):\n"
                              + _distinct(self.symbolize(report)))
        return LaunchStats(vector_loads=stats)

    def _device_buffer(self, entry, param, arr, args, index):
        if not arr.flags.c_contiguous:
            raise KernelError(f"{entry}: {param.name} is not C-contiguous (strides {arr.strides}); "
                              f"CuPy passes only its data pointer, so the kernel would read it as "
                              f"if it were")
        output = not param.type.startswith("const ")
        if output:
            for j, other in enumerate(args):
                if j != index and isinstance(other, np.ndarray) and np.shares_memory(arr, other):
                    raise KernelError(f"{entry}: the output {param.name} shares memory with another "
                                      f"argument; aliased buffers are not emulated")
        ptr = self.lib.mtcpu_alloc(arr.nbytes, misalignment(arr), int(output),
                                   f"{param.name} ({param.type}, {arr.nbytes} bytes)".encode())
        if not ptr and arr.nbytes:
            raise MemoryError(f"{entry}: cannot allocate {arr.nbytes} bytes for {param.name}")
        device = _view(ptr, arr)
        if output:
            device.reshape(-1).view(np.uint8)[...] = 0xA5
            if arr.dtype.kind == "f":
                device[...] = np.nan
            return ptr, param, arr, None
        device[...] = arr
        return ptr, param, arr, arr.copy()


def _distinct(report: str, limit: int = 8) -> str:
    """The report's lines, one per kind of error and source line (an unrolled loop repeats one
    fault at many program counters), at most ``limit``, then the runtime's count."""
    lines = report.rstrip().splitlines()
    tally = lines.pop() if lines and lines[-1].startswith("(") else ""
    seen, keep = set(), []
    for line in lines:
        m = re.match(r"(.*?) at (\S+:\d+)", line)
        key = (m.group(1), m.group(2)) if m else line
        if key not in seen:
            seen.add(key)
            keep.append(line)
    more = f"… and {len(keep) - limit} more kinds or places\n" if len(keep) > limit else ""
    return "\n".join(keep[:limit]) + "\n" + more + tally


_CTYPES = {"int": ctypes.c_int32, "unsigned int": ctypes.c_uint32, "long long": ctypes.c_int64,
           "long": ctypes.c_int64, "unsigned long long": ctypes.c_uint64, "float": ctypes.c_float,
           "double": ctypes.c_double, "bool": ctypes.c_bool, "short": ctypes.c_int16,
           "unsigned short": ctypes.c_uint16, "char": ctypes.c_int8, "signed char": ctypes.c_int8,
           "unsigned char": ctypes.c_uint8}


def _scalar(ctype: str, value):
    return _CTYPES[ctype](value.item() if isinstance(value, np.generic) else value)


def _view(ptr, like: np.ndarray) -> np.ndarray:
    """The device buffer at ``ptr`` as an array shaped like ``like``."""
    if like.nbytes == 0:
        return np.empty(like.shape, like.dtype)
    raw = (ctypes.c_char * like.nbytes).from_address(ptr)
    return np.frombuffer(raw, dtype=like.dtype).reshape(like.shape)


def _symbols(path: Path) -> list:
    """(value, size, type, name) of every symbol ``path`` defines, as ``nm -S`` lists them."""
    out = subprocess.run(["nm", "-S", "--defined-only", str(path)], capture_output=True,
                         text=True, check=True, env=_build.tool_environment()).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            rows.append((int(parts[0], 16), int(parts[1], 16), parts[2], parts[3]))
        elif len(parts) == 3:
            rows.append((int(parts[0], 16), 0, parts[1], parts[2]))
    return rows


def _short_name(demangled: str) -> str:
    """``(anonymous namespace)::mt::mainloop<mt::Tile<…>, mt::RowsKRun<…> >(…)::As`` →
    ``mainloop<Tile<64, 64, 16, 4, 4, 16>, RowsKRun<…>, KRowsRun<…>>::As``."""
    name = demangled.replace("(anonymous namespace)::", "")
    m = re.match(r"(.*?)\(.*\)::(\w+)$", name)
    if m:                 # drop the function's parameter list
        name = f"{m.group(1)}::{m.group(2)}"
    name = re.sub(r"\b\w+::(?=\w+[<:])", "", name)     # namespaces (mt::), not the function
    out, depth = [], 0
    for ch in name:       # template arguments nested more than two deep become …
        if ch == "<":
            depth += 1
            out.append("<…" if depth == 3 else ("<" if depth < 3 else ""))
        elif ch == ">":
            out.append(">" if depth <= 3 else "")
            depth -= 1
        elif depth < 3:
            out.append(ch)
    return "".join(out).replace(" >", ">")


_LOADED = {}


def load(source: str, name: str, variant: str = "fast") -> Module:
    """The Module for (source, name, variant) and the current $MINITORCH_CUDA_CPU_CXXFLAGS,
    compiled and loaded once per process."""
    key = (source, name, variant, tuple(_build.extra_flags()))
    if key not in _LOADED:
        _LOADED[key] = Module(source, name, variant)
    return _LOADED[key]
