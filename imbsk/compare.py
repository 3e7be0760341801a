"""Compare the paper's techniques with imbalance baselines on one train/test split.

The engine behind ``imbsk compare``. Every method in :data:`METHODS` is a factory
``(random_state, dataset_info) -> estimator`` returning an unfitted scikit-learn
estimator (or imbalanced-learn pipeline) that accepts the raw training table,
numpy array or pandas DataFrame with categorical columns alike.
:func:`run_comparison` fits each method once per seed and scores it on the test
set; :func:`summarize` reduces the runs to mean and standard error per method;
:func:`format_table`, :func:`summary_to_markdown`, :func:`write_csv` and
:func:`plot_minority_majority` report the result.

Metrics (all on the test set):

* ``accuracy`` -- share of correct predictions;
* ``balanced_accuracy`` -- mean per-class recall (the accuracy on a balanced test set);
* ``minority_accuracy`` / ``majority_accuracy`` -- mean recall over the 20% of classes
  with the fewest / most *training* samples (Shwartz-Ziv et al. 2023, see
  :func:`imbsk.metrics.minority_accuracy`);
* ``fit_time`` -- wall-clock seconds of ``fit``, preprocessing and resampling included.

References
----------
Shwartz-Ziv, Goldblum, Li, Bruss and Wilson, "Simplifying Neural Network Training
Under Class Imbalance", NeurIPS 2023.
"""

from __future__ import annotations

import importlib
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, LabelEncoder, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from imbsk._labels import label_counts, python_label
from imbsk.estimators.base import check_device_form, check_free_arguments, resolve_device
from imbsk.estimators.mlp import ImbalancedMLPClassifier
from imbsk.metrics import format_mean_se, majority_accuracy, minority_accuracy, standard_error
from imbsk.preprocessing.tabular import is_categorical_dtype

__all__ = [
    "DEFAULT_METHODS",
    "METHODS",
    "METRICS",
    "QUICK_MLP_PARAMS",
    "DatasetInfo",
    "LabelEncodedXGBClassifier",
    "SmoteMLPPipeline",
    "describe_dataset",
    "format_table",
    "mlp_defaults",
    "plot_minority_majority",
    "run_comparison",
    "summarize",
    "summary_to_markdown",
    "validate_methods",
    "write_csv",
    "write_report",
]

#: Scores reported per run, in table order (``fit_time`` follows them).
METRICS = ("accuracy", "balanced_accuracy", "minority_accuracy", "majority_accuracy")
#: Share of classes in the minority / majority groups (the paper's 20%).
GROUP_FRACTION = 0.2
#: Above this many training rows the kernel SVC (O(n^2) memory, O(n^2..n^3) time)
#: is replaced by a linear SVM, see :func:`_svm`.
SVM_MAX_KERNEL_ROWS = 20_000
#: Up to this many training rows ``torch_threads='auto'`` trains on one thread, see
#: :func:`run_comparison`.
SINGLE_THREAD_MAX_ROWS = 20_000
#: Tiny MLP for smoke tests (``imbsk compare --quick``): a few seconds for all methods.
QUICK_MLP_PARAMS: dict[str, Any] = {
    "hidden_layer_sizes": (16,),
    "ssl_projector_dims": (16,),
    "num_embedding": "none",
    "max_iter": 3,
    "batch_size": 64,
    "validation_fraction": None,
}

# Stands for a missing categorical value once categories are turned into strings, so
# that encoders see it as one more category instead of failing on NaN.
_MISSING_CATEGORY = "__missing__"


# ---------------------------------------------------------------------------------------
# data description and MLP settings
# ---------------------------------------------------------------------------------------
def mlp_defaults(n_train: int) -> dict[str, Any]:
    """Settings of :class:`~imbsk.ImbalancedMLPClassifier` for a training set of this size.

    Three tiers, all SGD with momentum, cosine schedule and weight EMA (the estimator's
    defaults) and 256-256 hidden units:

    * ``n_train <= 2,000`` -- raw (quantile-normalised) features without numerical
      embeddings, batch 32, learning rate 0.02, 100 epochs, **no** early stopping. On
      digits-LT (304 training rows, classes of 1-3 samples) a 10% validation split
      holds about 30 rows and none of the rarest classes, and stopping on it cost
      about 7 points of accuracy over 3 seeds (0.675 vs 0.745) against a fixed
      schedule; the periodic embeddings (PLR) overfit there too (0.69 vs 0.76).
      Learning rate 0.05 with batch 32 made ``class_weight='balanced'`` diverge
      (weights up to 30 on a single sample), 0.02 did not.
    * ``n_train <= 20,000`` -- PLR embeddings (Gorishniy et al. 2022), batch 64,
      learning rate 0.05, at most 60 epochs with early stopping on a 10% split
      (patience 8).
    * larger -- PLR, batch 256, at most 30 epochs, early stopping with patience 5, so
      that Covertype-sized data stays tractable on a CPU (use ``--max-train-rows`` for
      quick looks).

    Parameters
    ----------
    n_train : int
        Number of training rows.

    Returns
    -------
    params : dict
        Keyword arguments of ``ImbalancedMLPClassifier``.
    """
    if n_train <= 2_000:
        return {
            "hidden_layer_sizes": (256, 256),
            "num_embedding": "none",
            "batch_size": 32,
            "learning_rate_init": 0.02,
            "max_iter": 100,
            "validation_fraction": None,
        }
    if n_train <= 20_000:
        return {
            "hidden_layer_sizes": (256, 256),
            "num_embedding": "plr",
            "batch_size": 64,
            "learning_rate_init": 0.05,
            "max_iter": 60,
            "validation_fraction": 0.1,
            "n_iter_no_change": 8,
        }
    return {
        "hidden_layer_sizes": (256, 256),
        "num_embedding": "plr",
        "batch_size": 256,
        "learning_rate_init": 0.05,
        "max_iter": 30,
        "validation_fraction": 0.1,
        "n_iter_no_change": 5,
    }


@dataclass
class DatasetInfo:
    """What a method factory may know about the training data.

    Attributes
    ----------
    n_train, n_features : int
        Shape of the training table.
    class_counts : dict
        ``{label: number of training samples}``, labels sorted.
    categorical_columns, numeric_columns : tuple
        Column names of a DataFrame split by dtype (category, string, object and bool
        columns are categorical); for arrays, no categorical and all positions numeric.
    is_frame : bool
        Whether the inputs are pandas DataFrames.
    mlp_params : dict
        Settings of every MLP (:func:`mlp_defaults` plus overrides).
    device : str
        Resolved device, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    """

    n_train: int
    n_features: int
    class_counts: dict
    categorical_columns: tuple = ()
    numeric_columns: tuple = ()
    is_frame: bool = False
    mlp_params: dict = field(default_factory=dict)
    device: str = "cpu"

    @property
    def min_class_count(self) -> int:
        """Training samples of the rarest class."""
        return int(min(self.class_counts.values()))


#: ImbalancedMLPClassifier arguments that every comparison run sets itself, and what sets them.
_RUN_MLP_ARGUMENTS = {"random_state": "the run's seed (seeds / --seeds)", "device": "device / --device"}


def describe_dataset(
    X: Any, y: Any, *, mlp_params: dict[str, Any] | None = None, device: str = "cpu"
) -> DatasetInfo:
    """Build the :class:`DatasetInfo` of a training set.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    mlp_params : dict, default=None
        Overrides of :func:`mlp_defaults` for every MLP: ImbalancedMLPClassifier
        arguments, except ``random_state`` and ``device`` (a ValueError), which each
        run sets itself.
    device : {'cpu', 'cuda', 'cuda:N', 'auto'}, default='cpu'

    Returns
    -------
    info : DatasetInfo
    """
    y_arr = np.asarray(y)
    if len(y_arr) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y_arr)}.")
    class_counts = label_counts(y_arr)
    if len(class_counts) < 2:
        raise ValueError(f"The training data has a single class ({list(class_counts)}); a comparison needs at least 2.")
    if isinstance(X, pd.DataFrame):
        categorical = tuple(column for column in X.columns if is_categorical_dtype(X[column].dtype))
        numeric = tuple(column for column in X.columns if column not in set(categorical))
        n_features, is_frame = X.shape[1], True
    else:
        X_arr = np.asarray(X)
        if X_arr.ndim != 2:
            raise ValueError(f"X must be 2-D (rows x features); got shape {X_arr.shape}.")
        categorical, numeric = (), tuple(range(X_arr.shape[1]))
        n_features, is_frame = X_arr.shape[1], False
    params = mlp_defaults(len(y_arr))
    params.update(check_free_arguments(mlp_params or {}, ImbalancedMLPClassifier, _RUN_MLP_ARGUMENTS, "mlp_params",
                                       "each run"))
    check_device_form(device, "imbsk.compare")
    return DatasetInfo(
        n_train=len(y_arr),
        n_features=n_features,
        class_counts=class_counts,
        categorical_columns=categorical,
        numeric_columns=numeric,
        is_frame=is_frame,
        mlp_params=params,
        device=resolve_device(device),
    )


# ---------------------------------------------------------------------------------------
# preprocessing for the methods that are not the MLP
# ---------------------------------------------------------------------------------------
def _categories_as_strings(X: Any) -> pd.DataFrame:
    """Categorical columns as strings with missing values as their own category.

    One-hot and ordinal encoders need uniformly typed columns; bool, category and
    mixed object columns all become strings, and NaN becomes ``'__missing__'``.
    """
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
    # Missing entries are found before astype(str): pandas 3 keeps them missing, but pandas 2 writes them as the
    # strings 'None', 'nan' and '<NA>', which would become categories of their own.
    return frame.astype(str).where(frame.notna(), _MISSING_CATEGORY).astype(object)


def _string_categories() -> FunctionTransformer:
    return FunctionTransformer(_categories_as_strings, feature_names_out="one-to-one")


def _encoder(info: DatasetInfo, *, categorical: str, scale: bool, impute: bool) -> Any:
    """Preprocessing step turning the raw table into numbers.

    ``categorical='onehot'`` (linear models, SVM) or ``'ordinal'`` (trees: codes
    ``0..k-1``, unseen categories -1). Numeric columns are median-imputed when
    ``impute`` (XGBoost handles NaN itself) and standardised when ``scale``.
    Returns ``'passthrough'`` when nothing is to be done.
    """
    numeric_steps: list[Any] = []
    if impute:
        numeric_steps.append(SimpleImputer(strategy="median"))
    if scale:
        numeric_steps.append(StandardScaler())
    numeric = make_pipeline(*numeric_steps) if numeric_steps else "passthrough"
    if not info.is_frame:
        return numeric
    if categorical == "onehot":
        cat_encoder: Any = OneHotEncoder(handle_unknown="ignore")
    else:
        cat_encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    transformers = []
    if info.numeric_columns:
        transformers.append(("numeric", numeric, list(info.numeric_columns)))
    if info.categorical_columns:
        transformers.append(("categorical", make_pipeline(_string_categories(), cat_encoder), list(info.categorical_columns)))
    return ColumnTransformer(transformers, remainder="drop")


class LabelEncodedXGBClassifier(ClassifierMixin, BaseEstimator):
    """:class:`xgboost.XGBClassifier` accepting any class labels.

    XGBoost requires the labels ``0..K-1``; this wrapper maps the labels with a
    :class:`~sklearn.preprocessing.LabelEncoder` before fitting and back after
    predicting. Inputs must be numeric (NaN allowed): put an encoder in front for
    categorical columns.

    Parameters
    ----------
    n_estimators : int, default=300
        Boosting rounds.
    max_depth : int, default=6
        Maximum tree depth.
    learning_rate : float, default=0.1
        Shrinkage of each tree.
    n_jobs : int, default=None
        Threads of XGBoost (None: all cores).
    device : str, default='cpu'
        ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    random_state : int, RandomState instance or None, default=None
        Seed of XGBoost.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted; the columns of :meth:`predict_proba` follow them.
    label_encoder_ : LabelEncoder
        Maps ``classes_`` to the codes ``0..K-1`` that XGBoost trains on.
    model_ : xgboost.XGBClassifier
        The fitted booster.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit``; only when ``X`` was a DataFrame with string column names.

    References
    ----------
    Chen and Guestrin, "XGBoost: A Scalable Tree Boosting System", KDD 2016.
    """

    # Checked in fit: XGBoost takes n_estimators <= 0 for no tree (a constant model) without a word.
    _parameter_constraints: dict = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_depth": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
        "device": [str],  # XGBoost checks the value ('cpu', 'cuda', 'cuda:N') and names it
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_estimators: int = 300,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        n_jobs: int | None = None,
        device: str = "cpu",
        random_state: int | np.random.RandomState | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> "LabelEncodedXGBClassifier":
        """Fit the booster on label-encoded targets."""
        from xgboost import XGBClassifier

        self._validate_params()
        # sklearn's checks, not XGBoost's: a list or 1-D X, infinity, a continuous y (one class per distinct
        # value) and a sparse X (XGBoost reads its implicit zeros as missing, not as 0) are refused with
        # messages naming the problem; NaN stays, XGBoost's missing value. Numeric arrays pass unchanged.
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        check_classification_targets(y)
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"The training data has 1 class ({self.classes_.tolist()}); a classifier needs 2.")
        self.model_ = XGBClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            tree_method="hist",
            n_jobs=self.n_jobs,
            device=self.device,
            random_state=self.random_state,
        )
        self.model_.fit(X, self.label_encoder_.transform(y))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns ordered as ``classes_``."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, ensure_all_finite="allow-nan", reset=False)
        return self.model_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels in the original label space."""
        probabilities = self.predict_proba(X)  # first: unfitted, it raises NotFittedError, not classes_'s error
        return self.classes_[np.argmax(probabilities, axis=1)]

    def __sklearn_tags__(self):  # noqa: D105 - sklearn protocol
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # XGBoost's missing value
        return tags


class SmoteSamplingStrategy:
    """``sampling_strategy`` of SMOTE that skips classes too small to interpolate.

    SMOTE (Chawla et al. 2002) creates a sample on the segment between a minority
    sample and one of its ``k`` nearest same-class neighbours, so a class needs at
    least ``k + 1`` samples. Called on the labels seen at fit time, this returns
    ``{label: n_max}`` for every class with more than ``k_neighbors`` samples (those
    are oversampled up to the majority count) and leaves the others as they are.

    Parameters
    ----------
    k_neighbors : int
        The ``k_neighbors`` of the SMOTE instance using this strategy.
    """

    def __init__(self, k_neighbors: int) -> None:
        self.k_neighbors = k_neighbors

    def __call__(self, y: Any) -> dict:
        labels, counts = np.unique(np.asarray(y), return_counts=True)
        target = int(counts.max())
        return {python_label(label): target for label, count in zip(labels, counts) if count > self.k_neighbors}


def _smote_k_neighbors(counts: np.ndarray) -> int:
    """``min(5, n_min - 1)``, ``n_min`` the smallest of these class counts that is at least 2."""
    return int(min(5, counts[counts >= 2].min() - 1))


class SmoteMLPPipeline(ClassifierMixin, BaseEstimator):
    """The ``smote_mlp`` method: SMOTE in front of an MLP that early-stops on real rows.

    In an imbalanced-learn pipeline the MLP only sees the resampled rows, so its own
    early-stopping split (``validation_fraction``) would hold out synthetic rows, in
    the balanced class proportions of the resampled data, whose interpolation
    partners train. This estimator holds the rows out *before* resampling, as the
    MLP itself draws them from the rows it gets (same stratification, same seed, so
    the other MLP methods of :func:`run_comparison` hold out the same rows): the
    steps in front of the MLP are fitted on the remaining rows (the sampler
    resamples only those), the held-out rows go through the fitted transformers but
    not the samplers, and the MLP trains on the resampled rows with them as
    ``X_val``. The sampler's ``k_neighbors`` is set by the rule of
    :func:`_smote_mlp` on the class counts it resamples, so that holding out a row
    does not exclude the rarest class from oversampling. As in the MLP's own split, a
    class whose rows an unstratified split would all hold out (e.g. a single-sample
    class) keeps them for training. Without ``validation_fraction`` the pipeline is fitted as it is.

    Parameters
    ----------
    pipeline : imblearn.pipeline.Pipeline
        Unfitted ``[numeric imputer, SMOTE / SMOTE-NC / SMOTE-N with a
        SmoteSamplingStrategy, ImbalancedMLPClassifier]``, as built by
        :func:`_smote_mlp`.

    Attributes
    ----------
    pipeline_ : imblearn.pipeline.Pipeline
        The fitted pipeline; its MLP's ``class_counts_`` count the resampled rows.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Training samples per class, counted before resampling (held-out rows included).
    n_features_in_ : int
        Number of input columns.
    """

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def fit(self, X: Any, y: Any) -> "SmoteMLPPipeline":
        """Hold out the early-stopping rows, resample the others and train the MLP."""
        pipeline = clone(self.pipeline)
        mlp = pipeline.steps[-1][1]
        labels = column_or_1d(y, warn=True)
        encoder = LabelEncoder()
        y_encoded = encoder.fit_transform(labels)
        if mlp.validation_fraction is None:
            pipeline.fit(X, y)
        else:
            # The MLP's own split of these labels with the seed of its fit: the rows it would hold out (never
            # every row of a class, see _validation_split).
            train, valid = mlp._validation_split(y_encoded, mlp._fit_seed())
            head = pipeline[:-1]  # the same step objects: fitting head fits the pipeline's steps
            train_counts = np.bincount(y_encoded[train])
            if np.any(train_counts >= 2):
                k_neighbors = _smote_k_neighbors(train_counts)
                for _, step in head.steps:
                    if isinstance(getattr(step, "sampling_strategy", None), SmoteSamplingStrategy):
                        step.set_params(k_neighbors=k_neighbors, sampling_strategy=SmoteSamplingStrategy(k_neighbors))
            X_resampled, y_resampled = head.fit_resample(_safe_indexing(X, train), labels[train])
            X_valid = _safe_indexing(X, valid)
            for _, step in head.steps:
                if not hasattr(step, "fit_resample"):  # the held-out rows are not resampled
                    X_valid = step.transform(X_valid)
            mlp.fit(X_resampled, y_resampled, X_val=X_valid, y_val=labels[valid])
        self.pipeline_ = pipeline
        self.classes_ = encoder.classes_
        self.class_counts_ = np.bincount(y_encoded, minlength=len(self.classes_))
        self.n_features_in_ = pipeline.n_features_in_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities of the MLP, columns ordered as ``classes_``."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(X)


# ---------------------------------------------------------------------------------------
# method factories
# ---------------------------------------------------------------------------------------
MethodFactory = Callable[[int, DatasetInfo], Any]


def _mlp(random_state: int, info: DatasetInfo, **technique: Any) -> ImbalancedMLPClassifier:
    params = {**info.mlp_params, **technique}
    return ImbalancedMLPClassifier(device=info.device, random_state=random_state, **params)


def _numeric_imputer(info: DatasetInfo, categorical: Any = "passthrough", *, keep_empty_features: bool = False) -> Any:
    """Median imputation of numeric columns; a DataFrame stays a DataFrame with its column names.

    The numeric columns come first in the output, the categorical ones (through
    ``categorical``) after them. ``keep_empty_features`` fills a numeric column that is
    all NaN in the training rows with 0 instead of dropping it, so that the output
    positions of the columns are known before fitting.
    """
    if not info.is_frame:
        return SimpleImputer(strategy="median", keep_empty_features=keep_empty_features)
    transformers = []
    if info.numeric_columns:
        imputer = SimpleImputer(strategy="median", keep_empty_features=keep_empty_features)
        transformers.append(("numeric", imputer, list(info.numeric_columns)))
    if info.categorical_columns:
        transformers.append(("categorical", categorical, list(info.categorical_columns)))
    # scikit-learn < 1.9 names each transformer's output columns x0, x1, ... when the column labels are not all
    # strings, so both blocks would hold an 'x0' and the concatenation fails: the transformer's name as a prefix
    # keeps them apart (string labels keep their names: the steps after this one see them unchanged).
    string_labels = all(isinstance(label, str) for label in (*info.numeric_columns, *info.categorical_columns))
    return ColumnTransformer(transformers, verbose_feature_names_out=not string_labels).set_output(transform="pandas")


def _mlp_method(random_state: int, info: DatasetInfo, **technique: Any) -> Pipeline:
    """The MLP behind a median imputer of the numeric columns, fitted on the training rows.

    The imputer is there even when no numeric training value is missing: the MLP
    refuses NaN in numeric columns, so a value missing only in the test rows would
    make every MLP method fail at predict time (the baselines impute it). Without NaN
    the imputer changes no value.
    """
    return make_pipeline(_numeric_imputer(info), _mlp(random_state, info, **technique))


def _erm(random_state: int, info: DatasetInfo) -> Any:
    """Empirical risk minimisation: plain cross-entropy, no imbalance handling."""
    return _mlp_method(random_state, info)


def _sam_a(random_state: int, info: DatasetInfo) -> Any:
    """SAM-A, asymmetric sharpness-aware minimisation (paper Sec. 3.2, A.6), base rho=0.05."""
    return _mlp_method(random_state, info, sam_asymmetric_rho=0.05)


def _class_smoothing(random_state: int, info: DatasetInfo) -> Any:
    """Class-conditional label smoothing (paper Sec. 3.2, A.7), base eps=0.1."""
    return _mlp_method(random_state, info, class_smoothing_eps=0.1)


def _joint_ssl(random_state: int, info: DatasetInfo) -> Any:
    """Joint-SSL: cross-entropy + 0.1 x VICReg on corrupted views (paper Sec. 3.2, A.5)."""
    return _mlp_method(random_state, info, joint_ssl_weight=0.1)


def _combined(random_state: int, info: DatasetInfo) -> Any:
    """Joint-SSL + SAM-A + class-conditional smoothing, the paper's combination (Table 1)."""
    return _mlp_method(random_state, info, sam_asymmetric_rho=0.05, class_smoothing_eps=0.1, joint_ssl_weight=0.1)


def _reweighting(random_state: int, info: DatasetInfo) -> Any:
    """Loss re-weighting by inverse class frequency, ``w_c = n / (K n_c)``."""
    return _mlp_method(random_state, info, class_weight="balanced")


def _resampling(random_state: int, info: DatasetInfo) -> Any:
    """Class-balanced sampling of the training batches."""
    return _mlp_method(random_state, info, resampling="balanced")


def _focal(random_state: int, info: DatasetInfo) -> Any:
    """Focal loss ``-(1 - p_y)^gamma log p_y``, gamma=2 (Lin et al. 2017)."""
    return _mlp_method(random_state, info, loss="focal")


def _ldam_drw(random_state: int, info: DatasetInfo) -> Any:
    """LDAM loss with deferred re-weighting (Cao et al. 2019).

    Margins ``Delta_c proportional to n_c^(-1/4)``; the effective-number class weights
    switch on at ``drw_epoch = round(2/3 max_iter)`` (Cao et al. defer to epoch 160 of
    200; two thirds leaves more of a short schedule for the second stage). Early
    stopping is turned off (``validation_fraction=None``): with it, a run could stop
    before ``drw_epoch`` and never re-weight, and the jump of the training objective
    when the weights switch on would make the patience counter compare two different
    objectives, with "restore the best epoch" likely returning a pre-DRW checkpoint.
    """
    max_iter = int(info.mlp_params.get("max_iter", ImbalancedMLPClassifier().max_iter))
    drw_epoch = max(1, int(round(2 * max_iter / 3)))
    return _mlp_method(
        random_state, info, loss="ldam", class_weight="effective_number", drw_epoch=drw_epoch, validation_fraction=None
    )


def _smote_mlp(random_state: int, info: DatasetInfo) -> Any:
    """SMOTE oversampling (Chawla et al. 2002) in front of the plain MLP.

    ``k_neighbors = min(5, n_min - 1)``, ``n_min`` being the smallest class count of
    at least 2; classes with fewer samples than ``k_neighbors + 1`` (in practice:
    singletons) cannot be interpolated and are left as they are, with a warning.
    Inputs are made SMOTE-ready first: numeric NaN is median-imputed and categorical
    columns become strings with a ``'__missing__'`` category. With categorical
    columns SMOTE-NC is used (it takes the most frequent category among the
    neighbours), with only categorical columns SMOTE-N. The MLP then sees the
    resampled DataFrame and embeds the categorical columns itself.

    With early stopping (``validation_fraction``, above 2,000 training rows) the MLP
    stops on real training rows held out *before* resampling, the rows the other MLP
    methods hold out, in the training data's class proportions; SMOTE resamples the
    other rows (``k_neighbors`` by the rule above on their counts). Held out after
    resampling, they would be synthetic rows in balanced proportions, next to the
    training rows they were interpolated from. See :class:`SmoteMLPPipeline`.
    """
    from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC
    from imblearn.pipeline import make_pipeline as make_imblearn_pipeline

    counts = np.array(list(info.class_counts.values()))
    labels = list(info.class_counts)
    interpolable = counts[counts >= 2]
    minority = counts < counts.max()
    if len(interpolable) == 0 or (minority.any() and not np.any(counts[minority] >= 2)):
        raise ValueError(
            "smote_mlp needs at least 2 training samples in a minority class (SMOTE interpolates between "
            f"same-class neighbours); training class counts are {info.class_counts}."
        )
    k_neighbors = _smote_k_neighbors(counts)
    singletons = [label for label, count in zip(labels, counts) if count <= k_neighbors]
    if singletons:
        warnings.warn(
            f"smote_mlp: classes {singletons} have a single training sample; SMOTE cannot interpolate them and "
            "leaves them as they are.",
            UserWarning,
            stacklevel=2,
        )
    strategy = SmoteSamplingStrategy(k_neighbors)
    if not info.categorical_columns:
        sampler: Any = SMOTE(sampling_strategy=strategy, k_neighbors=k_neighbors, random_state=random_state)
    elif not info.numeric_columns:
        sampler = SMOTEN(sampling_strategy=strategy, k_neighbors=k_neighbors, random_state=random_state)
    else:
        # By position, not by name: the imputer puts the categorical columns after the numeric
        # ones, and renames non-string column names (0 -> 'x0'), so a name such as 0 would be
        # read as the position of a numeric column.
        n_numeric = len(info.numeric_columns)
        categorical = list(range(n_numeric, n_numeric + len(info.categorical_columns)))
        sampler = SMOTENC(categorical, sampling_strategy=strategy, k_neighbors=k_neighbors, random_state=random_state)
    # keep_empty_features: an all-NaN numeric column must not shift those positions.
    imputer = _numeric_imputer(info, _string_categories(), keep_empty_features=True)
    return SmoteMLPPipeline(make_imblearn_pipeline(imputer, sampler, _mlp(random_state, info)))


def _xgboost(random_state: int, info: DatasetInfo) -> Pipeline:
    """XGBoost (Chen and Guestrin 2016), 300 trees of depth 6, categorical columns ordinal-encoded."""
    model = LabelEncodedXGBClassifier(random_state=random_state, device=info.device)
    return make_pipeline(_encoder(info, categorical="ordinal", scale=False, impute=False), model)


def _svm(random_state: int, info: DatasetInfo) -> Pipeline:
    """Support vector machine on standardised, one-hot encoded inputs.

    An RBF-kernel :class:`~sklearn.svm.SVC` (no class weights) up to
    ``SVM_MAX_KERNEL_ROWS`` (20,000) training rows. Beyond that the kernel matrix
    makes SVC impractical (its cost grows between quadratically and cubically with
    the rows), so a linear :class:`~sklearn.svm.LinearSVC` on all rows is used
    instead of a kernel SVM on a subsample, keeping every minority sample.
    """
    from sklearn.svm import SVC, LinearSVC

    if info.n_train > SVM_MAX_KERNEL_ROWS:
        model: Any = LinearSVC(random_state=random_state)
    else:
        model = SVC(class_weight=None, random_state=random_state)
    return make_pipeline(_encoder(info, categorical="onehot", scale=True, impute=True), model)


def _logreg(random_state: int, info: DatasetInfo) -> Pipeline:
    """Multinomial logistic regression on standardised, one-hot encoded inputs."""
    from sklearn.linear_model import LogisticRegression

    return make_pipeline(
        _encoder(info, categorical="onehot", scale=True, impute=True), LogisticRegression(max_iter=1000)
    )


#: The methods that train no PyTorch network.
_WITHOUT_TORCH = frozenset({"xgboost", "svm", "logreg"})


def _warm_up_torch(device: str) -> None:
    """Fit a tiny network once, untimed, so that no method's fit time holds the process's set-up."""
    rng = np.random.default_rng(0)
    ImbalancedMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=1, batch_size=8, validation_fraction=None, random_state=0, device=device
    ).fit(rng.normal(size=(16, 2)), np.arange(16) % 2)


#: Method name -> factory ``(random_state, dataset_info) -> unfitted estimator``.
METHODS: dict[str, MethodFactory] = {
    "erm": _erm,
    "sam_a": _sam_a,
    "class_smoothing": _class_smoothing,
    "joint_ssl": _joint_ssl,
    "combined": _combined,
    "reweighting": _reweighting,
    "resampling": _resampling,
    "focal": _focal,
    "ldam_drw": _ldam_drw,
    "smote_mlp": _smote_mlp,
    "xgboost": _xgboost,
    "svm": _svm,
    "logreg": _logreg,
}
#: What ``imbsk compare`` runs without ``--methods``: all of them.
DEFAULT_METHODS: tuple[str, ...] = tuple(METHODS)


def validate_methods(methods: Iterable[str] | str) -> list[str]:
    """Check method names and drop duplicates, keeping the order.

    Parameters
    ----------
    methods : str or iterable of str
        Names from :data:`METHODS`; a string is split on commas; ``'all'`` means every method.

    Returns
    -------
    names : list of str

    Raises
    ------
    ValueError
        An unknown name (the message lists the valid ones) or an empty list.
    """
    if isinstance(methods, str):
        methods = [name.strip() for name in methods.split(",") if name.strip()]
    names: list[str] = []
    for name in methods:
        if name == "all":
            names.extend(DEFAULT_METHODS)
            continue
        if name not in METHODS:
            raise ValueError(f"Unknown method {name!r}; valid methods are: {', '.join(METHODS)} (or 'all').")
        names.append(name)
    if not names:
        raise ValueError(f"No method given; valid methods are: {', '.join(METHODS)}.")
    return list(dict.fromkeys(names))


#: The largest seed: ``random_state`` takes the seeds of numpy's RandomState, 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive number of seeds or a list of seeds; got {seeds}.")
        return list(range(int(seeds)))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise ValueError(f"seeds must be a positive number of seeds or a list of seeds; got {seeds!r}.")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty.")
    # Checked before any run: int() would run seed 1.5 as seed 1, and the estimators' random_state
    # (numpy's, 0 to 2**32 - 1) refuses the others, so every MLP and SVM run of such a seed failed.
    invalid = [
        seed for seed in seeds
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED
    ]
    if invalid:
        raise ValueError(f"seeds must be integers from 0 to 2**32 - 1 (the estimators' random_state); got {invalid}.")
    return list(dict.fromkeys(int(seed) for seed in seeds))


# ---------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------
@contextmanager
def _torch_threads(n_threads: int | None):
    if n_threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _score(y_true: np.ndarray, y_pred: np.ndarray, class_counts: dict) -> dict[str, float]:
    with warnings.catch_warnings():
        # Predictions of a class absent from the test set are legitimate here.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced),
        "minority_accuracy": minority_accuracy(y_true, y_pred, class_counts=class_counts, fraction=GROUP_FRACTION),
        "majority_accuracy": majority_accuracy(y_true, y_pred, class_counts=class_counts, fraction=GROUP_FRACTION),
    }


def run_comparison(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    methods: Iterable[str] | str = DEFAULT_METHODS,
    seeds: int | Sequence[int] = 3,
    device: str = "cpu",
    progress: bool = True,
    *,
    mlp_params: dict[str, Any] | None = None,
    errors: str = "raise",
    torch_threads: int | str | None = "auto",
) -> pd.DataFrame:
    """Fit every method once per seed and score it on the test set.

    Parameters
    ----------
    X_train, y_train : array-like or DataFrame, array-like
        Training data; DataFrames may hold categorical (category, string, object,
        bool) columns with missing values.
    X_test, y_test : array-like or DataFrame, array-like
        Test data.
    methods : iterable of str or str, default=all of METHODS
        Method names (a string is split on commas).
    seeds : int or sequence of int, default=3
        An int ``n`` means seeds ``0..n-1``; a listed seed must lie in ``0..2**32 - 1``
        (a ValueError before any run), a repeated one runs once. The seed is the ``random_state`` of the
        estimator (initialisation, batches, resampling); the data split stays fixed.
    device : {'cpu', 'cuda', 'cuda:N', 'auto'}, default='cpu'
        Where the MLPs (and XGBoost) train.
    progress : bool, default=True
        Show a tqdm bar over the ``len(methods) * len(seeds)`` runs on stderr.
    mlp_params : dict, default=None
        Overrides of :func:`mlp_defaults` for every MLP (e.g. :data:`QUICK_MLP_PARAMS`):
        ImbalancedMLPClassifier arguments, except ``random_state`` (the seed of the run)
        and ``device``, which each run sets itself; either raises a ValueError.
    errors : {'raise', 'warn'}, default='raise'
        On a failing run (e.g. a diverging network), raise, or warn and record the
        error in the ``error`` column with NaN scores.
    torch_threads : int, 'auto' or None, default='auto'
        PyTorch intra-op threads during the runs. 'auto' means 1 on the CPU for up to
        ``SINGLE_THREAD_MAX_ROWS`` training rows, else unchanged: small networks gain
        nothing from parallel matrix products, while idle-spinning OpenMP workers slow
        them down badly on a busy machine (one digits-LT fit: 0.25 s on 1 thread,
        3.3 s on 2 with other jobs running). None leaves the setting alone.

    Returns
    -------
    results : DataFrame
        One row per run: ``method, seed, accuracy, balanced_accuracy,
        minority_accuracy, majority_accuracy, fit_time, error`` (``error`` is None
        for successful runs). Minority/majority groups are the 20% of classes with
        the fewest/most training samples.
    """
    if errors not in ("raise", "warn"):
        raise ValueError(f"errors must be 'raise' or 'warn'; got {errors!r}.")
    if torch_threads not in ("auto", None) and (
        isinstance(torch_threads, bool) or not isinstance(torch_threads, (int, np.integer)) or torch_threads < 1
    ):
        # torch.set_num_threads would refuse it only at the first run, with a message naming its own argument.
        raise ValueError(f"torch_threads must be a positive integer, 'auto' or None; got {torch_threads!r}.")
    names = validate_methods(methods)
    seed_list = _seed_list(seeds)
    info = describe_dataset(X_train, y_train, mlp_params=mlp_params, device=device)
    y_test_arr = np.asarray(y_test)
    if len(y_test_arr) != len(X_test):
        raise ValueError(f"X_test has {len(X_test)} rows but y_test has {len(y_test_arr)}.")
    if torch_threads == "auto":
        torch_threads = 1 if info.device == "cpu" and info.n_train <= SINGLE_THREAD_MAX_ROWS else None

    if any(name not in _WITHOUT_TORCH for name in names):
        # The first network fit of a process pays about a second of one-time set-up (lazy imports, torch's
        # first autograd pass); timed inside the first method's first run it would make that method look slow.
        with _torch_threads(torch_threads):
            _warm_up_torch(info.device)
    rows = []
    bar = _progress_bar(len(names) * len(seed_list), progress)
    try:
        # The methods' pipelines were built for scikit-learn's default array output: a global
        # set_config(transform_output='pandas') would make their sparse one-hot encoders (and
        # SMOTE-NC's) fail. Steps that need a DataFrame set it themselves (_numeric_imputer).
        with _torch_threads(torch_threads), config_context(transform_output="default"):
            for name in names:
                for seed in seed_list:
                    bar.set_postfix_str(f"{name} seed={seed}")
                    row: dict[str, Any] = {"method": name, "seed": seed}
                    started = time.perf_counter()
                    try:
                        estimator = METHODS[name](seed, info)
                        estimator.fit(X_train, y_train)
                        fit_time = time.perf_counter() - started
                        row.update(_score(y_test_arr, np.asarray(estimator.predict(X_test)), info.class_counts))
                        row.update(fit_time=fit_time, error=None)
                    except Exception as error:  # noqa: BLE001 - one failing run must not lose the others
                        if errors == "raise":
                            raise
                        message = f"{type(error).__name__}: {error}"
                        warnings.warn(f"{name} (seed {seed}) failed: {message}", RuntimeWarning, stacklevel=2)
                        row.update({metric: math.nan for metric in METRICS}, fit_time=math.nan, error=message)
                    rows.append(row)
                    bar.update(1)
    finally:
        bar.close()
    return pd.DataFrame(rows, columns=["method", "seed", *METRICS, "fit_time", "error"])


def _progress_bar(total: int, enabled: bool) -> Any:
    """tqdm's bar over ``total`` runs on stderr (a widget in a notebook); a disabled one when not ``enabled``."""
    if not enabled:
        # tqdm.auto is not imported for a bar that is never shown: its import alone warns in a notebook (below).
        from tqdm import tqdm as disabled

        return disabled(total=total, disable=True)
    if "tqdm.auto" not in sys.modules:
        from tqdm import TqdmWarning

        # Only at the first import (catch_warnings swaps the process-wide filters): in a notebook without
        # ipywidgets, tqdm.auto falls back to its text bar, which works there, and says so with a TqdmWarning
        # ('IProgress not found. Please update jupyter and ipywidgets'): advice about a package the user of
        # imbsk never chose, printed above the comparison's results.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
            importlib.import_module("tqdm.auto")
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="imbsk compare", unit="run", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------------------
def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error of every score per method.

    ``se = s / sqrt(n)`` with ``s`` the sample standard deviation (ddof=1) over the
    ``n`` successful runs of a method; NaN when ``n < 2``.

    Parameters
    ----------
    results : DataFrame
        Output of :func:`run_comparison`.

    Returns
    -------
    summary : DataFrame
        Indexed by ``method`` in the order of first appearance, with columns
        ``n_runs, n_failed`` and, for each of ``accuracy, balanced_accuracy,
        minority_accuracy, majority_accuracy, fit_time``, the mean ``<name>`` and the
        standard error ``<name>_se``.
    """
    quantities = [*METRICS, "fit_time"]
    records = []
    for method in pd.unique(results["method"]):
        runs = results[results["method"] == method]
        failed = runs["error"].notna() if "error" in runs else pd.Series(False, index=runs.index)
        ok = runs[~failed]
        record: dict[str, Any] = {"method": method, "n_runs": len(ok), "n_failed": int(failed.sum())}
        for quantity in quantities:
            values = ok[quantity].to_numpy(dtype=np.float64)
            values = values[~np.isnan(values)]
            record[quantity] = float(values.mean()) if len(values) else math.nan
            record[f"{quantity}_se"] = standard_error(values)
        records.append(record)
    columns = ["method", "n_runs", "n_failed", *[c for q in quantities for c in (q, f"{q}_se")]]
    return pd.DataFrame(records, columns=columns).set_index("method")


_HEADERS = {
    "accuracy": "Accuracy (%)",
    "balanced_accuracy": "Balanced acc. (%)",
    "minority_accuracy": "Minority acc. (%)",
    "majority_accuracy": "Majority acc. (%)",
    "fit_time": "Fit time (s)",
}


def _table_cells(summary: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = ["Method", *_HEADERS.values()]
    rows = []
    for method, record in summary.iterrows():
        if record.get("n_runs", 1) == 0:
            rows.append([str(method), *["failed"] * len(_HEADERS)])
            continue
        # A method with some failed runs is averaged over the others; the name says so, since
        # the warnings printed during the runs are easy to miss above the table.
        n_failed = int(record.get("n_failed", 0) or 0)
        name = str(method) if n_failed == 0 else f"{method} ({n_failed} of {n_failed + int(record['n_runs'])} failed)"
        cells = [name]
        for quantity in _HEADERS:
            scale, decimals = (1.0, 2) if quantity == "fit_time" else (100.0, 1)
            cells.append(format_mean_se(record[quantity], record[f"{quantity}_se"], scale=scale, decimals=decimals))
        rows.append(cells)
    return headers, rows


def format_table(summary: pd.DataFrame) -> str:
    """Plain-text table of a summary: mean ± standard error, accuracies in percent.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`summarize`.

    Returns
    -------
    table : str
    """
    headers, rows = _table_cells(summary)
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def summary_to_markdown(summary: pd.DataFrame, title: str | None = None) -> str:
    """Markdown (GitHub pipe table) version of :func:`format_table`.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`summarize`.
    title : str, default=None
        Optional heading and caption line above the table.

    Returns
    -------
    markdown : str
    """
    headers, rows = _table_cells(summary)
    lines = []
    if title:
        lines += [f"## {title}", ""]
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join([":---", *["---:"] * (len(headers) - 1)]) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    n_runs = summary["n_runs"].max() if len(summary) else 0
    lines += [
        "",
        f"Mean ± standard error over {n_runs} seed(s). Minority / majority accuracy: mean recall over the "
        f"{int(GROUP_FRACTION * 100)}% of classes with the fewest / most training samples.",
    ]
    return "\n".join(lines) + "\n"


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a results or summary frame as CSV (a summary keeps its ``method`` index)."""
    path = Path(path)
    frame.to_csv(path, index=frame.index.name is not None)
    return path


def plot_minority_majority(summary: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """Save grouped bars of minority vs majority accuracy per method as a PNG.

    Error bars are one standard error. Drawn on a bare Agg canvas, so it needs no
    display and leaves matplotlib's global backend alone.

    Parameters
    ----------
    summary : DataFrame
        Output of :func:`summarize`.
    path : str or Path
        Output file.
    title : str, default=None

    Returns
    -------
    path : Path
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    methods = [str(method) for method in summary.index]
    x = np.arange(len(methods))
    n_runs_of = summary["n_runs"].to_numpy() if "n_runs" in summary else np.ones(len(methods))
    width = 0.38
    figure = Figure(figsize=(max(6.0, 0.75 * len(methods) + 2.0), 4.5), dpi=120)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for offset, quantity, label, colour in (
        (-width / 2, "minority_accuracy", "minority classes", "#d95f02"),
        (width / 2, "majority_accuracy", "majority classes", "#1b9e77"),
    ):
        values = 100 * summary[quantity].to_numpy(dtype=np.float64)
        errors = np.nan_to_num(100 * summary[f"{quantity}_se"].to_numpy(dtype=np.float64))
        axes.bar(x + offset, np.nan_to_num(values), width, yerr=errors, capsize=3, label=label, color=colour)
        # A failed run or an undefined score (no test sample of the group) has an empty bar,
        # which would read as a score of 0%: it is labelled as the table writes it.
        missing = np.isnan(values)
        for position, n_runs in zip(x[missing], n_runs_of[missing]):
            note = "failed" if n_runs == 0 else "n/a"
            axes.text(position + offset, 1.0, note, rotation=90, ha="center", va="bottom", fontsize=8)
    axes.set_xticks(x)
    axes.set_xticklabels(methods, rotation=40, ha="right")
    axes.set_ylabel("test accuracy (%)")
    axes.set_ylim(0, 105)
    axes.set_title(title or "Minority vs majority class accuracy (mean ± s.e.)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    return path


def write_report(results: pd.DataFrame, summary: pd.DataFrame, out_dir: str | Path, title: str | None = None) -> dict[str, Path]:
    """Write ``results.csv``, ``summary.csv``, ``summary.md`` and ``minority_majority.png``.

    Parameters
    ----------
    results, summary : DataFrame
        Outputs of :func:`run_comparison` and :func:`summarize`.
    out_dir : str or Path
        Created if needed.
    title : str, default=None
        Heading of the Markdown file and the chart.

    Returns
    -------
    paths : dict
        ``{'results', 'summary', 'markdown', 'chart'}`` -> written file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "results": write_csv(results, out / "results.csv"),
        "summary": write_csv(summary, out / "summary.csv"),
        "markdown": _write_text(out / "summary.md", summary_to_markdown(summary, title)),
        "chart": plot_minority_majority(summary, out / "minority_majority.png", title),
    }


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
