"""The layers of ``minitorch.nn``, one small file per family."""
__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Conv2d",
           "MaxPool2d", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Dropout", "Flatten",
           "BatchNorm1d", "BatchNorm2d", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss",
           "BCEWithLogitsLoss"]

from .module import Module  # noqa: F401
from .container import Sequential, ModuleList, ModuleDict  # noqa: F401
from .linear import Identity, Linear  # noqa: F401
from .conv import Conv2d  # noqa: F401
from .pooling import MaxPool2d  # noqa: F401
from .activation import ReLU, Sigmoid, Tanh, Softmax, LogSoftmax  # noqa: F401
from .dropout import Dropout  # noqa: F401
from .flatten import Flatten  # noqa: F401
from .batchnorm import BatchNorm1d, BatchNorm2d  # noqa: F401
from .loss import CrossEntropyLoss, NLLLoss, MSELoss, BCELoss, BCEWithLogitsLoss  # noqa: F401
