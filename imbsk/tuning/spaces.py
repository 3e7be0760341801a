"""Search spaces: what a trial draws for each model, their constants, and the dataset / model names."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import optuna

from imbsk.datasets.tabular import DATASETS

#: Default choices of ``batch_size`` in the MLP spaces.
BATCH_SIZES: tuple[int, ...] = (64, 128, 256, 512)
#: XGBoost makes one-vs-rest categorical splits for columns with fewer categories than
#: this, i.e. for any column a tabular benchmark has.
XGB_MAX_CAT_TO_ONEHOT = 1 << 16
#: Optimiser of the MLP trials unless ``optimizer=`` says otherwise (Gorishniy et al.).
DEFAULT_OPTIMIZER = "adamw"
#: ``learning_rate_init`` range (log-uniform) of the MLP spaces, per optimiser. SGD
#: (momentum 0.9, warm-up then cosine annealing) is the paper's tabular recipe.
LEARNING_RATE_RANGES: dict[str, tuple[float, float]] = {"adamw": (3e-5, 3e-3), "sgd": (1e-3, 0.3)}
#: ``precision`` of the MLP trials (estimator parameter); configurations carry it only when not float32.
PRECISIONS: tuple[str, ...] = ("float32", "bfloat16")
#: Widest hidden layer of the MLP spaces.
MAX_WIDTH = 1024

DATASET_NAMES: tuple[str, ...] = tuple(sorted(DATASETS))


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


def _check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or a ValueError naming ``name``.

    ``int()`` alone would train 2 epochs for ``max_epochs=2.5``, batches of 2 for ``batch_sizes=[2.5]``
    and take ``'64'``, all without a word (the command line's converters refuse these already).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}; got {value!r}")
    return int(value)


def _check_optimizer(optimizer: str) -> str:
    if optimizer not in LEARNING_RATE_RANGES:
        raise ValueError(f"optimizer must be one of {sorted(LEARNING_RATE_RANGES)}; got {optimizer!r}")
    return optimizer
