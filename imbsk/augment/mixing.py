"""Batch-level sample mixing: CutMix (Yun et al., 2019) and MixUp (Zhang et al., 2018).

Both methods pair every sample ``i`` of a batch with sample ``perm[i]`` of a random permutation of the
same batch and train on the mixed input with the loss ``lam * l(f(x_mixed), y_a) + (1 - lam) *
l(f(x_mixed), y_b)``. :func:`mix_batch` returns the mixed images together with ``y_a``, ``y_b`` and the
per-sample weight ``lam`` so that callers can keep per-sample losses (e.g. for re-weighting);
:func:`mixed_loss` evaluates that combination.

References
----------
.. [1] S. Yun, D. Han, S. J. Oh, S. Chun, J. Choe and Y. Yoo. "CutMix: Regularization Strategy to Train
   Strong Classifiers with Localizable Features". ICCV 2019.
.. [2] H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz. "mixup: Beyond Empirical Risk Minimization".
   ICLR 2018.
"""

from __future__ import annotations

from typing import Callable, Literal

import numpy as np
import torch
from torch import Tensor

__all__ = ["mix_batch", "mixed_loss"]


def _sample_beta(alpha: float, size: int, generator: torch.Generator | None) -> Tensor:
    """Draw ``size`` values from Beta(alpha, alpha), reproducibly from ``generator`` (or torch's global RNG)."""
    # torch's Beta/Gamma samplers accept no generator, so a numpy generator is seeded from the torch one;
    # this keeps the draw tied to torch.manual_seed / the caller's generator.
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    return torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=size))


def _cutmix_masks(
    lam: Tensor, height: int, width: int, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """Sample one box per entry of ``lam`` as in [1] and return (box masks ``(B, H, W)``, kept fraction ``(B,)``).

    The box has sides ``H*sqrt(1-lam)`` x ``W*sqrt(1-lam)`` (truncated to integers) and a centre drawn
    uniformly over the image; it is clipped to the image, so the pasted area can be smaller than ``1-lam``.
    """
    n = lam.shape[0]
    cut_ratio = torch.sqrt(1.0 - lam)
    cut_h = (height * cut_ratio).long()
    cut_w = (width * cut_ratio).long()
    cy = torch.randint(0, height, (n,), generator=generator)
    cx = torch.randint(0, width, (n,), generator=generator)
    y1 = (cy - cut_h // 2).clamp(0, height)
    y2 = (cy + cut_h // 2).clamp(0, height)
    x1 = (cx - cut_w // 2).clamp(0, width)
    x2 = (cx + cut_w // 2).clamp(0, width)
    rows = torch.arange(height)
    cols = torch.arange(width)
    in_rows = (rows[None, :] >= y1[:, None]) & (rows[None, :] < y2[:, None])  # (B, H)
    in_cols = (cols[None, :] >= x1[:, None]) & (cols[None, :] < x2[:, None])  # (B, W)
    box = in_rows[:, :, None] & in_cols[:, None, :]
    kept = 1.0 - ((y2 - y1) * (x2 - x1)).double() / float(height * width)
    return box, kept


def mix_batch(
    x: Tensor,
    y: Tensor,
    method: Literal["cutmix", "mixup"],
    alpha: float = 1.0,
    generator: torch.Generator | None = None,
    per_sample: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Mix a batch with CutMix [1] or MixUp [2].

    A random permutation ``perm`` of the batch pairs sample ``i`` with ``perm[i]`` and a mixing ratio is
    drawn as ``lam ~ Beta(alpha, alpha)``. As in the reference code of [1] and [2], ``perm`` may have fixed
    points (on average one per batch, and always in a batch of one): such a sample is paired with itself, its
    input comes back unchanged (up to rounding for MixUp) and, with ``y_b[i] = y_a[i]``, its mixed loss is its
    plain loss whatever ``lam``.

    - MixUp: ``x_mixed = lam * x + (1 - lam) * x[perm]``.
    - CutMix: a box of area about ``(1 - lam) * H * W`` with a uniformly drawn centre (clipped to the
      image) is cut from ``x[perm]`` and pasted onto ``x``; the returned ``lam`` is then the exact fraction
      of pixels still coming from ``x``, ``1 - box_area / (H * W)``, as in the reference code of [1].

    Parameters
    ----------
    x : Tensor of shape (N, ...)
        Batch of inputs; CutMix needs images ``(N, C, H, W)``, MixUp accepts any shape with a float dtype.
    y : Tensor of shape (N,) or (N, ...)
        Targets; only permuted.
    method : {'cutmix', 'mixup'}
        Mixing method.
    alpha : float, default=1.0
        Beta-distribution parameter; ``alpha = 0`` disables mixing (``lam = 1``), as in [2]'s reference code.
    generator : torch.Generator, optional
        CPU random generator for the permutation, ``lam`` and boxes; torch's global RNG when ``None``.
        Randomness is always drawn on the CPU, so results do not depend on the device of ``x``.
    per_sample : bool, default=False
        Draw one ``lam`` (and, for CutMix, one box) per sample instead of one per batch as in [1] and [2].

    Returns
    -------
    x_mixed : Tensor
        Mixed inputs, same shape, dtype and device as ``x``.
    y_a : Tensor
        ``y`` (the targets of the samples that keep weight ``lam``).
    y_b : Tensor
        ``y[perm]``.
    lam : Tensor of shape (N,)
        Weight of ``y_a`` per sample, on ``x``'s device, dtype of ``x`` (float32 if ``x`` is not floating).

    Raises
    ------
    ValueError
        For an unknown method, a negative or non-finite ``alpha``, mismatched batch sizes, a non-image CutMix
        input or a non-floating MixUp input.
    """
    if method not in ("cutmix", "mixup"):
        raise ValueError(f"method must be 'cutmix' or 'mixup'; got {method!r}.")
    if not 0.0 <= alpha < float("inf"):
        # Beta(inf, inf) is no distribution numpy can draw from: it returns NaN, which MixUp would pass on to
        # the images and the loss (and CutMix turn into an arbitrary box).
        raise ValueError(f"alpha must be a finite number >= 0; got {alpha}.")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same batch size; got {x.shape[0]} and {y.shape[0]}.")
    if method == "cutmix" and x.ndim != 4:
        raise ValueError(f"CutMix expects images of shape (N, C, H, W); got shape {tuple(x.shape)}.")
    if method == "mixup" and not x.is_floating_point():
        # The convex combination is not representable in an integer dtype: casting back would truncate it
        # while ``lam`` still claimed the exact weights.
        raise ValueError(f"MixUp needs a floating-point x; got {x.dtype}. Convert it first (e.g. x.float() / 255).")
    n = x.shape[0]
    lam_dtype = x.dtype if x.is_floating_point() else torch.float32

    perm = torch.randperm(n, generator=generator)
    n_draws = n if per_sample else 1
    if alpha > 0:
        lam = _sample_beta(alpha, n_draws, generator)
    else:
        lam = torch.ones(n_draws, dtype=torch.float64)
    # A real (N,) tensor, not a stride-0 view of the single draw: ``.to`` below copies only when it changes the
    # dtype or device, so a float64 CPU batch would otherwise get back a view that in-place updates
    # (``lam.mul_(w)``) refuse.
    lam = lam.expand(n).contiguous()

    perm_dev = perm.to(x.device)
    x_perm = x.index_select(0, perm_dev)
    y_b = y.index_select(0, perm.to(y.device))

    if method == "mixup":
        lam_dev = lam.to(device=x.device, dtype=lam_dtype)
        shape = (n,) + (1,) * (x.ndim - 1)
        x_mixed = lam_dev.view(shape) * x + (1.0 - lam_dev.view(shape)) * x_perm
        return x_mixed.to(x.dtype), y, y_b, lam_dev

    height, width = x.shape[-2:]
    box, kept = _cutmix_masks(lam[:n_draws], height, width, generator)
    box = box.expand(n, height, width).to(x.device)
    kept = kept.expand(n).contiguous()
    x_mixed = torch.where(box[:, None, :, :], x_perm, x)
    return x_mixed, y, y_b, kept.to(device=x.device, dtype=lam_dtype)


def mixed_loss(
    per_sample_loss_fn: Callable[[Tensor, Tensor], Tensor],
    logits: Tensor,
    y_a: Tensor,
    y_b: Tensor,
    lam: Tensor | float,
) -> Tensor:
    """Per-sample mixed loss ``lam * l(logits, y_a) + (1 - lam) * l(logits, y_b)`` of [1] and [2].

    Parameters
    ----------
    per_sample_loss_fn : callable
        ``l(logits, targets) -> (N,)`` unreduced loss (e.g. ``cross_entropy(..., reduction='none')``).
    logits : Tensor of shape (N, n_classes)
        Model outputs on the mixed batch.
    y_a, y_b : Tensor
        Targets returned by :func:`mix_batch`.
    lam : Tensor of shape (N,) or float
        Weight of ``y_a`` per sample.

    Returns
    -------
    Tensor of shape (N,)
        The mixed loss of every sample (not reduced).
    """
    loss_a = per_sample_loss_fn(logits, y_a)
    loss_b = per_sample_loss_fn(logits, y_b)
    if isinstance(lam, Tensor):
        lam = lam.to(device=loss_a.device, dtype=loss_a.dtype)
    return lam * loss_a + (1.0 - lam) * loss_b
