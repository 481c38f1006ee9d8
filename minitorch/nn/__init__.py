"""``minitorch.nn``: Module, Parameter, layers, losses, initialisation and gradient utilities,
with torch's names (``import minitorch.nn as nn``)."""
from . import functional  # noqa: F401
from .parameter import Parameter  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import init, utils  # noqa: F401
