"""The CPU benchmark cases: what is measured, on which shapes, in float32.

Every case builds the *same* work in each library (``L`` = minitorch or torch, whose APIs match)
from the same NumPy arrays, and returns a zero-argument callable:

* ``forward``: the op under ``L.no_grad()`` on inputs that need no gradient.
* ``forward+backward``: gradients reset, the op, then ``out.backward(cot)`` with a fixed random
  cotangent (a scalar loss calls ``backward()``): ``.sum()`` would send ones.
* ``step``: an optimizer step, or a whole training step (zero_grad, forward, cross-entropy,
  backward, optimizer step).

What is in it (``quick`` keeps the rows marked Q; batch sizes are chosen for a small CPU):

* overhead — a 1-element add, forward (Q) and forward+backward (Q): the Python cost per op.
* matmul — square n×n @ n×n, n = 256, 512 (Q), 1024, 2048, 4096.
* linear — the seed nets' Linear layers as ``F.linear(x, W, b)``: Net's fc1 2048→1024,
  fc2 1024→512, fc3 512→10 and SimpleCNN's fc 8192→10, at batch 64 (Q) and 256.
* conv2d — the seed nets' layers (3x3, padding 1) at batch 64 (Q): conv1 3→32 @32x32
  (SimpleCNN's and Net's first layer; its input needs no gradient, as in training),
  conv2 32→64 @16, conv3 64→128 @8; ResNet-style 3x3 layers C=K=64 @56, 128 @28, 256 @14,
  a 1x1 256→64 @56 and a strided 3x3 128→256 stride 2 @28→14, at batch N=8 (ImageNet
  training uses 32-256; 8 keeps a 2-core machine's run in minutes; compare ratios and GFLOP/s,
  not times, with runs at other batch sizes).
* max_pool2d — 2x2 stride 2 after each seed conv (batch 64, Q) and ResNet's stem pool 3x3 stride 2
  padding 1 on 64 channels @112 (batch 8). Inputs are permutations: no ties.
* cross_entropy — logits (64, 10) (Q), (256, 10), (256, 1000) with integer targets.
* optimizer — one Adam step (lr 1e-3) over the CIFAR Net's 2.7M parameters, fixed gradients (Q).
* attention, and the GPT's train_step — in :mod:`benchmarks.text_cases`.
* train_step — seed 000's SimpleCNN with SGD (lr 0.01, as in the seed) and seed 001's Net with
  Adam (lr 1e-3, dropout active), on 3x32x32 inputs, batch 64 (Q) and 256. SimpleCNN's input
  size is fixed at 32x32 by the seed itself: its ``fc`` takes 32·16·16 features after one
  2x2 pool.

FLOP counts are in :mod:`benchmarks.flops`. The seed networks come from ``tests/seed_models.py``,
loaded by path so the benchmarks and the tests share one definition.
"""
from __future__ import annotations

import importlib.util
import os
import zlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import flops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHASES = ("forward", "forward+backward", "step")


@dataclass
class Case:
    """One row of the table. ``inputs()`` makes the shared NumPy data once; ``build(L, data)``
    returns the callable for library ``L``."""
    group: str
    name: str
    phase: str
    inputs: Callable[[], dict]
    build: Callable
    flops: float | None = None
    params: dict = field(default_factory=dict)
    quick: bool = False

    @property
    def id(self) -> str:
        return f"{self.group} {self.name} {self.phase}"


def seed_models():
    """``tests/seed_models.py`` as a module (``simple_cnn(L)``, ``cifar_net(L)``)."""
    path = os.path.join(ROOT, "tests", "seed_models.py")
    spec = importlib.util.spec_from_file_location("seed_models", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rng(*key) -> np.random.Generator:
    """A generator seeded by ``key`` (stable across runs, unlike ``hash``)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _f32(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# ---- ops: forward and forward+backward from one lambda ------------------------------------------
def _leaves(L, arrays, needs_grad):
    return [L.from_numpy(a).requires_grad_(bool(g and a.dtype.kind == "f"))
            for a, g in zip(arrays, needs_grad)]


def _build_forward(fn):
    def build(L, data):
        xs = _leaves(L, data["arrays"], [False] * len(data["arrays"]))

        def forward():
            with L.no_grad():
                return fn(L, *xs)
        return forward
    return build


def _build_forward_backward(fn, needs_grad):
    def build(L, data):
        xs = _leaves(L, data["arrays"], needs_grad)
        params = [x for x in xs if x.requires_grad]
        probe = fn(L, *xs)
        cot = None
        if probe.ndim > 0:  # the same cotangent in every library: seeded by the output shape
            cot = L.from_numpy(_f32(np.random.default_rng(1), tuple(probe.shape)))

        def forward_backward():
            for p in params:
                p.grad = None
            out = fn(L, *xs)
            out.backward() if cot is None else out.backward(cot)
            return out
        return forward_backward
    return build


def op_cases(group, name, fn, make_arrays, needs_grad, forward_flops=None, params=None,
             quick=False):
    """The forward and the forward+backward case of ``fn(L, *tensors)``."""
    params = params or {}
    cache = {}

    def inputs():  # both phases share the arrays
        if "arrays" not in cache:
            cache["arrays"] = make_arrays()
        return {"arrays": cache["arrays"]}
    n_grad = sum(bool(g) for g in needs_grad)
    fb = None if forward_flops is None else flops.forward_backward(forward_flops, n_grad)
    return [Case(group, name, "forward", inputs, _build_forward(fn), forward_flops, params, quick),
            Case(group, name, "forward+backward", inputs,
                 _build_forward_backward(fn, needs_grad), fb, params, quick)]


def add(L, a, b):
    return a + b


def matmul(L, a, b):
    return a @ b


def linear(L, x, w, b):
    return L.nn.functional.linear(x, w, b)


def conv2d_fn(stride, padding):
    def conv2d(L, x, w, b):
        return L.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)
    return conv2d


def max_pool2d_fn(kernel, stride, padding):
    def max_pool2d(L, x):
        return L.nn.functional.max_pool2d(x, kernel, stride, padding)
    return max_pool2d


def cross_entropy(L, x, target):
    return L.nn.functional.cross_entropy(x, target)


# ---- the shapes ---------------------------------------------------------------------------------
SEED_LINEARS = [  # (name, in, out)
    ("Net fc1 2048->1024", 2048, 1024),
    ("Net fc2 1024->512", 1024, 512),
    ("Net fc3 512->10", 512, 10),
    ("SimpleCNN fc 8192->10", 8192, 10),
]
# (name, N, C, K, kernel, stride, padding, size, input needs grad, quick)
CONVS = [
    ("seed conv1 3->32 @32", 64, 3, 32, 3, 1, 1, 32, False, True),
    ("seed conv2 32->64 @16", 64, 32, 64, 3, 1, 1, 16, True, True),
    ("seed conv3 64->128 @8", 64, 64, 128, 3, 1, 1, 8, True, True),
    ("resnet 3x3 64->64 @56", 8, 64, 64, 3, 1, 1, 56, True, False),
    ("resnet 3x3 128->128 @28", 8, 128, 128, 3, 1, 1, 28, True, False),
    ("resnet 3x3 256->256 @14", 8, 256, 256, 3, 1, 1, 14, True, False),
    ("resnet 1x1 256->64 @56", 8, 256, 64, 1, 1, 0, 56, True, False),
    ("resnet 3x3/2 128->256 @28", 8, 128, 256, 3, 2, 1, 28, True, False),
]
# (name, N, C, size, kernel, stride, padding, quick)
POOLS = [
    ("seed 2x2/2 32ch @32", 64, 32, 32, 2, 2, 0, True),
    ("seed 2x2/2 64ch @16", 64, 64, 16, 2, 2, 0, True),
    ("seed 2x2/2 128ch @8", 64, 128, 8, 2, 2, 0, True),
    ("resnet stem 3x3/2 64ch @112", 8, 64, 112, 3, 2, 1, False),
]
CROSS_ENTROPY = [(64, 10, True), (256, 10, False), (256, 1000, False)]  # (batch, classes, quick)
MATMUL_SIZES = [(256, True), (512, True), (1024, False), (2048, False), (4096, False)]
LINEAR_BATCHES = [(64, True), (256, False)]
TRAIN_BATCHES = [(64, True), (256, False)]


def overhead_cases():
    def make():
        return [np.ones(1, np.float32), np.full(1, 2.0, np.float32)]
    return op_cases("overhead", "1-element add", add, make, [True, True],
                    params={"shape": [1]}, quick=True)


def matmul_cases():
    out = []
    for n, quick in MATMUL_SIZES:
        def make(n=n):
            rng = _rng("matmul", n)
            return [_f32(rng, (n, n)), _f32(rng, (n, n))]
        out += op_cases("matmul", f"{n}x{n}x{n}", matmul, make, [True, True],
                        flops.matmul(n, n, n), {"m": n, "n": n, "k": n}, quick)
    return out


def linear_cases():
    out = []
    for batch, quick in LINEAR_BATCHES:
        for name, fin, fout in SEED_LINEARS:
            def make(batch=batch, fin=fin, fout=fout):
                rng = _rng("linear", batch, fin, fout)
                return [_f32(rng, (batch, fin)), _f32(rng, (fout, fin), fin ** -0.5),
                        _f32(rng, (fout,))]
            out += op_cases("linear", f"{name} B{batch}", linear, make, [True, True, True],
                            flops.linear(batch, fin, fout),
                            {"batch": batch, "in_features": fin, "out_features": fout}, quick)
    return out


def conv_cases():
    out = []
    for name, n, c, k, ks, stride, pad, size, x_grad, quick in CONVS:
        p = flops.conv_output_size(size, ks, stride, pad)

        def make(n=n, c=c, k=k, ks=ks, size=size):
            rng = _rng("conv", n, c, k, ks, size)
            return [_f32(rng, (n, c, size, size)), _f32(rng, (k, c, ks, ks), (c * ks * ks) ** -0.5),
                    _f32(rng, (k,))]
        cases = op_cases("conv2d", f"{name} N{n}", conv2d_fn(stride, pad), make,
                         [x_grad, True, True], flops.conv2d(n, c, k, ks, ks, p, p),
                         {"N": n, "C": c, "K": k, "kernel": ks, "stride": stride, "padding": pad,
                          "H": size, "W": size, "P": p, "Q": p}, quick)
        out += cases
    return out


def pool_cases():
    out = []
    for name, n, c, size, ks, stride, pad, quick in POOLS:
        def make(n=n, c=c, size=size):
            rng = _rng("pool", n, c, size)
            return [rng.permutation(n * c * size * size).reshape(n, c, size, size)
                    .astype(np.float32)]
        out += op_cases("max_pool2d", f"{name} N{n}", max_pool2d_fn(ks, stride, pad), make, [True],
                        None, {"N": n, "C": c, "H": size, "W": size, "kernel": ks,
                               "stride": stride, "padding": pad}, quick)
    return out


def cross_entropy_cases():
    out = []
    for batch, classes, quick in CROSS_ENTROPY:
        def make(batch=batch, classes=classes):
            rng = _rng("ce", batch, classes)
            return [_f32(rng, (batch, classes)), rng.integers(0, classes, batch).astype(np.int64)]
        out += op_cases("cross_entropy", f"({batch}, {classes})", cross_entropy, make,
                        [True, False], None, {"batch": batch, "classes": classes}, quick)
    return out


# ---- models: optimizer step and training step ---------------------------------------------------
def model_state(builder) -> dict:
    """Initial weights as NumPy arrays (minitorch's default init, seed 0): both libraries load
    the same values."""
    import minitorch
    minitorch.manual_seed(0)
    model = builder(minitorch)
    return {k: np.array(v.detach(), dtype=np.float32) for k, v in model.state_dict().items()}


def build_model(L, builder, state):
    model = builder(L)
    model.load_state_dict({k: L.from_numpy(v.copy()) for k, v in state.items()})
    model.train()
    return model


def make_optimizer(L, name, params):
    if name == "Adam":
        return L.optim.Adam(params, lr=1e-3)
    return L.optim.SGD(params, lr=0.01)


def optimizer_cases():
    builder = seed_models().cifar_net
    cache = {}
    case = Case("optimizer", "Adam over Net's parameters", "step", lambda: cache, None, None,
                {"model": "Net (seed 001)", "optimizer": "Adam(lr=1e-3)"}, True)

    def inputs():
        if not cache:
            state = model_state(builder)
            rng = _rng("adam")
            cache["state"] = state
            cache["grads"] = {k: _f32(rng, v.shape, 1e-2) for k, v in state.items()}
            case.params["parameters"] = int(sum(v.size for v in state.values()))
        return cache

    def build(L, data):
        model = build_model(L, builder, data["state"])
        named = dict(model.named_parameters())
        for k, p in named.items():
            p.grad = L.from_numpy(data["grads"][k].copy())
        opt = L.optim.Adam(list(named.values()), lr=1e-3)
        return opt.step
    case.inputs, case.build = inputs, build
    return [case]


def _model_flops(model_name: str, batch: int) -> float:
    """Forward+backward FLOPs of the convolutions and linear layers of one training step."""
    if model_name == "SimpleCNN":
        convs = [(3, 32, 32)]
        linears = [(8192, 10)]
    else:
        convs = [(3, 32, 32), (32, 64, 16), (64, 128, 8)]
        linears = [(2048, 1024), (1024, 512), (512, 10)]
    total = 0.0
    for i, (c, k, size) in enumerate(convs):
        total += flops.forward_backward(flops.conv2d(batch, c, k, 3, 3, size, size),
                                        1 if i == 0 else 2)
    for fin, fout in linears:
        total += flops.forward_backward(flops.linear(batch, fin, fout), 2)
    return total


def train_step_cases(batches=TRAIN_BATCHES):
    """Training steps of both seed nets at each (batch, in quick mode) of ``batches``."""
    models = seed_models()
    out = []
    for model_name, builder, opt_name in (("SimpleCNN", models.simple_cnn, "SGD"),
                                          ("Net", models.cifar_net, "Adam")):
        for batch, quick in batches:
            def inputs(builder=builder, batch=batch, model_name=model_name):
                rng = _rng("train", model_name, batch)
                return {"state": model_state(builder), "x": _f32(rng, (batch, 3, 32, 32)),
                        "y": rng.integers(0, 10, batch).astype(np.int64)}

            def build(L, data, builder=builder, opt_name=opt_name):
                model = build_model(L, builder, data["state"])
                opt = make_optimizer(L, opt_name, model.parameters())
                x, y = L.from_numpy(data["x"]), L.from_numpy(data["y"])

                def step():
                    opt.zero_grad()
                    loss = L.nn.functional.cross_entropy(model(x), y)
                    loss.backward()
                    opt.step()
                    return loss
                return step
            seed = "seed 000" if model_name == "SimpleCNN" else "seed 001"
            out.append(Case("train_step", f"{model_name} ({seed}, {opt_name}) B{batch}", "step",
                            inputs, build, _model_flops(model_name, batch),
                            {"model": model_name, "optimizer": opt_name, "batch": batch,
                             "input": [batch, 3, 32, 32]}, quick))
    return out


def cpu_cases(quick: bool = False, only=None) -> list:
    """All CPU cases (the quick subset with ``quick``), filtered by :func:`select`."""
    from .text_cases import attention_cases, gpt_train_step_cases
    cases = (overhead_cases() + matmul_cases() + linear_cases() + conv_cases() + pool_cases()
             + cross_entropy_cases() + attention_cases() + optimizer_cases() + train_step_cases()
             + gpt_train_step_cases())
    if quick:
        cases = [c for c in cases if c.quick]
    return select(cases, only)


def select(cases, only=None) -> list:
    """Keep the cases whose id contains any of the comma-separated, case-insensitive terms of
    ``only`` (e.g. ``"overhead,matmul 256"``); ``None`` keeps all."""
    if not only:
        return list(cases)
    terms = [t.strip().lower() for t in (only.split(",") if isinstance(only, str) else only)]
    terms = [t for t in terms if t]
    return [c for c in cases if any(t in c.id.lower() for t in terms)]
