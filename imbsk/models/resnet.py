"""CIFAR-style residual networks: ResNet (He et al., 2016) and WideResNet (Zagoruyko & Komodakis, 2016).

Both networks end with adaptive global average pooling, so they accept any input of at least 8x8 pixels
and any number of channels (8x8x1 digits, 28x28x1 MNIST-like images, 32x32x3 CIFAR images).

References
----------
.. [1] K. He, X. Zhang, S. Ren and J. Sun. "Deep Residual Learning for Image Recognition". CVPR 2016.
.. [2] K. He, X. Zhang, S. Ren and J. Sun. "Delving Deep into Rectifiers: Surpassing Human-Level Performance
   on ImageNet Classification". ICCV 2015.
.. [3] S. Zagoruyko and N. Komodakis. "Wide Residual Networks". BMVC 2016.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["CifarResNet", "WideResNet", "build_vision_model"]


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    # No bias: every convolution is followed by batch normalisation, whose shift makes a bias redundant.
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def _init_weights(module: nn.Module) -> None:
    """He (Kaiming) normal initialisation [2] for convolutions, identity affine for BN, zero linear bias.

    ``mode='fan_out'`` gives std = sqrt(2 / (k*k*c_out)), the variant of [2] used by the reference
    ResNet/WRN implementations; the linear head keeps PyTorch's default uniform weight init.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


class _BasicBlock(nn.Module):
    """Post-activation basic block of [1]: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module
        if stride != 1 or in_channels != out_channels:
            # Option B of [1]: a projection is used only where the identity cannot match the shape.
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """CIFAR ResNet of He et al. [1] (Section 4.2) with basic blocks and option-B shortcuts.

    Layout for ``depth = 6n + 2``: a 3x3 convolution with ``width`` filters, three stages of ``n`` basic
    blocks with ``width``, ``2*width`` and ``4*width`` filters (the first block of stages 2 and 3 has
    stride 2), global average pooling and a linear head. Depths 20, 32, 44, 56 and 110 give the layouts
    of [1]. Section 4.2 of [1] (and Cao et al.'s LDAM ResNet-32) use option-A shortcuts, zero-padded
    identities with no parameters, where the stage changes; here those two shortcuts are option-B
    projections (1x1 convolution + batch normalisation), as in the WideResNet. That adds 2,752 parameters
    at ``width=16``: ResNet-32 on 10 classes has 466,906 parameters, 464,154 with option A.

    Parameters
    ----------
    depth : int
        Total number of weighted layers, ``6n + 2`` with ``n >= 1``.
    n_classes : int
        Number of output logits.
    in_channels : int, default=3
        Number of input image channels.
    width : int, default=16
        Number of filters of the first stage.

    Attributes
    ----------
    feature_dim : int
        Size of the pooled penultimate features (``4 * width``).
    head : torch.nn.Linear
        Final classifier layer, ``feature_dim -> n_classes``.

    References
    ----------
    .. [1] K. He, X. Zhang, S. Ren and J. Sun. "Deep Residual Learning for Image Recognition". CVPR 2016.
    """

    def __init__(self, depth: int, n_classes: int, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"CifarResNet depth must be 6n+2 with n >= 1 (e.g. 20, 32, 44, 56, 110); got {depth}.")
        _check_positive(n_classes=n_classes, in_channels=in_channels, width=width)
        n_blocks = (depth - 2) // 6
        self.depth = depth
        self.stem = nn.Sequential(_conv3x3(in_channels, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        stages = []
        channels = width
        for stage, out_channels in enumerate((width, 2 * width, 4 * width)):
            blocks = []
            for i in range(n_blocks):
                stride = 2 if (stage > 0 and i == 0) else 1
                blocks.append(_BasicBlock(channels, out_channels, stride))
                channels = out_channels
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = channels
        self.head = nn.Linear(channels, n_classes)
        _init_weights(self)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Return logits ``(N, n_classes)``, or ``(logits, features)`` with features ``(N, feature_dim)``."""
        features = torch.flatten(self.pool(self.stages(self.stem(x))), 1)
        logits = self.head(features)
        return (logits, features) if return_features else logits


class _WideBlock(nn.Module):
    """Pre-activation block of [3]: ``conv(dropout(relu(bn(conv(relu(bn(x))))))) + shortcut(x)``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        pre = F.relu(self.bn1(x))
        out = self.conv2(self.dropout(F.relu(self.bn2(self.conv1(pre)))))
        # As in the reference WRN code, the projection sees the pre-activated input, while an identity
        # shortcut carries the raw input.
        residual = x if self.shortcut is None else self.shortcut(pre)
        return out + residual


class WideResNet(nn.Module):
    """Wide residual network WRN-d-k of Zagoruyko & Komodakis [3] with pre-activation blocks.

    Layout for ``depth = 6n + 4``: a 3x3 convolution with 16 filters, three groups of ``n`` blocks with
    ``16k``, ``32k`` and ``64k`` filters (strides 1, 2, 2), a final BN-ReLU, global average pooling and a
    linear head. WRN-28-10 (``n = 4``) has about 36.5M parameters.

    Parameters
    ----------
    depth : int
        ``6n + 4`` with ``n >= 1`` (e.g. 16, 22, 28, 40).
    widen_factor : int
        Width multiplier ``k``.
    n_classes : int
        Number of output logits.
    in_channels : int, default=3
        Number of input image channels.
    dropout : float, default=0.0
        Dropout probability between the two convolutions of each block.

    Attributes
    ----------
    feature_dim : int
        Size of the pooled penultimate features (``64 * widen_factor``).
    head : torch.nn.Linear
        Final classifier layer, ``feature_dim -> n_classes``.

    References
    ----------
    .. [3] S. Zagoruyko and N. Komodakis. "Wide Residual Networks". BMVC 2016.
    """

    def __init__(
        self, depth: int, widen_factor: int, n_classes: int, in_channels: int = 3, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError(f"WideResNet depth must be 6n+4 with n >= 1 (e.g. 16, 22, 28, 40); got {depth}.")
        _check_positive(widen_factor=widen_factor, n_classes=n_classes, in_channels=in_channels)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {dropout}.")
        n_blocks = (depth - 4) // 6
        self.depth = depth
        self.widen_factor = widen_factor
        self.stem = _conv3x3(in_channels, 16)
        groups = []
        channels = 16
        for group, out_channels in enumerate((16 * widen_factor, 32 * widen_factor, 64 * widen_factor)):
            blocks = []
            for i in range(n_blocks):
                stride = 2 if (group > 0 and i == 0) else 1
                blocks.append(_WideBlock(channels, out_channels, stride, dropout))
                channels = out_channels
            groups.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*groups)
        # Pre-activation blocks leave their output un-normalised, so a final BN-ReLU precedes pooling.
        self.final = nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = channels
        self.head = nn.Linear(channels, n_classes)
        _init_weights(self)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Return logits ``(N, n_classes)``, or ``(logits, features)`` with features ``(N, feature_dim)``."""
        features = torch.flatten(self.pool(self.final(self.stages(self.stem(x)))), 1)
        logits = self.head(features)
        return (logits, features) if return_features else logits


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value}.")


_RESNET_PATTERN = re.compile(r"resnet(\d+)")
_WRN_PATTERN = re.compile(r"wrn-?(\d+)[-_](\d+)")


def build_vision_model(name: str, n_classes: int, in_channels: int, **kwargs: object) -> nn.Module:
    """Build a CIFAR-style network from its short name.

    Parameters
    ----------
    name : str
        ``'resnet{depth}'`` (``depth = 6n + 2``: 'resnet20', 'resnet32', 'resnet44', 'resnet56',
        'resnet110') for :class:`CifarResNet`, or ``'wrn{depth}_{k}'`` (``depth = 6n + 4``: 'wrn28_2',
        'wrn28_10'; 'wrn-28-10' is also accepted) for :class:`WideResNet`. Case-insensitive.
    n_classes : int
        Number of output logits.
    in_channels : int
        Number of input image channels.
    **kwargs
        Extra constructor arguments (``width`` for ResNets, ``dropout`` for WideResNets).

    Returns
    -------
    torch.nn.Module
        The freshly initialised network.

    Raises
    ------
    ValueError
        For an unknown name or an invalid depth.
    """
    key = name.strip().lower()
    match = _RESNET_PATTERN.fullmatch(key)
    if match:
        return CifarResNet(int(match.group(1)), n_classes, in_channels=in_channels, **kwargs)  # type: ignore[arg-type]
    match = _WRN_PATTERN.fullmatch(key)
    if match:
        depth, widen = int(match.group(1)), int(match.group(2))
        return WideResNet(depth, widen, n_classes, in_channels=in_channels, **kwargs)  # type: ignore[arg-type]
    raise ValueError(
        f"Unknown vision model {name!r}. Valid names: 'resnet{{6n+2}}' (e.g. resnet20, resnet32, resnet44, "
        f"resnet56, resnet110) and 'wrn{{6n+4}}_{{k}}' (e.g. wrn28_2, wrn28_10)."
    )
