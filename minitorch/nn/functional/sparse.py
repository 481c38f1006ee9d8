"""``embedding``: a lookup table, the first layer of every language model.

Notation as in ``ops.py``: ``g`` is dL/dy (shape of y); each backward returns dL/dW.
"""
from __future__ import annotations

import numpy as np

from ...autograd import ArrayFunction
from ...backend import add_at, array_module
from ...tensor import Tensor, fmt_shape

__all__ = ["embedding"]


class Embedding(ArrayFunction):
    """y[..., :] = W[idx[...], :]   for W of shape (num_embeddings, embedding_dim) and an integer
    index array idx of any shape; y has shape idx.shape + (embedding_dim,).

    Backward: row i of dL/dW is the sum of g over every position where idx == i (an index that
    repeats accumulates, hence ``add.at``); rows never looked up get 0, and so does the
    ``padding_idx`` row (it stays fixed while training, as in torch).
    """

    @staticmethod
    def forward(ctx, weight, idx, padding_idx):
        ctx.idx, ctx.padding_idx, ctx.weight_shape = idx, padding_idx, weight.shape
        return weight[idx]

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        gw = xp.zeros(ctx.weight_shape, dtype=g.dtype)
        add_at(gw, ctx.idx.reshape(-1), g.reshape(-1, ctx.weight_shape[1]))
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None, None


def embedding(input: Tensor, weight: Tensor, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer tensor ``input``;
    ``padding_idx``'s row gets no gradient. See :class:`Embedding`."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("embedding: expected input and weight to be Tensors, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not "
                                  "implemented in minitorch")
    if input.dtype.name not in ("int64", "int32", "int16", "int8", "uint8"):
        raise RuntimeError(f"embedding: expected an integer index tensor (Long or Int), got "
                           f"{input.dtype.name} of shape {fmt_shape(input.shape)}")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got shape {fmt_shape(weight.shape)}")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise AssertionError(f"embedding: padding_idx {padding_idx} must be within "
                                 f"num_embeddings ({n})")
        padding_idx = padding_idx % n
    idx = input._data
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for a table of {n} rows "
                         f"(weight {fmt_shape(weight.shape)})")
    return Embedding.apply(weight, idx.astype(np.int64, copy=False), padding_idx)
