"""The datasets of ``python -m minitorch train``, as standardised float32 arrays in memory.

Small datasets fit in memory, so the whole set is converted once: images to float32
(N, C, H, W) in [0, 1], then standardised with the *training* set's mean and standard deviation
(seed 003's ``(x − μ) / σ``; computing μ and σ on the test set too would leak it). A
``TensorDataset`` then serves batches with no per-image Python work.

The same steps, written down as an :class:`~minitorch.inference.InputTransform` (resize, then
``(x − μ) / σ``), travel with the trained model in its model file, so ``predict`` and ``evaluate``
feed a model exactly what it was trained on; :func:`load_raw_test` gives ``evaluate`` the test
images before those steps.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..creation import from_numpy
from ..random import Generator
from ..utils.data import TensorDataset, random_split
from .errors import UsageError


def _as_nchw(data) -> np.ndarray:
    """Dataset ``.data`` → float32 (N, C, H, W) in [0, 1]."""
    x = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255)
    if x.ndim == 3:                 # MNIST: (N, H, W)
        x = x[:, None]
    elif x.shape[-1] in (1, 3):     # CIFAR-10: (N, H, W, C)
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, dtype=np.float32)


class DataDescription(NamedTuple):
    """What a trained model needs to know of its data: class names and the input transform."""
    classes: list
    transform: object  # minitorch.inference.InputTransform


def _datasets(name: str, root, train_size):
    from ..vision import datasets
    if name == "digits":
        return tuple(datasets.Digits(train=t, size=train_size or 8) for t in (True, False))
    if name == "mnist":
        return tuple(datasets.MNIST(root, train=t) for t in (True, False))
    if name == "cifar10":
        return tuple(datasets.CIFAR10(root, train=t) for t in (True, False))
    raise UsageError(f"unknown dataset {name!r}", hint="choose digits, mnist or cifar10")


def _targets(d) -> np.ndarray:
    return np.asarray(d.targets.numpy() if hasattr(d.targets, "numpy") else d.targets,
                      dtype=np.int64)


def load_raw_test(name: str, root):
    """(images float32 (N, C, H, W) in [0, 1] at the dataset's own size, labels int64, class
    names) of the test split: what the model file's transform expects."""
    _, test = _datasets(name, root, None)
    return _as_nchw(test.data), _targets(test), list(test.classes)


def load_arrays(name: str, root, image_size, with_description: bool = False):
    """((x_train, y_train), (x_test, y_test), (channels, classes, size)) for ``name`` in
    digits | mnist | cifar10; x standardised with the training set's mean and std. The class
    count is the dataset's own (``.classes``); a label outside 0..classes-1 is refused, not
    taken as a reason to widen the model. ``with_description``: a :class:`DataDescription`
    follows as a fourth item."""
    from ..inference.model_file import InputTransform
    from ..vision import functional
    train, test = _datasets(name, root, image_size)
    x_train, x_test = _as_nchw(train.data), _as_nchw(test.data)
    if name != "digits" and image_size and image_size != x_train.shape[-1]:
        x_train, x_test = (functional.resize(x, (image_size, image_size)) for x in (x_train, x_test))
    mean, std = x_train.mean(), x_train.std()
    x_train, x_test = ((x - mean) / std for x in (x_train, x_test))
    y_train, y_test = _targets(train), _targets(test)
    classes = len(train.classes)
    for split, y in (("training", y_train), ("test", y_test)):
        bad = y[(y < 0) | (y >= classes)]
        if bad.size:
            raise UsageError(f"{name}: the {split} set has label {bad[0]} ({bad.size} labels "
                             f"outside 0..{classes - 1}); the dataset has {classes} classes",
                             hint="the label file is corrupt or belongs to another dataset")
    channels, size = x_train.shape[1], x_train.shape[-1]
    arrays = ((x_train.astype(np.float32), y_train), (x_test.astype(np.float32), y_test),
              (channels, classes, size))
    if not with_description:
        return arrays
    # one mean and std for all channels, as above; stored per channel for the model file
    transform = InputTransform(size=(size, size), mean=(float(mean),) * channels,
                               std=(float(std),) * channels)
    return arrays + (DataDescription(list(train.classes), transform),)


class TrainingData(NamedTuple):
    train: object
    val: object
    test: object
    shape: tuple            # (channels, classes, size)
    description: DataDescription


def load_data(name: str, root, image_size, val_fraction: float, seed: int, limit_train=None):
    """TrainingData(train_set, val_set or None, test_set, (channels, classes, size),
    description); the validation set is a seeded random share ``val_fraction`` of the training
    set."""
    (x_train, y_train), (x_test, y_test), shape, description = load_arrays(
        name, root, image_size, with_description=True)
    if limit_train is not None:
        x_train, y_train = x_train[:limit_train], y_train[:limit_train]
    train = TensorDataset(from_numpy(x_train), from_numpy(y_train))
    test = TensorDataset(from_numpy(x_test), from_numpy(y_test))
    if not 0 <= val_fraction < 1:
        raise UsageError(f"--val-fraction must be in [0, 1), got {val_fraction}")
    val = None
    if val_fraction > 0:
        train, val = random_split(train, [1 - val_fraction, val_fraction],
                                  generator=Generator().manual_seed(seed))
    return TrainingData(train, val, test, shape, description)
