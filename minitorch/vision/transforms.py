"""Image transforms, as ``torchvision.transforms`` (callables composed with ``Compose``).

Images come in three forms:

* a NumPy array ``H x W`` or ``H x W x C`` (what the datasets return without a transform, in the
  place where torchvision returns a PIL image), usually ``uint8``;
* a PIL image, as torchvision takes it (Pillow is an optional extra: it is never imported here;
  a PIL image is recognised once Pillow is loaded, and read with ``np.asarray``);
* a ``minitorch.Tensor`` shaped ``(..., C, H, W)``.

Geometric transforms (``Resize``, ``CenterCrop``, ``RandomCrop``, ``RandomHorizontalFlip``,
``RandomRotation``) accept all three and return the same form; on arrays and tensors they work on
the raw array (NumPy or CuPy) and return a tensor that does not track gradients; a PIL image
comes back as a PIL image of the same mode (``Resize`` and ``RandomRotation`` call Pillow's own
``resize``/``rotate`` on it, as torchvision does). ``ToTensor`` turns an array or a PIL image into
a ``C x H x W`` tensor; ``Normalize``, ``MinMaxScale`` and ``Standardize`` take float tensors (and
are differentiable).

Random transforms draw from minitorch's global generator, so ``minitorch.manual_seed(s)`` makes a
pipeline reproducible (the draws are NumPy's, not torch's: the same seed gives other crops).
"""
from __future__ import annotations

import enum
import numbers
import sys
from typing import Sequence

import numpy as np

from ..backend.shapes import pair_argument
from ..creation import from_numpy
from ..creation import tensor as _tensor
from ..random import default_generator
from ..tensor import Tensor, where
from . import functional as F


class InterpolationMode(str, enum.Enum):
    """Interpolation for ``Resize`` and ``RandomRotation`` (plain strings work too)."""
    NEAREST = "nearest"
    BILINEAR = "bilinear"


def _mode(interpolation) -> str:
    mode = interpolation.value if isinstance(interpolation, InterpolationMode) else interpolation
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    return mode


def _pil_image_class():
    """PIL's ``Image.Image`` when Pillow is loaded, else None (a PIL image cannot exist without
    it, so PIL is never imported here)."""
    module = sys.modules.get("PIL.Image")
    return getattr(module, "Image", None)


def _is_pil(img) -> bool:
    cls = _pil_image_class()
    return cls is not None and isinstance(img, cls)


def _pil_from_array(arr: np.ndarray, like):
    """A PIL image of ``like``'s mode (and palette) holding ``arr`` (laid out as
    ``np.asarray(like)`` is)."""
    Image = sys.modules["PIL.Image"]
    if like.mode == "1":  # np.asarray gives bool; the raw "1" layout is bit-packed
        return Image.fromarray(np.ascontiguousarray(arr))
    out = Image.frombytes(like.mode, (arr.shape[1], arr.shape[0]),
                          np.ascontiguousarray(arr).tobytes())
    if like.mode in ("P", "PA"):
        out.putpalette(like.getpalette())
        if "transparency" in like.info:
            out.info["transparency"] = like.info["transparency"]
    return out


def _check_image(img, who: str):
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(f"{who}: expected a tensor image of shape (..., H, W), got shape "
                             f"{tuple(img.shape)}")
    elif isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"{who}: expected an image array of shape HxW or HxWxC, got shape "
                             f"{img.shape}")
    elif not _is_pil(img):
        raise TypeError(f"{who}: expected a NumPy array (HxW or HxWxC), a PIL image or a Tensor "
                        f"(..., H, W), got {type(img).__name__}")


def _image_size(img) -> tuple[int, int]:
    """(H, W) of any form."""
    if isinstance(img, Tensor):
        return tuple(img.shape[-2:])
    if isinstance(img, np.ndarray):
        return tuple(img.shape[:2])
    return img.height, img.width


def _apply(img, fn, who: str):
    """Run ``fn`` on a (..., H, W) array view of ``img`` and give back the same form."""
    _check_image(img, who)
    if isinstance(img, Tensor):
        return Tensor._make(fn(img._data))
    if _is_pil(img):
        return _pil_from_array(_apply(np.asarray(img), fn, who), img)
    if img.ndim == 2:
        return fn(img)
    return np.ascontiguousarray(np.moveaxis(fn(np.moveaxis(img, -1, 0)), 0, -1))


def _pil_resample(mode: str):
    Image = sys.modules["PIL.Image"]
    return Image.Resampling.NEAREST if mode == "nearest" else Image.Resampling.BILINEAR


class Compose:
    """Apply ``transforms`` one after another: ``Compose([a, b])(x) == b(a(x))``."""

    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class Lambda:
    """Wrap a function as a transform."""

    def __init__(self, lambd) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ToTensor:
    """NumPy image ``H x W`` or ``H x W x C``, or a PIL image -> tensor ``C x H x W``.

    ``uint8`` arrays become float32 scaled to [0, 1] (``x / 255``); other dtypes keep their dtype
    and scale (a float array in [0, 1] stays in [0, 1]), as torchvision's ``ToTensor``. A PIL
    image is read with ``np.asarray`` (C = its number of bands), so 8-bit modes (L, LA, RGB,
    RGBA, P: the palette indices, CMYK, ...) scale by 1/255, mode "1" gives 0.0/1.0, and "I"
    (int32) and "F" (float32) keep their values, as torchvision. A tensor input is a TypeError,
    as in torchvision (it is already a tensor).
    """

    def __call__(self, pic) -> Tensor:
        if isinstance(pic, Tensor):
            raise TypeError(f"pic should be PIL Image or ndarray; got a Tensor of shape "
                            f"{tuple(pic.shape)}, which needs no ToTensor")
        if _is_pil(pic):
            arr = np.asarray(pic)
            pic = arr.astype(np.uint8) * np.uint8(255) if pic.mode == "1" else arr
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic).__name__}")
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions (shape "
                             f"{pic.shape}).")
        if pic.ndim == 2:
            pic = pic[:, :, None]
        chw = np.ascontiguousarray(pic.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            chw = chw.astype(np.float32) / np.float32(255)
        return from_numpy(chw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ToPILImage:
    """Tensor ``C x H x W`` or NumPy array ``H x W (x C)`` -> PIL image (needs Pillow), as
    torchvision's: float values are scaled by 255 and truncated to uint8 (``x.mul(255).byte()``),
    C = 1, 2, 3, 4 give modes L, LA, RGB, RGBA unless ``mode`` says otherwise. Turns a dataset's
    NumPy image into the PIL image torchvision's dataset would have returned."""

    def __init__(self, mode=None) -> None:
        self.mode = mode

    def __call__(self, pic):
        try:
            from PIL import Image
        except ImportError:
            raise ImportError("ToPILImage needs Pillow: pip install pillow") from None
        if isinstance(pic, Tensor):
            if pic.ndim not in (2, 3):
                raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions "
                                 f"(shape {tuple(pic.shape)}).")
            arr = np.asarray(pic.detach().cpu())
            arr = arr[None] if arr.ndim == 2 else arr
            if arr.dtype.kind == "f":
                arr = (arr * arr.dtype.type(255)).astype(np.uint8)
            arr = arr.transpose(1, 2, 0)
        elif isinstance(pic, np.ndarray):
            if pic.ndim not in (2, 3):
                raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions "
                                 f"(shape {pic.shape}).")
            arr = pic[:, :, None] if pic.ndim == 2 else pic
        else:
            raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic).__name__}.")
        if arr.shape[-1] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[-1]} channels.")
        arr = np.ascontiguousarray(arr)
        mode = self.mode or {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[-1]]
        if arr.shape[-1] == 1:
            arr = arr[:, :, 0]
            if arr.dtype != np.uint8 and self.mode is None:
                return Image.fromarray(arr)  # int32 -> "I", float32 -> "F", as torchvision
        return Image.frombytes(mode, (arr.shape[1], arr.shape[0]), arr.astype(np.uint8).tobytes())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode})"


class Normalize:
    """Per channel: ``out[c] = (x[c] - mean[c]) / std[c]`` on a float tensor ``(..., C, H, W)``.

    ``mean`` and ``std`` are sequences of length C (or 1) or numbers. A zero in ``std`` is an
    error. ``inplace=True`` writes the result into the input tensor's storage.
    """

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"Normalize: input should be a Tensor, got {type(tensor).__name__} "
                            "(apply ToTensor first; torchvision's Normalize takes no PIL image "
                            "either)")
        if not tensor.is_floating_point():
            raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
        if tensor.ndim < 3:
            raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                             f"tensor.size() = {tuple(tensor.shape)}")
        mean = _tensor(self.mean, dtype=tensor.dtype, device=tensor.device).reshape(-1, 1, 1)
        std = _tensor(self.std, dtype=tensor.dtype, device=tensor.device).reshape(-1, 1, 1)
        channels = tensor.shape[-3]
        for name, v in (("mean", mean), ("std", std)):
            if v.shape[0] not in (1, channels):
                raise ValueError(f"Normalize: {name} has {v.shape[0]} values but the image has "
                                 f"{channels} channels (shape {tuple(tensor.shape)})")
        if bool((std == 0).any()):
            raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading "
                             f"to division by zero (std={self.std}).")
        out = (tensor - mean) / std
        if self.inplace:
            tensor._data[...] = out._data
            tensor._bump_version()
            return tensor
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


def _resized_size(h: int, w: int, size, max_size):
    """torchvision's rule: an int (or [int]) matches the shorter edge, keeping the aspect ratio
    (the longer edge is ``int(size * long / short)``, capped by ``max_size``); (h, w) is exact."""
    if isinstance(size, numbers.Integral) or len(size) == 1:
        requested = int(size if isinstance(size, numbers.Integral) else size[0])
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = requested, int(requested * long / short)
        if max_size is not None:
            if max_size <= requested:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the "
                                 f"requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_long, new_short) if w <= h else (new_short, new_long)
    if max_size is not None:
        raise ValueError("max_size should only be passed if size specifies the length of the "
                         f"smaller edge, i.e. size should be an int or a sequence of length 1 "
                         f"(got size={size})")
    return int(size[0]), int(size[1])


class Resize:
    """Resize to ``size``: an int matches the shorter edge (aspect ratio kept), ``(h, w)`` is exact.

    Arrays and tensors: bilinear interpolation is ``F.interpolate(mode='bilinear',
    align_corners=False, antialias=False)`` exactly (formula in ``minitorch.vision.functional``);
    integer images are interpolated in float64 and rounded. PIL images: Pillow's own
    ``image.resize((w, h), BILINEAR or NEAREST)``, which is what torchvision calls, so a PIL
    pipeline gives torchvision's pixels exactly (Pillow's bilinear filter widens with the
    shrink factor: it antialiases).

    Deviation from torchvision (>= 0.17), by decision: arrays and tensors are *not* antialiased
    when shrinking, where torchvision's default ``antialias=True`` low-pass filters them like
    Pillow; they equal ``F.interpolate(antialias=False)``, which is what the existing training
    pipelines were built on. ``antialias=True`` is refused rather than silently ignored; give a
    PIL image for the antialiased result.
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=None) -> None:
        if not isinstance(size, numbers.Integral) and not (
                isinstance(size, Sequence) and len(size) in (1, 2)):
            raise TypeError(f"Size should be int or sequence of length 1 or 2. Got {size!r}")
        sizes = [size] if isinstance(size, numbers.Integral) else list(size)
        if any(int(s) <= 0 for s in sizes):
            raise ValueError(f"Resize: size must be positive, got {size!r}")
        if antialias:
            raise NotImplementedError("Resize(antialias=True) is not implemented for arrays and "
                                      "tensors: minitorch resizes them without antialiasing "
                                      "(antialias=False); PIL images are resized by Pillow, "
                                      "antialiased, whatever this flag says")
        self.size, self.max_size, self.interpolation = size, max_size, _mode(interpolation)

    def __call__(self, img):
        _check_image(img, "Resize")
        out_size = _resized_size(*_image_size(img), self.size, self.max_size)
        if _is_pil(img):
            if out_size == _image_size(img):
                return img
            return img.resize((out_size[1], out_size[0]), _pil_resample(self.interpolation))
        return _apply(img, lambda a: F.resize(a, out_size, self.interpolation), "Resize")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation}, "
                f"max_size={self.max_size})")


class CenterCrop:
    """Crop the central ``size`` window (an int for a square, or ``(h, w)``), as torchvision:
    ``top = round((H - h) / 2)``, ``left = round((W - w) / 2)`` with Python's round (half to
    even), and an image smaller than ``size`` is first padded with zeros, the odd pixel going to
    the bottom/right (formulas in ``minitorch.vision.functional.center_crop``). Arrays, tensors
    and PIL images; the same form comes back.
    """

    def __init__(self, size) -> None:
        self.size = pair_argument(size, "size", "CenterCrop", minimum=1)

    def __call__(self, img):
        return _apply(img, lambda a: F.center_crop(a, self.size), "CenterCrop")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop:
    """Crop a random ``size = (h, w)`` window, after optional padding.

    ``padding``: int (all sides), ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``,
    filled per ``padding_mode`` (constant with ``fill``, edge, reflect, symmetric).
    ``pad_if_needed`` pads an image smaller than ``size`` (by the shortfall on *both* sides, as
    torchvision). The window's top-left corner is uniform: ``top ~ U{0, ..., H - h}``,
    ``left ~ U{0, ..., W - w}``; a window as large as the image is the image itself.

    Note on the seed document (003): it writes the crop as ``x[random(0, w-s), random(0, h-t)]``,
    which indexes a single pixel (with width and height swapped); the crop is the slice
    ``x[top:top + h, left:left + w]`` with top drawn up to ``H - h`` *inclusive*.
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant") -> None:
        self.size = pair_argument(size, "size", "RandomCrop")
        if padding is not None:
            F.parse_padding(padding)
        if padding_mode not in F._PAD_MODES:
            raise ValueError(f"padding_mode must be one of {F._PAD_MODES}, got {padding_mode!r}")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple[int, int, int, int]:
        """A random window ``(top, left, h, w)`` of ``output_size`` inside ``img``."""
        H, W = _image_size(img)
        th, tw = output_size
        if H < th or W < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(H, W)}")
        if H == th and W == tw:
            return 0, 0, H, W
        rng = default_generator.rng
        top = int(rng.integers(0, H - th + 1))
        left = int(rng.integers(0, W - tw + 1))
        return top, left, th, tw

    def _pad(self, img, padding):
        return _apply(img, lambda a: F.pad(a, padding, self.fill, self.padding_mode), "RandomCrop")

    def __call__(self, img):
        _check_image(img, "RandomCrop")
        if self.padding is not None:
            img = self._pad(img, self.padding)
        H, W = _image_size(img)
        if self.pad_if_needed and W < self.size[1]:
            img = self._pad(img, (self.size[1] - W, 0))
        if self.pad_if_needed and H < self.size[0]:
            img = self._pad(img, (0, self.size[0] - H))
        top, left, h, w = self.get_params(img, self.size)
        return _apply(img, lambda a: F.crop(a, top, left, h, w), "RandomCrop")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p`` (one uniform draw per call)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, img):
        _check_image(img, "RandomHorizontalFlip")
        if default_generator.rng.random() < self.p:
            return _apply(img, F.hflip, "RandomHorizontalFlip")
        return img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomRotation:
    """Rotate counter-clockwise by an angle drawn uniformly from ``degrees``.

    ``degrees``: a number d >= 0 for ``[-d, d]``, or ``(min, max)``. Interpolation ``nearest``
    (torchvision's default) or ``bilinear``; the output keeps the input's size (``expand=True``
    is not implemented); pixels from outside the image take ``fill``. The formula is in
    ``minitorch.vision.functional.rotate`` (the same inverse mapping as torchvision's
    ``affine_grid``/``grid_sample`` with ``align_corners=False``).
    """

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False,
                 center=None, fill=0) -> None:
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(f"If degrees is a single number, it must be positive (got "
                                 f"{degrees}).")
            degrees = (-float(degrees), float(degrees))
        elif isinstance(degrees, Sequence) and len(degrees) == 2:
            degrees = (float(degrees[0]), float(degrees[1]))
            if degrees[0] > degrees[1]:
                raise ValueError(f"degrees should be (min, max) with min <= max, got {degrees}")
        else:
            raise ValueError(f"degrees should be a number or a sequence of length 2, got "
                             f"{degrees!r}")
        if expand:
            raise NotImplementedError("RandomRotation(expand=True) is not implemented; the "
                                      "output keeps the input size")
        if center is not None and (not isinstance(center, Sequence) or len(center) != 2):
            raise ValueError(f"center should be a sequence (x, y) of length 2, got {center!r}")
        self.degrees, self.interpolation = degrees, _mode(interpolation)
        self.center, self.fill, self.expand = center, fill, expand

    @staticmethod
    def get_params(degrees) -> float:
        """A rotation angle uniform on ``[degrees[0], degrees[1]]``."""
        return float(default_generator.rng.uniform(degrees[0], degrees[1]))

    def __call__(self, img):
        _check_image(img, "RandomRotation")
        angle = self.get_params(self.degrees)
        if _is_pil(img):  # Pillow's rotate, as torchvision (fill: one value per band or a number)
            fill = self.fill
            if isinstance(fill, numbers.Number) and len(img.getbands()) > 1:
                fill = (fill,) * len(img.getbands())
            fill = tuple(fill) if isinstance(fill, (list, tuple)) else fill
            return img.rotate(angle, _pil_resample(self.interpolation), expand=False,
                              center=self.center, fillcolor=fill)
        return _apply(img, lambda a: F.rotate(a, angle, self.interpolation, self.center,
                                              self.fill), "RandomRotation")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(degrees={self.degrees}, "
                f"interpolation={self.interpolation})")


def _reduce_dims(tensor: Tensor, dim):
    if dim is None:
        return tuple(range(tensor.ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    out = []
    for d in dims:
        if not -tensor.ndim <= d < tensor.ndim:
            raise IndexError(f"dim {d} is out of range for a tensor of shape "
                             f"{tuple(tensor.shape)}")
        out.append(d % tensor.ndim)
    return tuple(sorted(set(out)))


def _float_tensor(tensor, who: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: input should be a Tensor, got {type(tensor).__name__} (apply "
                        "ToTensor first)")
    if not tensor.is_floating_point():
        raise TypeError(f"{who}: input should be a float tensor, got {tensor.dtype}")
    return tensor


class MinMaxScale:
    """Min-max scaling to [0, 1], as seed 003 defines it::

        x' = (x - min(x)) / (max(x) - min(x))

    over the whole tensor (``dim=None``) or per slice (e.g. ``dim=(-2, -1)``: each channel of a
    C x H x W image on its own). A constant slice (max = min) maps to 0 instead of 0/0. The seed's
    example holds: [1, 2, 3, 4, 5] -> [0, 0.25, 0.5, 0.75, 1].
    """

    def __init__(self, dim=None) -> None:
        self.dim = dim

    def __call__(self, tensor: Tensor) -> Tensor:
        x = _float_tensor(tensor, "MinMaxScale")
        dims = _reduce_dims(x, self.dim)
        lo = x.amin(dim=dims, keepdim=True)
        span = x.amax(dim=dims, keepdim=True) - lo
        return (x - lo) / where(span == 0, 1.0, span)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"


class Standardize:
    """Standardisation to mean 0, standard deviation 1, as seed 003 defines it::

        x' = (x - mean(x)) / std(x),   std(x) = sqrt(sum((x - mean)^2) / (N - correction))

    over the whole tensor (``dim=None``) or per slice (``dim=(-2, -1)``: per channel).
    ``correction=0`` (default) is the population standard deviation (as scikit-learn's
    StandardScaler), after which the output's population std is exactly 1; ``correction=1`` is
    torch.std's default (Bessel). A constant slice (max = min) maps to 0.

    Erratum in seed 003: its example says x = [1, 2, 3, 4, 5] has "mean 3, std 1" and standardises
    to [-2, -1, 0, 1, 2]. The std is not 1: it is sqrt(2) ~ 1.414 (population) or sqrt(2.5) ~ 1.581
    (sample), so the correct result is [-1.414, -0.707, 0, 0.707, 1.414] (correction=0) or
    [-1.265, -0.632, 0, 0.632, 1.265] (correction=1). This class implements the formula.
    """

    def __init__(self, dim=None, correction: int = 0) -> None:
        if correction < 0:
            raise ValueError(f"Standardize: correction must be >= 0, got {correction}")
        self.dim, self.correction = dim, correction

    def __call__(self, tensor: Tensor) -> Tensor:
        x = _float_tensor(tensor, "Standardize")
        dims = _reduce_dims(x, self.dim)
        n = int(np.prod([x.shape[d] for d in dims]))
        if n - self.correction <= 0:
            raise ValueError(f"Standardize: {n} element(s) per slice leave no degrees of freedom "
                             f"with correction={self.correction} (tensor shape "
                             f"{tuple(x.shape)}, dim={self.dim})")
        centred = x - x.mean(dim=dims, keepdim=True)
        std = ((centred * centred).sum(dim=dims, keepdim=True) / (n - self.correction)).sqrt()
        # a constant slice is detected exactly (max == min): its rounded mean may differ from the
        # values by an ulp, which would otherwise turn 0/0 into +-1
        constant = (x.amax(dim=dims, keepdim=True) - x.amin(dim=dims, keepdim=True)) == 0
        return where(constant, 0.0, centred / where(std == 0, 1.0, std))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, correction={self.correction})"
