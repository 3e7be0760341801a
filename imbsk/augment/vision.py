"""Batched, on-device image augmentation: flip + crop, TrivialAugmentWide and AutoAugment (CIFAR-10 policy).

All transforms take float tensors ``(N, C, H, W)`` with values in ``[0, 1]`` on any device and return a
tensor of the same shape, dtype and device. Every image gets its own random draw (its own operation,
magnitude, flip and crop), as in the per-image reference implementations, but the work is batched: the
batch is split by operation type and each operation runs once on its group, so no Python loop runs over
samples. All random draws come from torch's global CPU generator, so ``torch.manual_seed`` makes results
reproducible and independent of the device.

Flip and crop are one gather over the batch (:class:`RandomFlipCrop`, with the random draws of
``kornia.augmentation``'s ``RandomCrop`` and ``RandomHorizontalFlip``); the policy operations use
:mod:`kornia.enhance` and :func:`kornia.geometry.transform.warp_affine`. ``kornia.augmentation.auto.TrivialAugment`` and
``AutoAugment`` are deliberately not used: in kornia 0.9 they apply the *same* operation to the whole
batch, and their magnitude conventions differ from the published policies (shears of up to 54 degrees,
AutoAugment magnitude bins mapped to one-signed intervals). The operations and magnitude tables below
follow the papers and torchvision's reference implementation (nearest-neighbour resampling, zero fill).

Grayscale and other channel counts need no special handling: every operation acts per channel except
``color`` (saturation) and ``contrast``, which blend with the grayscale image; the grayscale image is the
BT.601 luma for 3 channels and the channel mean otherwise, so ``color`` is the identity on 1-channel
images, as in PIL.

References
----------
.. [1] S. G. Müller and F. Hutter. "TrivialAugment: Tuning-free Yet State-of-the-Art Data Augmentation".
   ICCV 2021.
.. [2] E. D. Cubuk, B. Zoph, D. Mane, V. Vasudevan and Q. V. Le. "AutoAugment: Learning Augmentation
   Strategies from Data". CVPR 2019.
.. [3] K. He, X. Zhang, S. Ren and J. Sun. "Deep Residual Learning for Image Recognition". CVPR 2016
   (flip + 4-pixel-padded crop for CIFAR).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from kornia.color import rgb_to_grayscale
from kornia.enhance import equalize, posterize, sharpness
from kornia.geometry.transform import warp_affine
from torch import Tensor, nn

__all__ = [
    "AUGMENTATION_NAMES",
    "AutoAugmentCIFAR10",
    "ImageAugmentation",
    "RandomFlipCrop",
    "TrivialAugmentWide",
    "build_image_augmentation",
    "default_crop_padding",
]

AUGMENTATION_NAMES = ("none", "flip_crop", "trivialaugment", "autoaugment")

# Operation ids shared by both policies.
_OPS = (
    "identity",
    "shear_x",
    "shear_y",
    "translate_x",
    "translate_y",
    "rotate",
    "brightness",
    "color",
    "contrast",
    "sharpness",
    "posterize",
    "solarize",
    "autocontrast",
    "equalize",
    "invert",
)
_OP_ID = {name: i for i, name in enumerate(_OPS)}
_GEOMETRIC = ("shear_x", "shear_y", "translate_x", "translate_y", "rotate")
# Operations whose magnitude gets a random sign.
_SIGNED = frozenset(_GEOMETRIC + ("brightness", "color", "contrast", "sharpness"))
# Lookup tables by operation id (CPU), built once rather than per batch.
_IS_SIGNED = torch.tensor([name in _SIGNED for name in _OPS])
_IS_GEOMETRIC = torch.tensor([name in _GEOMETRIC for name in _OPS])


def _magnitude_table(n_bins: int, shear: float, translate: float, rotate: float, enhance: float,
                     min_bits: int, solarize_max: float) -> Tensor:
    """Magnitudes ``(n_ops, n_bins)`` in each operation's native unit, as in torchvision's policies.

    Translations are stored as a fraction of the image side (multiplied by H or W when applied);
    enhancement magnitudes ``m`` act as the factor ``1 + m``; posterize holds bit counts and solarize
    thresholds in ``[0, 1]``; operations without a magnitude have a zero row.
    """
    table = torch.zeros(len(_OPS), n_bins, dtype=torch.float64)
    table[_OP_ID["shear_x"]] = table[_OP_ID["shear_y"]] = torch.linspace(0.0, shear, n_bins, dtype=torch.float64)
    table[_OP_ID["translate_x"]] = table[_OP_ID["translate_y"]] = torch.linspace(
        0.0, translate, n_bins, dtype=torch.float64
    )
    table[_OP_ID["rotate"]] = torch.linspace(0.0, rotate, n_bins, dtype=torch.float64)
    for name in ("brightness", "color", "contrast", "sharpness"):
        table[_OP_ID[name]] = torch.linspace(0.0, enhance, n_bins, dtype=torch.float64)
    # 8 bits at bin 0 down to ``min_bits`` at the last bin.
    steps = (n_bins - 1) / (8 - min_bits)
    table[_OP_ID["posterize"]] = 8 - torch.round(torch.arange(n_bins, dtype=torch.float64) / steps)
    table[_OP_ID["solarize"]] = torch.linspace(solarize_max, 0.0, n_bins, dtype=torch.float64)
    return table


def _apply_signs(op: Tensor, magnitude: Tensor) -> Tensor:
    """Negate each signed operation's magnitude with probability 1/2."""
    signed = _IS_SIGNED[op]
    flip = torch.rand(op.shape[0]) < 0.5
    return torch.where(signed & flip, -magnitude, magnitude)


def _whole_number(value: object, name: str, minimum: int) -> int:
    """``value`` as an int, refusing fractions, NaN and infinity rather than letting ``int()`` truncate them."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.") from None
    if not math.isfinite(number) or number != math.floor(number) or number < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(number)


class RandomFlipCrop(nn.Module):
    """Random crop of the zero-padded image back to its size, then a horizontal flip with probability 1/2 [3].

    Each image gets its own offsets ``(dx, dy)`` in ``0 .. 2 * padding`` and its own flip. The work is one
    gather over the batch, with no padded copy. The random draws are exactly those of ``kornia.augmentation``'s
    ``RandomCrop(image_size, padding=padding, fill=0)`` followed by ``RandomHorizontalFlip(p=0.5)``, which this
    module replaces (kornia 0.9 crops image by image): ``N`` float32 uniforms for the horizontal offsets, ``N``
    for the vertical ones, then ``N`` for the flips, from torch's global CPU generator; so the output is bit for
    bit theirs.

    Parameters
    ----------
    image_size : tuple of int
        ``(H, W)`` of the images (and of the crop).
    padding : int
        Zero padding on every side before cropping.
    """

    def __init__(self, image_size: tuple[int, int], padding: int) -> None:
        super().__init__()
        self.image_size = (int(image_size[0]), int(image_size[1]))
        # A negative padding would draw offsets outside 0 .. 2 * padding and silently crop nothing.
        self.padding = _whole_number(padding, "padding", 0)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        n, c, height, width = x.shape
        pad = self.padding
        positions = float(2 * pad + 1)  # offsets 0 .. 2 * pad, drawn as floor(u * positions) in float32
        dx = (torch.rand(n, dtype=torch.float32) * positions).floor().long()
        dy = (torch.rand(n, dtype=torch.float32) * positions).floor().long()
        flip = torch.rand(n, dtype=torch.float32) < 0.5
        # Output pixel (i, j) reads input pixel (dy + i - pad, dx + j' - pad), j' = W - 1 - j when flipped;
        # sources outside the image read the zero padding.
        cols = torch.arange(width)
        cols = dx[:, None] - pad + torch.where(flip[:, None], width - 1 - cols, cols)  # (N, W)
        rows = dy[:, None] - pad + torch.arange(height)  # (N, H)
        inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
        source = rows.clamp(0, height - 1)[:, :, None] * width + cols.clamp(0, width - 1)[:, None, :]
        source = source.view(n, 1, height * width).to(x.device).expand(n, c, height * width)
        out = x.reshape(n, c, height * width).gather(2, source).view(n, c, height, width)
        return torch.where(inside.to(x.device)[:, None], out, 0.0)

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, padding={self.padding}"


# --- pixel operations: (images (n, C, H, W), magnitudes (n,)) -> images ---------------------------------------


def _gray(x: Tensor) -> Tensor:
    return rgb_to_grayscale(x) if x.shape[1] == 3 else x.mean(dim=1, keepdim=True)


def _blend(degenerate: Tensor, x: Tensor, factor: Tensor) -> Tensor:
    """PIL ``ImageEnhance`` blend ``degenerate + factor * (x - degenerate)``, clipped to ``[0, 1]``."""
    factor = factor.view(-1, 1, 1, 1)
    return (degenerate + factor * (x - degenerate)).clamp(0.0, 1.0)


def _brightness(x: Tensor, m: Tensor) -> Tensor:
    return _blend(torch.zeros_like(x), x, 1.0 + m)


def _color(x: Tensor, m: Tensor) -> Tensor:
    return _blend(_gray(x), x, 1.0 + m)


def _contrast(x: Tensor, m: Tensor) -> Tensor:
    return _blend(_gray(x).mean(dim=(1, 2, 3), keepdim=True), x, 1.0 + m)


def _sharpness(x: Tensor, m: Tensor) -> Tensor:
    # The 3x3 blur has no interior pixel to work on when a side is 2 or less: such images are left
    # unchanged, as by torchvision's adjust_sharpness (kornia's convolution would raise).
    if min(x.shape[-2:]) <= 2:
        return x
    return sharpness(x, 1.0 + m)


def _posterize(x: Tensor, m: Tensor) -> Tensor:
    return posterize(x, m.round().long())


def _solarize(x: Tensor, m: Tensor) -> Tensor:
    return torch.where(x >= m.view(-1, 1, 1, 1), 1.0 - x, x)


def _autocontrast(x: Tensor, m: Tensor) -> Tensor:
    low = x.amin(dim=(2, 3), keepdim=True)
    high = x.amax(dim=(2, 3), keepdim=True)
    span = high - low
    # A constant channel has nothing to stretch and is left unchanged.
    flat = span <= 0
    scaled = (x - low) / torch.where(flat, torch.ones_like(span), span)
    return torch.where(flat, x, scaled).clamp(0.0, 1.0)


def _equalize(x: Tensor, m: Tensor) -> Tensor:
    return equalize(x)


def _invert(x: Tensor, m: Tensor) -> Tensor:
    return 1.0 - x


_PIXEL_OPS: dict[int, Callable[[Tensor, Tensor], Tensor]] = {
    _OP_ID["brightness"]: _brightness,
    _OP_ID["color"]: _color,
    _OP_ID["contrast"]: _contrast,
    _OP_ID["sharpness"]: _sharpness,
    _OP_ID["posterize"]: _posterize,
    _OP_ID["solarize"]: _solarize,
    _OP_ID["autocontrast"]: _autocontrast,
    _OP_ID["equalize"]: _equalize,
    _OP_ID["invert"]: _invert,
}


def _affine_matrices(op: Tensor, m: Tensor, height: int, width: int) -> Tensor:
    """Source-to-destination pixel-coordinate matrices ``(n, 2, 3)`` for the geometric operations.

    Shears are about the top-left pixel with factor ``m``; translations move by ``trunc(m * side)``
    whole pixels; rotations turn by ``m`` degrees about the image centre.
    """
    n = op.shape[0]
    mat = torch.zeros(n, 2, 3, dtype=torch.float64)
    mat[:, 0, 0] = 1.0
    mat[:, 1, 1] = 1.0
    is_op = {name: op == _OP_ID[name] for name in _GEOMETRIC}
    mat[:, 0, 1] = torch.where(is_op["shear_x"], m, 0.0)
    mat[:, 1, 0] = torch.where(is_op["shear_y"], m, 0.0)
    mat[:, 0, 2] = torch.where(is_op["translate_x"], torch.trunc(m * width), 0.0)
    mat[:, 1, 2] = torch.where(is_op["translate_y"], torch.trunc(m * height), 0.0)
    rot = is_op["rotate"]
    theta = torch.deg2rad(m[rot])
    cos, sin = torch.cos(theta), torch.sin(theta)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    # Rotation about the centre c: x' = R (x - c) + c, with R turning counter-clockwise on screen (y points down).
    rmat = torch.stack(
        [
            torch.stack([cos, sin, cx - cos * cx - sin * cy], dim=1),
            torch.stack([-sin, cos, cy + sin * cx - cos * cy], dim=1),
        ],
        dim=1,
    )
    mat[rot] = rmat
    return mat


def _apply_ops(x: Tensor, op: Tensor, magnitude: Tensor) -> Tensor:
    """Apply operation ``op[i]`` with magnitude ``magnitude[i]`` to image ``x[i]``, batched by operation.

    ``op`` and ``magnitude`` live on the CPU, so grouping the batch needs no device synchronisation.
    """
    height, width = x.shape[-2:]
    out = x.clone()
    idx = _IS_GEOMETRIC[op].nonzero().squeeze(1)
    if idx.numel() > 0:
        mats = _affine_matrices(op[idx], magnitude[idx], height, width).to(device=x.device, dtype=x.dtype)
        dev_idx = idx.to(x.device)
        warped = warp_affine(
            x.index_select(0, dev_idx), mats, (height, width), mode="nearest", padding_mode="zeros",
            align_corners=True,
        )
        out.index_copy_(0, dev_idx, warped)
    for op_id, fn in _PIXEL_OPS.items():
        idx = (op == op_id).nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        dev_idx = idx.to(x.device)
        mags = magnitude[idx].to(device=x.device, dtype=x.dtype)
        out.index_copy_(0, dev_idx, fn(x.index_select(0, dev_idx), mags))
    return out


class TrivialAugmentWide(nn.Module):
    """TrivialAugment [1] with the wide augmentation space ("TrivialAugmentWide"), one draw per image.

    Each image independently gets one operation drawn uniformly from {identity, shear_x, shear_y,
    translate_x, translate_y, rotate, brightness, color, contrast, sharpness, posterize, solarize,
    autocontrast, equalize} and one magnitude bin drawn uniformly from 31 bins; signed operations get a
    random sign. Wide ranges: shear factor up to 0.99, translation up to the full image side (32 px on
    32x32 images), rotation up to 135 degrees, enhancement factors ``1 +/- [0, 0.99]``, posterize 8..2
    bits, solarize threshold 1..0.

    References
    ----------
    .. [1] S. G. Müller and F. Hutter. "TrivialAugment: Tuning-free Yet State-of-the-Art Data
       Augmentation". ICCV 2021.
    """

    n_bins = 31
    ops = _OPS[:-1]  # everything except invert

    def __init__(self) -> None:
        super().__init__()
        self._table = _magnitude_table(
            self.n_bins, shear=0.99, translate=1.0, rotate=135.0, enhance=0.99, min_bits=2, solarize_max=1.0
        )

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        op = torch.randint(0, len(self.ops), (n,))
        bins = torch.randint(0, self.n_bins, (n,))
        magnitude = _apply_signs(op, self._table[op, bins])
        return _apply_ops(x, op, magnitude)


# AutoAugment CIFAR-10 policy [2]: 25 sub-policies of two (operation, probability, magnitude bin) steps.
_CIFAR10_POLICY: tuple[tuple[tuple[str, float, int], tuple[str, float, int]], ...] = (
    (("invert", 0.1, 0), ("contrast", 0.2, 6)),
    (("rotate", 0.7, 2), ("translate_x", 0.3, 9)),
    (("sharpness", 0.8, 1), ("sharpness", 0.9, 3)),
    (("shear_y", 0.5, 8), ("translate_y", 0.7, 9)),
    (("autocontrast", 0.5, 0), ("equalize", 0.9, 0)),
    (("shear_y", 0.2, 7), ("posterize", 0.3, 7)),
    (("color", 0.4, 3), ("brightness", 0.6, 7)),
    (("sharpness", 0.3, 9), ("brightness", 0.7, 9)),
    (("equalize", 0.6, 0), ("equalize", 0.5, 0)),
    (("contrast", 0.6, 7), ("sharpness", 0.6, 5)),
    (("color", 0.7, 7), ("translate_x", 0.5, 8)),
    (("equalize", 0.3, 0), ("autocontrast", 0.4, 0)),
    (("translate_y", 0.4, 3), ("sharpness", 0.2, 6)),
    (("brightness", 0.9, 6), ("color", 0.2, 8)),
    (("solarize", 0.5, 2), ("invert", 0.0, 0)),
    (("equalize", 0.2, 0), ("autocontrast", 0.6, 0)),
    (("equalize", 0.2, 0), ("equalize", 0.6, 0)),
    (("color", 0.9, 9), ("equalize", 0.6, 0)),
    (("autocontrast", 0.8, 0), ("solarize", 0.2, 8)),
    (("brightness", 0.1, 3), ("color", 0.7, 0)),
    (("solarize", 0.4, 5), ("autocontrast", 0.9, 0)),
    (("translate_y", 0.9, 9), ("translate_y", 0.7, 9)),
    (("autocontrast", 0.9, 0), ("solarize", 0.8, 3)),
    (("equalize", 0.8, 0), ("invert", 0.1, 0)),
    (("translate_y", 0.7, 9), ("autocontrast", 0.9, 0)),
)


class AutoAugmentCIFAR10(nn.Module):
    """AutoAugment [2] with the learned CIFAR-10 policy, one sub-policy draw per image.

    Each image independently gets one of the 25 sub-policies uniformly at random; each of its two steps
    is applied with the step's probability at the step's magnitude bin (10 bins: shear up to 0.3,
    translation up to 150/331 of the image side, rotation up to 30 degrees, enhancement ``1 +/- [0, 0.9]``,
    posterize 8..4 bits, solarize threshold 1..0), with a random sign for signed operations.

    References
    ----------
    .. [2] E. D. Cubuk, B. Zoph, D. Mane, V. Vasudevan and Q. V. Le. "AutoAugment: Learning Augmentation
       Strategies from Data". CVPR 2019.
    """

    n_bins = 10

    def __init__(self) -> None:
        super().__init__()
        self._table = _magnitude_table(
            self.n_bins, shear=0.3, translate=150.0 / 331.0, rotate=30.0, enhance=0.9, min_bits=4,
            solarize_max=1.0,
        )
        self._ops = torch.tensor([[_OP_ID[name] for name, _, _ in sub] for sub in _CIFAR10_POLICY])
        self._probs = torch.tensor([[p for _, p, _ in sub] for sub in _CIFAR10_POLICY], dtype=torch.float64)
        self._bins = torch.tensor([[b for _, _, b in sub] for sub in _CIFAR10_POLICY])

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        sub = torch.randint(0, len(_CIFAR10_POLICY), (n,))
        for step in range(2):
            op = self._ops[sub, step]
            applied = torch.rand(n, dtype=torch.float64) < self._probs[sub, step]
            op = torch.where(applied, op, torch.full_like(op, _OP_ID["identity"]))
            magnitude = _apply_signs(op, self._table[op, self._bins[sub, step]])
            x = _apply_ops(x, op, magnitude)
        return x


class ImageAugmentation(nn.Module):
    """A named chain of batched image transforms with input validation.

    The transforms always run when the module is called (also in ``eval()`` mode): the caller decides
    when to augment. Inputs must be float tensors ``(N, C, H, W)`` of size ``image_size``.

    Parameters
    ----------
    name : str
        Name reported by ``repr`` and kept as ``self.name``.
    image_size : tuple of int
        Expected ``(H, W)``.
    transforms : sequence of nn.Module
        Applied in order.
    """

    def __init__(self, name: str, image_size: tuple[int, int], transforms: list[nn.Module]) -> None:
        super().__init__()
        self.name = name
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.transforms = nn.ModuleList(transforms)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or not x.is_floating_point():
            raise ValueError(f"Expected a float tensor of shape (N, C, H, W); got {x.dtype} {tuple(x.shape)}.")
        if tuple(x.shape[-2:]) != self.image_size:
            raise ValueError(f"Expected images of size {self.image_size}; got {tuple(x.shape[-2:])}.")
        if not self.transforms or x.shape[0] == 0:
            return x
        out = x
        for transform in self.transforms:
            out = transform(out)
        return out.to(dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, image_size={self.image_size}"


def default_crop_padding(image_size: tuple[int, int]) -> int:
    """Crop padding scaled from CIFAR's 4 pixels on 32x32 images: ``round(min(H, W) / 8)``, at least 1."""
    return max(1, int(math.floor(min(image_size) / 8.0 + 0.5)))


def build_image_augmentation(
    name: str, image_size: tuple[int, int], *, padding: int | None = None
) -> ImageAugmentation:
    """Build a batched image augmentation by name.

    Parameters
    ----------
    name : {'none', 'flip_crop', 'trivialaugment', 'autoaugment'}
        - ``'none'``: identity (returns its input unchanged).
        - ``'flip_crop'``: horizontal flip with probability 1/2 and a random crop of the zero-padded image
          back to ``image_size`` [3] (padding 4 on 32x32, 1 on 8x8).
        - ``'trivialaugment'``: ``flip_crop`` then :class:`TrivialAugmentWide` [1].
        - ``'autoaugment'``: ``flip_crop`` then :class:`AutoAugmentCIFAR10` [2].
    image_size : tuple of int
        ``(H, W)`` of the images; the crop output size.
    padding : int, optional
        Crop padding in pixels; defaults to :func:`default_crop_padding`.

    Returns
    -------
    ImageAugmentation
        Module mapping float ``(N, C, H, W)`` tensors in ``[0, 1]`` to tensors of the same shape, dtype,
        device and range.

    Raises
    ------
    ValueError
        For an unknown name or an invalid size/padding.
    """
    key = name.strip().lower()
    if key not in AUGMENTATION_NAMES:
        raise ValueError(f"Unknown image augmentation {name!r}; valid names: {', '.join(AUGMENTATION_NAMES)}.")
    # Exactly (H, W): a (C, H, W) or (H, W, C) shape would otherwise be cut to its first two entries and
    # only fail, confusingly, at the first batch ("Expected images of size (3, 32)").
    if len(image_size) != 2:
        raise ValueError(f"image_size must be (height, width); got {tuple(image_size)}.")
    # Whole numbers only: int() would truncate (8, 8.5) to a module expecting (8, 8), and fail on NaN with
    # a message naming no argument.
    height = _whole_number(image_size[0], "image_size[0] (height)", 1)
    width = _whole_number(image_size[1], "image_size[1] (width)", 1)
    if key == "none":
        return ImageAugmentation(key, (height, width), [])
    pad = default_crop_padding((height, width)) if padding is None else _whole_number(padding, "padding", 0)
    transforms: list[nn.Module] = [RandomFlipCrop((height, width), pad)]
    if key == "trivialaugment":
        transforms.append(TrivialAugmentWide())
    elif key == "autoaugment":
        transforms.append(AutoAugmentCIFAR10())
    return ImageAugmentation(key, (height, width), transforms)
