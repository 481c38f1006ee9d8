"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` over whole sequences and ``RNNCell``,
``LSTMCell``, ``GRUCell`` for one step, with torch's parameter names and layouts, so a torch
``state_dict`` loads unchanged and gives torch's outputs and gradients.

Layout (torch's): a layer's gates are stacked along the rows of one weight, ``weight_ih``
(G·H, H_in) and ``weight_hh`` (G·H, H_out), with G = 1 (RNN), 3 (GRU: r, z, n) or 4 (LSTM: i, f,
g, o), and the biases ``bias_ih``, ``bias_hh`` (G·H,). The whole-sequence modules name them
``weight_ih_l{k}`` … for layer k and ``…_l{k}_reverse`` for the backward direction;
an LSTM with ``proj_size`` P > 0 also has ``weight_hr_l{k}`` (P, H).

A step is a Python loop iteration of differentiable ops, so the backward pass
(backpropagation through time) is the autograd engine's: the products are ``F.linear``; an RNN
step is tanh/relu of a sum; the pointwise gate algebra of an LSTM or GRU step is one fused op
(``_LSTMGates``, ``_GRUGates``, forward and backward formulas in their docstrings), since a dozen
tiny ops per step cost more in per-op overhead than in arithmetic. The input projection of a
whole sequence is done at once, x_t W_ihᵀ + b_ih for all t in one product, and split into time
steps by ``_TimeSteps`` (backward: the step gradients stacked again).
"""
from __future__ import annotations

import math
import numbers
import warnings

from ... import creation
from ...autograd import ArrayFunction
from ...backend import array_module
from ...tensor import Tensor, cat, stack
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _TimeSteps(ArrayFunction):
    """(x_0, …, x_{L−1}) = the L slices of x (L, *) along dim 0.

    dL/dx = stack(g_0, …, g_{L−1}) along dim 0 (a step without gradient gives zeros). Slicing
    x[t] once per step instead would allocate a zero gradient of x's full size per step.
    """

    @staticmethod
    def forward(ctx, x):
        return tuple(x[t] for t in range(x.shape[0]))

    @staticmethod
    def backward(ctx, *g):
        return array_module(g[0]).stack(g, axis=0)


# ---------------------------------------------------------------------------------------------
# one step of each cell; gi = x W_ihᵀ + b_ih is computed by the caller (for a whole sequence at
# once in the layers)
# ---------------------------------------------------------------------------------------------
def _rnn_step(gi, h, w_hh, b_hh, activation):
    """h' = act(gi + h W_hhᵀ + b_hh), act = tanh or relu."""
    return activation(gi + F.linear(h, w_hh, b_hh))


def _sigmoid(xp, x):
    """σ(x) without overflow: with e = e^(−|x|), 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class _LSTMGates(ArrayFunction):
    """The pointwise part of an LSTM step, fused: from the pre-activations gi (N, 4H) (input
    side) and gh (N, 4H) (state side), split into H-wide blocks in the order i, f, g, o, and
    the cell state c (N, H)::

        i = σ(gi_i + gh_i)   f = σ(gi_f + gh_f)   g = tanh(gi_g + gh_g)   o = σ(gi_o + gh_o)
        c' = f ⊙ c + i ⊙ g                        h' = o ⊙ tanh(c')

    Backward, with g_h = dL/dh' and g_c = dL/dc' (from the next step)::

        dc' = g_c + g_h ⊙ o ⊙ (1 − tanh²(c'))      dL/dc = dc' ⊙ f
        da_i = dc' ⊙ g ⊙ i(1 − i)    da_f = dc' ⊙ c ⊙ f(1 − f)
        da_g = dc' ⊙ i ⊙ (1 − g²)    da_o = g_h ⊙ tanh(c') ⊙ o(1 − o)
        dL/dgi = dL/dgh = [da_i, da_f, da_g, da_o]

    One op instead of about twelve per step: the per-op overhead dominates small layers.
    """

    @staticmethod
    def forward(ctx, gi, gh, c):
        xp = array_module(gi)
        a = gi + gh
        H = c.shape[-1]
        i, f, o = (_sigmoid(xp, a[..., k * H:(k + 1) * H]) for k in (0, 1, 3))
        g = xp.tanh(a[..., 2 * H:3 * H])
        c_new = f * c + i * g
        tc = xp.tanh(c_new)
        ctx.save_for_backward(i, f, g, o, c, tc)
        return o * tc, c_new

    @staticmethod
    def backward(ctx, g_h, g_c):
        i, f, g, o, c, tc = ctx.saved_tensors
        xp = array_module(g_h)
        dc = g_c + g_h * o * (1 - tc * tc)
        da = xp.concatenate([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                             g_h * tc * o * (1 - o)], axis=-1)
        return da, da, dc * f


class _GRUGates(ArrayFunction):
    """The pointwise part of a GRU step, fused: from gi = x W_ihᵀ + b_ih and
    gh = h W_hhᵀ + b_hh (N, 3H), split into H-wide blocks in the order r, z, n, and h (N, H)::

        r = σ(gi_r + gh_r)   z = σ(gi_z + gh_z)   n = tanh(gi_n + r ⊙ gh_n)
        h' = (1 − z) ⊙ n + z ⊙ h

    Backward, with g = dL/dh'::

        dL/dh = g ⊙ z               da_n = g ⊙ (1 − z) ⊙ (1 − n²)
        da_z = g ⊙ (h − n) ⊙ z(1 − z)   da_r = da_n ⊙ gh_n ⊙ r(1 − r)
        dL/dgi = [da_r, da_z, da_n]     dL/dgh = [da_r, da_z, da_n ⊙ r]
    """

    @staticmethod
    def forward(ctx, gi, gh, h):
        xp = array_module(gi)
        H = h.shape[-1]
        r = _sigmoid(xp, gi[..., :H] + gh[..., :H])
        z = _sigmoid(xp, gi[..., H:2 * H] + gh[..., H:2 * H])
        gh_n = gh[..., 2 * H:]
        n = xp.tanh(gi[..., 2 * H:] + r * gh_n)
        ctx.save_for_backward(r, z, n, gh_n, h)
        return (1 - z) * n + z * h

    @staticmethod
    def backward(ctx, g):
        r, z, n, gh_n, h = ctx.saved_tensors
        xp = array_module(g)
        da_n = g * (1 - z) * (1 - n * n)
        da_r = da_n * gh_n * r * (1 - r)
        da_z = g * (h - n) * z * (1 - z)
        return (xp.concatenate([da_r, da_z, da_n], axis=-1),
                xp.concatenate([da_r, da_z, da_n * r], axis=-1), g * z)


def _lstm_step(gi, h, c, w_hh, b_hh, w_hr=None):
    """(h', c') from gi and (h, c) (``_LSTMGates``), then h' W_hrᵀ with a projection."""
    h, c = _LSTMGates.apply(gi, F.linear(h, w_hh, b_hh), c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(gi, h, w_hh, b_hh):
    """h' from gi and h (``_GRUGates``)."""
    return _GRUGates.apply(gi, F.linear(h, w_hh, b_hh), h)


def _activation(nonlinearity: str):
    if nonlinearity == "tanh":
        return Tensor.tanh
    if nonlinearity == "relu":
        return Tensor.relu
    raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")


def _mode_name(mode: str) -> str:
    return "RNN" if mode.startswith("RNN") else mode


def _shape(shape) -> str:
    """(2, 3, 5), as torch prints a size in these messages."""
    return str(tuple(shape))


def _shape_list(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


# ---------------------------------------------------------------------------------------------
# whole sequences
# ---------------------------------------------------------------------------------------------
class RNNBase(Module):
    """Shared by ``RNN``, ``LSTM`` and ``GRU``: the parameters of ``num_layers`` layers × D
    directions (D = 2 if ``bidirectional``), the input/state checks and the loop over layers.

    Layer k reads x (L, N, H_in) for k = 0, else the previous layer's output (L, N, D·H_out),
    through ``dropout`` when training (not after the last layer). The backward direction runs
    the same recurrence from t = L−1 down to 0; its outputs are concatenated after the forward
    direction's along the features. h_n[k·D + d] is the final state of layer k, direction d.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool) or \
                not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in range [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{_mode_name(mode)}: dropout={dropout} is applied between layers only, "
                          f"so with num_layers=1 it has no effect", stacklevel=3)
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                            ("num_layers", num_layers), ("proj_size", proj_size)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise TypeError(f"{name} should be of type int, got {type(value).__name__}")
        if hidden_size <= 0:
            raise ValueError(f"hidden_size must be greater than zero, got {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"num_layers must be greater than zero, got {num_layers}")
        if proj_size < 0:
            raise ValueError(f"proj_size should be a positive integer or zero to disable "
                             f"projections, got {proj_size}")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size, got proj_size="
                             f"{proj_size} and hidden_size={hidden_size}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        out_size = proj_size or hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_in)), ("weight_hh", (gate_size, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + suffix,
                            Parameter(creation.empty(*shape, dtype=dtype, device=device)))
                    self._flat_weights_names.append(name + suffix)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(−1/√hidden_size, 1/√hidden_size), as torch's."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """A no-op kept for torch programs (cuDNN's packed weight buffer does not exist here)."""

    @property
    def all_weights(self) -> list:
        """The parameters per layer and direction: [[weight_ih_l0, weight_hh_l0, …], …]."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional
                                                                      else 1))
        flat = [getattr(self, n) for n in self._flat_weights_names]
        return [flat[i:i + per] for i in range(0, len(flat), per)]

    def _layer_weights(self, layer: int, direction: int):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        get = self._parameters.get
        return (get("weight_ih" + suffix), get("weight_hh" + suffix), get("bias_ih" + suffix),
                get("bias_hh" + suffix), get("weight_hr" + suffix))

    def _check_input(self, input) -> bool:
        """Whether input is batched; checks its rank and feature size."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{_mode_name(self.mode)}: input must be a Tensor, got "
                            f"{type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{_mode_name(self.mode)}: Expected input to be 2D or 3D, got "
                             f"{input.ndim}D instead (shape {_shape(input.shape)})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]} (input shape "
                               f"{_shape(input.shape)})")
        return input.ndim == 3

    def _check_state(self, state, expected, batched: bool, what: str) -> Tensor:
        """A given h0 (or c0) of shape ``expected`` (batched), as a 3-D tensor."""
        if not isinstance(state, Tensor):
            raise TypeError(f"{_mode_name(self.mode)}: {what} must be a Tensor, got "
                            f"{type(state).__name__}")
        if state.ndim != (3 if batched else 2):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise RuntimeError(f"For {kind} input, {what} should also be {3 if batched else 2}-D "
                               f"but got {state.ndim}-D tensor of shape {_shape(state.shape)}")
        if not batched:
            state = state.unsqueeze(1)
        if tuple(state.shape) != expected:
            label = "hidden" if what == "hx" else f"hidden[{0 if what == 'h0' else 1}]"
            raise RuntimeError(f"Expected {label} size {_shape(expected)}, got "
                               f"{_shape_list(state.shape)}")
        return state

    def forward(self, input, hx=None):
        batched = self._check_input(input)
        lstm = self.mode == "LSTM"
        if not batched:
            x = input.unsqueeze(1)          # (L, H_in) → (L, 1, H_in)
        else:
            x = input.transpose(0, 1) if self.batch_first else input  # → (L, N, H_in)
        L, N = x.shape[0], x.shape[1]
        if L == 0:
            raise RuntimeError(f"Expected sequence length to be larger than 0 in "
                               f"{_mode_name(self.mode)} (input shape {_shape(input.shape)})")
        D = 2 if self.bidirectional else 1
        h_shape = (self.num_layers * D, N, self.proj_size or self.hidden_size)
        c_shape = (self.num_layers * D, N, self.hidden_size)
        if hx is None:
            h0 = creation.zeros(*h_shape, dtype=x.dtype, device=x.device)
            c0 = creation.zeros(*c_shape, dtype=x.dtype, device=x.device) if lstm else None
        elif lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            h0 = self._check_state(hx[0], h_shape, batched, "h0")
            c0 = self._check_state(hx[1], c_shape, batched, "c0")
        else:
            h0, c0 = self._check_state(hx, h_shape, batched, "hx"), None
        activation = _activation("relu" if self.mode == "RNN_RELU" else "tanh")
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout and self.training:
                x = F.dropout(x, self.dropout, True)
            outputs = []
            for direction in range(D):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_weights(layer, direction)
                k = layer * D + direction
                h = h0[k]
                c = c0[k] if lstm else None
                steps = _TimeSteps.apply(F.linear(x, w_ih, b_ih))
                order = range(L - 1, -1, -1) if direction else range(L)
                out = [None] * L
                for t in order:
                    if lstm:
                        h, c = _lstm_step(steps[t], h, c, w_hh, b_hh, w_hr)
                    elif self.mode == "GRU":
                        h = _gru_step(steps[t], h, w_hh, b_hh)
                    else:
                        h = _rnn_step(steps[t], h, w_hh, b_hh, activation)
                    out[t] = h
                outputs.append(stack(out, 0))
                h_n.append(h)
                c_n.append(c)
            x = outputs[0] if D == 1 else cat(outputs, -1)
        output, h_n = x, stack(h_n, 0)
        c_n = stack(c_n, 0) if lstm else None
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first:
            s += f", batch_first={self.batch_first}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``: an Elman network,

        h_t = act(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh),  act = tanh or relu.

    Input (L, N, H_in), (N, L, H_in) with ``batch_first``, or unbatched (L, H_in); h_0
    (num_layers·D, N, H) or (num_layers·D, H), zeros if not given. Returns (output, h_n):
    output (L, N, D·H) (batch first if asked) holds h_t of the last layer, h_n each layer's
    and direction's last state.
    """

    def __init__(self, *args, **kwargs):
        # nonlinearity is the fourth positional argument, as in torch
        args = list(args)
        nonlinearity = args.pop(3) if len(args) > 3 else kwargs.pop("nonlinearity", "tanh")
        _activation(nonlinearity)  # checks it
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"


class LSTM(RNNBase):
    """``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0)``. Per step, with the gate blocks in the order i, f, g, o::

        i = σ(W_ii x + b_ii + W_hi h + b_hi)     f = σ(W_if x + b_if + W_hf h + b_hf)
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
        c' = f ⊙ c + i ⊙ g                       h' = o ⊙ tanh(c')   (then W_hr h' if proj_size)

    Returns (output, (h_n, c_n)); h has size proj_size (if > 0, else hidden_size), c
    hidden_size. hx = (h_0, c_0), zeros if not given. Shapes otherwise as ``RNN``'s.
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False)``. Per step, with the gate blocks in the order r, z, n::

        r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        h' = (1 − z) ⊙ n + z ⊙ h

    Returns (output, h_n); shapes as ``RNN``'s.
    """

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


# ---------------------------------------------------------------------------------------------
# one step
# ---------------------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Parameters weight_ih (G·H, H_in), weight_hh (G·H, H), bias_ih, bias_hh (G·H,), all
    ~ U(−1/√H, 1/√H); input (N, H_in) or unbatched (H_in,), state (N, H) or (H,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None):
        super().__init__()
        if hidden_size <= 0:
            raise ValueError(f"hidden_size must be greater than zero, got {hidden_size}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        G = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty(G, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(creation.empty(G, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(creation.empty(G, dtype=dtype, device=device))
            self.bias_hh = Parameter(creation.empty(G, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _check(self, input, states):
        """(input as 2-D, states as 2-D, batched); checks ranks and sizes."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead "
                             f"(shape {_shape(input.shape)})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size} (input shape "
                               f"{_shape(input.shape)})")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        out = []
        for i, s in enumerate(states):
            if s is None:
                out.append(creation.zeros(x.shape[0], self.hidden_size, dtype=x.dtype,
                                          device=x.device))
                continue
            if not isinstance(s, Tensor):
                raise TypeError(f"{name}: hidden state must be a Tensor, got {type(s).__name__}")
            if s.ndim != input.ndim:
                raise ValueError(f"{name}: Expected hidden to be {input.ndim}D like the input "
                                 f"{_shape(input.shape)}, got {s.ndim}D "
                                 f"{_shape(s.shape)} instead")
            s = s if batched else s.unsqueeze(0)
            if s.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{i} batch "
                                   f"size {s.shape[0]} (input {_shape(input.shape)}, "
                                   f"hidden{i} {_shape(s.shape)})")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {s.shape[1]}, "
                                   f"expected {self.hidden_size}")
            out.append(s)
        return x, out, batched

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        return s if nonlinearity == "tanh" else s + f", nonlinearity={nonlinearity}"


class RNNCell(RNNCellBase):
    """``RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh')``:
    h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh); h = zeros if not given."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        _activation(nonlinearity)
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._check(input, (hx,))
        h = _rnn_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh,
                      _activation(self.nonlinearity))
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """``LSTMCell(input_size, hidden_size, bias=True)``: one LSTM step (gate equations in
    ``LSTM``); ``(h', c') = cell(x, (h, c))``, zeros if hx is not given."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: hx must be a tuple (h, c), got {type(hx).__name__}")
        x, (h, c), batched = self._check(input, (None, None) if hx is None else tuple(hx))
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh,
                          self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """``GRUCell(input_size, hidden_size, bias=True)``: one GRU step (gate equations in ``GRU``);
    h' = cell(x, h), h = zeros if not given."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._check(input, (hx,))
        h = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
