"""CIFAR-10 and CIFAR-100 read from the "python version" pickles, in torchvision's layout::

    root/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch, batches.meta
    root/cifar-100-python/train, test, meta

Each batch is a pickled dict with ``data`` (N x 3072 uint8: the 1024 red, then green, then blue
values of a 32 x 32 image, row-major) and ``labels`` (CIFAR-100: ``fine_labels``); the meta file
holds the class names. The pickles are read with a restricted unpickler that only rebuilds
NumPy arrays and plain containers: a file asking for anything else is refused (unpickling an
arbitrary file could otherwise run code).
"""
from __future__ import annotations

import numbers
import pickle
from pathlib import Path

import numpy as np

from .vision import DatasetCorruptError, VisionDataset, find_file

_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
            ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
            ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
            ("__builtin__", "object"), ("builtins", "object")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (only NumPy "
                                         "arrays and plain containers are allowed)")
        if module == "numpy.core.multiarray":  # NumPy 1.x name of NumPy 2's numpy._core
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def load_pickle(path: Path) -> dict:
    """A CIFAR pickle (Python 2 pickles decode their byte strings as latin1)."""
    try:
        with open(path, "rb") as f:
            entry = _ArrayUnpickler(f, encoding="latin1").load()
    except Exception as e:  # noqa: BLE001  (any unpickling failure means a bad file)
        raise DatasetCorruptError(f"'{path}' is not a readable CIFAR pickle: "
                                  f"{type(e).__name__}: {e}") from e
    if not isinstance(entry, dict):
        raise DatasetCorruptError(f"'{path}' should hold a dict, but holds a "
                                  f"{type(entry).__name__}")
    return entry


def _labels(value, path: Path, key: str) -> list:
    """The class indices of a batch as Python ints; anything but integers (a string, a float,
    None, a bool) raises DatasetCorruptError naming the file, the position and the value."""
    try:
        labels = list(value)
    except TypeError:
        raise DatasetCorruptError(f"'{path}': '{key}' should be a sequence of integer class "
                                  f"indices, got {type(value).__name__} {value!r:.80}") from None
    for i, label in enumerate(labels):
        if isinstance(label, bool) or not isinstance(label, numbers.Integral):
            raise DatasetCorruptError(f"'{path}': '{key}'[{i}] is {label!r:.80} of type "
                                      f"{type(label).__name__}, not an integer class index")
    return [int(label) for label in labels]


class CIFAR10(VisionDataset):
    """32 x 32 colour images in 10 classes: ``train=True`` the 50,000 of data_batch_1..5,
    ``False`` the 10,000 of test_batch.

    ``dataset[i]`` is ``(image, target)``: without a transform the image is a ``uint8`` NumPy array
    ``32 x 32 x 3`` (HWC, where torchvision returns a PIL image; ``transforms.ToTensor()`` gives a
    3 x 32 x 32 float tensor in [0, 1]) and the target an int. ``.data`` is the N x 32 x 32 x 3
    uint8 array and ``.targets`` a list of ints, as in torchvision; ``.classes`` comes from the
    meta file. ``download=True`` never downloads (no network); missing files raise an error
    naming them.
    """

    base_folder = "cifar-10-batches-py"
    source = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (extract it into root)"
    train_list = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]
    test_list = ["test_batch"]
    meta = {"filename": "batches.meta", "key": "label_names"}
    labels_key = "labels"

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        if root is None:
            raise ValueError(f"{type(self).__name__}: root (the folder holding "
                             f"{self.base_folder}/) is required")
        super().__init__(root, transform, target_transform)
        self.train = bool(train)
        folder = self.root / self.base_folder
        name = type(self).__name__
        paths = [find_file(folder, (f,), name, self.source, download)
                 for f in (self.train_list if self.train else self.test_list)]
        meta_path = find_file(folder, (self.meta["filename"],), name, self.source, download)
        data, targets = [], []
        for path in paths:
            entry = load_pickle(path)
            key = self.labels_key
            if "data" not in entry or key not in entry:
                raise DatasetCorruptError(f"'{path}' lacks the 'data' or '{self.labels_key}' "
                                          f"entry (has {sorted(entry)})")
            images = np.asarray(entry["data"])
            labels = _labels(entry[key], path, key)
            if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3 * 32 * 32:
                raise DatasetCorruptError(f"'{path}': 'data' should be uint8 of shape (N, 3072), "
                                          f"got {images.dtype.name} of shape {images.shape}")
            if len(labels) != len(images):
                raise DatasetCorruptError(f"'{path}' holds {len(images)} images but "
                                          f"{len(labels)} labels")
            data.append(images)
            targets.extend(labels)
        self.data = np.ascontiguousarray(
            np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self.targets = targets
        meta = load_pickle(meta_path)
        if self.meta["key"] not in meta:
            raise DatasetCorruptError(f"'{meta_path}' lacks the '{self.meta['key']}' entry "
                                      f"(has {sorted(meta)})")
        self.classes = [str(c) for c in meta[self.meta["key"]]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        index = self._check_index(index)
        return self._finish(self.data[index].copy(), self.targets[index])

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100 (100 fine classes): ``root/cifar-100-python/{train,test,meta}``."""

    base_folder = "cifar-100-python"
    source = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (extract it into root)"
    train_list = ["train"]
    test_list = ["test"]
    meta = {"filename": "meta", "key": "fine_label_names"}
    labels_key = "fine_labels"
