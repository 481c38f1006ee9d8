"""``minitorch.nn.functional``: one Function per op, forward and backward formulas beside the code."""
from .activation import *  # noqa: F403
from .linear import *  # noqa: F403
from .conv import *  # noqa: F403
from .pooling import *  # noqa: F403
from .pixel_shuffle import *  # noqa: F403
from .loss import *  # noqa: F403
from .normalization import *  # noqa: F403
from .layer_norm import *  # noqa: F403
from .gelu import *  # noqa: F403
from .sparse import *  # noqa: F403
from .attention import *  # noqa: F403
