"""``python -m minitorch info``: what this installation runs on.

Versions (Python, minitorch, NumPy and its BLAS, the optional packages), the devices (the CPU;
CUDA GPUs through CuPy, with their names), whether our CUDA kernels compile (NVRTC, when a GPU is
present), and how many threads BLAS may use. Every probe is
guarded: a missing package or driver is reported, never raised.
"""
from __future__ import annotations

import importlib
import os
import platform
import sys

__all__ = ["collect", "format_report"]

OPTIONAL = ["torch", "cupy", "onnx", "onnxruntime", "PIL", "matplotlib", "tqdm", "hypothesis"]
THREAD_VARIABLES = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]


def _version(name: str) -> str:
    try:
        module = importlib.import_module(name)
    except Exception as e:  # noqa: BLE001 - any failure to import is "not usable"
        return "not installed" if isinstance(e, ImportError) else f"fails to import ({e})"
    return str(getattr(module, "__version__", "installed"))


def _blas() -> str:
    import numpy as np
    try:
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older NumPy: no dict mode
        return "unknown"


def _blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
        pools = [f"{p.get('internal_api')}: {p.get('num_threads')}" for p in threadpool_info()]
        if pools:
            return ", ".join(pools)
    except ImportError:
        pass
    from .backend import parallel
    setters = parallel.blas_thread_setters()
    if setters is not None:  # NumPy's OpenBLAS, asked through ctypes
        return f"openblas: {setters[1]()} (minitorch.set_num_threads sets it)"
    set_vars = [f"{v}={os.environ[v]}" for v in THREAD_VARIABLES if v in os.environ]
    return (", ".join(set_vars) + " (from the environment)") if set_vars else \
        f"not limited by the environment (BLAS picks; {os.cpu_count()} CPUs)"


def _cuda() -> tuple[list, str]:
    """(GPU descriptions, kernel status)."""
    from .backend.device import cuda_is_available, cupy_module
    if cupy_module(required=False) is None:
        return [], "not tried: CuPy is not installed or finds no driver"
    if not cuda_is_available():
        return [], "not tried: no CUDA device"
    cp = cupy_module()
    gpus = []
    for i in range(cp.cuda.runtime.getDeviceCount()):
        props = cp.cuda.runtime.getDeviceProperties(i)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        gpus.append(f"cuda:{i} {name} (sm_{props['major']}{props['minor']}, "
                    f"{props['totalGlobalMem'] / 2**30:.1f} GiB)")
    try:
        from .backend import kernels
        for module in ("sgemm", "conv2d", "maxpool2d"):
            cp.RawModule(code=kernels.kernel_source(module), options=kernels.NVRTC_OPTIONS).compile()
        status = "sgemm.cu, conv2d.cu and maxpool2d.cu compile with NVRTC"
    except Exception as e:  # noqa: BLE001 - report any compile failure
        status = f"FAILED to compile: {type(e).__name__}: {e}"
    return gpus, status


def collect() -> dict:
    import numpy as np

    from . import __version__
    gpus, kernel_status = _cuda()
    return {
        "python": f"{platform.python_version()} ({sys.executable})",
        "minitorch": f"{__version__} ({os.path.dirname(os.path.abspath(__file__))})",
        "numpy": f"{np.__version__}, BLAS {_blas()}",
        "optional": {name: _version(name) for name in OPTIONAL},
        "cpu": f"{platform.machine()} {platform.processor() or ''}".strip()
               + f", {os.cpu_count()} logical CPUs",
        "gpus": gpus,
        "kernels": kernel_status,
        "blas_threads": _blas_threads(),
        "default_device": "cuda" if gpus else "cpu",
    }


def format_report(info: dict) -> str:
    lines = [f"minitorch {info['minitorch']}", f"python    {info['python']}",
             f"numpy     {info['numpy']}", "optional packages:"]
    lines += [f"  {name:<12}{version}" for name, version in info["optional"].items()]
    lines += [f"cpu       {info['cpu']}",
              "gpus      " + ("; ".join(info["gpus"]) if info["gpus"] else "none"),
              f"kernels   {info['kernels']}",
              f"BLAS threads  {info['blas_threads']}",
              f"train --device auto picks: {info['default_device']}"]
    return "\n".join(lines)
