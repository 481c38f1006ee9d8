"""Datasets, samplers and the DataLoader (with worker processes), as ``torch.utils.data``.

    from minitorch.utils.data import DataLoader, TensorDataset, random_split
"""
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler
from .distributed import DistributedSampler
from .worker import WorkerInfo, get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset", "random_split",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler",
           "default_collate", "default_convert", "DataLoader", "get_worker_info", "WorkerInfo"]
