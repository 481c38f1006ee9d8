"""Bad input raises a clear error that names the offending shapes, dims or values.

Every case is also run with torch: torch must raise too, and minitorch's exception must be an
instance of torch's exception class (so ``except RuntimeError`` written for torch still works).
"""
import re

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minitorch


def raises_like_torch(fn, match):
    """fn(torch) raises E; fn(minitorch) raises an instance of E whose message matches."""
    with pytest.raises(Exception) as t_info:
        fn(torch)
    with pytest.raises(t_info.type, match=match) as m_info:
        fn(minitorch)
    return m_info.value


CASES = {
    # broadcasting
    "add": (lambda L: L.ones(2) + L.ones(3),
            r"add: cannot broadcast \(2,\) with \(3,\): sizes 2 and 3 differ at dimension -1"),
    "mul_3d": (lambda L: L.ones(2, 3) * L.ones(4, 1, 2),
               r"mul: cannot broadcast \(2,3\) with \(4,1,2\)"),
    "sub": (lambda L: L.ones(2, 3) - L.ones(2), r"sub: cannot broadcast \(2,3\) with \(2,\)"),
    "div_reflected": (lambda L: L.ones(5, 1, 4) / L.ones(3, 2), r"div: cannot broadcast "
                                                                   r"\(5,1,4\) with \(3,2\)"),
    "pow": (lambda L: L.ones(3) ** L.ones(4), r"pow: cannot broadcast \(3,\) with \(4,\)"),
    "eq": (lambda L: L.ones(3) == L.ones(4), r"eq: cannot broadcast \(3,\) with \(4,\)"),
    "where": (lambda L: L.where(L.ones(2) > 0, L.ones(3), L.ones(2)),
              r"where: cannot broadcast \(3,\) with \(2,\)"),
    # matmul
    "matmul": (lambda L: L.ones(4, 5) @ L.ones(6, 2), r"matmul: \(4,5\) @ \(6,2\): 5 != 6"),
    "matmul_1d": (lambda L: L.ones(5) @ L.ones(6), r"matmul: \(5,\) @ \(6,\): 5 != 6"),
    "matmul_vec_mat": (lambda L: L.ones(3) @ L.ones(4, 2), r"matmul: \(3,\) @ \(4,2\): 3 != 4"),
    "matmul_batch": (lambda L: L.ones(2, 4, 5) @ L.ones(3, 5, 2),
                     r"matmul: batch dimensions of \(2,4,5\) @ \(3,5,2\): cannot broadcast "
                     r"\(2,\) with \(3,\)"),
    "matmul_0d": (lambda L: L.ones(()) @ L.ones(6), r"at least 1D.*\(\) @ \(6,\)"),
    # reshape / view
    "reshape": (lambda L: L.ones(2, 3).reshape(4, 2),
                r"reshape: shape '\[4, 2\]' is invalid for input of size 6 "
                r"\(input shape \(2,3\)\)"),
    "reshape_infer": (lambda L: L.ones(2, 3).reshape(-1, 4),
                      r"shape '\[-1, 4\]' is invalid for input of size 6"),
    "reshape_two_infer": (lambda L: L.ones(2, 3).reshape(-1, -1),
                          r"only one dimension can be inferred, got shape \[-1, -1\]"),
    "view": (lambda L: L.ones(2, 3).view(5),
             r"view: shape '\[5\]' is invalid for input of size 6 \(input shape \(2,3\)\)"),
    "view_non_contiguous": (lambda L: L.ones(2, 3).t().view(6),
                            r"view size is not compatible.*shape \(3,2\) -> \(6,\).*reshape"),
    # permute / transpose / expand
    "permute_length": (lambda L: L.ones(2, 3).permute(0),
                       r"input.dim\(\) = 2 is not equal to len\(dims\) = 1"),
    "permute_duplicate": (lambda L: L.ones(2, 3).permute(0, 0),
                          r"duplicate dims are not allowed: \[0, 0\]"),
    "permute_range": (lambda L: L.ones(2, 3).permute(0, 2),
                      r"permute: Dimension out of range \(expected to be in range of \[-2, 1\], "
                      r"but got 2\)"),
    "expand": (lambda L: L.ones(2, 3).expand(4, 3),
               r"expanded size of the tensor \(4\) must match the existing size \(2\) at "
               r"non-singleton dimension 0.*Target sizes: \[4, 3\].*Tensor sizes: \[2, 3\]"),
    "expand_too_few": (lambda L: L.ones(2, 3).expand(3),
                       r"number of sizes provided \(1\) must be greater or equal to the number "
                       r"of dimensions in the tensor \(2\)"),
    # cat / stack
    "cat": (lambda L: L.cat([L.ones(2, 3), L.ones(2, 4)]),
            r"cat: sizes of tensors must match except in dimension 0: tensor 0 has shape "
            r"\(2,3\) but tensor 1 has shape \(2,4\)"),
    "cat_ndim": (lambda L: L.cat([L.ones(2, 3), L.ones(3)]),
                 r"tensor 0 has shape \(2,3\) but tensor 1 has shape \(3,\)"),
    "cat_dim": (lambda L: L.cat([L.ones(2, 3), L.ones(2, 3)], dim=2),
                r"cat: Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    "cat_empty": (lambda L: L.cat([]), r"expected a non-empty list of Tensors"),
    "stack": (lambda L: L.stack([L.ones(2, 3), L.ones(2, 3), L.ones(3, 2)]),
              r"stack expects each tensor to be equal size, but got \(2,3\) at entry 0 and "
              r"\(3,2\) at entry 2"),
    "stack_dim": (lambda L: L.stack([L.ones(2, 3)], dim=4),
                  r"stack: Dimension out of range \(expected to be in range of \[-3, 2\], "
                  r"but got 4\)"),
    # indexing
    "index": (lambda L: L.ones(2, 3)[2],
              r"index 2 is invalid for a tensor of shape \(2,3\): index 2 is out of bounds for "
              r"axis 0 with size 2"),
    "index_second_dim": (lambda L: L.ones(2, 3)[:, -4],
                         r"tensor of shape \(2,3\).*index -4 is out of bounds for axis 1 with "
                         r"size 3"),
    "index_too_many": (lambda L: L.ones(2, 3)[0, 0, 0],
                       r"tensor of shape \(2,3\): too many indices"),
    "index_list": (lambda L: L.ones(2, 3)[[0, 5]],
                   r"index \[0, 5\] is invalid for a tensor of shape \(2,3\)"),
    "index_tensor": (lambda L: L.ones(2, 3)[L.tensor([0, 2])],
                     r"invalid for a tensor of shape \(2,3\): index 2 is out of bounds"),
    "index_float_tensor": (lambda L: L.ones(2, 3)[L.tensor([0.0])],
                           r"tensors used as indices must be long, int, byte or bool tensors"),
    "index_float": (lambda L: L.ones(2, 3)[1.0], r"valid indices \(got float\)"),
    "index_negative_step": (lambda L: L.ones(4)[::-1], r"step must be greater than zero"),
    "setitem_shape": (lambda L: L.ones(2, 3).__setitem__(0, L.ones(4)),
                      r"value of shape \(4,\) cannot be broadcast to the indexed region of shape "
                      r"\(3,\) \(tensor of shape \(2,3\)\)"),
    "setitem_index": (lambda L: L.ones(2, 3).__setitem__(5, 1.0),
                      r"index 5 is invalid for a tensor of shape \(2,3\)"),
    # dims out of range
    "sum_dim": (lambda L: L.ones(2, 3).sum(2),
                r"sum: Dimension out of range \(expected to be in range of \[-2, 1\], but got 2\)"),
    "sum_negative_dim": (lambda L: L.ones(2, 3).sum(-3), r"sum: .*\[-2, 1\], but got -3"),
    "sum_tuple_dim": (lambda L: L.ones(2, 3).sum((0, 5)), r"sum: .*\[-2, 1\], but got 5"),
    "sum_repeated_dim": (lambda L: L.ones(2, 3).sum((0, 0)),
                         r"dim \(0, 0\) appears multiple times in the list of dims"),
    "mean_dim": (lambda L: L.ones(2, 3).mean(-3), r"mean: .*\[-2, 1\], but got -3"),
    "max_dim": (lambda L: L.ones(2, 3).max(3), r"max: .*\[-2, 1\], but got 3"),
    "argmax_dim": (lambda L: L.ones(2, 3).argmax(2), r"argmax: .*\[-2, 1\], but got 2"),
    "argmax_dim_0d": (lambda L: L.tensor(1.0).argmax(1), r"argmax: .*\[-1, 0\], but got 1"),
    "transpose_dim": (lambda L: L.ones(2, 3).transpose(0, 2), r"transpose: .*but got 2"),
    "unsqueeze_dim": (lambda L: L.ones(2, 3).unsqueeze(3), r"unsqueeze: .*\[-3, 2\], but got 3"),
    "squeeze_dim": (lambda L: L.ones(2, 3).squeeze(2), r"squeeze: .*but got 2"),
    "flatten_dim": (lambda L: L.ones(2, 3).flatten(0, 2), r"flatten: .*but got 2"),
    "size_dim": (lambda L: L.ones(2, 3).size(-3), r"size: .*but got -3"),
    # scalars out of tensors
    "item": (lambda L: L.ones(2, 3).item(),
             r"a Tensor with 6 elements cannot be converted to Scalar"),
    "item_empty": (lambda L: L.ones(0).item(), r"a Tensor with 0 elements"),
    "bool": (lambda L: bool(L.ones(2)), r"Boolean value of Tensor with 2 elements is ambiguous"),
    # dtypes
    "mean_of_ints": (lambda L: L.tensor([1, 2]).mean(), r"mean\(\): could not infer output dtype"),
    "int_negative_power": (lambda L: L.tensor([2]) ** -1,
                           r"Integers to negative integer powers are not allowed"),
    "bool_sub": (lambda L: L.tensor([True]) - L.tensor([False]),
                 r"Subtraction, the `-` operator, with a bool tensor is not supported"),
    "bool_neg": (lambda L: -L.tensor([True]), r"Negation, the `-` operator, on a bool tensor"),
    "in_place_int_from_float": (lambda L: L.tensor([1, 2]).add_(1.5),
                                r"result type float32 can't be cast to the desired output type "
                                r"int64"),
    "in_place_broadcast": (lambda L: L.zeros(3).add_(L.ones(2, 3)),
                           r"output with shape \(3,\) doesn't match the broadcast shape \(2,3\)"),
    "copy_shape": (lambda L: L.ones(2, 3).copy_(L.ones(4)), r"\(2,3\).*\(4,\)"),
    "clamp_without_bounds": (lambda L: L.ones(2).clamp(), r"At least one of 'min' or 'max'"),
    "max_of_empty": (lambda L: L.ones(0).max(), r"max\(\): Expected reduction dim"),
    # autograd
    "backward_non_scalar": (lambda L: L.ones(2, requires_grad=True).exp().backward(),
                            r"grad can be implicitly created only for scalar outputs; this tensor "
                            r"has shape \(2,\)"),
    "backward_no_grad": (lambda L: L.ones(2).sum().backward(),
                         r"element 0 of tensors does not require grad"),
    "int_requires_grad": (lambda L: L.tensor([1, 2], requires_grad=True),
                          r"only Tensors of floating point dtype can require gradients, got int64"),
    "numpy_requires_grad": (lambda L: L.ones(2, requires_grad=True).numpy(),
                            r"Can't call numpy\(\) on Tensor that requires grad"),
    "non_leaf_requires_grad": (
        lambda L: setattr(L.ones(2, requires_grad=True) * 2, "requires_grad", False),
        r"you can only change requires_grad flags of leaf variables.*shape \(2,\)"),
    # factories
    "ragged": (lambda L: L.tensor([[1, 2], [3]]), r"expected sequence of length 2 at dim 1"),
    "negative_size": (lambda L: L.zeros(2, -1),
                      r"zeros: Dimension size must be non-negative, got size \[2, -1\]"),
    "randint_range": (lambda L: L.randint(5, 2, (3,)),
                      r"random_ expects 'from' to be less than 'to', but got from=5 >= to=2"),
    "arange_zero_step": (lambda L: L.arange(0, 5, 0), r"step must be nonzero"),
    "full_fill_value": (lambda L: L.full((2,), "a"), r"'fill_value' must be Number, not str"),
    "bad_device": (lambda L: L.ones(2).to("tpu"), r"device type at start of device string: tpu"),
    # device strings (minitorch.device parses them for Tensor.to and Module.to alike)
    "module_to_unknown_device": (lambda L: L.nn.Linear(2, 2).to("tpu"),
                                 r"device type at start of device string: tpu"),
    "empty_module_to_unknown_device": (lambda L: L.nn.Sequential().to("tpu"),
                                       r"device type at start of device string: tpu"),
    "module_to_bad_index": (lambda L: L.nn.Linear(2, 2).to("cuda:x"),
                            r"Invalid device string: 'cuda:x'"),
    "module_to_device_keyword": (lambda L: L.nn.Linear(2, 2).to(device="cuda:x"),
                                 r"Invalid device string: 'cuda:x'"),
    "module_to_unknown_name": (lambda L: L.nn.Linear(2, 2).to("float33"),
                               r"Invalid device string: 'float33'"),
    "tensor_to_bad_index": (lambda L: L.ones(2).to("cuda:x"), r"Invalid device string: 'cuda:x'"),
    "device_negative_index": (lambda L: L.device("cuda:-1"), r"Invalid device string: 'cuda:-1'"),
    "device_two_indices": (lambda L: L.device("cuda:1:2"), r"Invalid device string: 'cuda:1:2'"),
    "device_index_twice": (lambda L: L.device("cuda:1", 0),
                           r"must not include an index because index was passed explicitly: "
                           r"cuda:1"),
    "device_negative_index_argument": (lambda L: L.device("cuda", -1),
                                       r"Device index must not be negative, got -1"),
    # sizes no address space holds: the shape and the bytes are named
    "empty_too_big": (lambda L: L.empty(2 ** 62),
                      r"empty: a tensor of shape \[4611686018427387904\] and dtype float32 would "
                      r"need 4611686018427387904 elements x 4 bytes = 18446744073709551616 bytes"),
    "zeros_too_big_2d": (lambda L: L.zeros(2 ** 40, 2 ** 40),
                         r"zeros: a tensor of shape \[1099511627776, 1099511627776\].* bytes"),
    "full_too_big": (lambda L: L.full((2 ** 31, 2 ** 31, 2), 1.0),
                     r"full: a tensor of shape \[2147483648, 2147483648, 2\]"),
    "randn_too_big": (lambda L: L.randn(2 ** 61), r"randn: .*shape \[2305843009213693952\]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_is_raised_like_torch_with_a_clear_message(case):
    fn, match = CASES[case]
    raises_like_torch(fn, match)


def test_shape_errors_are_runtime_errors_like_torch_and_value_errors():
    with pytest.raises(RuntimeError):
        minitorch.ones(2) + minitorch.ones(3)
    with pytest.raises(ValueError):
        minitorch.ones(4, 5) @ minitorch.ones(6, 2)


@st.composite
def incompatible_shapes(draw):
    """Two shapes that do not broadcast: somewhere both sizes differ and neither is 1."""
    a = list(draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)))
    b = list(draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)))
    i = draw(st.integers(1, min(len(a), len(b))))
    a[-i] = draw(st.integers(2, 5))
    b[-i] = draw(st.sampled_from([n for n in range(2, 7) if n != a[-i]]))
    return tuple(a), tuple(b)


@given(shapes=incompatible_shapes(), op=st.sampled_from(["add", "sub", "mul", "div"]))
def test_every_broadcast_error_names_both_shapes(shapes, op):
    a, b = shapes
    sym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
    fn = eval(f"lambda L: L.ones({a}) {sym} L.ones({b})")  # test-built expression
    shape_str = [re.escape("(" + ",".join(map(str, s)) + ("," if len(s) == 1 else "") + ")")
                 for s in (a, b)]
    raises_like_torch(fn, rf"{op}: cannot broadcast {shape_str[0]} with {shape_str[1]}")


@given(n=st.integers(1, 5), k1=st.integers(1, 6), k2=st.integers(1, 6), m=st.integers(1, 5),
       batch=st.lists(st.integers(1, 3), max_size=2))
def test_every_matmul_error_names_the_shapes_and_sizes(n, k1, k2, m, batch):
    assume(k1 != k2)
    a, b = tuple(batch) + (n, k1), (k2, m)

    def fmt(s):
        return "(" + ",".join(map(str, s)) + ")"

    raises_like_torch(lambda L: L.ones(a) @ L.ones(b),
                      re.escape(f"matmul: {fmt(a)} @ {fmt(b)}: {k1} != {k2}"))


def test_freed_graph_error_says_what_to_do():
    x = minitorch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"MulBackward already freed its saved values.*"
                                           r"retain_graph=True"):
        y.backward()


def test_inplace_modification_error_names_the_tensor_and_versions():
    x = minitorch.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    with minitorch.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: \[float32 tensor "
                                           r"of shape \(2,\)\], which is input to ExpBackward, is "
                                           r"at version 1; expected version 0"):
        y.sum().backward()


def test_leaf_in_place_error_says_to_use_no_grad():
    x = minitorch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"leaf Variable that requires grad.*no_grad"):
        x.mul_(2)


def test_gradcheck_error_names_the_input_output_and_entry():
    class Wrong(minitorch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = minitorch.tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(minitorch.autograd.GradcheckError,
                       match=r"input 0 \(shape \(2, 2\)\), output 0 \(shape \(2, 2\)\): at "
                             r"\[output \d, input \d\] numeric=2 analytic=3; 4 of 16 entries"):
        minitorch.autograd.gradcheck(Wrong.apply, (x,))
