"""``minitorch.nn``: Module, Parameter, layers, losses, initialisation and gradient utilities,
with torch's names (``import minitorch.nn as nn``)."""
from . import functional
from .parameter import Parameter
from .modules import *  # noqa: F403
from . import init, utils
from . import lora  # LoRA adapters for Linear layers (fine-tuning)
from . import parallel
