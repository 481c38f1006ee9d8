"""The model file: a trained model with everything inference needs to use it correctly.

A checkpoint's weights alone are not enough to use a model: which architecture (and sized how),
what the output indices mean, what input shape it takes, and — the one that fails silently — the
input normalisation it was trained with (a hand-written predict script that fed raw pixels to the
demo's model got 93.6% instead of 96.9%). :class:`ModelInfo` holds those facts;
:func:`save_model` writes it beside the weights and :func:`load_model` rebuilds the model from
it. Training checkpoints (``train --checkpoint``) carry the same description under
``"model_info"``, so :func:`load_model` reads them too.

The file is a ``minitorch.save`` checkpoint (a ZIP of JSON and ``.npy`` arrays, never pickle)::

    {"format": "minitorch.model", "version": 1,
     "info": {"architecture": "simple_cnn",
              "arguments": {"in_channels": 1, "num_classes": 10, "image_size": 8},
              "classes": ["0", ..., "9"], "input_shape": (1, 8, 8),
              "transform": {"size": (8, 8), "mean": (0.3063,), "std": (0.3980,),
                            "interpolation": "bilinear"},
              "dataset": "digits", "metrics": {"test_accuracy": 0.9778, "test_images": 360}},
     "state_dict": {...}}

The transform (:class:`InputTransform`) maps images with pixel values in [0, 1] (8-bit pixels
divided by 255, the digits' 0..16 by 16) to what the model saw in training: resized to the input
size (bilinear, ``F.interpolate``'s ``align_corners=False``), then ``(x − mean[c]) / std[c]``
per channel, in float32 — the very operations ``python -m minitorch train`` applied to its data,
so a test image goes through the same arithmetic at inference as it did in training.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..serialization import CheckpointError, load, save

__all__ = ["InputTransform", "ModelInfo", "save_model", "load_model", "FORMAT", "VERSION"]

FORMAT, VERSION = "minitorch.model", 1


@dataclass(frozen=True)
class InputTransform:
    """Pixels in [0, 1] → the model's input: resize to ``size`` (H, W), then per channel
    ``(x − mean[c]) / std[c]``. ``mean``/``std`` hold one value per channel (or one for all)."""
    size: tuple
    mean: tuple
    std: tuple
    interpolation: str = "bilinear"

    def __post_init__(self):
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"InputTransform: size must be (H, W) with positive sides, got "
                             f"{self.size}")
        if len(self.mean) != len(self.std) or not self.mean:
            raise ValueError(f"InputTransform: mean {self.mean} and std {self.std} need one value "
                             f"per channel each")
        if any(not s > 0 for s in self.std):
            raise ValueError(f"InputTransform: std must be positive, got {self.std}")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """(N, C, H, W) float32 in [0, 1] → (N, C, size[0], size[1]) float32, normalised."""
        from ..vision import functional
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4:
            raise ValueError(f"InputTransform: expected images (N, C, H, W), got shape {x.shape}")
        if len(self.mean) not in (1, x.shape[1]):
            raise ValueError(f"InputTransform: {len(self.mean)} channel statistics for images "
                             f"with {x.shape[1]} channels (shape {x.shape})")
        if tuple(x.shape[-2:]) != self.size:
            x = functional.resize(x, self.size, self.interpolation)
        shape = (1, len(self.mean), 1, 1)
        mean = np.asarray(self.mean, dtype=np.float32).reshape(shape)
        std = np.asarray(self.std, dtype=np.float32).reshape(shape)
        return np.ascontiguousarray((x - mean) / std, dtype=np.float32)


@dataclass
class ModelInfo:
    """What inference needs besides the weights.

    ``architecture``: a name in ``minitorch.vision.models.MODELS``; ``arguments``: the keyword
    arguments of its constructor; ``classes``: a name per output index; ``input_shape``:
    (C, H, W); ``transform``: see :class:`InputTransform`; ``dataset`` and ``metrics``: where it
    was trained and how it scored (e.g. ``{"test_accuracy": 0.978, "test_images": 360}``)."""
    architecture: str
    arguments: dict
    classes: list
    input_shape: tuple
    transform: InputTransform
    dataset: str | None = None
    metrics: dict = field(default_factory=dict)

    def __post_init__(self):
        self.classes = [str(c) for c in self.classes]
        self.input_shape = tuple(int(s) for s in self.input_shape)
        if isinstance(self.transform, dict):
            self.transform = InputTransform(**self.transform)
        if len(self.input_shape) != 3:
            raise ValueError(f"ModelInfo: input_shape must be (C, H, W), got {self.input_shape}")

    @property
    def channels(self) -> int:
        return self.input_shape[0]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["transform"] = asdict(self.transform)
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "model file") -> ModelInfo:
        try:
            return cls(**{k: d[k] for k in ("architecture", "arguments", "classes",
                                             "input_shape", "transform")},
                       dataset=d.get("dataset"), metrics=dict(d.get("metrics") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{where}: the model description is incomplete or invalid "
                                  f"({type(e).__name__}: {e})") from None

    def build(self):
        """A fresh, untrained model of this architecture (eval mode)."""
        from ..vision.models import MODELS
        if self.architecture not in MODELS:
            raise CheckpointError(f"the model file names architecture {self.architecture!r}, "
                                  f"which minitorch.vision.models does not have (it has "
                                  f"{', '.join(sorted(MODELS))})")
        return MODELS[self.architecture](**self.arguments).eval()


def save_model(model, path, info: ModelInfo) -> None:
    """Write ``model``'s weights and ``info`` to ``path`` (atomically, by ``minitorch.save``)."""
    if not isinstance(info, ModelInfo):
        raise TypeError(f"save_model: info must be a ModelInfo, got {type(info).__name__}")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save({"format": FORMAT, "version": VERSION, "info": info.to_dict(), "state_dict": state},
         path)


def load_model(path, map_location=None):
    """``(model, info)`` from a model file or a training checkpoint that carries a model
    description; the model is in eval mode. Raises CheckpointError naming the file otherwise."""
    obj = load(path, map_location=map_location)
    where = str(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        if obj.get("version") != VERSION:
            raise CheckpointError(f"{where}: model file version {obj.get('version')!r}; this "
                                  f"minitorch reads version {VERSION}")
        info, state = obj.get("info"), obj.get("state_dict")
    elif isinstance(obj, dict) and "model_info" in obj and "model" in obj:  # a training checkpoint
        info, state = obj["model_info"], obj["model"]
    else:
        error = CheckpointError(f"{where}: not a model file (it holds no model description; a "
                                f"plain state dict or an older training checkpoint has only "
                                f"weights)")
        error.hint = ("python -m minitorch train --out DIR writes DIR/model.mt; or save one with "
                      "minitorch.inference.save_model(model, path, info)")
        raise error
    if not isinstance(info, dict) or not isinstance(state, dict):
        raise CheckpointError(f"{where}: the model description or the weights are missing")
    info = ModelInfo.from_dict(info, where)
    model = info.build()
    try:
        model.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"{where}: the weights do not fit a {info.architecture} with "
                              f"arguments {info.arguments}: {e}") from None
    return model.eval(), info
