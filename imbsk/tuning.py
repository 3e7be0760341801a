"""Hyperparameter tuning and multi-seed evaluation on the tabular benchmarks.

Protocol (Gorishniy et al. 2021/2022, also used by Shwartz-Ziv et al. 2023 for
Table 6): every configuration is trained on ``X_train`` and scored by its
accuracy on ``X_val``; the best configuration is then retrained with several
seeds and reported on ``X_test`` as mean +- standard error,
``se = std(ddof=1) / sqrt(n_seeds)``. ``evaluate(..., ensemble_size=M)`` scores
deep ensembles instead (soft voting over ``M`` seeds, ``p(y|x) = mean_m p_m(y|x)``),
each seed of the report being one ensemble.

Models
------
``'mlp'``
    :class:`~imbsk.estimators.mlp.ImbalancedMLPClassifier` with PLR numerical
    embeddings (MLP-PLR), plain empirical risk minimisation.
``'mlp_sam_ls'``
    The same MLP-PLR plus the paper's SAM-A (``sam_asymmetric_rho``) and
    class-conditional label smoothing (``class_smoothing_eps``).
``'xgboost'``
    :class:`xgboost.XGBClassifier` (``tree_method='hist'``, native categorical
    columns via ``enable_categorical=True``), up to ``XGB_MAX_ESTIMATORS`` trees
    with early stopping after ``XGB_EARLY_STOPPING_ROUNDS`` rounds without
    improvement of the log-loss on ``X_val``. A categorical split sends one
    category one way and the rest the other (``max_cat_to_onehot``), the splits
    a tree can make on one-hot encoded columns.

Search spaces
-------------
The MLP ranges start from the published MLP-PLR space of Gorishniy et al.
(2022, Table 12/13: ``sigma ~ LogU[0.01, 100]``, ``k, d ~ UniformInt[1, 128]``,
``n_layers ~ UniformInt[1, 8]``, ``d_layer ~ UniformInt[1, 512]``,
``dropout ~ {0, U[0, 0.5]}``, ``lr ~ LogU[1e-5, 1e-2]``,
``weight_decay ~ {0, LogU[1e-6, 1e-3]}``; quoted from those papers'
appendices as we know them, not re-checked here), narrowed where noted so
that a few dozen CPU trials are informative:

======================  ===================================  ==========================================
parameter               range                                note
======================  ===================================  ==========================================
frequency_init_scale    log-uniform [0.01, 100]              published (sigma)
n_frequencies           int [8, 96]                          published [1, 128]; narrowed
d_embedding             int [8, 64]                          published [1, 128]; narrowed (cost)
n_blocks                int [1, 4]                           published [1, 8]; narrowed
width                   int [64, 1024], step 32              one width for every block; widened (*)
dropout                 uniform [0, 0.5]                     published
learning_rate_init      log-uniform [3e-5, 3e-3]             ``optimizer='adamw'``; published [1e-5, 1e-2]
learning_rate_init      log-uniform [1e-3, 0.3]              ``optimizer='sgd'`` (momentum 0.9)
weight_decay            log-uniform [1e-6, 1e-3]             published (without the 0 branch)
batch_size              categorical ``batch_sizes``          default (64, 128, 256, 512)
sam_asymmetric_rho      log-uniform [0.01, 0.5]              ``'mlp_sam_ls'`` only
class_smoothing_eps     uniform [0, 0.3]                     ``'mlp_sam_ls'`` only
======================  ===================================  ==========================================

(*) The widest Otto MLPs we measured (3 x 768 and 3 x 1024 with dropout 0.5)
did better on the validation split than any 512-wide one (docs/benchmarks.md).

The optimiser is chosen per study (``optimizer=`` of :func:`tune`, ``--optimizer``):
``'adamw'`` (default, as Gorishniy et al.) or ``'sgd'`` with momentum 0.9, the
paper's tabular recipe ("SAM-A, modified label smoothing, and SGD with cosine
annealing [...] and small batch size"); both use the estimator's linear warm-up
and cosine annealing over ``max_epochs``.

Fixed MLP settings: ``num_embedding='plr'``, ``max_iter=max_epochs``, ``ema_decay=0.99``
unless the configuration sets its own,
early stopping on the benchmark's ``X_val`` (validation accuracy, passed as
``fit(..., X_val=, y_val=)``, so every ``X_train`` row trains, as XGBoost's
``eval_set``) with ``n_iter_no_change=max(2, max_epochs // 4)`` unless the
configuration sets its own, float32 unless the study was tuned with
``precision='bfloat16'`` (``--precision``), and the
default ``class_scaling='sqrt_inverse_frequency'`` (per-class ``rho_c`` and
``eps_c``).

XGBoost (Gorishniy et al. 2021, Table 14, narrowed for the CPU budget):

======================  ===================================  ==========================================
parameter               range                                note
======================  ===================================  ==========================================
max_depth               int [3, 10]                          published
learning_rate           log-uniform [0.01, 0.3]              published [1e-5, 1]; narrowed
min_child_weight        log-uniform [1e-2, 1e2]              published [1e-8, 1e5]; narrowed
subsample               uniform [0.5, 1]                     published
colsample_bytree        uniform [0.5, 1]                     published
reg_lambda              log-uniform [1e-8, 1e2]              published (without the 0 branch)
reg_alpha               log-uniform [1e-8, 1e2]              published (without the 0 branch)
n_estimators            2000, early stopping 50 rounds       fixed (cap: ``xgb_max_estimators``)
max_cat_to_onehot       ``XGB_MAX_CAT_TO_ONEHOT``            fixed: one-vs-rest categorical splits
======================  ===================================  ==========================================

One-vs-rest rather than XGBoost's partition splits (``max_cat_to_onehot=1``, any
subset of categories one way): partition splits fit Adult's validation split
better and its test split worse (docs/benchmarks.md, sixth run). A configuration
without the key (studies before the sixth run) keeps XGBoost's default
(``max_cat_to_onehot=4``): partition splits for columns of four or more categories.

Every space is a function ``(trial, *, batch_sizes=BATCH_SIZES) -> dict`` that
returns keyword arguments of the estimator; :func:`tune` stores them in the
trial's user attribute ``'params'`` (and :func:`best_params` reads them back),
together with ``'fit_time'`` (seconds) and ``'epochs'`` (epochs run for the
MLPs, trees kept for XGBoost).

Several workers
---------------
:func:`tune` opens the study with ``load_if_exists=True``, so any number of
processes -- or machines, with ``storage='postgresql://...'`` -- can run
``tune`` with the same ``storage`` and ``study_name`` and add trials to one
study. Give every worker a different ``seed``: workers with the same seed
would draw the same initial random configurations.

Subsampling
-----------
``max_train_rows`` keeps a stratified subsample (``random_state=0``) of at most
that many training rows; validation and test sets are unchanged. It exists for
smoke tests and quick experiments; benchmark numbers use the full split.

Benchmark driver
----------------
:func:`run_benchmark` (behind ``examples/adult.py``, ``otto.py``,
``covertype.py`` via :func:`benchmark_main`) tunes XGBoost, MLP-PLR and
MLP-PLR + SAM-A + smoothing in that order, evaluates each over seeds and writes
``{dataset}-results.csv``, ``{dataset}-summary.csv`` and
``{dataset}-best-params.json``. Its ``'mlp_sam_ls'`` study first tries the best
``'mlp'`` configuration with ``rho = WARM_START_RHO`` and
``eps = WARM_START_EPS`` (``enqueue_trials`` of :func:`tune`), so that a small
budget measures what the two techniques add. ``xgb_max_estimators`` lowers the
tree cap (e.g. 1000 on Otto, where every round grows 9 trees).

Command line
------------
:func:`add_tune_arguments` and :func:`run_tune_command` implement
``imbsk tune --dataset adult|otto|covertype --model mlp|mlp_sam_ls|xgboost
--n-trials N [--timeout S] [--storage URL] [--study-name NAME]
[--data-home DIR] [--device cpu|cuda|auto] [--max-epochs E]
[--trial-seeds K|A-B|A,B] [--fixed-params JSON] [--estimator-params JSON]
[--enqueue-trial JSON]... [--predictions-dir DIR] [--evaluate-seeds K] [--out DIR]``;
it writes ``<out>/<study>-best.json``. ``--trial-seeds`` scores every trial over
several model seeds; with ``--predictions-dir`` those models are stored, and a
later ``imbsk evaluate`` of the best configuration reads them.
:func:`add_evaluate_arguments` and :func:`run_evaluate_command` implement
``imbsk evaluate --config FILE [--seeds K|A-B|A,B] [--ensemble-size M]
[--estimator-params JSON] [--predictions-dir DIR] [--out DIR] [--name STEM]``, which
retrains such a file (or one of ``examples/configs/``, the configurations of
``docs/benchmarks.md``) over seeds, with ``--estimator-params`` replacing or adding
estimator arguments, and writes the configuration it evaluated beside the results.
``--blend-config FILE [--blend-weight W|validation]`` scores instead the soft-vote
blend of each seed's model with the model of the same seed of a second configuration
(:func:`evaluate_blend`: ``p = (1 - w) p_first + w p_second``, ``w = 0.5`` unless
given or picked on the validation split), e.g. the MLP with XGBoost.
With ``--predictions-dir`` every fitted model's probabilities are kept
(:mod:`imbsk.member_cache`), so ensembles of stored single models cost no fit.

References
----------
Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models for
Tabular Data." NeurIPS 2021.
Gorishniy, Rubachev, Babenko. "On Embeddings for Numerical Features in Tabular
Deep Learning." NeurIPS 2022.
Shwartz-Ziv, Goldblum, Li, Bruss, Wilson. "Simplifying Neural Network Training
Under Class Imbalance." NeurIPS 2023.
Akiba, Sano, Yanase, Ohta, Koyama. "Optuna: A Next-generation Hyperparameter
Optimization Framework." KDD 2019.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from imbsk import member_cache
from imbsk.datasets.tabular import DATASETS, load_dataset
from imbsk.metrics import majority_accuracy, minority_accuracy, standard_error

__all__ = [
    "BATCH_SIZES",
    "BLEND_WEIGHTS",
    "DATASET_NAMES",
    "MODEL_NAMES",
    "PRECISIONS",
    "SEARCH_SPACES",
    "add_evaluate_arguments",
    "add_tune_arguments",
    "best_params",
    "evaluate",
    "evaluate_blend",
    "load_config",
    "load_split",
    "mlp_sam_ls_space",
    "mlp_space",
    "parse_seeds",
    "run_benchmark",
    "run_evaluate_command",
    "run_tune_command",
    "summarize",
    "tune",
    "xgboost_space",
]

#: Default choices of ``batch_size`` in the MLP spaces.
BATCH_SIZES: tuple[int, ...] = (64, 128, 256, 512)
#: Trees grown at most by XGBoost (early stopping usually stops far earlier).
XGB_MAX_ESTIMATORS = 2000
#: Rounds without improvement of the validation log-loss before XGBoost stops.
XGB_EARLY_STOPPING_ROUNDS = 50
#: XGBoost makes one-vs-rest categorical splits for columns with fewer categories than
#: this, i.e. for any column a tabular benchmark has.
XGB_MAX_CAT_TO_ONEHOT = 1 << 16
#: Default epoch cap of the MLPs.
DEFAULT_MAX_EPOCHS = 50
#: Fixed decay of the weight average of the MLPs (horizon of ~100 steps).
MLP_EMA_DECAY = 0.99
#: Validation score the MLPs early-stop on (the tuning objective).
MLP_EARLY_STOPPING_METRIC = "accuracy"
#: Optimiser of the MLP trials unless ``optimizer=`` says otherwise (Gorishniy et al.).
DEFAULT_OPTIMIZER = "adamw"
#: ``learning_rate_init`` range (log-uniform) of the MLP spaces, per optimiser. SGD
#: (momentum 0.9, warm-up then cosine annealing) is the paper's tabular recipe.
LEARNING_RATE_RANGES: dict[str, tuple[float, float]] = {"adamw": (3e-5, 3e-3), "sgd": (1e-3, 0.3)}
#: ``precision`` of the MLP trials (estimator parameter); configurations carry it only when not float32.
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16")
#: Widest hidden layer of the MLP spaces.
MAX_WIDTH = 1024

#: SAM-A radius and smoothing of the first ``'mlp_sam_ls'`` trial in :func:`run_benchmark`
#: (added to the best plain-MLP configuration).
WARM_START_RHO = 0.05
WARM_START_EPS = 0.05

DATASET_NAMES: tuple[str, ...] = tuple(sorted(DATASETS))


# ---------------------------------------------------------------------------
# search spaces
# ---------------------------------------------------------------------------
def mlp_space(
    trial: optuna.Trial,
    *,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    optimizer: str = DEFAULT_OPTIMIZER,
    precision: str = "float32",
) -> dict[str, Any]:
    """MLP-PLR search space (Gorishniy et al. 2022), plain ERM.

    Parameters
    ----------
    trial : optuna.Trial
        The trial that draws the values.
    batch_sizes : sequence of int, default=BATCH_SIZES
        Choices of ``batch_size``; every worker of one study must pass the same.
    optimizer : {'adamw', 'sgd'}, default=DEFAULT_OPTIMIZER
        Optimiser of every trial; it sets the ``learning_rate_init`` range
        (``LEARNING_RATE_RANGES``) and is returned in the parameters.
    precision : {'float32', 'bfloat16'}, default='float32'
        ``precision`` of every trial's estimator; returned in the parameters
        when it is ``'bfloat16'`` (float32 configurations stay as before).

    Returns
    -------
    params : dict
        Keyword arguments of :class:`~imbsk.estimators.mlp.ImbalancedMLPClassifier`
        (``hidden_layer_sizes`` as a list so that it is JSON-serialisable).
    """
    lr_low, lr_high = LEARNING_RATE_RANGES[_check_optimizer(optimizer)]
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}; got {precision!r}")
    n_blocks = trial.suggest_int("n_blocks", 1, 4)
    width = trial.suggest_int("width", 64, MAX_WIDTH, step=32)
    params = {
        "optimizer": optimizer,
        "num_embedding": "plr",
        "frequency_init_scale": trial.suggest_float("frequency_init_scale", 0.01, 100.0, log=True),
        "n_frequencies": trial.suggest_int("n_frequencies", 8, 96),
        "d_embedding": trial.suggest_int("d_embedding", 8, 64),
        "hidden_layer_sizes": [width] * n_blocks,
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        "learning_rate_init": trial.suggest_float("learning_rate_init", lr_low, lr_high, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True),
        "batch_size": int(trial.suggest_categorical("batch_size", [int(b) for b in batch_sizes])),
    }
    if precision != "float32":
        params["precision"] = precision
    return params


def mlp_sam_ls_space(
    trial: optuna.Trial,
    *,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    optimizer: str = DEFAULT_OPTIMIZER,
    precision: str = "float32",
) -> dict[str, Any]:
    """MLP-PLR + SAM-A + class-conditional label smoothing (Shwartz-Ziv et al. 2023).

    The :func:`mlp_space` ranges plus ``sam_asymmetric_rho ~ LogU[0.01, 0.5]``
    (base SAM-A radius ``rho``; class ``c`` ascends with ``rho_c``) and
    ``class_smoothing_eps ~ U[0, 0.3]`` (base smoothing ``eps``; targets
    ``q_{y,j} = (1 - eps_y) 1[j = y] + eps_y / K``).

    Parameters
    ----------
    trial : optuna.Trial
        The trial that draws the values.
    batch_sizes : sequence of int, default=BATCH_SIZES
        Choices of ``batch_size``.
    optimizer : {'adamw', 'sgd'}, default=DEFAULT_OPTIMIZER
        Optimiser of every trial (see :func:`mlp_space`).
    precision : {'float32', 'bfloat16'}, default='float32'
        Estimator ``precision`` of every trial (see :func:`mlp_space`).

    Returns
    -------
    params : dict
        Keyword arguments of :class:`~imbsk.estimators.mlp.ImbalancedMLPClassifier`.
    """
    params = mlp_space(trial, batch_sizes=batch_sizes, optimizer=optimizer, precision=precision)
    params["sam_asymmetric_rho"] = trial.suggest_float("sam_asymmetric_rho", 0.01, 0.5, log=True)
    params["class_smoothing_eps"] = trial.suggest_float("class_smoothing_eps", 0.0, 0.3)
    return params


def xgboost_space(
    trial: optuna.Trial,
    *,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    optimizer: str = DEFAULT_OPTIMIZER,
    precision: str = "float32",
) -> dict[str, Any]:
    """XGBoost search space (Gorishniy et al. 2021, narrowed; see the module table).

    Parameters
    ----------
    trial : optuna.Trial
        The trial that draws the values.
    batch_sizes : sequence of int
        Ignored (uniform signature with the MLP spaces).
    optimizer, precision : str
        Ignored (uniform signature with the MLP spaces).

    Returns
    -------
    params : dict
        Keyword arguments of :class:`xgboost.XGBClassifier`.
    """
    del batch_sizes, optimizer, precision
    return {
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "min_child_weight": trial.suggest_float("min_child_weight", 1e-2, 1e2, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 1e2, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 1e2, log=True),
        "max_cat_to_onehot": XGB_MAX_CAT_TO_ONEHOT,
    }


SEARCH_SPACES: dict[str, Callable[..., dict[str, Any]]] = {
    "mlp": mlp_space,
    "mlp_sam_ls": mlp_sam_ls_space,
    "xgboost": xgboost_space,
}
MODEL_NAMES: tuple[str, ...] = tuple(SEARCH_SPACES)


def _check_names(dataset: str, model: str) -> tuple[str, str]:
    dataset_key = dataset.lower() if isinstance(dataset, str) else dataset
    if dataset_key not in DATASET_NAMES:
        raise ValueError(f"Unknown dataset {dataset!r}; valid names: {list(DATASET_NAMES)}")
    if model not in SEARCH_SPACES:
        raise ValueError(f"Unknown model {model!r}; valid names: {list(MODEL_NAMES)}")
    return dataset_key, model


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def load_split(dataset: str, *, data_home: str | None = None, max_train_rows: int | None = None) -> Bunch:
    """Load a benchmark's train / validation / test split, never downloading.

    Parameters
    ----------
    dataset : {'adult', 'otto', 'covertype'}
        Benchmark name.
    data_home : str, default=None
        Directory of the data files (``None``: the loaders' default).
    max_train_rows : int, default=None
        Keep a stratified subsample (``random_state=0``) of at most this many
        training rows; validation and test are untouched.

    Returns
    -------
    data : Bunch
        ``X_train, X_val, X_test, y_train, y_val, y_test``, ``classes`` (the
        sorted training labels) and ``class_counts`` (``{label: training count}``).
    """
    name, _ = _check_names(dataset, "mlp")
    bunch = load_dataset(name, data_home=data_home, download=False)
    X_train, y_train = bunch.X_train, bunch.y_train
    if max_train_rows is not None and max_train_rows < len(y_train):
        X_train, _, y_train, _ = train_test_split(
            X_train, y_train, train_size=int(max_train_rows), stratify=y_train, random_state=0
        )
    labels, counts = np.unique(np.asarray(y_train), return_counts=True)
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_val=bunch.X_val,
        y_val=bunch.y_val,
        X_test=bunch.X_test,
        y_test=bunch.y_test,
        classes=labels,
        class_counts={label: int(count) for label, count in zip(labels.tolist(), counts.tolist())},
    )


def _xgb_frame(X: pd.DataFrame) -> pd.DataFrame:
    """Text and boolean columns as pandas categories, which XGBoost splits on natively."""
    X = X.copy()
    for column in X.columns:
        dtype = X[column].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            continue
        if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            X[column] = X[column].astype("category")
    return X


# ---------------------------------------------------------------------------
# one fit
# ---------------------------------------------------------------------------
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
) -> _FittedModel:
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
    estimator = ImbalancedMLPClassifier(
        max_iter=int(max_epochs),
        early_stopping_metric=MLP_EARLY_STOPPING_METRIC,
        device=device,
        random_state=seed,
        **kwargs,
    )
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
        device="cuda" if device == "cuda" else "cpu",
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
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'auto'; got {device!r}")
    return device


def _accuracy(y_true: Any, y_pred: Any) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


# ---------------------------------------------------------------------------
# tuning
# ---------------------------------------------------------------------------
_SCHEMA_RACE_MESSAGES = ("already exists", "UNIQUE constraint failed", "duplicate key value")


def _is_schema_race(error: Exception) -> bool:
    return any(message in str(error) for message in _SCHEMA_RACE_MESSAGES)


def _storage(url: str) -> optuna.storages.BaseStorage:
    # Concurrent workers on one SQLite file wait for the lock instead of failing.
    engine_kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except Exception as error:  # sqlalchemy's OperationalError / IntegrityError, without importing it
            # Workers that start together race to create the schema ("table ... already exists") or
            # to stamp its alembic version ("UNIQUE constraint failed"); the loser finds it complete
            # on the next attempt.
            if not _is_schema_race(error) or attempt == 4:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def tune(
    dataset: str,
    model: str,
    *,
    n_trials: int,
    storage: str = "sqlite:///imbsk-tuning.db",
    study_name: str | None = None,
    seed: int = 0,
    timeout: float | None = None,
    data_home: str | None = None,
    device: str = "cpu",
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    n_jobs: int = 1,
    max_train_rows: int | None = None,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    xgb_max_estimators: int = XGB_MAX_ESTIMATORS,
    enqueue_trials: Sequence[dict[str, Any]] | None = None,
    fixed_params: dict[str, Any] | None = None,
    optimizer: str = DEFAULT_OPTIMIZER,
    precision: str = "float32",
    trial_seeds: Sequence[int] | int | None = None,
    estimator_params: dict[str, Any] | None = None,
    predictions_dir: str | os.PathLike | None = None,
) -> optuna.Study:
    """Run (or continue) an Optuna study maximising the validation accuracy.

    Each trial draws a configuration from ``SEARCH_SPACES[model]``, fits it on
    ``X_train`` once per model seed ``s`` of ``trial_seeds`` (default: ``seed``
    alone) and returns the mean validation accuracy
    ``(1 / S) sum_s accuracy(y_val, predict_s(X_val))``. Averaging over seeds
    lowers the noise of a trial's score, which on one seed is as large as the
    differences the study ranks. The sampler is
    :class:`optuna.samplers.TPESampler` (Bergstra et al. 2011) seeded with ``seed``.

    Parameters
    ----------
    dataset : {'adult', 'otto', 'covertype'}
        Benchmark.
    model : {'mlp', 'mlp_sam_ls', 'xgboost'}
        Model and search space.
    n_trials : int
        Trials this call runs (added to those already in the study).
    storage : str, default='sqlite:///imbsk-tuning.db'
        Optuna storage URL; shared by every worker of a study.
    study_name : str, default=None
        Defaults to ``'{dataset}-{model}'``.
    seed : int, default=0
        Seed of the sampler, and of the models unless ``trial_seeds`` is given;
        use a different one per worker.
    timeout : float, default=None
        Stop starting new trials after this many seconds.
    data_home : str, default=None
        Directory of the data files.
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
        Where the models train.
    max_epochs : int, default=DEFAULT_MAX_EPOCHS
        Epoch cap of the MLPs (ignored by XGBoost).
    n_jobs : int, default=1
        Parallel trials in this process (threads; see :meth:`optuna.Study.optimize`).
    max_train_rows : int, default=None
        Stratified training subsample (see :func:`load_split`).
    batch_sizes : sequence of int, default=BATCH_SIZES
        ``batch_size`` choices of the MLP spaces.
    xgb_max_estimators : int, default=XGB_MAX_ESTIMATORS
        Cap on the trees of XGBoost (early stopping usually ends sooner); a
        lower cap bounds the cost of small learning rates on many classes.
    enqueue_trials : sequence of dict, default=None
        Raw trial parameters (the names of the search space, e.g. ``n_blocks``,
        ``width``) to evaluate first, via :meth:`optuna.Study.enqueue_trial`
        (skipped if already in the study); they count towards ``n_trials``.
    fixed_params : dict, default=None
        Raw trial parameters held at these values in every trial
        (:class:`optuna.samplers.PartialFixedSampler`); the sampler searches
        the rest. E.g. the architecture of a tuned ``'mlp'`` study with
        ``model='mlp_sam_ls'`` tunes only ``sam_asymmetric_rho`` and
        ``class_smoothing_eps`` on top of it, the paper's recipe of adding
        the techniques to a tuned network.
    optimizer : {'adamw', 'sgd'}, default=DEFAULT_OPTIMIZER
        Optimiser of the MLP trials (ignored by XGBoost): AdamW as Gorishniy et
        al., or SGD with momentum 0.9, the paper's tabular recipe; both follow
        a linear warm-up and cosine annealing over ``max_epochs``. It also picks
        the ``learning_rate_init`` range (``LEARNING_RATE_RANGES``). A study
        records its optimiser and refuses trials of the other one.
    precision : {'float32', 'bfloat16'}, default='float32'
        Estimator ``precision`` of the MLP trials (ignored by XGBoost);
        ``'bfloat16'`` trains under bfloat16 autocast, faster on CPUs with
        bfloat16 instructions. The best parameters carry it, so
        :func:`evaluate` retrains with the same precision.
    trial_seeds : sequence of int or int, default=None
        Model seeds of every trial (an int ``k`` means ``range(k)``); the trial
        scores their mean validation accuracy and records each one in its user
        attribute ``val_accuracies``. ``None`` fits one model, seeded ``seed``.
        Every worker of a study should pass the same seeds.
    estimator_params : dict, default=None
        Estimator arguments outside the search space added to every trial's
        configuration, e.g. ``{'ema_decay': 0.999}``; they are part of
        ``best_params(study)``. Names the space draws are refused (hold those
        with ``fixed_params``), as are the arguments the driver sets itself
        (``max_iter``, ``early_stopping_metric``, ``device``, ``random_state``).
    predictions_dir : str or path-like, default=None
        Keep every trial model's validation and test probabilities here, keyed
        as :func:`evaluate` keys them (:mod:`imbsk.member_cache`); a model
        already stored is read instead of fitted. With ``trial_seeds=k`` the
        best trial's models are the seeds ``0..k-1`` of a later
        ``evaluate(..., predictions_dir=...)`` of ``best_params(study)``, which
        then fits only the remaining seeds. Test probabilities are stored, never
        used to score a trial.

    Returns
    -------
    study : optuna.Study
        The study; the best configuration's estimator arguments are
        ``best_params(study)``.
    """
    dataset, model = _check_names(dataset, model)
    device = _resolve_device(device)
    space = functools.partial(SEARCH_SPACES[model], optimizer=_check_optimizer(optimizer), precision=precision)
    choices = [int(b) for b in batch_sizes]
    model_seeds = [int(seed)] if trial_seeds is None else _seed_list(trial_seeds, "trial_seeds")
    if not model_seeds:
        raise ValueError("trial_seeds must name at least one seed")
    drawn = _probe_space(space, choices)
    _check_fixed_params(fixed_params or {}, drawn)
    extra = _check_estimator_params(model, estimator_params or {}, drawn)
    data = load_split(dataset, data_home=data_home, max_train_rows=max_train_rows)

    def objective(trial: optuna.Trial) -> float:
        params = space(trial, batch_sizes=choices) | extra
        member_config = _member_config(dataset, model, params, device, max_train_rows, max_epochs, xgb_max_estimators)
        members = [
            _evaluated_member(dataset, model, params, data, data.classes, seed=model_seed, device=device,
                              max_epochs=max_epochs, xgb_max_estimators=xgb_max_estimators,
                              predictions_dir=predictions_dir, member_config=member_config)[0]
            for model_seed in model_seeds
        ]
        accuracies = [_accuracy(data.y_val, _labels(data.classes, member.val_proba)) for member in members]
        trial.set_user_attr("params", params)
        trial.set_user_attr("fit_time", float(sum(member.fit_time for member in members)))
        trial.set_user_attr("epochs", int(round(float(np.mean([member.epochs for member in members])))))
        trial.set_user_attr("model_seeds", model_seeds)
        trial.set_user_attr("val_accuracies", accuracies)
        return float(np.mean(accuracies))

    sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    if fixed_params:
        with warnings.catch_warnings():
            # Stable since optuna 2.4; the experimental label is not news to users.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.PartialFixedSampler(dict(fixed_params), sampler)
    study = optuna.create_study(
        storage=_storage(storage),
        study_name=study_name or f"{dataset}-{model}",
        direction="maximize",
        sampler=sampler,
        load_if_exists=True,
    )
    if model != "xgboost":
        _pin_study_optimizer(study, optimizer)
    for fixed in enqueue_trials or ():
        study.enqueue_trial(dict(fixed), skip_if_exists=True)
    # A diverging configuration (NaN loss) fails its trial, not the study.
    study.optimize(objective, n_trials=n_trials, timeout=timeout, n_jobs=n_jobs, catch=(RuntimeError, FloatingPointError))
    return study


def _pin_study_optimizer(study: optuna.Study, optimizer: str) -> None:
    """Record the study's optimiser; refuse to add trials of another one.

    The two optimisers draw ``learning_rate_init`` from different ranges, so one
    TPE model over both would mix incomparable trials. Studies created before the
    optimiser was recorded ran AdamW.
    """
    recorded = study.user_attrs.get("optimizer", DEFAULT_OPTIMIZER if study.trials else None)
    if recorded is None:
        study.set_user_attr("optimizer", optimizer)
    elif recorded != optimizer:
        raise ValueError(
            f"Study {study.study_name!r} was tuned with optimizer={recorded!r}; it cannot take "
            f"optimizer={optimizer!r} trials. Give the new study its own name (study_name= / --study-name)."
        )


def _check_optimizer(optimizer: str) -> str:
    if optimizer not in LEARNING_RATE_RANGES:
        raise ValueError(f"optimizer must be one of {sorted(LEARNING_RATE_RANGES)}; got {optimizer!r}")
    return optimizer


class _DrawnNames(NamedTuple):
    """What one configuration of a search space names: its raw trial parameters and estimator arguments."""

    trial_params: frozenset[str]
    estimator_args: frozenset[str]


def _probe_space(space: Callable[..., dict[str, Any]], batch_sizes: list[int]) -> _DrawnNames:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the probe study is not the user's
    try:
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
        params = space(trial, batch_sizes=batch_sizes)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return _DrawnNames(frozenset(trial.params), frozenset(params))


def _check_fixed_params(fixed: dict[str, Any], drawn: _DrawnNames) -> None:
    unknown = sorted(set(fixed) - drawn.trial_params)
    if unknown:
        raise ValueError(f"fixed_params has names outside the search space: {unknown}; "
                         f"valid names: {sorted(drawn.trial_params)}")


#: Estimator arguments the tuning driver sets itself (see ``_fit_model`` and ``_fit_xgboost``).
_DRIVER_ARGUMENTS = frozenset({"max_iter", "early_stopping_metric", "device", "random_state"})
_XGB_DRIVER_ARGUMENTS = frozenset(
    {"n_estimators", "early_stopping_rounds", "tree_method", "enable_categorical", "device", "random_state"}
)


def _check_estimator_names(model: str, extra: dict[str, Any], what: str) -> dict[str, Any]:
    """``extra`` if its names are arguments of ``model``'s estimator that the driver leaves free; else a ValueError.

    ``what`` names the argument or option in the message.
    """
    if not extra:
        return dict(extra)
    reserved = sorted(set(extra) & (_XGB_DRIVER_ARGUMENTS if model == "xgboost" else _DRIVER_ARGUMENTS))
    if reserved:
        raise ValueError(f"{what} sets {reserved}, which the tuning driver sets itself")
    if model == "xgboost":
        from xgboost import XGBClassifier as estimator
    else:
        from imbsk.estimators.mlp import ImbalancedMLPClassifier as estimator
    unknown = sorted(set(extra) - set(estimator().get_params(deep=False)))
    if unknown:
        raise ValueError(f"{what} has names that are not {estimator.__name__} arguments: {unknown}")
    return dict(extra)


def _check_estimator_params(model: str, extra: dict[str, Any], drawn: _DrawnNames) -> dict[str, Any]:
    """``extra`` if it only adds estimator arguments the search space leaves out; else a ValueError."""
    drawn_here = sorted(set(extra) & drawn.estimator_args)
    if drawn_here:
        raise ValueError(f"estimator_params sets {drawn_here}, which the search space draws; "
                         "hold them with fixed_params (raw trial names) instead")
    return _check_estimator_names(model, extra, "estimator_params")


def best_params(study: optuna.Study) -> dict[str, Any]:
    """Estimator keyword arguments of the study's best trial.

    Raises
    ------
    ValueError
        The study has no completed trial.
    """
    return dict(study.best_trial.user_attrs["params"])


# ---------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------
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
        Estimator keyword arguments. ``optimizer`` defaults to ``'adamw'`` and
        ``n_iter_no_change`` to ``max(2, max_epochs // 4)`` when absent.
    seeds : sequence of int or int
        Model seeds; an int ``k`` means ``range(k)``. With ``ensemble_size=M > 1``
        each seed ``s`` is one ensemble, of the members seeded
        ``s * M, ..., s * M + M - 1``.
    data_home : str, default=None
        Directory of the data files.
    device : {'cpu', 'cuda', 'auto'}, default='cpu'
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
        ``fit_time`` is the stored one.

    Returns
    -------
    results : pandas.DataFrame
        One row per seed (per ensemble): ``dataset, model, seed, ensemble_size,
        val_accuracy, test_accuracy, minority_accuracy, majority_accuracy,
        member_test_accuracy, fit_time, epochs``. Minority and majority accuracy
        are the macro accuracies over the 20% of classes with the fewest / most
        training samples (:mod:`imbsk.metrics`); on a binary task they are the
        recall of the rarer / commoner class. ``member_test_accuracy`` is the mean
        test accuracy of the members on their own (equal to ``test_accuracy``
        when ``ensemble_size=1``), ``fit_time`` the members' total and
        ``epochs`` their mean (rounded). A line per member fit goes to stderr.
    """
    dataset, model = _check_names(dataset, model)
    device = _resolve_device(device)
    _check_ensemble_size(ensemble_size)
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
        member, source = _evaluated_member(dataset, model, params, data, classes, seed=member_seed, device=device,
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
    """The accuracy columns of one row of :func:`evaluate`."""
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
    }


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
        ``params``, and optionally ``max_epochs`` / ``xgb_max_estimators``
        (defaults as in :func:`evaluate`).
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
    weight = _check_blend_weight(weight, "weight")
    _check_ensemble_size(ensemble_size)
    device = _resolve_device(device)
    seed_list = _seed_list(seeds, "seeds")
    data = load_split(dataset, data_home=data_home, max_train_rows=max_train_rows)
    y_val, y_test = np.asarray(data.y_val), np.asarray(data.y_test)
    parts = []
    for model, config in zip(models, (first, second)):
        caps = {"max_epochs": int(config.get("max_epochs") or DEFAULT_MAX_EPOCHS),
                "xgb_max_estimators": int(config.get("xgb_max_estimators") or XGB_MAX_ESTIMATORS)}
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


def _seed_list(seeds: Sequence[int] | int, name: str) -> list[int]:
    """``range(k)`` for an int ``k``, else the given seeds; a ValueError for a negative one."""
    seed_list = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if any(seed < 0 for seed in seed_list):
        raise ValueError(f"{name} must be non-negative; got {seed_list}")
    return seed_list


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
        "dataset": dataset, "model": model, "params": params, "device": device, "max_train_rows": max_train_rows
    } | cap


def _evaluated_member(
    dataset: str,
    model: str,
    params: dict[str, Any],
    data: Bunch,
    classes: np.ndarray,
    *,
    seed: int,
    device: str,
    max_epochs: int,
    xgb_max_estimators: int,
    predictions_dir: str | os.PathLike | None,
    member_config: dict[str, Any],
) -> tuple[member_cache.MemberPredictions, str]:
    """The probabilities of the model of ``seed``: read from ``predictions_dir``, else fitted (and stored).

    The second value says where a read member came from, and under which other package
    versions and on which other machine it was fitted, if any; it is empty for a fresh fit.
    """
    path = None
    if predictions_dir is not None:
        path = member_cache.member_path(predictions_dir, dataset, model, member_cache.config_key(member_config), seed)
        stored = member_cache.load_member(path, classes, n_val=len(data.y_val), n_test=len(data.y_test))
        if stored is not None:
            versions = member_cache.version_changes(stored.versions)
            machine = member_cache.machine_changes(stored.machine)
            fitted_under = "".join(f", fitted under {name} {old} (now {new})" for name, (old, new) in versions.items())
            fitted_on = "".join(f", fitted on {field} {old} (here {new})" for field, (old, new) in machine.items())
            return stored, f"read from {path}{fitted_under}{fitted_on}"
    fitted = _fit_model(model, params, data, seed=seed, device=device, max_epochs=max_epochs,
                        xgb_max_estimators=xgb_max_estimators)
    if not np.array_equal(fitted.classes, classes):
        raise RuntimeError(f"the fitted classes {fitted.classes} are not the sorted training labels {classes}")
    member = member_cache.MemberPredictions(
        val_proba=np.asarray(fitted.predict_proba(data.X_val)),
        test_proba=np.asarray(fitted.predict_proba(data.X_test)),
        fit_time=float(fitted.fit_time),
        epochs=int(fitted.epochs),
    )
    if path is not None:
        member_cache.save_member(path, member, classes, config=member_config)
    return member, ""


_METRICS = ("val_accuracy", "test_accuracy", "minority_accuracy", "majority_accuracy", "fit_time")
# Columns of evaluate() since ensembles were added; older result files lack them.
_ENSEMBLE_METRICS = ("member_test_accuracy",)
# Columns of evaluate_blend().
_BLEND_METRICS = ("blend_weight", "first_test_accuracy", "second_test_accuracy")


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error over seeds of every metric, per dataset, model and ensemble size.

    ``se = std(ddof=1) / sqrt(n)`` (0 for a single seed).

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
        ``member_test_accuracy`` and the blend columns of :func:`evaluate_blend`
        when present).
    """
    keys = ["dataset", "model"] + (["ensemble_size"] if "ensemble_size" in results else [])
    metrics = _METRICS + tuple(m for m in _ENSEMBLE_METRICS + _BLEND_METRICS if m in results)
    rows = []
    for values_of_keys, group in results.groupby(keys, sort=False):
        row: dict[str, Any] = dict(zip(keys, values_of_keys))
        row["n_seeds"] = len(group)
        for metric in metrics:
            values = group[metric].to_numpy(dtype=np.float64)
            row[f"{metric}_mean"] = float(np.mean(values))
            row[f"{metric}_se"] = standard_error(values) if len(values) > 1 else 0.0
        rows.append(row)
    return pd.DataFrame(rows)


def format_summary(summary: pd.DataFrame) -> str:
    """A Markdown table of test / minority / majority accuracy in %, ``mean ± se``."""
    lines = [
        "| dataset | model | seeds | test acc. (%) | minority acc. (%) | majority acc. (%) | fit time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary.itertuples(index=False):
        def pct(name: str) -> str:
            return f"{100 * getattr(row, name + '_mean'):.2f} ± {100 * getattr(row, name + '_se'):.2f}"

        size = int(getattr(row, "ensemble_size", 1))
        model = row.model if size == 1 else f"{row.model} (ensembles of {size})"
        lines.append(
            f"| {row.dataset} | {model} | {row.n_seeds} | {pct('test_accuracy')} | {pct('minority_accuracy')} "
            f"| {pct('majority_accuracy')} | {row.fit_time_mean:.1f} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# benchmark driver (used by examples/*.py)
# ---------------------------------------------------------------------------
def run_benchmark(
    dataset: str,
    *,
    n_trials: dict[str, int],
    seeds: int,
    storage: str,
    data_home: str | None = None,
    device: str = "cpu",
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    timeout: float | None = None,
    max_train_rows: int | None = None,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    xgb_max_estimators: int = XGB_MAX_ESTIMATORS,
    out: str | None = None,
    sam_ls_on_mlp: bool = False,
    optimizer: str = DEFAULT_OPTIMIZER,
    precision: str = "float32",
    ensemble_size: int = 1,
    predictions_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Tune every model of ``n_trials`` on one benchmark, then evaluate it over seeds.

    Parameters
    ----------
    dataset : str
        Benchmark.
    n_trials : dict {model: int}
        Models to run, in order, and their trial budgets.
    seeds : int
        Seeds ``0..seeds-1`` of the final evaluation.
    storage : str
        Optuna storage URL (studies ``'{dataset}-{model}'``).
    timeout : float, default=None
        Per-study time limit of the tuning, seconds.
    out : str, default=None
        Directory for ``{dataset}-results.csv``, ``{dataset}-summary.csv`` and
        ``{dataset}-best-params.json``.
    Other parameters are passed to :func:`tune` and :func:`evaluate`.

    When ``'mlp'`` runs before ``'mlp_sam_ls'``, the first trial of the
    ``'mlp_sam_ls'`` study is the best ``'mlp'`` configuration with
    ``sam_asymmetric_rho=WARM_START_RHO`` and ``class_smoothing_eps=WARM_START_EPS``
    (``enqueue_trials`` of :func:`tune`). With ``sam_ls_on_mlp=True`` the
    ``'mlp_sam_ls'`` study (named ``'{dataset}-mlp_sam_ls-on-mlp'``) also holds
    every other parameter at the best ``'mlp'`` values (``fixed_params``), so its
    trials search only ``sam_asymmetric_rho`` and ``class_smoothing_eps``.

    Returns
    -------
    results : pandas.DataFrame
        Per-seed rows of every model (see :func:`evaluate`).
    """
    frames = []
    best: dict[str, Any] = {}
    raw_best: dict[str, dict[str, Any]] = {}
    for model, trials in n_trials.items():
        enqueue, fixed, study_name = None, None, None
        if model == "mlp_sam_ls" and "mlp" in raw_best:
            # With a few trials, start SAM-A + smoothing from the tuned plain MLP, so the
            # study measures what the two techniques add rather than re-finding an MLP.
            enqueue = [{**raw_best["mlp"], "sam_asymmetric_rho": WARM_START_RHO, "class_smoothing_eps": WARM_START_EPS}]
            if sam_ls_on_mlp:
                fixed, study_name = dict(raw_best["mlp"]), f"{dataset}-mlp_sam_ls-on-mlp"
        started = time.perf_counter()
        study = tune(
            dataset, model, n_trials=trials, storage=storage, study_name=study_name, timeout=timeout,
            data_home=data_home, device=device, max_epochs=max_epochs, max_train_rows=max_train_rows,
            batch_sizes=batch_sizes, xgb_max_estimators=xgb_max_estimators, enqueue_trials=enqueue,
            fixed_params=fixed, optimizer=optimizer, precision=precision,
        )
        raw_best[model] = dict(study.best_trial.params)
        tuned = time.perf_counter() - started
        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        params = best_params(study)
        print(f"[{dataset}/{model}] {len(completed)} trials in the study ({tuned:.0f} s this run); "
              f"best val acc {study.best_value:.4f}; params {json.dumps(params)}", flush=True)
        started = time.perf_counter()
        frame = evaluate(dataset, model, params, seeds=seeds, data_home=data_home, device=device,
                         max_epochs=max_epochs, max_train_rows=max_train_rows, xgb_max_estimators=xgb_max_estimators,
                         ensemble_size=ensemble_size, predictions_dir=predictions_dir)
        print(f"[{dataset}/{model}] evaluated {seeds} seeds in {time.perf_counter() - started:.0f} s:\n"
              f"{frame.to_string(index=False)}", flush=True)
        frames.append(frame)
        best[model] = {"params": params, "val_accuracy": study.best_value, "n_trials": len(completed),
                       "tuning_seconds_this_run": tuned}
    results = pd.concat(frames, ignore_index=True)
    summary = summarize(results)
    print(format_summary(summary), flush=True)
    if out is not None:
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        results.to_csv(directory / f"{dataset}-results.csv", index=False)
        summary.to_csv(directory / f"{dataset}-summary.csv", index=False)
        (directory / f"{dataset}-best-params.json").write_text(json.dumps(best, indent=2))
    return results


def benchmark_main(dataset: str, argv: Sequence[str] | None = None) -> int:
    """Command line of ``examples/<dataset>.py``: tune three models, evaluate them over seeds."""
    parser = argparse.ArgumentParser(
        description=f"Tune XGBoost, MLP-PLR and MLP-PLR + SAM-A + smoothing on {dataset} "
                    "(validation accuracy), then evaluate the best of each over seeds on the test split."
    )
    parser.add_argument("--n-trials", type=int, default=20, help="trials per MLP model")
    parser.add_argument("--xgb-trials", type=int, default=None, help="trials of XGBoost (default: 2 x --n-trials)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the final evaluation")
    parser.add_argument("--storage", default=f"sqlite:///imbsk-{dataset}.db")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--max-epochs", type=int, default=DEFAULT_MAX_EPOCHS)
    parser.add_argument("--timeout", type=float, default=None, help="per-study tuning time limit (s)")
    parser.add_argument("--models", nargs="+", default=["xgboost", "mlp", "mlp_sam_ls"], choices=list(MODEL_NAMES))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--max-train-rows", type=int, default=None)
    parser.add_argument("--xgb-max-estimators", type=int, default=XGB_MAX_ESTIMATORS)
    parser.add_argument("--out", default=f"results-{dataset}")
    parser.add_argument("--ensemble-size", type=_positive_int, default=1,
                        help="score soft-voting ensembles of M seeds each (every --seeds is one ensemble)")
    parser.add_argument("--predictions-dir", default=None, metavar="DIR",
                        help="keep every evaluated model's probabilities here and reuse stored ones (imbsk evaluate)")
    parser.add_argument("--sam-ls-on-mlp", action="store_true",
                        help="tune only rho and eps of MLP + SAM-A + smoothing, on the tuned MLP-PLR configuration")
    _add_mlp_training_arguments(parser)
    args = parser.parse_args(argv)
    try:
        load_split(dataset, data_home=args.data_home)
    except FileNotFoundError as error:
        print(f"The {dataset} data is not available, so nothing was run.\n{error}")
        return 2
    xgb_trials = args.xgb_trials if args.xgb_trials is not None else 2 * args.n_trials
    budgets = {m: (xgb_trials if m == "xgboost" else args.n_trials) for m in args.models}
    started = time.perf_counter()
    run_benchmark(
        dataset, n_trials=budgets, seeds=args.seeds, storage=args.storage, data_home=args.data_home,
        device=args.device, max_epochs=args.max_epochs, timeout=args.timeout,
        max_train_rows=args.max_train_rows, batch_sizes=args.batch_sizes,
        xgb_max_estimators=args.xgb_max_estimators, out=args.out, sam_ls_on_mlp=args.sam_ls_on_mlp,
        optimizer=args.optimizer, precision=args.precision, ensemble_size=args.ensemble_size,
        predictions_dir=args.predictions_dir,
    )
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    return 0


# ---------------------------------------------------------------------------
# `imbsk tune`
# ---------------------------------------------------------------------------
def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return number


def _add_mlp_training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizer", default=DEFAULT_OPTIMIZER, choices=sorted(LEARNING_RATE_RANGES),
                        help="optimiser of the MLP trials: adamw (Gorishniy et al.) or sgd with momentum "
                             "(the paper's recipe); it also sets the learning-rate range")
    parser.add_argument("--precision", default="float32", choices=list(PRECISIONS),
                        help="precision of the MLP trials: bfloat16 trains under autocast, faster on CPUs "
                             "with bfloat16 instructions (docs/performance.md)")


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``imbsk tune`` to ``parser``."""
    parser.add_argument("--dataset", required=True, choices=list(DATASET_NAMES))
    parser.add_argument("--model", required=True, choices=list(MODEL_NAMES))
    parser.add_argument("--n-trials", type=int, required=True, help="trials this worker adds to the study")
    parser.add_argument("--timeout", type=float, default=None, help="stop starting trials after S seconds")
    parser.add_argument("--storage", default="sqlite:///imbsk-tuning.db",
                        help="Optuna storage URL, e.g. sqlite:///study.db or postgresql://user@host/db")
    parser.add_argument("--study-name", default=None, help="default: '<dataset>-<model>'")
    parser.add_argument("--data-home", default=None, help="directory of the data files")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--max-epochs", type=int, default=DEFAULT_MAX_EPOCHS, help="epoch cap of the MLPs")
    parser.add_argument("--seed", type=int, default=0,
                        help="sampler seed (and model seed without --trial-seeds); give each worker its own")
    parser.add_argument("--trial-seeds", type=_seeds_argument("--trial-seeds"), default=None,
                        metavar="K|A-B|A,B",
                        help="score each trial by its mean validation accuracy over these model seeds "
                             "(K = 0..K-1; default: --seed alone); every worker of a study should pass the same")
    parser.add_argument("--n-jobs", type=int, default=1, help="parallel trials in this process")
    parser.add_argument("--max-train-rows", type=int, default=None, help="stratified training subsample")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--xgb-max-estimators", type=int, default=XGB_MAX_ESTIMATORS, help="cap on XGBoost trees")
    parser.add_argument("--fixed-params", default=None, metavar="JSON",
                        help="raw trial parameters held fixed, as JSON or @file (e.g. a tuned MLP's "
                             "architecture, so that mlp_sam_ls tunes only rho and eps)")
    parser.add_argument("--enqueue-trial", action="append", default=None, metavar="JSON",
                        help="raw trial parameters to evaluate first, as JSON or @file (repeatable; "
                             "skipped if the study has them already)")
    parser.add_argument("--estimator-params", default=None, metavar="JSON",
                        help="estimator arguments outside the search space added to every trial, as JSON "
                             "or @file (e.g. '{\"ema_decay\": 0.999}')")
    _add_mlp_training_arguments(parser)
    parser.add_argument("--evaluate-seeds", type=int, default=0,
                        help="retrain the best configuration with seeds 0..K-1 and report test accuracy")
    parser.add_argument("--evaluate-ensemble-size", type=_positive_int, default=1, metavar="M",
                        help="with --evaluate-seeds K: score K soft-voting ensembles of M seeds each")
    parser.add_argument("--predictions-dir", default=None, metavar="DIR",
                        help="keep every fitted model's probabilities here, trials' and --evaluate-seeds' "
                             "alike (see imbsk evaluate); a stored model is read, not refitted")
    parser.add_argument("--out", default="imbsk-tune-results", help="directory for the JSON/CSV outputs")


def _json_argument(value: str | None, flag: str) -> dict[str, Any] | None:
    """A JSON object given inline or as ``@path``."""
    if value is None:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    return _json_object(text, flag)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{what} must be a JSON object: {error}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(parsed).__name__}")
    return parsed


def run_tune_command(args: argparse.Namespace) -> int:
    """Run ``imbsk tune``: tune, print the best configuration, optionally evaluate it.

    Writes ``<out>/<study>-best.json`` and, with ``--evaluate-seeds K > 0``,
    ``<out>/<study>-seeds.csv`` (one row per seed) and ``<out>/<study>-summary.json``.

    Returns
    -------
    status : int
        0 on success.
    """
    study_name = args.study_name or f"{args.dataset}-{args.model}"
    study = tune(
        args.dataset, args.model, n_trials=args.n_trials, storage=args.storage, study_name=study_name,
        seed=getattr(args, "seed", 0), timeout=args.timeout, data_home=args.data_home, device=args.device,
        max_epochs=args.max_epochs, n_jobs=getattr(args, "n_jobs", 1),
        max_train_rows=getattr(args, "max_train_rows", None),
        batch_sizes=getattr(args, "batch_sizes", None) or BATCH_SIZES,
        xgb_max_estimators=getattr(args, "xgb_max_estimators", XGB_MAX_ESTIMATORS),
        fixed_params=_json_argument(getattr(args, "fixed_params", None), "--fixed-params"),
        optimizer=getattr(args, "optimizer", DEFAULT_OPTIMIZER),
        precision=getattr(args, "precision", "float32"),
        trial_seeds=getattr(args, "trial_seeds", None),
        enqueue_trials=[_json_argument(text, "--enqueue-trial") for text in getattr(args, "enqueue_trial", None) or ()],
        estimator_params=_json_argument(getattr(args, "estimator_params", None), "--estimator-params"),
        predictions_dir=getattr(args, "predictions_dir", None),
    )
    params = best_params(study)
    n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    print(f"study {study_name!r}: {n_complete} completed trials")
    print(f"best validation accuracy: {study.best_value:.4f}")
    print(f"best params: {json.dumps(params)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    max_train_rows = getattr(args, "max_train_rows", None)
    xgb_max_estimators = getattr(args, "xgb_max_estimators", XGB_MAX_ESTIMATORS)
    (out / f"{study_name}-best.json").write_text(
        json.dumps({"study": study_name, "dataset": args.dataset, "model": args.model, "n_trials": n_complete,
                    "val_accuracy": study.best_value, "model_seeds": study.best_trial.user_attrs.get("model_seeds"),
                    "max_epochs": args.max_epochs,
                    "xgb_max_estimators": xgb_max_estimators, "max_train_rows": max_train_rows,
                    "params": params}, indent=2)
    )
    seeds = getattr(args, "evaluate_seeds", 0) or 0
    if seeds > 0:
        size = getattr(args, "evaluate_ensemble_size", 1)
        results = evaluate(
            args.dataset, args.model, params, seeds=seeds, data_home=args.data_home, device=args.device,
            max_epochs=args.max_epochs, max_train_rows=max_train_rows, xgb_max_estimators=xgb_max_estimators,
            ensemble_size=size, predictions_dir=getattr(args, "predictions_dir", None),
        )
        _report_evaluation(results, out, study_name)
    return 0


def _report_evaluation(results: pd.DataFrame, out: Path, name: str) -> None:
    """Print mean ± s.e. of the test metrics; write ``<name>-seeds.csv`` and ``<name>-summary.json``."""
    summary = summarize(results)
    row = summary.iloc[0]
    size, n = int(row["ensemble_size"]), int(row["n_seeds"])
    scored = f"{n} seed{'s' * (n != 1)}" if size == 1 else f"{n} ensemble{'s' * (n != 1)} of {size} seeds"
    for metric in ("val_accuracy", "test_accuracy", "minority_accuracy", "majority_accuracy"):
        print(f"{metric}: {100 * row[metric + '_mean']:.2f} ± {100 * row[metric + '_se']:.2f} % ({scored})")
    if "blend_weight_mean" in row:
        first, second = row["model"].split("+")
        print(f"blended: {first} alone {100 * row['first_test_accuracy_mean']:.2f} ± "
              f"{100 * row['first_test_accuracy_se']:.2f} %, {second} alone {100 * row['second_test_accuracy_mean']:.2f}"
              f" ± {100 * row['second_test_accuracy_se']:.2f} % (test); weights {sorted(results['blend_weight'])}")
    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / f"{name}-seeds.csv", index=False)
    (out / f"{name}-summary.json").write_text(json.dumps(row.to_dict(), indent=2, default=float))


# ---------------------------------------------------------------------------
# `imbsk evaluate`
# ---------------------------------------------------------------------------
def parse_seeds(text: str, flag: str = "--seeds") -> list[int]:
    """Seeds of a command line: ``'K'`` is ``0..K-1``, ``'A-B'`` is ``A..B``, ``'A,B,C'`` a list.

    ``flag`` names the option in the error message.

    Raises
    ------
    ValueError
        Anything else, an empty range, or a negative seed.
    """
    text = text.strip()
    try:
        if "," in text:
            seeds = [int(part) for part in text.split(",")]
        elif "-" in text[1:]:
            first, last = (int(part) for part in text.split("-", 1))
            seeds = list(range(first, last + 1))
        else:
            seeds = list(range(int(text)))
    except ValueError:
        raise ValueError(f"{flag} must be K, A-B or A,B,C with integers; got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"{flag} must name at least one non-negative seed; got {text!r} "
                         "(seed 0 alone is '0-0')")
    return seeds


def _seeds_argument(flag: str) -> Callable[[str], list[int]]:
    """An argparse ``type`` for :func:`parse_seeds` whose error message reaches the user."""

    def parse(text: str) -> list[int]:
        try:
            return parse_seeds(text, flag)
        except ValueError as error:
            # argparse shows only "invalid value" for a ValueError; an ArgumentTypeError keeps the hint.
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _blend_weight_argument(text: str) -> float | str:
    """An argparse ``type``: ``'validation'`` or a number in [0, 1]."""
    try:
        return _check_blend_weight(text if text == "validation" else float(text), "--blend-weight")
    except ValueError:
        # argparse shows only "invalid value" for a ValueError; an ArgumentTypeError keeps the hint.
        raise argparse.ArgumentTypeError(
            f"--blend-weight must be a number in [0, 1] or 'validation'; got {text!r}") from None


def _blend_partner(second: Any, dataset: str, max_train_rows: int | None, source: Any) -> dict[str, Any]:
    """The second configuration of a blend, checked against the first's dataset and training rows."""
    if not isinstance(second, dict) or not isinstance(second.get("params"), dict) or "model" not in second:
        raise ValueError(f"the blend configuration of {source} must be an object with 'model' and 'params'")
    if second.get("dataset", dataset) != dataset:
        raise ValueError(f"cannot blend a {dataset} configuration with a {second['dataset']} one ({source})")
    if second.get("max_train_rows") not in (None, max_train_rows):
        raise ValueError(f"the blended configurations train on different rows: max_train_rows "
                         f"{max_train_rows} and {second['max_train_rows']} ({source})")
    keys = ("model", "max_epochs", "xgb_max_estimators", "params")
    return {"dataset": dataset} | {key: second[key] for key in keys if key in second}


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """A stored configuration: ``imbsk tune``'s ``<study>-best.json`` or a file of ``examples/configs/``.

    The JSON object holds ``params`` (estimator arguments) and may hold ``dataset``,
    ``model``, ``max_epochs``, ``xgb_max_estimators`` and ``max_train_rows``, the
    defaults of the matching ``imbsk evaluate`` options, and ``blend_config`` (a
    configuration object, or the path of a configuration file relative to this one)
    and ``blend_weight``, the defaults of ``--blend-config`` and ``--blend-weight``.
    Other keys (``study``, ``val_accuracy``, ``note``, ...) are ignored.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a JSON object with a ``params`` object.
    """
    config = _json_object(Path(path).read_text(), str(path))
    if not isinstance(config.get("params"), dict):
        raise ValueError(f"{path} must hold a 'params' object (estimator arguments); its keys are {sorted(config)}")
    return config


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``imbsk evaluate``."""
    parser.description = (
        "Retrain a stored configuration with several seeds and score the test split (mean ± s.e.). "
        "Example: imbsk evaluate --config examples/configs/otto-mlp_sam_ls.json --seeds 15 "
        "--predictions-dir preds, then the same with --seeds 3 --ensemble-size 5 scores three "
        "ensembles of the stored models without fitting."
    )
    parser.add_argument("--config", required=True, metavar="FILE",
                        help="JSON configuration: imbsk tune's <study>-best.json or one of examples/configs/")
    parser.add_argument("--dataset", choices=list(DATASET_NAMES), default=None,
                        help="default: the configuration's 'dataset'")
    parser.add_argument("--model", choices=list(MODEL_NAMES), default=None, help="default: the configuration's 'model'")
    parser.add_argument("--seeds", type=_seeds_argument("--seeds"), default=parse_seeds("5"), metavar="K|A-B|A,B",
                        help="seeds (ensembles with --ensemble-size): K means 0..K-1 (default: 5)")
    parser.add_argument("--ensemble-size", type=_positive_int, default=1, metavar="M",
                        help="score soft-voting ensembles; ensemble s holds the models of seeds sM..sM+M-1")
    parser.add_argument("--predictions-dir", default=None, metavar="DIR",
                        help="keep every fitted model's probabilities here and reuse stored ones")
    parser.add_argument("--max-epochs", type=_positive_int, default=None,
                        help=f"epoch cap of the MLPs (default: the configuration's, else {DEFAULT_MAX_EPOCHS})")
    parser.add_argument("--xgb-max-estimators", type=_positive_int, default=None,
                        help=f"cap on XGBoost trees (default: the configuration's, else {XGB_MAX_ESTIMATORS})")
    parser.add_argument("--max-train-rows", type=_positive_int, default=None,
                        help="stratified training subsample (default: the configuration's, else all rows)")
    parser.add_argument("--estimator-params", default=None, metavar="JSON",
                        help="estimator arguments that replace or join the configuration's params, as JSON or "
                             "@file (e.g. '{\"joint_ssl_weight\": 0.1}'); give such a run its own --name")
    parser.add_argument("--blend-config", default=None, metavar="FILE",
                        help="a second configuration (e.g. examples/configs/otto-xgboost.json) whose model of each "
                             "seed is soft-vote blended with the first's (default: the configuration's "
                             "'blend_config', an object or a path relative to the configuration)")
    parser.add_argument("--blend-weight", type=_blend_weight_argument, default=None, metavar="W|validation",
                        help="share of the --blend-config model in the blend, or 'validation' to pick it per seed "
                             "on the validation split from 0, 0.05, ..., 1 (default: the configuration's "
                             "'blend_weight', else 0.5, plain soft voting)")
    parser.add_argument("--data-home", default=None, help="directory of the data files")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--out", default="imbsk-evaluate-results", help="directory for the CSV/JSON outputs")
    parser.add_argument("--name", default=None, metavar="STEM",
                        help="stem of the output files (default: the configuration file's stem)")


def run_evaluate_command(args: argparse.Namespace) -> int:
    """Run ``imbsk evaluate``: retrain a stored configuration over seeds and score the test split.

    Writes ``<out>/<stem>-seeds.csv`` (one row per seed or ensemble, see
    :func:`evaluate`), ``<out>/<stem>-summary.json`` and ``<out>/<stem>-config.json``,
    the configuration that was evaluated (``--estimator-params`` merged into its
    ``params``, every cap resolved), which ``imbsk evaluate --config`` reruns as is.
    ``stem`` is ``--name``, else the configuration file's stem.

    Returns
    -------
    status : int
        0 on success.
    """
    config = load_config(args.config)
    dataset = args.dataset or config.get("dataset")
    model = args.model or config.get("model")
    if dataset is None or model is None:
        raise ValueError(f"{args.config} names no {'dataset' if dataset is None else 'model'}; "
                         f"pass --{'dataset' if dataset is None else 'model'}")

    def option(name: str, default: Any) -> Any:
        given = getattr(args, name)
        return given if given is not None else config.get(name, default)

    overrides = _json_argument(getattr(args, "estimator_params", None), "--estimator-params") or {}
    params = config["params"] | _check_estimator_names(model, overrides, "--estimator-params")
    evaluated = {
        "dataset": dataset, "model": model, "max_epochs": option("max_epochs", DEFAULT_MAX_EPOCHS),
        "xgb_max_estimators": option("xgb_max_estimators", XGB_MAX_ESTIMATORS),
        "max_train_rows": option("max_train_rows", None), "params": params,
    }
    if overrides:
        evaluated["note"] = f"{args.config} with --estimator-params {json.dumps(overrides, sort_keys=True)}"
    blend_path = getattr(args, "blend_config", None)
    second = config.get("blend_config")
    if blend_path is None and isinstance(second, str):
        # A configuration may name its blend partner by a path relative to itself.
        blend_path = Path(args.config).parent / second
    if blend_path is not None:
        second = load_config(blend_path)
    if second is not None:
        second = _blend_partner(second, dataset, evaluated["max_train_rows"], blend_path or args.config)
        weight = getattr(args, "blend_weight", None)
        weight = config.get("blend_weight", 0.5) if weight is None else weight
        evaluated |= {"blend_config": second, "blend_weight": weight}
    print(f"evaluating {args.config} ({dataset}/{model}) on seeds {args.seeds}"
          + (f", ensembles of {args.ensemble_size}" if args.ensemble_size > 1 else "")
          + (f", with {json.dumps(overrides, sort_keys=True)}" if overrides else "")
          + (f", blended with {second['model']} (weight: {evaluated['blend_weight']})" if second else ""), flush=True)
    started = time.perf_counter()
    if second is None:
        results = evaluate(
            dataset, model, params, seeds=args.seeds, data_home=args.data_home, device=args.device,
            max_epochs=evaluated["max_epochs"], max_train_rows=evaluated["max_train_rows"],
            xgb_max_estimators=evaluated["xgb_max_estimators"],
            ensemble_size=args.ensemble_size, predictions_dir=args.predictions_dir,
        )
    else:
        results = evaluate_blend(
            dataset, evaluated, second, seeds=args.seeds, weight=evaluated["blend_weight"],
            data_home=args.data_home, device=args.device, max_train_rows=evaluated["max_train_rows"],
            ensemble_size=args.ensemble_size, predictions_dir=args.predictions_dir,
        )
    name = getattr(args, "name", None) or Path(args.config).stem
    out = Path(args.out)
    _report_evaluation(results, out, name)
    (out / f"{name}-config.json").write_text(json.dumps(evaluated, indent=2) + "\n")
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0

