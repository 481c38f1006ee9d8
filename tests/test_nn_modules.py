"""``minitorch.nn``: Module bookkeeping, containers, state dicts, layers, init and clipping, each
compared with torch.

The same architecture is written once as a function of the library ``L`` and built in torch and
in minitorch; names, order, shapes, reprs, outputs and gradients must agree. Models start from
torch's weights, copied over through ``load_state_dict`` (NumPy values), so their outputs and every
parameter's gradient (backpropagated from one random cotangent) agree to ~1e-10 in float64.
"""
import copy
import math
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from seed_models import cifar_net, simple_cnn
from torch_compare import assert_close, check

import minitorch

# --------------------------------------------------------------------------------------------
# Architectures built with either library
# --------------------------------------------------------------------------------------------


def mixed_net(L):
    """Every kind of registration: nested containers, a shared module, a bias-less layer, a
    Parameter and buffers (one non-persistent) on the top module itself."""
    nn = L.nn

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(c)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(L.ones(1))
            self.register_buffer("step", L.zeros((), dtype=L.int64))
            self.register_buffer("scratch", L.zeros(2), persistent=False)
            self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.BatchNorm2d(4), nn.ReLU())
            self.blocks = nn.ModuleList([Block(4), Block(4)])
            self.heads = nn.ModuleDict({"cls": nn.Linear(4, 5), "reg": nn.Linear(4, 1, bias=False)})
            self.shared = self.heads["cls"]  # the same module under two names

        def forward(self, x):
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            x = x.mean((2, 3))
            return self.heads["cls"](x) * self.scale, self.heads["reg"](x)

    return Mixed()


def mlp(L):
    """Layers that need no convolution: Linear, the activations, BatchNorm1d, Dropout, Flatten."""
    nn = L.nn
    return nn.Sequential(
        nn.Flatten(), nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(16, 16), nn.Tanh(), nn.Identity(), nn.Linear(16, 8, bias=False), nn.Sigmoid(),
        nn.Linear(8, 6), nn.Softmax(dim=1), nn.Linear(6, 5), nn.LogSoftmax(dim=-1))


def build_pair(build, dtype="float64", seed=0):
    """(torch model, minitorch model) with torch's initial weights copied into minitorch's."""
    torch.manual_seed(seed)
    t_model = build(torch).to(getattr(torch, dtype))
    m_model = build(minitorch).to(getattr(minitorch, dtype))
    result = m_model.load_state_dict({k: v.numpy() for k, v in t_model.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    return t_model, m_model


def run_pair(t_model, m_model, x, dtype="float64", seed=1):
    """Forward both models on x, backpropagate one random cotangent per output, compare the
    outputs, the input's gradient and every parameter's gradient (by name)."""
    t_x = torch.from_numpy(x.copy()).requires_grad_()
    m_x = minitorch.from_numpy(x.copy()).requires_grad_()
    t_out, m_out = t_model(t_x), m_model(m_x)
    t_outs = t_out if isinstance(t_out, tuple) else (t_out,)
    m_outs = m_out if isinstance(m_out, tuple) else (m_out,)
    rng = np.random.default_rng(seed)
    t_loss = m_loss = 0
    for i, (t, m) in enumerate(zip(t_outs, m_outs)):
        assert_close(m, t, dtype, what=f"output {i}")
        cot = rng.standard_normal(tuple(t.shape)).astype(dtype)
        t_loss = t_loss + (t * torch.from_numpy(cot)).sum()
        m_loss = m_loss + (m * minitorch.from_numpy(cot)).sum()
    t_loss.backward()
    m_loss.backward()
    assert_close(m_x.grad, t_x.grad, dtype, what="input grad")
    t_params = dict(t_model.named_parameters())
    m_params = dict(m_model.named_parameters())
    assert list(m_params) == list(t_params)
    for name, t_p in t_params.items():
        assert m_params[name].grad is not None, name
        assert_close(m_params[name].grad, t_p.grad, dtype, what=f"grad of {name}")
    t_state = t_model.state_dict()
    for name, value in m_model.state_dict().items():  # buffers too (BatchNorm running stats)
        assert_close(value, t_state[name], dtype, what=f"state {name} after forward")


def names_and_shapes(items):
    return [(name, tuple(t.shape)) for name, t in items]


# --------------------------------------------------------------------------------------------
# Bookkeeping: names, order and shapes identical to torch's
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("build", [simple_cnn, cifar_net, mixed_net, mlp])
def test_names_order_and_shapes_match_torch(build):
    t, m = build(torch), build(minitorch)
    assert names_and_shapes(m.state_dict().items()) == names_and_shapes(t.state_dict().items())
    assert names_and_shapes(m.named_parameters()) == names_and_shapes(t.named_parameters())
    assert (names_and_shapes(m.named_parameters(remove_duplicate=False))
            == names_and_shapes(t.named_parameters(remove_duplicate=False)))
    assert names_and_shapes(m.named_buffers()) == names_and_shapes(t.named_buffers())
    assert ([n for n, _ in m.named_parameters(prefix="model", recurse=False)]
            == [n for n, _ in t.named_parameters(prefix="model", recurse=False)])
    assert [n for n, _ in m.named_modules()] == [n for n, _ in t.named_modules()]
    assert ([n for n, _ in m.named_modules(remove_duplicate=False)]
            == [n for n, _ in t.named_modules(remove_duplicate=False)])
    assert [n for n, _ in m.named_children()] == [n for n, _ in t.named_children()]
    assert [type(c).__name__ for c in m.children()] == [type(c).__name__ for c in t.children()]
    assert [type(c).__name__ for c in m.modules()] == [type(c).__name__ for c in t.modules()]
    assert len(list(m.parameters())) == len(list(t.parameters()))
    assert len(list(m.buffers(recurse=False))) == len(list(t.buffers(recurse=False)))
    assert all(isinstance(p, minitorch.nn.Parameter) and p.requires_grad for p in m.parameters())


def test_seed_network_state_dicts_match_torch_exactly():
    """The two seed documents' networks: same keys, in the same order, with the same shapes."""
    for build, n_keys in ((simple_cnn, 4), (cifar_net, 12)):
        t_sd, m_sd = build(torch).state_dict(), build(minitorch).state_dict()
        assert isinstance(m_sd, OrderedDict) and len(m_sd) == n_keys
        assert [(k, tuple(v.shape)) for k, v in m_sd.items()] == \
            [(k, tuple(v.shape)) for k, v in t_sd.items()]
        assert all(not v.requires_grad for v in m_sd.values())


def test_shared_module_is_listed_once_but_saved_under_both_names():
    m = mixed_net(minitorch)
    names = [n for n, _ in m.named_parameters()]
    assert "heads.cls.weight" in names and "shared.weight" not in names
    assert "shared.weight" in m.state_dict()
    assert m.state_dict()["shared.weight"]._data is m.heads["cls"].weight._data
    # non-persistent buffers are buffers but not state
    assert "scratch" in dict(m.named_buffers()) and "scratch" not in m.state_dict()


def test_setattr_getattr_delattr_register():
    nn = minitorch.nn
    m = nn.Module()
    m.w = nn.Parameter(minitorch.ones(2))
    m.sub = nn.Linear(2, 3)
    m.plain = minitorch.ones(2)  # a plain Tensor attribute is not registered
    m.register_buffer("buf", minitorch.zeros(3))
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert list(m.state_dict()) == ["w", "buf", "sub.weight", "sub.bias"]
    assert m.w is m._parameters["w"] and m.sub is m._modules["sub"] and m.buf is m._buffers["buf"]
    assert "plain" in m.__dict__ and "plain" not in m._buffers
    m.buf = minitorch.ones(3)  # assigning to a buffer's name replaces the buffer
    assert m._buffers["buf"].tolist() == [1.0, 1.0, 1.0]
    m.w = None  # a registered parameter may become None (like bias=False)...
    assert m.w is None and "w" not in m.state_dict()
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = minitorch.ones(2)  # ...but not a plain tensor
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    with pytest.raises(TypeError, match="cannot assign 'list' as buffer 'buf'"):
        m.buf = [1, 2]
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        _ = m.nope
    m.sub = nn.ReLU()  # replacing a child keeps its place
    del m.sub
    del m.buf
    del m.plain
    assert list(m._modules) == [] and list(m._buffers) == [] and not hasattr(m, "plain")
    # a Parameter replacing a plain attribute of the same name moves into _parameters
    m.x = 5
    m.x = nn.Parameter(minitorch.zeros(1))
    assert "x" not in m.__dict__ and "x" in m._parameters


def test_registration_errors_name_the_problem():
    nn = minitorch.nn
    m = nn.Linear(2, 2)
    with pytest.raises(KeyError, match=r'buffer name can.*t contain "\.", got: a\.b'):
        m.register_buffer("a.b", minitorch.zeros(1))
    with pytest.raises(KeyError, match="be empty string"):
        m.register_parameter("", None)
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        m.register_buffer("in_features", minitorch.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' object to parameter 'p'"):
        m.register_parameter("p", minitorch.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'b'"):
        m.register_buffer("b", [1])
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("child", 3)
    with pytest.raises(ValueError, match="non-leaf Tensor to parameter 'q'"):
        x = minitorch.ones(2, requires_grad=True)
        p = nn.Parameter(minitorch.ones(2))
        p._grad_fn = (x * 2)._grad_fn  # a non-leaf Parameter
        m.register_parameter("q", p)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(minitorch.ones(1))  # before super().__init__()

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(minitorch.ones(1))


def test_parameter_is_a_tensor_sharing_storage():
    t = minitorch.zeros(3)
    p = minitorch.nn.Parameter(t)
    assert isinstance(p, minitorch.Tensor) and p.requires_grad and p.is_leaf
    with minitorch.no_grad():
        t.add_(1)
    assert p.tolist() == [1.0, 1.0, 1.0]  # same storage, no copy
    assert not minitorch.nn.Parameter(t, requires_grad=False).requires_grad
    assert type(p * 2) is minitorch.Tensor  # ops on a Parameter give plain tensors
    with pytest.raises(RuntimeError, match="floating point"):
        minitorch.nn.Parameter(minitorch.zeros(2, dtype=minitorch.int64))
    assert repr(p) == "Parameter containing:\ntensor([1., 1., 1.], requires_grad=True)"
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(3)))
    assert minitorch.nn.Parameter().shape == (0,)


def test_train_eval_requires_grad_zero_grad_apply():
    t, m = mixed_net(torch), mixed_net(minitorch)
    for model in (t, m):
        assert model.training and all(c.training for c in model.modules())
        assert model.eval() is model
        assert not any(c.training for c in model.modules())
        model.blocks.train()
        assert model.blocks[1].bn.training and not model.stem.training
    assert [c.training for c in m.modules()] == [c.training for c in t.modules()]
    with pytest.raises(ValueError, match="boolean"):
        m.train("yes")
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.requires_grad_()
    for p in m.parameters():
        p.grad = minitorch.ones(*p.shape, dtype=p.dtype)
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad._data.any() for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    visited = []
    assert m.apply(lambda mod: visited.append(type(mod).__name__)) is m
    t_visited = []
    t.apply(lambda mod: t_visited.append(type(mod).__name__))
    assert visited == t_visited  # children first, the root last


def test_dropout_train_and_eval():
    minitorch.manual_seed(0)
    drop = minitorch.nn.Dropout(0.5)
    x = minitorch.ones(200, 50)
    y = drop(x)
    kept = y._data != 0
    assert 0.4 < kept.mean() < 0.6 and np.all(y._data[kept] == 2.0)
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x)._data, x._data)
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        minitorch.nn.Dropout(1.5)


# --------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------
def test_sequential_indexing_slicing_and_editing_match_torch():
    def labelled(L, n):  # distinct modules, so reprs show which is where
        return [L.nn.Linear(i + 1, i + 2) for i in range(n)]

    for L in (torch, minitorch):
        seq = L.nn.Sequential(*labelled(L, 5))
        assert len(seq) == 5 and seq[-1].in_features == 5 and seq[1] is list(seq)[1]
        assert isinstance(seq[1:4], L.nn.Sequential) and len(seq[1:4]) == 3
        assert list(seq[::2]._modules) == ["0", "2", "4"]
    results = []
    for L in (torch, minitorch):
        seq = L.nn.Sequential(*labelled(L, 5))
        seq.append(L.nn.ReLU())
        del seq[1]
        seq.insert(2, L.nn.Tanh())
        seq.pop(0)
        seq[0] = L.nn.Sigmoid()
        del seq[-2:]
        seq += L.nn.Sequential(L.nn.Identity())
        results.append(repr(seq) + repr(seq[1:]) + str(len(seq)))
    assert results[1] == results[0].replace("torch", "minitorch")
    named = minitorch.nn.Sequential(OrderedDict([("fc", minitorch.nn.Linear(2, 3)),
                                                 ("act", minitorch.nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.act is named[1]
    with pytest.raises(IndexError, match="index 7 is out of range"):
        named[7]


LIST_OPS = ["append", "insert", "del", "pop", "set", "delslice"]


@given(ops=st.lists(st.tuples(st.sampled_from(LIST_OPS), st.integers(-6, 6)), max_size=8))
def test_modulelist_edits_match_torch(ops):
    reprs = []
    for L in (torch, minitorch):
        ml = L.nn.ModuleList([L.nn.Linear(1, i + 1) for i in range(3)])
        counter = 10
        log = []
        for op, i in ops:
            counter += 1
            try:
                if op == "append":
                    ml.append(L.nn.Linear(1, counter))
                elif op == "insert":  # torch mishandles negative or too-large positions here
                    ml.insert(i % (len(ml) + 1), L.nn.Linear(1, counter))
                elif op == "del":
                    del ml[i]
                elif op == "pop":
                    ml.pop(i)
                elif op == "set":
                    ml[i] = L.nn.Linear(2, counter)
                else:
                    del ml[i:]
                log.append("ok")
            except IndexError:
                log.append("IndexError")
        reprs.append((repr(ml), [n for n, _ in ml.named_parameters()], log))
    assert reprs[1] == (reprs[0][0].replace("torch", "minitorch"), reprs[0][1], reprs[0][2])


def test_modulelist_and_moduledict():
    nn = minitorch.nn
    ml = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    ml.extend([nn.Sigmoid()])
    ml += [nn.Identity()]
    assert [type(x).__name__ for x in ml] == ["ReLU", "Tanh", "Sigmoid", "Identity"]
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 3
    with pytest.raises(NotImplementedError):
        ml(minitorch.ones(1))
    with pytest.raises(TypeError, match="iterable"):
        ml.extend(3)
    md = nn.ModuleDict({"a": nn.Linear(2, 2)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Linear(2, 1))])
    assert list(md) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert list(md.keys()) == ["a", "b", "c"] and isinstance(md.pop("b"), nn.ReLU)
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias", "c.weight", "c.bias"]
    assert [type(v).__name__ for v in md.values()] == ["Linear", "Linear"]
    md.clear()
    assert len(md) == 0


# --------------------------------------------------------------------------------------------
# repr: torch's format, character for character
# --------------------------------------------------------------------------------------------
REPR_CASES = [
    lambda L: L.nn.Conv2d(3, 6, 5),
    lambda L: L.nn.Conv2d(4, 8, (3, 2), stride=(2, 1), padding=1, dilation=2, groups=2, bias=False),
    lambda L: L.nn.Conv2d(3, 6, 3, padding="same"),
    lambda L: L.nn.Conv2d(3, 6, 3, padding="valid"),
    lambda L: L.nn.Linear(4, 2, bias=False),
    lambda L: L.nn.MaxPool2d(2),
    lambda L: L.nn.MaxPool2d((2, 3), stride=1, padding=1, dilation=2, ceil_mode=True),
    lambda L: L.nn.ReLU(inplace=True),
    lambda L: L.nn.Softmax(),
    lambda L: L.nn.LogSoftmax(dim=1),
    lambda L: L.nn.Dropout(0.2),
    lambda L: L.nn.Flatten(0, 2),
    lambda L: L.nn.BatchNorm2d(5, eps=1e-3, momentum=None, affine=False),
    lambda L: L.nn.BatchNorm2d(5, track_running_stats=False, bias=False),
    lambda L: L.nn.BatchNorm1d(7),
    lambda L: L.nn.CrossEntropyLoss(label_smoothing=0.1),
    lambda L: L.nn.BCEWithLogitsLoss(),
    lambda L: L.nn.ModuleList([L.nn.Linear(2, 2), L.nn.Linear(2, 2), L.nn.ReLU(), L.nn.ReLU(),
                               L.nn.Linear(2, 3)]),
    lambda L: L.nn.ModuleList(),
    lambda L: L.nn.ModuleDict({"x": L.nn.Sequential(L.nn.Tanh(), L.nn.Identity())}),
    simple_cnn, cifar_net, mixed_net, mlp,
]


@pytest.mark.parametrize("case", range(len(REPR_CASES)))
def test_repr_is_torchs(case):
    build = REPR_CASES[case]
    assert repr(build(minitorch)) == repr(build(torch)).replace("torch", "minitorch")


# --------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# --------------------------------------------------------------------------------------------
def test_state_dict_round_trip_copies_in_place():
    minitorch.manual_seed(0)
    a = mixed_net(minitorch)
    minitorch.manual_seed(1)
    b = mixed_net(minitorch)
    params_before = {n: p for n, p in b.named_parameters()}
    result = b.load_state_dict(a.state_dict())
    assert repr(result) == "<All keys matched successfully>"
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(va._data, vb._data, err_msg=name)
        assert va._data is not vb._data  # copied, not aliased
    for name, p in b.named_parameters():
        assert p is params_before[name] and p.requires_grad  # the same objects, still learnable
    # state_dict values are detached views of the model's storage; keep_vars gives the Parameters
    sd = b.state_dict()
    assert sd["stem.0.weight"]._data is b.stem[0].weight._data
    assert not sd["stem.0.weight"].requires_grad
    assert b.state_dict(keep_vars=True)["stem.0.weight"] is b.stem[0].weight
    assert list(b.state_dict(prefix="model.")) == ["model." + k for k in sd]


def test_load_numpy_state_dict_casts_to_the_models_dtype():
    t = mixed_net(torch)
    m = mixed_net(minitorch).double()
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})  # float32 → float64
    for name, v in m.state_dict().items():
        assert v.dtype is (minitorch.int64 if name == "step" or "num_batches" in name
                           else minitorch.float64)
        np.testing.assert_array_equal(v._data, t.state_dict()[name].numpy().astype(v._data.dtype))
    # a 0-dim buffer also loads from a shape-(1,) array (old checkpoints), and torch tensors load
    m.load_state_dict({**{k: v.numpy() for k, v in t.state_dict().items()},
                       "step": np.array([7])})
    assert m.step.item() == 7
    m.load_state_dict(t.state_dict())  # values with __array__ (a torch tensor) work too


def test_load_errors_name_keys_and_shapes():
    m = minitorch.nn.Sequential(minitorch.nn.Linear(4, 10), minitorch.nn.ReLU())
    good = {k: v.numpy() for k, v in m.state_dict().items()}
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight: copying a param with "
                       r"shape minitorch\.Size\(\[10, 5\]\) from checkpoint, the shape in current "
                       r"model is minitorch\.Size\(\[10, 4\]\)"):
        m.load_state_dict({**good, "0.weight": np.zeros((10, 5))})
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight"):  # even when not strict
        m.load_state_dict({**good, "0.weight": np.zeros((10, 5))}, strict=False)
    with pytest.raises(RuntimeError, match=r'Error\(s\) in loading state_dict for Sequential:\n\t'
                       r'Missing key\(s\) in state_dict: "0\.bias"\. \n\tUnexpected key\(s\) in '
                       r'state_dict: "0\.extra", "1\.weight"'):
        m.load_state_dict({"0.weight": good["0.weight"], "0.extra": np.zeros(1),
                           "1.weight": np.zeros(1)})
    with pytest.raises(RuntimeError, match='parameter named "0.bias", expected a minitorch Tensor'):
        m.load_state_dict({**good, "0.bias": "zeros"})
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([("0.weight", good["0.weight"])])


def test_non_strict_load_reports_like_torch():
    sd = {"0.weight": np.zeros((10, 4)), "0.extra": np.zeros(1), "2.bias": np.zeros(3)}
    results = []
    for L in (torch, minitorch):
        m = L.nn.Sequential(L.nn.Linear(4, 10), L.nn.ReLU())
        values = {k: L.from_numpy(v.astype(np.float32)) for k, v in sd.items()}
        results.append(m.load_state_dict(values, strict=False))
        assert not m[0].weight.detach().numpy().any()  # loaded what was there
    assert results[1].missing_keys == results[0].missing_keys == ["0.bias"]
    assert results[1].unexpected_keys == results[0].unexpected_keys
    assert type(results[1]).__name__ == "_IncompatibleKeys" and results[1]._fields == \
        ("missing_keys", "unexpected_keys")


def test_deepcopy_makes_an_independent_model():
    m = mixed_net(minitorch)
    c = copy.deepcopy(m)
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in m.named_parameters()]
    assert c.shared is c.heads["cls"]  # sharing survives the copy
    with minitorch.no_grad():
        c.heads["cls"].weight.fill_(3.0)
    assert not np.any(m.heads["cls"].weight._data == 3.0)
    assert isinstance(c.scale, minitorch.nn.Parameter) and c.scale.requires_grad
    nn = minitorch.nn  # pickling (the classes must be importable, so no local class here)
    seq = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU()).eval()
    back = pickle.loads(pickle.dumps(seq))
    assert isinstance(back[0].weight, nn.Parameter) and back[0].weight.requires_grad
    assert not back.training and back[1].num_batches_tracked.dtype is minitorch.int64
    x = minitorch.randn(2, 3)
    np.testing.assert_array_equal(back(x)._data, seq(x)._data)


# --------------------------------------------------------------------------------------------
# dtype and device
# --------------------------------------------------------------------------------------------
def test_double_float_and_to_keep_parameter_objects():
    m = mixed_net(minitorch)
    params = list(m.parameters())
    for p in params:
        p.grad = minitorch.ones(*p.shape)
    assert m.double() is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]  # optimizers stay valid
    assert all(p.dtype is minitorch.float64 and p.grad.dtype is minitorch.float64 for p in params)
    assert all(p.requires_grad and p.is_leaf for p in params)
    assert m.blocks[0].bn.running_var.dtype is minitorch.float64
    assert m.blocks[0].bn.num_batches_tracked.dtype is minitorch.int64  # integers are not cast
    assert m.step.dtype is minitorch.int64
    m.float()
    assert all(p.dtype is minitorch.float32 for p in m.parameters())
    m.to(minitorch.float64)
    assert all(p.dtype is minitorch.float64 for p in m.parameters())
    m.to(dtype="float32")
    assert all(p.dtype is minitorch.float32 for p in m.parameters())
    m.to(minitorch.zeros(1, dtype=minitorch.float64))
    assert all(p.dtype is minitorch.float64 for p in m.parameters())
    assert m.to("cpu") is m and m.cpu() is m and m.scale.device == minitorch.device("cpu")
    with pytest.raises(TypeError, match="only accepts floating point dtypes.*int64"):
        m.to(minitorch.int64)
    lin = minitorch.nn.Linear(3, 2, dtype=minitorch.float64)
    assert lin.weight.dtype is minitorch.float64 and lin.bias.dtype is minitorch.float64


@pytest.mark.cuda
def test_module_to_cuda_and_back():
    """to('cuda') moves parameters (the same objects), grads and buffers; outputs agree."""
    m = mixed_net(minitorch).double()
    params = list(m.parameters())
    for p in params:
        p.grad = minitorch.ones(*p.shape, dtype=p.dtype)
    x = minitorch.randn(2, 3, 11, 11, dtype=minitorch.float64)
    cpu_out = m(x)[0]
    assert m.to("cuda") is m and [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.is_cuda and p.grad.is_cuda for p in params)
    assert all(b.is_cuda for b in m.buffers())
    m.load_state_dict({k: v.cpu().numpy() for k, v in m.state_dict().items()})  # host → device
    m.zero_grad()
    out = m(x.cuda())[0]
    assert out.is_cuda
    assert_close(out.cpu(), cpu_out.detach(), "float64", what="forward on cuda")
    out.sum().backward()
    # out[0] does not use every head (heads.reg gets no gradient, in torch too): those that
    # got one hold it on the device
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert grads and all(g.is_cuda for g in grads)
    assert m.cpu() is m and not any(p.is_cuda for p in m.parameters())
    m.cuda(0).to("cpu", minitorch.float32)
    assert all(p.dtype is minitorch.float32 and not p.is_cuda for p in m.parameters())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mlp_matches_torch_in_eval_and_train(dtype):
    """Torch's weights in minitorch's MLP: same outputs and parameter gradients; in training mode
    the BatchNorm1d statistics too (dropout off: p is set to 0 in both)."""
    x = np.random.default_rng(0).standard_normal((6, 3, 4)).astype(dtype)
    t_model, m_model = build_pair(mlp, dtype)
    t_model.eval(), m_model.eval()
    run_pair(t_model, m_model, x, dtype)
    t_model, m_model = build_pair(mlp, dtype, seed=1)
    t_model[4].p = m_model[4].p = 0.0
    for step in range(2):
        run_pair(t_model, m_model, x + step, dtype, seed=step)


@pytest.mark.parametrize("build,batch", [(simple_cnn, 2), (cifar_net, 2), (mixed_net, 3)])
def test_conv_networks_with_torch_weights_match_torch(build, batch):
    """The seed networks (eval: no dropout) and the mixed net (train: BatchNorm statistics)
    with torch's weights: same outputs and gradients in float64, and still in float32."""
    size = 11 if build is mixed_net else 32
    x = np.random.default_rng(2).standard_normal((batch, 3, size, size))
    for dtype in ("float64", "float32"):
        t_model, m_model = build_pair(build, dtype)
        if build is not mixed_net:
            t_model.eval(), m_model.eval()
        run_pair(t_model, m_model, x.astype(dtype), dtype)


# --------------------------------------------------------------------------------------------
# Layers against torch's functional forms, with their constructor arguments
# --------------------------------------------------------------------------------------------
ACTIVATION_AND_SHAPE_LAYERS = {
    "ReLU": lambda L: L.nn.ReLU(), "Sigmoid": lambda L: L.nn.Sigmoid(),
    "Tanh": lambda L: L.nn.Tanh(), "Softmax(dim=2)": lambda L: L.nn.Softmax(dim=2),
    "LogSoftmax(dim=-1)": lambda L: L.nn.LogSoftmax(dim=-1), "Flatten": lambda L: L.nn.Flatten(),
    "Flatten(0,2)": lambda L: L.nn.Flatten(0, 2),
    "Identity(3,unused)": lambda L: L.nn.Identity(3, unused=True),
    "Dropout(0.4).eval": lambda L: L.nn.Dropout(0.4).eval(),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("make", list(ACTIVATION_AND_SHAPE_LAYERS.values()),
                         ids=list(ACTIVATION_AND_SHAPE_LAYERS))
def test_activation_and_shape_layers_match_torch(make, dtype):
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    check(lambda L, a: make(L)(a), x, dtype=dtype)


def test_softmax_layer_with_implicit_dim_matches_torch():
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the implicit-dim deprecation warning
        check(lambda L, a: L.nn.Softmax()(a), x[0], dtype="float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_loss_layers_match_torch(dtype):
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((5, 4))
    classes = rng.integers(0, 4, 5)
    classes[1] = 2
    w = rng.random(4) + 0.5
    probs = rng.random((5, 4)) * 0.9 + 0.05
    targets01 = rng.random((5, 4))
    cases = [
        (lambda L, x, y: L.nn.CrossEntropyLoss()(x, y), logits, classes),
        (lambda L, x, y: L.nn.CrossEntropyLoss(weight=L.tensor(w).to(x.dtype), ignore_index=2,
                                               label_smoothing=0.1)(x, y), logits, classes),
        (lambda L, x, y: L.nn.CrossEntropyLoss(reduction="sum")(x, y), logits, classes),
        (lambda L, x, y: L.nn.NLLLoss(reduction="none")(x.log_softmax(1), y), logits, classes),
        (lambda L, x, y: L.nn.NLLLoss(weight=L.tensor(w).to(x.dtype))(x, y), logits, classes),
        (lambda L, x, y: L.nn.MSELoss()(x, y), logits, targets01),
        (lambda L, x, y: L.nn.MSELoss(reduction="sum")(x, y), logits, targets01),
        (lambda L, x, y: L.nn.BCELoss()(x, y), probs, targets01),
        (lambda L, x, y: L.nn.BCELoss(weight=L.tensor(w).to(x.dtype), reduction="none")(x, y),
         probs, targets01),
        (lambda L, x, y: L.nn.BCEWithLogitsLoss()(x, y), logits, targets01),
        (lambda L, x, y: L.nn.BCEWithLogitsLoss(pos_weight=L.tensor(w).to(x.dtype),
                                                reduction="sum")(x, y), logits, targets01),
    ]
    for fn, x, y in cases:
        check(fn, x, y, dtype=dtype, grad=(True, False))
    loss = minitorch.nn.CrossEntropyLoss(weight=minitorch.ones(3))
    assert "weight" in dict(loss.named_buffers()) and loss.to(minitorch.float64).weight.dtype \
        is minitorch.float64
    with pytest.warns(UserWarning, match="reduction='sum'"):
        assert minitorch.nn.MSELoss(size_average=False).reduction == "sum"


CONV_LAYERS = [
    lambda L: L.nn.Conv2d(4, 6, 3),
    lambda L: L.nn.Conv2d(4, 6, (2, 3), stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2,
                          bias=False),
    lambda L: L.nn.Conv2d(4, 4, (4, 3), padding="same", dilation=(1, 2), groups=4),
    lambda L: L.nn.Conv2d(4, 2, 3, stride=2, padding="valid"),
]


@pytest.mark.parametrize("case", range(len(CONV_LAYERS)))
def test_conv2d_layer_with_torch_weights_matches_torch(case):
    x = np.random.default_rng(case).standard_normal((2, 4, 7, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on 'same' with an even kernel
        t_model, m_model = build_pair(CONV_LAYERS[case], "float64")
        run_pair(t_model, m_model, x, "float64")


def test_conv2d_construction_errors():
    nn = minitorch.nn
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv2d(4, 4, 3, groups=0)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        nn.Conv2d(4, 4, 3, padding="full")
    with pytest.raises(NotImplementedError, match="padding_mode='reflect' is not implemented"):
        nn.Conv2d(4, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="mirror")


@pytest.mark.parametrize("make", [
    lambda L: L.nn.MaxPool2d(2),
    lambda L: L.nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True),
])
def test_maxpool2d_layer_matches_torch(make):
    x = np.random.default_rng(7).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0  # no ties
    for dtype in ("float64", "float32"):
        check(lambda L, a: make(L)(a), x, dtype=dtype)
    m_out, m_idx = minitorch.nn.MaxPool2d(3, 2, 1, return_indices=True)(minitorch.tensor(x))
    t_out, t_idx = torch.nn.MaxPool2d(3, 2, 1, return_indices=True)(torch.tensor(x))
    assert_close(m_out, t_out)
    np.testing.assert_array_equal(m_idx._data, t_idx.numpy())


@pytest.mark.parametrize("bias", [True, False])
def test_linear_layer_matches_torch_with_bias_and_without(bias):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6))
    t_model, m_model = build_pair(lambda L: L.nn.Linear(6, 4, bias=bias), "float64")
    run_pair(t_model, m_model, x, "float64")


# --------------------------------------------------------------------------------------------
# Initialisation
# --------------------------------------------------------------------------------------------
def test_default_init_draws_torchs_distribution_from_minitorchs_generator():
    """Linear(7, 5): kaiming_uniform_(a=sqrt(5)) then the bias, both U(±1/sqrt(7)), drawn in that
    order from minitorch.random.default_generator."""
    minitorch.manual_seed(123)
    lin = minitorch.nn.Linear(7, 5)
    rng = np.random.default_rng(123)
    bound = 1 / math.sqrt(7)
    np.testing.assert_allclose(lin.weight._data, rng.uniform(-bound, bound, (5, 7)), rtol=1e-6)
    np.testing.assert_allclose(lin.bias._data, rng.uniform(-bound, bound, (5,)), rtol=1e-6)
    minitorch.manual_seed(123)
    assert np.array_equal(minitorch.nn.Linear(7, 5).weight._data, lin.weight._data)
    assert minitorch.random.default_generator.initial_seed() == 123


@pytest.mark.parametrize("make,fan_in", [
    (lambda L: L.nn.Linear(400, 300), 400),
    (lambda L: L.nn.Conv2d(24, 64, 5), 24 * 25),
    (lambda L: L.nn.Conv2d(32, 60, (3, 4), groups=4), 8 * 12),
])
def test_default_init_bounds_and_spread_match_torch(make, fan_in):
    torch.manual_seed(0)
    minitorch.manual_seed(0)
    t, m = make(torch), make(minitorch)
    bound = 1 / math.sqrt(fan_in)
    for name, t_p in t.named_parameters():
        m_p = getattr(m, name)._data
        t_p = t_p.detach().numpy()
        assert np.abs(m_p).max() <= bound and np.abs(t_p).max() <= bound
        if m_p.size > 10000:  # enough samples for the spread: U(−b, b) has std b/sqrt(3)
            assert abs(m_p.std() / (bound / math.sqrt(3)) - 1) < 0.02
            assert abs(m_p.std() / t_p.std() - 1) < 0.03
            assert abs(m_p.mean()) < 0.02 * bound and np.abs(m_p).max() > 0.99 * bound


INIT_CASES = [
    ("uniform_", dict(a=-0.5, b=2.0), (-0.5, 2.0)),
    ("normal_", dict(mean=1.0, std=0.3), None),
    ("trunc_normal_", dict(mean=0.5, std=2.0, a=-1.0, b=3.0), (-1.0, 3.0)),
    ("xavier_uniform_", dict(gain=2.0), "xavier"),
    ("xavier_normal_", dict(gain=0.5), None),
    ("kaiming_uniform_", dict(a=0.2, mode="fan_out", nonlinearity="leaky_relu"), "kaiming"),
    ("kaiming_normal_", dict(mode="fan_in", nonlinearity="relu"), None),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="tanh"), None),
]


@pytest.mark.parametrize("name,kwargs,bounds", INIT_CASES)
def test_init_functions_match_torchs_statistics(name, kwargs, bounds):
    shape = (200, 30, 5)  # fan_in 150, fan_out 1000, 30000 samples
    torch.manual_seed(0)
    minitorch.manual_seed(0)
    t = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kwargs).numpy()
    m = getattr(minitorch.nn.init, name)(minitorch.empty(shape, dtype=minitorch.float64), **kwargs)
    m = m._data
    assert m.shape == shape
    assert abs(m.std() / t.std() - 1) < 0.03, (m.std(), t.std())
    assert abs(m.mean() - t.mean()) < 0.03 * t.std(), (m.mean(), t.mean())
    if bounds == "xavier":
        bound = kwargs["gain"] * math.sqrt(6 / (150 + 1000))
        bounds = (-bound, bound)
    elif bounds == "kaiming":
        bound = math.sqrt(3) * math.sqrt(2 / (1 + 0.2 ** 2)) / math.sqrt(1000)
        bounds = (-bound, bound)
    if bounds is not None:
        assert m.min() >= bounds[0] and m.max() <= bounds[1]
        assert t.min() >= bounds[0] and t.max() <= bounds[1]


def test_init_constants_gain_and_errors():
    init, tinit = minitorch.nn.init, torch.nn.init
    p = minitorch.nn.Parameter(minitorch.empty(3, 4))
    assert init.constant_(p, 2.5) is p and np.all(p._data == 2.5) and p.requires_grad
    assert np.all(init.ones_(p)._data == 1) and np.all(init.zeros_(p)._data == 0)
    assert np.array_equal(init.eye_(p)._data, np.eye(3, 4))
    for nl, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None),
                      ("conv_transpose2d", None)]:
        assert init.calculate_gain(nl, param) == pytest.approx(tinit.calculate_gain(nl, param),
                                                               rel=1e-15)
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(minitorch.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(minitorch.empty(5))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_normal_(minitorch.empty(0, 3))
    g = minitorch.Generator().manual_seed(7)
    a = init.normal_(minitorch.empty(4), generator=g)._data.copy()
    b = init.normal_(minitorch.empty(4), generator=minitorch.Generator().manual_seed(7))._data
    assert np.array_equal(a, b)


# --------------------------------------------------------------------------------------------
# nn.utils
# --------------------------------------------------------------------------------------------
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 4),
       norm_type=st.sampled_from([2.0, 1.0, math.inf, 3.0, 0.5, "inf"]),
       max_norm=st.sampled_from([0.05, 1.0, 1e4]), dtype=st.sampled_from(["float64", "float32"]),
       none_grad=st.booleans())
def test_clip_grad_norm_matches_torch(seed, n, norm_type, max_norm, dtype, none_grad):
    rng = np.random.default_rng(seed)
    shapes = [tuple(rng.integers(1, 5, rng.integers(1, 3))) for _ in range(n)]
    grads = [rng.standard_normal(s).astype(dtype) * rng.uniform(0.1, 3) for s in shapes]
    results = []
    for L in (torch, minitorch):
        params = [L.nn.Parameter(L.from_numpy(np.zeros(s, dtype=dtype))) for s in shapes]
        for p, g in zip(params, grads):
            p.grad = L.from_numpy(g.copy())
        if none_grad:
            params.append(L.nn.Parameter(L.zeros(3, dtype=getattr(L, dtype))))  # grad None
        total = L.nn.utils.clip_grad_norm_((p for p in params), max_norm, norm_type=norm_type)
        results.append((total, [p.grad for p in params if p.grad is not None]))
    (t_total, t_grads), (m_total, m_grads) = results
    assert m_total.shape == () and m_total.dtype.name == dtype
    assert_close(m_total, t_total, dtype, what="total norm")
    for m, t in zip(m_grads, t_grads):
        assert_close(m, t, dtype, what="clipped grad")


def test_clip_grad_helpers():
    utils = minitorch.nn.utils
    p = minitorch.nn.Parameter(minitorch.zeros(2))
    assert utils.clip_grad_norm_(p, 1.0).item() == 0.0  # no grads: 0.0
    p.grad = minitorch.tensor([3.0, 4.0])
    total = utils.clip_grad_norm_(p, 1.0)  # a single tensor is accepted
    assert total.item() == 5.0
    np.testing.assert_allclose(p.grad._data, [0.6, 0.8], rtol=1e-5)
    p.grad = minitorch.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    rng = np.random.default_rng(6)
    shapes = [(3, 2), (4,), (2, 2, 2)]
    values = [rng.standard_normal(s) for s in shapes]
    out = []
    for L in (torch, minitorch):
        params = [L.nn.Parameter(L.from_numpy(v.copy())) for v in values]
        for q, v in zip(params, values):
            q.grad = L.from_numpy(v * 3)
        L.nn.utils.clip_grad_value_(params, 1.5)
        vec = L.nn.utils.parameters_to_vector(params)
        out.append(([q.grad for q in params], vec))
        L.nn.utils.vector_to_parameters(vec * 2, params)
        out.append([q.detach() for q in params])
    for m, t in zip(out[2][0] + [out[2][1]] + out[3], out[0][0] + [out[0][1]] + out[1]):
        assert_close(m, t, what="clip_grad_value_ / parameters_to_vector / vector_to_parameters")
    assert out[2][1].requires_grad  # parameters_to_vector is differentiable
    with pytest.raises(TypeError, match="expected minitorch.Tensor"):
        utils.vector_to_parameters([1.0], [p])
