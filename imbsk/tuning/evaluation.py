"""Seeded evaluation: single models and deep ensembles (:func:`evaluate`), blends of two configurations
(:func:`evaluate_blend`), and the mean +- standard error over seeds (:func:`summarize`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss
from sklearn.utils import Bunch

from imbsk.metrics import format_mean_se, majority_accuracy, minority_accuracy, standard_error
from imbsk.tuning.data import load_split
from imbsk.tuning.fitting import (
    DEFAULT_MAX_EPOCHS,
    XGB_MAX_ESTIMATORS,
    _EPOCHS_NAME,
    _accuracy,
    _check_estimator_names,
    _check_predictions_dir,
    _evaluated_member,
    _labels,
    _member_config,
    _resolve_device,
    _seed_list,
)
from imbsk.tuning.spaces import _check_int, _check_names


def evaluate(
    dataset: str,
    model: str,
    params: dict[str, Any],
    *,
    seeds: Sequence[int] | int,
    data_home: str | None = None,
    device: str = "cpu",
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    max_train_rows: int | None = None,
    xgb_max_estimators: int = XGB_MAX_ESTIMATORS,
    ensemble_size: int = 1,
    predictions_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Retrain one configuration with several seeds and score it on the test set.

    Parameters
    ----------
    dataset : {'adult', 'otto', 'covertype'}
        Benchmark.
    model : {'mlp', 'mlp_sam_ls', 'xgboost'}
        Model (``params`` are its estimator arguments, e.g. ``best_params(study)``).
    params : dict
        Estimator keyword arguments. ``optimizer`` defaults to ``'adamw'``,
        ``n_iter_no_change`` to ``max(2, max_epochs // 4)`` and
        ``early_stopping_metric`` to ``'accuracy'`` (the epoch of best validation
        accuracy is kept, as in a study) when absent. A name that is not an argument
        of the estimator, or that the driver sets itself (``max_iter``, ``random_state``,
        ``device``, ``callbacks``; XGBoost's ``n_estimators``, ``early_stopping_rounds``,
        ...), raises a ValueError before anything is fitted.
    seeds : sequence of int or int
        Model seeds; an int ``k`` means ``range(k)``. With ``ensemble_size=M > 1``
        each seed ``s`` is one ensemble, of the members seeded
        ``s * M, ..., s * M + M - 1``.
    data_home : str, default=None
        Directory of the data files.
    device : {'cpu', 'cuda', 'cuda:N', 'auto'}, default='cpu'
        Where the models train.
    max_epochs : int, default=DEFAULT_MAX_EPOCHS
        Epoch cap of the MLPs; use the value of the tuning run.
    max_train_rows : int, default=None
        Stratified training subsample (see :func:`load_split`).
    xgb_max_estimators : int, default=XGB_MAX_ESTIMATORS
        Cap on the trees of XGBoost; use the value of the tuning run.
    ensemble_size : int, default=1
        Members per scored model. ``M > 1`` scores a deep ensemble (soft voting):
        ``p(y | x) = (1 / M) sum_m p_m(y | x)``, the members differing only in their
        seed. Every member trains and early-stops exactly as a single model would,
        so the members of ensemble 0 are the single models of seeds ``0..M-1``.
    predictions_dir : str or path-like, default=None
        Directory that keeps the validation and test probabilities of every
        fitted model (:mod:`imbsk.member_cache`). A model already stored there
        for the same dataset, model, ``params``, device, ``max_train_rows`` and
        epoch (or tree) cap is read instead of fitted, so e.g. ensembles of five
        over the stored single models of seeds ``0..14`` fit nothing. Its
        ``fit_time`` is the stored one. A model that cannot be stored (a read-only
        or full directory) gives a ``RuntimeWarning`` and is still scored; a path
        that is a file raises a ValueError before anything is fitted.

    Returns
    -------
    results : pandas.DataFrame
        One row per seed (per ensemble): ``dataset, model, seed, ensemble_size,
        val_accuracy, test_accuracy, minority_accuracy, majority_accuracy,
        test_log_loss, member_test_accuracy, fit_time, epochs``. Minority and majority accuracy
        are the macro accuracies over the 20% of classes with the fewest / most
        training samples (:mod:`imbsk.metrics`); on a binary task they are the
        recall of the rarer / commoner class. ``member_test_accuracy`` is the mean
        test accuracy of the members on their own (equal to ``test_accuracy``
        when ``ensemble_size=1``), ``fit_time`` the members' total and
        ``epochs`` their mean (rounded). A line per member fit goes to stderr.
    """
    dataset, model = _check_names(dataset, model)
    _check_estimator_names(model, params, "params", in_study=False)
    device = _resolve_device(device)
    _check_predictions_dir(predictions_dir)
    _check_ensemble_size(ensemble_size)
    max_epochs = _check_int(max_epochs, "max_epochs")
    xgb_max_estimators = _check_int(xgb_max_estimators, "xgb_max_estimators")
    seed_list = _seed_list(seeds, "seeds")
    data = load_split(dataset, data_home=data_home, max_train_rows=max_train_rows)
    member_config = _member_config(dataset, model, params, device, max_train_rows, max_epochs, xgb_max_estimators)
    rows = []
    for seed in seed_list:
        scored = _ensemble(dataset, model, params, data, seed, ensemble_size, device=device, max_epochs=max_epochs,
                           xgb_max_estimators=xgb_max_estimators, predictions_dir=predictions_dir,
                           member_config=member_config)
        rows.append(_score_row(dataset, model, seed, ensemble_size, data, scored.val_proba, scored.test_proba)
                    | scored.summary())
    return pd.DataFrame(rows)


class _Ensemble(NamedTuple):
    """The averaged probabilities of one (ensemble) model and what its members cost."""

    val_proba: np.ndarray
    test_proba: np.ndarray
    member_test: list[float]
    fit_time: float
    epochs: list[int]

    def summary(self) -> dict[str, Any]:
        return {
            "member_test_accuracy": float(np.mean(self.member_test)),
            "fit_time": self.fit_time,
            "epochs": int(round(float(np.mean(self.epochs)))),
        }


def _ensemble(
    dataset: str,
    model: str,
    params: dict[str, Any],
    data: Bunch,
    seed: int,
    ensemble_size: int,
    *,
    device: str,
    max_epochs: int,
    xgb_max_estimators: int,
    predictions_dir: str | os.PathLike | None,
    member_config: dict[str, Any],
) -> _Ensemble:
    """Soft vote of the members seeded ``seed * M .. seed * M + M - 1``; a line per member goes to stderr."""
    y_val, y_test, classes = np.asarray(data.y_val), np.asarray(data.y_test), data.classes
    val_proba, test_proba = 0.0, 0.0
    member_test, fit_time, epochs = [], 0.0, []
    for member_seed in range(seed * ensemble_size, (seed + 1) * ensemble_size):
        member, source = _evaluated_member(dataset, model, params, data, seed=member_seed, device=device,
                                           max_epochs=max_epochs, xgb_max_estimators=xgb_max_estimators,
                                           predictions_dir=predictions_dir, member_config=member_config)
        val_proba = val_proba + member.val_proba / ensemble_size
        test_proba = test_proba + member.test_proba / ensemble_size
        member_val = _accuracy(y_val, _labels(classes, member.val_proba))
        member_test.append(_accuracy(y_test, _labels(classes, member.test_proba)))
        fit_time += member.fit_time
        epochs.append(member.epochs)
        print(f"[evaluate {dataset}/{model}] seed {member_seed}: val acc {member_val:.4f}, "
              f"test acc {member_test[-1]:.4f} ({member.fit_time:.0f} s, {member.epochs} {_EPOCHS_NAME[model]}"
              f"{', ' + source if source else ''})",
              file=sys.stderr, flush=True)
    return _Ensemble(val_proba, test_proba, member_test, fit_time, epochs)


def _score_row(
    dataset: str, model: str, seed: int, ensemble_size: int, data: Bunch, val_proba: np.ndarray,
    test_proba: np.ndarray,
) -> dict[str, Any]:
    """The score columns of one row of :func:`evaluate`: accuracies and the test log-loss."""
    test_pred = _labels(data.classes, test_proba)
    y_test = np.asarray(data.y_test)
    return {
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "ensemble_size": int(ensemble_size),
        "val_accuracy": _accuracy(np.asarray(data.y_val), _labels(data.classes, val_proba)),
        "test_accuracy": _accuracy(y_test, test_pred),
        "minority_accuracy": minority_accuracy(y_test, test_pred, class_counts=data.class_counts),
        "majority_accuracy": majority_accuracy(y_test, test_pred, class_counts=data.class_counts),
        # Rows renormalised in float64: XGBoost's float32 probabilities sum to 1 only to float32 precision.
        "test_log_loss": log_loss(y_test, _rows_summing_to_one(test_proba), labels=data.classes),
    }


def _rows_summing_to_one(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    return proba / proba.sum(axis=1, keepdims=True)


#: Weights of the second model that :func:`evaluate_blend` tries on the validation split.
BLEND_WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)


def evaluate_blend(
    dataset: str,
    first: dict[str, Any],
    second: dict[str, Any],
    *,
    seeds: Sequence[int] | int,
    weight: float | str = 0.5,
    data_home: str | None = None,
    device: str = "cpu",
    max_train_rows: int | None = None,
    ensemble_size: int = 1,
    predictions_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Score soft-voting blends of two configurations, e.g. an MLP and XGBoost, over seeds.

    For seed ``s`` the two (ensemble) models of ``s`` are fitted (or read from
    ``predictions_dir``) exactly as :func:`evaluate` fits them, and blended as

    ``p(y | x) = (1 - w) p_first(y | x) + w p_second(y | x)``.

    The default ``w = 0.5`` is plain soft voting (scikit-learn's ``VotingClassifier``
    with equal weights). With ``weight='validation'`` each seed's ``w`` is the value
    of :data:`BLEND_WEIGHTS` (0, 0.05, ..., 1) with the best validation accuracy, ties
    going to the weight nearest 0.5; the test split is not looked at. Weights 0 and 1
    are the two models alone, so that blend never scores below the better one *on
    validation*. But the benchmark models already used the validation split (the MLP
    keeps its best epoch by validation accuracy, XGBoost early-stops on it), so their
    validation scores are optimistic by different amounts and the picked weight is
    biased towards the model that selected on accuracy; on 9,901 Otto validation rows
    it also varied from 0 to 0.45 between two seeds. Prefer the fixed default unless
    a separate split is at hand.

    Parameters
    ----------
    dataset : {'adult', 'otto', 'covertype'}
        Benchmark of both configurations.
    first, second : dict
        Configurations as :func:`load_config` returns them: ``model`` and
        ``params`` (checked as :func:`evaluate` checks its ``params``), and
        optionally ``max_epochs`` / ``xgb_max_estimators`` (defaults as in
        :func:`evaluate`).
    seeds : sequence of int or int
        As in :func:`evaluate`; seed ``s`` pairs the models of seed ``s`` of both.
    weight : float in [0, 1] or 'validation', default=0.5
        ``w``, the share of ``second``.
    data_home, device, max_train_rows, ensemble_size, predictions_dir
        As in :func:`evaluate`, for both configurations.

    Returns
    -------
    results : pandas.DataFrame
        One row per seed with the columns of :func:`evaluate` for the blend
        (``model`` is ``'<first>+<second>'``, ``fit_time`` both models' total),
        plus ``blend_weight``, ``first_test_accuracy`` and ``second_test_accuracy``.
    """
    dataset, first_model = _check_names(dataset, first.get("model", ""))
    models = [first_model, _check_names(dataset, second.get("model", ""))[1]]
    all_caps = []
    for model, config, name in zip(models, (first, second), ("first", "second")):
        _check_estimator_names(model, config["params"], f"{name}['params']", in_study=False)
        # Checked as evaluate() checks its caps: int() and a fallback for falsy values would train
        # max_epochs=2.5 for 2 epochs and max_epochs=0 for the default 50, without a word.
        all_caps.append({
            cap: default if config.get(cap) is None else _check_int(config[cap], f"{name}['{cap}']")
            for cap, default in (("max_epochs", DEFAULT_MAX_EPOCHS), ("xgb_max_estimators", XGB_MAX_ESTIMATORS))
        })
    weight = _check_blend_weight(weight, "weight")
    _check_ensemble_size(ensemble_size)
    device = _resolve_device(device)
    _check_predictions_dir(predictions_dir)
    seed_list = _seed_list(seeds, "seeds")
    data = load_split(dataset, data_home=data_home, max_train_rows=max_train_rows)
    y_val, y_test = np.asarray(data.y_val), np.asarray(data.y_test)
    parts = []
    for model, config, caps in zip(models, (first, second), all_caps):
        member_config = _member_config(dataset, model, config["params"], device, max_train_rows, **caps)
        parts.append((model, config["params"], caps, member_config))
    rows = []
    for seed in seed_list:
        scored = [
            _ensemble(dataset, model, params, data, seed, ensemble_size, device=device,
                      predictions_dir=predictions_dir, member_config=member_config, **caps)
            for model, params, caps, member_config in parts
        ]
        w = weight if weight != "validation" else _validation_blend_weight(
            y_val, data.classes, scored[0].val_proba, scored[1].val_proba)

        def blend(name: str) -> np.ndarray:
            return (1.0 - w) * getattr(scored[0], name) + w * getattr(scored[1], name)

        row = _score_row(dataset, "+".join(models), seed, ensemble_size, data, blend("val_proba"), blend("test_proba"))
        rows.append(row | {
            "fit_time": scored[0].fit_time + scored[1].fit_time,
            "blend_weight": w,
            "first_test_accuracy": _accuracy(y_test, _labels(data.classes, scored[0].test_proba)),
            "second_test_accuracy": _accuracy(y_test, _labels(data.classes, scored[1].test_proba)),
        })
        print(f"[evaluate {dataset}/{row['model']}] seed {seed}: weight {w:.2f}, val acc {row['val_accuracy']:.4f}, "
              f"test acc {row['test_accuracy']:.4f}", file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def _validation_blend_weight(
    y_val: np.ndarray, classes: np.ndarray, first_proba: np.ndarray, second_proba: np.ndarray
) -> float:
    """The weight of :data:`BLEND_WEIGHTS` with the best validation accuracy, ties going to the one nearest 0.5."""
    accuracies = np.array([
        _accuracy(y_val, _labels(classes, (1.0 - w) * first_proba + w * second_proba)) for w in BLEND_WEIGHTS
    ])
    best = np.flatnonzero(accuracies == accuracies.max())
    return float(BLEND_WEIGHTS[best[np.argmin(np.abs(BLEND_WEIGHTS[best] - 0.5))]])


def _check_blend_weight(weight: Any, name: str) -> float | str:
    """``weight`` as a float in [0, 1], or ``'validation'``; else a ValueError naming ``name``."""
    if weight == "validation":
        return weight
    if isinstance(weight, (bool, str)) or not isinstance(weight, (int, float, np.number)) or not 0 <= weight <= 1:
        raise ValueError(f"{name} must be a number in [0, 1] or 'validation'; got {weight!r}")
    return float(weight)


def _check_ensemble_size(ensemble_size: Any) -> None:
    if isinstance(ensemble_size, bool) or not isinstance(ensemble_size, (int, np.integer)) or ensemble_size < 1:
        raise ValueError(f"ensemble_size must be a positive integer; got {ensemble_size!r}")


_METRICS = ("val_accuracy", "test_accuracy", "minority_accuracy", "majority_accuracy", "fit_time")
# Columns of evaluate() since ensembles were added; older result files lack them.
_ENSEMBLE_METRICS = ("member_test_accuracy",)
# Columns of evaluate_blend().
_BLEND_METRICS = ("blend_weight", "first_test_accuracy", "second_test_accuracy")
# Columns added later still; older result files lack them.
_PROBABILITY_METRICS = ("test_log_loss",)


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over seeds of every metric, per dataset, model and ensemble size.

    ``se = std(ddof=1) / sqrt(n)``; NaN for a single seed (no spread measured), as in
    :func:`imbsk.compare.summarize`.

    Parameters
    ----------
    results : pandas.DataFrame
        Rows from :func:`evaluate` (may mix datasets, models and ensemble sizes).

    Returns
    -------
    summary : pandas.DataFrame
        One row per ``(dataset, model)``, or per ``(dataset, model, ensemble_size)``
        when ``results`` has that column: ``n_seeds`` and ``<metric>_mean``,
        ``<metric>_se`` for each of ``val_accuracy, test_accuracy,
        minority_accuracy, majority_accuracy, fit_time`` (and
        ``test_log_loss``, ``member_test_accuracy`` and the blend columns of
        :func:`evaluate_blend` when present).
    """
    keys = ["dataset", "model"] + (["ensemble_size"] if "ensemble_size" in results else [])
    optional = _ENSEMBLE_METRICS + _BLEND_METRICS + _PROBABILITY_METRICS
    metrics = _METRICS + tuple(m for m in optional if m in results)
    rows = []
    for values_of_keys, group in results.groupby(keys, sort=False):
        row: dict[str, Any] = dict(zip(keys, values_of_keys))
        row["n_seeds"] = len(group)
        for metric in metrics:
            values = group[metric].to_numpy(dtype=np.float64)
            row[f"{metric}_mean"] = float(np.mean(values))
            row[f"{metric}_se"] = standard_error(values)
        rows.append(row)
    return pd.DataFrame(rows)


def format_summary(summary: pd.DataFrame) -> str:
    """A Markdown table of test / minority / majority accuracy in %, ``mean ± se`` (the mean alone for one seed)."""
    lines = [
        "| dataset | model | seeds | test acc. (%) | minority acc. (%) | majority acc. (%) | fit time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary.itertuples(index=False):
        def pct(name: str) -> str:
            return format_mean_se(getattr(row, name + "_mean"), getattr(row, name + "_se"), scale=100)

        size = int(getattr(row, "ensemble_size", 1))
        model = row.model if size == 1 else f"{row.model} (ensembles of {size})"
        lines.append(
            f"| {row.dataset} | {model} | {row.n_seeds} | {pct('test_accuracy')} | {pct('minority_accuracy')} "
            f"| {pct('majority_accuracy')} | {row.fit_time_mean:.1f} |"
        )
    return "\n".join(lines)
