"""Tests for the CIFAR-style ResNet / WideResNet models."""

import math

import pytest
import torch
from torch import nn

from imbsk.models.resnet import CifarResNet, WideResNet, build_vision_model


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _resnet_params_by_hand(depth: int, c_in: int, n_classes: int, w: int = 16) -> int:
    """Parameter count of the option-B CIFAR ResNet, counted layer by layer."""
    n = (depth - 2) // 6
    total = 9 * c_in * w + 2 * w  # stem conv + BN
    ch = w
    for out in (w, 2 * w, 4 * w):
        for _ in range(n):
            total += 9 * ch * out + 2 * out + 9 * out * out + 2 * out
            if ch != out:
                total += ch * out + 2 * out  # 1x1 projection + BN
            ch = out
    return total + ch * n_classes + n_classes


def _wrn_params_by_hand(depth: int, k: int, c_in: int, n_classes: int) -> int:
    n = (depth - 4) // 6
    total = 9 * c_in * 16
    ch = 16
    for out in (16 * k, 32 * k, 64 * k):
        for _ in range(n):
            total += 2 * ch + 9 * ch * out + 2 * out + 9 * out * out
            if ch != out:
                total += ch * out
            ch = out
    return total + 2 * ch + ch * n_classes + n_classes


@pytest.mark.parametrize("name", ["resnet20", "resnet32", "wrn16_2", "wrn28_2"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_forward_shapes_and_features(name, shape):
    torch.manual_seed(0)
    model = build_vision_model(name, n_classes=7, in_channels=shape[0]).eval()
    x = torch.rand(3, *shape)
    with torch.no_grad():
        logits = model(x)
        logits2, feats = model(x, return_features=True)
    assert logits.shape == (3, 7)
    assert feats.shape == (3, model.feature_dim)
    assert torch.allclose(logits, logits2)
    # The head is the last layer: logits are an affine function of the returned features.
    assert isinstance(model.head, nn.Linear)
    assert torch.allclose(model.head(feats), logits, atol=1e-5)
    assert torch.isfinite(logits).all()


def test_feature_dims():
    assert CifarResNet(20, 10).feature_dim == 64
    assert CifarResNet(20, 10, width=8).feature_dim == 32
    assert WideResNet(16, 3, 10).feature_dim == 192


def test_resnet_parameter_counts():
    r32 = build_vision_model("resnet32", 10, 3)
    assert _n_params(r32) == _resnet_params_by_hand(32, 3, 10)
    assert 0.46e6 <= _n_params(r32) <= 0.47e6  # He et al. report 0.46M
    r20 = build_vision_model("resnet20", 100, 1)
    assert _n_params(r20) == _resnet_params_by_hand(20, 1, 100)


def test_wrn_parameter_counts_without_forward():
    # The meta device builds the 36M-parameter network without allocating or initialising storage.
    with torch.device("meta"):
        big = build_vision_model("wrn28_10", 10, 3)
    count = _n_params(big)
    assert count == _wrn_params_by_hand(28, 10, 3, 10)
    assert abs(count - 36.5e6) / 36.5e6 < 0.005  # Zagoruyko & Komodakis report 36.5M
    assert isinstance(big, WideResNet) and big.depth == 28 and big.widen_factor == 10
    small = build_vision_model("wrn28_2", 10, 3)
    assert _n_params(small) == _wrn_params_by_hand(28, 2, 3, 10)
    assert abs(_n_params(small) - 1.47e6) < 0.01e6


def test_stage_strides_and_shortcuts():
    model = CifarResNet(20, 10)
    projections = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    # Option B: a projection only at the two stage transitions.
    assert len(projections) == 2
    assert [p.stride for p in projections] == [(2, 2), (2, 2)]
    shapes = []
    model.stages.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)) and None)
    model.eval()(torch.rand(1, 3, 32, 32))
    assert shapes == [(1, 64, 8, 8)]


def test_kaiming_init():
    torch.manual_seed(0)
    model = WideResNet(16, 4, 10)
    conv = model.stages[2][1].conv2  # 256 -> 256 3x3 conv: enough weights for a tight std estimate
    expected = math.sqrt(2.0 / (conv.out_channels * 9))
    assert abs(conv.weight.std().item() - expected) / expected < 0.02
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    assert torch.all(model.head.bias == 0)


def test_wrn_dropout_only_in_train_mode():
    torch.manual_seed(0)
    model = WideResNet(10, 1, 3, in_channels=1, dropout=0.5)
    x = torch.rand(4, 1, 8, 8)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_backward_on_small_digits():
    model = build_vision_model("resnet20", 10, 1)
    x = torch.rand(4, 1, 8, 8)
    loss = nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert model.stem[0].weight.grad is not None and model.stem[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize("depth", [0, 2, 19, 21, 33])
def test_invalid_resnet_depth(depth):
    with pytest.raises(ValueError, match=r"6n\+2"):
        CifarResNet(depth, 10)


@pytest.mark.parametrize("depth", [4, 27, 29])
def test_invalid_wrn_depth(depth):
    with pytest.raises(ValueError, match=r"6n\+4"):
        WideResNet(depth, 2, 10)


@pytest.mark.parametrize("name", ["resnet", "vgg16", "wrn28", "resnet-32", "wrn28_x"])
def test_unknown_name(name):
    with pytest.raises(ValueError, match="resnet.*wrn"):
        build_vision_model(name, 10, 3)


def test_name_parsing():
    assert isinstance(build_vision_model("ResNet56", 10, 3), CifarResNet)
    assert build_vision_model("resnet110", 10, 3).depth == 110
    with torch.device("meta"):
        m = build_vision_model("wrn-40-4", 10, 3)
    assert isinstance(m, WideResNet) and m.depth == 40 and m.widen_factor == 4
    with pytest.raises(ValueError, match=r"6n\+2"):
        build_vision_model("resnet18", 10, 3)
    m = build_vision_model("wrn16_1", 10, 3, dropout=0.3)
    assert any(isinstance(x, nn.Dropout) and x.p == 0.3 for x in m.modules())
