"""nn.MultiheadAttention, nn.TransformerEncoderLayer and nn.TransformerEncoder against torch:
the torch module's state_dict is loaded into minitorch's (same names and layout), then outputs,
attention weights, the input's gradient and every parameter's gradient are compared under one
random cotangent. float64 to 1e-10, float32 to 1e-5. Also: Embedding/LayerNorm modules, weight
tying (one Parameter in two modules), ModuleList/ModuleDict.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_compare import assert_close, load_torch_weights

import minitorch

DTYPES = st.sampled_from(["float64", "float32"])
SEEDS = st.integers(0, 2**31 - 1)


def compare(torch_module, mt_module, inputs, dtype, seed, call):
    """call(L, module, *inputs) → output or tuple; compare outputs, input and parameter grads."""
    t_in = [torch.tensor(a, dtype=getattr(torch, dtype) if a.dtype.kind == "f" else None,
                         requires_grad=a.dtype.kind == "f") for a in inputs]
    m_in = [minitorch.tensor(a, dtype=getattr(minitorch, dtype) if a.dtype.kind == "f" else None,
                             requires_grad=a.dtype.kind == "f") for a in inputs]
    t_out, m_out = call(torch, torch_module, *t_in), call(minitorch, mt_module, *m_in)
    t_outs = t_out if isinstance(t_out, tuple) else (t_out,)
    m_outs = m_out if isinstance(m_out, tuple) else (m_out,)
    rng = np.random.default_rng(seed)
    t_loss = m_loss = 0
    for i, (m, t) in enumerate(zip(m_outs, t_outs)):
        if t is None:
            assert m is None, f"output {i}: torch gives None"
            continue
        assert_close(m, t, dtype, what=f"output {i}")
        c = rng.standard_normal(tuple(t.shape))
        t_loss = t_loss + (t * torch.tensor(c, dtype=t.dtype)).sum()
        m_loss = m_loss + (m * minitorch.tensor(c).to(m.dtype)).sum()
    t_loss.backward()
    m_loss.backward()
    for i, (m, t) in enumerate(zip(m_in, t_in)):
        if t.requires_grad:
            assert_close(m.grad, t.grad, dtype, what=f"grad of input {i}")
    m_params = dict(mt_module.named_parameters())
    for name, p in torch_module.named_parameters():
        if p.grad is None:  # a parameter the output does not use (a Transformer's decoder)
            assert m_params[name].grad is None, f"grad of {name}: torch has none"
            continue
        assert_close(m_params[name].grad, p.grad, dtype, what=f"grad of {name}")


@st.composite
def mha_cases(draw):
    heads = draw(st.integers(1, 3))
    return dict(N=draw(st.integers(1, 3)), L=draw(st.integers(1, 4)), S=draw(st.integers(1, 4)),
                H=heads, E=heads * draw(st.integers(1, 3)), bias=draw(st.booleans()),
                batch_first=draw(st.booleans()), need_weights=draw(st.booleans()),
                average=draw(st.booleans()), self_attn=draw(st.booleans()),
                masks=draw(st.sampled_from(["none", "attn_bool", "attn_float", "kpm", "both",
                                            "attn_3d"])),
                unbatched=draw(st.booleans()))


@settings(max_examples=40, deadline=None)
@given(case=mha_cases(), seed=SEEDS, dtype=DTYPES)
def test_multihead_attention_matches_torch(case, seed, dtype):
    c = case
    N, L, S, H, E = c["N"], c["L"], c["S"], c["H"], c["E"]
    if c["self_attn"]:
        S = L
    if c["unbatched"]:
        N = 1
    torch.manual_seed(seed % 1000)
    t, m = load_torch_weights(torch.nn.MultiheadAttention(E, H, bias=c["bias"], batch_first=c["batch_first"]),
                minitorch.nn.MultiheadAttention(E, H, bias=c["bias"],
                                                batch_first=c["batch_first"]), dtype)
    rng = np.random.default_rng(seed)

    def seq(n):
        if c["unbatched"]:
            return rng.standard_normal((n, E))
        return rng.standard_normal((N, n, E) if c["batch_first"] else (n, N, E))
    inputs = [seq(L)] if c["self_attn"] else [seq(L), seq(S), seq(S)]
    attn_mask = kpm = None
    if c["masks"] in ("attn_bool", "both"):
        attn_mask = rng.random((L, S)) < 0.3
        attn_mask[:, 0] = False  # never mask every key of a query
    elif c["masks"] == "attn_float":
        attn_mask = rng.standard_normal((L, S))
    elif c["masks"] == "attn_3d":
        attn_mask = rng.standard_normal((N * H, L, S))
    if c["masks"] in ("kpm", "both"):
        kpm = rng.random((N, S)) < 0.3
        kpm[:, 0] = False
        if c["unbatched"]:
            kpm = kpm[0]
    if c["unbatched"] and c["masks"] == "attn_3d":
        attn_mask = attn_mask[:H]

    def call(Lib, mod, *xs):
        q, k, v = (xs * 3) if len(xs) == 1 else xs
        am = None if attn_mask is None else Lib.tensor(attn_mask)
        if am is not None and am.is_floating_point():
            am = am.to(q.dtype)
        kp = None if kpm is None else Lib.tensor(kpm)
        return mod(q, k, v, key_padding_mask=kp, need_weights=c["need_weights"], attn_mask=am,
                   average_attn_weights=c["average"])
    compare(t, m, inputs, dtype, seed, call)


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, dtype=DTYPES, activation=st.sampled_from(["relu", "gelu"]),
       norm_first=st.booleans(), batch_first=st.booleans(), mask=st.booleans(),
       bias=st.booleans(), layers=st.integers(1, 2), final_norm=st.booleans())
def test_transformer_encoder_matches_torch(seed, dtype, activation, norm_first, batch_first,
                                           mask, bias, layers, final_norm):
    N, L, E, H, F = 2, 4, 6, 2, 10
    kw = dict(dim_feedforward=F, dropout=0.0, activation=activation, batch_first=batch_first,
              norm_first=norm_first, bias=bias)
    torch.manual_seed(seed % 1000)
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kw), layers,
                                    norm=torch.nn.LayerNorm(E) if final_norm else None,
                                    enable_nested_tensor=False)
    m = minitorch.nn.TransformerEncoder(minitorch.nn.TransformerEncoderLayer(E, H, **kw), layers,
                                        norm=minitorch.nn.LayerNorm(E) if final_norm else None)
    t, m = load_torch_weights(t, m, dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
    causal = np.triu(np.ones((L, L), dtype=bool), 1)  # True: may not attend (torch's MHA rule)

    def call(Lib, mod, x):
        return mod(x, mask=Lib.tensor(causal) if mask else None, is_causal=mask)
    compare(t, m, [x], dtype, seed, call)


def test_encoder_layer_with_key_padding_mask_matches_torch():
    torch.manual_seed(0)
    t, m = load_torch_weights(torch.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0),
                minitorch.nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0), "float64")
    x = np.random.default_rng(1).standard_normal((3, 2, 4))
    kpm = np.array([[False, False, True], [False, True, True]])
    compare(t, m, [x], "float64", 1,
            lambda Lib, mod, x: mod(x, src_key_padding_mask=Lib.tensor(kpm)))


def test_dropout_is_active_in_training_only():
    minitorch.manual_seed(0)
    layer = minitorch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True)
    x = minitorch.randn(2, 5, 8)
    assert not layer(x).allclose(layer(x))  # two dropout masks
    layer.eval()
    assert layer(x).allclose(layer(x))


def test_mha_errors_name_shapes():
    with pytest.raises(AssertionError, match=r"embed_dim \(5\) must be divisible by num_heads"):
        minitorch.nn.MultiheadAttention(5, 2)
    mha = minitorch.nn.MultiheadAttention(4, 2)
    x = minitorch.zeros(3, 2, 4)
    with pytest.raises(RuntimeError, match=r"attn_mask is \(2,2\).*\(3, 3\)"):
        mha(x, x, x, attn_mask=minitorch.zeros(2, 2))
    with pytest.raises(RuntimeError, match=r"key_padding_mask of shape \(2, 3\).*\(3,\)"):
        mha(x, x, x, key_padding_mask=minitorch.zeros(3).bool())
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        mha(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="E = embed_dim = 4.*\\(3,2,5\\)"):
        mha(minitorch.zeros(3, 2, 5), x, x)


def test_weight_tying_one_parameter_in_two_modules_matches_torch():
    """A language model's output layer reuses the embedding table: one Parameter, listed once
    by parameters(), whose gradient sums both uses; state_dict names it under both modules."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((7, 3))
    idx = rng.integers(0, 7, (2, 5))
    cot = rng.standard_normal((2, 5, 7))
    grads = {}
    for L in (torch, minitorch):
        emb, head = L.nn.Embedding(7, 3), L.nn.Linear(3, 7, bias=False)
        head.weight = emb.weight
        model = L.nn.ModuleDict({"emb": emb, "head": head})
        with L.no_grad():
            emb.weight.copy_(L.tensor(w0).to(emb.weight.dtype))
        assert len(list(model.parameters())) == 1
        assert list(model.state_dict()) == ["emb.weight", "head.weight"]
        out = model["head"](model["emb"](L.tensor(idx)))
        (out * L.tensor(cot).to(out.dtype)).sum().backward()
        grads[L.__name__] = emb.weight.grad
        assert head.weight.grad is emb.weight.grad
    assert_close(grads["minitorch"], grads["torch"], "float32")


def test_module_list_and_dict_register_their_children():
    layers = minitorch.nn.ModuleList([minitorch.nn.Linear(2, 2) for _ in range(3)])
    d = minitorch.nn.ModuleDict({"a": minitorch.nn.LayerNorm(2), "b": layers})
    names = [n for n, _ in d.named_parameters()]
    assert names[:2] == ["a.weight", "a.bias"] and "b.2.bias" in names and len(names) == 8


@st.composite
def transformer_cases(draw):
    heads = draw(st.integers(1, 2))
    # d_model ≥ 4: LayerNorm over 1 or 2 features is degenerate (its output is 0, or ±1 whatever
    # x is, with a gradient ∝ 1/|x₁ − x₂|), and there torch's own float32 gradients are 5e-5 (rel.)
    # from its float64 ones (measured at d_model=2): rounding amplified, not the math under test
    return dict(N=draw(st.integers(1, 3)), S=draw(st.integers(1, 4)), T=draw(st.integers(1, 4)),
                H=heads, E=heads * 2 * draw(st.integers(2, 3)), F=draw(st.integers(1, 6)),
                enc=draw(st.integers(1, 2)), dec=draw(st.integers(1, 2)),
                batch_first=draw(st.booleans()), norm_first=draw(st.booleans()),
                activation=draw(st.sampled_from(["relu", "gelu"])), bias=draw(st.booleans()),
                causal=draw(st.booleans()), padding=draw(st.booleans()))


@settings(max_examples=25, deadline=None)
@given(case=transformer_cases(), seed=SEEDS, dtype=DTYPES)
def test_transformer_encoder_decoder_matches_torch(case, seed, dtype):
    """nn.Transformer (and so TransformerDecoderLayer/Decoder): torch's state_dict loads; the
    output, the gradients of src and tgt and of every parameter agree, with a causal tgt_mask
    and key padding masks."""
    c = case
    N, S, T, E = c["N"], c["S"], c["T"], c["E"]
    kwargs = dict(d_model=E, nhead=c["H"], num_encoder_layers=c["enc"],
                  num_decoder_layers=c["dec"], dim_feedforward=c["F"], dropout=0.0,
                  activation=c["activation"], batch_first=c["batch_first"],
                  norm_first=c["norm_first"], bias=c["bias"])
    torch.manual_seed(seed % 1000)
    t_model, m_model = load_torch_weights(torch.nn.Transformer(**kwargs), minitorch.nn.Transformer(**kwargs),
                            dtype)
    rng = np.random.default_rng(seed)
    src = rng.standard_normal((N, S, E) if c["batch_first"] else (S, N, E))
    tgt = rng.standard_normal((N, T, E) if c["batch_first"] else (T, N, E))
    src_pad = np.zeros((N, S), dtype=bool)
    tgt_pad = np.zeros((N, T), dtype=bool)
    if c["padding"]:  # pad the end of the first sequence (never the whole of it)
        src_pad[0, S // 2 + 1:] = True
        tgt_pad[0, T // 2 + 1:] = True

    def call(L, model, s, t):
        mask = L.nn.Transformer.generate_square_subsequent_mask(T).to(s.dtype) \
            if c["causal"] else None
        extra = {}
        if c["padding"]:
            extra = dict(src_key_padding_mask=L.tensor(src_pad),
                         tgt_key_padding_mask=L.tensor(tgt_pad),
                         memory_key_padding_mask=L.tensor(src_pad))
        return model(s, t, tgt_mask=mask, **extra)
    compare(t_model, m_model, [src, tgt], dtype, seed, call)


def test_transformer_mask_and_errors_match_torch():
    np.testing.assert_array_equal(
        minitorch.nn.Transformer.generate_square_subsequent_mask(4).numpy(),
        torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    model = minitorch.nn.Transformer(d_model=4, nhead=2, num_encoder_layers=1,
                                     num_decoder_layers=1, dim_feedforward=8)
    with pytest.raises(RuntimeError, match="batch number of src and tgt must be equal"):
        model(minitorch.zeros(3, 2, 4), minitorch.zeros(3, 5, 4))
    with pytest.raises(RuntimeError, match="must be equal to d_model=4"):
        model(minitorch.zeros(3, 2, 4), minitorch.zeros(3, 2, 6))


def test_a_subclass_of_transformer_using_only_its_encoder_like_word_language_model():
    """word_language_model subclasses nn.Transformer and calls self.encoder(src, mask=)."""
    def build(L):
        class Model(L.nn.Transformer):
            def __init__(self):
                super().__init__(d_model=6, nhead=2, dim_feedforward=12, num_encoder_layers=2,
                                 dropout=0.0)
                self.head = L.nn.Linear(6, 3)

            def forward(self, src):
                mask = self.generate_square_subsequent_mask(len(src))
                return self.head(self.encoder(src, mask=mask))
        return Model()

    torch.manual_seed(0)
    t_model, m_model = load_torch_weights(build(torch), build(minitorch), "float64")
    x = np.random.default_rng(1).standard_normal((5, 2, 6))
    compare(t_model, m_model, [x], "float64", 2, lambda L, model, s: model(s))
