"""``MultiheadAttention``, ``TransformerEncoderLayer``/``TransformerEncoder``,
``TransformerDecoderLayer``/``TransformerDecoder`` and ``Transformer``, with torch's parameter
names and layout (``in_proj_weight`` (3E, E) stacking W_q, W_k, W_v; ``in_proj_bias``;
``out_proj.weight``/``.bias``; ``linear1``, ``linear2``, ``norm1``, ``norm2``), so a torch
``state_dict`` loads unchanged and gives torch's outputs and gradients.

Mask conventions (torch's, and they differ): in ``MultiheadAttention`` a bool ``attn_mask`` or
``key_padding_mask`` entry that is True means *may not attend*; in
``F.scaled_dot_product_attention`` True means *may attend*. Float masks are added to the scores
in both.
"""
from __future__ import annotations

import copy

import numpy as np

from ... import creation
from ...tensor import Tensor, fmt_shape
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder"]


def _float_mask(mask: Tensor, dtype, name: str) -> Tensor:
    """torch's MHA mask as an additive float mask: bool True (not allowed) → −inf, else 0."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"MultiheadAttention: {name} must be a Tensor or None, got "
                        f"{type(mask).__name__}")
    if mask.dtype.name == "bool":
        return creation.zeros(*mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, -np.inf)
    if not mask.is_floating_point():
        raise RuntimeError(f"MultiheadAttention: only bool and floating types of {name} are "
                           f"supported, got {mask.dtype.name}")
    return mask if mask.dtype is dtype else mask.to(dtype)


class MultiheadAttention(Module):
    """``MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False)``.

    With E = embed_dim, H = num_heads, D = E / H and W_q, W_k, W_v the three (E, E) blocks of
    ``in_proj_weight``::

        Q = query W_qᵀ + b_q,  K = key W_kᵀ + b_k,  V = value W_vᵀ + b_v
        headₕ = softmax(Qₕ Kₕᵀ / √D + mask) Vₕ      (Qₕ: the h-th D-wide slice of Q's features)
        out  = concat(head₁ … head_H) W_oᵀ + b_o    (``out_proj``)

    Each head is ``F.scaled_dot_product_attention`` (its docstring has the backward); the
    projections are ``F.linear``. Inputs: (L, N, E), or (N, L, E) with ``batch_first``, or
    unbatched (L, E). Returns (output, weights): weights (N, L, S) averaged over heads, or
    (N, H, L, S) with ``average_attn_weights=False``, or None with ``need_weights=False``.
    The weights are those after dropout, as torch's.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise AssertionError(f"embed_dim ({embed_dim}) must be divisible by num_heads "
                                 f"({num_heads})")
        if add_bias_kv or add_zero_attn or (kdim or embed_dim) != embed_dim or \
                (vdim or embed_dim) != embed_dim:
            raise NotImplementedError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/"
                                      "vdim other than embed_dim are not implemented")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = self.vdim = embed_dim
        self._qkv_same_embed_dim = True
        self.dropout = dropout
        self.batch_first = batch_first
        self.in_proj_weight = Parameter(creation.empty(3 * embed_dim, embed_dim, dtype=dtype,
                                                       device=device))
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, dtype=dtype,
                                                         device=device))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _project(self, query, key, value):
        """Q, K, V = the three input projections (one product when query is key is value).
        With a LoRA ``in_proj_adapter`` (``nn.lora``) the weight is W + ΔW."""
        w, b = self.in_proj_weight, self.in_proj_bias
        adapter = self._modules.get("in_proj_adapter")
        if adapter is not None:
            w = adapter.adapted(w)
        if query is key and key is value:
            return F.linear(query, w, b).chunk(3, dim=-1)
        ws = w.chunk(3)
        bs = b.chunk(3) if b is not None else (None, None, None)
        return tuple(F.linear(x, ws[i], bs[i]) for i, x in enumerate((query, key, value)))

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                               "Transformer module method `generate_square_subsequent_mask` to "
                               "create this mask.")
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor) or t.ndim not in (2, 3) or t.shape[-1] != self.embed_dim:
                got = fmt_shape(t.shape) if isinstance(t, Tensor) else type(t).__name__
                raise RuntimeError(f"MultiheadAttention: {name} must be (L, N, E), (N, L, E) with "
                                   f"batch_first, or (L, E), with E = embed_dim = "
                                   f"{self.embed_dim}; got {got}")
        batched = query.ndim == 3
        if not batched:  # (L, E): a batch of one, (1, L, E), keeping self-attention's identity
            same_qk, same_kv = query is key, key is value
            query = query.unsqueeze(0)
            key = query if same_qk else key.unsqueeze(0)
            value = key if same_kv else value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        elif not self.batch_first:  # (L, N, E) → (N, L, E), keeping self-attention's identity
            same_qk, same_kv = query is key, key is value
            query = query.transpose(0, 1)
            key = query if same_qk else key.transpose(0, 1)
            value = key if same_kv else value.transpose(0, 1)
        N, L, E = query.shape
        S = key.shape[1]
        if key.shape[0] != N or value.shape[:2] != key.shape[:2]:
            raise RuntimeError(f"MultiheadAttention: key {fmt_shape(key.shape)} and value "
                               f"{fmt_shape(value.shape)} must share batch and sequence dims, "
                               f"and the batch of query (N={N})")
        H, D = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)
        q = q.reshape(N, L, H, D).transpose(1, 2)  # (N, H, L, D)
        k = k.reshape(N, S, H, D).transpose(1, 2)
        v = v.reshape(N, S, H, D).transpose(1, 2)
        mask = None
        if attn_mask is not None:
            m = _float_mask(attn_mask, query.dtype, "attn_mask")
            if m.shape == (L, S):
                mask = m
            elif m.shape == (N * H, L, S):
                mask = m.reshape(N, H, L, S)
            else:
                raise RuntimeError(f"The shape of the 2D attn_mask is {fmt_shape(m.shape)}, but "
                                   f"should be ({L}, {S}) or ({N * H}, {L}, {S}) for 3D.")
        if key_padding_mask is not None:
            m = _float_mask(key_padding_mask, query.dtype, "key_padding_mask")
            if m.shape != (N, S):
                raise RuntimeError(f"expected key_padding_mask of shape ({N}, {S}) (batch, "
                                   f"source length), got {fmt_shape(m.shape)}")
            m = m.reshape(N, 1, 1, S)
            mask = m if mask is None else mask + m
        p = self.dropout if self.training else 0.0
        res = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                             need_weights=need_weights)
        out, weights = res if need_weights else (res, None)
        out = self.out_proj(out.transpose(1, 2).reshape(N, L, E))
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            out = out.squeeze(0)
            weights = weights.squeeze(0) if weights is not None else None
        elif not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


def _activation(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class TransformerEncoderLayer(Module):
    """``TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
    activation='relu', layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``.

    With SA(x) = dropout1(self_attn(x, x, x)) and FF(x) = dropout2(linear2(dropout(act(linear1 x))))::

        post-norm (default):  x = norm1(x + SA(x));   x = norm2(x + FF(x))
        pre-norm (norm_first): x = x + SA(norm1(x));  x = x + FF(norm2(x))   (GPT-2's order)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """``TransformerEncoder(encoder_layer, num_layers, norm=None)``: ``num_layers`` independent
    copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...) applied in turn, then ``norm``."""

    def __init__(self, encoder_layer, num_layers: int, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoderLayer(Module):
    """``TransformerDecoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
    activation='relu', layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``.

    With SA(x) = dropout1(self_attn(x, x, x)) over the target, CA(x, m) =
    dropout2(multihead_attn(x, m, m)) attending to the encoder's output m (the "memory"), and
    FF(x) = dropout3(linear2(dropout(act(linear1 x))))::

        post-norm (default):  x = norm1(x + SA(x));  x = norm2(x + CA(x, m));  x = norm3(x + FF(x))
        pre-norm (norm_first): x = x + SA(norm1 x);  x = x + CA(norm2 x, m);  x = x + FF(norm3 x)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x


class TransformerDecoder(Module):
    """``TransformerDecoder(decoder_layer, num_layers, norm=None)``: ``num_layers`` independent
    copies of ``decoder_layer`` applied in turn, each attending to the same ``memory``."""

    def __init__(self, decoder_layer, num_layers: int, norm=None):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """``Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    dim_feedforward=2048, dropout=0.1, activation='relu', custom_encoder=None,
    custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``:
    the encoder–decoder of "Attention is all you need", as torch builds it::

        memory = encoder(src)            TransformerEncoder, a final LayerNorm
        output = decoder(tgt, memory)    TransformerDecoder, a final LayerNorm

    Every parameter with two or more dimensions starts Xavier-uniform (torch's
    ``_reset_parameters``). ``generate_square_subsequent_mask(sz)`` gives the causal float mask
    (−inf above the diagonal) that ``tgt_mask`` usually is.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", custom_encoder=None, custom_decoder=None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        layer_args = dict(dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                          batch_first=batch_first, norm_first=norm_first, bias=bias, **kw)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(d_model, nhead, dim_feedforward, **layer_args),
                num_encoder_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(d_model, nhead, dim_feedforward, **layer_args),
                num_decoder_layers, LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal: bool = False):
        batched = src.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        if batched and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError(f"the batch number of src and tgt must be equal: src "
                               f"{fmt_shape(src.shape)}, tgt {fmt_shape(tgt.shape)}"
                               f"{' (batch_first)' if self.batch_first else ''}")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model="
                               f"{self.d_model}: src {fmt_shape(src.shape)}, tgt "
                               f"{fmt_shape(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """(sz, sz) float mask: 0 on and below the diagonal, −inf above (no peeking ahead)."""
        mask = creation.full((sz, sz), float("-inf"), dtype=dtype, device=device)
        return mask.triu(diagonal=1)
