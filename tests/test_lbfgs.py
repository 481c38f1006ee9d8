"""``minitorch.optim.LBFGS`` against ``torch.optim.LBFGS``.

Trajectories: the same problem (a quadratic, the Rosenbrock function, a tiny tanh MLP with
parameters of several shapes) is written once as a function of the library ``L``; both libraries
run ``step(closure)`` several times from the same start, and after *every* step the returned
loss, every parameter, and the counters (``n_iter``, ``func_evals``) must agree; at the end the
whole state (direction, step, history, ρ, H₀, previous gradient) must equal torch's. Fixed step
and strong-Wolfe line search, float64 at 1e-10 over three steps (up to 60 iterations), the state
after the first step. Later states are not compared: near the optimum yᵢ = gᵢ₊₁ − gᵢ and
ρᵢ = 1/yᵢᵀsᵢ are differences of nearly equal gradients, so one ulp in a gradient moves them by
~1e-9 relative, and the next iterations amplify it (torch against itself with ``(f·3)/3`` in
place of f: 1e-16 → 4e-12 over 4 MLP steps).

float32 is compared over one step of at most 5 iterations (at 1e-5), because L-BFGS amplifies
rounding: torch's own float32 run, against its float64 run, is 4e-6 apart after 20 iterations on
the quadratic (condition number 1000) and 6e-3 → 1e-1 after 3 → 4 steps on the MLP; our float32
run is a third rounding pattern (NumPy's BLAS; torch's ``add_(alpha=)`` fuses multiply-add):
against torch's float64 run it is 6e-7 apart after 5 iterations on the quadratic (torch's float32:
5e-7), 2.5e-6 after 6 (9e-7), 1e-4 after 20 (4e-6). Then: resuming from a state dict (also torch's) gives the same continuation; errors.
"""
import copy

import numpy as np
import pytest
import torch
from torch_compare import as_numpy, assert_close, to_mt, to_torch

import minitorch


def quadratic(seed, n=24):
    """f(x) = ½ xᵀAx − bᵀx with A symmetric positive definite (condition number 1000)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(np.geomspace(1.0, 1000.0, n)) @ q.T
    b = rng.standard_normal(n)
    params = [rng.standard_normal(n)]

    def loss(L, ps, data):
        (x,) = ps
        A, bb = data
        return 0.5 * (x @ (A @ x)) - (bb * x).sum()
    return params, [a, b], loss


def rosenbrock(seed, n=4):
    """f(x) = Σᵢ 100 (x_{i+1} − xᵢ²)² + (1 − xᵢ)², started near (−1.2, 1, ...); two tensors."""
    rng = np.random.default_rng(seed)
    start = np.tile([-1.2, 1.0], n // 2) + 0.1 * rng.standard_normal(n)
    params = [start[:1].copy(), start[1:].copy()]

    def loss(L, ps, data):
        x = L.cat(ps)
        return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()
    return params, [], loss


def mlp(seed, n_in=3, n_hidden=5, n_out=2, batch=8):
    """Mean squared error of s · tanh(x W1ᵀ + b1) W2ᵀ + b2: matrices, vectors and a 0-dim s."""
    rng = np.random.default_rng(seed)
    params = [0.5 * rng.standard_normal((n_hidden, n_in)), 0.1 * rng.standard_normal(n_hidden),
              0.5 * rng.standard_normal((n_out, n_hidden)), np.zeros(n_out), np.array(1.0)]
    data = [rng.standard_normal((batch, n_in)), rng.standard_normal((batch, n_out))]

    def loss(L, ps, data):
        W1, b1, W2, b2, s = ps
        x, y = data
        out = (L.tanh(x @ W1.T + b1) @ W2.T) * s + b2
        return ((out - y) ** 2).mean()
    return params, data, loss


PROBLEMS = {"quadratic": quadratic, "rosenbrock": rosenbrock, "mlp": mlp}
STATE_KEYS = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


def make(L, problem, dtype, kwargs, seed=0):
    arrays, data_arrays, loss_fn = PROBLEMS[problem](seed)
    convert = to_torch if L is torch else to_mt
    params = [convert(a, dtype, requires_grad=True) for a in arrays]
    data = [convert(a, dtype) for a in data_arrays]
    opt = L.optim.LBFGS(params, **kwargs)

    def closure():
        opt.zero_grad()
        loss = loss_fn(L, params, data)
        loss.backward()
        return loss
    return params, opt, closure


def state_values(value):
    """A state entry as NumPy (lists element-wise), Python numbers as float."""
    if isinstance(value, list):
        return [state_values(v) for v in value]
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return torch.tensor(float(value), dtype=torch.float64)
    return torch.from_numpy(np.array(as_numpy(value)))


def compare_state(m_opt, t_opt, dtype, where):
    m_state = m_opt.state[m_opt.param_groups[0]["params"][0]]
    t_state = t_opt.state[t_opt.param_groups[0]["params"][0]]
    assert m_state["n_iter"] == t_state["n_iter"], f"{where}: n_iter"
    assert m_state["func_evals"] == t_state["func_evals"], f"{where}: func_evals"
    for key in STATE_KEYS:
        m, t = state_values(m_state.get(key)), state_values(t_state.get(key))
        if isinstance(t, list):
            assert len(m) == len(t), f"{where}: {key} has {len(m)} entries, torch {len(t)}"
            for i, (a, b) in enumerate(zip(m, t)):
                assert_close(a, b, dtype, what=f"{where}: {key}[{i}]")
        elif t is None:
            assert m is None, f"{where}: {key}"
        else:
            assert_close(m, t, dtype, what=f"{where}: {key}")


def flat(params):
    return np.concatenate([as_numpy(p).astype(np.float64).reshape(-1) for p in params])


def run_both(problem, dtype, kwargs, steps, state_after=0):
    """Both libraries, step by step: losses, parameters and counters agree after every step; the
    whole state after step ``state_after`` (see the module docstring for why not later)."""
    t_params, t_opt, t_closure = make(torch, problem, dtype, kwargs)
    m_params, m_opt, m_closure = make(minitorch, problem, dtype, kwargs)
    for step in range(steps):
        t_loss = t_opt.step(t_closure)
        m_loss = m_opt.step(m_closure)
        where = f"{problem} {dtype} {kwargs} step {step}"
        assert_close(m_loss, t_loss, dtype, what=f"{where}: loss")
        for i, (m, t) in enumerate(zip(m_params, t_params)):
            assert m.dtype == getattr(minitorch, dtype), f"{where}: param {i} dtype"
            assert_close(m, t, dtype, what=f"{where}: param {i}")
        m_state = m_opt.state[m_params[0]]
        t_state = t_opt.state[t_params[0]]
        assert (m_state["n_iter"], m_state["func_evals"]) == \
            (t_state["n_iter"], t_state["func_evals"]), f"{where}: counters"
        if step == state_after:
            compare_state(m_opt, t_opt, dtype, where)
    return m_opt, t_opt


CONFIGS = [
    {},
    {"line_search_fn": "strong_wolfe"},
    {"lr": 0.5, "max_iter": 7, "history_size": 3},
    {"line_search_fn": "strong_wolfe", "max_iter": 6, "history_size": 2, "lr": 0.8},
    {"max_iter": 4, "max_eval": 9, "tolerance_change": 1e-12},
]
IDS = [",".join(f"{a}={b}" for a, b in k.items()) or "defaults" for k in CONFIGS]


def problem_kwargs(problem, kwargs):
    if problem == "rosenbrock" and not kwargs:
        return {"lr": 0.05}  # a fixed unit step diverges on Rosenbrock (in torch too)
    return kwargs


@pytest.mark.parametrize("kwargs", CONFIGS, ids=IDS)
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_trajectory_matches_torch(problem, kwargs):
    """float64: three steps (up to 60 iterations), every step as torch's at 1e-10."""
    run_both(problem, "float64", problem_kwargs(problem, kwargs), steps=3)


@pytest.mark.parametrize("kwargs", CONFIGS, ids=IDS)
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_float32_first_iterations_match_torch(problem, kwargs):
    """float32: one step of at most 5 iterations, as torch's at 1e-5 (the module docstring says
    why not longer)."""
    kwargs = {**problem_kwargs(problem, kwargs), "max_iter": 5}
    kwargs.pop("max_eval", None)
    run_both(problem, "float32", kwargs, steps=1)


def test_strong_wolfe_minimizes_rosenbrock_like_torch():
    """Enough steps to reach the minimum at (1, ..., 1), both libraries, the same path."""
    m_opt, t_opt = run_both("rosenbrock", "float64", {"line_search_fn": "strong_wolfe"}, 6)
    params = m_opt.param_groups[0]["params"]
    np.testing.assert_allclose(np.concatenate([as_numpy(p) for p in params]), 1.0, atol=1e-5)
    compare_state(m_opt, t_opt, "float64", "rosenbrock converged")


def restart(L, opt, kwargs, source):
    """A fresh optimizer on copies of ``opt``'s parameters, loaded from the state dict
    ``source``; returns its parameters, the optimizer and its closure."""
    _, data_arrays, loss_fn = PROBLEMS["mlp"](0)
    convert = to_torch if L is torch else to_mt
    params = [convert(as_numpy(p), "float64", requires_grad=True)
              for p in opt.param_groups[0]["params"]]
    data = [convert(a, "float64") for a in data_arrays]
    fresh = L.optim.LBFGS(params, **kwargs)
    fresh.load_state_dict(source)

    def closure():
        fresh.zero_grad()
        loss = loss_fn(L, params, data)
        loss.backward()
        return loss
    return params, fresh, closure


@pytest.mark.parametrize("kwargs", [{}, {"line_search_fn": "strong_wolfe", "history_size": 3}])
def test_resume_from_state_dict_gives_the_same_continuation(kwargs):
    """One step, save; fresh optimizers load the state dict (ours into ours, torch's into ours,
    torch's into torch) and continue alike for one more step."""
    _, t_opt, t_closure = make(torch, "mlp", "float64", kwargs)
    _, m_opt, m_closure = make(minitorch, "mlp", "float64", kwargs)
    t_opt.step(t_closure)
    m_opt.step(m_closure)
    ours, theirs = copy.deepcopy(m_opt.state_dict()), t_opt.state_dict()
    assert ours["param_groups"] == theirs["param_groups"]
    assert set(ours["state"]) == set(theirs["state"]) == {0}
    assert set(ours["state"][0]) == set(theirs["state"][0])

    t_params, t_fresh, t_fresh_closure = restart(torch, t_opt, kwargs, theirs)
    for source in (ours, theirs):
        m_params, m_fresh, m_fresh_closure = restart(minitorch, m_opt, kwargs, source)
        if source is theirs:  # torch's continuation runs once
            t_losses = []
            t_losses.append(t_fresh.step(t_fresh_closure))
            t_losses.append([as_numpy(p).copy() for p in t_params])
        loss = m_fresh.step(m_fresh_closure)
        if source is theirs:
            assert_close(loss, t_losses[0], what="resumed: loss")
            for i, (m, t) in enumerate(zip(m_params, t_losses[1])):
                assert_close(m, torch.from_numpy(t), what=f"resumed: param {i}")
        if source is theirs:
            compare_state(m_fresh, t_fresh, "float64", "resumed from torch's state dict")
        else:
            m_again = [as_numpy(p) for p in m_params]

    # ours → ours and torch's → ours end at the same point
    for i, (a, b) in enumerate(zip(m_again, (as_numpy(p) for p in m_params))):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10, err_msg=f"param {i}")


def test_parameter_without_gradient_counts_as_zero():
    """A parameter the loss does not use: its slice of the flat gradient is zero (as torch)."""
    for L in (torch, minitorch):
        used = L.tensor([3.0, -2.0], dtype=L.float64, requires_grad=True)
        unused = L.tensor([5.0], dtype=L.float64, requires_grad=True)
        opt = L.optim.LBFGS([used, unused], line_search_fn="strong_wolfe")

        def closure(opt=opt, used=used):
            opt.zero_grad()
            loss = (used ** 2).sum()
            loss.backward()
            return loss
        opt.step(closure)
        assert float(unused.detach()[0]) == 5.0
        np.testing.assert_allclose(as_numpy(used), 0.0, atol=1e-8)


def test_already_optimal_returns_without_moving():
    x = minitorch.tensor([0.0, 0.0], dtype=minitorch.float64, requires_grad=True)
    opt = minitorch.optim.LBFGS([x])

    def closure():
        opt.zero_grad()
        loss = (x ** 2).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert float(loss) == 0.0 and as_numpy(x).tolist() == [0.0, 0.0]
    assert opt.state[x] == {"func_evals": 1, "n_iter": 0}


def test_errors():
    x = minitorch.tensor([1.0], requires_grad=True)
    y = minitorch.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        minitorch.optim.LBFGS([{"params": [x]}, {"params": [y], "lr": 0.1}])
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        minitorch.optim.LBFGS([x], lr=-1)
    with pytest.raises(ValueError, match="'armijo'"):
        minitorch.optim.LBFGS([x], line_search_fn="armijo")
    with pytest.raises(TypeError, match="closure"):
        minitorch.optim.LBFGS([x]).step(None)
    opt = minitorch.optim.LBFGS([x])
    with pytest.raises(ValueError, match="2 groups"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})
    with pytest.raises(ValueError, match="1 in the optimizer"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0, 1]}]})


def test_defaults_and_repr_match_torch():
    m = minitorch.optim.LBFGS([minitorch.tensor([1.0], requires_grad=True)], max_iter=8)
    t = torch.optim.LBFGS([torch.tensor([1.0], requires_grad=True)], max_iter=8)
    assert m.defaults == t.defaults
    assert repr(m) == repr(t)
