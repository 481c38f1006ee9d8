"""Whole training runs: the seed networks trained side by side in torch and minitorch.

Both models start from identical weights (torch's initialisation, copied over through
``load_state_dict``) and see identical batches, dropout masks included. After every step the loss
and every parameter must agree: float64 to ~1e-9, float32 to ~1e-4 (relative, on the tensor's scale).
"""
import numpy as np
import pytest
import torch
from seed_models import cifar_net, simple_cnn
from torch_compare import assert_close

import minitorch

TOL = {"float64": 1e-9, "float32": 1e-4}


def make_optimizers(name, t_model, m_model):
    if name == "sgd_momentum":
        kw = dict(lr=0.05, momentum=0.9, weight_decay=1e-4)
        return torch.optim.SGD(t_model.parameters(), **kw), minitorch.optim.SGD(m_model.parameters(), **kw)
    kw = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    return torch.optim.Adam(t_model.parameters(), **kw), minitorch.optim.Adam(m_model.parameters(), **kw)


def train_side_by_side(build, dtype, opt_name, steps=4, batch=6, dropout=False, seed=0,
                       device="cpu"):
    """Train ``build``'s network in torch (CPU) and in minitorch on ``device`` from the same
    weights on the same batches; after every step compare the loss and every parameter."""
    torch.manual_seed(seed)
    t_model = build(torch).to(getattr(torch, dtype))
    m_model = build(minitorch).to(getattr(minitorch, dtype))
    m_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    m_model.to(device)
    t_opt, m_opt = make_optimizers(opt_name, t_model, m_model)
    rng = np.random.default_rng(seed)
    t_losses, m_losses = [], []

    def to_lib(L, a):
        return L.from_numpy(a.copy()) if L is torch else minitorch.from_numpy(a.copy()).to(device)

    for step in range(steps):
        x = rng.standard_normal((batch, 3, 32, 32)).astype(dtype)
        y = rng.integers(0, 10, batch)
        if dropout:
            mask = (rng.random((batch, 1024)) >= 0.5).astype(dtype) * 2.0
            t_model.dropout_mask = to_lib(torch, mask)
            m_model.dropout_mask = to_lib(minitorch, mask)
        for model, opt, L, losses in ((t_model, t_opt, torch, t_losses),
                                      (m_model, m_opt, minitorch, m_losses)):
            opt.zero_grad()
            loss = L.nn.functional.cross_entropy(model(to_lib(L, x)), to_lib(L, y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if L is minitorch:
                assert loss.device == minitorch.device(device)
        np.testing.assert_allclose(m_losses[-1], t_losses[-1], rtol=TOL[dtype],
                                   err_msg=f"loss at step {step}")
        t_params = dict(t_model.named_parameters())
        for name, p in m_model.named_parameters():
            assert p.device == minitorch.device(device)
            assert_close(p, t_params[name], rtol=TOL[dtype], what=f"{name} after step {step}")
    return t_losses, m_losses


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
def test_simple_cnn_trains_like_torch(dtype, opt_name):
    t_losses, m_losses = train_side_by_side(simple_cnn, dtype, opt_name)
    assert len(m_losses) == 4


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("opt_name", ["sgd_momentum", "adam"])
def test_cifar_net_trains_like_torch(dtype, opt_name):
    train_side_by_side(cifar_net, dtype, opt_name, steps=3, dropout=True)


def test_training_reduces_loss_on_a_fixed_batch():
    """The engine learns: 30 Adam steps on one batch drive the SimpleCNN's loss down sharply."""
    minitorch.manual_seed(0)
    model = simple_cnn(minitorch)
    opt = minitorch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)
    x = minitorch.from_numpy(rng.standard_normal((8, 3, 32, 32)).astype("float32"))
    y = minitorch.from_numpy(rng.integers(0, 10, 8))
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = minitorch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses
