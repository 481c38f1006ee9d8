"""minitorch.vision.models.resnet18 and vgg16 against torchvision's architectures.

torchvision is not installed, so the reference is written here from torch.nn: a torch twin of
torchvision's ResNet-18 and VGG-16 (the same module names, so the same state_dict keys). The
twin's weights (and BatchNorm running statistics) are loaded into minitorch's model through
``load_state_dict``, as a torchvision checkpoint would be; then outputs, input gradients and
every parameter's gradient (random cotangent) must agree, in float64 and float32, in training
mode (batch statistics, running statistics updated) and in eval mode.

VGG-16 has 138 M parameters (the first classifier Linear alone 102 M): building it takes
seconds, so it is compared by layout (every key and shape), parameter count and its
convolutional ``features`` with shared weights; the classifier is plain Linear/ReLU/Dropout.
"""
import numpy as np
import pytest
import torch
from torch import nn
from torch_compare import assert_close, to_mt, to_torch

import minitorch
from minitorch.vision import models


# ---- the torch twins (written from torchvision's published architecture) -----------------------
class TorchBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class TorchResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, inplanes = (64, 128, 256, 512), 64
        for k, planes in enumerate(widths, 1):
            stride = 1 if k == 1 else 2
            setattr(self, f"layer{k}", nn.Sequential(TorchBasicBlock(inplanes, planes, stride),
                                                     TorchBasicBlock(planes, planes)))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
             512, 512, 512, "M"]


def torch_vgg16_features():
    layers, c = [], 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers)


class TorchVGG16(nn.Module):
    """``hidden`` is 4096 in VGG-16; the head test narrows it to keep the weights small."""

    def __init__(self, num_classes=1000, features=None, hidden=4096):
        super().__init__()
        self.features = torch_vgg16_features() if features is None else features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, hidden), nn.ReLU(True),
                                        nn.Dropout(), nn.Linear(hidden, hidden), nn.ReLU(True),
                                        nn.Dropout(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ---- helpers ------------------------------------------------------------------------------------
def shared_weights(t_model, m_model, dtype):
    """Random weights and BatchNorm statistics in the torch twin, loaded into minitorch's model
    by key (strict: every key must match), both in ``dtype``."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, v in t_model.state_dict().items():
            if v.is_floating_point():
                if name.endswith("running_var"):
                    v.copy_(torch.rand(v.shape, generator=gen) + 0.5)
                elif name.endswith("running_mean"):
                    v.copy_(torch.randn(v.shape, generator=gen) * 0.1)
                elif "bn" in name or "downsample.1" in name:
                    v.copy_(torch.randn(v.shape, generator=gen) * 0.2 + (1 if "weight" in name
                                                                          else 0))
                else:
                    v.copy_(torch.randn(v.shape, generator=gen) * (2 / max(1, v[0].numel())) ** 0.5)
    t_model.to(getattr(torch, dtype))
    m_model.to(getattr(minitorch, dtype))
    result = m_model.load_state_dict({k: v.numpy() for k, v in t_model.state_dict().items()})
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []


def layout(state_dict):
    return [(k, tuple(v.shape)) for k, v in state_dict.items()]


def compare_forward_backward(t_model, m_model, x, dtype, seed=0):
    t_x, m_x = to_torch(x, dtype, True), to_mt(x, dtype, True)
    t_y, m_y = t_model(t_x), m_model(m_x)
    assert_close(m_y, t_y, dtype, what="output")
    cot = np.random.default_rng(seed).standard_normal(tuple(t_y.shape))
    t_y.backward(to_torch(cot, dtype))
    m_y.backward(to_mt(cot, dtype))
    assert_close(m_x.grad, t_x.grad, dtype, what="grad of the input")
    m_params = dict(m_model.named_parameters())
    for name, p in t_model.named_parameters():
        assert_close(m_params[name].grad, p.grad, dtype, what=f"grad of {name}")
    m_state = m_model.state_dict()
    for name, v in t_model.state_dict().items():  # running statistics, num_batches_tracked
        assert_close(m_state[name], v, dtype, what=name)


# ---- resnet18 -----------------------------------------------------------------------------------
def test_resnet18_has_torchvisions_layout_and_parameter_count():
    m = models.resnet18()
    assert layout(m.state_dict()) == layout(TorchResNet18().state_dict())
    assert sum(p.numel() for p in m.parameters()) == 11_689_512  # torchvision's resnet18
    assert [k for k in m.state_dict()][:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    assert "layer2.0.downsample.0.weight" in m.state_dict() and "fc.bias" in m.state_dict()
    assert tuple(models.resnet18(num_classes=7).fc.weight.shape) == (7, 512)


@pytest.fixture(scope="module")
def resnets():
    """(torch twin, minitorch resnet18) with 10 classes, built once: each test loads fresh
    shared weights into them."""
    return TorchResNet18(num_classes=10), models.resnet18(num_classes=10)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("training", [True, False])
def test_resnet18_matches_a_torch_twin_with_shared_weights(resnets, dtype, training):
    """Training mode normalises layer4 over N·H·W values per channel; with 4 images of 32x32
    that is 4 values, and the gradient through so few is ill-conditioned: torch's own float32
    gradients then differ from its float64 ones by 1.2e-4 (relative), so a 1e-5 comparison
    would measure rounding noise. 3 images of 48x48 (12 values) bring torch's own float32
    error down to 5.6e-6; eval mode (BatchNorm an affine map) is well-conditioned at 32x32."""
    t_model, m_model = resnets
    shared_weights(t_model, m_model, dtype)
    t_model.zero_grad(set_to_none=True)
    m_model.zero_grad(set_to_none=True)
    t_model.train(training)
    m_model.train(training)
    shape = (3, 3, 48, 48) if training else (2, 3, 32, 40)
    x = np.random.default_rng(1).standard_normal(shape)
    compare_forward_backward(t_model, m_model, x, dtype)


def test_resnet18_initialisation_is_torchvisions():
    """Conv weights ~ N(0, 2 / fan_out) (kaiming_normal_, fan_out), BatchNorm 1 and 0;
    zero_init_residual zeroes each block's last BatchNorm weight."""
    minitorch.manual_seed(0)
    m = models.resnet18()
    w = m.layer3[0].conv2.weight.detach().numpy()
    fan_out = 256 * 3 * 3
    assert abs(w.std() / np.sqrt(2 / fan_out) - 1) < 0.02  # 590k draws
    assert abs(w.mean()) < 3 * np.sqrt(2 / fan_out) / np.sqrt(w.size)
    np.testing.assert_array_equal(m.bn1.weight.detach().numpy(), np.ones(64, np.float32))
    np.testing.assert_array_equal(m.layer1[0].bn2.bias.detach().numpy(), np.zeros(64, np.float32))
    z = models.resnet18(zero_init_residual=True)
    assert not np.any(z.layer4[1].bn2.weight.detach().numpy())
    assert np.all(z.layer4[1].bn1.weight.detach().numpy() == 1)


@pytest.mark.parametrize("build", [models.resnet18, models.vgg16])
def test_pretrained_weights_are_refused_clearly(build):
    name = build.__name__
    with pytest.raises(ValueError, match=rf"{name}\(weights='IMAGENET1K_V1'\): pretrained weights "
                                         r"are not available.*load_state_dict"):
        build(weights="IMAGENET1K_V1")


# ---- vgg16 --------------------------------------------------------------------------------------
@pytest.fixture
def no_linear_init(monkeypatch):
    """VGG-16's Linear layers hold 120 M weights; drawing their default initialisation takes
    seconds and does not change the layout. Within a test, Linear keeps its uninitialised
    (zero) weights instead."""
    monkeypatch.setattr(minitorch.nn.Linear, "reset_parameters", lambda self: None)


def test_vgg16_has_torchvisions_layout_and_parameter_count(no_linear_init):
    m = models.vgg16(init_weights=False)  # (the layout and count do not depend on the values)
    with torch.device("meta"):  # shapes only, no memory
        t = TorchVGG16()
    assert layout(m.state_dict()) == layout(t.state_dict())
    assert sum(p.numel() for p in m.parameters()) == 138_357_544  # torchvision's vgg16
    assert [type(c).__name__ for c in m.classifier] == [type(c).__name__ for c in t.classifier]
    assert [repr(c) for c in m.features] == [repr(c) for c in t.features]
    assert repr(m.avgpool) == repr(t.avgpool)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vgg16_features_match_a_torch_twin_with_shared_weights(dtype):
    """VGG-16's 13 convolutions and 5 pools (its 14.7 M feature weights) on a small input."""
    t_features, m_features = torch_vgg16_features(), models.make_layers(models.cfgs["D"])
    shared_weights(t_features, m_features, dtype)
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32))
    compare_forward_backward(t_features, m_features, x, dtype)


def test_vgg_head_matches_torch_on_small_features(no_linear_init):
    """VGG's forward after ``features``: avgpool (1x1 → 7x7 by adaptive averaging), flatten and
    the classifier in eval mode (dropout off), at num_classes=5 with the hidden width narrowed
    to 16 in both models (the wiring is what is checked, not the 4096 width)."""
    t_head = TorchVGG16(num_classes=5, features=nn.Identity(), hidden=16)
    m_head = models.VGG(minitorch.nn.Identity(), num_classes=5, init_weights=False)
    m_head.classifier[0] = minitorch.nn.Linear(512 * 7 * 7, 16)
    m_head.classifier[3] = minitorch.nn.Linear(16, 16)
    m_head.classifier[6] = minitorch.nn.Linear(16, 5)  # (weights: shared_weights loads torch's)
    for dtype in ("float64", "float32"):
        shared_weights(t_head, m_head, dtype)
        t_head.eval()
        m_head.eval()
        x = np.random.default_rng(3).standard_normal((2, 512, 1, 1))
        t_head.zero_grad()
        m_head.zero_grad()
        compare_forward_backward(t_head, m_head, x, dtype)
