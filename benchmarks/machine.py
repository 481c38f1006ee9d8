"""The machine a benchmark ran on, as recorded in the JSON and printed above the table.

CPU model, logical and physical cores, clock and SIMD flags from ``/proc/cpuinfo``; memory from
``/proc/meminfo``; the GPU's name, driver and memory from ``nvidia-smi`` when there is one; the
versions of Python, NumPy (and its BLAS), torch, CuPy and matplotlib. Nothing here imports CuPy:
its version comes from the installed package metadata.
"""
from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
from importlib import metadata

from .threads import physical_cores


def _cpuinfo() -> dict:
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key and key not in info:
                    info[key] = value.strip()
    except OSError:
        pass
    return info


def _meminfo_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError):
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu() -> dict:
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    mhz = info.get("cpu MHz")
    return {
        "model": info.get("model name") or platform.processor() or platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical_cores(),
        "mhz": float(mhz) if mhz else None,
        "simd": sorted(f for f in flags if f in {"sse4_2", "avx", "avx2", "fma", "avx512f",
                                                   "avx512_bf16", "amx_tile", "asimd", "sve"}),
        "memory_gib": _meminfo_gib(),
    }


def gpus() -> list:
    """One dict per GPU that ``nvidia-smi`` lists (name, driver, memory); [] without one."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            rows.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    return rows


def numpy_blas() -> str | None:
    try:
        import numpy as np
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name')} {blas.get('version')}".strip() or None
    except Exception:  # show_config's layout is not a stable API
        return None


def libraries() -> dict:
    versions = {"python": platform.python_version()}
    for dist in ("numpy", "torch", "minitorch", "matplotlib", "threadpoolctl",
                 "cupy-cuda12x", "cupy-cuda13x", "cupy"):
        v = _version(dist)
        if v is not None:
            versions[dist] = v
    versions["numpy_blas"] = numpy_blas()
    return versions


def load_average() -> list | None:
    """The 1, 5 and 15-minute load averages: above the core count, other work shared the CPU
    and the timings are noisy."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def describe() -> dict:
    """Everything above, plus the OS, the UTC time and the load average (at the end of the run)."""
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": load_average(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": cpu(),
        "gpus": gpus(),
        "libraries": libraries(),
    }


def one_line(m: dict) -> str:
    """A one-line summary for the top of the Markdown table."""
    c = m["cpu"]
    parts = [f"{c['model']} ({c['physical_cores']} physical / {c['logical_cores']} logical cores"
             + (f", {c['mhz']:.0f} MHz" if c.get("mhz") else "") + ")"]
    for g in m.get("gpus", []):
        parts.append(f"{g['name']} (driver {g['driver']}, {g['memory']})")
    libs = m["libraries"]
    parts.append(", ".join(f"{k} {v}" for k, v in libs.items() if v and k != "numpy_blas")
                 + (f" [{libs['numpy_blas']}]" if libs.get("numpy_blas") else ""))
    return "; ".join(parts)
