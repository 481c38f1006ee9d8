"""``Optimizer``: the base class of SGD, Adam, AdamW, Adadelta and RMSprop, as
``torch.optim.Optimizer``.

Parameter groups
----------------
An optimizer holds a list of *parameter groups*. Each group is a dict with the key ``'params'``
(a list of tensors) and one key per hyperparameter (``'lr'``, ``'weight_decay'``, ...). Options
a group does not give are filled in from the optimizer's ``defaults``, so::

    SGD([{"params": backbone.parameters(), "lr": 1e-4},     # fine-tune slowly
         {"params": head.parameters()}],                     # uses lr=1e-2 from the defaults
        lr=1e-2, momentum=0.9)

Learning-rate schedulers change ``group['lr']``; ``step()`` reads the group's values each time.

Per-parameter state
-------------------
``optimizer.state[p]`` is a dict (momentum buffers, Adam's moment estimates, ...) that the
subclass fills lazily on the first step that sees a gradient for ``p``. The buffers are Tensors
with ``p``'s dtype and on ``p``'s device; the step updates their arrays in place.

The state dict (torch's format)
-------------------------------
``state_dict()`` replaces every parameter by its index in group order (0, 1, 2, ... across all
groups)::

    {"state":        {0: {"momentum_buffer": tensor(...)}, 1: {...}, ...},
     "param_groups": [{"lr": 0.01, "momentum": 0.9, ..., "params": [0, 1]},
                      {"lr": 0.001, ...,                  "params": [2, 3, 4]}]}

As in torch, the tensors in it are the optimizer's own buffers, not copies: use
``copy.deepcopy(opt.state_dict())`` to keep a snapshot while training goes on.
``load_state_dict`` matches the indices back to this optimizer's parameters *by position*, so the
two optimizers must have the same number of groups with the same sizes (it raises otherwise);
loaded buffers are copied and cast to the parameter's dtype and device. (torch may alias the
loaded tensors; copying means two optimizers never share a buffer.)
"""
from __future__ import annotations

import copy
import functools
import warnings
from collections import defaultdict
from itertools import chain

import numpy as np

from ..autograd import enable_grad, no_grad
from ..backend import array_module, device_of, to_device
from ..tensor import Tensor, fmt_shape

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """The default of a hyperparameter that every group must give (torch's ``required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return f"minitorch.{type(obj).__name__}"
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module == "builtins" else f"{module}.{name}"


def _records_call(step):
    """Wrap a subclass's ``step`` so the optimizer remembers it was called.

    Learning-rate schedulers read ``optimizer._opt_called`` to warn when ``scheduler.step()`` is
    called before ``optimizer.step()`` (which skips the first learning rate, as torch warns).
    """
    if getattr(step, "_records_call", False):
        return step

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)

    wrapper._records_call = True
    return wrapper


class Optimizer:
    """``Optimizer(params, defaults)``: the parameter groups, per-parameter state, zero_grad,
    and the state dict. Subclasses implement ``_update(p, group)`` (one parameter's step; ``step``
    loops over the parameters that have a gradient) or override ``step(closure=None)`` itself.

    ``params`` is an iterable of Tensors, or of dicts that each define a parameter group (its
    ``'params'`` plus any options that differ from ``defaults``).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _records_call(cls.__dict__["step"])

    def __init__(self, params, defaults: dict):
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._opt_called = False

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ---- parameter groups -----------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Append a group (``{'params': [...], 'lr': ..., ...}``); missing options come from
        ``defaults``. Useful when fine-tuning: unfreeze layers and add them as training goes on."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)

        # named parameters: an iterable of (name, tensor) pairs, as model.named_parameters() gives
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. "
                                 "Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params

        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(f"can't optimize a non-leaf Tensor (a tensor of shape "
                                 f"{fmt_shape(p.shape)} made by {p.grad_fn.name()})")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        # Tensors hash by identity, so sets of ids compare the very objects
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                kind = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {kind} to the optimizer")
            if not set(ids).isdisjoint(id(p) for p in group["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---- gradients ------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients before the next backward.

        ``set_to_none=True`` (the default) sets every ``p.grad`` to None, so a parameter that gets
        no gradient in the next backward is skipped by ``step()``; ``False`` fills the existing
        gradient arrays with zeros (such a parameter is then stepped with a zero gradient, which
        still moves it through momentum or weight decay).
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                g = p.grad
                if g.grad_fn is not None:  # a grad built with create_graph=True
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g._data.fill(0)
                g._bump_version()

    def step(self, closure=None):
        """Update the parameters once from their ``.grad``: ``self._update(p, group)`` for every
        parameter that has a gradient (parameters without one are skipped, as in torch).
        ``closure``, when given, re-evaluates the model and returns the loss (it runs with grad
        enabled); ``step`` returns that loss."""
        self._opt_called = True  # read by the lr schedulers (see _records_call)
        loss = self._evaluate_closure(closure)
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(p, group)
        return loss

    def _update(self, p: Tensor, group: dict) -> None:
        """One parameter's update: each optimizer's algorithm."""
        raise NotImplementedError

    @staticmethod
    def _l2_gradient(p: Tensor, group: dict):
        """g = ∇θ f (−∇θ f with ``maximize``), then g ← g + λθ when ``weight_decay`` λ ≠ 0 (the
        L2 penalty folded into the gradient). p.grad is never modified: each change is a new
        array."""
        g = p.grad._data
        if group["maximize"]:
            g = array_module(g).negative(g)
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p._data
        return g

    #: elements per block of :meth:`_blocks` (128 KiB of float32 per array)
    block_size = 1 << 15

    @classmethod
    def _blocks(cls, *arrays):
        """Matching flat slices of equally shaped arrays, ``block_size`` elements at a time.

        An update such as Adam's is a dozen elementwise passes; run over a whole 8 MB parameter,
        each pass streams every array through memory again. Run block by block, the handful of
        arrays of one block stay in the core's cache for all the passes: the same operations on
        the same elements in the same order (so the same bits), in about a quarter less time
        (the CIFAR Net's Adam step at 1 thread: 12.0 → 9.2 ms; ``benchmarks`` row "optimizer"). CuPy arrays, and NumPy arrays that are
        not C-contiguous (a flat view of them would be a copy), come back whole, as one block.
        """
        if array_module(arrays[0]) is not np or arrays[0].size <= cls.block_size \
                or not all(a.flags.c_contiguous for a in arrays):
            yield arrays
            return
        flat = [a.reshape(-1) for a in arrays]
        for start in range(0, flat[0].size, cls.block_size):
            yield tuple(f[start:start + cls.block_size] for f in flat)

    def _scratch(self, like, slot: int):
        """A work array shaped and typed like the array ``like`` (on its device), for in-place
        updates with ``out=`` instead of a temporary per operation. Slot ``k`` is a view into
        one flat buffer per (array type, dtype, device, slot), grown to the largest parameter
        seen and reused by every parameter: parameters are updated one after another, so a
        handful of buffers serve the whole model. The contents are garbage on return; the
        buffers are not part of the state dict (nor pickled)."""
        pool = self.__dict__.setdefault("_scratch_pool", {})
        key = (type(like), like.dtype.str, str(getattr(like, "device", "")), slot)
        flat = pool.get(key)
        if flat is None or flat.size < like.size:
            flat = array_module(like).empty(like.size, dtype=like.dtype)
            pool[key] = flat
        return flat[:like.size].reshape(like.shape)

    @staticmethod
    def _evaluate_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ---- state dict -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``, with each
        parameter replaced by its position in group order (torch's format)."""
        index_of: dict[int, int] = {}  # id(parameter) -> index
        param_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            param_groups.append(packed)
        state = {(index_of[id(p)] if isinstance(p, Tensor) else p): s
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a dict made by ``state_dict()`` (from an optimizer with the same group layout).

        Raises ValueError when the number of groups, or the number of parameters in a group,
        differs, or when a saved buffer's shape does not fit its parameter. Hyperparameters
        (lr, momentum, ...) come from the state dict; the parameters stay this optimizer's.
        """
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups: "
                             f"it has {len(saved_groups)}, the optimizer has {len(groups)}")
        for i, (group, saved) in enumerate(zip(groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size of "
                    f"optimizer's group: group {i} has {len(saved['params'])} parameters in the "
                    f"state dict and {len(group['params'])} in the optimizer")

        # saved index -> this optimizer's parameter, matched by position
        param_of = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                            chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in param_of:
                p = param_of[key]
                state[p] = {name: _cast_state_value(p, key, name, v) for name, v in value.items()}
            else:
                state[key] = copy.deepcopy(value)

        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups
        self._restore_group_defaults()

    # options an older state dict may lack, filled in on loading (torch's __setstate__), and
    # whether per-parameter 'step' is a 0-dim tensor (an int from older code is converted)
    group_defaults: dict = {}
    tensor_step: bool = False

    def _restore_group_defaults(self) -> None:
        for group in self.param_groups:
            for key, value in self.group_defaults.items():
                group.setdefault(key, value)
            if not self.tensor_step:
                continue
            for p in group["params"]:
                state = self.state.get(p)
                if state and not isinstance(state.get("step"), Tensor):  # an int from old code
                    state["step"] = Tensor._make(np.array(float(state["step"]), np.float32))

    # ---- printing and pickling ------------------------------------------------------------
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_opt_called", False)
        self._restore_group_defaults()

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _cast_state_value(param: Tensor, index, name, value):
    """A loaded state entry, copied: arrays go to ``param``'s device (and dtype, except the step
    counter), numbers and other values are deep-copied. Buffers must have ``param``'s shape."""
    if isinstance(value, Tensor):
        array = value._data
    elif array_module(value) is not np:  # a CuPy array
        array = value
    elif isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        array = np.asarray(value)  # a NumPy array, or anything that converts (a CPU torch tensor)
    else:
        return copy.deepcopy(value)
    if name == "step":  # the step counter keeps its dtype and stays where it was (as torch)
        return Tensor._make(array.copy())
    if array.ndim != 0 and tuple(array.shape) != tuple(param.shape):
        raise ValueError(f"loaded state dict has a '{name}' buffer of shape "
                         f"{fmt_shape(array.shape)} for parameter {index}, whose shape is "
                         f"{fmt_shape(param.shape)}")
    array = to_device(array, device_of(param._data))
    dtype = param._data.dtype if param.is_floating_point() else array.dtype
    return Tensor._make(array.astype(dtype, copy=True))
