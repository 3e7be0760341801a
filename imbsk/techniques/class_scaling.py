"""Per-class scaling rules for SAM-A's ascent radius and class-conditional smoothing.

The paper (Appendix A.6 / A.7, Eq. 5 and 6) prints

    rho_c = rho / (1 - p_c)        eps_c = eps / (1 - p_c)

with ``p_c`` the training proportion of class ``c``. As printed this gives the
*majority* class the larger value, while the text says minority classes should
get more. The authors' released code instead keeps one global ``rho`` and
weights the SAM ascent loss by ``n_max / n_c``. imbsk offers all of these by
name (parameter ``class_scaling`` of the estimators) so they can be compared:

``'sqrt_inverse_frequency'`` (default)
    m_c = sqrt(n_max / n_c). The majority class gets the base value, every
    minority class more, growing with the square root of the imbalance so that
    an imbalance ratio of 100 multiplies the base value by 10, not 100.
``'inverse_frequency'``
    m_c = n_max / n_c: "inversely proportional to the class proportion" as the
    paper's text says, normalised so the majority class gets the base value.
``'paper'``
    m_c = 1 / (1 - p_c): Eq. 5/6 exactly as printed (majority gets the larger
    value; on K balanced classes every class gets K / (K - 1) times the base).
``'official'``
    The released code: one global rho; the SAM *ascent loss* is weighted per
    class by n_max / n_c. For label smoothing it means m_c = n_max / n_c.
``'uniform'``
    m_c = 1: plain SAM and plain label smoothing.

Every rule except ``'paper'`` gives m_c = 1 for all classes on balanced data,
so SAM-A reduces to SAM and class-conditional smoothing to label smoothing.
Smoothing values are clipped at 1 (``eps_c = min(eps * m_c, 1)``), the point
at which the smoothed target becomes the uniform distribution.
"""

from __future__ import annotations

import numpy as np

CLASS_SCALING_RULES = ("sqrt_inverse_frequency", "inverse_frequency", "paper", "official", "uniform")


def _check_counts(class_counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(class_counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError("class_counts must be a non-empty 1-D array of per-class sample counts.")
    if np.any(counts <= 0) or not np.all(np.isfinite(counts)):
        raise ValueError(f"class_counts must be positive and finite, got {counts.tolist()}.")
    return counts


def class_multipliers(class_counts: np.ndarray, rule: str = "sqrt_inverse_frequency") -> np.ndarray:
    """Per-class multipliers ``m_c`` of a base value under a named rule.

    Parameters
    ----------
    class_counts : array-like of shape (n_classes,)
        Number of training samples of each class.
    rule : str, default='sqrt_inverse_frequency'
        One of :data:`CLASS_SCALING_RULES` (see the module docstring for the formulas).

    Returns
    -------
    multipliers : ndarray of shape (n_classes,)
        ``m_c``; the per-class value is ``base * m_c``. For ``'official'`` these
        are the SAM ascent-loss weights ``n_max / n_c``.
    """
    counts = _check_counts(class_counts)
    if rule == "sqrt_inverse_frequency":
        return np.sqrt(counts.max() / counts)
    if rule in ("inverse_frequency", "official"):
        return counts.max() / counts
    if rule == "paper":
        return 1.0 / (1.0 - counts / counts.sum()) if counts.size > 1 else np.ones(1)
    if rule == "uniform":
        return np.ones_like(counts)
    raise ValueError(f"Unknown class_scaling rule {rule!r}; valid rules are {list(CLASS_SCALING_RULES)}.")


def class_smoothing_values(eps: float, class_counts: np.ndarray, rule: str = "sqrt_inverse_frequency") -> np.ndarray:
    """Per-class label-smoothing strengths ``eps_c = min(eps * m_c, 1)``.

    The cap at 1 keeps every smoothed target at most as flat as the uniform
    distribution (at ``eps_c = 1`` the target is exactly uniform).
    """
    return np.minimum(eps * class_multipliers(class_counts, rule), 1.0)


def sam_class_radii(rho: float, class_counts: np.ndarray, rule: str = "sqrt_inverse_frequency") -> tuple[np.ndarray, np.ndarray]:
    """Per-class SAM-A ascent radii and ascent-loss weights.

    Returns
    -------
    radii : ndarray of shape (n_classes,)
        ``rho_c``: the radius at which class-``c`` samples' gradient is taken.
        ``rho * m_c`` for the per-class rules, ``rho`` for every class under
        ``'official'``.
    ascent_weights : ndarray of shape (n_classes,)
        Weights of each class's loss in the ascent (first) pass: ones, except
        ``n_max / n_c`` under ``'official'``.
    """
    multipliers = class_multipliers(class_counts, rule)
    if rule == "official":
        return np.full_like(multipliers, rho), multipliers
    return rho * multipliers, np.ones_like(multipliers)
