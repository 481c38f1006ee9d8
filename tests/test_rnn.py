"""nn.RNN, nn.LSTM, nn.GRU and nn.RNNCell, nn.LSTMCell, nn.GRUCell against torch.

The torch module's state_dict is loaded into minitorch's (same names, order and layout), then
the outputs and final states are compared, and every output is contracted with one random
cotangent: the gradients of the input, of h0 (and c0) and of every parameter must agree.
float64 to 1e-10, float32 to 1e-5 (tests/torch_compare.py's tolerances). Also: dropout between
layers (which elements it zeroes, and eval mode), initialisation, and the errors for bad shapes.
"""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_compare import assert_close, load_torch_weights

import minitorch

DTYPES = st.sampled_from(["float64", "float32"])
SEEDS = st.integers(0, 2**31 - 1)


def flat(out):
    """(output, h) or (output, (h, c)) or (h, c) or h → a flat tuple of tensors."""
    if not isinstance(out, tuple):
        return (out,)
    return tuple(t for o in out for t in flat(o))


def compare(torch_module, mt_module, inputs, dtype, seed, call, device="cpu"):
    """call(L, module, *inputs) → tensors; compare them, then the gradients of the inputs and of
    every parameter under one random cotangent per output. ``device``: where minitorch's module
    and inputs live (torch stays on the CPU); every output and gradient must stay there."""
    t_in = [torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True) for a in inputs]
    m_in = [minitorch.tensor(a, dtype=getattr(minitorch, dtype), device=device,
                             requires_grad=True) for a in inputs]
    where = minitorch.device(device)
    t_outs = flat(call(torch, torch_module, *t_in))
    m_outs = flat(call(minitorch, mt_module, *m_in))
    assert len(t_outs) == len(m_outs)
    rng = np.random.default_rng(seed)
    t_loss = m_loss = 0
    for i, (m, t) in enumerate(zip(m_outs, t_outs)):
        assert m.dtype == getattr(minitorch, dtype) and m.device == where
        assert_close(m, t, dtype, what=f"output {i}")
        c = rng.standard_normal(tuple(t.shape))
        t_loss = t_loss + (t * torch.tensor(c, dtype=t.dtype)).sum()
        m_loss = m_loss + (m * minitorch.tensor(c, device=device).to(m.dtype)).sum()
    t_loss.backward()
    m_loss.backward()
    for i, (m, t) in enumerate(zip(m_in, t_in)):
        assert m.grad.device == where
        assert_close(m.grad, t.grad, dtype, what=f"grad of input {i}")
    m_params = dict(mt_module.named_parameters())
    assert list(m_params) == [name for name, _ in torch_module.named_parameters()]
    for name, p in torch_module.named_parameters():
        assert m_params[name].grad.device == where
        assert_close(m_params[name].grad, p.grad, dtype, what=f"grad of {name}")


@st.composite
def rnn_cases(draw):
    mode = draw(st.sampled_from(["RNN_tanh", "RNN_relu", "LSTM", "GRU"]))
    H = draw(st.integers(1, 4))
    return dict(mode=mode, L=draw(st.integers(1, 4)), N=draw(st.integers(1, 3)),
                I=draw(st.integers(1, 4)), H=H, layers=draw(st.integers(1, 2)),
                bidirectional=draw(st.booleans()), batch_first=draw(st.booleans()),
                bias=draw(st.booleans()), unbatched=draw(st.booleans()),
                h0=draw(st.booleans()), dropout=draw(st.sampled_from([0.0, 0.5])),
                proj=draw(st.integers(0, H - 1)) if mode == "LSTM" else 0)


def make(lib, c):
    """The module of case c in library lib (same arguments for both)."""
    kw = dict(num_layers=c["layers"], bias=c["bias"], batch_first=c["batch_first"],
              dropout=c["dropout"] if c["layers"] > 1 else 0.0,
              bidirectional=c["bidirectional"])
    if c["mode"].startswith("RNN"):
        return lib.nn.RNN(c["I"], c["H"], nonlinearity=c["mode"][4:], **kw)
    if c["mode"] == "LSTM":
        return lib.nn.LSTM(c["I"], c["H"], proj_size=c["proj"], **kw)
    return lib.nn.GRU(c["I"], c["H"], **kw)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@settings(max_examples=60, deadline=None)
@given(case=rnn_cases(), seed=SEEDS, dtype=DTYPES)
def test_rnn_lstm_gru_match_torch(case, seed, dtype):
    c = case
    torch.manual_seed(seed % 1000)
    t, m = load_torch_weights(make(torch, c), make(minitorch, c), dtype)
    if c["dropout"]:  # eval mode: dropout between layers is off, outputs must agree exactly
        t.eval()
        m.eval()
    rng = np.random.default_rng(seed)
    L, N, D = c["L"], c["N"], 2 if c["bidirectional"] else 1
    x_shape = (L, c["I"]) if c["unbatched"] else \
        (N, L, c["I"]) if c["batch_first"] else (L, N, c["I"])
    inputs = [rng.standard_normal(x_shape)]
    states = 0
    if c["h0"]:
        lead = (c["layers"] * D,) if c["unbatched"] else (c["layers"] * D, N)
        inputs.append(rng.standard_normal(lead + (c["proj"] or c["H"],)))
        if c["mode"] == "LSTM":
            inputs.append(rng.standard_normal(lead + (c["H"],)))
        states = len(inputs) - 1

    def call(Lib, mod, x, *hx):
        if not states:
            return mod(x)
        return mod(x, tuple(hx) if c["mode"] == "LSTM" else hx[0])
    compare(t, m, inputs, dtype, seed, call)


@pytest.mark.cuda
@pytest.mark.parametrize("mode", ["RNN_relu", "LSTM", "GRU"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_rnn_lstm_gru_on_cuda_match_torch(mode, dtype):
    """Module and inputs on the GPU (2 layers, bidirectional, h0 given, dropout on in eval
    mode): outputs, states and every gradient match torch's and stay on the GPU."""
    c = dict(mode=mode, L=5, N=3, I=4, H=6, layers=2, bidirectional=True, batch_first=True,
             bias=True, dropout=0.5, proj=2 if mode == "LSTM" else 0)
    torch.manual_seed(0)
    t, m = load_torch_weights(make(torch, c), make(minitorch, c), dtype)
    t.eval(), m.cuda().eval()
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((3, 5, 4)), rng.standard_normal((4, 3, c["proj"] or 6))]
    if mode == "LSTM":
        inputs.append(rng.standard_normal((4, 3, 6)))

    def call(Lib, mod, x, *hx):
        return mod(x, tuple(hx) if mode == "LSTM" else hx[0])
    compare(t, m, inputs, dtype, 0, call, device="cuda")


@st.composite
def cell_cases(draw):
    return dict(kind=draw(st.sampled_from(["RNNCell_tanh", "RNNCell_relu", "LSTMCell",
                                           "GRUCell"])),
                N=draw(st.integers(1, 3)), I=draw(st.integers(1, 4)), H=draw(st.integers(1, 4)),
                bias=draw(st.booleans()), unbatched=draw(st.booleans()),
                hx=draw(st.booleans()), steps=draw(st.integers(1, 3)))


@settings(max_examples=40, deadline=None)
@given(case=cell_cases(), seed=SEEDS, dtype=DTYPES)
def test_cells_match_torch_over_a_few_steps(case, seed, dtype):
    """The cell applied ``steps`` times, its state fed back (time_sequence_prediction's loop)."""
    c = case
    kind, _, nonlinearity = c["kind"].partition("_")
    torch.manual_seed(seed % 1000)

    def build(lib):
        kw = dict(nonlinearity=nonlinearity) if nonlinearity else {}
        return getattr(lib.nn, kind)(c["I"], c["H"], bias=c["bias"], **kw)
    t, m = load_torch_weights(build(torch), build(minitorch), dtype)
    rng = np.random.default_rng(seed)
    lead = () if c["unbatched"] else (c["N"],)
    inputs = [rng.standard_normal(lead + (c["I"],)) for _ in range(c["steps"])]
    n_state = 2 if kind == "LSTMCell" else 1
    if c["hx"]:
        inputs += [rng.standard_normal(lead + (c["H"],)) for _ in range(n_state)]

    def call(Lib, cell, *args):
        xs, hx = args[:c["steps"]], args[c["steps"]:]
        state = (tuple(hx) if n_state == 2 else hx[0]) if hx else None
        outs = []
        for x in xs:
            state = cell(x, state) if state is not None else cell(x)
            outs.append(state)
        return tuple(outs)
    compare(t, m, inputs, dtype, seed, call)


def test_dropout_between_layers_zeroes_elements_with_probability_p():
    """A 2-layer ReLU RNN made an identity per layer (W_ih = I, W_hh = 0, b = 0) on positive
    inputs: layer 1 sees dropout(x), so output / x = mask / (1 − p) elementwise, with mask ~
    Bernoulli(1 − p) per (t, n, feature); the backward pass uses the same mask."""
    p, L, N, H = 0.3, 40, 25, 10
    rnn = minitorch.nn.RNN(H, H, num_layers=2, nonlinearity="relu", dropout=p)
    eye = minitorch.tensor(np.eye(H))
    rnn.load_state_dict({name: eye if name.startswith("weight_ih") else
                         minitorch.zeros(*v.shape, dtype=minitorch.float64)
                         for name, v in rnn.double().state_dict().items()})
    x_np = np.random.default_rng(0).uniform(0.5, 1.5, (L, N, H))
    x = minitorch.tensor(x_np, requires_grad=True)
    minitorch.manual_seed(1)
    out, h_n = rnn(x)
    ratio = out.detach().numpy() / x_np
    kept = ratio != 0
    np.testing.assert_allclose(ratio[kept], 1 / (1 - p), rtol=1e-12)
    n = ratio.size
    assert abs((~kept).mean() - p) < 4 * math.sqrt(p * (1 - p) / n)  # 4 σ of a binomial draw
    np.testing.assert_array_equal(h_n[1].detach().numpy(), out[-1].detach().numpy())
    out.backward(minitorch.ones(L, N, H, dtype=minitorch.float64))
    np.testing.assert_allclose(x.grad.numpy(), ratio, rtol=1e-12)  # d out / d x = the mask
    # a fresh mask per call, the same for every element's neighbours only by chance
    again, _ = rnn(x)
    assert not np.array_equal(again.detach().numpy() != 0, kept)
    # the masks of different time steps are independent draws
    assert not all(np.array_equal(kept[0], kept[t]) for t in range(1, L))
    # eval mode: no dropout at all
    rnn.eval()
    np.testing.assert_allclose(rnn(x)[0].detach().numpy(), x_np, rtol=1e-12)


def test_dropout_with_one_layer_warns_as_torch_does():
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        minitorch.nn.LSTM(3, 4, dropout=0.2)
    assert any("num_layers=1" in str(w.message) for w in seen)
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="dropout should be a number in range"):
            minitorch.nn.GRU(3, 4, num_layers=2, dropout=bad)


@pytest.mark.parametrize("name,args,kwargs", [
    ("RNN", (5, 7), dict(num_layers=2, bidirectional=True)),
    ("LSTM", (5, 7), dict(proj_size=3)),
    ("GRU", (5, 7), dict(bias=False)),
    ("RNNCell", (5, 7), {}), ("LSTMCell", (5, 7), {}), ("GRUCell", (5, 7), {})])
def test_initialisation_is_uniform_within_one_over_sqrt_hidden_size(name, args, kwargs):
    minitorch.manual_seed(0)
    m = getattr(minitorch.nn, name)(*args, **kwargs)
    t = getattr(torch.nn, name)(*args, **kwargs)
    assert {k: tuple(v.shape) for k, v in m.named_parameters()} == \
        {k: tuple(v.shape) for k, v in t.named_parameters()}
    assert repr(m) == repr(t)
    bound = 1 / math.sqrt(7)
    values = np.concatenate([p.detach().numpy().ravel() for p in m.parameters()])
    assert np.all(np.abs(values) <= bound)
    assert values.max() > 0.8 * bound and values.min() < -0.8 * bound
    assert abs(values.mean()) < 0.2 * bound


def raises_like_torch(call, *must_contain):
    """call(L) raises the same exception type in both libraries; minitorch's message names
    every string of must_contain (the shapes)."""
    with pytest.raises(Exception) as t_err:
        call(torch)
    with pytest.raises(type(t_err.value)) as m_err:
        call(minitorch)
    for s in must_contain:
        assert s in str(m_err.value), (str(m_err.value), s)
    return str(m_err.value)


def test_errors_name_the_shapes_as_torch_does():
    def lstm(L):
        return L.nn.LSTM(4, 5, 2)

    z = lambda L, *shape: L.zeros(*shape)  # noqa: E731
    msg = raises_like_torch(lambda L: lstm(L)(z(L, 3, 2, 6)), "Expected 4, got 6")
    assert msg.startswith("input.size(-1) must be equal to input_size. Expected 4, got 6")
    raises_like_torch(lambda L: lstm(L)(z(L, 3, 2, 4, 1)), "Expected input to be 2D or 3D",
                      "4D")
    raises_like_torch(lambda L: lstm(L)(z(L, 3, 2, 4), (z(L, 1, 2, 5), z(L, 2, 2, 5))),
                      "Expected hidden[0] size (2, 2, 5), got [1, 2, 5]")
    raises_like_torch(lambda L: lstm(L)(z(L, 3, 2, 4), (z(L, 2, 2, 5), z(L, 2, 3, 5))),
                      "Expected hidden[1] size (2, 2, 5), got [2, 3, 5]")
    raises_like_torch(lambda L: lstm(L)(z(L, 3, 4), (z(L, 2, 2, 5), z(L, 2, 2, 5))),
                      "unbatched 2-D input", "(2, 2, 5)")
    raises_like_torch(lambda L: lstm(L)(z(L, 3, 2, 4), (z(L, 2, 5), z(L, 2, 5))),
                      "batched 3-D input", "(2, 5)")
    raises_like_torch(lambda L: lstm(L)(z(L, 0, 2, 4)), "sequence length", "(0, 2, 4)")
    raises_like_torch(lambda L: L.nn.GRU(4, 5, 2)(z(L, 3, 2, 4), z(L, 1, 2, 5)),
                      "Expected hidden size (2, 2, 5), got [1, 2, 5]")
    raises_like_torch(lambda L: L.nn.RNN(4, 5, batch_first=True)(z(L, 2, 3, 4), z(L, 1, 3, 5)),
                      "Expected hidden size (1, 2, 5), got [1, 3, 5]")
    # constructor arguments
    raises_like_torch(lambda L: L.nn.RNN(4, 5, nonlinearity="gelu"), "'gelu'")
    raises_like_torch(lambda L: L.nn.RNN(4, 0), "hidden_size must be greater than zero")
    raises_like_torch(lambda L: L.nn.RNN(4, 5, num_layers=0), "num_layers")
    raises_like_torch(lambda L: L.nn.GRU(4, 5, proj_size=2), "only supported for LSTM")
    raises_like_torch(lambda L: L.nn.LSTM(4, 5, proj_size=5), "smaller than hidden_size")
    raises_like_torch(lambda L: L.nn.LSTM(4, 5, proj_size=-1), "positive integer or zero")
    # cells
    raises_like_torch(lambda L: L.nn.LSTMCell(4, 5)(z(L, 2, 6)),
                      "input has inconsistent input_size: got 6 expected 4")
    raises_like_torch(lambda L: L.nn.LSTMCell(4, 5)(z(L, 2, 4, 1)),
                      "Expected input to be 1D or 2D", "(2, 4, 1)")
    raises_like_torch(lambda L: L.nn.LSTMCell(4, 5)(z(L, 2, 4), (z(L, 3, 5), z(L, 3, 5))),
                      "Input batch size 2 doesn't match hidden0 batch size 3")
    raises_like_torch(lambda L: L.nn.LSTMCell(4, 5)(z(L, 2, 4), (z(L, 2, 5), z(L, 2, 6))),
                      "hidden1 has inconsistent hidden_size: got 6, expected 5")
    raises_like_torch(lambda L: L.nn.GRUCell(4, 5)(z(L, 2, 4), z(L, 2, 4)),
                      "hidden0 has inconsistent hidden_size: got 4, expected 5")
    raises_like_torch(lambda L: L.nn.RNNCell(4, 5)(z(L, 2, 4), z(L, 2, 5, 1)),
                      "Expected hidden", "(2, 5, 1)")
    # an input of another dtype than the weights is refused, naming both dtypes
    with pytest.raises(RuntimeError, match="float32.*float64|float64.*float32"):
        minitorch.nn.GRU(4, 5)(minitorch.zeros(3, 2, 4, dtype=minitorch.float64))


def test_state_can_be_carried_across_calls_and_detached():
    """word_language_model's loop: the final state of one call is the (detached) h0 of the next,
    which equals one call over the concatenated sequence."""
    torch.manual_seed(0)
    t, m = load_torch_weights(torch.nn.LSTM(3, 4, 2), minitorch.nn.LSTM(3, 4, 2), "float64")
    x = np.random.default_rng(0).standard_normal((6, 2, 3))
    whole, (h_whole, c_whole) = m(minitorch.tensor(x))
    first, hidden = m(minitorch.tensor(x[:3]))
    second, (h, c) = m(minitorch.tensor(x[3:]), tuple(s.detach() for s in hidden))
    assert_close(minitorch.cat([first, second]), whole.detach(), "float64")
    assert_close(h, h_whole.detach(), "float64")
    assert_close(c, c_whole.detach(), "float64")
    t_out, _ = t(torch.tensor(x))
    assert_close(whole, t_out, "float64")


def language_model_steps(L, rnn_type, state, steps=3):
    """word_language_model's shape of program: Embedding → RNN/LSTM/GRU (2 layers, h0 from
    ``weight.new_zeros``) → Linear → log_softmax, the hidden state detached between batches,
    clip_grad_norm_ and a hand-written SGD step on ``p.data``. Returns the losses and the
    final parameters."""
    class Model(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = L.nn.Embedding(11, 6)
            if rnn_type == "RNN":
                self.rnn = L.nn.RNN(6, 5, 2, nonlinearity="tanh")
            else:
                self.rnn = getattr(L.nn, rnn_type)(6, 5, 2)
            self.decoder = L.nn.Linear(5, 11)

        def forward(self, tokens, hidden):
            output, hidden = self.rnn(self.encoder(tokens), hidden)
            return L.nn.functional.log_softmax(self.decoder(output).view(-1, 11), dim=1), hidden

    model = Model().double()
    model.load_state_dict({k: L.tensor(v) for k, v in state.items()})
    model.rnn.flatten_parameters()
    weight = next(model.parameters())
    hidden = weight.new_zeros((2, 3, 5))
    if rnn_type == "LSTM":
        hidden = (hidden, weight.new_zeros((2, 3, 5)))
    data = np.random.default_rng(0).integers(0, 11, (steps, 7, 3))
    losses = []
    for batch in data:
        hidden = hidden.detach() if isinstance(hidden, L.Tensor) else \
            tuple(h.detach() for h in hidden)
        model.zero_grad()
        out, hidden = model(L.tensor(batch[:-1]), hidden)
        loss = L.nn.functional.nll_loss(out, L.tensor(batch[1:]).reshape(-1))
        loss.backward()
        L.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-20)
        losses.append(loss.item())
    return losses, {k: v.detach() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU", "RNN"])
def test_word_language_model_steps_match_torch(rnn_type):
    torch.manual_seed(0)
    rnn = torch.nn.Module()
    rnn.encoder = torch.nn.Embedding(11, 6)
    rnn.rnn = getattr(torch.nn, rnn_type)(6, 5, 2)
    rnn.decoder = torch.nn.Linear(5, 11)
    state = {k: v.double().numpy() for k, v in rnn.state_dict().items()}
    t_losses, t_params = language_model_steps(torch, rnn_type, state)
    m_losses, m_params = language_model_steps(minitorch, rnn_type, state)
    np.testing.assert_allclose(m_losses, t_losses, rtol=1e-10)
    assert list(m_params) == list(t_params)
    for k in t_params:
        assert_close(m_params[k], t_params[k], "float64", what=k)
