"""Evaluation metrics for class-imbalanced classification, and matching scorers.

Conventions
-----------
Group metrics (minority/majority, many/medium/few-shot) need the number of
*training* samples of every class. They take it as ``class_counts``: a mapping
``{label: count}`` (a ``dict``, ``collections.Counter`` or a pandas ``Series``
indexed by label). The classes that exist are the keys of that mapping.

A group's accuracy is the *macro* average of the per-class accuracies (recalls) of
its classes. Classes of the group that do not occur in ``y_true`` are left out of the
average; if none occurs, or the group is empty, the result is ``nan``.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.metrics import get_scorer_names as _sklearn_get_scorer_names
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.metadata_routing import MetadataRequest, _routing_enabled
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "SCORERS",
    "few_shot_accuracy",
    "geometric_mean_score",
    "get_scorer",
    "majority_accuracy",
    "make_imbalance_scorer",
    "many_shot_accuracy",
    "medium_shot_accuracy",
    "minority_accuracy",
    "per_class_accuracy",
    "shot_accuracy",
]

#: Kang et al. (2020): many-shot classes have *more than* this many training samples.
MANY_SHOT_THRESHOLD = 100
#: Kang et al. (2020): few-shot classes have *fewer than* this many training samples.
FEW_SHOT_THRESHOLD = 20

_SHOTS = ("many", "medium", "few")


def _targets(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    return y_true, y_pred


def per_class_accuracy(y_true: Any, y_pred: Any, labels: Any = None, sample_weight: Any = None) -> np.ndarray:
    """Accuracy of each class, i.e. its recall.

    ``acc_k = sum_{i : y_true_i = k} s_i 1[y_pred_i = k] / sum_{i : y_true_i = k} s_i``
    (``s_i = 1`` without ``sample_weight``), as :func:`sklearn.metrics.recall_score`
    with ``average=None``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like of shape (n_labels,), default=None
        Classes to report, in this order (a label given twice is reported twice). By
        default the sorted union of the labels in ``y_true`` and ``y_pred``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weight of each sample.

    Returns
    -------
    accuracy : ndarray of shape (n_labels,), dtype float64
        Per-class accuracy; ``nan`` for classes absent from ``y_true`` (or whose
        samples all have weight 0).

    Examples
    --------
    >>> per_class_accuracy([0, 0, 1, 1], [0, 1, 1, 1]).tolist()
    [0.5, 1.0]
    >>> per_class_accuracy([0, 0], [0, 1], labels=[0, 1, 2]).tolist()
    [0.5, nan, nan]
    >>> per_class_accuracy([0, 0, 1], [0, 1, 1], sample_weight=[3, 1, 1]).tolist()
    [0.75, 1.0]
    """
    y_true, y_pred = _targets(y_true, y_pred)
    labels = unique_labels(y_true, y_pred) if labels is None else column_or_1d(labels)
    if len(labels) == 0:
        return np.empty(0, dtype=np.float64)
    weights = None if sample_weight is None else _check_sample_weight(sample_weight, y_true)
    if weights is not None and np.any(weights < 0):
        raise ValueError("sample_weight must be non-negative.")
    unique, position_of_label = np.unique(labels, return_inverse=True)

    # Position of every true label among the requested labels; samples whose true
    # label was not requested are dropped.
    pos = np.clip(np.searchsorted(unique, y_true), 0, len(unique) - 1)
    known = unique[pos] == y_true
    pos = pos[known]
    hits = (y_true == y_pred)[known].astype(np.float64)
    weight = np.ones(len(pos)) if weights is None else weights[known]
    support = np.bincount(pos, weights=weight, minlength=len(unique))
    correct = np.bincount(pos, weights=hits * weight, minlength=len(unique))
    acc = np.full(len(unique), np.nan)
    np.divide(correct, support, out=acc, where=support > 0)
    return acc[position_of_label]


def _count_table(class_counts: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sorted labels and their training counts from a ``{label: count}`` mapping."""
    if class_counts is None:
        raise ValueError(
            "class_counts is required: a mapping {label: number of training samples}."
        )
    if hasattr(class_counts, "index") and hasattr(class_counts, "to_numpy"):
        labels = np.asarray(class_counts.index)
        counts = np.asarray(class_counts.to_numpy())
    elif isinstance(class_counts, Mapping):
        labels = np.asarray(list(class_counts.keys()))
        counts = np.asarray(list(class_counts.values()))
    else:
        raise TypeError(
            "class_counts must be a mapping {label: count} (dict, Counter or pandas "
            f"Series indexed by label); got {type(class_counts).__name__}."
        )
    if len(labels) == 0:
        raise ValueError("class_counts is empty.")
    if counts.ndim != 1 or not np.issubdtype(counts.dtype, np.number) or not np.all(counts >= 0):
        raise ValueError("class_counts values must be non-negative numbers (not NaN).")
    order = np.argsort(labels, kind="stable")
    return labels[order], counts[order]


def _group_mean(
    y_true: Any, y_pred: Any, group: np.ndarray, labels: np.ndarray, sample_weight: Any = None
) -> float:
    """Macro accuracy over ``group``, a subset of ``labels`` (every key of ``class_counts``)."""
    y_true_1d = column_or_1d(y_true)
    if len(y_true_1d) and not np.isin(y_true_1d, labels).any():
        # Labels of another type than the keys ('1' against 1, e.g. counts read back from JSON)
        # match nothing, and every group score would be a silent nan.
        raise ValueError(
            f"No label of y_true is a key of class_counts (y_true holds {y_true_1d.dtype} labels such as "
            f"{y_true_1d[0]!r}; class_counts has {labels.dtype} keys such as {labels[0]!r}). Give the counts "
            "under the labels themselves, of the same type."
        )
    if len(group) == 0:
        return float("nan")
    acc = per_class_accuracy(y_true, y_pred, labels=group, sample_weight=sample_weight)
    if np.all(np.isnan(acc)):
        return float("nan")
    return float(np.nanmean(acc))


def _extreme_classes(class_counts: Any, fraction: float, *, fewest: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``ceil(fraction * C)`` classes with the fewest (or most) counts, and every label of ``class_counts``."""
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}.")
    labels, counts = _count_table(class_counts)
    # round() keeps products such as 0.07 * 100 = 7.000000000000001 from rounding up.
    k = max(1, math.ceil(round(fraction * len(labels), 9)))
    # Labels are sorted, so their position breaks ties in label order.
    key = counts if fewest else -counts
    ranking = np.lexsort((np.arange(len(labels)), key))
    return labels[ranking[:k]], labels


def minority_accuracy(
    y_true: Any, y_pred: Any, *, class_counts: Any, fraction: float = 0.2, sample_weight: Any = None
) -> float:
    """Mean accuracy over the classes with the fewest training samples.

    The group is the ``k = max(1, ceil(fraction * C))`` classes of ``class_counts``
    with the smallest training counts (ties broken by label order), ``C`` being the
    number of classes. The score is the unweighted mean of their per-class
    accuracies (see :func:`per_class_accuracy`). With ``fraction=0.2`` this is the
    "minority class accuracy" of Shwartz-Ziv et al. (2023): "the 20% of classes with
    the smallest [...] number of samples".

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels of the evaluation set.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    class_counts : mapping {label: int}
        Number of *training* samples of every class (dict, Counter or pandas Series
        indexed by label).
    fraction : float, default=0.2
        Share of classes in the group, in ``(0, 1]``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the evaluation samples (see :func:`per_class_accuracy`).

    Returns
    -------
    score : float
        Macro accuracy over the group; ``nan`` if none of its classes is in ``y_true``.

    References
    ----------
    .. [1] Shwartz-Ziv et al., "Simplifying Neural Network Training Under Class
       Imbalance", NeurIPS 2023.

    Examples
    --------
    >>> counts = {0: 100, 1: 50, 2: 10}
    >>> minority_accuracy([0, 1, 2, 2], [0, 1, 2, 0], class_counts=counts)
    0.5
    """
    group, labels = _extreme_classes(class_counts, fraction, fewest=True)
    return _group_mean(y_true, y_pred, group, labels, sample_weight)


def majority_accuracy(
    y_true: Any, y_pred: Any, *, class_counts: Any, fraction: float = 0.2, sample_weight: Any = None
) -> float:
    """Mean accuracy over the classes with the most training samples.

    The group is the ``k = max(1, ceil(fraction * C))`` classes of ``class_counts``
    with the largest training counts (ties broken by label order). The score is the
    unweighted mean of their per-class accuracies. With ``fraction=0.2`` this is the
    "majority class accuracy" of Shwartz-Ziv et al. (2023).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels of the evaluation set.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    class_counts : mapping {label: int}
        Number of *training* samples of every class.
    fraction : float, default=0.2
        Share of classes in the group, in ``(0, 1]``.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the evaluation samples (see :func:`per_class_accuracy`).

    Returns
    -------
    score : float
        Macro accuracy over the group; ``nan`` if none of its classes is in ``y_true``.

    References
    ----------
    .. [1] Shwartz-Ziv et al., "Simplifying Neural Network Training Under Class
       Imbalance", NeurIPS 2023.

    Examples
    --------
    >>> counts = {0: 100, 1: 50, 2: 10}
    >>> majority_accuracy([0, 0, 1, 2], [0, 1, 1, 2], class_counts=counts)
    0.5
    """
    group, labels = _extreme_classes(class_counts, fraction, fewest=False)
    return _group_mean(y_true, y_pred, group, labels, sample_weight)


def shot_accuracy(
    y_true: Any,
    y_pred: Any,
    *,
    class_counts: Any,
    shot: str = "many",
    many_threshold: int = MANY_SHOT_THRESHOLD,
    few_threshold: int = FEW_SHOT_THRESHOLD,
    sample_weight: Any = None,
) -> float:
    """Mean accuracy over the many-, medium- or few-shot classes.

    Classes are split by their number of training samples ``n`` (Kang et al., 2020):

    - many-shot: ``n > many_threshold`` (default 100),
    - medium-shot: ``few_threshold <= n <= many_threshold`` (20 to 100 inclusive),
    - few-shot: ``n < few_threshold`` (default 20).

    The score is the unweighted mean of the per-class accuracies of the group.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Ground-truth labels of the evaluation set.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    class_counts : mapping {label: int}
        Number of *training* samples of every class.
    shot : {'many', 'medium', 'few'}, default='many'
        Which group to score.
    many_threshold : int, default=100
        Classes with more training samples than this are many-shot.
    few_threshold : int, default=20
        Classes with fewer training samples than this are few-shot.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the evaluation samples (see :func:`per_class_accuracy`).

    Returns
    -------
    score : float
        Macro accuracy over the group; ``nan`` if the group is empty or none of its
        classes occurs in ``y_true``.

    References
    ----------
    .. [1] Kang et al., "Decoupling Representation and Classifier for Long-Tailed
       Recognition", ICLR 2020.

    Examples
    --------
    >>> counts = {0: 500, 1: 100, 2: 20, 3: 19}
    >>> shot_accuracy([0, 1, 2, 3], [0, 1, 0, 3], class_counts=counts, shot="medium")
    0.5
    """
    if shot not in _SHOTS:
        raise ValueError(f"shot must be one of {list(_SHOTS)}; got {shot!r}.")
    if few_threshold > many_threshold:
        raise ValueError(
            f"few_threshold ({few_threshold}) must not exceed many_threshold "
            f"({many_threshold})."
        )
    labels, counts = _count_table(class_counts)
    if shot == "many":
        in_group = counts > many_threshold
    elif shot == "few":
        in_group = counts < few_threshold
    else:
        in_group = (counts >= few_threshold) & (counts <= many_threshold)
    return _group_mean(y_true, y_pred, labels[in_group], labels, sample_weight)


def many_shot_accuracy(y_true: Any, y_pred: Any, *, class_counts: Any, **kwargs: Any) -> float:
    """Accuracy over classes with more than 100 training samples.

    Shorthand for ``shot_accuracy(..., shot='many')``; see :func:`shot_accuracy`.
    """
    return shot_accuracy(y_true, y_pred, class_counts=class_counts, shot="many", **kwargs)


def medium_shot_accuracy(
    y_true: Any, y_pred: Any, *, class_counts: Any, **kwargs: Any
) -> float:
    """Accuracy over classes with 20 to 100 (inclusive) training samples.

    Shorthand for ``shot_accuracy(..., shot='medium')``; see :func:`shot_accuracy`.
    """
    return shot_accuracy(y_true, y_pred, class_counts=class_counts, shot="medium", **kwargs)


def few_shot_accuracy(y_true: Any, y_pred: Any, *, class_counts: Any, **kwargs: Any) -> float:
    """Accuracy over classes with fewer than 20 training samples.

    Shorthand for ``shot_accuracy(..., shot='few')``; see :func:`shot_accuracy`.
    """
    return shot_accuracy(y_true, y_pred, class_counts=class_counts, shot="few", **kwargs)


_METRICS: dict[str, Callable[..., float]] = {
    "minority_accuracy": minority_accuracy,
    "majority_accuracy": majority_accuracy,
    "many_shot_accuracy": many_shot_accuracy,
    "medium_shot_accuracy": medium_shot_accuracy,
    "few_shot_accuracy": few_shot_accuracy,
    "geometric_mean": geometric_mean_score,
}


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return True  # a builtin or C function: let the call say
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _wants_class_counts(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return "class_counts" in params


def _final_estimator(estimator: Any) -> tuple[Any, list[str]]:
    """The fitted model of a (nested) pipeline, and the names of the resampling steps in front of it.

    Pipelines expose the fitted model as their last step; an imbalanced-learn sampler is a
    step with ``fit_resample``.
    """
    resampling = []
    while hasattr(estimator, "steps"):
        resampling += [name for name, step in estimator.steps[:-1] if hasattr(step, "fit_resample")]
        estimator = estimator.steps[-1][1]
    return estimator, resampling


def _estimator_class_counts(estimator: Any) -> dict:
    final, resampling = _final_estimator(estimator)
    if resampling:
        # The final estimator was fitted on the resampled rows: its class_counts_ are those
        # counts (all equal after over-sampling to balance), and the minority group drawn from
        # them would be whichever classes come first in label order.
        raise ValueError(
            f"{type(estimator).__name__} resamples its training rows (steps {resampling}), so the "
            "class_counts_ of its final estimator count the resampled rows, not the training data; "
            "pass class_counts={label: n_train} to make_imbalance_scorer."
        )
    counts = getattr(final, "class_counts_", None)
    classes = getattr(final, "classes_", None)
    if counts is None or classes is None:
        raise AttributeError(
            f"{type(final).__name__} has no fitted `class_counts_`/`classes_` "
            "attributes; pass class_counts={label: n_train} to make_imbalance_scorer."
        )
    counts = np.asarray(counts)
    classes = np.asarray(classes)
    if counts.shape != classes.shape:
        raise ValueError(
            f"class_counts_ (shape {counts.shape}) must be aligned with classes_ "
            f"(shape {classes.shape})."
        )
    return dict(zip(classes.tolist(), counts.tolist()))


class _ImbalanceScorer:
    """``scorer(estimator, X, y) -> float`` built by :func:`make_imbalance_scorer`."""

    def __init__(
        self,
        metric: Callable[..., float],
        name: str,
        class_counts: Any,
        kwargs: dict[str, Any],
    ) -> None:
        self.metric = metric
        self.name = name
        self.class_counts = class_counts
        self.kwargs = kwargs
        self.needs_class_counts = _wants_class_counts(metric)

    def __call__(self, estimator: Any, X: Any, y_true: Any, sample_weight: Any = None) -> float:
        y_pred = estimator.predict(X)
        kwargs = dict(self.kwargs)
        if self.needs_class_counts:
            counts = self.class_counts
            if counts is None:
                counts = _estimator_class_counts(estimator)
            kwargs["class_counts"] = counts
        if sample_weight is not None:
            if not _accepts(self.metric, "sample_weight"):
                raise TypeError(f"the metric {self.name} of this scorer takes no sample_weight")
            kwargs["sample_weight"] = sample_weight
        return float(self.metric(y_true, y_pred, **kwargs))

    def set_score_request(self, *, sample_weight: bool | None | str = None) -> _ImbalanceScorer:
        """Whether ``sample_weight`` is passed to the scorer under metadata routing (as scikit-learn's scorers).

        Only available with ``sklearn.set_config(enable_metadata_routing=True)``. Unrequested,
        weights passed to e.g. ``cross_validate(..., params={'sample_weight': w})`` raise
        scikit-learn's ``UnsetMetadataPassedError`` rather than being dropped.
        """
        if not _routing_enabled():
            raise RuntimeError(
                "set_score_request is only available when metadata routing is enabled: "
                "sklearn.set_config(enable_metadata_routing=True)."
            )
        self._sample_weight_request = sample_weight
        return self

    def get_metadata_routing(self) -> MetadataRequest:
        """The scorer's metadata request: ``sample_weight`` for its ``score`` step (:meth:`set_score_request`)."""
        request = MetadataRequest(owner=self)
        request.score.add_request(param="sample_weight", alias=getattr(self, "_sample_weight_request", None))
        return request

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"make_imbalance_scorer({self.name}{extra})"


def make_imbalance_scorer(
    metric: str | Callable[..., float],
    class_counts: Any = None,
    **kwargs: Any,
) -> _ImbalanceScorer:
    """Turn an imbalance metric into a scorer for ``GridSearchCV``/``cross_val_score``.

    The scorer calls ``estimator.predict(X)`` and evaluates
    ``metric(y, y_pred, class_counts=..., **kwargs)``. Metrics that need training
    class counts get them from ``class_counts`` if given, else from the fitted
    estimator: ``estimator.class_counts_`` must be an integer array aligned with
    ``estimator.classes_`` (for a :class:`~sklearn.pipeline.Pipeline`, its last
    step). Reading them from the estimator makes each cross-validation fold use the
    counts of its own training split. A pipeline with a resampling step (an
    imbalanced-learn sampler) is refused with a ``ValueError``: its last step counts
    the resampled rows; give ``class_counts`` then. Greater is better for every metric here.

    Parameters
    ----------
    metric : str or callable
        One of ``'minority_accuracy'``, ``'majority_accuracy'``,
        ``'many_shot_accuracy'``, ``'medium_shot_accuracy'``, ``'few_shot_accuracy'``,
        ``'geometric_mean'``, or a callable ``metric(y_true, y_pred, **kwargs)``.
        A callable with a ``class_counts`` parameter receives the class counts.
    class_counts : mapping {label: int}, default=None
        Fixed training counts; ``None`` reads them from the fitted estimator.
    **kwargs
        Extra keyword arguments for the metric (e.g. ``fraction=0.1``).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None) -> float``, with ``set_score_request``
        for scikit-learn's metadata routing.

    Examples
    --------
    >>> scorer = make_imbalance_scorer("minority_accuracy", fraction=0.1)
    >>> scorer
    make_imbalance_scorer(minority_accuracy, fraction=0.1)
    """
    if isinstance(metric, str):
        if metric not in _METRICS:
            raise ValueError(
                f"Unknown imbalance metric {metric!r}; valid names are {sorted(_METRICS)}."
            )
        func, name = _METRICS[metric], metric
    elif callable(metric):
        func, name = metric, getattr(metric, "__name__", repr(metric))
    else:
        raise TypeError(f"metric must be a string or a callable; got {metric!r}.")
    return _ImbalanceScorer(func, name, class_counts, kwargs)


#: Ready-made scorers by name; training class counts come from the fitted estimator.
SCORERS: dict[str, _ImbalanceScorer] = {
    name: make_imbalance_scorer(name) for name in _METRICS
}


def get_scorer(scoring: Any) -> Any:
    """Get a scorer by name, covering both imbsk's and scikit-learn's scorers.

    Parameters
    ----------
    scoring : str, callable or None
        A key of :data:`SCORERS` (returned as a copy), or anything
        :func:`sklearn.metrics.get_scorer` accepts (e.g. ``'balanced_accuracy'``;
        callables and ``None`` are returned as is).

    Returns
    -------
    scorer : callable or None
        ``scorer(estimator, X, y) -> float``.

    Examples
    --------
    >>> get_scorer("few_shot_accuracy")
    make_imbalance_scorer(few_shot_accuracy)
    """
    if isinstance(scoring, str) and scoring in SCORERS:
        return copy.deepcopy(SCORERS[scoring])
    try:
        return _sklearn_get_scorer(scoring)
    except ValueError:
        if not isinstance(scoring, str):
            raise
        valid = sorted(SCORERS) + sorted(_sklearn_get_scorer_names())
        raise ValueError(
            f"{scoring!r} is not a valid scoring value; valid names are {valid}."
        ) from None


def standard_error(values: Any) -> float:
    """Standard error of the mean, ``s / sqrt(n)`` with ``s`` the sample standard deviation (ddof=1).

    NaN for fewer than two values (no spread can be estimated).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return math.nan
    return float(values.std(ddof=1) / math.sqrt(values.size))


def format_mean_se(mean: float, se: float, *, scale: float = 1.0, decimals: int = 2) -> str:
    """``'mean ± se'`` with both multiplied by ``scale``; the mean alone when ``se`` is NaN
    (one seed: no spread measured), ``'n/a'`` when the mean is NaN (no score)."""
    if math.isnan(mean):
        return "n/a"
    text = f"{mean * scale:.{decimals}f}"
    return text if math.isnan(se) else f"{text} ± {se * scale:.{decimals}f}"
