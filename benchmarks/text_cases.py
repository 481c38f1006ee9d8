"""Benchmark cases of the language-model path (see ``benchmarks/cases.py`` for the conventions).

* attention — ``F.scaled_dot_product_attention`` with a causal mask, float32, forward and
  forward+backward (Q, K, V all need gradients), on (batch, heads, seq, head_dim):
  (64, 4, 11, 16), the addition GPT's shape (Q); (8, 8, 128, 64); (4, 8, 512, 64).
  FLOPs: the two products Q Kᵀ and P V, 2·B·H·L·S·D each (the softmax not counted); the
  backward does four such products, so forward+backward is 3× the forward.
* train_step — one AdamW step of the addition GPT (``minitorch.text.gpt``: 2 layers, 4 heads,
  width 64, 11 tokens, batch 64; Q) built by the same class on each library from the same
  weights. FLOPs: the usual 6 · (parameters without embeddings) · tokens plus the attention
  products (3 × forward); an estimate, for GFLOP/s only.
"""
from __future__ import annotations

import numpy as np

from . import flops
from .cases import Case, _f32, _rng, op_cases

ATTENTION_SHAPES = [((64, 4, 11, 16), True), ((8, 8, 128, 64), False), ((4, 8, 512, 64), False)]
GPT_BATCHES = [(64, True)]


def causal_attention(L, q, k, v):
    return L.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)


def _attention_flops(b, h, t, d) -> float:
    return 2 * flops.matmul(b * h * t, t, d)


def attention_cases() -> list:
    out = []
    for (b, h, t, d), quick in ATTENTION_SHAPES:
        def arrays(shape=(b, h, t, d)):
            rng = _rng("attention", *shape)
            return [_f32(rng, shape) for _ in range(3)]
        out += op_cases("attention", f"sdpa causal B{b} H{h} T{t} D{d}", causal_attention,
                        arrays, [True, True, True], _attention_flops(b, h, t, d),
                        {"shape": [b, h, t, d], "is_causal": True}, quick)
    for c in out:  # Q, K and V all get gradients: 4 backward products for 2 forward ones
        if c.phase == "forward+backward":
            c.flops = flops.forward_backward(_attention_flops(*c.params["shape"]), 2)
    return out


def gpt_config():
    from minitorch.text.gpt import GPTConfig
    return GPTConfig(vocab_size=13, block_size=11, n_layer=2, n_head=4, n_embd=64)


def gpt_train_step_cases(batches=GPT_BATCHES) -> list:
    from minitorch.text.gpt import gpt_class
    cfg = gpt_config()
    out = []
    for batch, quick in batches:
        def inputs(batch=batch):
            import minitorch
            minitorch.manual_seed(0)
            model = gpt_class(minitorch)(cfg)
            state = {k: np.array(v.detach(), dtype=np.float32)
                     for k, v in model.state_dict().items()}
            rng = _rng("gpt", batch)
            idx = rng.integers(0, cfg.vocab_size, (batch, cfg.block_size + 1)).astype(np.int64)
            return {"state": state, "x": idx[:, :-1], "y": idx[:, 1:]}

        def build(L, data):
            model = gpt_class(L)(cfg)
            model.load_state_dict({k: L.from_numpy(v.copy()) for k, v in data["state"].items()})
            model.train()
            opt = L.optim.AdamW(model.parameters(), lr=1e-3)
            x, y = L.from_numpy(data["x"].copy()), L.from_numpy(data["y"].copy())

            def step():
                opt.zero_grad()
                loss = model.loss(x, y)
                loss.backward()
                opt.step()
                return loss
            return step
        tokens = batch * cfg.block_size
        w = cfg.n_embd
        body = cfg.n_layer * (4 * w * w + 8 * w * w) + cfg.vocab_size * w  # blocks + lm_head
        est = 6.0 * body * tokens + 3 * cfg.n_layer * _attention_flops(
            batch, cfg.n_head, cfg.block_size, w // cfg.n_head)
        out.append(Case("train_step", f"GPT addition (2x64, AdamW) B{batch}", "step", inputs,
                        build, est, {"model": "GPT", "optimizer": "AdamW", "batch": batch,
                                     "tokens": tokens}, quick))
    return out
