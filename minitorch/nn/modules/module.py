"""``Module``: the base class of every layer and network, with torch's bookkeeping.

A Module keeps three ordered dictionaries, filled by attribute assignment:

* ``_parameters`` — the learnable tensors (``self.weight = Parameter(...)``);
* ``_buffers`` — state that is saved but not learned (``register_buffer('running_mean', t)``);
* ``_modules`` — the sub-modules (``self.conv1 = Conv2d(...)``).

Names are dotted paths through the tree (``features.0.weight``) and are listed depth-first in
registration order: first a module's own parameters, then its children's. That order is what
``parameters()`` hands to an optimizer and what ``state_dict()`` stores, and it is identical to
torch's for the same architecture, so a torch state dict loads into the same network here.
"""
from __future__ import annotations

import collections
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from ...autograd import no_grad
from ...backend import array_module, to_dtype
from ...backend import device as _device
from ...backend.dtypes import _BY_NAME as _DTYPE_NAMES
from ...tensor import Size, Tensor
from ..parameter import Parameter

__all__ = ["Module"]


class _IncompatibleKeys(collections.namedtuple("IncompatibleKeys",
                                               ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys the model wanted but the dict lacked, and the
    keys the dict had but the model does not know."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(text: str, num_spaces: int) -> str:
    """Indent every line of ``text`` but the first (how a child's repr nests in its parent's)."""
    first, *rest = text.split("\n")
    if not rest:
        return text
    return "\n".join([first] + [" " * num_spaces + line for line in rest])


def _check_member_name(name, kind: str):
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f"{kind} name can't contain \".\", got: {name}")
    if name == "":
        raise KeyError(f"{kind} name can't be empty string \"\"")


def _as_state_array(value):
    """The array behind a state-dict entry: a minitorch Tensor, a NumPy array/scalar, or anything
    NumPy can read (a torch tensor has ``__array__``). None when it is none of these."""
    if isinstance(value, Tensor):
        return value
    if array_module(value) is not np:  # a CuPy array (its __array__ refuses implicit copies)
        return Tensor._make(value)
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
        return Tensor._make(np.asarray(value))
    return None


class Module:
    """Base class for all neural network modules. Subclasses call ``super().__init__()`` first,
    then assign their parameters and sub-modules as attributes, and define ``forward``."""

    training: bool

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments: "
                            f"{args!r} {kwargs!r}")
        # object.__setattr__: our own __setattr__ needs these dictionaries to exist first
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *input):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required "
                                  "\"forward\" function")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- registration -----------------------------------------------------------------------
    def _check_initialised(self, what: str):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")

    def register_parameter(self, name: str, param) -> None:
        """Add ``param`` (a Parameter, or None for an absent one such as ``bias=False``)."""
        self._check_initialised("parameter")
        _check_member_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(minitorch.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             "parameters must be created explicitly. To express '"
                             f"{name}' as a function of another Tensor, compute the value in "
                             "the forward() method.")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a tensor that is part of the module's state but not learned (BatchNorm's running
        mean). Persistent buffers go into the state dict; non-persistent ones do not."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_member_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(minitorch Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module) -> None:
        """Add a child module, reachable as the attribute ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_member_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        """``self.x = Parameter/Module`` registers it; assigning to a registered name replaces it
        (None allowed); anything else is an ordinary attribute."""

        def remove_from(*dicts):
            for d in dicts:
                if name in d:
                    if isinstance(d, set):
                        d.discard(name)
                    else:
                        del d[name]

        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._check_initialised("parameters")
            remove_from(self.__dict__, self._buffers, self._modules,
                        self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(minitorch.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        modules = self.__dict__.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            remove_from(self.__dict__, self._parameters, self._buffers,
                        self._non_persistent_buffers_set)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (minitorch.nn.Module or None expected)")
            modules[name] = value
            return
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(minitorch Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        # only called when normal lookup fails: look in the three registries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = list(object.__dir__(self))
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(k for k in keys if not k[0].isdigit()))

    # ---- walking the tree -------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for self and every descendant, depth-first; a module reached
        twice is listed once unless ``remove_duplicate`` is False."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub_prefix = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub_prefix, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """(name, module) for the direct children."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        """(dotted name, tensor) from ``registry`` of self (and descendants when ``recurse``);
        a tensor shared by two modules is listed once (the first name) unless told otherwise."""
        seen = set()
        owners = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                  if recurse else [(prefix, self)])
        for module_prefix, module in owners:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def get_submodule(self, target: str) -> "Module":
        """The module at dotted path ``target`` ('' is self)."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if item not in module._modules or module._modules[item] is None:
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = module._modules[item]
        return module

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._parameters:
            raise AttributeError(f"{module._get_name()} has no parameter `{name}`")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if name not in module._buffers:
            raise AttributeError(f"{module._get_name()} has no buffer `{name}`")
        return module._buffers[name]

    def apply(self, fn):
        """Call ``fn`` on every child (recursively), then on self; returns self. Typical use:
        custom initialisation, ``model.apply(init_weights)``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode on self and every descendant (Dropout drops, BatchNorm uses batch
        statistics); ``train(False)`` is ``eval()``."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the parameters' gradients: set them to None (the default) or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                with no_grad():
                    p.grad.zero_()

    # ---- dtype and device -------------------------------------------------------------------
    def _apply(self, fn) -> "Module":
        """Replace every parameter's, gradient's and buffer's array by ``fn(tensor)``'s.

        Parameters stay the *same objects* (only their ``.data`` changes), so an optimizer made
        before ``model.to(...)`` still holds the model's parameters.
        """
        for module in self.children():
            module._apply(fn)
        with no_grad():
            for param in self._parameters.values():
                if param is None:
                    continue
                param.data = fn(param)
                if param.grad is not None:
                    param.grad.data = fn(param.grad)
            for name, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[name] = fn(buf)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``: move and/or cast
        the floating-point parameters and buffers in place (integer buffers only move)."""
        dev = kwargs.pop("device", None)
        dt = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dt = a.device, a.dtype
            elif isinstance(a, _device) or (isinstance(a, str)
                                            and a.split(".")[-1] not in _DTYPE_NAMES):
                dev = _device(a)  # a string that is no dtype is a device, or device() names it
            elif isinstance(a, bool):  # to(device, dtype, non_blocking)
                continue
            elif a is not None:
                dt = to_dtype(a)
        if dev is not None:
            dev = _device(dev)  # checked here, so a module without tensors refuses it too
        if dt is not None:
            dt = to_dtype(dt)
            if not dt.is_floating_point:
                raise TypeError("nn.Module.to only accepts floating point dtypes, but got desired "
                                f"dtype={dt}")

        def convert(t: Tensor) -> Tensor:
            return t.to(dev, dt if t.is_floating_point() else None)

        return self._apply(convert)

    def cpu(self) -> "Module":
        return self._apply(lambda t: t.cpu())

    def cuda(self, device=None) -> "Module":
        dev = _device("cuda", device if isinstance(device, int) else None) \
            if not isinstance(device, (str, _device)) else _device(device)
        return self._apply(lambda t: t.to(dev))

    def _cast_floating(self, dtype) -> "Module":
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def double(self) -> "Module":
        return self._cast_floating("float64")

    def float(self) -> "Module":
        return self._cast_floating("float32")

    def half(self) -> "Module":
        return self._cast_floating("float16")

    def type(self, dst_type) -> "Module":
        return self._apply(lambda t: t.to(dst_type))

    # ---- state dict -------------------------------------------------------------------------
    def _state_items(self):
        """This module's own entries of the state dict: parameters, then persistent buffers."""
        for name, param in self._parameters.items():
            if param is not None:
                yield name, param
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                yield name, buf

    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict from dotted names to the parameters and persistent buffers.

        The values are detached tensors sharing storage with the model (``keep_vars=True`` gives
        the Parameters themselves). Unlike ``named_parameters``, a tensor shared by two modules
        appears under both names, as in torch.
        """
        if destination is None:
            destination = OrderedDict()
        for name, value in self._state_items():
            destination[prefix + name] = value if keep_vars else value.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def _load_own_state(self, state_dict, prefix, missing_keys, unexpected_keys, error_msgs):
        """Copy this module's entries from ``state_dict`` in place; note what is missing, what is
        unexpected at this level, and every entry whose shape or type is wrong."""
        local = dict(self._state_items())
        for name, target in local.items():
            key = prefix + name
            if key not in state_dict:
                missing_keys.append(key)
                continue
            value = _as_state_array(state_dict[key])
            if value is None:
                error_msgs.append(f'While copying the parameter named "{key}", expected a '
                                  "minitorch Tensor or a NumPy array from checkpoint but received "
                                  f"{type(state_dict[key]).__name__}")
                continue
            if target.ndim == 0 and value.ndim == 1 and value.shape[0] == 1:
                value = value.reshape(())  # old checkpoints stored scalars with shape (1,)
            if tuple(value.shape) != tuple(target.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{Size(value.shape)!r} from checkpoint, the shape in current "
                                  f"model is {Size(target.shape)!r}.")
                continue
            with no_grad():
                target.copy_(value)
        for key in state_dict:
            if not key.startswith(prefix):
                continue
            first = key[len(prefix):].split(".", 1)[0]
            if first not in self._modules and first not in local:
                unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy ``state_dict``'s values into this model's parameters and buffers, in place, under
        ``no_grad`` (cast to each parameter's dtype and moved to its device).

        Values may be minitorch tensors or NumPy arrays (so ``{k: v.numpy() for k, v in
        torch_model.state_dict().items()}`` loads a torch model's weights). A shape mismatch is
        always an error naming the key and both shapes; with ``strict`` (the default) missing and
        unexpected keys are errors too. Returns ``(missing_keys, unexpected_keys)``.
        """
        if assign:
            raise NotImplementedError("load_state_dict(assign=True) is not supported: values are "
                                      "always copied into the existing parameters")
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys, unexpected_keys, error_msgs = [], [], []

        def load(module, local_state, prefix=""):
            module._load_own_state(local_state, prefix, missing_keys, unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    child_state = {k: v for k, v in local_state.items()
                                   if k.startswith(child_prefix)}
                    load(child, child_state, child_prefix)

        load(self, state_dict)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: "
                                  + ", ".join(f'"{k}"' for k in unexpected_keys) + ". ")
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: "
                                  + ", ".join(f'"{k}"' for k in missing_keys) + ". ")
        if error_msgs:
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t"
                               + "\n\t".join(error_msgs))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # ---- printing ---------------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The layer's own settings, printed inside its parentheses (override in layers)."""
        return ""

    def __repr__(self):
        """torch's format: ``Name(extra)`` for a leaf; otherwise one line per extra_repr line and
        per child, ``(name): child``, indented by two spaces."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return self._get_name() + "(" + body + ")"
