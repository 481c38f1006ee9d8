"""``minitorch.utils``: data loading (``minitorch.utils.data``), as ``torch.utils``."""
from . import data
