"""One fit: a configuration trained with one seed (MLP or XGBoost), and the seeded models of the member store.

A seeded model is read from :mod:`imbsk.member_cache` when stored there, else fitted
(and stored); :func:`~imbsk.tuning.tune` and :func:`~imbsk.tuning.evaluate` both go through it.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from imbsk import member_cache
from imbsk._files import check_output_directory
from imbsk.tuning.data import _xgb_frame
from imbsk.tuning.spaces import DEFAULT_OPTIMIZER

#: Trees grown at most by XGBoost (early stopping usually stops far earlier).
XGB_MAX_ESTIMATORS = 2000
#: Rounds without improvement of the validation log-loss before XGBoost stops.
XGB_EARLY_STOPPING_ROUNDS = 50
#: Default epoch cap of the MLPs.
DEFAULT_MAX_EPOCHS = 50
#: Fixed decay of the weight average of the MLPs (horizon of ~100 steps).
MLP_EMA_DECAY = 0.99
#: Validation score the MLPs keep their epoch by and early-stop on (the tuning objective); an evaluated
#: configuration may name its own (``params['early_stopping_metric']``), a tuning trial may not.
MLP_EARLY_STOPPING_METRIC = "accuracy"

#: Estimator arguments the tuning driver sets itself (see ``_fit_model`` and ``_fit_xgboost``).
_DRIVER_ARGUMENTS = frozenset(
    {"max_iter", "early_stopping_metric", "device", "random_state", "callbacks", "validation_fraction"}
)
_XGB_DRIVER_ARGUMENTS = frozenset(
    {"n_estimators", "early_stopping_rounds", "tree_method", "enable_categorical", "device", "random_state"}
)

#: Driver-set arguments that an evaluation (not a study) may take from its configuration.
_EVALUATION_ARGUMENTS = frozenset({"early_stopping_metric"})

#: Where each driver-set argument comes from instead, for the error message.
_DRIVER_ARGUMENT_SOURCES = {
    "max_iter": "the epoch cap, max_epochs / --max-epochs",
    "n_estimators": "the tree cap, xgb_max_estimators / --xgb-max-estimators",
    "random_state": "the model seed, seeds / --seeds (imbsk tune: --seed, --trial-seeds)",
    "device": "device / --device",
    "validation_fraction": "the benchmark's validation split, on which every MLP early-stops (it would be ignored)",
    "callbacks": "the pruner, pruner / --pruner",
    "early_stopping_metric": "a study keeps each trial's epoch of best validation accuracy, the score it ranks and "
                             "prunes trials by; imbsk evaluate takes another",
    "early_stopping_rounds": f"{XGB_EARLY_STOPPING_ROUNDS} rounds without a better validation log-loss",
    "tree_method": "'hist', set by the driver",
    "enable_categorical": "True, set by the driver for the categorical columns",
}


def _check_estimator_names(model: str, extra: dict[str, Any], what: str, *, in_study: bool = True) -> dict[str, Any]:
    """``extra`` if its names are arguments of ``model``'s estimator that the driver leaves free; else a ValueError.

    ``what`` names the argument or option in the message; ``in_study=False`` (an evaluation) also
    leaves ``early_stopping_metric`` free.
    """
    if not extra:
        return dict(extra)
    driver_set = _XGB_DRIVER_ARGUMENTS if model == "xgboost" else _DRIVER_ARGUMENTS
    reserved = {name: _DRIVER_ARGUMENT_SOURCES[name]
                for name in (driver_set if in_study else driver_set - _EVALUATION_ARGUMENTS)}
    if model == "xgboost":
        from xgboost import XGBClassifier as estimator
    else:
        from imbsk.estimators.mlp import ImbalancedMLPClassifier as estimator
    from imbsk.estimators.base import check_free_arguments

    return check_free_arguments(extra, estimator, reserved, what, "the tuning driver")


class _FittedModel:
    """A fitted model (``estimator``) with a uniform ``predict_proba`` (columns = ``classes``) and its cost."""

    def __init__(
        self,
        estimator: Any,
        predict_proba: Callable[[Any], np.ndarray],
        classes: np.ndarray,
        fit_time: float,
        epochs: int,
    ) -> None:
        self.estimator = estimator
        self.predict_proba = predict_proba
        self.classes = np.asarray(classes)
        self.fit_time = fit_time
        self.epochs = epochs

    def predict(self, X: Any) -> np.ndarray:
        return _labels(self.classes, self.predict_proba(X))


def _labels(classes: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """The class of the largest probability in each row of ``proba`` (columns ordered as ``classes``)."""
    return classes[np.argmax(proba, axis=1)]


def _fit_model(
    model: str,
    params: dict[str, Any],
    data: Bunch,
    *,
    seed: int,
    device: str,
    max_epochs: int,
    xgb_max_estimators: int = XGB_MAX_ESTIMATORS,
    callbacks: list | None = None,
) -> _FittedModel:
    """Fit ``params`` with ``seed``; ``callbacks`` join an MLP's training loop (XGBoost takes none)."""
    if model == "xgboost":
        return _fit_xgboost(params, data, seed=seed, device=device, max_estimators=xgb_max_estimators)
    from imbsk.estimators.mlp import ImbalancedMLPClassifier

    kwargs = dict(params)
    kwargs["hidden_layer_sizes"] = tuple(int(w) for w in kwargs.get("hidden_layer_sizes", (256, 256)))
    # Configurations stored before the optimiser became a tuning option carry none: they ran AdamW.
    kwargs.setdefault("optimizer", DEFAULT_OPTIMIZER)
    # A configuration may set its own patience, e.g. n_iter_no_change=max_epochs to run the
    # whole cosine schedule and keep the best epoch.
    kwargs.setdefault("n_iter_no_change", max(2, int(max_epochs) // 4))
    # ... and its own weight-average horizon (a longer one suits a full cosine schedule).
    kwargs.setdefault("ema_decay", MLP_EMA_DECAY)
    # ... and, outside a study, the score its kept epoch is chosen by (e.g. 'loss', the estimator's default).
    kwargs.setdefault("early_stopping_metric", MLP_EARLY_STOPPING_METRIC)
    estimator = ImbalancedMLPClassifier(
        max_iter=int(max_epochs),
        device=device,
        random_state=seed,
        callbacks=callbacks,
        **kwargs,
    )
    # The estimator's fit takes turns with other threads' fits (it seeds torch's process-wide
    # generator), so parallel trials are still the models of their seeds.
    estimator.fit(data.X_train, data.y_train, X_val=data.X_val, y_val=data.y_val)
    return _FittedModel(
        estimator, estimator.predict_proba, estimator.classes_, estimator.fit_time_, int(estimator.n_iter_)
    )


def _fit_xgboost(
    params: dict[str, Any], data: Bunch, *, seed: int, device: str, max_estimators: int = XGB_MAX_ESTIMATORS
) -> _FittedModel:
    import xgboost

    encoder = LabelEncoder().fit(np.asarray(data.y_train))
    X_train, X_val = _xgb_frame(data.X_train), _xgb_frame(data.X_val)
    y_train = encoder.transform(np.asarray(data.y_train))
    y_val = encoder.transform(np.asarray(data.y_val))
    classifier = xgboost.XGBClassifier(
        n_estimators=int(max_estimators),
        early_stopping_rounds=XGB_EARLY_STOPPING_ROUNDS,
        tree_method="hist",
        enable_categorical=True,
        device=device if device.startswith("cuda") else "cpu",
        random_state=seed,
        **params,
    )
    started = time.perf_counter()
    classifier.fit(X_train, y_train, eval_set=[(X_val, y_val)], verbose=False)
    fit_time = time.perf_counter() - started

    def predict_proba(X: Any) -> np.ndarray:
        # Uses the trees up to best_iteration when early stopping fired.
        return classifier.predict_proba(_xgb_frame(X))

    return _FittedModel(classifier, predict_proba, encoder.classes_, fit_time, int(classifier.best_iteration) + 1)


_EPOCHS_NAME = {"xgboost": "trees", "mlp": "epochs", "mlp_sam_ls": "epochs"}


def _resolve_device(device: str) -> str:
    """``'auto'`` -> ``'cuda'`` or ``'cpu'``; ``'cuda'`` / ``'cuda:N'`` checked against the visible GPUs."""
    from imbsk.estimators.base import check_device_form, resolve_device  # torch only when a fit is near

    check_device_form(device, "the tuning driver")
    return resolve_device(device)


def _accuracy(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))

def _seed_list(seeds: Sequence[int] | int, name: str) -> list[int]:
    """``range(k)`` for an int ``k``, else the given seeds; a ValueError for a negative or repeated one."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seed_list = list(range(seeds))
    else:
        seeds = list(seeds)
        # int() would take seed 1.5 for 1 (and True for 1): a run under a seed the caller did not give.
        if any(isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) for seed in seeds):
            raise ValueError(f"{name} must be non-negative integers; got {seeds}")
        seed_list = [int(seed) for seed in seeds]
    if any(seed < 0 for seed in seed_list):
        raise ValueError(f"{name} must be non-negative; got {seed_list}")
    # A repeated seed is the same model again: it would count as an independent run in
    # n_seeds and shrink the standard error (or weigh twice in a trial's mean).
    if len(set(seed_list)) != len(seed_list):
        raise ValueError(f"{name} must not repeat a seed; got {seed_list}")
    return seed_list


def _device_kind(device: str) -> str:
    """``'cuda'`` for any GPU: which GPU fitted a model does not change the model, so its stored key."""
    return "cuda" if device.startswith("cuda") else device


def _member_config(
    dataset: str,
    model: str,
    params: dict[str, Any],
    device: str,
    max_train_rows: int | None,
    max_epochs: int,
    xgb_max_estimators: int,
) -> dict[str, Any]:
    """What :mod:`imbsk.member_cache` hashes to name a configuration's files.

    Everything that decides the fits of a configuration but the seed.
    """
    cap = {"xgb_max_estimators": int(xgb_max_estimators)} if model == "xgboost" else {"max_epochs": int(max_epochs)}
    return {
        "dataset": dataset, "model": model, "params": params, "device": _device_kind(device),
        "max_train_rows": max_train_rows
    } | cap


def _evaluated_member(
    dataset: str,
    model: str,
    params: dict[str, Any],
    data: Bunch,
    *,
    seed: int,
    device: str,
    max_epochs: int,
    xgb_max_estimators: int,
    predictions_dir: str | os.PathLike | None,
    member_config: dict[str, Any],
    callbacks: list | None = None,
) -> tuple[member_cache.MemberPredictions, str]:
    """The probabilities of the model of ``seed``: read from ``predictions_dir``, else fitted (and stored).

    ``callbacks`` join the training loop of a fresh MLP fit (a stored model is not refitted).
    The second value says where a read member came from, and under which other package
    versions and on which other machine it was fitted, if any; it is empty for a fresh fit.
    """
    classes = data.classes
    path = None
    if predictions_dir is not None:
        path = member_cache.member_path(predictions_dir, dataset, model, member_cache.config_key(member_config), seed)
        stored = member_cache.load_member(path, classes, n_val=len(data.y_val), n_test=len(data.y_test),
                                          data=data.digest)
        if stored is not None:
            versions = member_cache.version_changes(stored.versions)
            machine = member_cache.machine_changes(stored.machine)
            fitted_under = "".join(f", fitted under {name} {old} (now {new})" for name, (old, new) in versions.items())
            fitted_on = "".join(f", fitted on {field} {old} (here {new})" for field, (old, new) in machine.items())
            return stored, f"read from {path}{fitted_under}{fitted_on}"
    fitted = _fit_model(model, params, data, seed=seed, device=device, max_epochs=max_epochs,
                        xgb_max_estimators=xgb_max_estimators, callbacks=callbacks)
    if not np.array_equal(fitted.classes, classes):
        raise RuntimeError(f"the fitted classes {fitted.classes} are not the sorted training labels {classes}")
    member = member_cache.MemberPredictions(
        val_proba=np.asarray(fitted.predict_proba(data.X_val)),
        test_proba=np.asarray(fitted.predict_proba(data.X_test)),
        fit_time=float(fitted.fit_time),
        epochs=int(fitted.epochs),
    )
    if path is not None:
        try:
            member_cache.save_member(path, member, classes, config=member_config, data=data.digest)
        except OSError as error:
            # The model is fitted and scored; a store that cannot take its file (read-only, full) must not
            # throw away the run, or in a study every trial after it. A later run fits it again.
            warnings.warn(f"the model of seed {seed} could not be stored as {path} ({error}); it is used but not "
                          "kept", RuntimeWarning, stacklevel=2)
    return member, ""


def _check_predictions_dir(predictions_dir: str | os.PathLike | None) -> None:
    """Refuse, before any fit, a ``predictions_dir`` that can never hold a file (a file, or a path below one).

    It need not be writable: a store that only has to be read may be read-only.
    """
    if predictions_dir is not None:
        check_output_directory(predictions_dir, "predictions_dir", writable=False)
