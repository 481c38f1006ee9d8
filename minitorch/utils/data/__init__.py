"""Datasets, samplers and the DataLoader, as ``torch.utils.data`` (single-process).

    from minitorch.utils.data import DataLoader, TensorDataset, random_split
"""
from .dataset import (Dataset, IterableDataset, TensorDataset, ConcatDataset, Subset,  # noqa: F401
                      random_split)
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,  # noqa: F401
                      BatchSampler)
from .collate import default_collate, default_convert  # noqa: F401
from .dataloader import DataLoader  # noqa: F401

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset", "random_split",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler",
           "default_collate", "default_convert", "DataLoader"]
