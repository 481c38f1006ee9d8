"""Image grids and image files, as ``torchvision.utils``: ``make_grid`` and ``save_image``.

    grid = make_grid(images, nrow=8, padding=2)      # (B, C, H, W) -> (C, H', W')
    save_image(images, "samples.png", nrow=4)        # the same grid, written as a PNG

Geometry of ``make_grid`` for ``B`` images of ``C x H x W`` (``p`` = ``padding``)::

    columns = min(nrow, B)             rows = ceil(B / columns)
    grid    = C x (rows * (H + p) + p) x (columns * (W + p) + p), filled with pad_value
    image k = grid[:, r*(H+p) + p : r*(H+p) + p + H, c*(W+p) + p : c*(W+p) + p + W]
              with (r, c) = divmod(k, columns)       (row-major: left to right, then down)

so every image has a ``p``-pixel border on each side and neighbours share one border. A single
image (``B == 1``) comes back unpadded, ``C x H x W``. One-channel images become three-channel
(the channel repeated), so a grid of grey images is an RGB image.

Writing a file needs Pillow, or matplotlib (which writes through Pillow): neither is a dependency
of minitorch; ``save_image`` names both when neither is installed.
"""
from __future__ import annotations

import math
import numbers

from ..autograd import no_grad
from ..backend import array_module
from ..tensor import Tensor, stack


def _as_batch(tensor, who: str) -> Tensor:
    """A 4-d ``(B, C, H, W)`` tensor from a tensor or a list of equal-shaped tensors:
    ``H x W`` -> ``1 x 3 x H x W``; ``C x H x W`` -> ``1 x C x H x W``; one channel -> three."""
    if isinstance(tensor, (list, tuple)):
        if not tensor:
            raise ValueError(f"{who}: got an empty list of images")
        for i, t in enumerate(tensor):
            if not isinstance(t, Tensor):
                raise TypeError(f"{who}: tensor or list of tensors expected, got a list holding "
                                f"{type(t).__name__} at position {i}")
        tensor = stack(list(tensor), dim=0)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: tensor or list of tensors expected, got {type(tensor).__name__}")
    if tensor.ndim not in (2, 3, 4):
        raise ValueError(f"{who}: expected images of shape (H, W), (C, H, W) or (B, C, H, W), got "
                         f"shape {tuple(tensor.shape)}")
    arr = tensor.detach()._data
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[None]
    if arr.shape[1] == 1:
        arr = arr.repeat(3, axis=1)
    if arr.shape[0] == 0:
        raise ValueError(f"{who}: got a batch of 0 images (shape {tuple(tensor.shape)})")
    return arr


def _check_value_range(value_range, who: str):
    if value_range is None:
        return None
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
            or not all(isinstance(v, numbers.Real) for v in value_range)):
        raise TypeError(f"{who}: value_range has to be a tuple (min, max) of numbers if "
                        f"specified, got {value_range!r}")
    return float(value_range[0]), float(value_range[1])


def _normalize(arr, value_range):
    """Clamp to ``[low, high]`` and map it to ``[0, 1]``: ``(clamp(x, low, high) - low) /
    max(high - low, 1e-5)``, where ``(low, high)`` is ``value_range`` or the array's own min and
    max (a constant image becomes all zeros, not NaN)."""
    xp = array_module(arr)
    low, high = value_range if value_range is not None else (float(arr.min()), float(arr.max()))
    return (xp.clip(arr, low, high) - low) / max(high - low, 1e-5)


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range=None, scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Tile images into one ``C x H' x W'`` image, as ``torchvision.utils.make_grid``.

    ``tensor``: a ``(B, C, H, W)`` batch, one ``(C, H, W)`` or ``(H, W)`` image, or a list of
    equal-shaped ``(C, H, W)`` images. ``nrow`` images per row (the last row may be short);
    ``padding`` pixels of ``pad_value`` around and between the images (the geometry is in the
    module docstring). One-channel images are repeated to three channels; a single image comes
    back without padding.

    ``normalize=True`` maps each value to ``(clamp(x, low, high) - low) / max(high - low, 1e-5)``
    with ``(low, high) = value_range``, or the min and max over all the images (over each image
    with ``scale_each=True``); ``pad_value`` is written afterwards, as is. The result has the
    input's dtype and device and does not track gradients.
    """
    who = "make_grid"
    if isinstance(nrow, bool) or not isinstance(nrow, numbers.Integral) or nrow < 1:
        raise ValueError(f"{who}: nrow must be a positive integer, got {nrow!r}")
    if isinstance(padding, bool) or not isinstance(padding, numbers.Integral) or padding < 0:
        raise ValueError(f"{who}: padding must be a non-negative integer, got {padding!r}")
    value_range = _check_value_range(value_range, who)
    with no_grad():
        arr = _as_batch(tensor, who)
        xp = array_module(arr)
        if normalize:
            if arr.dtype.kind != "f":
                raise TypeError(f"{who}: normalize=True needs floating-point images, got "
                                f"{arr.dtype.name} (convert with .float() first)")
            arr = (xp.stack([_normalize(a, value_range) for a in arr]) if scale_each
                   else _normalize(arr, value_range))
        if arr.shape[0] == 1:
            return Tensor._make(xp.ascontiguousarray(arr[0]))
        count, channels, h, w = arr.shape
        columns = min(int(nrow), count)
        rows = math.ceil(count / columns)
        p = int(padding)
        grid = xp.full((channels, rows * (h + p) + p, columns * (w + p) + p), pad_value,
                       dtype=arr.dtype)
        for k in range(count):
            r, c = divmod(k, columns)
            top, left = r * (h + p) + p, c * (w + p) + p
            grid[:, top:top + h, left:left + w] = arr[k]
        return Tensor._make(grid)


def _png_writer():
    """A function ``write(hwc_uint8_array, fp, format)``: Pillow's, else matplotlib's."""
    try:
        from PIL import Image  # noqa: PLC0415  (optional dependency, imported lazily)
    except ImportError:
        pass
    else:
        return lambda arr, fp, format: Image.fromarray(arr).save(fp, format=format)
    try:
        import matplotlib.image  # noqa: PLC0415  (optional dependency, imported lazily)
    except ImportError:
        raise ImportError("save_image needs Pillow or matplotlib to write an image file: "
                          "pip install pillow (or pip install matplotlib)") from None
    return lambda arr, fp, format: matplotlib.image.imsave(fp, arr, format=format)


def save_image(tensor, fp, format: str | None = None, **kwargs) -> None:
    """Write ``make_grid(tensor, **kwargs)`` to ``fp`` (a path or a binary file object) as an
    image file, as ``torchvision.utils.save_image``.

    The values are taken to lie in [0, 1] and become bytes by ``uint8(clamp(255 * x + 0.5,
    0, 255))`` (rounding half up; outside [0, 1] saturates), laid out ``H x W x C``. ``format``
    (``"png"``, ``"jpeg"``, ...) defaults to what the file name's extension says. Needs Pillow
    or matplotlib; without either it raises ImportError naming both.
    """
    grid = make_grid(tensor, **kwargs)
    if not grid.is_floating_point():
        raise TypeError(f"save_image: expected floating-point images with values in [0, 1], got "
                        f"{grid.dtype} (for uint8 images divide by 255 first)")
    grid = grid._data
    xp = array_module(grid)
    if grid.shape[0] not in (3, 4):
        raise ValueError(f"save_image: images of 1 (grey), 3 (RGB) or 4 (RGBA) channels can be "
                         f"written, but the grid has {grid.shape[0]} (shape {tuple(grid.shape)})")
    hwc = xp.clip(grid * 255 + 0.5, 0, 255).astype("uint8").transpose(1, 2, 0)
    hwc = hwc.get() if xp.__name__ == "cupy" else hwc
    _png_writer()(hwc.copy(order="C"), fp, format)
