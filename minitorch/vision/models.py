"""The seed documents' networks, corrected and sized by argument (``torchvision.models``' role).

Each model takes ``in_channels``, ``num_classes`` and ``image_size`` so the same architecture fits
the embedded 8x8 (or 28x28) digits, MNIST and CIFAR-10. With the seeds' own arguments they are the
seeds' networks, with the shapes fixed where the documents got them wrong:

=================  =============================  ============================================
name               seed                           what was corrected
=================  =============================  ============================================
``simple_cnn``     000 SimpleCNN                  nothing (3x32x32 → Linear(32·16·16, 10))
``cifar_net``      001 Net                        ``F`` was used without being imported
``mnist_cnn``      004 CNNModel                   Linear(32·8·8) → Linear(32·13·13) for 28x28
                                                  input; the second pool on the fc1 output and
                                                  the 1-unit sigmoid head (BCELoss on 10
                                                  classes) replaced by flatten + 10 logits
``imagenet_cnn``   003 SimpleCNN                  Linear(128·56·56) received 128·224·224
                                                  features: the two 2x2 max-pools the numbers
                                                  imply are added (224 → 112 → 56)
``mlp``            —                              a two-layer perceptron baseline
=================  =============================  ============================================
"""
from __future__ import annotations

from types import SimpleNamespace

from .. import nn as _nn

__all__ = ["SimpleCNN", "CifarNet", "MnistCNN", "ImageNetStyleCNN", "MLP", "build_model", "MODELS",
           "define_models"]


def _pooled(size: int, pools: int, conv_shrink: int = 0) -> int:
    """Side length after ``pools`` 2x2/stride-2 max-pools (floor, as MaxPool2d(2, 2))."""
    size -= conv_shrink
    for _ in range(pools):
        size //= 2
    if size < 1:
        raise ValueError(f"image_size is too small for this model: it shrinks to {size} pixels")
    return size


def define_models(L) -> dict:
    """The model classes written against library ``L`` (minitorch, or torch for a side-by-side run:
    the architectures use only the API both share). Returns {name: class}."""
    nn, F = L.nn, L.nn.functional

    class SimpleCNN(nn.Module):
        """Seed 000: conv(C→32, 3x3, pad 1) → ReLU → 2x2 max-pool → Linear(32·(S/2)² → classes)."""

        def __init__(self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32):
            super().__init__()
            side = _pooled(image_size, 1)
            self.features_out = 32 * side * side
            self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=3, stride=1, padding=1)
            self.relu = nn.ReLU()
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.fc = nn.Linear(self.features_out, num_classes)

        def forward(self, x):
            x = self.pool(self.relu(self.conv1(x)))
            x = x.view(-1, self.features_out)
            return self.fc(x)


    class CifarNet(nn.Module):
        """Seed 001: three conv(3x3, pad 1)+ReLU+pool blocks (C→32→64→128), then
        Linear(128·(S/8)² → 1024) → ReLU → Dropout(0.5) → Linear(1024 → 512) → ReLU → Linear(512 → classes)."""

        def __init__(self, in_channels: int = 3, num_classes: int = 10, image_size: int = 32):
            super().__init__()
            side = _pooled(image_size, 3)
            self.features_out = 128 * side * side
            self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
            self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
            self.fc1 = nn.Linear(self.features_out, 1024)
            self.fc2 = nn.Linear(1024, 512)
            self.fc3 = nn.Linear(512, num_classes)
            self.pool = nn.MaxPool2d(2, 2)
            self.dropout = nn.Dropout(0.5)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = self.pool(F.relu(self.conv3(x)))
            x = x.view(-1, self.features_out)
            x = F.relu(self.fc1(x))
            x = self.dropout(x)
            x = F.relu(self.fc2(x))
            return self.fc3(x)


    class MnistCNN(nn.Module):
        """Seed 004, corrected: conv(C→32, 3x3, no pad) → ReLU → 2x2 pool → flatten →
        Linear(32·((S−2)/2)² → 128) → ReLU → Linear(128 → classes). For 28x28 that is 32·13·13 = 5408
        features, not the document's 32·8·8 = 2048."""

        def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
            super().__init__()
            side = _pooled(image_size, 1, conv_shrink=2)
            self.conv1 = nn.Conv2d(in_channels, 32, 3, 1)
            self.pool = nn.MaxPool2d(2, 2)
            self.flatten = nn.Flatten()
            self.fc1 = nn.Linear(32 * side * side, 128)
            self.fc2 = nn.Linear(128, num_classes)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = F.relu(self.fc1(self.flatten(x)))
            return self.fc2(x)


    class ImageNetStyleCNN(nn.Module):
        """Seed 003, corrected: conv(C→64, 3x3, pad 1) → ReLU → pool → conv(64→128) → ReLU → pool →
        Linear(128·(S/4)² → 1024) → Dropout(0.5) → Linear(1024 → classes). The document omits the
        pools, so its Linear(128·56·56) receives 128·224·224 features from a 224x224 image."""

        def __init__(self, in_channels: int = 3, num_classes: int = 1000, image_size: int = 224):
            super().__init__()
            side = _pooled(image_size, 2)
            self.conv1 = nn.Conv2d(in_channels, 64, 3, padding=1)
            self.conv2 = nn.Conv2d(64, 128, 3, padding=1)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1 = nn.Linear(128 * side * side, 1024)
            self.fc2 = nn.Linear(1024, num_classes)
            self.relu = nn.ReLU()
            self.dropout = nn.Dropout(0.5)

        def forward(self, x):
            x = self.pool(self.relu(self.conv1(x)))
            x = self.pool(self.relu(self.conv2(x)))
            x = x.view(x.size(0), -1)
            x = self.dropout(self.fc1(x))
            return self.fc2(x)


    class MLP(nn.Module):
        """flatten → Linear(C·S² → hidden) → ReLU → Linear(hidden → classes)."""

        def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 8,
                     hidden: int = 128):
            super().__init__()
            self.flatten = nn.Flatten()
            self.fc1 = nn.Linear(in_channels * image_size * image_size, hidden)
            self.fc2 = nn.Linear(hidden, num_classes)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(self.flatten(x))))

    return {"simple_cnn": SimpleCNN, "cifar_net": CifarNet, "mnist_cnn": MnistCNN,
            "imagenet_cnn": ImageNetStyleCNN, "mlp": MLP}


MODELS = define_models(SimpleNamespace(nn=_nn))
SimpleCNN, CifarNet, MnistCNN = MODELS["simple_cnn"], MODELS["cifar_net"], MODELS["mnist_cnn"]
ImageNetStyleCNN, MLP = MODELS["imagenet_cnn"], MODELS["mlp"]


def build_model(name: str, in_channels: int, num_classes: int, image_size: int, library=None):
    """``build_model('simple_cnn', 1, 10, 8)``: one of :data:`MODELS` sized for the data. With
    ``library=torch`` the same architecture is built in torch (for ``--compare-torch``)."""
    classes = MODELS if library is None else define_models(library)
    if name not in classes:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(classes)}")
    return classes[name](in_channels=in_channels, num_classes=num_classes, image_size=image_size)
