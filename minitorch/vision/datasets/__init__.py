"""Datasets: the embedded ``Digits``, and ``MNIST`` / ``FashionMNIST`` / ``CIFAR10`` / ``CIFAR100``
read from local files in torchvision's layout (minitorch never downloads)."""
from .cifar import CIFAR10, CIFAR100  # noqa: F401
from .digits import Digits  # noqa: F401
from .mnist import MNIST, FashionMNIST, read_idx  # noqa: F401
from .vision import DatasetCorruptError, DatasetNotFoundError, VisionDataset  # noqa: F401

__all__ = ["VisionDataset", "DatasetNotFoundError", "DatasetCorruptError", "Digits", "MNIST",
           "FashionMNIST", "read_idx", "CIFAR10", "CIFAR100"]
