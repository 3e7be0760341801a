"""Per-sample losses for the class-imbalance baselines.

Every module here maps ``(logits (N, K), y (N,) int64)`` to a tensor of
``N`` per-sample losses (no reduction), so that the training step can weight
samples (re-weighting, DRW) and split the loss by class (SAM-A) itself.
Each accepts an optional per-class label-smoothing vector ``eps_per_class``
(the class-conditional smoothing of the paper, Appendix A.7) and trains
against the smoothed target

    q_{i,k} = (1 - eps_{y_i}) * 1[k = y_i] + eps_{y_i} / K.

With ``eps_per_class`` None or all zeros ``q`` is the one-hot target.

Losses
------
``'cross_entropy'``  :class:`SmoothedCrossEntropy`, the ERM baseline.
``'focal'``          :class:`FocalLoss` (Lin et al. 2017).
``'ldam'``           :class:`LDAMLoss` (Cao et al. 2019); combine with
                     deferred re-weighting (:func:`imbsk.techniques.class_weights.drw_weights`)
                     for the LDAM-DRW baseline.

Class weights are deliberately *not* a loss argument: the caller multiplies
the per-sample losses by ``w[y]``. Note that ``F.cross_entropy(weight=w)``
with ``reduction='mean'`` divides by ``sum_i w[y_i]`` instead of ``N``; the
caller chooses which normalisation it wants.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from imbsk.techniques.label_smoothing import smoothed_targets

LOSS_NAMES = ("cross_entropy", "focal", "ldam")


def _as_eps_buffer(eps_per_class: Tensor | Sequence[float] | np.ndarray | None) -> Tensor | None:
    """Validate a per-class smoothing vector and return it as a float32 tensor (or None)."""
    if eps_per_class is None:
        return None
    eps = torch.as_tensor(eps_per_class).detach().to(torch.float32).clone()
    if eps.ndim != 1 or eps.numel() == 0:
        raise ValueError(f"eps_per_class must be a non-empty 1-D tensor of shape (K,), got shape {tuple(eps.shape)}.")
    if not bool(torch.all(torch.isfinite(eps))) or bool(torch.any(eps < 0)) or bool(torch.any(eps > 1)):
        raise ValueError(f"eps_per_class values must lie in [0, 1], got {eps.tolist()}.")
    return eps


def _check_inputs(logits: Tensor, y: Tensor, eps_per_class: Tensor | None) -> Tensor:
    """Shape checks shared by all losses; returns logits upcast to at least float32."""
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, K), got {tuple(logits.shape)}.")
    if y.ndim != 1 or y.shape[0] != logits.shape[0]:
        raise ValueError(f"y must have shape (N,) = ({logits.shape[0]},), got {tuple(y.shape)}.")
    if eps_per_class is not None and eps_per_class.shape[0] != logits.shape[1]:
        raise ValueError(
            f"eps_per_class has {eps_per_class.shape[0]} entries but logits have {logits.shape[1]} classes."
        )
    # Softmax in half precision loses too much at the tails that these losses weight.
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    return logits


def _soft_cross_entropy(logits: Tensor, q: Tensor) -> Tensor:
    """``-sum_k q_k log softmax(z)_k`` per row."""
    return -(q * F.log_softmax(logits, dim=1)).sum(dim=1)


class SmoothedCrossEntropy(nn.Module):
    r"""Cross-entropy against class-conditionally smoothed targets, per sample.

    .. math::

        \ell_i = -\sum_{k=1}^{K} q_{i,k} \log \operatorname{softmax}(z_i)_k,
        \qquad q_{i,k} = (1 - \epsilon_{y_i}) [k = y_i] + \epsilon_{y_i} / K.

    With ``eps_per_class`` None (or all zeros) this is exactly
    ``F.cross_entropy(logits, y, reduction='none')``; with a constant
    ``eps`` it equals ``F.cross_entropy(..., label_smoothing=eps)``.

    Parameters
    ----------
    eps_per_class : Tensor of shape (K,) or None, default=None
        Label-smoothing strength of each class in ``[0, 1]`` (registered as a
        buffer so it follows the module's device). None means no smoothing.

    References
    ----------
    Szegedy et al., "Rethinking the Inception Architecture for Computer
    Vision", CVPR 2016 (label smoothing). Shwartz-Ziv et al., "Simplifying
    Neural Network Training Under Class Imbalance", NeurIPS 2023, Appendix A.7
    (class-conditional smoothing).
    """

    eps_per_class: Tensor | None

    #: The ``loss`` name :func:`build_loss` builds this module for.
    loss_name = "cross_entropy"

    def __init__(self, eps_per_class: Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("eps_per_class", _as_eps_buffer(eps_per_class))

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        """Per-sample losses of shape (N,)."""
        logits = _check_inputs(logits, y, self.eps_per_class)
        if self.eps_per_class is None:
            return F.cross_entropy(logits, y, reduction="none")
        # (1 - eps_y) * CE(onehot) + eps_y * CE(uniform), without building the (N, K) target
        log_p = F.log_softmax(logits, dim=1)
        nll = -log_p.gather(1, y.unsqueeze(1)).squeeze(1)
        eps = self.eps_per_class.to(log_p.dtype)[y]
        return nll + eps * (-log_p.mean(dim=1) - nll)


class FocalLoss(nn.Module):
    r"""Softmax focal loss with (optionally smoothed) soft targets, per sample.

    .. math::

        \ell_i = -\sum_{k=1}^{K} q_{i,k} (1 - p_{i,k})^{\gamma} \log p_{i,k},
        \qquad p_i = \operatorname{softmax}(z_i).

    With one-hot targets this is Lin et al.'s ``-(1 - p_y)^gamma log p_y``:
    well-classified samples (``p_y`` near 1) are down-weighted, so the
    gradient concentrates on hard, often minority-class, samples. ``gamma =
    0`` gives the (smoothed) cross-entropy. The soft-target sum is the natural
    generalisation: each target class contributes its own focal term.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter, ``>= 0`` (Lin et al. use 2).
    eps_per_class : Tensor of shape (K,) or None, default=None
        Label-smoothing strength of each class (buffer); None means no smoothing.

    References
    ----------
    Lin, Goyal, Girshick, He and Dollar, "Focal Loss for Dense Object
    Detection", ICCV 2017.
    """

    eps_per_class: Tensor | None

    #: The ``loss`` name :func:`build_loss` builds this module for.
    loss_name = "focal"

    def __init__(self, gamma: float = 2.0, eps_per_class: Tensor | None = None) -> None:
        super().__init__()
        if not np.isfinite(gamma) or gamma < 0:
            raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}.")
        self.gamma = float(gamma)
        self.register_buffer("eps_per_class", _as_eps_buffer(eps_per_class))

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        """Per-sample losses of shape (N,)."""
        logits = _check_inputs(logits, y, self.eps_per_class)
        q = smoothed_targets(y, logits.shape[1], self.eps_per_class, dtype=logits.dtype)
        log_p = F.log_softmax(logits, dim=1)
        # -expm1(log p) is 1 - p without the cancellation near p = 1. The floor
        # keeps (1 - p)^gamma differentiable when p rounds to exactly 1 and
        # gamma < 1 (the derivative of x^gamma is infinite at 0); below the
        # floor the focal term is ~0 anyway.
        one_minus_p = (-torch.expm1(log_p)).clamp_min(torch.finfo(log_p.dtype).eps)
        modulating = one_minus_p.pow(self.gamma)
        return -(q * modulating * log_p).sum(dim=1)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}"


def ldam_margins(class_counts: np.ndarray | Sequence[float], max_margin: float = 0.5) -> np.ndarray:
    r"""LDAM's per-class margins ``Delta_c = C / n_c^{1/4}`` with ``max_c Delta_c = max_margin``.

    .. math::

        \Delta_c = \frac{C}{n_c^{1/4}}, \qquad
        C = \text{max\_margin} \cdot \min_c n_c^{1/4}.

    Parameters
    ----------
    class_counts : array-like of shape (K,)
        Training samples per class, all positive.
    max_margin : float, default=0.5
        Margin of the rarest class (Cao et al. tune it; their code uses 0.5).

    Returns
    -------
    margins : ndarray of shape (K,), float64

    References
    ----------
    Cao, Wei, Gaidon, Arechiga and Ma, "Learning Imbalanced Datasets with
    Label-Distribution-Aware Margin Loss", NeurIPS 2019, Eq. (13).
    """
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError("class_counts must be a non-empty 1-D array of per-class sample counts.")
    if not np.all(np.isfinite(counts)) or np.any(counts <= 0):
        raise ValueError(f"class_counts must be positive and finite, got {counts.tolist()}.")
    if not np.isfinite(max_margin) or max_margin < 0:
        raise ValueError(f"max_margin must be a finite number >= 0, got {max_margin!r}.")
    inv_quarter = counts ** -0.25
    return max_margin * inv_quarter / inv_quarter.max()


class LDAMLoss(nn.Module):
    r"""Label-distribution-aware margin loss, per sample.

    .. math::

        \ell_i = -\sum_{k} q_{i,k} \log \operatorname{softmax}\big(s\,(z_i - \Delta_{y_i} e_{y_i})\big)_k,
        \qquad \Delta_c = C / n_c^{1/4},

    i.e. the true-class logit is lowered by its class margin before a
    (smoothed) cross-entropy, which forces rare classes to be separated by a
    larger margin. ``C`` is set so that ``max_c Delta_c = max_margin``
    (:func:`ldam_margins`).

    Scale: Cao et al.'s code uses a cosine classifier (L2-normalised features
    and class weights, so logits lie in [-1, 1]) and multiplies the logits by
    ``s = 30`` to make the softmax sharp enough. imbsk's heads are ordinary
    unnormalised linear layers whose logits already have a free scale, so the
    default here is ``scale = 1``: the margin is then measured in raw logit
    units. Use ``scale = 30`` only with a normalised head.

    Combine with deferred re-weighting (the caller multiplies by
    ``drw_weights(...)[y]``) for the LDAM-DRW baseline.

    Parameters
    ----------
    class_counts : array-like of shape (K,)
        Training samples per class, all positive.
    max_margin : float, default=0.5
        Largest margin (that of the rarest class).
    scale : float, default=1.0
        Multiplier ``s`` applied to the margin-adjusted logits.
    eps_per_class : Tensor of shape (K,) or None, default=None
        Label-smoothing strength of each class (buffer); None means no smoothing.

    Attributes
    ----------
    margins : Tensor of shape (K,), float32
        ``Delta_c`` (buffer).

    References
    ----------
    Cao, Wei, Gaidon, Arechiga and Ma, "Learning Imbalanced Datasets with
    Label-Distribution-Aware Margin Loss", NeurIPS 2019.
    """

    margins: Tensor
    eps_per_class: Tensor | None

    #: The ``loss`` name :func:`build_loss` builds this module for.
    loss_name = "ldam"

    def __init__(
        self,
        class_counts: np.ndarray | Sequence[float],
        max_margin: float = 0.5,
        scale: float = 1.0,
        eps_per_class: Tensor | None = None,
    ) -> None:
        super().__init__()
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale must be a finite number > 0, got {scale!r}.")
        self.max_margin = float(max_margin)
        self.scale = float(scale)
        margins = ldam_margins(class_counts, max_margin)
        self.register_buffer("margins", torch.as_tensor(margins, dtype=torch.float32))
        eps = _as_eps_buffer(eps_per_class)
        if eps is not None and eps.shape[0] != margins.shape[0]:
            raise ValueError(f"eps_per_class has {eps.shape[0]} entries but class_counts has {margins.shape[0]}.")
        self.register_buffer("eps_per_class", eps)

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        """Per-sample losses of shape (N,)."""
        logits = _check_inputs(logits, y, self.eps_per_class)
        n_classes = logits.shape[1]
        if n_classes != self.margins.shape[0]:
            raise ValueError(f"logits have {n_classes} classes but the loss was built for {self.margins.shape[0]}.")
        onehot = F.one_hot(y, n_classes).to(logits.dtype)
        margin_y = self.margins.to(logits.dtype)[y].unsqueeze(1)
        adjusted = self.scale * (logits - margin_y * onehot)
        q = smoothed_targets(y, n_classes, self.eps_per_class, dtype=logits.dtype)
        return _soft_cross_entropy(adjusted, q)

    def extra_repr(self) -> str:
        return f"max_margin={self.max_margin}, scale={self.scale}"


def build_loss(
    name: str,
    *,
    n_classes: int,
    class_counts: np.ndarray,
    eps_per_class: Tensor | None = None,
    focal_gamma: float = 2.0,
    ldam_max_margin: float = 0.5,
    ldam_scale: float = 1.0,
) -> nn.Module:
    """Build a per-sample loss module by name.

    Parameters
    ----------
    name : {'cross_entropy', 'focal', 'ldam'}
        Which loss (see the module docstring).
    n_classes : int
        ``K``; checked against ``class_counts`` and ``eps_per_class``.
    class_counts : ndarray of shape (K,)
        Training samples per class (used by ``'ldam'``).
    eps_per_class : Tensor of shape (K,) or None, default=None
        Per-class label smoothing; None means none.
    focal_gamma : float, default=2.0
        ``gamma`` of :class:`FocalLoss`.
    ldam_max_margin : float, default=0.5
        ``max_margin`` of :class:`LDAMLoss`.
    ldam_scale : float, default=1.0
        ``scale`` of :class:`LDAMLoss` (1 for unnormalised heads; see its docstring).

    Returns
    -------
    loss : nn.Module
        ``loss(logits, y)`` returns per-sample losses of shape (N,).
    """
    counts = np.asarray(class_counts)
    if counts.ndim != 1 or counts.shape[0] != n_classes:
        raise ValueError(f"class_counts must have shape ({n_classes},), got {counts.shape}.")
    eps = _as_eps_buffer(eps_per_class)
    if eps is not None and eps.shape[0] != n_classes:
        raise ValueError(f"eps_per_class must have shape ({n_classes},), got {tuple(eps.shape)}.")
    if name == "cross_entropy":
        return SmoothedCrossEntropy(eps_per_class=eps)
    if name == "focal":
        return FocalLoss(gamma=focal_gamma, eps_per_class=eps)
    if name == "ldam":
        return LDAMLoss(counts, max_margin=ldam_max_margin, scale=ldam_scale, eps_per_class=eps)
    raise ValueError(f"Unknown loss {name!r}; valid names are {list(LOSS_NAMES)}.")
