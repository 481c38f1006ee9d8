"""A small decoder-only GPT built from minitorch's own layers.

    tokens (B, T) ─ tok_emb + pos_emb ─ drop ─ n_layer × block ─ ln_f ─ lm_head ─ logits (B, T, V)

A block is ``nn.TransformerEncoderLayer`` in pre-norm order (``norm_first=True``, GPT-2's:
x = x + attn(ln1(x)); x = x + mlp(ln2(x))) with GELU (tanh approximation, GPT-2's) and a causal
mask, so position t attends to positions ≤ t only: "decoder-only" is an encoder layer that
cannot look ahead. ``lm_head`` shares its weight with ``tok_emb`` (weight tying: the same
Parameter scores the output tokens that embeds the input ones).

The class is written once against torch's API and defined for a library ``L`` by
``gpt_class(L)``: ``GPT = gpt_class(minitorch)``; ``gpt_class(torch)`` is the identical model
in torch, which ``train-gpt --compare-torch`` trains beside ours.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

import minitorch


@dataclass
class GPTConfig:
    vocab_size: int = 13
    block_size: int = 16   # the longest context (positions) the model knows
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def gpt_class(L):
    """The GPT module class for library ``L`` (minitorch or torch)."""
    nn = L.nn

    class GPT(nn.Module):
        """``GPT(GPTConfig(...))``; ``forward(idx)`` → logits (B, T, vocab_size) for token ids
        idx (B, T) with T ≤ block_size; ``generate`` continues a prompt."""

        def __init__(self, config: GPTConfig):
            super().__init__()
            if config.n_embd % config.n_head:
                raise ValueError(f"GPT: n_embd ({config.n_embd}) must be divisible by n_head "
                                 f"({config.n_head})")
            self.config = c = config
            self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)
            self.pos_emb = nn.Embedding(c.block_size, c.n_embd)
            self.drop = nn.Dropout(c.dropout)
            self.blocks = nn.ModuleList([
                nn.TransformerEncoderLayer(c.n_embd, c.n_head, 4 * c.n_embd, c.dropout,
                                           activation=nn.GELU(approximate="tanh"),
                                           batch_first=True, norm_first=True, bias=c.bias)
                for _ in range(c.n_layer)])
            self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
            self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
            self.lm_head.weight = self.tok_emb.weight  # weight tying
            self._init_weights()

        def _init_weights(self) -> None:
            """GPT-2's: N(0, 0.02) for embeddings and linear weights, zero biases, LayerNorm
            weights 1; the projections that write into the residual stream (out_proj, linear2)
            get 0.02 / sqrt(2 · n_layer) so the stream's variance does not grow with depth."""
            with L.no_grad():
                for name, p in self.named_parameters():
                    if name.endswith("bias"):
                        p.zero_()
                    elif p.ndim == 2:
                        std = 0.02
                        if name.endswith(("out_proj.weight", "linear2.weight")):
                            std /= (2 * self.config.n_layer) ** 0.5
                        nn.init.normal_(p, 0.0, std)

        def forward(self, idx):
            if idx.ndim != 2:
                raise ValueError(f"GPT: expected token ids of shape (batch, time), got "
                                 f"{tuple(idx.shape)}")
            t = idx.shape[1]
            if t > self.config.block_size:
                raise ValueError(f"GPT: a sequence of {t} tokens is longer than block_size "
                                 f"{self.config.block_size}")
            x = self.drop(self.tok_emb(idx) + self.pos_emb(L.arange(t, device=idx.device)))
            # True above the diagonal: position i may not attend to j > i (MHA's convention)
            mask = L.tensor(np.triu(np.ones((t, t), dtype=bool), 1), device=idx.device)
            for block in self.blocks:
                x = block(x, src_mask=mask, is_causal=True)
            return self.lm_head(self.ln_f(x))

        def loss(self, idx, targets):
            """Mean cross-entropy of the next-token predictions; targets −100 are ignored."""
            logits = self(idx)
            return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               targets.reshape(-1), ignore_index=-100)

        def generate(self, idx, max_new_tokens: int, temperature: float = 1.0,
                     top_k: int | None = None, greedy: bool = False):
            """Append ``max_new_tokens`` tokens to each row of ``idx`` (B, T), one at a time:
            the last position's logits are divided by ``temperature``, cut to the ``top_k``
            largest (the rest get −inf), turned into probabilities by softmax and sampled
            (``multinomial``); ``greedy=True`` takes the argmax. Returns (B, T + new)."""
            if temperature <= 0 and not greedy:
                raise ValueError(f"generate: temperature must be > 0, got {temperature}")
            with L.no_grad():
                for _ in range(max_new_tokens):
                    logits = self(idx[:, -self.config.block_size:])[:, -1, :]
                    if greedy:
                        nxt = logits.argmax(dim=-1, keepdim=True)
                    else:
                        logits = logits / temperature
                        if top_k is not None:
                            kth = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values
                            logits = logits.masked_fill(logits < kth[:, -1:], float("-inf"))
                        nxt = L.multinomial(logits.softmax(dim=-1), 1)
                    idx = L.cat([idx, nxt], dim=1)
            return idx

        def num_parameters(self, trainable_only: bool = False) -> int:
            """Distinct parameters (the tied weight counted once)."""
            return sum(p.numel() for p in self.parameters()
                       if p.requires_grad or not trainable_only)

    return GPT


GPT = gpt_class(minitorch)
