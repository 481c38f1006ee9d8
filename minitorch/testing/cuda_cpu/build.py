"""Compiling a kernel source (the text of a ``kernels/*.cu`` file, as ``cupy.RawModule`` gets it)
into a shared object for the CPU, in one of three build variants.

The source is compiled unchanged as C++17, with ``cuda_cpu.h`` force-included (``-include``)
for CUDA's built-ins. The translation unit the compiler sees is generated::

    namespace {                 // internal linkage: each __shared__ variable (a function-local
    #include "sgemm.cu"         // static, see cuda_cpu.h) is then an ordinary object, which
    MTCPU_ENTRY(sgemm_...)      // AddressSanitizer surrounds with redzones (GCC leaves COMDAT
    ...                         // statics of templates unprotected)
    }

``MTCPU_ENTRY`` registers each ``extern "C"`` function found in the preprocessed source with the
parameter types the *compiler* deduces from its definition (the launch checks arguments against
those). It is linked with ``runtime.cpp`` (fibers, barriers, the checks) into ``<name>.so``.

Variants (the compute-sanitizer tools they stand in for):

``fast``  -O2. Barrier divergence, canaries around the buffers, NaN-filled shared memory.
``race``  racecheck / initcheck / synccheck: the kernel instrumented with ``-fsanitize=thread``,
          whose hooks runtime.cpp implements (shared-memory hazards per byte and barrier epoch,
          uninitialised shared reads, out-of-bounds global accesses, one global word written by
          two blocks). Runs in any process.
``asan``  memcheck: ``-fsanitize=address,undefined`` (out-of-bounds global and shared accesses,
          misaligned float4, integer overflow). Needs ``libasan`` loaded first in the process:
          :func:`sanitizer_environment` gives the environment for a subprocess.

Builds are cached in ``$MINITORCH_CUDA_CPU_CACHE`` (default ``~/.cache/minitorch/cuda_cpu``),
keyed by a hash of everything that goes into them; concurrent builders (pytest-xdist workers)
wait for each other on a lock file.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = HERE / "cuda_cpu.h"
RUNTIME = HERE / "runtime.cpp"
VARIANTS = ("fast", "race", "asan")

_COMMON = ["-std=c++17", "-fPIC", "-fno-exceptions", "-Wall", "-Wno-unknown-pragmas",
           "-Wno-unused-function", "-Wno-unused-variable"]
_SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
        "--param=asan-use-after-return=0"]
# (kernel translation unit, runtime.cpp, link) flags per variant
_FLAGS = {
    "fast": (["-O2", "-DMTCPU_FAST"], ["-O2", "-DMTCPU_FAST"], []),
    "race": (["-O1", "-gdwarf-4", "-DMTCPU_RACE", "-fsanitize=thread",
              "--param=tsan-instrument-func-entry-exit=0"], ["-O2", "-DMTCPU_RACE"], []),
    "asan": (["-O1", "-gdwarf-4", "-DMTCPU_ASAN"] + _SAN, ["-O1", "-gdwarf-4", "-DMTCPU_ASAN"], _SAN),
}


class BuildError(RuntimeError):
    """The C++ compiler failed (its output is in the message)."""


def compiler() -> str:
    """The C++ compiler: $CXX, else g++, else clang++."""
    for candidate in (os.environ.get("CXX"), "g++", "clang++"):
        if candidate and shutil.which(candidate):
            return candidate
    raise BuildError("no C++ compiler found (looked for $CXX, g++, clang++); the CUDA-on-CPU "
                     "layer compiles kernels/*.cu with one: apt-get install g++")


@functools.lru_cache(maxsize=None)
def _compiler_id(cxx: str) -> str:
    return subprocess.run([cxx, "--version"], capture_output=True, text=True,
                          env=tool_environment()).stdout.splitlines()[0]


@functools.lru_cache(maxsize=None)
def _cpu_flags() -> tuple:
    """-mfma where the CPU has FMA: fmaf then compiles to one instruction instead of a libm call
    (the result is the same correctly rounded fused multiply-add either way)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    return ("-mfma",) if re.search(r"^flags\s*:.*\bfma\b", info, re.M) else ()


def extra_flags() -> list:
    """$MINITORCH_CUDA_CPU_CXXFLAGS, split on spaces: added to every compile and link command
    (and to the cache key), e.g. ``-DMTCPU_UCONTEXT`` for glibc's context switch instead of the
    hand-written one."""
    return os.environ.get("MINITORCH_CUDA_CPU_CXXFLAGS", "").split()


def cache_dir() -> Path:
    env = os.environ.get("MINITORCH_CUDA_CPU_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "minitorch" / "cuda_cpu"


def tool_environment() -> dict:
    """The environment for the compiler and binutils: this one without a preloaded libasan (a
    process running the asan variant has one; the tools do not need it)."""
    env = dict(os.environ)
    for key in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env.pop(key, None)
    return env


def _run(cmd, what):
    out = subprocess.run(cmd, capture_output=True, text=True, env=tool_environment())
    if out.returncode:
        raise BuildError(f"{what} failed ({' '.join(map(str, cmd))}):\n{out.stderr[-6000:]}")
    return out


def _hash(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:20]


class _Lock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.path, "w")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _runtime_object(cxx: str, variant: str) -> Path:
    _, rt_flags, _ = _FLAGS[variant]
    flags = _COMMON + list(_cpu_flags()) + rt_flags + extra_flags()
    key = _hash(RUNTIME.read_text(), HEADER.read_text(), cxx, _compiler_id(cxx), *flags)
    out = cache_dir() / f"runtime-{variant}-{key}.o"
    if not out.exists():
        with _Lock(cache_dir() / f"runtime-{variant}.lock"):
            if not out.exists():
                tmp = out.with_suffix(f".{os.getpid()}.tmp")
                _run([cxx, *flags, "-I", str(HERE), "-c", str(RUNTIME), "-o", str(tmp)],
                     "compiling runtime.cpp")
                tmp.replace(out)
    return out


def preprocess(source: str, name: str, variant: str = "fast", cxx: str | None = None) -> str:
    """The source after the preprocessor, with cuda_cpu.h's macros (linemarkers kept)."""
    cxx = cxx or compiler()
    kernel_flags, _, _ = _FLAGS[variant]
    work = cache_dir() / "preprocess" / _hash(source)
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{name}.cu"
    if not path.exists():
        tmp = work / f"{name}.{os.getpid()}.tmp"
        tmp.write_text(source)
        tmp.replace(path)
    defines = [f for f in kernel_flags + extra_flags() if f.startswith("-D")]
    out = _run([cxx, "-std=c++17", "-x", "c++", "-E", "-include", str(HEADER), *defines, str(path)],
               f"preprocessing {name}.cu")
    return out.stdout


def build(source: str, name: str, variant: str = "fast") -> Path:
    """Compile ``source`` (kernel text, as handed to cupy.RawModule) for ``variant``; returns
    the path of the shared object (cached)."""
    from .signature import entry_declarations

    if variant not in VARIANTS:
        raise ValueError(f"unknown cuda_cpu build variant {variant!r}; one of {VARIANTS}")
    cxx = compiler()
    kernel_flags, _, link_flags = _FLAGS[variant]
    flags = _COMMON + list(_cpu_flags()) + kernel_flags + extra_flags()
    link_flags = link_flags + extra_flags()
    key = _hash(source, HEADER.read_text(), RUNTIME.read_text(), cxx, _compiler_id(cxx), variant,
                *flags, *link_flags)
    folder = cache_dir() / f"{name}-{variant}-{key}"
    so, obj = folder / f"{name}.so", folder / f"{name}.o"   # (the module reads both)
    if so.exists() and obj.exists():
        return so
    runtime = _runtime_object(cxx, variant)
    with _Lock(cache_dir() / f"{name}-{variant}-{key}.lock"):
        if so.exists() and obj.exists():
            return so
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.cu").write_text(source)
        entries = entry_declarations(preprocess(source, name, variant, cxx), f"{name}.cu")
        if not entries:
            raise BuildError(f"{name}.cu declares no extern \"C\" kernel")
        unit = ["// generated by minitorch.testing.cuda_cpu.build: the kernel source unchanged,",
                "// in an unnamed namespace, and a registration of every extern \"C\" entry point",
                "namespace {", f'#include "{name}.cu"']
        unit += [f"MTCPU_ENTRY({e.name})" for e in entries] + ["}  // namespace", ""]
        (folder / f"{name}_cpu.cpp").write_text("\n".join(unit))
        _run([cxx, *flags, "-include", str(HEADER), "-c", str(folder / f"{name}_cpu.cpp"),
              "-o", str(obj)], f"compiling {name}.cu as C++ ({variant})")
        tmp = folder / f"{name}.{os.getpid()}.tmp.so"
        _run([cxx, "-shared", "-Wl,-Bsymbolic", "-Wl,-z,defs", *link_flags, str(obj), str(runtime),
              "-o", str(tmp)], f"linking {name}.so ({variant})")
        tmp.replace(so)
    return so


@functools.lru_cache(maxsize=None)
def asan_runtime() -> str:
    """The path of the compiler's libasan shared library."""
    path = subprocess.run([compiler(), "-print-file-name=libasan.so"], capture_output=True,
                          text=True, env=tool_environment()).stdout.strip()
    return os.path.realpath(path)


def sanitizer_environment(base: dict | None = None) -> dict:
    """The environment of a process that can load ``asan`` builds: libasan preloaded, leak
    detection off (the Python interpreter's own allocations are not the kernels' business),
    abort on the first error with a stack trace."""
    env = dict(os.environ if base is None else base)
    env["LD_PRELOAD"] = asan_runtime()
    env["ASAN_OPTIONS"] = ("detect_leaks=0:abort_on_error=0:halt_on_error=1:exitcode=86:"
                           "detect_stack_use_after_return=0:allocator_may_return_null=1")
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=87"
    env["MINITORCH_CUDA_CPU_VARIANT"] = "asan"
    return env


def asan_loaded() -> bool:
    """Whether libasan was loaded first in this process (an ``asan`` build can be used here)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return "libasan" in maps
