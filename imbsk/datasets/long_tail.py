"""Subsample labelled data to a long-tailed (class-imbalanced) class profile.

The paper (Shwartz-Ziv et al., NeurIPS 2023) builds its imbalanced benchmarks from
balanced datasets with the exponential profile of Liu et al. (2019), as also used by
Cao et al. (2019) for CIFAR-10-LT / CIFAR-100-LT. The step profile of Buda et al.
(2018) is provided as the other common construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, Literal, overload

import numpy as np
from sklearn.utils import check_consistent_length, check_random_state

__all__ = ["long_tailed_counts", "make_long_tailed"]

PROFILES = ("exponential", "step")
CLASS_ORDERS = ("descending", "ascending", "random")

# floor() of a value that is mathematically an integer (e.g. n_max * r for the last
# class) can land one below it through rounding error; this slack absorbs that.
_FLOOR_EPS = 1e-9


def _check_ratio(imbalance_ratio: Any) -> float:
    if (
        isinstance(imbalance_ratio, bool)
        or not isinstance(imbalance_ratio, Real)
        or not np.isfinite(imbalance_ratio)
        or not 0 < imbalance_ratio <= 1
    ):
        raise ValueError(
            "imbalance_ratio must be a real number in the interval (0, 1] "
            f"(1 = balanced); got {imbalance_ratio!r}."
        )
    return float(imbalance_ratio)


def _check_profile(profile: Any) -> str:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}; got {profile!r}.")
    return profile


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def long_tailed_counts(
    n_max: int,
    n_classes: int,
    imbalance_ratio: float,
    profile: str = "exponential",
) -> np.ndarray:
    """Per-class sample counts of a long-tailed profile, most frequent class first.

    Parameters
    ----------
    n_max : int
        Number of samples of the most frequent (head) class.
    n_classes : int
        Number of classes ``C``.
    imbalance_ratio : float
        Ratio ``r`` in ``(0, 1]`` of the rarest to the most frequent class count
        (``r = 1`` gives a balanced profile).
    profile : {'exponential', 'step'}, default='exponential'
        - ``'exponential'`` (Liu et al., 2019; Cao et al., 2019):
          ``n_i = floor(n_max * r ** (i / (C - 1)))`` for ``i = 0, ..., C - 1``.
        - ``'step'`` (Buda et al., 2018): the first ``floor(C / 2)`` classes keep
          ``n_max`` samples, the remaining ones get ``floor(n_max * r)``.

        With a single class both profiles return ``[n_max]``.

    Returns
    -------
    counts : ndarray of shape (n_classes,), dtype int64
        Non-increasing target counts. Entries may be 0 when ``n_max * r < 1``;
        :func:`make_long_tailed` rejects such profiles.

    References
    ----------
    .. [1] Liu et al., "Large-Scale Long-Tailed Recognition in an Open World", CVPR 2019.
    .. [2] Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware
       Margin Loss", NeurIPS 2019.
    .. [3] Buda, Maki and Mazurowski, "A systematic study of the class imbalance
       problem in convolutional neural networks", Neural Networks 2018.

    Examples
    --------
    >>> long_tailed_counts(5000, 10, 0.01).tolist()
    [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    >>> long_tailed_counts(100, 5, 0.1, profile="step").tolist()
    [100, 100, 10, 10, 10]
    """
    n_max = _check_positive_int(n_max, "n_max")
    n_classes = _check_positive_int(n_classes, "n_classes")
    r = _check_ratio(imbalance_ratio)
    profile = _check_profile(profile)

    if n_classes == 1:
        return np.array([n_max], dtype=np.int64)
    if profile == "exponential":
        exponents = np.arange(n_classes) / (n_classes - 1)
        raw = n_max * r**exponents
    else:
        raw = np.full(n_classes, n_max * r)
        raw[: n_classes // 2] = n_max
    return np.floor(raw + _FLOOR_EPS).astype(np.int64)


def _resolve_class_order(
    class_order: Any, classes: np.ndarray, rng: np.random.RandomState
) -> np.ndarray:
    """Return the classes arranged from most to least frequent."""
    if isinstance(class_order, str):
        if class_order == "descending":
            return classes
        if class_order == "ascending":
            return classes[::-1]
        if class_order == "random":
            return classes[rng.permutation(len(classes))]
        raise ValueError(
            f"class_order must be one of {list(CLASS_ORDERS)} or a sequence of labels; "
            f"got {class_order!r}."
        )
    order = np.asarray(class_order)
    if order.ndim != 1 or len(order) != len(classes) or not np.array_equal(
        np.unique(order), classes
    ):
        raise ValueError(
            "An explicit class_order must list every class label exactly once, from most "
            f"to least frequent; classes are {classes.tolist()}, got {list(class_order)}."
        )
    return order


def _take(data: Any, indices: np.ndarray) -> Any:
    """Row-subset ``data`` keeping its container type."""
    if hasattr(data, "iloc"):
        return data.iloc[indices]
    if isinstance(data, (list, tuple)):
        # Plain Python sequences cannot be fancy-indexed; keep the caller's type.
        return type(data)(data[i] for i in indices)
    return data[indices]


# The pair, or the triple with ``return_indices=True``: typed apart so that ``X_lt, y_lt = make_long_tailed(...)``
# type-checks (a bare union of both tuples makes a type checker refuse every unpacking).
@overload
def make_long_tailed(
    X: Any,
    y: Any,
    imbalance_ratio: float,
    *,
    profile: str = "exponential",
    class_order: str | Sequence[Any] = "descending",
    n_max: int | None = None,
    random_state: int | np.random.RandomState | None = None,
    return_indices: Literal[False] = False,
) -> tuple[Any, Any]: ...


@overload
def make_long_tailed(
    X: Any,
    y: Any,
    imbalance_ratio: float,
    *,
    profile: str = "exponential",
    class_order: str | Sequence[Any] = "descending",
    n_max: int | None = None,
    random_state: int | np.random.RandomState | None = None,
    return_indices: Literal[True],
) -> tuple[Any, Any, np.ndarray]: ...


@overload
def make_long_tailed(
    X: Any,
    y: Any,
    imbalance_ratio: float,
    *,
    profile: str = "exponential",
    class_order: str | Sequence[Any] = "descending",
    n_max: int | None = None,
    random_state: int | np.random.RandomState | None = None,
    return_indices: bool = False,
) -> tuple[Any, Any] | tuple[Any, Any, np.ndarray]: ...


def make_long_tailed(
    X: Any,
    y: Any,
    imbalance_ratio: float,
    *,
    profile: str = "exponential",
    class_order: str | Sequence[Any] = "descending",
    n_max: int | None = None,
    random_state: int | np.random.RandomState | None = None,
    return_indices: bool = False,
) -> tuple[Any, Any] | tuple[Any, Any, np.ndarray]:
    """Subsample a labelled dataset so that its class counts follow a long tail.

    The classes are the sorted unique labels of ``y``. They are ranked from most to
    least frequent according to ``class_order`` and class ``i`` of that ranking is
    given the target count ``n_i`` of :func:`long_tailed_counts`; ``n_i`` samples of
    that class are then drawn at random without replacement.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Data: a numpy array (any number of dimensions, e.g. images
        ``(N, H, W, C)``), a pandas DataFrame/Series, a list, or any container that
        can be indexed by an integer array.
    y : array-like of shape (n_samples,)
        Class labels.
    imbalance_ratio : float
        Ratio ``r`` in ``(0, 1]`` of the rarest to the most frequent class count.
        ``r = 1`` returns a balanced random subsample with ``n_max`` per class.
    profile : {'exponential', 'step'}, default='exponential'
        Shape of the tail, see :func:`long_tailed_counts`.
    class_order : {'descending', 'ascending', 'random'} or sequence, default='descending'
        Which class gets which count.

        - ``'descending'``: the smallest label gets the most samples (the usual
          CIFAR-10-LT convention).
        - ``'ascending'``: the largest label gets the most samples.
        - ``'random'``: a random permutation drawn from ``random_state``.
        - a sequence holding every label once, from most to least frequent.
    n_max : int, default=None
        Count of the most frequent class. By default it is the *smallest* class count
        available in ``y``, which guarantees that every class can be filled whatever
        its rank. A larger value may be passed explicitly; then every class must
        hold at least its own target count.
    random_state : int, RandomState instance or None, default=None
        Controls the ``'random'`` class order and which samples are kept.
    return_indices : bool, default=False
        Also return the positions (into ``X``/``y``) of the kept samples.

    Returns
    -------
    X_lt : same type as X
        The kept samples, in their original order. A DataFrame/Series keeps its
        original index labels.
    y_lt : same type as y
        Their labels.
    indices : ndarray of shape (n_kept,), dtype int64
        Sorted positions of the kept samples; only if ``return_indices=True``.

    Raises
    ------
    ValueError
        If ``imbalance_ratio`` is outside ``(0, 1]``, ``profile`` or ``class_order`` is
        invalid, a target count is 0 (``n_max * r < 1``), or a class holds fewer
        samples than its target count.

    References
    ----------
    .. [1] Liu et al., "Large-Scale Long-Tailed Recognition in an Open World", CVPR 2019.
    .. [2] Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware
       Margin Loss", NeurIPS 2019.
    .. [3] Buda, Maki and Mazurowski, "A systematic study of the class imbalance
       problem in convolutional neural networks", Neural Networks 2018.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(300).reshape(100, 3)
    >>> y = np.repeat([0, 1, 2, 3], 25)
    >>> X_lt, y_lt = make_long_tailed(X, y, 0.1, random_state=0)
    >>> np.bincount(y_lt).tolist()
    [25, 11, 5, 2]
    """
    r = _check_ratio(imbalance_ratio)
    profile = _check_profile(profile)
    check_consistent_length(X, y)
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        raise ValueError(f"y must be one-dimensional; got shape {y_arr.shape}.")
    rng = check_random_state(random_state)

    classes, y_codes, available = np.unique(y_arr, return_inverse=True, return_counts=True)
    if len(classes) == 0:
        raise ValueError("y is empty; cannot build a long-tailed subsample.")
    order = _resolve_class_order(class_order, classes, rng)
    if n_max is None:
        n_max = int(available.min())
    counts_by_rank = long_tailed_counts(n_max, len(classes), r, profile)

    # Map the ranked counts back onto the sorted classes.
    rank_of_class = np.searchsorted(classes, order)
    requested = np.empty(len(classes), dtype=np.int64)
    requested[rank_of_class] = counts_by_rank

    def _describe(counts: np.ndarray, which: np.ndarray, shown: int = 10) -> str:
        # Only the offending classes, and at most ``shown`` of them: readable at 1,000 classes.
        labels = [(c.item() if hasattr(c, "item") else c, int(n)) for c, n in zip(classes[which], counts[which])]
        more = f" and {len(labels) - shown} more classes" if len(labels) > shown else ""
        return f"{dict(labels[:shown])}{more}"

    zero = requested == 0
    if np.any(zero):
        raise ValueError(
            f"imbalance_ratio={r} with n_max={n_max} ({profile} profile) gives a target "
            f"count of 0 for {int(zero.sum())} of {len(classes)} classes: {_describe(requested, zero)}. "
            "Increase n_max or imbalance_ratio."
        )
    short = requested > available
    if np.any(short):
        raise ValueError(
            f"{int(short.sum())} of {len(classes)} classes have fewer samples than their target count. "
            f"Available: {_describe(available, short)}; requested: {_describe(requested, short)}."
        )

    # One sort groups the positions by class; a random permutation inside each class
    # (via random sort keys) lets us keep the first n_i of every group without a
    # per-sample loop.
    keys = rng.random_sample(len(y_codes))
    grouped = np.lexsort((keys, y_codes))
    starts = np.concatenate(([0], np.cumsum(available)[:-1]))
    rank_in_class = np.arange(len(grouped)) - np.repeat(starts, available)
    keep = rank_in_class < np.repeat(requested, available)
    indices = np.sort(grouped[keep]).astype(np.int64)

    X_lt, y_lt = _take(X, indices), _take(y, indices)
    if return_indices:
        return X_lt, y_lt, indices
    return X_lt, y_lt
