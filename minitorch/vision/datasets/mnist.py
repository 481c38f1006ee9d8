"""MNIST and Fashion-MNIST read from IDX files in torchvision's folder layout::

    root/MNIST/raw/train-images-idx3-ubyte   (or .gz)     60,000 x 28 x 28 uint8
    root/MNIST/raw/train-labels-idx1-ubyte   (or .gz)     60,000 uint8
    root/MNIST/raw/t10k-images-idx3-ubyte    (or .gz)     10,000 x 28 x 28 uint8
    root/MNIST/raw/t10k-labels-idx1-ubyte    (or .gz)     10,000 uint8

(``FashionMNIST`` reads ``root/FashionMNIST/raw/`` with the same file names.)

IDX format (LeCun): a 4-byte magic ``0x00 0x00 <type> <ndim>`` (type 0x08 uint8, 0x09 int8,
0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), then ``ndim`` big-endian uint32 sizes, then
the values big-endian in C order. The file must hold exactly ``prod(sizes)`` values.
"""
from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from ...creation import from_numpy
from .vision import DatasetCorruptError, VisionDataset, find_file

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (plain, or gzip-compressed when the name ends in .gz),
    in native byte order. A malformed file raises DatasetCorruptError naming it."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise DatasetCorruptError(f"IDX file '{path}' cannot be read: {e}") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DatasetCorruptError(f"'{path}' is not an IDX file: bad magic number "
                                  f"{raw[:4].hex() or '(empty file)'} (expected 0000 + type byte "
                                  f"in {[hex(t) for t in _IDX_TYPES]} + ndim)")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetCorruptError(f"IDX file '{path}' is truncated inside its header ({len(raw)} "
                                  f"bytes, the header of a {ndim}-d array needs {header})")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no int64 wrap-around
    if len(raw) - header != expected:
        raise DatasetCorruptError(f"IDX file '{path}' is truncated or corrupt: its header says "
                                  f"shape {shape} of {dtype.name} = {expected} bytes of data, "
                                  f"but it holds {len(raw) - header}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


class MNIST(VisionDataset):
    """Handwritten digits, 28 x 28 grey levels; ``train=True`` the 60,000 training images,
    ``False`` the 10,000 test images.

    ``dataset[i]`` is ``(image, target)``: without a transform the image is a ``uint8`` NumPy array
    ``H x W`` (where torchvision returns a PIL image; ``transforms.ToTensor()`` converts it to a
    1 x 28 x 28 float tensor in [0, 1]) and the target an int. ``.data`` (uint8, N x 28 x 28) and
    ``.targets`` (int64, N) are tensors, as in torchvision.

    ``download=True`` does not download (there is no network): with the files present it just
    reads them; with a file missing it raises the same error as ``download=False``.
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    source = ("https://ossci-datasets.s3.amazonaws.com/mnist/ (the files of "
              "yann.lecun.com/exdb/mnist)")
    files = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        if root is None:
            raise ValueError(f"{type(self).__name__}: root (the folder holding "
                             f"{type(self).__name__}/raw/) is required")
        super().__init__(root, transform, target_transform)
        self.train = bool(train)
        images_name, labels_name = self.files[self.train]
        images_path = self._find(images_name, download)
        labels_path = self._find(labels_name, download)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DatasetCorruptError(f"'{images_path}' should hold uint8 images N x H x W, but "
                                      f"holds {images.dtype.name} of shape {images.shape}")
        if labels.ndim != 1:
            raise DatasetCorruptError(f"'{labels_path}' should hold a 1-d array of labels, but "
                                      f"holds shape {labels.shape}")
        if len(images) != len(labels):
            raise DatasetCorruptError(f"'{images_path}' holds {len(images)} images but "
                                      f"'{labels_path}' holds {len(labels)} labels")
        self._images = images
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))

    @property
    def raw_folder(self) -> Path:
        return self.root / type(self).__name__ / "raw"

    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    def _find(self, name: str, download: bool) -> Path:
        return find_file(self.raw_folder, (name, name + ".gz"), type(self).__name__, self.source,
                         download)

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int):
        index = self._check_index(index)
        return self._finish(self._images[index].copy(), int(self.targets._data[index]))

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and file names, in ``root/FashionMNIST/raw/``."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    source = "https://github.com/zalandoresearch/fashion-mnist"
