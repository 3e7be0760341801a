"""Class weights for loss re-weighting, deferred re-weighting and re-sampling.

These are the re-balancing baselines the paper compares against (Section 4):

* **Re-weighting**: each sample's loss is multiplied by ``w[y]``
  (:func:`compute_class_weights`).
* **Deferred re-weighting (DRW)**: train unweighted first, switch the weights
  on late in training (:func:`drw_weights`).
* **Re-sampling**: draw training samples so that every class is equally
  likely (:func:`balanced_sampling_weights`).

All functions work on encoded labels ``0..K-1`` and per-class counts, and
return numpy arrays; the training step turns them into tensors.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

CLASS_WEIGHT_MODES = ("balanced", "effective_number")


def _check_counts(class_counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError("class_counts must be a non-empty 1-D array of per-class sample counts.")
    if not np.all(np.isfinite(counts)) or np.any(counts <= 0):
        raise ValueError(f"class_counts must be positive and finite, got {counts.tolist()}.")
    return counts


def _effective_number_weights(counts: np.ndarray, beta: float) -> np.ndarray:
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must lie in [0, 1), got {beta!r}.")
    # beta ** n underflows to 0 for large n, which is the correct limit
    # (effective number -> 1 / (1 - beta)), so no special casing is needed.
    weights = (1.0 - beta) / (1.0 - np.power(beta, counts))
    return weights * (counts.size / weights.sum())


def _dict_weights(class_weight: Mapping[Any, float], n_classes: int, classes: np.ndarray | None) -> np.ndarray:
    labels = np.arange(n_classes) if classes is None else np.asarray(classes)
    if labels.ndim != 1 or labels.shape[0] != n_classes:
        raise ValueError(f"classes must have shape ({n_classes},) to match class_counts, got {labels.shape}.")
    index = {label: i for i, label in enumerate(labels.tolist())}
    unknown = [label for label in class_weight if label not in index]
    # As scikit-learn's compute_class_weight: labels beyond the classes are refused only when a class is missing
    # from the dict too (a misspelt label). A dict naming every class of the data is valid for each training
    # subset of it: a cross-validation fold or bootstrap sample that lacks a rare class must still fit.
    if unknown and len(class_weight) - len(unknown) < n_classes:
        raise ValueError(f"class_weight has labels {unknown} that are not among the classes {labels.tolist()}.")
    weights = np.ones(n_classes, dtype=np.float64)
    for label, value in class_weight.items():
        if label in index:
            # numpy would turn '2' into 2.0 and fail on a list without naming class_weight.
            if not isinstance(value, numbers.Real):
                raise ValueError(f"class_weight values must be numbers; got {value!r} for the label {label!r}.")
            weights[index[label]] = value
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"class_weight values must be finite and >= 0, got {dict(class_weight)}.")
    if not np.any(weights > 0):
        # Every loss term would be multiplied by 0: the network would learn nothing from the labels (as
        # sample_weight, zero for every row, is refused).
        raise ValueError(f"class_weight gives every class the weight 0, got {dict(class_weight)}; at least one "
                         "class must weigh more than 0.")
    return weights


def compute_class_weights(
    class_weight: str | Mapping[Any, float] | None,
    class_counts: np.ndarray,
    *,
    classes: np.ndarray | None = None,
    beta: float = 0.9999,
) -> np.ndarray:
    r"""Per-class loss weights.

    Parameters
    ----------
    class_weight : None, 'balanced', 'effective_number' or dict
        * None: all ones (no re-weighting).
        * ``'balanced'``: inverse class frequency ``w_c = n / (K n_c)``, the
          same values as ``sklearn.utils.class_weight.compute_class_weight``
          (King & Zeng 2001).
        * ``'effective_number'``: class-balanced weights of Cui et al. (2019),

          .. math::

              w_c \propto \frac{1 - \beta}{1 - \beta^{n_c}}, \qquad \sum_c w_c = K.

          ``(1 - beta^n) / (1 - beta)`` is the "effective number" of samples
          of a class; ``beta -> 0`` gives equal weights and ``beta -> 1``
          approaches inverse frequency.
        * dict ``{label: weight}``: labels are looked up in ``classes``;
          classes not in the dict get 1.0. Labels that are not among
          ``classes`` are ignored when every class is in the dict (a training
          subset, e.g. a cross-validation fold, that lacks a class) and refused
          otherwise, as by :func:`sklearn.utils.class_weight.compute_class_weight`.
    class_counts : ndarray of shape (K,)
        Training samples per class, all positive.
    classes : ndarray of shape (K,), default=None
        Original labels in encoded order (the estimator's ``classes_``), used
        only for a dict ``class_weight``. None means the labels are ``0..K-1``.
    beta : float, default=0.9999
        ``beta`` in ``[0, 1)`` for ``'effective_number'`` (Cui et al. and the
        LDAM-DRW code use 0.9999).

    Returns
    -------
    weights : ndarray of shape (K,), float64

    Raises
    ------
    ValueError
        Unknown string, labels in a dict that are not in ``classes`` while a
        class is missing from it, dict values that are not numbers or are all
        0 over ``classes``, or invalid counts/beta/weights.
    TypeError
        ``class_weight`` of another type.

    References
    ----------
    Cui, Jia, Lin, Song and Belongie, "Class-Balanced Loss Based on Effective
    Number of Samples", CVPR 2019.
    """
    counts = _check_counts(class_counts)
    n_classes = counts.size
    if class_weight is None:
        return np.ones(n_classes, dtype=np.float64)
    if isinstance(class_weight, str):
        if class_weight == "balanced":
            return counts.sum() / (n_classes * counts)
        if class_weight == "effective_number":
            return _effective_number_weights(counts, beta)
        raise ValueError(
            f"Unknown class_weight {class_weight!r}; valid values are None, a dict, "
            f"or one of {list(CLASS_WEIGHT_MODES)}."
        )
    if isinstance(class_weight, Mapping):
        return _dict_weights(class_weight, n_classes, classes)
    raise TypeError(
        f"class_weight must be None, a dict, or one of {list(CLASS_WEIGHT_MODES)}; got {type(class_weight).__name__}."
    )


def drw_weights(epoch: int, drw_epoch: int | None, weights: np.ndarray) -> np.ndarray:
    """Class weights for deferred re-weighting (DRW) at a given epoch.

    Training starts unweighted so the representation is learned from the
    natural distribution; from ``drw_epoch`` on the loss is re-weighted to
    re-balance the classifier (Cao et al. 2019 switch at epoch 160 of 200).
    In DRW the weights are usually ``compute_class_weights('effective_number',
    counts, beta=0.9999)``.

    Parameters
    ----------
    epoch : int
        Current epoch, in the same indexing (0- or 1-based) as ``drw_epoch``.
    drw_epoch : int or None
        First epoch that uses ``weights``. None means re-weight from the start
        (plain re-weighting).
    weights : ndarray of shape (K,)
        Class weights to use once DRW is on.

    Returns
    -------
    weights : ndarray of shape (K,), float64
        All ones while ``epoch < drw_epoch``, a copy of ``weights`` otherwise.

    References
    ----------
    Cao, Wei, Gaidon, Arechiga and Ma, "Learning Imbalanced Datasets with
    Label-Distribution-Aware Margin Loss", NeurIPS 2019, Section 3.3.
    """
    weights = np.array(weights, dtype=np.float64)
    if weights.ndim != 1:
        raise ValueError(f"weights must be 1-D, got shape {weights.shape}.")
    if drw_epoch is not None and drw_epoch < 0:
        raise ValueError(f"drw_epoch must be >= 0 or None, got {drw_epoch!r}.")
    if drw_epoch is None or epoch >= drw_epoch:
        return weights
    return np.ones_like(weights)


def balanced_sampling_weights(y_encoded: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-sample probabilities for class-balanced re-sampling.

    Sample ``i`` is drawn with probability ``1 / (K' n_{y_i})``, so that each
    class present in ``y_encoded`` has total probability ``1 / K'`` (``K'`` is
    the number of present classes; ``K' = K`` when every class occurs). Use
    with ``torch.utils.data.WeightedRandomSampler(p, num_samples=len(p),
    replacement=True)``.

    Parameters
    ----------
    y_encoded : ndarray of shape (n_samples,)
        Encoded labels in ``[0, n_classes)``.
    n_classes : int
        ``K``.

    Returns
    -------
    p : ndarray of shape (n_samples,), float64
        Non-negative, summing to 1.
    """
    y = np.asarray(y_encoded)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y_encoded must be a non-empty 1-D array, got shape {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y_encoded must hold integer labels, got dtype {y.dtype}.")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y_encoded labels must lie in [0, {n_classes}), got range [{y.min()}, {y.max()}].")
    counts = np.bincount(y, minlength=n_classes)
    n_present = np.count_nonzero(counts)
    return 1.0 / (n_present * counts[y].astype(np.float64))
