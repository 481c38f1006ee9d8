"""Shared test set-up: hypothesis profiles and the CUDA marker (and how the cuda tests ran).

Profiles: ``default`` keeps ``make test`` fast; ``MINITORCH_HYPOTHESIS=thorough`` draws many more
examples (``make test-thorough``).
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=15, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("MINITORCH_HYPOTHESIS", "default"))


def cuda_mode() -> str:
    """How the ``cuda``-marked tests run: on a real GPU, EMULATED (``MINITORCH_FAKE_CUPY=1``: the
    NumPy-backed CuPy stand-in, our kernels/*.cu on the CPU) or not at all (skipped)."""
    import minitorch
    from minitorch.backend import cupy_module
    if not minitorch.cuda.is_available():
        return "not available: skipped"
    cp = cupy_module()
    if getattr(cp, "emulated", False):
        variant = os.environ.get("MINITORCH_CUDA_CPU_VARIANT") or "fast"
        return (f"EMULATED, no GPU: CuPy stand-in on NumPy, kernels/*.cu on the CPU "
                f"(cuda_cpu {variant} build)")
    name = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"]
    return f"real GPU: CuPy {cp.__version__} on {name.decode() if isinstance(name, bytes) else name}"


def pytest_report_header(config):
    return f"cuda tests: {cuda_mode()}"


def pytest_terminal_summary(terminalreporter):
    ran = sum(1 for key in ("passed", "failed") for r in terminalreporter.stats.get(key, [])
              if r.when == "call" and "cuda" in r.keywords)
    if ran:
        terminalreporter.write_line(f"{ran} cuda-marked tests ran, {cuda_mode()}")


# Under the emulated GPU only: what the emulation cannot run, and test bugs it has found (strict
# xfail: a fixed test fails here until its entry is removed).
NOT_EMULATED = {"nccl": "NCCL is not emulated (it needs CuPy's NCCL and GPUs)"}
EMULATOR_FOUND: dict = {}  # test_module_to_cuda_and_back's bug, found here, is fixed


def pytest_collection_modifyitems(config, items):
    import minitorch
    if minitorch.cuda.is_available():
        if "EMULATED" in cuda_mode():
            for item in items:
                for word, reason in NOT_EMULATED.items():
                    if word in item.nodeid and "cuda" in item.keywords:
                        item.add_marker(pytest.mark.skip(reason=reason))
                if item.nodeid in EMULATOR_FOUND:
                    item.add_marker(pytest.mark.xfail(reason=EMULATOR_FOUND[item.nodeid],
                                                      strict=True))
        return
    if os.environ.get("MINITORCH_FAKE_CUPY") == "1":   # asked for the emulated GPU: never skip
        from minitorch.backend import device
        raise pytest.UsageError(f"MINITORCH_FAKE_CUPY=1 but the CuPy stand-in did not load: "
                                f"{device._cupy_error}")
    skip = pytest.mark.skip(reason="no CUDA device: CuPy or an NVIDIA GPU is missing")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
