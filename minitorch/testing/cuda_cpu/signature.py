"""The ``extern "C"`` kernel declarations of a source, and what CuPy passes for each argument.

:func:`entry_declarations` reads the *preprocessed* text (so entry points that macros generate,
like ``MT_SGEMM_ENTRY(...)``, are seen expanded), keeping only the lines of the module itself
(linemarkers name the file each line comes from). Each parameter's type is normalised to the
spelling the compiled module reports for it (``const float*``, ``long long``, ``int``…): the
build registers every entry point with the types the compiler deduced, and a test requires the
two to agree.

:func:`marshal` classifies one launch argument by CuPy's rules for ``RawKernel`` calls — an
array is its data pointer, a NumPy scalar its own dtype and size, a Python ``int`` / ``float`` /
``bool`` an int64 / float64 / bool — and :func:`check_argument` compares it with the declared
type: a mismatch (``np.int64`` for an ``int``, a float64 array for ``const float*``…) raises
:class:`SignatureMismatch`, the error that on a GPU would be silent garbage.
"""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np


class SignatureMismatch(AssertionError):
    """A launch argument does not match the kernel's declared parameter type."""


class Param(NamedTuple):
    type: str     # normalised: "const float*", "long long", …
    name: str


class Declaration(NamedTuple):
    name: str
    params: tuple
    line: int     # in the source


# Scalar parameter types and the NumPy scalar type CuPy must be given for each.
SCALARS = {
    "bool": np.bool_, "char": np.int8, "signed char": np.int8, "unsigned char": np.uint8,
    "short": np.int16, "unsigned short": np.uint16, "int": np.int32, "unsigned int": np.uint32,
    "long": np.int64, "long long": np.int64, "unsigned long long": np.uint64,
    "float": np.float32, "double": np.float64,
}
# Pointer element types and the array dtype they take (void: any).
POINTEES = {
    "float": np.float32, "double": np.float64, "int": np.int32, "long long": np.int64,
    "unsigned char": np.uint8, "bool": np.bool_, "void": None,
}
_TYPEDEFS = {"int32_t": "int", "int64_t": "long", "uint32_t": "unsigned int",
             "uint64_t": "unsigned long", "size_t": "unsigned long", "uint8_t": "unsigned char"}
_QUALIFIERS = {"__restrict__", "__restrict", "restrict", "volatile"}


def normalise_type(words) -> str:
    """``const float * __restrict__`` → ``const float*``; ``long long int`` → ``long long``;
    ``unsigned`` → ``unsigned int``; a scalar's ``const`` and a pointer's own ``const`` (after
    the ``*``) dropped: neither changes what is passed."""
    toks = [t for t in " ".join(words).replace("*", " * ").split() if t not in _QUALIFIERS]
    stars = toks.count("*")
    head = toks[:toks.index("*")] if stars else toks
    const = stars > 0 and "const" in head
    base = [_TYPEDEFS.get(t, t) for t in head if t != "const"]
    base = " ".join(base).split()
    if base[:1] == ["signed"] and base != ["signed", "char"]:
        base = base[1:] or ["int"]
    if base == ["unsigned"]:
        base = ["unsigned", "int"]
    if len(base) > 1 and base[-1] == "int" and base[-2] in ("long", "short"):
        base = base[:-1]
    return ("const " if const else "") + " ".join(base) + "*" * stars


def _module_lines(preprocessed: str, filename: str):
    """(line number, text) of the lines that come from ``filename`` itself."""
    current, line = None, 0
    for raw in preprocessed.splitlines():
        m = re.match(r'#\s*(\d+)\s+"([^"]*)"', raw)
        if m:
            line, current = int(m.group(1)), m.group(2)
            continue
        if current is not None and current.endswith(filename):
            yield line, raw
        line += 1


_DECL = re.compile(r'extern\s+"C"\s+(?:__attribute__\s*\(\(.*?\)\)\s*)*void\s+(\w+)\s*\(([^)]*)\)\s*\{',
                   re.S)


def entry_declarations(preprocessed: str, filename: str) -> list:
    """Every ``extern "C" void name(params) {`` definition in ``filename``'s own lines."""
    lines = list(_module_lines(preprocessed, filename))
    text, starts, pos = [], [], 0
    for number, raw in lines:
        starts.append((pos, number))
        text.append(raw)
        pos += len(raw) + 1
    joined = "\n".join(text)
    found = []
    for m in _DECL.finditer(joined):
        line = max((n for p, n in starts if p <= m.start()), default=0)
        params = []
        for part in (p.strip() for p in m.group(2).split(",")):
            if not part or part == "void":
                continue
            words = part.replace("*", " * ").split()
            params.append(Param(normalise_type(words[:-1]), words[-1]))
        found.append(Declaration(m.group(1), tuple(params), line))
    return found


def marshal(arg):
    """What CuPy passes for ``arg``: ("pointer", dtype) for an array, ("scalar", numpy type)."""
    if isinstance(arg, np.ndarray):
        return "pointer", arg.dtype
    if isinstance(arg, (bool, np.bool_)):
        return "scalar", np.bool_
    if isinstance(arg, np.generic):
        return "scalar", type(arg)
    if isinstance(arg, int):
        return "scalar", np.int64      # CuPy: a Python int is passed as a 64-bit integer
    if isinstance(arg, float):
        return "scalar", np.float64    # and a Python float as a double
    raise SignatureMismatch(f"CuPy cannot pass an argument of type {type(arg).__name__} to a "
                            f"kernel")


def check_argument(entry: str, index: int, param: Param, arg) -> bool:
    """Raise SignatureMismatch unless ``arg`` is what ``param`` declares; True for a pointer."""
    kind, what = marshal(arg)
    where = f"{entry}: argument {index} ({param.type} {param.name})"
    if param.type.endswith("*"):
        if kind != "pointer":
            raise SignatureMismatch(f"{where} is a pointer, but the launch passes "
                                    f"{type(arg).__name__} {arg!r}")
        pointee = param.type.removeprefix("const ").rstrip("*")
        want = POINTEES.get(pointee, "unknown")
        if want == "unknown":
            raise SignatureMismatch(f"{where}: no array dtype is known for {pointee}*")
        if want is not None and np.dtype(what) != np.dtype(want):
            raise SignatureMismatch(f"{where} takes {np.dtype(want).name} elements, but the launch "
                                    f"passes an array of {np.dtype(what).name}")
        return True
    want = SCALARS.get(param.type)
    if want is None:
        raise SignatureMismatch(f"{where}: parameters of type {param.type} are not supported")
    if kind != "scalar":
        raise SignatureMismatch(f"{where} is a scalar, but the launch passes an array")
    if np.dtype(what) != np.dtype(want):
        raise SignatureMismatch(
            f"{where}: the kernel reads a {np.dtype(want).itemsize}-byte {param.type} but the launch "
            f"passes {np.dtype(what).name} ({np.dtype(what).itemsize} bytes, "
            f"{'a Python ' + type(arg).__name__ if not isinstance(arg, np.generic) else 'numpy.' + np.dtype(what).name})"
            f" — on a GPU the kernel would read the wrong bytes")
    return False
