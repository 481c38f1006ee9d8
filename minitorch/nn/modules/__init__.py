"""The layers of ``minitorch.nn``, one small file per family."""
__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Conv2d",
           "MaxPool2d", "ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Dropout", "Flatten",
           "BatchNorm1d", "BatchNorm2d", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss",
           "BCEWithLogitsLoss", "SmoothL1Loss", "HuberLoss", "Embedding", "LayerNorm", "GELU",
           "MultiheadAttention", "AvgPool2d", "AdaptiveAvgPool2d", "Dropout2d", "PixelShuffle",
           "PixelUnshuffle",
           "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "Transformer",
           "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]

from .module import Module
from .container import Sequential, ModuleList, ModuleDict
from .linear import Identity, Linear
from .conv import Conv2d
from .pooling import MaxPool2d, AvgPool2d, AdaptiveAvgPool2d
from .activation import ReLU, Sigmoid, Tanh, Softmax, LogSoftmax
from .dropout import Dropout, Dropout2d
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .flatten import Flatten
from .batchnorm import BatchNorm1d, BatchNorm2d
from .loss import CrossEntropyLoss, NLLLoss, MSELoss, BCELoss, BCEWithLogitsLoss
from .loss import SmoothL1Loss, HuberLoss
from .sparse import Embedding
from .normalization import LayerNorm
from .gelu import GELU
from .transformer import MultiheadAttention, TransformerEncoderLayer, TransformerEncoder
from .transformer import TransformerDecoderLayer, TransformerDecoder, Transformer
from .rnn import RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell
