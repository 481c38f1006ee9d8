"""The base class of the vision datasets, and the no-network rule for their files.

minitorch never downloads: datasets read files that are already on disk. A missing file raises
``DatasetNotFoundError`` (a ``FileNotFoundError`` and a ``RuntimeError``, the latter being what
torchvision raises) naming the file, the folder it was looked for in, and where to get it.
A file that is there but unreadable raises ``DatasetCorruptError`` naming the file and the defect.

Images without a transform are NumPy arrays (``uint8``, ``H x W`` or ``H x W x C``), where
torchvision returns PIL images, also when Pillow is installed. Decided so: the type a dataset
returns must not change with an optional package being installed or not (a program would then
work on one machine and fail on another), and minitorch/ needs only NumPy. Every transform in
``minitorch.vision.transforms`` takes the arrays as torchvision's take PIL images (``ToTensor``
gives the same float tensor); what differs is PIL's own API on an untransformed image:
``img.size`` is the element count of an array but ``(W, H)`` of a PIL image, and ``img.mode``,
``img.show()`` do not exist. ``transform=transforms.ToPILImage()`` gives torchvision's PIL image.
"""
from __future__ import annotations

import os
from pathlib import Path


class DatasetNotFoundError(FileNotFoundError, RuntimeError):
    """A dataset file is not on disk (and minitorch does not download)."""


class DatasetCorruptError(RuntimeError):
    """A dataset file is on disk but cannot be parsed."""


def find_file(folder: Path, names, dataset: str, source: str, download: bool) -> Path:
    """The first of ``folder / name`` that exists, else a DatasetNotFoundError that says which
    file is missing, where it was looked for, and where to get it."""
    for name in names:
        path = folder / name
        if path.is_file():
            return path
    alternatives = " or ".join(repr(n) for n in names)
    msg = (f"{dataset}: file {alternatives} not found in '{folder}'. Put the file there (get it "
           f"from {source}).")
    if download:
        msg += (" download=True was given, but minitorch has no network download: it only reads "
                "files already on disk.")
    raise DatasetNotFoundError(msg)


class VisionDataset:
    """A map-style dataset of ``(image, target)`` pairs with optional ``transform`` (applied to
    the image) and ``target_transform`` (applied to the target), as torchvision's."""

    def __init__(self, root=None, transform=None, target_transform=None) -> None:
        self.root = None if root is None else Path(os.path.expanduser(os.fspath(root)))
        self.transform = transform
        self.target_transform = target_transform

    def _finish(self, img, target):
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _check_index(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} with {n} "
                             "samples")
        return index

    def extra_repr(self) -> str:
        return ""

    def __len__(self) -> int:
        raise NotImplementedError

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"Root location: {self.root}")
        lines += [line for line in self.extra_repr().splitlines() if line]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform}")
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform}")
        return f"Dataset {type(self).__name__}\n" + "\n".join("    " + ln for ln in lines)
