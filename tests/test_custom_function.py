"""torch's custom-Function API: forward and backward receive and return Tensors.

Each class is defined once, in a factory taking the library ``L``, and built for torch and for
minitorch from the same text, so the test runs the very program a learner writes against both.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_compare import assert_close

import minitorch

DTYPES = ("float64", "float32")


def make_functions(L):
    F = L.autograd.Function

    class MyReLU(F):
        """The tutorial's shape: clamp in forward, a boolean-mask write in backward."""

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    class Legendre3(F):
        """P3(x) = (5x³ − 3x) / 2;  dP3/dx = (15x² − 3) / 2."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x ** 3 - 3 * x)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * x ** 2 - 1)

    class MulAdd(F):
        """Two tensor inputs, a number, two outputs: (a·b·k, a + b)."""

        @staticmethod
        def forward(ctx, a, b, k):
            ctx.save_for_backward(a, b)
            ctx.k = k
            return a * b * k, a + b

        @staticmethod
        def backward(ctx, g_prod, g_sum):
            a, b = ctx.saved_tensors
            ga = g_prod * b * ctx.k + g_sum if ctx.needs_input_grad[0] else None
            gb = g_prod * a * ctx.k + g_sum if ctx.needs_input_grad[1] else None
            return ga, gb, None

    class SortWithIndices(F):
        """Sorted values and their (float) positions; the positions are not differentiable."""

        @staticmethod
        def forward(ctx, x):
            order = np.argsort(x.detach().cpu().numpy(), kind="stable")
            idx = L.tensor(order)
            values = x[idx]
            positions = idx.to(x.dtype)
            ctx.mark_non_differentiable(positions)
            ctx.save_for_backward(idx)
            return values, positions

        @staticmethod
        def backward(ctx, g_values, g_positions):
            (idx,) = ctx.saved_tensors
            grad = L.zeros_like(g_values)
            grad[idx] = g_values
            return grad

    class TwoOutputsNoMaterialize(F):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g2, g3):
            out = L.zeros_like(g2 if g2 is not None else g3)
            if g2 is not None:
                out = out + 2 * g2
            if g3 is not None:
                out = out + 3 * g3
            return out

    class ScaleInPlace(F):
        """x *= 2 in place (mark_dirty), returned as the output."""

        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    class CubeSetupContext(F):
        """torch 2's style: forward without ctx, setup_context saves."""

        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * g * x * x

    return dict(MyReLU=MyReLU, Legendre3=Legendre3, MulAdd=MulAdd,
                SortWithIndices=SortWithIndices, TwoOutputsNoMaterialize=TwoOutputsNoMaterialize,
                ScaleInPlace=ScaleInPlace, CubeSetupContext=CubeSetupContext)


FUNCTIONS = {L.__name__: make_functions(L) for L in (torch, minitorch)}


def leaf(L, values, dtype):
    return L.tensor(np.asarray(values, dtype=np.float64), dtype=getattr(L, dtype),
                    requires_grad=True)


PROGRAMS = {
    "relu": lambda L, f, x, y, cot: (f["MyReLU"].apply(x) * cot).sum(),
    "legendre": lambda L, f, x, y, cot: (f["Legendre3"].apply(x) * cot).sum(),
    "relu_inside_a_graph": lambda L, f, x, y, cot: (f["MyReLU"].apply(x * y - 0.5) * cot).sum(),
    "muladd_both": lambda L, f, x, y, cot: sum((o * cot).sum() for o in
                                               f["MulAdd"].apply(x, y, 1.5)),
    "muladd_first_only": lambda L, f, x, y, cot: (f["MulAdd"].apply(x, y, -2.0)[0] * cot).sum(),
    "muladd_second_no_grad_input": lambda L, f, x, y, cot: (
        f["MulAdd"].apply(x, y.detach(), 3.0)[1] * cot).sum(),
    "sort": lambda L, f, x, y, cot: (f["SortWithIndices"].apply(x.reshape(-1))[0]
                                     * cot.reshape(-1)).sum(),
    "no_materialize_first": lambda L, f, x, y, cot: (
        f["TwoOutputsNoMaterialize"].apply(x)[0] * cot).sum(),
    "no_materialize_second": lambda L, f, x, y, cot: (
        f["TwoOutputsNoMaterialize"].apply(x)[1] * cot).sum(),
    "dirty": lambda L, f, x, y, cot: (f["ScaleInPlace"].apply(x * 1.0) * cot).sum(),
    "setup_context": lambda L, f, x, y, cot: (f["CubeSetupContext"].apply(x) * cot).sum(),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("program", sorted(PROGRAMS))
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), rows=st.integers(1, 4), cols=st.integers(1, 5))
def test_custom_functions_match_torch(program, dtype, seed, rows, cols):
    rng = np.random.default_rng(seed)
    x_np, y_np = rng.standard_normal((2, rows, cols))
    cot_np = rng.standard_normal((rows, cols))
    results = {}
    for L in (torch, minitorch):
        x, y = leaf(L, x_np, dtype), leaf(L, y_np, dtype)
        cot = L.tensor(cot_np, dtype=getattr(L, dtype))
        loss = PROGRAMS[program](L, FUNCTIONS[L.__name__], x, y, cot)
        loss.backward()
        results[L.__name__] = (loss, x.grad, y.grad)
    (t_loss, t_gx, t_gy), (m_loss, m_gx, m_gy) = results["torch"], results["minitorch"]
    assert_close(m_loss, t_loss, dtype, what="loss")
    assert (m_gx is None) == (t_gx is None) and (m_gy is None) == (t_gy is None)
    if t_gx is not None:
        assert_close(m_gx, t_gx, dtype, what="x.grad")
    if t_gy is not None:
        assert_close(m_gy, t_gy, dtype, what="y.grad")


@pytest.mark.parametrize("L", [torch, minitorch], ids=["torch", "minitorch"])
def test_the_ctx_api_behaves_as_torch_documents(L):
    f = FUNCTIONS[L.__name__]
    x = leaf(L, [3.0, 1.0, 2.0], "float64")
    values, positions = f["SortWithIndices"].apply(x)
    assert values.requires_grad and values.grad_fn is not None
    assert not positions.requires_grad and positions.grad_fn is None
    assert values.grad_fn.name().startswith("SortWithIndicesBackward")
    # needs_input_grad: one entry per argument of forward
    prod, _ = f["MulAdd"].apply(x, x.detach(), 2.0)
    assert tuple(prod.grad_fn.needs_input_grad) == (True, False, False)
    # forward runs with grad recording off
    seen = []

    class Probe(L.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            seen.append(L.is_grad_enabled())
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    Probe.apply(x)
    assert seen == [False]


@pytest.mark.parametrize("L", [torch, minitorch], ids=["torch", "minitorch"])
def test_modifying_a_saved_tensor_before_backward_raises(L):
    x = leaf(L, [1.0, -2.0], "float64")
    h = x * 1.0
    y = FUNCTIONS[L.__name__]["Legendre3"].apply(h)
    with L.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("L", [torch, minitorch], ids=["torch", "minitorch"])
def test_mark_dirty_returns_the_input_with_a_new_history(L):
    x = leaf(L, [1.0, -2.0], "float64")
    h = x * 1.0
    out = FUNCTIONS[L.__name__]["ScaleInPlace"].apply(h)
    assert out is h and h.tolist() == [2.0, -4.0]
    assert h.grad_fn.name().startswith("ScaleInPlaceBackward")
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        FUNCTIONS[L.__name__]["ScaleInPlace"].apply(leaf(L, [1.0], "float64"))


def test_wrong_gradient_counts_and_types_are_errors_like_torch():
    class TooMany(minitorch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    class ExtraNone(minitorch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None  # torch accepts trailing Nones

    class ReturnsArray(minitorch.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g.numpy() * 2

    x = leaf(minitorch, [1.0, 2.0], "float64")
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 1, got 2\)"):
        TooMany.apply(x).sum().backward()
    ExtraNone.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="returned a gradient of type ndarray for input 0"):
        ReturnsArray.apply(x).sum().backward()


def test_once_differentiable_and_function_ctx_exist_like_torch():
    from torch.autograd.function import once_differentiable as torch_once

    from minitorch.autograd import FunctionCtx, once_differentiable

    class Double(minitorch.autograd.Function):
        @staticmethod
        def forward(ctx: FunctionCtx, a):
            return a * 2

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            return g * 2

    assert callable(torch_once)
    x = leaf(minitorch, [1.0], "float64")
    Double.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0]
