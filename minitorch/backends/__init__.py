"""``minitorch.backends``: torch's ``torch.backends`` switches, for programs that set or read them.

    torch.backends.cudnn.benchmark = True          # accepted, does nothing
    use_mps = torch.backends.mps.is_available()    # False: minitorch runs on CPUs and CUDA only

minitorch uses neither cuDNN nor TF32 (its CUDA kernels compute in full float32, and so does
CuPy's cuBLAS path unless the environment sets ``CUPY_TF32=1``) nor Apple's MPS, so these flags
are *inert*: they can be read and set, keep the value set, and change nothing. Their defaults are
torch's.
"""
from . import cuda, cudnn, mps
