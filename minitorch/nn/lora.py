"""LoRA: fine-tune a Linear layer through a trainable low-rank update, its weight frozen.

A ``Linear`` computes y = x Wᵀ + b with W of shape (out, in). LoRA (Hu et al., 2021) keeps W
and b fixed and learns ΔW = (α / r) · B A with A of shape (r, in) and B of shape (out, r),
r ≪ min(in, out)::

    y = x Wᵀ + b + (α / r) · (dropout(x) Aᵀ) Bᵀ

Trainable parameters per layer: r · (in + out) instead of in · out. B starts at 0, so the wrapped
model computes exactly what the pretrained one did; A starts like a Linear weight (Kaiming
uniform), so B's first gradient is not zero. The backward is that of two ``F.linear`` calls:
with h = x Aᵀ and G = dL/dy,  dL/dB = (α/r) Gᵀ h,  dL/dA = (α/r) (G B)ᵀ x,  and W, b get no
gradient (requires_grad is False), so the optimizer never sees them and they cannot move.

``merge()`` folds the update into the weight, W ← W + (α/r) B A, for inference at the
original cost; ``unmerge()`` subtracts it again (the pretrained model back, up to rounding).

    from minitorch.nn import lora
    names = lora.apply_lora(model, ["out_proj", "linear1", "linear2"], r=4, alpha=8)
    lora.mark_only_lora_as_trainable(model)   # everything else frozen
    optimizer = optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
"""
from __future__ import annotations

import math

from .. import creation
from ..autograd import no_grad
from . import functional as F
from . import init
from .modules.dropout import Dropout
from .modules.linear import Linear
from .modules.module import Module
from .parameter import Parameter

__all__ = ["LoRALinear", "LoRAAdapter", "apply_lora", "mark_only_lora_as_trainable", "merge_lora",
           "unmerge_lora", "lora_state_dict", "count_parameters"]


class LoRALinear(Module):
    """``LoRALinear(base, r=4, alpha=8, dropout=0.0)``: ``base`` (a Linear, frozen here) plus
    the low-rank update (α/r) B A; parameters ``base.weight``, ``base.bias``, ``lora_A`` (r, in)
    and ``lora_B`` (out, r)."""

    def __init__(self, base: Linear, r: int = 4, alpha: float = 8.0, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        if not isinstance(r, int) or r < 1:
            raise ValueError(f"LoRALinear: the rank r must be a positive int, got {r!r}")
        self.base = base
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.in_features, self.out_features = base.in_features, base.out_features
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.lora_A = Parameter(creation.empty(r, base.in_features, dtype=w.dtype,
                                               device=w.device))
        self.lora_B = Parameter(creation.zeros(base.out_features, r, dtype=w.dtype,
                                               device=w.device))
        init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_dropout = Dropout(dropout)
        self.merged = False

    @property
    def weight(self):
        return self.base.weight

    @property
    def bias(self):
        return self.base.bias

    def delta_weight(self):
        """ΔW = (α/r) B A, shape (out, in)."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x):
        y = self.base(x)
        if self.merged:
            return y
        return y + F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B) * \
            self.scaling

    def merge(self) -> None:
        """W ← W + ΔW; forward then runs the base layer alone."""
        if not self.merged:
            with no_grad():
                self.base.weight.add_(self.delta_weight())
            self.merged = True

    def unmerge(self) -> None:
        """W ← W − ΔW: the pretrained weight again (up to floating-point rounding)."""
        if self.merged:
            with no_grad():
                self.base.weight.sub_(self.delta_weight())
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, merged={self.merged}"


class LoRAAdapter(Module):
    """The low-rank update alone, ΔW = (α/r) B A, for a weight its module uses directly rather
    than through a Linear: ``MultiheadAttention.in_proj_weight`` (3E, E), which stacks W_q, W_k
    and W_v. Attached as the attention's ``in_proj_adapter``, it makes the projection use
    W + ΔW (the weight itself stays frozen); ``apply_lora(model, ["in_proj"])`` attaches it."""

    def __init__(self, weight, r: int = 4, alpha: float = 8.0):
        super().__init__()
        if not isinstance(r, int) or r < 1:
            raise ValueError(f"LoRAAdapter: the rank r must be a positive int, got {r!r}")
        out_features, in_features = weight.shape
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.lora_A = Parameter(creation.empty(r, in_features, dtype=weight.dtype,
                                               device=weight.device))
        self.lora_B = Parameter(creation.zeros(out_features, r, dtype=weight.dtype,
                                               device=weight.device))
        init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.merged = False

    def delta_weight(self):
        return (self.lora_B @ self.lora_A) * self.scaling

    def adapted(self, weight):
        """W + ΔW, or W itself once ΔW has been merged into it."""
        return weight if self.merged else weight + self.delta_weight()

    def merge_into(self, weight) -> None:
        if not self.merged:
            with no_grad():
                weight.add_(self.delta_weight())
            self.merged = True

    def unmerge_from(self, weight) -> None:
        if self.merged:
            with no_grad():
                weight.sub_(self.delta_weight())
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, merged={self.merged}"


def _attentions(model: Module):
    from .modules.transformer import MultiheadAttention
    return [(n, m) for n, m in model.named_modules() if isinstance(m, MultiheadAttention)]


def apply_lora(model: Module, target_modules, r: int = 4, alpha: float = 8.0,
               dropout: float = 0.0) -> list[str]:
    """Replace every ``Linear`` in ``model`` whose name, or its last component, is in
    ``target_modules`` by a ``LoRALinear`` around it; the name ``"in_proj"`` attaches a
    ``LoRAAdapter`` to every MultiheadAttention's ``in_proj_weight`` (queries, keys and values).
    Returns the adapted names. Raises if nothing matched (a misspelt name would otherwise
    fine-tune nothing)."""
    targets = set(target_modules)
    found = [(name, m) for name, m in model.named_modules()
             if isinstance(m, Linear) and (name in targets or name.rsplit(".", 1)[-1] in targets)]
    attentions = _attentions(model) if "in_proj" in targets else []
    if not found and not attentions:
        linears = [n for n, m in model.named_modules() if isinstance(m, Linear)]
        raise ValueError(f"apply_lora: no Linear layer named {sorted(targets)}; the model's "
                         f"Linear layers are {linears}")
    adapted = {name for name, _ in found} | {name for name, _ in attentions}
    names = [name if isinstance(m, Linear) else f"{name}.in_proj"  # in the model's order
             for name, m in model.named_modules() if name in adapted]
    for name, m in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(m, r=r, alpha=alpha, dropout=dropout))
    for _, m in attentions:
        m.in_proj_weight.requires_grad_(False)
        m.in_proj_adapter = LoRAAdapter(m.in_proj_weight, r=r, alpha=alpha)
    return names


def _lora_layers(model: Module):
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def mark_only_lora_as_trainable(model: Module) -> None:
    """requires_grad only on the ``lora_A``/``lora_B`` parameters; everything else frozen."""
    for name, p in model.named_parameters():
        p.requires_grad_(name.rsplit(".", 1)[-1] in ("lora_A", "lora_B"))


def _adapted_attentions(model: Module):
    return [m for _, m in _attentions(model) if m._modules.get("in_proj_adapter") is not None]


def merge_lora(model: Module) -> None:
    for m in _lora_layers(model):
        m.merge()
    for m in _adapted_attentions(model):
        m.in_proj_adapter.merge_into(m.in_proj_weight)


def unmerge_lora(model: Module) -> None:
    for m in _lora_layers(model):
        m.unmerge()
    for m in _adapted_attentions(model):
        m.in_proj_adapter.unmerge_from(m.in_proj_weight)


def lora_state_dict(model: Module) -> dict:
    """Only the adapters' tensors: what a LoRA fine-tune needs to save besides the base model."""
    return {k: v for k, v in model.state_dict().items()
            if k.rsplit(".", 1)[-1] in ("lora_A", "lora_B")}


def count_parameters(model: Module) -> tuple[int, int]:
    """(trainable, total) numbers of parameter entries (a shared Parameter counted once)."""
    params = list(model.parameters())
    return (sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params))
