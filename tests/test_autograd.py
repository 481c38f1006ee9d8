"""Autograd: gradcheck, graph shapes (deep chains, fan-out), accumulation, retain_graph,
retain_grad, grad modes, detach, custom Functions, and the rules for in-place operations.

Whenever torch defines the outcome (a gradient, or an error), the test runs the same program with
``L = torch`` and ``L = minitorch`` and compares.
"""
import os

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch_compare import check

import minitorch
from minitorch.autograd import ArrayFunction, Function, GradcheckError, gradcheck

DTYPES = ("float64", "float32")
seeds = st.integers(0, 2**32 - 1)


def leaf(values, dtype="float64", L=minitorch):
    return L.tensor(np.asarray(values, dtype=np.float64), dtype=getattr(L, dtype),
                    requires_grad=True)


def both(fn):
    """Run ``fn(L)`` for torch and minitorch; return (torch result, minitorch result), where a
    raised error is returned as ('error', its type name)."""
    out = []
    for L in (torch, minitorch):
        try:
            out.append(fn(L))
        except Exception as e:
            out.append(("error", type(e).__name__, str(e)))
    return out


# ---------------------------------------------------------------------------------------------
# gradcheck: full Jacobians by central differences, in float64
# ---------------------------------------------------------------------------------------------
GRADCHECK_FUNCTIONS = {
    "add_broadcast": (lambda a, b: a + b[..., :1], "any"),
    "mul": (lambda a, b: a * b, "any"),
    "div": (lambda a, b: a / (b * b + 1), "any"),
    "pow": (lambda a, b: a.abs() ** b, "nonzero"),
    "pow_scalar": (lambda a, b: a ** 3 - 2.0 ** b, "any"),
    "exp_log_sqrt": (lambda a, b: (a.exp() + b.abs()).log() + (a * a + 1).sqrt(), "nonzero"),
    "tanh_sigmoid": (lambda a, b: a.tanh() * b.sigmoid(), "any"),
    "relu_abs_clamp": (lambda a, b: a.relu() + b.abs() + a.clamp(-0.2, 0.3), "nonzero"),
    "sum_mean": (lambda a, b: a.sum(-1, keepdim=True) * b.mean(0), "any"),
    "max_dim": (lambda a, b: a.max(-1).values + b.min(), "any"),
    "shape_ops": (lambda a, b: a.permute(1, 0, 2).reshape(-1)[::2] * b.flatten()[0], "any"),
    "expand_cat_stack": (lambda a, b: minitorch.cat([a, b], 1).expand(2, 2, 4, 3).sum(0)
                         * minitorch.stack([a, b], 0).sum(0).sum(), "any"),
    "matmul": (lambda a, b: a @ b.transpose(1, 2), "any"),
    "indexing": (lambda a, b: a[[0, 1, 0]] * b[:, 1:, None, 0].sum(), "any"),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK_FUNCTIONS))
@given(seed=seeds)
def test_gradcheck_passes_for_correct_ops(name, seed):
    fn, domain = GRADCHECK_FUNCTIONS[name]
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 2, 3)), rng.standard_normal((2, 2, 3))
    if domain == "nonzero":  # keep away from the kinks of abs/relu/clamp
        a = np.sign(a) * (np.abs(a) + 0.5)
        b = np.sign(b) * (np.abs(b) + 0.5)
    assert gradcheck(fn, (leaf(a), leaf(b)))


@given(seed=seeds, n=st.integers(1, 3), k=st.integers(1, 3), m=st.integers(1, 3))
def test_gradcheck_small_network(seed, n, k, m):
    rng = np.random.default_rng(seed)
    x = minitorch.tensor(rng.standard_normal((n, k)), dtype=minitorch.float64)
    w1, b1, w2 = (leaf(rng.standard_normal(s)) for s in [(k, m), (m,), (m, 2)])

    def net(w1, b1, w2):
        h = (x @ w1 + b1).tanh()
        logits = h @ w2
        return (logits - logits.max(1, keepdim=True).values).exp().sum(1).log().mean()

    assert gradcheck(net, (w1, b1, w2))


def test_gradcheck_of_pure_views_and_non_contiguous_inputs():
    """Outputs that share memory with the input, and inputs with non-unit strides."""
    x = leaf(np.arange(12.0).reshape(3, 4) / 7)
    for fn in (lambda a: a[1:, ::2], lambda a: a.T, lambda a: a.reshape(2, 6), lambda a: a[2]):
        assert gradcheck(fn, (x,))
    strided = minitorch.from_numpy((np.arange(12.0).reshape(3, 4) / 5)[:, ::2]).requires_grad_()
    assert not strided.is_contiguous()
    assert gradcheck(lambda a: a * a.sum(0), (strided,))


def test_gradcheck_with_several_outputs_and_an_input_not_requiring_grad():
    x = leaf([[0.3, -1.2], [0.5, 2.0]])
    c = minitorch.tensor([1.5, -0.5], dtype=minitorch.float64)
    assert gradcheck(lambda x, c: (x * c, (x * x).sum(0)), (x, c))


class WrongSquare(Function):
    """y = x²; backward deliberately returns g·x instead of 2·g·x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x


class RightSquare(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * g * x


def test_gradcheck_fails_on_a_wrong_backward():
    x = leaf([[0.5, -1.5, 2.0]])
    assert gradcheck(RightSquare.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongSquare.apply, (x,))
    assert gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_gradcheck_catches_a_wrong_gradient_in_one_entry_only():
    class OffByOneEntry(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, g):
            out = g * 3
            out[..., -1] = out[..., -1] * 1.01
            return out

    with pytest.raises(GradcheckError, match=r"1 of 9 entries differ"):
        gradcheck(OffByOneEntry.apply, (leaf([1.0, 2.0, 3.0]),))


def test_gradcheck_wants_float64_inputs_that_require_grad():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda x: x * 2, (minitorch.tensor([1.0], requires_grad=True),))
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2, (minitorch.tensor([1.0], dtype=minitorch.float64),))


# ---------------------------------------------------------------------------------------------
# Custom Functions
# ---------------------------------------------------------------------------------------------
class ScaledMul(Function):
    """y = a * b * scale (scale a Python number, passed positionally; ``offset`` as a keyword)."""

    @staticmethod
    def forward(ctx, a, b, scale, offset=0.0):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale + offset

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b * ctx.scale, g * a * ctx.scale, None


def test_custom_function_with_non_tensor_arguments():
    a, b = leaf([1.0, 2.0]), leaf([3.0, -1.0])
    y = ScaledMul.apply(a, b, 2.0, offset=1.0)
    assert y.tolist() == [7.0, -3.0] and y.grad_fn is not None
    assert y.grad_fn.needs_input_grad == (True, True, False)
    y.backward(minitorch.tensor([1.0, 10.0], dtype=minitorch.float64))
    assert a.grad.tolist() == [6.0, -20.0] and b.grad.tolist() == [2.0, 40.0]
    assert gradcheck(lambda a, b: ScaledMul.apply(a, b, 0.5), (a, b))


def test_custom_function_returning_the_wrong_number_or_shape_of_gradients():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)"):
        TooFew.apply(leaf([1.0]), leaf([2.0])).backward()
    with pytest.raises(RuntimeError, match=r"gradient of shape \(\) for an input of shape \(3,\)"):
        WrongShape.apply(leaf([1.0, 2.0, 3.0])).backward()


def test_functions_with_integer_outputs_are_not_recorded():
    x = leaf([1.7, -2.2])
    assert not x.long().requires_grad and x.long().grad_fn is None
    assert not x.argmax().requires_grad
    assert not (x > 0).requires_grad
    y = (x.long() * 1.5 + x).sum()  # no gradient through the rounding, as torch
    y.backward()
    assert x.grad.tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# Graph structure: deep chains, fan-out, accumulation
# ---------------------------------------------------------------------------------------------
def test_ten_thousand_op_chain_backpropagates():
    """A recursive topological sort would hit Python's recursion limit long before this."""
    x = leaf([0.5, -0.25])
    y = x
    for _ in range(5000):
        y = y * 1.0001
        y = y + 0.001
    y.sum().backward()
    assert x.grad.tolist() == pytest.approx([1.0001 ** 5000] * 2, rel=1e-10)


def test_deep_chain_of_unary_ops_matches_torch():
    def chain(L, x):
        for _ in range(2000):
            x = (x * 0.9).tanh() + x.sigmoid() * 0.1
        return x

    check(chain, np.array([0.3, -1.0, 2.0]))


def test_fan_out_gradients_accumulate():
    def diamond(L, x):
        a = x * 2
        b = a.exp()
        c = a.tanh()
        d = b * c + a * a - x  # x reaches d along four paths
        return d + a.sum()

    for dt in DTYPES:
        check(diamond, np.array([[0.1, -0.4], [0.7, 0.2]]), dtype=dt)


def test_one_tensor_feeding_many_ops_gets_every_contribution():
    x = leaf([2.0])
    parts = [x * k for k in range(1, 101)]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    total.backward()
    assert x.grad.tolist() == [5050.0]


def test_gradients_accumulate_across_backward_calls():
    results = both(lambda L: _two_backwards(L))
    assert results[0] == results[1] == ([2.0 * 1 + 3, 2.0 * 2 + 3], [0.0, 0.0], [3.0, 3.0])


def _two_backwards(L):
    x = leaf([1.0, 2.0], L=L)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    first = x.grad.tolist()
    x.grad.zero_()
    zeroed = x.grad.tolist()
    x.grad = None
    (x * 3).sum().backward()
    return first, zeroed, x.grad.tolist()


def test_grad_has_the_leaf_dtype_and_shape():
    x = minitorch.tensor([[1.0, 2.0]], requires_grad=True)
    y = x.double() * minitorch.tensor([3.0, 4.0], dtype=minitorch.float64)
    y.backward(minitorch.ones(1, 2, dtype=minitorch.float64))
    assert x.grad.dtype is minitorch.float32 and x.grad.shape == (1, 2)
    assert x.grad.tolist() == [[3.0, 4.0]]
    assert not x.grad.requires_grad


def test_inputs_not_requiring_grad_get_no_grad():
    x, c = leaf([1.0, 2.0]), minitorch.tensor([3.0, 4.0], dtype=minitorch.float64)
    (x * c).sum().backward()
    assert c.grad is None and x.grad.tolist() == [3.0, 4.0]


# ---------------------------------------------------------------------------------------------
# backward() arguments, retain_graph, retain_grad
# ---------------------------------------------------------------------------------------------
def test_backward_on_a_non_scalar_needs_a_gradient_like_torch():
    t, m = both(lambda L: (leaf([1.0, 2.0], L=L) * 2).backward())
    assert t[0] == m[0] == "error" and t[1] == m[1] == "RuntimeError"
    with pytest.raises(RuntimeError, match=r"grad can be implicitly created only for scalar "
                                           r"outputs.*shape \(2,\)"):
        (leaf([1.0, 2.0]) * 2).backward()
    x = leaf([[3.0]])
    (x * 2).backward()  # one element: fine, as torch
    assert x.grad.tolist() == [[2.0]]


def test_backward_with_an_explicit_gradient_matches_torch():
    def run(L):
        x = leaf([[1.0, 2.0], [3.0, 4.0]], L=L)
        (x * x).backward(L.tensor([[1.0, 0.5], [-1.0, 2.0]], dtype=L.float64))
        return x.grad.tolist()

    t, m = both(run)
    assert t == m == [[2.0, 2.0], [-6.0, 16.0]]


def test_backward_errors():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        minitorch.tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the tensor has "
                                           r"shape \(2,\)"):
        (leaf([1.0, 2.0]) * 2).backward(minitorch.ones(3, dtype=minitorch.float64))


def test_second_backward_through_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*"
                                           "retain_graph=True"):
        y.backward()
    t, m = both(lambda L: _backward_twice(L, retain=False))
    assert t[0] == m[0] == "error"


def _backward_twice(L, retain):
    x = leaf([1.0, 2.0], L=L)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=retain)
    y.backward()
    return x.grad.tolist()


def test_retain_graph_allows_a_second_backward():
    t, m = both(lambda L: _backward_twice(L, retain=True))
    np.testing.assert_allclose(m, t, rtol=1e-12)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(m, 2 * (np.exp(x) * x + np.exp(x)), rtol=1e-12)


def test_retain_grad_keeps_the_gradient_of_a_non_leaf():
    def run(L):
        x = leaf([1.0, -2.0], L=L)
        y = x * 3
        y.retain_grad()
        z = y.tanh()
        z.retain_grad()
        (z * z).sum().backward()
        return [y.grad.tolist(), z.grad.tolist(), x.grad.tolist(), y.retains_grad, x.is_leaf]

    t, m = both(run)
    for i in range(3):
        np.testing.assert_allclose(m[i], t[i], rtol=1e-12)
    assert m[3:] == t[3:] == [True, True]


def test_non_leaf_grad_is_none_without_retain_grad():
    x = leaf([1.0])
    y = x * 2
    (y * y).sum().backward()
    assert y.grad is None and x.grad.tolist() == [8.0]


# ---------------------------------------------------------------------------------------------
# Grad modes
# ---------------------------------------------------------------------------------------------
def test_no_grad_enable_grad_set_grad_enabled_as_context_managers():
    x = leaf([1.0])
    with minitorch.no_grad():
        assert not minitorch.is_grad_enabled()
        y = x * 2
        with minitorch.enable_grad():
            assert minitorch.is_grad_enabled()
            z = x * 2
        assert not minitorch.is_grad_enabled()
    assert minitorch.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    with minitorch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with minitorch.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert minitorch.is_grad_enabled()


def test_set_grad_enabled_as_a_function_call():
    try:
        minitorch.set_grad_enabled(False)
        assert not minitorch.is_grad_enabled()
        assert not (leaf([1.0]) * 2).requires_grad
    finally:
        minitorch.set_grad_enabled(True)
    assert minitorch.is_grad_enabled() and (leaf([1.0]) * 2).requires_grad


def test_grad_modes_as_decorators():
    x = leaf([1.0])

    @minitorch.no_grad()
    def f():
        return x * 2

    @minitorch.no_grad
    def f_bare():
        return x * 2

    @minitorch.enable_grad()
    def g():
        return x * 2

    @minitorch.set_grad_enabled(False)
    def h():
        return x * 2

    assert minitorch.is_grad_enabled()  # making the decorator did not switch the mode
    assert not f().requires_grad and not f_bare().requires_grad and not h().requires_grad
    with minitorch.no_grad():
        assert g().requires_grad
    assert f.__name__ == "f"
    assert minitorch.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with minitorch.no_grad():
            raise ValueError("boom")
    assert minitorch.is_grad_enabled()


def test_ops_under_no_grad_on_tensors_requiring_grad_are_not_recorded():
    x = leaf([1.0, 2.0])
    with minitorch.no_grad():
        y = (x * 2).exp().sum()
    assert not y.requires_grad and y.is_leaf


# ---------------------------------------------------------------------------------------------
# requires_grad rules and detach
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integer_and_bool_tensors_cannot_require_grad(dtype):
    data = [1, 0]
    for make in (lambda L: L.tensor(data, dtype=getattr(L, dtype), requires_grad=True),
                 lambda L: L.tensor(data, dtype=getattr(L, dtype)).requires_grad_(),
                 lambda L: L.zeros(2, dtype=getattr(L, dtype), requires_grad=True)):
        t, m = both(make)
        assert t[0] == m[0] == "error" and t[1] == m[1] == "RuntimeError"
        with pytest.raises(RuntimeError, match="floating point"):
            make(minitorch)


def test_detach_shares_storage_and_leaves_the_graph():
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    d[0] = 100.0
    assert y.tolist()[0] == 100.0  # the same memory
    xd = x.detach()
    xd.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0] and x.requires_grad


def test_detach_shares_the_version_counter():
    t, m = both(lambda L: _modify_detached(L))
    assert t[0] == m[0] == "error" and "modified by an inplace operation" in m[2]


def _modify_detached(L):
    x = leaf([1.0, 2.0], L=L)
    y = x.exp()  # saves its output
    y.detach().mul_(2)
    y.sum().backward()
    return x.grad.tolist()


# ---------------------------------------------------------------------------------------------
# In-place operations
# ---------------------------------------------------------------------------------------------
def test_in_place_on_leaves_under_no_grad():
    w = leaf([1.0, 2.0, 3.0], "float32")
    (w * w).sum().backward()
    w_id = id(w)
    v0 = w._version
    with minitorch.no_grad():
        w.sub_(0.5 * w.grad)          # [0, 0, 0]
        w.add_(minitorch.ones(3))     # [1, 1, 1]
        w.mul_(minitorch.tensor([1.0, 2.0, 3.0]))
        w.div_(2)
        w -= 0.25 * w.grad            # in place, as torch: w stays the same tensor
        w += 1
        w *= 2
    assert id(w) == w_id and w.is_leaf and w.requires_grad and w.grad_fn is None
    assert w._version == v0 + 7
    expected = ((np.array([1.0, 2.0, 3.0]) / 2 - 0.25 * np.array([2.0, 4.0, 6.0])) + 1) * 2
    np.testing.assert_allclose(w.detach().numpy(), expected)
    with minitorch.no_grad():
        w.copy_(minitorch.tensor([7.0, 8.0, 9.0], dtype=minitorch.float64))  # cast to float32
        assert w.tolist() == [7.0, 8.0, 9.0] and w.dtype is minitorch.float32
        w.fill_(4)
        assert w.tolist() == [4.0, 4.0, 4.0]
        w.zero_()
    assert w.tolist() == [0.0, 0.0, 0.0] and w.is_leaf and w.requires_grad
    # and the leaf still works as one
    (w * 3).sum().backward()
    assert w.grad.tolist() == [5.0, 7.0, 9.0]  # accumulated onto the earlier 2w


IN_PLACE_ON_INTEGERS = {
    "add_int": lambda x: x.add_(2), "mul_self": lambda x: x.mul_(x),
    "add_float": lambda x: x.add_(1.5), "div_": lambda x: x.div_(2),
    "copy_float": lambda x: x.copy_(x * 2.7 - 7), "fill_float": lambda x: x.fill_(2.9),
    "zero_": lambda x: x.zero_(), "add_float_tensor": lambda x: x.add_(x.float()),
}


@pytest.mark.parametrize("case", sorted(IN_PLACE_ON_INTEGERS))
def test_in_place_on_plain_tensors_follows_torch_casting_rules(case):
    op = IN_PLACE_ON_INTEGERS[case]

    def run(L):
        x = L.tensor([1, 2, 3])
        op(x)
        return str(x.dtype).split(".")[-1], x.tolist()

    t, m = both(run)
    assert t[0] == m[0] if t[0] == "error" else t == m, (t, m)


@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_",
                                "setitem", "iadd", "clamp_", "exp_"])
def test_in_place_on_a_leaf_requiring_grad_raises(op):
    apply = {
        "add_": lambda L, x: x.add_(1), "sub_": lambda L, x: x.sub_(1),
        "mul_": lambda L, x: x.mul_(2), "div_": lambda L, x: x.div_(2),
        "zero_": lambda L, x: x.zero_(), "fill_": lambda L, x: x.fill_(3),
        "copy_": lambda L, x: x.copy_(L.zeros(2, dtype=L.float64)),
        "setitem": lambda L, x: x.__setitem__(0, 5.0), "iadd": lambda L, x: x.__iadd__(1),
        "clamp_": lambda L, x: x.clamp_(0, 1), "exp_": lambda L, x: x.exp_(),
    }[op]

    def run(L):
        x = leaf([1.0, 2.0], L=L)
        apply(L, x)
        return x.tolist()

    t, m = both(run)
    assert t[0] == m[0] == "error" and t[1] == m[1] == "RuntimeError"
    assert "leaf Variable that requires grad is being used in an in-place operation" in m[2]
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable"):
        apply(minitorch, x)
    assert x.tolist() == [1.0, 2.0]  # left untouched


def test_in_place_on_a_view_of_a_leaf_requiring_grad_raises():
    t, m = both(lambda L: leaf([1.0, 2.0], L=L)[0].mul_(2))
    assert t[0] == m[0] == "error" and "leaf Variable" in m[2]


SAVED_TENSOR_MODIFICATIONS = {
    # the output of exp is saved for backward; modified under no_grad
    "output_under_no_grad": lambda L, x, w: _modify(L, x.exp(), lambda y: y.mul_(2), no_grad=True),
    # w does not require grad, mul saves it for x's gradient
    "non_grad_input": lambda L, x, w: _then(L, (x * w).sum(), lambda: w.add_(1)),
    # the leaf x itself, modified under no_grad after mul saved it for w2's gradient
    "leaf_under_no_grad": lambda L, x, w: _then(
        L, (x * w.requires_grad_()).sum(), lambda: x.add_(1), no_grad=True),
    # through a view that shares the saved tensor's memory
    "through_basic_index_view": lambda L, x, w: _modify(L, x.exp(), lambda y: y[1:].mul_(10),
                                                        no_grad=True),
    "through_reshape_view": lambda L, x, w: _modify(L, x.exp(), lambda y: y.view(2, 1).zero_(),
                                                    no_grad=True),
    "matmul_operand": lambda L, x, w: _then(L, (x[None] @ w[:, None]).sum(),
                                            lambda: w.mul_(2)),
    # recorded in-place ops on a non-leaf whose old value was saved (torch raises too)
    "recorded_inplace_on_saved_output": lambda L, x, w: _modify(L, (x * 1).exp(),
                                                                lambda y: y.add_(1)),
    "recorded_inplace_on_saved_input": lambda L, x, w: _then_graph(L, x),
    "exp_then_modified": lambda L, x, w: _modify(L, (x * 1).exp_(), lambda y: y.add_(1),
                                                 no_grad=True),
    "setitem_on_saved": lambda L, x, w: _modify(L, x.sigmoid(), lambda y: y.__setitem__(0, 1.0),
                                                no_grad=True),
}


def _modify(L, y, change, no_grad=False):
    if no_grad:
        with L.no_grad():
            change(y)
    else:
        change(y)
    return y.sum()


def _then(L, loss, change, no_grad=False):
    if no_grad:
        with L.no_grad():
            change()
    else:
        change()
    return loss


def _then_graph(L, x):
    y = x * 1
    z = y * y  # saves y
    y.add_(1)  # recorded, bumps y's version
    return z.sum()


@pytest.mark.parametrize("case", sorted(SAVED_TENSOR_MODIFICATIONS))
def test_modifying_a_tensor_saved_for_backward_raises(case):
    def run(L):
        x = leaf([0.5, -1.0], L=L)
        w = L.tensor([2.0, 3.0], dtype=L.float64)
        loss = SAVED_TENSOR_MODIFICATIONS[case](L, x, w)
        loss.backward()
        return x.grad.tolist()

    t, m = both(run)
    assert t[0] == "error" and "modified by an inplace operation" in t[2]  # the reference
    assert m[0] == "error" and m[1] == "RuntimeError", m
    assert "modified by an inplace operation" in m[2] and "is at version" in m[2]


MODIFICATIONS_BACKWARD_DOES_NOT_NEED = {
    "input_of_add": lambda L, x: _then(L, (x + 1).sum(), lambda: x.mul_(2), no_grad=True),
    "grad_input_of_mul_by_constant": lambda L, x: _then(
        L, (x * L.tensor([2.0, 3.0], dtype=L.float64)).sum(), lambda: x.mul_(2), no_grad=True),
    "input_of_sum": lambda L, x: _then(L, x.sum() * 2, lambda: x.zero_(), no_grad=True),
}


@pytest.mark.parametrize("case", sorted(MODIFICATIONS_BACKWARD_DOES_NOT_NEED))
def test_modifying_a_tensor_backward_does_not_need_is_fine(case):
    def run(L):
        x = leaf([0.5, -1.0], L=L)
        MODIFICATIONS_BACKWARD_DOES_NOT_NEED[case](L, x).backward()
        return x.grad.tolist()

    t, m = both(run)
    assert t == m and t[0] != "error"


IN_PLACE_PROGRAMS = {
    "add_mul": lambda L, x, w: _chain(x * 2, lambda y: (y.add_(w), y.mul_(3))),
    "sub_alpha_div": lambda L, x, w: _chain(x * 1, lambda y: (y.sub_(w, alpha=2), y.div_(w))),
    "mul_by_tensor": lambda L, x, w: _chain(x + 0, lambda y: y.mul_(w)),
    "pow_clamp": lambda L, x, w: _chain(x * 1, lambda y: (y.pow_(2), y.clamp_(0.1, 2.0))),
    "exp_then_scale": lambda L, x, w: _chain(x * 1, lambda y: y.exp_()) * 2,
    "add_sqrt": lambda L, x, w: _chain(x * 1, lambda y: (y.add_(2), y.sqrt_())),
    "mul_relu": lambda L, x, w: _chain(x * 1, lambda y: (y.mul_(w), y.relu_())),
    "addcmul_addcdiv": lambda L, x, w: _chain(x * 1, lambda y: (y.addcmul_(w, x, value=0.5),
                                                                y.addcdiv_(x, w * w + 1))),
    "lerp": lambda L, x, w: _chain(x * 1, lambda y: y.lerp_(w, 0.3)),
    "copy_from_graph": lambda L, x, w: _chain(L.zeros(x.shape, dtype=x.dtype),
                                              lambda y: y.copy_(w * x)),
    "copy_over_graph": lambda L, x, w: _chain(x * 2, lambda y: y.copy_(w)) * x,
    "fill_zero": lambda L, x, w: _chain(x * 2, lambda y: y.fill_(1.5)) * x + _chain(
        x * 3, lambda y: y.zero_()) * w,
    "operators": lambda L, x, w: _iops(x * 1, w),
    "setitem": lambda L, x, w: _chain(x * 1, lambda y: y.__setitem__(0, w[1] * 5)),
    "setitem_slice_from_plain": lambda L, x, w: _chain(
        x * 1, lambda y: y.__setitem__(slice(1, None), L.tensor(7.0, dtype=x.dtype))),
    "setitem_on_plain_from_graph": lambda L, x, w: _chain(L.zeros(x.shape, dtype=x.dtype),
                                                          lambda y: y.__setitem__(0, x[1] * w[0])),
    "index_iadd": lambda L, x, w: _index_iadd(x * 1, w),
    "view_slice_mul_": lambda L, x, w: _view_inplace(x * 1, lambda y: y[1:].mul_(w[0])),
    "view_reshape_add_": lambda L, x, w: _view_inplace(x * 1, lambda y: y.view(-1, 1).add_(w[0])),
    "view_of_view": lambda L, x, w: _view_inplace(x * 1, lambda y: y[None][0, 1:].mul_(w[:1])),
    "view_t_add_": lambda L, x, w: _view_inplace((x[:, None] * w).reshape(x.shape[0], -1),
                                                 lambda y: y.t().add_(w[:, None])),
    "plain_plus_grad": lambda L, x, w: _chain(L.ones(x.shape, dtype=x.dtype),
                                              lambda y: (y.add_(x), y.mul_(w))),
    # views taken before a recorded in-place op on their base must follow it
    "earlier_view_follows_base": lambda L, x, w: _earlier_views(x * 1, lambda y: y.mul_(w)),
    "earlier_view_of_plain_base": lambda L, x, w: _earlier_views(
        L.zeros(x.shape, dtype=x.dtype), lambda y: y.add_(x * w)),
    "earlier_view_sibling_modified": lambda L, x, w: _earlier_views(
        x * 1, lambda y: y[:1].mul_(w[0])),
}


def _earlier_views(y, change):
    head, tail_of_row = y[:2], y[None][0, 1:]
    change(y)
    return head * head, tail_of_row * 3, y


def _chain(y, ops):
    ops(y)
    return y


def _iops(y, w):
    y += w
    y *= w
    y -= 1
    y /= 2
    return y


def _index_iadd(y, w):
    y[0] += w[1]
    return y


def _view_inplace(y, change):
    change(y)
    return y * y  # uses the base, which must reflect the change made through the view


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("program", sorted(IN_PLACE_PROGRAMS))
@given(seed=seeds, n=st.integers(2, 4))
def test_recorded_in_place_ops_on_non_leaves_match_torch(program, dtype, seed, n):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, n) * rng.choice([-1.0, 1.0], n)
    w = rng.uniform(0.5, 1.5, n)
    check(IN_PLACE_PROGRAMS[program], x, w, dtype=dtype, seed=seed)


def test_in_place_write_through_a_view_is_seen_by_the_base_and_other_views():
    for L in (torch, minitorch):
        x = L.tensor([[1.0, 2.0], [3.0, 4.0]])
        row = x[1]
        col = x[:, 0]
        flat = x.view(4)
        row.mul_(10)
        assert x.tolist() == [[1.0, 2.0], [30.0, 40.0]]
        assert col.tolist() == [1.0, 30.0] and flat.tolist() == [1.0, 2.0, 30.0, 40.0]
        x[0, 0] = -1.0
        assert col.tolist() == [-1.0, 30.0]
        x[0, 1].fill_(5.0)  # a 0-dim view
        assert x[0].tolist() == [-1.0, 5.0]


def test_in_place_on_an_expanded_tensor_raises():
    x = minitorch.tensor([1.0, 2.0]).expand(3, 2)
    with pytest.raises(RuntimeError, match="expand"):
        x.add_(1)


def test_in_place_with_a_non_broadcastable_operand_raises_like_torch():
    t, m = both(lambda L: L.zeros(3).add_(L.ones(2, 3)))
    assert t[0] == m[0] == "error" and t[1] == m[1] == "RuntimeError"
    assert "output with shape (3,) doesn't match the broadcast shape (2,3)" in m[2]


def test_version_counter_counts_in_place_ops():
    def run(L):
        x = L.tensor([1.0, 2.0])
        v0 = x._version
        x.add_(1)
        x.mul_(2)
        x.zero_()
        x.fill_(1)
        x.copy_(L.tensor([1.0, 3.0]))
        x[0] = 5
        x += 1
        return x._version - v0

    assert both(run) == [7, 7]


OPS_SAVING_THEIR_OUTPUT = {
    "exp": lambda x: x.exp(),
    "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(),
    "softmax": lambda x: x.softmax(0),
    "log_softmax": lambda x: x.log_softmax(0),
    "recorded_in_place": lambda x: (x * 1).exp_(),  # the node's check follows the moved output
}


@pytest.mark.parametrize("op", sorted(OPS_SAVING_THEIR_OUTPUT))
def test_an_output_saved_for_backward_is_freed_with_its_last_reference(op):
    """A node that saved its own output must not refer back to the output Tensor: the cycle
    (output → grad_fn → node → output) would keep the output's memory until the cyclic garbage
    collector runs (disabled here, so the leak shows)."""
    import gc
    import weakref
    x = leaf([0.5, -1.0, 2.0])
    gc.disable()
    try:
        y = OPS_SAVING_THEIR_OUTPUT[op](x)
        out, node = weakref.ref(y), weakref.ref(y.grad_fn)
        del y
        assert out() is None and node() is None
    finally:
        gc.enable()
    y = OPS_SAVING_THEIR_OUTPUT[op](x)  # and the check of the saved output still works
    with minitorch.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---------------------------------------------------------------------------------------------
# The graph as torch shows it: next_functions holds (node, output_nr) pairs
# ---------------------------------------------------------------------------------------------
def _graph_signature(root):
    """Every node reachable from ``root`` as (name without torch's version digit, its
    next_functions as (name or None, output_nr) pairs), in a fixed depth-first order."""
    out, stack, seen = [], [root], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        name = type(node).__name__ if type(node).__name__ == "AccumulateGrad" else node.name()
        edges = tuple((None if n is None else n.name().rstrip("0123456789"), nr)
                      for n, nr in node.next_functions)
        out.append((name.rstrip("0123456789"), edges))
        stack.extend(n for n, _ in reversed(node.next_functions))
    return out


GRAPH_PROGRAMS = {
    "tanh_of_product": lambda L, x, w: (x * w).tanh().sum(),
    "constant_operand": lambda L, x, w: (x * 2.0 + w).exp().mean(),
    "input_without_grad": lambda L, x, w: (x * w.detach()).sum(),
    "matmul_relu": lambda L, x, w: (x[None] @ w[:, None]).relu().sum(),
}


@pytest.mark.parametrize("program", sorted(GRAPH_PROGRAMS))
def test_next_functions_are_node_and_output_number_pairs_like_torch(program):
    fn = GRAPH_PROGRAMS[program]
    t_out = fn(torch, leaf([0.5, -1.0, 2.0], L=torch), leaf([1.5, 0.5, -0.25], L=torch))
    m_out = fn(minitorch, leaf([0.5, -1.0, 2.0]), leaf([1.5, 0.5, -0.25]))
    t_sig, m_sig = _graph_signature(t_out.grad_fn), _graph_signature(m_out.grad_fn)
    # torch names a few nodes differently (AddBackward0 for x + w, ViewBackward0 for x[None]...):
    # the shapes of the graphs must agree, node for node
    assert [len(e) for _, e in m_sig] == [len(e) for _, e in t_sig]
    assert [[nr for _, nr in e] for _, e in m_sig] == [[nr for _, nr in e] for _, e in t_sig]
    assert [[n is None for n, _ in e] for _, e in m_sig] == [[n is None for n, _ in e]
                                                            for _, e in t_sig]
    assert [n for n, _ in m_sig].count("AccumulateGrad") == \
        [n for n, _ in t_sig].count("AccumulateGrad")


# ---------------------------------------------------------------------------------------------
# Functions with several outputs (the engine's ArrayFunction: raw arrays in and out)
# ---------------------------------------------------------------------------------------------
class ScaleAndTotal(ArrayFunction):
    """Two outputs: y1 = a·x and y2 = Σ x.   dL/dx = a·g1 + g2 (g2 broadcast)."""

    @staticmethod
    def forward(ctx, x, a):
        ctx.a = a
        return x * a, x.sum()

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * ctx.a + g2, None


class ValueAndFloatIndex(ArrayFunction):
    """y = max(x) and its position as a float that is marked non-differentiable."""

    @staticmethod
    def forward(ctx, x):
        k = int(np.argmax(x))
        ctx.shape, ctx.k = x.shape, k
        position = np.asarray(float(k))
        ctx.mark_non_differentiable(position)
        return x.reshape(-1)[k].copy(), position

    @staticmethod
    def backward(ctx, g, g_position):
        assert not g_position.any()  # the non-differentiable output gets zeros
        dx = np.zeros(ctx.shape, dtype=g.dtype)
        dx.reshape(-1)[ctx.k] = g
        return dx


@pytest.mark.parametrize("use", ["first", "second", "both"])
def test_multi_output_function_gets_a_gradient_per_output(use):
    x = leaf([[1.0, -2.0], [0.5, 3.0]])
    y1, y2 = ScaleAndTotal.apply(x, 3.0)
    assert y1.grad_fn is y2.grad_fn and y1.grad_fn.name() == "ScaleAndTotalBackward"
    cot = minitorch.tensor([[0.25, -1.0], [2.0, 0.5]], dtype=minitorch.float64)
    loss = {"first": lambda: (y1 * cot).sum(), "second": lambda: y2 * 4.0,
            "both": lambda: (y1 * cot).sum() + y2 * 4.0}[use]()
    loss.backward()
    # the same function written with torch's ops: y1 = 3x, y2 = Σ x
    xt = leaf([[1.0, -2.0], [0.5, 3.0]], L=torch)
    t1, t2 = xt * 3.0, xt.sum()
    cott = torch.tensor(cot.numpy())
    {"first": lambda: (t1 * cott).sum(), "second": lambda: t2 * 4.0,
     "both": lambda: (t1 * cott).sum() + t2 * 4.0}[use]().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_retain_grad_on_the_second_output_of_a_function():
    x = leaf([1.0, 2.0, 3.0])
    y1, y2 = ScaleAndTotal.apply(x, 2.0)
    y2.retain_grad()
    y1.retain_grad()
    (y1.sum() + 5.0 * y2).backward()
    assert y2.grad.item() == 5.0
    np.testing.assert_array_equal(y1.grad.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0, 7.0])


def test_mark_non_differentiable_output_has_no_history():
    x = leaf([[1.0, 4.0], [2.0, 3.0]])
    value, position = ValueAndFloatIndex.apply(x)
    assert value.requires_grad and value.grad_fn is not None
    assert not position.requires_grad and position.grad_fn is None
    assert position.item() == 1.0
    (value * 2.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 2.0], [0.0, 0.0]])
    with pytest.raises(RuntimeError, match="does not require grad"):
        position.backward()


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool2d_indices_are_a_non_differentiable_second_output(dtype):
    rng = np.random.default_rng(5)
    x_np = rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6).astype(np.float64)  # no ties
    x = leaf(x_np, dtype)
    out, idx = minitorch.nn.functional.max_pool2d(x, 3, stride=2, padding=1, return_indices=True)
    xt = leaf(x_np, dtype, L=torch)
    t_out, t_idx = torch.nn.functional.max_pool2d(xt, 3, stride=2, padding=1, return_indices=True)
    assert out.grad_fn is not None and idx.grad_fn is None and not idx.requires_grad
    assert idx.dtype == minitorch.int64
    np.testing.assert_array_equal(idx.numpy(), t_idx.numpy())
    cot = rng.standard_normal(tuple(out.shape))
    (out * minitorch.tensor(cot).to(out.dtype)).sum().backward()
    (t_out * torch.tensor(cot).to(t_out.dtype)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


# ---- gradient buffers nobody else holds: written in place (ReLU), kept as .grad (leaves) --------
@pytest.fixture
def relu_spy(monkeypatch):
    """Records, for every ReLU backward, whether the engine gave it its gradient to overwrite and
    whether it did (its result is the array it received)."""
    from minitorch import ops
    seen, backward = [], ops.ReLU.backward

    def spy(ctx, g):
        dx = backward(ctx, g)
        seen.append((ctx.grads_owned, dx is g))
        return dx
    monkeypatch.setattr(ops.ReLU, "backward", staticmethod(spy))
    return seen


def relu_pool(L, x):
    return L.nn.functional.max_pool2d(L.relu(x), 2)


def test_relu_backward_writes_into_a_gradient_only_the_engine_holds(relu_spy):
    """max_pool2d's backward returns a new array that only the engine refers to: ReLU's backward
    writes its result there (no new array), and the leaf keeps it as .grad (no copy) — with
    torch's values."""
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64))  # large enough for the fast path
    check(relu_pool, x)
    assert relu_spy == [((True,), True)]


def test_a_gradient_the_user_passed_is_never_overwritten(relu_spy):
    x = minitorch.tensor(np.random.default_rng(1).standard_normal((64, 80)), requires_grad=True)
    g = np.random.default_rng(2).standard_normal((64, 80))
    g_user = minitorch.from_numpy(g)
    before = g.copy()
    minitorch.relu(x).backward(g_user)
    np.testing.assert_array_equal(g, before)
    assert relu_spy == [((False,), False)]
    np.testing.assert_array_equal(x.grad.numpy(), np.where(x.detach().numpy() > 0, before, 0))


def test_one_gradient_handed_to_two_inputs_is_overwritten_only_by_the_last_reader(relu_spy):
    """Add's backward passes one array to both branches: the first ReLU to read it must not
    overwrite it (the other branch still holds it), the second may; the values are torch's."""
    rng = np.random.default_rng(3)
    p, q = rng.standard_normal((2, 3, 64, 64)), rng.standard_normal((2, 3, 64, 64))
    check(lambda L, p, q: L.nn.functional.max_pool2d(L.relu(p) + L.relu(q), 2), p, q)
    assert [owned for owned, _ in relu_spy] == [(False,), (True,)]


class _Leak(Function):
    """backward returns an array that something else (the test) still holds."""
    held = None

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        return minitorch.from_numpy(_Leak.held)


def test_a_gradient_someone_else_holds_is_not_overwritten(relu_spy):
    rng = np.random.default_rng(4)
    x = minitorch.tensor(rng.standard_normal((64, 80)), requires_grad=True)
    _Leak.held = rng.standard_normal((64, 80))
    before = _Leak.held.copy()
    _Leak.apply(minitorch.relu(x)).sum().backward()
    np.testing.assert_array_equal(_Leak.held, before)
    assert relu_spy == [((False,), False)]


def test_leaves_given_one_array_do_not_share_it():
    """z = x + w hands the same gradient array to both leaves: at most one may keep it."""
    x = minitorch.tensor(np.ones((64, 80)), requires_grad=True)
    w = minitorch.tensor(np.ones((64, 80)), requires_grad=True)
    relu_pool(minitorch, (x + w).reshape(1, 1, 64, 80)).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), w.grad.numpy())
    x.grad.zero_()
    assert w.grad.numpy().sum() == 64 * 80 / 4  # one winner per 2x2 window, each with g = 1


def test_gradients_accumulate_in_place_as_torchs():
    """A second backward adds into the same .grad array (an array view of it sees the sum, in
    both libraries); a .grad someone made read-only gets a new array instead."""
    seen = []
    for L in (torch, minitorch):
        x = L.tensor([1.0, 2.0], requires_grad=True)
        (x * 3).sum().backward()
        view = x.grad.numpy()            # shares memory with .grad
        (x * 4).sum().backward()
        seen.append(view.copy())
    np.testing.assert_array_equal(seen[0], [7.0, 7.0])
    np.testing.assert_array_equal(seen[1], seen[0])
    x = minitorch.tensor([1.0, 2.0], requires_grad=True)
    frozen = np.array([1.0, 1.0])
    frozen.flags.writeable = False
    x.grad = minitorch.from_numpy(frozen)
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])
    np.testing.assert_array_equal(frozen, [1.0, 1.0])


def test_a_view_op_that_saves_its_output_sees_changes_made_through_the_base():
    """A view shares its base's version counter; a node that saved the view it returned must
    check that shared counter, so an in-place change through the base is caught (torch raises)."""
    class SavingView(ArrayFunction):  # y = x viewed as it is; backward reads the saved y
        is_view = True

        @staticmethod
        def forward(ctx, x):
            y = x.reshape(x.shape)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * np.ones_like(y)

    x = leaf([1.0, 2.0])
    base = x * 1
    y = SavingView.apply(base)
    with minitorch.no_grad():
        base.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_the_first_op_of_a_process_is_freed_with_its_last_reference():
    """The first op of a process is the one whose ``array_module`` call tries to import CuPy.
    Where that import fails, the failure must be kept as text: its exception's traceback holds
    every frame of the caller, so the first op's node, its saved arrays and its result stayed
    alive for the life of the process. A fresh interpreter, so that this op is really first."""
    import subprocess
    import sys
    program = (
        "import gc, weakref, numpy as np, minitorch\n"
        "import minitorch.nn.functional as F\n"
        "x = minitorch.tensor(np.ones((4, 3), np.float32), requires_grad=True)\n"
        "loss = F.cross_entropy(x, minitorch.tensor([0, 1, 2, 0]))\n"
        "out, node = weakref.ref(loss), weakref.ref(loss.grad_fn)\n"
        "del loss\n"
        "gc.collect()\n"
        "print(out() is None, node() is None)\n")
    env = {k: v for k, v in os.environ.items() if k != "MINITORCH_FAKE_CUPY"}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120, env=env, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"], done.stdout
