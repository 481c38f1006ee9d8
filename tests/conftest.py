"""Shared test set-up: hypothesis profiles and the CUDA marker.

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


def pytest_collection_modifyitems(config, items):
    import minitorch
    if minitorch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device: CuPy or an NVIDIA GPU is missing")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
