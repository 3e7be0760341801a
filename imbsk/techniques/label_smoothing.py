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

A network trained on these targets estimates the expected target, not the class
probabilities; :func:`unsmoothed_probabilities` maps the one back to the other
(the estimators' ``invert_smoothing=True``).
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


def unsmoothed_probabilities(proba: Tensor, eps_per_class: Tensor) -> Tensor:
    """Class probabilities with the class-conditional smoothing of the training targets undone.

    Cross-entropy against the smoothed targets is minimised by the expected target, so a
    network trained on them estimates

        p_j(x) = E[q_{y,j} | x] = (1 - eps_j) P(j | x) + c(x),    c(x) = (1 / K) sum_y eps_y P(y | x),

    where ``c(x)`` is the same for every class ``j``. Solving for ``P(j | x)`` with
    ``sum_j P(j | x) = 1`` gives, with ``a_j = 1 / (1 - eps_j)``,

        c = (sum_j a_j p_j - 1) / sum_j a_j,    P(j | x) = a_j (p_j - c).

    A network's ``p_j`` can fall below ``c`` (it is an estimate, not the expectation); those
    classes get probability 0 and each row is renormalised (at least one entry is positive,
    since ``sum_j a_j (p_j - c) = 1``). With one ``eps`` for all classes the map keeps the
    order of the classes (the argmax is unchanged) and only sharpens the probabilities;
    with class-conditional ``eps_c`` it also gives back the share that the larger smoothing
    of the minority classes took from them.

    Parameters
    ----------
    proba : Tensor of shape (n_samples, K)
        The network's probabilities (softmax of its logits), rows summing to 1.
    eps_per_class : Tensor of shape (K,)
        Smoothing strength of each class during training, each in ``[0, 1)``: at
        ``eps_c = 1`` a class's target is the uniform distribution, which carries nothing
        of ``P(c | x)`` to recover.

    Returns
    -------
    Tensor of shape (n_samples, K)
        Estimates of ``P(j | x)``, non-negative, rows summing to 1, in ``proba``'s dtype.
    """
    # Checked where eps lives: a CPU tensor (as the estimators pass) costs the device no synchronisation.
    if eps_per_class.shape != proba.shape[1:]:
        raise ValueError(f"eps_per_class has shape {tuple(eps_per_class.shape)}; expected ({proba.shape[1]},).")
    if bool(((eps_per_class < 0) | (eps_per_class >= 1)).any()):
        raise ValueError(f"every smoothing strength must lie in [0, 1) to be inverted; got {eps_per_class.tolist()}.")
    eps = eps_per_class.to(device=proba.device, dtype=proba.dtype)
    scale = 1.0 / (1.0 - eps)
    floor = ((proba * scale).sum(dim=1, keepdim=True) - 1.0) / scale.sum()
    unsmoothed = ((proba - floor) * scale).clamp_min(0.0)
    return unsmoothed / unsmoothed.sum(dim=1, keepdim=True)
