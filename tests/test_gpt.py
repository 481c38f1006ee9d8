"""The text path: CharTokenizer, the addition task, the GPT (same weights as the same class
built on torch: logits and every parameter's gradient agree), generate() and the train-gpt
command (a tiny run, checkpoint + resume = an uninterrupted run, --compare-torch, --out)."""
import json

import numpy as np
import pytest
import torch
from torch_compare import assert_close

import minitorch
from minitorch.cli import main
from minitorch.text import ArithmeticTask, CharTokenizer
from minitorch.text import train as train_module
from minitorch.text.gpt import GPT, GPTConfig, gpt_class


def test_char_tokenizer_round_trip_and_errors():
    tok = CharTokenizer("0123456789+-=")
    assert tok.vocab_size == 13
    assert tok.decode(tok.encode("12+3=51")) == "12+3=51"
    with pytest.raises(ValueError, match=r"character 'x' at position 2 of '12x'"):
        tok.encode("12x")
    with pytest.raises(ValueError, match="id 13 is outside the vocabulary of 13"):
        tok.decode([13])


def test_addition_text_targets_and_held_out_split():
    task = ArithmeticTask(3, "+", n_test=200, seed=0)
    assert task.text(123, 456) == "123+456=9750"   # 579 → "0579" reversed
    assert task.text(999, 1) == "999+001=0001"     # 1000 reversed
    assert ArithmeticTask(3, "-", n_test=50).text(456, 123) == "456-123=333"
    assert task.decode_answer(task.tokenizer.encode("9750")) == 579
    x, y = task.sample_batch(300, np.random.default_rng(1))
    assert x.shape == y.shape == (300, 11)
    assert (y[:, :7] == -100).all() and (y[:, 7:] >= 0).all()   # loss on the 4 answer digits
    held = set(map(tuple, task.test_pairs.tolist()))
    drawn = task.sample_pairs(5000, np.random.default_rng(2))
    assert not held & set(map(tuple, drawn.tolist()))
    sub = ArithmeticTask(2, "-", n_test=20).sample_pairs(100, np.random.default_rng(0))
    assert (sub[:, 0] >= sub[:, 1]).all()


def test_gpt_matches_the_same_class_on_torch_forward_and_backward():
    cfg = GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)
    minitorch.manual_seed(0)
    m = GPT(cfg).double()
    t = gpt_class(torch)(cfg).double()
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    assert t.lm_head.weight is t.tok_emb.weight and m.lm_head.weight is m.tok_emb.weight
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 13, (3, 7))
    cot = rng.standard_normal((3, 7, 13))
    outs = {}
    for L, model in ((minitorch, m), (torch, t)):
        logits = model(L.tensor(idx))
        (logits * L.tensor(cot)).sum().backward()
        outs[L.__name__] = (logits, dict(model.named_parameters()))
    assert_close(outs["minitorch"][0], outs["torch"][0], "float64", what="logits")
    for name, p in outs["torch"][1].items():
        assert_close(outs["minitorch"][1][name].grad, p.grad, "float64", what=f"grad of {name}")


def test_gpt_causality_generate_and_errors():
    minitorch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, block_size=6, n_layer=1, n_head=2, n_embd=8))
    a = model(minitorch.tensor([[1, 2, 3, 4]]))
    b = model(minitorch.tensor([[1, 2, 9, 9]]))  # later tokens cannot change earlier logits
    assert_close(a[:, :2], b[:, :2], "float32")
    assert not np.allclose(a[:, 2:].detach().numpy(), b[:, 2:].detach().numpy())
    prompt = minitorch.tensor([[1, 2], [3, 4]])
    g = model.generate(prompt, 6, greedy=True)  # runs past block_size: the context is cropped
    assert g.shape == (2, 8) and g[:, :2].equal(prompt)
    assert model.generate(prompt, 3, top_k=1).equal(g[:, :5])  # top-1 sampling is greedy
    s = model.generate(prompt, 3, temperature=0.7, top_k=4)
    assert s.dtype is minitorch.int64 and ((s >= 0) & (s < 13)).all().item()
    with pytest.raises(ValueError, match="longer than block_size 6"):
        model(minitorch.zeros(1, 7, dtype=minitorch.int64))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        model.generate(prompt, 1, temperature=0)


TINY = ["train-gpt", "--digits", "2", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
        "--batch-size", "16", "--n-test", "20", "--eval-every", "4", "--sample", "1",
        "--warmup", "2"]


def test_train_gpt_command_resume_gives_the_uninterrupted_run(tmp_path, capsys, monkeypatch):
    full, part = tmp_path / "full.mt", tmp_path / "part.mt"
    assert main(TINY + ["--steps", "8", "--checkpoint", str(full)]) == 0
    # the second run dies in its second evaluation (step 8), after the step-4 checkpoint
    real, calls = train_module.exact_match, []

    def dies_on_the_second_call(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)
    monkeypatch.setattr(train_module, "exact_match", dies_on_the_second_call)
    with pytest.raises(KeyboardInterrupt):
        main(TINY + ["--steps", "8", "--checkpoint", str(part)])
    assert minitorch.load(part)["step"] == 4
    monkeypatch.setattr(train_module, "exact_match", real)
    assert main(TINY + ["--steps", "8", "--checkpoint", str(part), "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "test exact-match" in out and "sample:" in out
    a, b = minitorch.load(full), minitorch.load(part)
    assert a["step"] == b["step"] == 8
    for k, v in a["model"].items():
        np.testing.assert_array_equal(v.numpy(), b["model"][k].numpy(), err_msg=k)


def test_train_gpt_compare_torch_and_outputs(tmp_path, capsys):
    assert main(TINY + ["--steps", "4", "--compare-torch", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| torch loss" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    (entry,) = metrics["history"]
    assert abs(entry["loss"] - entry["torch_loss"]) < 1e-4  # same weights, same batches
    assert main(TINY + ["--steps", "2", "--expect-accuracy", "1.01"]) == 1


def test_train_gpt_usage_errors(capsys):
    assert main(["train-gpt", "--resume"]) == 2
    assert "--resume needs --checkpoint" in capsys.readouterr().err


def test_benchmark_gpt_step_and_attention_do_the_same_work_in_both_libraries():
    from benchmarks import text_cases
    (case,) = text_cases.gpt_train_step_cases(batches=[(4, True)])
    data = case.inputs()
    losses = [float(case.build(L, data)().item()) for L in (minitorch, torch)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert {c.group for c in text_cases.attention_cases()} == {"attention"}
