"""``minitorch.backends.cudnn``: torch's cuDNN flags, inert (minitorch never calls cuDNN: its
convolutions are its own CUDA kernels or CuPy's GEMMs).

Each flag holds what it is set to and has no effect: ``enabled`` (torch's default True),
``benchmark`` (False), ``deterministic`` (False), ``allow_tf32`` (True).
"""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: minitorch does not use cuDNN, with or without a GPU."""
    return False


def version() -> None:
    """None, as torch without cuDNN."""
    return None
