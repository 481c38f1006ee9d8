"""The handwritten digits that scikit-learn ships (``sklearn.datasets.load_digits``), embedded.

1,797 images of 8 x 8 pixels, each pixel an integer 0..16 (the count of "on" pixels in a 4 x 4
block of a 32 x 32 bitmap), classes 0..9. Source: UCI "Optical Recognition of Handwritten
Digits" (E. Alpaydin, C. Kaynak, 1998), as redistributed by scikit-learn under BSD-3; the file
``data/digits.csv.gz`` is byte-for-byte scikit-learn's (see ``data/README.md``).

Train/test split (fixed, so every run and every machine sees the same one): 360 test images,
1,437 train, stratified by class. Class c, with n_c images, gets ``round(360 * n_c / 1797)`` test
images by largest remainder (quotas floored, then the images still owed go to the classes with
the largest fractional parts, ties to the smaller class); which of its images are test ones is
a permutation drawn from ``numpy.random.default_rng(0)`` (one permutation per class, classes in
order 0..9). Both splits keep the file's order.
"""
from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np

from ...creation import from_numpy
from .. import functional as F
from .vision import DatasetCorruptError, VisionDataset, find_file

DATA_FILE = Path(__file__).resolve().parent / "data" / "digits.csv.gz"
N_TEST = 360
SPLIT_SEED = 0


@functools.lru_cache(maxsize=4)
def load_digits_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 8, 8) in 0..16, labels int64 (N,)) from scikit-learn's CSV layout: one
    image per line, 64 pixel values then the label."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, EOFError, ValueError) as e:
        raise DatasetCorruptError(f"digits file '{path}' cannot be parsed: {e}") from e
    if table.shape[1] != 65 or table.shape[0] == 0:
        raise DatasetCorruptError(f"digits file '{path}' should have 65 columns (64 pixels and "
                                  f"the label) per row, but has shape {table.shape}")
    pixels, labels = table[:, :64], table[:, 64]
    if (pixels < 0).any() or (pixels > 16).any() or (pixels != np.round(pixels)).any():
        raise DatasetCorruptError(f"digits file '{path}': pixel values must be integers 0..16")
    if not np.isin(labels, np.arange(10)).all():
        raise DatasetCorruptError(f"digits file '{path}': labels must be integers 0..9")
    return pixels.reshape(-1, 8, 8).astype(np.uint8), labels.astype(np.int64)


def split_indices(labels: np.ndarray, n_test: int = N_TEST, seed: int = SPLIT_SEED):
    """(train indices, test indices), both sorted: the stratified split described above."""
    classes, counts = np.unique(labels, return_counts=True)
    quota = n_test * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    owed = n_test - int(take.sum())
    order = sorted(range(len(classes)), key=lambda k: (-(quota[k] - take[k]), k))
    for k in order[:owed]:
        take[k] += 1
    rng = np.random.default_rng(seed)
    test = []
    for c, k in zip(classes, take):
        members = np.flatnonzero(labels == c)
        test.extend(members[rng.permutation(len(members))[:k]].tolist())
    test = np.sort(np.asarray(test, dtype=np.int64))
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


class Digits(VisionDataset):
    """The embedded 8 x 8 handwritten digits (no files, no network needed).

    Args:
        root: None for the embedded copy; or a folder holding ``digits.csv.gz`` (or ``digits.csv``)
            in scikit-learn's layout.
        train: True for the 1,437 training images, False for the 360 test images, None for all
            1,797 (the split is fixed; see the module docstring).
        size: side of the square images: 8 (the original) or another size such as 28 (MNIST's),
            reached by bilinear resizing (``F.interpolate(mode='bilinear', align_corners=False)``).
        transform, target_transform: applied to the image and to the target.

    ``dataset[i]`` is ``(image, target)``: the image is a float32 tensor ``1 x size x size`` in
    [0, 1] (pixel / 16), already a tensor, so ``ToTensor`` is not needed (tensor transforms such
    as ``Normalize`` and ``RandomRotation`` apply directly); the target is an int. ``.data`` is the
    float32 tensor (N, 1, size, size) and ``.targets`` the int64 tensor (N,).
    """

    classes = [str(d) for d in range(10)]

    def __init__(self, root=None, train: bool | None = True, transform=None,
                 target_transform=None, size: int = 8) -> None:
        super().__init__(root, transform, target_transform)
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
            raise ValueError(f"Digits: size must be a positive int (8 or e.g. 28), got {size!r}")
        if train not in (True, False, None):
            raise ValueError(f"Digits: train must be True, False or None, got {train!r}")
        path = DATA_FILE if self.root is None else find_file(
            self.root, ("digits.csv.gz", "digits.csv"), "Digits",
            "scikit-learn's wheel (sklearn/datasets/data/digits.csv.gz)", False)
        images, labels = load_digits_file(path)
        if train is not None:
            train_idx, test_idx = split_indices(labels)
            keep = train_idx if train else test_idx
            images, labels = images[keep], labels[keep]
        x = (images.astype(np.float32) / np.float32(16))[:, None]
        if size != 8:
            x = F.resize(x, (size, size), "bilinear")
        self.train, self.size = train, int(size)
        self._images = np.ascontiguousarray(x, dtype=np.float32)
        self.data = from_numpy(self._images)
        self.targets = from_numpy(labels)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, index: int):
        index = self._check_index(index)
        return self._finish(from_numpy(self._images[index].copy()), int(self.targets._data[index]))

    def extra_repr(self) -> str:
        split = {True: "Train", False: "Test", None: "All"}[self.train]
        return f"Split: {split}\nSize: {self.size}x{self.size}"
