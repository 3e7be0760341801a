"""Turn a table (numpy array or pandas DataFrame) into the inputs of the tabular network.

The tabular network takes two arrays: a float block of numeric features and an integer
block of categorical codes (one embedding table per categorical column). This module
builds both, following the preprocessing of Gorishniy et al. (2022), "On Embeddings for
Numerical Features in Tabular Deep Learning" (NeurIPS 2022): numeric columns go through a
quantile transform to a standard normal, fitted on training data with a tiny Gaussian
noise added to break ties in discrete columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

__all__ = ["TabularPreprocessor", "category_codes", "sorted_categories"]

_NUMERIC_TRANSFORMS = ("quantile", "standard", None)
# Relative std of the tie-breaking noise added before fitting the quantiles (after Gorishniy et al. 2022).
_QUANTILE_NOISE = 1e-3
# The noise's scale is the column's std, but at most the spread of its central 99% (percentiles 0.5 and 99.5):
# a few extreme values inflate the std until the noise drowns the ordinary values' differences.
_ROBUST_SPREAD_PERCENTILES = (0.5, 99.5)
# transform encodes the numeric block this many rows at a time: the normalisers work value by value, so the output is
# the same bit for bit, while the float64 copies (the block and the transformer's own) stay the size of a chunk. On a
# 500,000 x 54 float64 array, predict_proba's peak fell from +445 to +132 MiB (the float32 encoding is 103 MiB), and
# its time by 10-25%: the transformer's column passes over a chunk stay in cache.
_TRANSFORM_CHUNK_ROWS = 2**15
# What fit sets (n_features_in_ and feature_names_in_ by validate_data).
_FITTED_ATTRIBUTES = (
    "n_features_in_", "feature_names_in_", "_cat_positions", "_num_positions", "categorical_columns_",
    "numeric_columns_", "categories_", "cardinalities_", "constant_numeric_", "numeric_transformer_",
)


def _category_strings(values: Any) -> pd.Series:
    """Return ``values`` as a pandas Series of strings, with missing entries kept missing.

    Categories are compared through their string form, so that the sort order is
    deterministic whatever the Python types in the column (mixed ``int``/``str``
    objects cannot be sorted directly) and so that ``None``, ``np.nan`` and ``pd.NA``
    all read as missing.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    # astype(str) keeps missing entries as NaN in pandas >= 3 (it builds a ``str`` column), but pandas 2 writes
    # them as the strings 'None', 'nan' and '<NA>' (an object column), which would become categories of their own.
    return series.astype(str).where(series.notna())


def sorted_categories(values: Any) -> np.ndarray:
    """Sorted distinct non-missing values of one categorical column, as strings.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        One column. Missing entries (``None``, ``NaN``, ``pd.NA``) are ignored.

    Returns
    -------
    categories : ndarray of shape (k,), dtype object
        The distinct values converted with ``str``, in lexicographic order, so that the
        code ``1 + i`` given by :func:`category_codes` does not depend on row order.
    """
    strings = _category_strings(values)
    return np.array(sorted(pd.unique(strings.dropna())), dtype=object)


def category_codes(values: Any, categories: Any) -> np.ndarray:
    """Map a categorical column to integer codes with 0 reserved for missing or unseen.

    ``code(v) = 1 + i`` if ``str(v) == categories[i]``, and ``code(v) = 0`` if ``v`` is
    missing or ``str(v)`` is not in ``categories``. The look-up is a hash join
    (``pandas.Index.get_indexer``), not a Python loop over rows.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        One column of raw values.
    categories : array-like of shape (k,)
        Distinct category strings, usually from :func:`sorted_categories`.

    Returns
    -------
    codes : ndarray of shape (n_samples,), dtype int64
        Values in ``0..k``.
    """
    index = pd.Index(np.asarray(categories, dtype=object))
    if not index.is_unique:
        raise ValueError("categories must not contain duplicates.")
    positions = index.get_indexer(_category_strings(values))
    # An integer-coded column is int64 at fit and float64 once a value is missing at predict
    # (or the reverse), and str(3) != str(3.0): unseen integral numbers get a second look-up
    # in the other form, so they are not all silently read as unseen.
    numbers = _integral_numbers(values) if (positions < 0).any() else None
    if numbers is not None:
        retry = (positions < 0) & ~np.isnan(numbers)
        if retry.any():
            candidates = numbers[retry]
            found = index.get_indexer(pd.Series(candidates.astype(np.int64)).astype(str))
            as_float = index.get_indexer(pd.Series(candidates).astype(str))
            positions[retry] = np.where(found < 0, as_float, found)
    # get_indexer gives -1 for both NaN and unseen strings, which is exactly the 0 slot.
    return positions.astype(np.int64) + 1


def _integral_numbers(values: Any) -> np.ndarray | None:
    """Values of a numeric column as float64, NaN where not a whole number; None for other columns.

    Only columns whose dtype is numeric (or categorical with numeric categories) qualify: a
    text column holding "3" and "3.0" keeps them as the distinct strings they are. Whole
    numbers beyond 2**53 are left out since float64 cannot tell them apart.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values))
    dtype = series.dtype.categories.dtype if isinstance(series.dtype, pd.CategoricalDtype) else series.dtype
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return None
    numbers = np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan))
    whole = np.isfinite(numbers) & (np.abs(numbers) < 2.0**53)
    whole[whole] &= numbers[whole] == np.round(numbers[whole])
    return np.where(whole, numbers, np.nan)


def is_categorical_dtype(dtype: Any) -> bool:
    """Whether a DataFrame column dtype is treated as categorical by ``'auto'``."""
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
    )


def _quantile_noise_std(x_num: np.ndarray) -> np.ndarray:
    """Per-column std of the tie-breaking noise: ``_QUANTILE_NOISE`` times min(std, central 99% spread).

    Columns whose std or spread overflows float64 (magnitudes beyond about 1e154 square past it) are
    measured in units of their largest magnitude instead, so the noise stays relative to the column as
    at any other scale (an infinite std used to fall back on the spread: 5x the noise of the same
    column at an ordinary scale).
    """
    def scale(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        std = values.std(axis=0)
        low, high = np.percentile(values, _ROBUST_SPREAD_PERCENTILES, axis=0)
        spread = high - low
        return _QUANTILE_NOISE * np.where(spread > 0, np.minimum(std, spread), std), np.isfinite(std + spread)

    with np.errstate(over="ignore", invalid="ignore"):
        noise_std, finite = scale(x_num)
    if not finite.all():
        magnitude = np.abs(x_num[:, ~finite]).max(axis=0)
        noise_std[~finite] = scale(x_num[:, ~finite] / magnitude)[0] * magnitude
    return noise_std


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Split a table into a normalised numeric block and a block of categorical codes.

    Numeric columns are mapped to float32 after an optional normalisation; categorical
    columns are mapped to int64 codes where ``0`` means "missing, or not seen during
    ``fit``" and the ``k_j`` categories seen during ``fit`` get codes ``1..k_j`` in the
    sorted order of their string form. The output is a ``dict`` with keys ``'x_num'``
    and ``'x_cat'``, the two inputs of the tabular network.

    With ``numeric_transform='quantile'`` each numeric column ``x`` is mapped by
    ``z = Phi^{-1}(F_hat(x))`` where ``F_hat`` is the empirical CDF estimated on at most
    1000 quantiles of the training column and ``Phi`` is the standard normal CDF
    (scikit-learn's :class:`~sklearn.preprocessing.QuantileTransformer` with
    ``output_distribution='normal'``). As in Gorishniy et al. (2022), the quantiles are
    fitted on ``x + eps`` with ``eps ~ N(0, (1e-3 * s)^2)`` so that ties in discrete
    columns are spread out; the fitted map is then applied to the un-noised data. The
    scale is ``s = min(std(x), q_99.5(x) - q_0.5(x))`` (``std(x)`` when that spread is
    0): with the std alone, one value of 1e8 among counts 0..4 made the noise (2,000)
    shuffle the counts and map them all to about the same value.
    A column that is constant at fit time carries no information and is mapped to 0.

    Parameters
    ----------
    numeric_transform : {'quantile', 'standard', None}, default='quantile'
        Normalisation of the numeric columns: quantile transform to a standard normal,
        :class:`~sklearn.preprocessing.StandardScaler` (``(x - mean) / std``), or none
        (values are only cast to float32).
    categorical_features : 'auto' or list of str or list of int, default='auto'
        Which columns are categorical. ``'auto'``: for a DataFrame, columns with a
        category, string, object or bool dtype; for a numpy array, none (the array must
        then be numeric). A list holds column names (DataFrame only) or integer
        positions. All other columns are numeric.
    random_state : int, RandomState instance or None, default=None
        Seeds the tie-breaking noise and the quantile transformer.

    Attributes
    ----------
    numeric_columns_ : list
        Numeric columns, as names for a DataFrame and integer positions for an array.
    categorical_columns_ : list
        Categorical columns, in the same convention.
    categories_ : list of ndarray
        ``categories_[j]`` holds the sorted category strings seen in column ``j`` at fit.
    cardinalities_ : list of int
        ``cardinalities_[j] = len(categories_[j]) + 1``, the size of the embedding table
        of column ``j`` (the extra slot is code 0, missing or unseen).
    numeric_transformer_ : QuantileTransformer, StandardScaler or None
        The fitted normaliser; ``None`` when ``numeric_transform=None`` or when there is
        no numeric column.
    constant_numeric_ : ndarray of shape (n_numeric,), dtype bool
        Numeric columns that were constant at fit time (always mapped to 0 by the
        quantile transform).
    n_features_in_ : int
        Number of columns seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``; only defined when ``X`` was a DataFrame with
        string column names.

    References
    ----------
    Y. Gorishniy, I. Rubachev, A. Babenko. "On Embeddings for Numerical Features in
    Tabular Deep Learning." NeurIPS 2022.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [30, 40, 50], "city": ["b", "a", None]})
    >>> out = TabularPreprocessor(numeric_transform=None).fit_transform(X)
    >>> out["x_num"].ravel().tolist(), out["x_cat"].ravel().tolist()
    ([30.0, 40.0, 50.0], [2, 1, 0])
    """

    def __init__(
        self,
        numeric_transform: str | None = "quantile",
        categorical_features: str | Sequence[Any] | pd.Index = "auto",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.numeric_transform = numeric_transform
        self.categorical_features = categorical_features
        self.random_state = random_state

    # ------------------------------------------------------------------ input handling
    def _validate_input(self, X: Any, reset: bool, check_columns: bool = True) -> pd.DataFrame | np.ndarray:
        """Check shape and feature names; DataFrames are returned as is, the rest as 2-D arrays.

        ``check_columns=False`` leaves out the check of the names and number of the columns against
        those seen at fit, for a caller that made it already.
        """
        if isinstance(X, pd.DataFrame):
            n_samples, n_columns = X.shape
            if n_samples == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
                )
            if n_columns == 0:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
                )
        else:
            # dtype=None keeps object/str arrays intact: their columns may be categorical.
            # Finiteness is checked per column later so the error can name the column.
            X = check_array(X, dtype=None, ensure_all_finite=False, estimator=self)
        if check_columns or reset:
            validate_data(self, X, reset=reset, skip_check_array=True)
        return X

    def _column_labels(self, X: pd.DataFrame | np.ndarray) -> list[Any]:
        return list(X.columns) if isinstance(X, pd.DataFrame) else list(range(X.shape[1]))

    def _resolve_categorical(self, X: pd.DataFrame | np.ndarray) -> list[int]:
        """Positions of the categorical columns, from ``categorical_features``."""
        n_columns = X.shape[1]
        spec = self.categorical_features
        if isinstance(spec, str):
            if spec != "auto":
                raise ValueError(
                    f"categorical_features must be 'auto' or a list of columns, got {spec!r}."
                )
            if isinstance(X, pd.DataFrame):
                return [j for j, dtype in enumerate(X.dtypes) if is_categorical_dtype(dtype)]
            if X.dtype.kind in "US":
                raise ValueError(
                    "X is a numpy array of strings; with categorical_features='auto' a numpy "
                    "array must be numeric. Pass a pandas DataFrame (text columns are then "
                    "treated as categorical) or list the categorical columns in "
                    "categorical_features."
                )
            return []
        # A pandas Index too (X.select_dtypes(...).columns): it is neither a Sequence nor an ndarray.
        if spec is None or not isinstance(spec, (Sequence, np.ndarray, pd.Index)):
            raise ValueError(
                f"categorical_features must be 'auto' or a list of columns, got {spec!r}."
            )
        labels = self._column_labels(X)
        positions: list[int] = []
        for item in spec:
            if isinstance(X, pd.DataFrame) and item in X.columns:
                positions.append(labels.index(item))
            elif isinstance(item, Integral) and not isinstance(item, bool):
                if not -n_columns <= item < n_columns:
                    raise ValueError(
                        f"categorical_features contains index {item}, but X has {n_columns} columns."
                    )
                positions.append(int(item) % n_columns)
            else:
                raise ValueError(
                    f"categorical_features contains {item!r}, which is neither a column name "
                    "of X nor an integer column position."
                )
        if len(set(positions)) != len(positions):
            raise ValueError(f"categorical_features lists a column twice: {list(spec)!r}.")
        return sorted(positions)

    def _numeric_block(self, X: pd.DataFrame | np.ndarray, labels: list[Any]) -> np.ndarray:
        """Numeric columns as a finite float64 array; errors name the offending column."""
        positions = self._num_positions
        n_samples = X.shape[0]
        if not positions:
            return np.empty((n_samples, 0), dtype=np.float64)
        try:
            if isinstance(X, pd.DataFrame):
                block = X.iloc[:, positions].to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                block = np.asarray(X[:, positions], dtype=np.float64)
        except ValueError:
            # Redo column by column only on failure, to find which column to blame.
            for position in positions:
                column = X.iloc[:, position] if isinstance(X, pd.DataFrame) else X[:, position]
                try:
                    np.asarray(column, dtype=np.float64)
                except ValueError as exc:
                    if isinstance(self.categorical_features, str):
                        hint = (
                            "Pass a pandas DataFrame with a text or category dtype for it, or list it in "
                            "categorical_features."
                        )
                    else:
                        # An explicit list replaces the dtype rule: telling the user to give the column
                        # a category dtype it may already have would not help.
                        hint = (
                            f"categorical_features={list(self.categorical_features)!r} names every "
                            "categorical column (column dtypes are then not used): add this one to it."
                        )
                    raise ValueError(
                        f"Input column {labels[position]!r} is treated as numeric but cannot be "
                        f"converted to float ({exc}). {hint}"
                    ) from exc
            raise
        finite = np.isfinite(block).all(axis=0)
        if not finite.all():
            bad = labels[positions[int(np.argmin(finite))]]
            raise ValueError(
                f"Input column {bad!r} contains NaN or infinity; impute it first "
                "(for example with sklearn.impute.SimpleImputer)."
            )
        return block

    def _column(self, X: pd.DataFrame | np.ndarray, position: int) -> Any:
        return X.iloc[:, position] if isinstance(X, pd.DataFrame) else X[:, position]

    # ------------------------------------------------------------------ fit / transform
    def fit(self, X: Any, y: Any = None) -> TabularPreprocessor:
        """Learn the column roles, the category sets and the numeric normaliser.

        A fit that raises leaves the preprocessor unfitted, even when it had been fitted before.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Training table. Numeric columns must be finite; categorical columns may
            contain missing values.
        y : None
            Ignored.

        Returns
        -------
        self : TabularPreprocessor
        """
        try:
            return self._fit(X)
        except BaseException:
            # A fit that raises leaves the preprocessor unfitted: the attributes are set one after the other, so a
            # refit failing part way (a NaN in a numeric column) kept the new categories beside the old numeric
            # normaliser, and transform silently scaled the new columns with the old data's quantiles.
            for name in _FITTED_ATTRIBUTES:
                self.__dict__.pop(name, None)
            raise

    def _fit(self, X: Any) -> TabularPreprocessor:
        if self.numeric_transform not in _NUMERIC_TRANSFORMS:
            raise ValueError(
                f"numeric_transform must be one of {_NUMERIC_TRANSFORMS}, got {self.numeric_transform!r}."
            )
        X = self._validate_input(X, reset=True)
        labels = self._column_labels(X)
        cat_positions = self._resolve_categorical(X)
        cat_set = set(cat_positions)
        self._cat_positions = cat_positions
        self._num_positions = [j for j in range(X.shape[1]) if j not in cat_set]
        self.categorical_columns_ = [labels[j] for j in self._cat_positions]
        self.numeric_columns_ = [labels[j] for j in self._num_positions]

        self.categories_ = [sorted_categories(self._column(X, j)) for j in self._cat_positions]
        self.cardinalities_ = [len(categories) + 1 for categories in self.categories_]

        x_num = self._numeric_block(X, labels)
        self.constant_numeric_ = np.ptp(x_num, axis=0) == 0
        self.numeric_transformer_ = self._fit_numeric(x_num)
        return self

    def _fit_numeric(self, x_num: np.ndarray) -> QuantileTransformer | StandardScaler | None:
        if x_num.shape[1] == 0 or self.numeric_transform is None:
            return None
        if self.numeric_transform == "standard":
            # A variance beyond float64 is reported by transform as a ValueError naming the column.
            with np.errstate(over="ignore", invalid="ignore"):
                return StandardScaler().fit(x_num)
        n_samples = x_num.shape[0]
        rng = check_random_state(self.random_state)
        noise_std = _quantile_noise_std(x_num)
        # In place: the same products and sums as x_num + noise_std * N, with one array of the block's size
        # alive beside x_num instead of three (the fit's peak memory, 460 -> 306 MiB at Covertype's 371,847 rows).
        noisy = rng.standard_normal(x_num.shape)
        noisy *= noise_std
        noisy += x_num
        transformer = QuantileTransformer(
            output_distribution="normal",
            n_quantiles=min(1000, n_samples),
            subsample=10**9,
            random_state=self.random_state,
        )
        return transformer.fit(noisy)

    def transform(self, X: Any) -> dict[str, np.ndarray]:
        """Encode a table with the fitted column roles, categories and normaliser.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features_in_)
            Same columns, in the same order, as in ``fit``.

        Returns
        -------
        out : dict
            ``'x_num'``: float32 array of shape (n_samples, n_numeric);
            ``'x_cat'``: int64 array of shape (n_samples, n_categorical) with codes in
            ``0..cardinalities_[j] - 1`` (0 = missing or unseen at fit).
        """
        return self._transform(X, check_columns=True)

    def _transform(self, X: Any, check_columns: bool) -> dict[str, np.ndarray]:
        """``transform``; ``check_columns=False`` for an estimator that checked X's columns against its own."""
        check_is_fitted(self, "cardinalities_")
        X = self._validate_input(X, reset=False, check_columns=check_columns)
        labels = self._column_labels(X)
        n_samples = X.shape[0]
        x_num = np.empty((n_samples, len(self._num_positions)), dtype=np.float32)
        for start in range(0, n_samples if self._num_positions else 0, _TRANSFORM_CHUNK_ROWS):
            rows = slice(start, start + _TRANSFORM_CHUNK_ROWS)
            x_num[rows] = self._encode_numeric(X.iloc[rows] if isinstance(X, pd.DataFrame) else X[rows], X, labels)
        finite = np.isfinite(x_num).all(axis=0)
        if not finite.all():
            bad = labels[self._num_positions[int(np.argmin(finite))]]
            if self.numeric_transform == "standard":
                # StandardScaler's variance overflows float64 for magnitudes beyond about 1e154.
                raise ValueError(
                    f"Input column {bad!r} is too large for numeric_transform='standard' (its variance overflows); "
                    "rescale it or use numeric_transform='quantile'."
                )
            raise ValueError(f"Input column {bad!r} has values too large for float32.")

        x_cat = np.empty((X.shape[0], len(self._cat_positions)), dtype=np.int64)
        for j, (position, categories) in enumerate(zip(self._cat_positions, self.categories_)):
            x_cat[:, j] = category_codes(self._column(X, position), categories)
        return {"x_num": x_num, "x_cat": x_cat}

    def _encode_numeric(
        self, chunk: pd.DataFrame | np.ndarray, X: pd.DataFrame | np.ndarray, labels: list[Any]
    ) -> np.ndarray:
        """The normalised numeric columns of ``chunk``, some rows of ``X`` (float64; cast by the caller)."""
        try:
            block = self._numeric_block(chunk, labels)
            chunk_error = None
        except ValueError as error:
            chunk_error = error
        if chunk_error is not None:
            # The error of the whole table, which names the first bad column of all its rows, not of this chunk's.
            # Raised outside the except clause: chained to the chunk's error, the traceback showed both, each
            # naming its own column ("During handling of the above exception, another exception occurred").
            self._numeric_block(X, labels)
            raise chunk_error
        if self.numeric_transformer_ is not None:
            # The scaler is internal: its output must stay an array whatever the user set with
            # sklearn.set_config(transform_output='pandas'), which would otherwise apply to it.
            with config_context(transform_output="default"):
                block = self.numeric_transformer_.transform(block)
            if self.numeric_transform == "quantile":
                # A constant training column maps every value to the same CDF end point
                # (+-5.2 after Phi^{-1}); 0 is the neutral value.
                block[:, self.constant_numeric_] = 0.0
        return block

    def __sklearn_tags__(self):  # noqa: D105 - sklearn protocol
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags
