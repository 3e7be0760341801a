"""The benchmark split every fit uses: train / validation / test, and the frame XGBoost reads."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from imbsk.datasets.tabular import load_dataset
from imbsk.member_cache import data_digest
from imbsk.tuning.spaces import _check_int, _check_names


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
        sorted training labels), ``class_counts`` (``{label: training count}``) and
        ``digest`` (:func:`imbsk.member_cache.data_digest` of the six parts).

    Raises
    ------
    FileNotFoundError
        The data files are not under ``data_home``.
    ValueError
        ``max_train_rows`` below the number of classes, leaving fewer rows out than
        there are classes, or so small that the stratified subsample rounds a rare
        class to no row.
    """
    name, _ = _check_names(dataset, "mlp")
    if max_train_rows is not None:
        _check_int(max_train_rows, "max_train_rows")
    bunch = load_dataset(name, data_home=data_home, download=False)
    X_train, y_train = bunch.X_train, bunch.y_train
    if max_train_rows is not None and max_train_rows < len(y_train):
        n_classes = len(np.unique(np.asarray(y_train)))
        if not n_classes <= max_train_rows <= len(y_train) - n_classes:
            # train_test_split's own message speaks of a test_size the user never gave.
            raise ValueError(
                f"max_train_rows={max_train_rows}: a stratified subsample of the {len(y_train)} {dataset} training "
                f"rows needs at least {n_classes} rows kept and {n_classes} left out (one per class); give "
                f"{n_classes} to {len(y_train) - n_classes}, or {len(y_train)} or more (every row)"
            )
        all_labels = np.unique(np.asarray(y_train))
        X_train, _, y_train, _ = train_test_split(
            X_train, y_train, train_size=int(max_train_rows), stratify=y_train, random_state=0
        )
        lost = np.setdiff1d(all_labels, np.asarray(y_train))
        if len(lost):
            # Proportional allocation rounds a rare class to no row in a small subsample.
            raise ValueError(
                f"max_train_rows={max_train_rows} leaves the {dataset} classes {lost.tolist()} without a training row "
                "in the stratified subsample; give more rows"
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
        digest=data_digest(X_train, y_train, bunch.X_val, bunch.y_val, bunch.X_test, bunch.y_test),
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
