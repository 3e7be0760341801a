"""Class-conditional label smoothing (paper Section 3.2 and Appendix A.7).

Plain label smoothing (Szegedy et al. 2016; Mueller et al. 2019) trains
against the target ``q = (1 - eps) * onehot(y) + eps / K``. The class-
conditional variant gives each class its own strength ``eps_y``:

    q_{y,j} = (1 - eps_y) * 1[j = y] + eps_y / K,    L = - sum_j q_{y,j} log p_j

so that minority classes, which a network overfits first, are smoothed more.
How ``eps_y`` follows from the base ``eps`` and the class counts is set by the
``class_scaling`` rule (:mod:`imbsk.techniques.class_scaling`). With
``eps = 0`` the target is the one-hot vector and the loss is exactly the
cross-entropy.
"""

from __future__ import annotations

import torch
from torch import Tensor


def smoothed_targets(
    y: Tensor, n_classes: int, eps_per_class: Tensor | None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Soft targets ``q_{y,j} = (1 - eps_y) 1[j = y] + eps_y / K`` for a batch of labels.

    Parameters
    ----------
    y : Tensor of shape (n_samples,), int64
        Encoded labels in ``[0, K)``.
    n_classes : int
        ``K``.
    eps_per_class : Tensor of shape (K,) or None
        Smoothing strength of each class; None means no smoothing.
    dtype : torch.dtype, default=torch.float32
        dtype of the targets (that of the logits they are used with).

    Returns
    -------
    Tensor of shape (n_samples, K), rows summing to 1.
    """
    onehot = torch.nn.functional.one_hot(y, n_classes).to(dtype)
    if eps_per_class is None:
        return onehot
    eps = eps_per_class.to(device=y.device, dtype=dtype)[y].unsqueeze(1)
    return onehot * (1.0 - eps) + eps / n_classes
