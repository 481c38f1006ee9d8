"""Run one function against torch and against minitorch and compare forward and backward.

The same lambda serves both libraries because the APIs match (tinygrad's habit)::

    check(lambda L, x, w: L.nn.functional.conv2d(x, w, stride=2), x_np, w_np, dtype="float64")

Each NumPy array becomes a leaf tensor in each library (requiring grad when it is floating point,
unless ``grad`` says otherwise). The outputs must agree; then both are contracted with the *same
random cotangent* (``out.backward(cot)``; summing would send ones and hide layout bugs) and every
input's ``.grad`` must agree. ``device="cuda"`` puts the minitorch side on the GPU (torch, the
reference, stays on the CPU) and requires every output and gradient to stay there.

Tolerances: float64 rtol = 1e-10, float32 rtol = 1e-5, each with an absolute floor of
rtol × max(1, max |reference|) so entries that cancel to ~0 are judged on the tensor's scale.
Where an op is ill-conditioned on some inputs (batch statistics of a few values), float32 is
judged by ``check_float32_accuracy`` instead: its error against float64, held to torch's own.
"""
from __future__ import annotations

import numpy as np
import torch

import minitorch

RTOL = {"float64": 1e-10, "float32": 1e-5}


def to_torch(a, dtype=None, requires_grad=False):
    t = torch.from_numpy(np.array(a, copy=True))
    if dtype is not None and t.is_floating_point():
        t = t.to(getattr(torch, dtype))
    return t.requires_grad_(requires_grad)


def to_mt(a, dtype=None, requires_grad=False, device="cpu"):
    t = minitorch.tensor(np.array(a, copy=True), device=device)
    if dtype is not None and t.is_floating_point():
        t = t.to(dtype)
    return t.requires_grad_(requires_grad)


def as_numpy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t.detach())


def assert_close(actual, expected, dtype="float64", rtol=None, what="value"):
    """|actual − expected| ≤ rtol·|expected| + rtol·max(1, max|expected|), elementwise."""
    actual, expected = as_numpy(actual), as_numpy(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != torch {expected.shape}"
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    rtol = RTOL[dtype] if rtol is None else rtol
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0, where=np.isfinite(expected))))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, equal_nan=True,
                               err_msg=what)


def check(fn, *arrays, dtype="float64", grad=None, rtol=None, seed=0, backward=True,
          device="cpu"):
    """Compare ``fn(torch, *inputs)`` with ``fn(minitorch, *inputs)``, forward and backward.

    ``grad``: a tuple of booleans, which inputs require grad (default: the floating ones).
    ``device``: where the minitorch inputs live ("cpu" or "cuda"); torch runs on the CPU.
    Returns (minitorch output, torch output) for further checks.
    """
    if grad is None:
        grad = tuple(np.asarray(a).dtype.kind == "f" for a in arrays)
    where = minitorch.device(device)
    t_in = [to_torch(a, dtype, g) for a, g in zip(arrays, grad)]
    m_in = [to_mt(a, dtype, g, device) for a, g in zip(arrays, grad)]
    t_out = fn(torch, *t_in)
    m_out = fn(minitorch, *m_in)
    t_outs = t_out if isinstance(t_out, (tuple, list)) else (t_out,)
    m_outs = m_out if isinstance(m_out, (tuple, list)) else (m_out,)
    assert len(t_outs) == len(m_outs)
    for i, (m, t) in enumerate(zip(m_outs, t_outs)):
        assert m.device == where, f"output {i} is on {m.device}, its inputs on {where}"
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], \
            f"output {i}: dtype {m.dtype} != torch {t.dtype}"
        assert_close(m, t, dtype, rtol, what=f"forward output {i}")
    if not backward or not any(grad):
        return m_out, t_out
    t_diff = [(m, t) for m, t in zip(m_outs, t_outs) if t.requires_grad]
    assert [m.requires_grad for m in m_outs] == [t.requires_grad for t in t_outs]
    if not t_diff:
        return m_out, t_out
    rng = np.random.default_rng(seed)
    cots = [rng.standard_normal(tuple(t.shape)) for _, t in t_diff]
    t_cots = [to_torch(c, str(t.dtype).split(".")[-1]) for c, (_, t) in zip(cots, t_diff)]
    m_cots = [to_mt(c, m.dtype.name, device=device) for c, (m, _) in zip(cots, t_diff)]
    if len(t_diff) == 1:  # the usual case: hand the cotangent to backward directly
        (m, t), = t_diff
        t.backward(t_cots[0])
        m.backward(m_cots[0])
    else:                 # several outputs: backward of the sum of their contractions
        sum((t * c).sum() for (_, t), c in zip(t_diff, t_cots)).backward()
        sum((m * c).sum() for (m, _), c in zip(t_diff, m_cots)).backward()
    for i, (m, t) in enumerate(zip(m_in, t_in)):
        if not t.requires_grad:
            continue
        if t.grad is None:
            assert m.grad is None or not np.any(as_numpy(m.grad)), f"input {i}: torch grad is None"
            continue
        assert m.grad is not None, f"input {i}: minitorch grad is None, torch has one"
        assert m.grad.device == where, f"grad of input {i} is on {m.grad.device}, not {where}"
        assert_close(m.grad, t.grad, dtype, rtol, what=f"grad of input {i}")
    return m_out, t_out


def load_torch_weights(torch_module, mt_module, dtype: str):
    """Cast both modules to ``dtype`` and load the torch module's state_dict into minitorch's,
    checking that the names (in torch's order) and shapes agree. Returns both modules."""
    torch_module.to(getattr(torch, dtype))
    mt_module.to(getattr(minitorch, dtype))
    state = {k: minitorch.tensor(v.detach().numpy()) for k, v in torch_module.state_dict().items()}
    assert list(state) == list(mt_module.state_dict())  # torch's names, in torch's order
    for k, v in mt_module.state_dict().items():
        assert tuple(v.shape) == tuple(state[k].shape), k
    mt_module.load_state_dict(state)
    return torch_module, mt_module


def check_float32_accuracy(fn, *arrays, grad=None, seed=0):
    """float32 ``fn`` judged by its error against float64, not by agreement with torch's float32.

    For inputs where ``fn`` is ill-conditioned (a batch-norm channel or a standardised slice of
    nearly equal values: the gradient is a difference of large terms) both libraries round at the
    size of those terms, and their float32 results differ by more than 1e-5 of the tensor's scale
    while neither is wrong. Here the reference is minitorch in float64, which first must match
    torch in float64 at 1e-10 (``check``); then every float32 output and gradient of minitorch
    must lie within torch's own float32 error (the largest over the tensor) plus the usual float32
    tolerance of it. What the direct comparison with torch's float32 result accepts, this accepts
    too (triangle inequality: |ours − ref| ≤ |ours − torch| + |torch − ref|); beyond that it
    accepts errors no larger than torch's own largest one plus that tolerance: minitorch is held
    to torch's accuracy, not to torch's rounding. The last calls of ``fn`` are
    minitorch's and torch's in float32, in that order (for tests that read state ``fn`` left
    behind)."""
    check(fn, *arrays, dtype="float64", grad=grad, seed=seed)
    if grad is None:
        grad = tuple(np.asarray(a).dtype.kind == "f" for a in arrays)
    results = {}  # (library, dtype) → [(name, array or None)]: the outputs, then the gradients
    for L, dtype in ((minitorch, "float64"), (minitorch, "float32"), (torch, "float32")):
        make = to_mt if L is minitorch else to_torch
        inputs = [make(a, dtype, g) for a, g in zip(arrays, grad)]
        out = fn(L, *inputs)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        rng = np.random.default_rng(seed)  # the same cotangents in every run
        diff = [o for o in outs if o.requires_grad]
        if diff:
            sum((o * make(rng.standard_normal(tuple(o.shape)), dtype)).sum()
                for o in diff).backward()
        results[L, dtype] = (
            [(f"output {k}", as_numpy(o).astype(np.float64)) for k, o in enumerate(outs)]
            + [(f"gradient of input {k}", None if t.grad is None else
                as_numpy(t.grad).astype(np.float64))
               for k, (t, g) in enumerate(zip(inputs, grad)) if g])
    for (what, ref), (_, ours), (_, theirs) in zip(results[minitorch, "float64"],
                                                   results[minitorch, "float32"],
                                                   results[torch, "float32"]):
        if ref is None or theirs is None:  # no gradient (``check`` compared which exist)
            assert ours is None or not np.any(ours), f"{what}: a gradient where float64 has none"
            continue
        scale = max(1.0, float(np.max(np.abs(ref), initial=0.0, where=np.isfinite(ref))))
        torch_error = float(np.nanmax(np.abs(theirs - ref), initial=0.0))
        allowed = torch_error + RTOL["float32"] * (np.abs(ref) + scale)
        error = np.abs(ours - ref)
        bad = ~(error <= allowed) & ~(np.isnan(ours) & np.isnan(ref))
        assert not bad.any(), (f"{what}: float32 error {np.nanmax(error):.3g} where float64 gives "
                               f"{ref[bad][:4]}; torch's own float32 error is {torch_error:.3g}")
