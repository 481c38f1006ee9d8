"""Convert checkpoints between torch (.pt) and minitorch, in both directions. Needs torch.

    python examples/convert_checkpoint.py model.pt model.mtc          # torch -> minitorch
    python examples/convert_checkpoint.py model.mtc model.pt          # minitorch -> torch
    python examples/convert_checkpoint.py --to torch in.ckpt out.ckpt  # force the direction

The direction is read from the source file (a minitorch checkpoint or not) unless ``--to`` says.
Whole nested objects convert, not only state dicts: a training checkpoint such as
``{'model': model.state_dict(), 'optimizer': opt.state_dict(), 'epoch': 3}`` keeps its layout, so
an Adam state dict saved by torch loads into minitorch's Adam and training goes on.

What it teaches: minitorch never imports torch and never unpickles; the bridge between the two is
NumPy. Each torch tensor becomes ``minitorch.from_numpy(t.detach().cpu().numpy())`` (Parameters
stay Parameters, ``requires_grad`` kept), and back with ``torch.from_numpy``. torch reads the
files this writes with ``torch.load(path, weights_only=True)``: NumPy arrays and NumPy scalars in
a minitorch checkpoint become torch tensors and Python numbers (torch's safe loader refuses NumPy
objects), ``minitorch.Size``/``dtype``/``device`` become torch's. torch's bfloat16 has no NumPy
dtype: such tensors are widened to float32, with a warning. Parameter and buffer names are the
same in both libraries, so a state dict loads into the same architecture without renaming.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
import zipfile
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minitorch


def _map(obj, leaf):
    """Rebuild nested lists/tuples/dicts with ``leaf`` applied to everything else."""
    if isinstance(obj, OrderedDict):  # a state dict keeps its type
        return OrderedDict((k, _map(v, leaf)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _map(v, leaf) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map(v, leaf) for v in obj]
    if isinstance(obj, tuple) and not isinstance(obj, (torch.Size, minitorch.Size)):
        return tuple(_map(v, leaf) for v in obj)
    return leaf(obj)


def _torch_leaf_to_minitorch(x):
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.dtype == torch.bfloat16:
            warnings.warn("bfloat16 tensor converted to float32 (NumPy has no bfloat16)",
                          stacklevel=2)
            t = t.float()
        out = minitorch.from_numpy(t.numpy().copy())
        if isinstance(x, torch.nn.Parameter):
            return minitorch.nn.Parameter(out, requires_grad=x.requires_grad)
        return out.requires_grad_(x.requires_grad and out.is_floating_point())
    if isinstance(x, torch.Size):
        return minitorch.Size(x)
    if isinstance(x, torch.dtype):
        return minitorch.backend.to_dtype(str(x))
    if isinstance(x, torch.device):
        return minitorch.device(str(x))
    return x


def _minitorch_leaf_to_torch(x):
    if isinstance(x, minitorch.Tensor):
        out = torch.from_numpy(np.array(x._cpu_array(), copy=True))
        if isinstance(x, minitorch.nn.Parameter):
            return torch.nn.Parameter(out, requires_grad=x.requires_grad)
        return out.requires_grad_(x.requires_grad)
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.array(x, copy=True))
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, minitorch.Size):
        return torch.Size(x)
    if isinstance(x, minitorch.dtype):
        return getattr(torch, x.name)
    if isinstance(x, minitorch.device):
        return torch.device(str(x))
    return x


def torch_to_minitorch(obj):
    """A torch object (state dict, optimizer state dict, nested containers) as minitorch's."""
    return _map(obj, _torch_leaf_to_minitorch)


def minitorch_to_torch(obj):
    """The reverse of ``torch_to_minitorch``; the result is what ``torch.save`` writes."""
    return _map(obj, _minitorch_leaf_to_torch)


def torch_file_to_minitorch(src, dst) -> None:
    """Read a torch checkpoint (safely: ``weights_only=True``) and save it as minitorch's."""
    obj = torch.load(src, map_location="cpu", weights_only=True)
    minitorch.save(torch_to_minitorch(obj), dst)


def minitorch_file_to_torch(src, dst) -> None:
    """Read a minitorch checkpoint and save it with ``torch.save``."""
    torch.save(minitorch_to_torch(minitorch.load(src, map_location="cpu")), dst)


def is_minitorch_checkpoint(path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return "minitorch_checkpoint.json" in zf.namelist()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--to", choices=("torch", "minitorch"),
                        help="the target format (default: the one the source is not in)")
    args = parser.parse_args(argv)
    to = args.to or ("torch" if is_minitorch_checkpoint(args.src) else "minitorch")
    if to == "torch":
        minitorch_file_to_torch(args.src, args.dst)
    else:
        torch_file_to_minitorch(args.src, args.dst)
    print(f"wrote {args.dst} ({to} format)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
