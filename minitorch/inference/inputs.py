"""Reading what ``python -m minitorch predict`` is given: images, ``.npy`` arrays, IDX files and
folders of them, as float32 images (C, H, W) with pixel values in [0, 1].

* PNG/JPEG (and the other formats Pillow reads): with Pillow when it is installed; without it,
  8-bit PNG by our own small decoder (:func:`decode_png`; matplotlib's PNG reader is Pillow
  itself, so it cannot stand in). 8-bit pixels are divided by 255.
* ``.npy``: ``H×W`` (one grey image), ``C×H×W`` or ``H×W×C`` (one image), ``N×H×W`` (grey
  images), ``N×C×H×W`` or ``N×H×W×C`` (C = 1, 3 or 4). A 3-D array whose first axis is not 1 is
  a colour image (C×H×W, or H×W×C when its last axis is 3 or 4) for a colour model, and grey
  images N×H×W for a grey one. Integer arrays are divided by 255; float arrays are taken
  to be in [0, 1] already (``Digits().data`` is); read with ``allow_pickle=False``.
* IDX (MNIST's format, plain or ``.gz``): ``N×H×W`` or ``N×H×W×C`` uint8, recognised by its magic
  number whatever its name.
* A folder: every readable file in it and its subfolders, in sorted order (hidden files skipped).

Channels follow the model: a grey image given to a 3-channel model is repeated into R, G and B;
a colour image given to a 1-channel model becomes grey by ITU-R 601 luma (0.299 R + 0.587 G +
0.114 B, Pillow's "L"); an alpha channel is dropped. Sizes need not match: the model file's
transform resizes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

__all__ = ["InputImage", "read_inputs", "InputError", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                  ".pgm"}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class InputError(ValueError):
    """An input that cannot be read as images; the message names the file."""
    hint = None


@dataclass
class InputImage:
    name: str                 # the file, with [i] for one image of several
    pixels: np.ndarray        # float32 (C, H, W) in [0, 1]


def _is_idx(path: str) -> bool:
    import gzip
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return len(head) == 4 and head[0] == 0 and head[1] == 0 and head[2] in \
        (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E) and 1 <= head[3] <= 4


def _scaled(arr: np.ndarray, path: str) -> np.ndarray:
    if arr.dtype.kind in "ui":
        return arr.astype(np.float32) / np.float32(255)
    if arr.dtype.kind == "b":
        return arr.astype(np.float32)
    if arr.dtype.kind == "f":
        return arr.astype(np.float32, copy=False)
    raise InputError(f"{path}: cannot use an array of dtype {arr.dtype} as images")


def _channels_to(img: np.ndarray, channels: int, path: str) -> np.ndarray:
    """(c, H, W) → (channels, H, W)."""
    c = img.shape[0]
    if c == 4:       # RGBA: drop alpha
        img, c = img[:3], 3
    if c == channels:
        return img
    if c == 1 and channels == 3:
        return np.repeat(img, 3, axis=0)
    if c == 3 and channels == 1:
        return np.tensordot(_LUMA, img, axes=1)[None].astype(np.float32)
    raise InputError(f"{path}: an image with {c} channels cannot be given to a model that takes "
                     f"{channels}")


def _as_images(arr: np.ndarray, channels: int, path: str) -> np.ndarray:
    """An array of one of the layouts in the module docstring → (N, c, H, W)."""
    shape = arr.shape
    if arr.ndim == 2:
        return arr[None, None]
    if arr.ndim == 3:
        if shape[0] == 1 or (channels > 1 and shape[0] in (3, 4)):
            return arr[None]                               # C×H×W
        if shape[-1] in (3, 4):
            return arr.transpose(2, 0, 1)[None]            # H×W×C
        return arr[:, None]                                # N×H×W grey images
    if arr.ndim == 4:
        if shape[1] in (1, 3, 4):
            return arr                                     # N×C×H×W
        if shape[-1] in (1, 3, 4):
            return arr.transpose(0, 3, 1, 2)               # N×H×W×C
    raise InputError(f"{path}: an array of shape {shape} is not images (expected H×W, C×H×W, "
                     f"H×W×C, N×H×W, N×C×H×W or N×H×W×C)")


def _read_picture(path: str) -> np.ndarray:
    """(c, H, W) float32 in [0, 1] from an image file."""
    try:
        from PIL import Image
    except ImportError:
        Image = None
    if Image is not None:
        try:
            with Image.open(path) as im:
                if im.mode not in ("L", "RGB", "RGBA"):
                    im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
                arr = np.asarray(im)
        except OSError as e:
            raise InputError(f"{path}: not an image Pillow can read ({e})") from None
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        return _scaled(arr, path)
    if not path.lower().endswith(".png"):
        error = InputError(f"{path}: reading this format needs Pillow")
        error.hint = "pip install pillow (PNG is read without it)"
        raise error
    with open(path, "rb") as f:
        return _scaled(decode_png(f.read(), path), path)


def decode_png(data: bytes, path: str = "PNG") -> np.ndarray:
    """A PNG without Pillow (8-bit grey, grey+alpha, RGB or RGBA, not interlaced) → (c, H, W)
    uint8, alpha dropped: ``minitorch.vision.io.decode_png_array``, its errors as InputError."""
    from ..vision.io import ImageDecodeError, decode_png_array
    try:
        pixels = decode_png_array(data, path)
    except ImageDecodeError as e:
        raise InputError(str(e)) from None
    except ImportError as e:  # a PNG our decoder does not handle
        error = InputError(str(e).split(": pip install")[0])
        error.hint = "pip install pillow"
        raise error from None
    if pixels.shape[0] == 2:  # grey + alpha: drop alpha
        pixels = pixels[:1]
    return pixels


def _read_file(path: str, channels: int) -> list:
    lower = path.lower()
    if lower.endswith(".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise InputError(f"{path}: not a NumPy .npy array ({e})") from None
        images = _scaled(_as_images(arr, channels, path), path)
    elif _is_idx(path):
        from ..vision.datasets.mnist import read_idx
        arr = read_idx(path)
        if arr.ndim == 2:  # one image
            arr = arr[None]
        images = _scaled(_as_images(arr, channels, path) if arr.ndim == 4 else arr[:, None], path)
    elif os.path.splitext(lower)[1] in IMAGE_SUFFIXES:
        images = _read_picture(path)[None]
    else:
        raise InputError(f"{path}: not an image, a .npy array or an IDX file (by its name and "
                         f"its first bytes)")
    out = [_channels_to(img, channels, path) for img in images]
    if len(out) == 1:
        return [InputImage(path, out[0])]
    return [InputImage(f"{path}[{i}]", img) for i, img in enumerate(out)]


def _folder_files(folder: str) -> list:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            lower = name.lower()
            if os.path.splitext(lower)[1] in IMAGE_SUFFIXES | {".npy"} or _is_idx(path):
                found.append(path)
    return found


def read_inputs(paths, channels: int) -> list:
    """Every image in ``paths`` (files and folders), as :class:`InputImage` with ``channels``
    channels, in the order given (a folder's files sorted)."""
    images = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            files = _folder_files(path)
            if not files:
                raise InputError(f"{path}: the folder holds no image, .npy or IDX file")
            for f in files:
                images.extend(_read_file(f, channels))
        elif os.path.exists(path):
            images.extend(_read_file(path, channels))
        else:
            raise FileNotFoundError(2, "No such file or folder", path)
    return images
