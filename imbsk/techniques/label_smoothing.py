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

from collections.abc import Callable

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


#: Default of ``unsmoothed_probabilities``'s ``floor_fraction``: chosen on the validation log-loss of the
#: Otto and Adult benchmarks, which is flat from 0.02 to 0.2 (docs/benchmarks.md, fifteenth run).
DEFAULT_FLOOR_FRACTION = 0.05


def predicted_probabilities(logits: Tensor, transform: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """The probabilities that predict: the softmax of ``logits`` in float64, mapped by ``transform`` when given.

    ``transform`` is the smoothing inversion (:func:`unsmoothed_probabilities` with the class strengths) or
    None. One function for the estimators' ``predict_proba``, the net's (skorch's scoring callbacks) and the
    validation scores, so that near-ties resolve alike in all of them.
    """
    proba = torch.softmax(logits.double(), dim=1)
    return proba if transform is None else transform(proba)


def unsmoothed_probabilities(
    proba: Tensor, eps_per_class: Tensor, floor_fraction: float = DEFAULT_FLOOR_FRACTION
) -> Tensor:
    """Class probabilities with the class-conditional smoothing of the training targets undone.

    Cross-entropy against the smoothed targets is minimised by the expected target, so a
    network trained on them estimates

        p_j(x) = E[q_{y,j} | x] = (1 - eps_j) P(j | x) + c(x),    c(x) = (1 / K) sum_y eps_y P(y | x),

    where ``c(x)`` is the same for every class ``j``. Solving for ``P(j | x)`` with
    ``sum_j P(j | x) = 1`` gives, with ``a_j = 1 / (1 - eps_j)``,

        c = (sum_j a_j p_j - 1) / sum_j a_j,    u_j = a_j (p_j - c).

    A network's ``p_j`` can fall below ``c`` (it is an estimate, not the expectation), and the
    exact inverse ``u_j`` is then negative: it would declare the class impossible, a certainty the
    network never expressed. Each class therefore keeps a fraction ``f`` of the network's own
    probability, and each row is renormalised:

        P(j | x) = max(u_j, f p_j) / sum_k max(u_k, f p_k),    f = min(floor_fraction, 1 / K).

    The floor only lifts classes the inverse puts below ``f p_j``; capped at ``1 / K`` it never
    changes the argmax (the largest ``u_j`` is at least ``1 / K``: clipped at 0, the ``u_j`` sum to at
    least 1).
    ``floor_fraction=0`` gives the exact inverse clipped at 0. With one ``eps`` for all classes
    the map keeps the order of the classes and only sharpens the probabilities; with
    class-conditional ``eps_c`` it also gives back the share that the larger smoothing of the
    minority classes took from them.

    Parameters
    ----------
    proba : Tensor of shape (n_samples, K)
        The network's probabilities (softmax of its logits), rows summing to 1.
    eps_per_class : Tensor of shape (K,)
        Smoothing strength of each class during training, each in ``[0, 1)``: at
        ``eps_c = 1`` a class's target is the uniform distribution, which carries nothing
        of ``P(c | x)`` to recover.
    floor_fraction : float, default=0.05
        ``f`` above, in ``[0, 1]`` (capped at ``1 / K``). On the Otto benchmark the
        inverted test log-loss is 0.478 without a floor and 0.455 with the default (0.491
        not inverted; docs/benchmarks.md, fifteenth run).

    Returns
    -------
    Tensor of shape (n_samples, K)
        Estimates of ``P(j | x)``, rows summing to 1, positive where ``proba`` is (for
        ``floor_fraction > 0``), in ``proba``'s dtype.
    """
    # Checked where eps lives: a CPU tensor (as the estimators pass) costs the device no synchronisation.
    if eps_per_class.shape != proba.shape[1:]:
        raise ValueError(f"eps_per_class has shape {tuple(eps_per_class.shape)}; expected ({proba.shape[1]},).")
    if bool(((eps_per_class < 0) | (eps_per_class >= 1)).any()):
        raise ValueError(f"every smoothing strength must lie in [0, 1) to be inverted; got {eps_per_class.tolist()}.")
    if not 0.0 <= floor_fraction <= 1.0:
        raise ValueError(f"floor_fraction must lie in [0, 1]; got {floor_fraction!r}.")
    eps = eps_per_class.to(device=proba.device, dtype=proba.dtype)
    scale = 1.0 / (1.0 - eps)
    smoothing_level = ((proba * scale).sum(dim=1, keepdim=True) - 1.0) / scale.sum()
    unsmoothed = ((proba - smoothing_level) * scale).clamp_min(0.0)
    fraction = min(float(floor_fraction), 1.0 / proba.shape[1])
    if fraction > 0:
        unsmoothed = torch.maximum(unsmoothed, fraction * proba)
    return unsmoothed / unsmoothed.sum(dim=1, keepdim=True)
