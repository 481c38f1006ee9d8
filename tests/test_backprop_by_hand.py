"""examples/backprop_by_hand.py: it runs, reports agreement, and its hand-written NumPy gradients
really are torch's (checked here directly, not only through the example's own report)."""
import importlib.util
import os

import numpy as np
import pytest
import torch

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "backprop_by_hand.py")


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("backprop_by_hand", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_and_reports_agreement(example):
    lines = []
    assert example.main(["--seed", "3"], out=lines.append) == 0
    text = "\n".join(lines)
    assert "ALL GRADIENTS AGREE" in text and "GRADCHECK PASSED" in text
    # one table row per gradient, each with a NumPy-vs-minitorch and a NumPy-vs-torch column
    rows = [line.split() for line in lines if line.split()[:1] and line.split()[0] in example.NAMES]
    assert [r[0] for r in rows] == list(example.NAMES)
    for r in rows:
        assert float(r[-2]) <= 1e-10 and float(r[-1]) <= 1e-10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numpy_formulas_match_torch(example, seed):
    prob = example.make_problem(seed)
    loss_np, mine = example.numpy_forward_backward(prob)
    loss_t, theirs = example.library_gradients(torch, prob)
    assert loss_np == pytest.approx(loss_t, rel=1e-13)
    for name in example.NAMES:
        np.testing.assert_allclose(mine[name], theirs[name], rtol=1e-10, atol=1e-13, err_msg=name)
        assert np.any(mine[name] != 0), name          # every gradient is exercised


def test_im2col_col2im_are_adjoint(example):
    """<im2col(x), c> = <x, col2im(c)> for all x, c: col2im is im2col's transpose."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    c = rng.standard_normal((3 * 3 * 3, 2 * 3 * 4))
    lhs = np.sum(example.im2col(x, 3) * c)
    rhs = np.sum(x * example.col2im(c, x.shape, 3))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_reports_disagreement(example, monkeypatch):
    """A wrong hand-written gradient makes the example say so and exit 1."""
    real = example.numpy_forward_backward

    def broken(prob):
        loss, grads = real(prob)
        grads["conv.bias"] = grads["conv.bias"] * 1.001
        return loss, grads

    monkeypatch.setattr(example, "numpy_forward_backward", broken)
    lines = []
    assert example.main([], out=lines.append) == 1
    assert any("GRADIENTS DISAGREE" in line for line in lines)
