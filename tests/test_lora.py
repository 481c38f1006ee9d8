"""minitorch.nn.lora: LoRALinear's forward and gradients against the same formula in torch,
zero change at initialisation, frozen weights that provably do not move during fine-tuning,
merge/unmerge, apply_lora on a GPT, parameter counts, lora_state_dict."""
import numpy as np
import pytest
import torch
from torch_compare import assert_close

import minitorch
from minitorch import nn
from minitorch.nn import lora
from minitorch.text.gpt import GPT, GPTConfig


def test_lora_linear_matches_the_formula_in_torch_forward_and_backward():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 5)), rng.standard_normal((4, 5)), rng.standard_normal(4)
    a, bb = rng.standard_normal((2, 5)), rng.standard_normal((4, 2))  # r = 2
    cot = rng.standard_normal((2, 3, 4))
    base = nn.Linear(5, 4).double()
    layer = lora.LoRALinear(base, r=2, alpha=6.0)
    layer.load_state_dict({"base.weight": minitorch.tensor(w), "base.bias": minitorch.tensor(b),
                           "lora_A": minitorch.tensor(a), "lora_B": minitorch.tensor(bb)})
    xm = minitorch.tensor(x, requires_grad=True)
    out = layer(xm)
    (out * minitorch.tensor(cot)).sum().backward()
    tx, ta, tb = (torch.tensor(v, requires_grad=True) for v in (x, a, bb))
    ref = tx @ torch.tensor(w).T + torch.tensor(b) + (tx @ ta.T @ tb.T) * 3.0  # α/r = 6/2
    (ref * torch.tensor(cot)).sum().backward()
    assert_close(out, ref, "float64")
    assert_close(xm.grad, tx.grad, "float64", what="dL/dx")
    assert_close(layer.lora_A.grad, ta.grad, "float64", what="dL/dA")
    assert_close(layer.lora_B.grad, tb.grad, "float64", what="dL/dB")
    assert base.weight.grad is None and base.bias.grad is None  # frozen: no gradient at all


def test_lora_starts_as_the_base_model_and_merge_unmerge():
    minitorch.manual_seed(0)
    base = nn.Linear(6, 3)
    x = minitorch.randn(4, 6)
    before = base(x)
    layer = lora.LoRALinear(base, r=2, alpha=4)
    assert layer(x).equal(before)  # B = 0
    with minitorch.no_grad():
        layer.lora_B.normal_()
    adapted = layer(x)
    w0 = base.weight.detach().clone()
    layer.merge()
    assert layer.merged and layer(x).allclose(adapted, atol=1e-5)
    assert_close(base.weight, w0 + layer.delta_weight(), "float32")
    layer.unmerge()
    assert_close(base.weight, w0, "float32")
    assert layer(x).allclose(adapted, atol=1e-5)


def test_fine_tuning_moves_only_the_adapters():
    minitorch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16))
    frozen_before = {k: v.clone() for k, v in model.state_dict().items()}
    names = lora.apply_lora(model, ["out_proj", "linear1", "linear2"], r=2, alpha=4)
    assert names == ["blocks.0.self_attn.out_proj", "blocks.0.linear1", "blocks.0.linear2",
                     "blocks.1.self_attn.out_proj", "blocks.1.linear1", "blocks.1.linear2"]
    lora.mark_only_lora_as_trainable(model)
    trainable, total = lora.count_parameters(model)
    # per layer r·(in + out): out_proj 2·32, linear1 2·(16+64), linear2 2·(64+16), 2 blocks
    assert trainable == 2 * (2 * 32 + 2 * 80 + 2 * 80)
    assert total == trainable + sum(v.numel() for v in frozen_before.values()) - 16 * 13  # tied
    opt = minitorch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2,
                                weight_decay=0.1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        idx = minitorch.tensor(rng.integers(0, 13, (4, 8)))
        loss = model.loss(idx[:, :-1], idx[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    state = model.state_dict()
    for k, v in frozen_before.items():
        k_now = k if k in state else k.replace(".weight", ".base.weight").replace(
            ".bias", ".base.bias")
        np.testing.assert_array_equal(state[k_now].numpy(), v.numpy(), err_msg=k)
    adapters = lora.lora_state_dict(model)
    assert len(adapters) == 12 and any(v.abs().sum().item() > 0 for k, v in adapters.items()
                                      if k.endswith("lora_B"))


def test_apply_lora_names_the_linears_when_nothing_matches():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    with pytest.raises(ValueError, match=r"no Linear layer named \['q_proj'\].*\['0'\]"):
        lora.apply_lora(model, ["q_proj"])
    with pytest.raises(TypeError, match="wraps an nn.Linear"):
        lora.LoRALinear(nn.ReLU())


def test_finetune_gpt_command_compares_lora_full_and_scratch(tmp_path, capsys):
    from minitorch.cli import main
    base = tmp_path / "add.mt"
    assert main(["train-gpt", "--digits", "2", "--n-layer", "1", "--n-head", "2", "--n-embd",
                 "16", "--batch-size", "16", "--n-test", "20", "--steps", "4", "--eval-every",
                 "4", "--sample", "0", "--checkpoint", str(base)]) == 0
    assert main(["finetune-gpt", "--pretrained", str(base), "--steps", "3", "--eval-every", "3",
                 "--train-size", "50", "--n-test", "20", "--batch-size", "8", "--r", "2",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "LoRA: frozen weights unchanged: True" in out
    import json
    summary = json.loads((tmp_path / "finetune.json").read_text())
    # r·(in + out) per adapter, one block: in_proj (16→48), out_proj, linear1, linear2
    assert summary["lora"]["trainable"] == 2 * 64 + 2 * 32 + 2 * 80 + 2 * 80
    assert summary["full"]["trainable"] == summary["scratch"]["trainable"] == \
        summary["lora"]["total"] - summary["lora"]["trainable"]
    assert main(["finetune-gpt", "--pretrained", str(tmp_path / "missing.mt")]) == 2
    assert "make it with python -m minitorch train-gpt" in capsys.readouterr().err


def test_in_proj_adapter_equals_torch_attention_with_the_updated_weight():
    """LoRA on attention's stacked Q/K/V projection: the adapted MultiheadAttention computes
    torch's attention with in_proj_weight + ΔW; merge folds ΔW in; W itself gets no gradient."""
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    m = nn.MultiheadAttention(8, 2, batch_first=True).double()
    m.load_state_dict({k: minitorch.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    model = nn.ModuleDict({"attn": m})
    assert lora.apply_lora(model, ["in_proj"], r=2, alpha=4) == ["attn.in_proj"]
    lora.mark_only_lora_as_trainable(model)
    assert lora.count_parameters(model)[0] == 2 * (8 + 24)
    with minitorch.no_grad():
        m.in_proj_adapter.lora_B.normal_()
    delta = m.in_proj_adapter.delta_weight().detach().numpy()
    with torch.no_grad():
        t.in_proj_weight += torch.tensor(delta)
    x = np.random.default_rng(0).standard_normal((2, 5, 8))
    cot = np.random.default_rng(1).standard_normal((2, 5, 8))
    out = m(*(minitorch.tensor(x),) * 3, need_weights=False)[0]
    ref = t(*(torch.tensor(x),) * 3, need_weights=False)[0]
    assert_close(out, ref, "float64")
    (out * minitorch.tensor(cot)).sum().backward()
    assert m.in_proj_weight.grad is None and m.in_proj_adapter.lora_A.grad is not None
    lora.merge_lora(model)
    assert_close(m.in_proj_weight, t.in_proj_weight, "float64")
    assert_close(m(*(minitorch.tensor(x),) * 3)[0], ref, "float64")
    lora.unmerge_lora(model)
    assert_close(m.in_proj_weight + minitorch.tensor(delta), t.in_proj_weight, "float64")
