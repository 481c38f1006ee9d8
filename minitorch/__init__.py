"""minitorch: a from-scratch tensor and reverse-mode autograd engine with torch's API.

    import minitorch as torch          # for the subset minitorch implements
"""
import os as _os
import sys as _sys

_numpy_first = "numpy" in _sys.modules
if not _numpy_first:  # read by OpenBLAS when NumPy loads: see backend/parallel.py
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
from .backend import (dtype, device, float16, float32, float64, uint8, int8, int16, int32, int64,
                      bool_ as bool)
from .backend import cuda_is_available as _cuda_is_available
from .backend.parallel import get_num_threads, set_num_threads  # intra-op CPU threads
if _numpy_first:  # too late for the variable: OpenBLAS re-reads it (backend/parallel.py)
    from .backend.parallel import shorten_blas_idle_spin as _shorten
    _shorten()
from .tensor import Tensor, Size, matmul, mm, cat, concat, concatenate, stack, where
from .tensor import multinomial
from .tensor import write_out as _write_out
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from . import autograd
from .random import Generator, manual_seed, seed, initial_seed, get_rng_state, set_rng_state
from .creation import (tensor, as_tensor, from_numpy, zeros, ones, empty, full, arange, linspace,
                       eye, randn, rand, randint, randperm, zeros_like, ones_like, empty_like,
                       full_like, rand_like, randn_like, set_default_device, get_default_device)
from .legacy_tensors import LongTensor, FloatTensor, DoubleTensor, IntTensor, BoolTensor

float = float32
double = float64
half = float16
long = int64

__version__ = "0.1.0"

# the rest builds on everything above, so it is imported last
from . import nn, optim
from . import viz  # draw_graph: the backward graph as Graphviz DOT
from .serialization import save, load  # checkpoints; uses nn.Parameter
from . import metrics  # accuracy, confusion matrix, precision/recall/F1
from . import utils, vision  # utils.data: DataLoader; vision: datasets, transforms
from . import accelerator, backends  # torch.accelerator, torch.backends: devices, inert flags
from . import onnx  # minitorch.onnx.export (onnx itself is imported only when used)
from . import inference  # model files: save_model/load_model, predict


# ---- functional aliases: minitorch.exp(x) is x.exp() ------------------------------------------
def exp(input): return input.exp()
def log(input): return input.log()
def log1p(input): return input.log1p()
def sin(input): return input.sin()
def cos(input): return input.cos()
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    if out is not None:
        return _write_out(out, "norm", lambda: input.norm(p, dim, keepdim, dtype), input)
    return input.norm(p, dim, keepdim, dtype)
def sqrt(input): return input.sqrt()
def abs(input): return input.abs()
def tanh(input): return input.tanh()
def sigmoid(input): return input.sigmoid()
def relu(input): return input.relu()
def clamp(input, min=None, max=None): return input.clamp(min, max)
def flatten(input, start_dim=0, end_dim=-1): return input.flatten(start_dim, end_dim)
def reshape(input, shape): return input.reshape(shape)
def permute(input, dims): return input.permute(dims)
def transpose(input, dim0, dim1): return input.transpose(dim0, dim1)
def squeeze(input, dim=None): return input.squeeze(dim)
def unsqueeze(input, dim): return input.unsqueeze(dim)
def sum(input, dim=None, keepdim=False, dtype=None): return input.sum(dim, keepdim, dtype=dtype)
def mean(input, dim=None, keepdim=False, dtype=None): return input.mean(dim, keepdim, dtype=dtype)
def max(input, dim=None, keepdim=False): return input.max(dim, keepdim)
def min(input, dim=None, keepdim=False): return input.min(dim, keepdim)
def amax(input, dim=(), keepdim=False): return input.amax(dim, keepdim)
def amin(input, dim=(), keepdim=False): return input.amin(dim, keepdim)
def argmax(input, dim=None, keepdim=False): return input.argmax(dim, keepdim)
def argmin(input, dim=None, keepdim=False): return input.argmin(dim, keepdim)
def maximum(input, other): return input.maximum(other)
def minimum(input, other): return input.minimum(other)
def pow(input, exponent): return input ** exponent
def _with_out(op, compute, out, *inputs):
    """``compute()``, or with ``out=``: compute and store into out (``tensor.write_out``)."""
    return compute() if out is None else _write_out(out, op, compute, *inputs)


def add(input, other, alpha=1, out=None):
    return _with_out("add", lambda: input.add(other, alpha=alpha), out, input, other)


def sub(input, other, alpha=1, out=None):
    return _with_out("sub", lambda: input.sub(other, alpha=alpha), out, input, other)


def mul(input, other, out=None):
    return _with_out("mul", lambda: input * other, out, input, other)


def div(input, other, out=None):
    return _with_out("div", lambda: input / other, out, input, other)



def neg(input): return -input
def softmax(input, dim): return input.softmax(dim)
def log_softmax(input, dim): return input.log_softmax(dim)
def split(tensor, split_size_or_sections, dim=0): return tensor.split(split_size_or_sections, dim)
def chunk(input, chunks, dim=0): return input.chunk(chunks, dim)
def numel(input): return input.numel()
def is_tensor(obj): return isinstance(obj, Tensor)
def allclose(input, other, rtol=1e-05, atol=1e-08): return input.allclose(other, rtol, atol)
def equal(input, other): return input.equal(other)
def clone(input): return input.clone()
def detach(input): return input.detach()
def is_floating_point(input): return input.is_floating_point()
def tril(input, diagonal=0): return input.tril(diagonal)
def triu(input, diagonal=0): return input.triu(diagonal)
def masked_fill(input, mask, value): return input.masked_fill(mask, value)
def topk(input, k, dim=-1, largest=True, sorted=True): return input.topk(k, dim, largest, sorted)


class cuda:
    """``minitorch.cuda.is_available()`` and friends (CuPy is loaded only when asked)."""

    @staticmethod
    def is_available() -> bool:
        return _cuda_is_available()

    @staticmethod
    def device_count() -> int:
        if not _cuda_is_available():
            return 0
        from .backend import cupy_module
        return cupy_module().cuda.runtime.getDeviceCount()

    @staticmethod
    def synchronize() -> None:
        if _cuda_is_available():
            from .backend import cupy_module
            cupy_module().cuda.Device().synchronize()

    @staticmethod
    def manual_seed(seed: int) -> None:
        """Does nothing: CUDA tensors draw their random numbers on the CPU (see
        ``minitorch.random``), so ``minitorch.manual_seed`` already seeds them; torch, too,
        ignores this call on a machine without CUDA."""

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        """Does nothing, as ``manual_seed``: there is no per-GPU generator to seed."""
