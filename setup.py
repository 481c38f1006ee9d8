"""The one piece of the package layout pyproject.toml cannot state: kernels/ ships in the wheel.

The CUDA sources live at the repository root, in kernels/ (what `make kernels`, CI and the docs
point at). An install carries them as the data-only package ``minitorch.backend.cuda``, mapped
onto kernels/ here (its file patterns are package data in pyproject.toml): the folder
``minitorch/backend/cuda/`` where ``minitorch.backend.kernels.kernel_dir()`` looks in a wheel
install. A source checkout and ``pip install -e .`` keep reading kernels/ itself. Everything
else about the package is in pyproject.toml.
"""
from setuptools import find_namespace_packages, setup

setup(packages=find_namespace_packages(include=["minitorch*"]) + ["minitorch.backend.cuda"],
      package_dir={"minitorch.backend.cuda": "kernels"})
