"""``minitorch.backends.mps``: Apple's Metal backend, which minitorch does not have."""


def is_available() -> bool:
    """False: minitorch runs on CPUs (NumPy) and NVIDIA GPUs (CuPy) only."""
    return False


def is_built() -> bool:
    """False: minitorch has no MPS backend."""
    return False
