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
           "define_models", "BasicBlock", "ResNet", "resnet18", "VGG", "vgg16", "make_layers",
           "cfgs"]


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


# ---------------------------------------------------------------------------------------------
# torchvision's architectures (no pretrained weights: those are downloads)
# ---------------------------------------------------------------------------------------------
def _no_weights(name: str, weights) -> None:
    """torchvision's ``weights=`` names a pretrained checkpoint to download; minitorch downloads
    nothing, so only None (random initialisation) is accepted."""
    if weights is not None:
        raise ValueError(f"{name}(weights={weights!r}): pretrained weights are not available in "
                         f"minitorch (they are a download). Build {name}(weights=None) and load "
                         "a torchvision state_dict you have, e.g. model.load_state_dict({k: "
                         "v.numpy() for k, v in torch.load(path).items()}); the key names match "
                         "torchvision's.")


def _init_conv_bn(module) -> None:
    """torchvision's initialisation for ResNet and VGG: every Conv2d weight
    ~ N(0, 2 / fan_out) (kaiming_normal_, mode='fan_out', ReLU gain), conv biases 0,
    BatchNorm weight 1 and bias 0."""
    for m in module.modules():
        if isinstance(m, _nn.Conv2d):
            _nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                _nn.init.zeros_(m.bias)
        elif isinstance(m, _nn.BatchNorm2d):
            _nn.init.ones_(m.weight)
            _nn.init.zeros_(m.bias)


class BasicBlock(_nn.Module):
    """ResNet-18/34's residual block: y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
    two 3x3 convolutions without bias (the first with ``stride``); the shortcut is x itself, or
    ``downsample`` (1x1 conv with stride + BatchNorm) when the shape changes."""
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = _nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _nn.BatchNorm2d(planes)
        self.relu = _nn.ReLU(inplace=True)
        self.conv2 = _nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = _nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(_nn.Module):
    """torchvision's ResNet with basic blocks (He et al., 2015), its module and state_dict names:

    conv1 (7x7/2, 64, no bias) → bn1 → relu → maxpool (3x3/2, pad 1) → layer1..layer4 (64, 128,
    256, 512 channels; layer2-4 start with stride 2 and a ``downsample`` shortcut) → avgpool
    (adaptive, 1x1) → flatten → fc. The stem and three stride-2 stages divide the side by 32,
    so an input of 32x32 reaches layer4 as 1x1 and 224x224 as 7x7; the adaptive pool makes any
    size fit ``fc``."""

    def __init__(self, block, layers, num_classes: int = 1000, zero_init_residual: bool = False):
        super().__init__()
        self.inplanes = 64
        self.conv1 = _nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = _nn.BatchNorm2d(64)
        self.relu = _nn.ReLU(inplace=True)
        self.maxpool = _nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = _nn.AdaptiveAvgPool2d((1, 1))
        self.fc = _nn.Linear(512 * block.expansion, num_classes)
        _init_conv_bn(self)
        if zero_init_residual:  # each block starts as the identity (torchvision's option)
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    _nn.init.zeros_(m.bn2.weight)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = _nn.Sequential(
                _nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                _nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return _nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x).flatten(1)
        return self.fc(x)


def resnet18(*, weights=None, progress: bool = True, **kwargs) -> ResNet:
    """ResNet-18 (``torchvision.models.resnet18``): two BasicBlocks per stage, 11,689,512
    parameters with ``num_classes=1000``. ``weights`` must be None (no downloads); ``kwargs``
    go to :class:`ResNet` (``num_classes``, ``zero_init_residual``)."""
    _no_weights("resnet18", weights)
    return ResNet(BasicBlock, [2, 2, 2, 2], **kwargs)


# VGG configurations (torchvision's names): output channels of the 3x3 convolutions, "M" a
# 2x2 max-pool. "D" is VGG-16.
cfgs = {"D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"]}


class VGG(_nn.Module):
    """torchvision's VGG (Simonyan & Zisserman, 2014), its module and state_dict names:
    ``features`` (a Sequential of conv 3x3 pad 1 + ReLU, and 2x2 max-pools: features.0,
    features.2, ... are the convolutions), ``avgpool`` (adaptive, 7x7: any input of at least
    32x32 works) and ``classifier`` (Linear(512·7·7 → 4096) → ReLU → Dropout → Linear(4096 →
    4096) → ReLU → Dropout → Linear(4096 → num_classes): classifier.0, .3, .6).

    Initialisation as torchvision: conv weights kaiming_normal_(mode='fan_out'), Linear weights
    N(0, 0.01²), biases 0."""

    def __init__(self, features, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = _nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = _nn.Sequential(
            _nn.Linear(512 * 7 * 7, 4096), _nn.ReLU(True), _nn.Dropout(p=dropout),
            _nn.Linear(4096, 4096), _nn.ReLU(True), _nn.Dropout(p=dropout),
            _nn.Linear(4096, num_classes))
        if init_weights:
            _init_conv_bn(self)
            for m in self.classifier.modules():
                if isinstance(m, _nn.Linear):
                    _nn.init.normal_(m.weight, 0, 0.01)
                    _nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.features(x)).flatten(1)
        return self.classifier(x)


def make_layers(cfg, batch_norm: bool = False) -> _nn.Sequential:
    """VGG's ``features`` from a configuration (torchvision's ``make_layers``): each number a
    Conv2d(3x3, padding 1) (+ BatchNorm2d with ``batch_norm``) + ReLU, each "M" a 2x2 max-pool;
    the Sequential's indices are the state_dict's (features.0.weight, ...)."""
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(_nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(_nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(_nn.BatchNorm2d(v))
        layers.append(_nn.ReLU(inplace=True))
        in_channels = v
    return _nn.Sequential(*layers)


def vgg16(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-16 (``torchvision.models.vgg16``, no batch norm): 13 convolutions and 3 Linear layers,
    138,357,544 parameters with ``num_classes=1000``. ``weights`` must be None (no downloads);
    ``kwargs`` go to :class:`VGG` (``num_classes``, ``init_weights``, ``dropout``)."""
    _no_weights("vgg16", weights)
    return VGG(make_layers(cfgs["D"]), **kwargs)
