"""The scikit-learn face shared by the imbsk classifiers.

:class:`BaseImbalancedClassifier` holds every parameter that does not depend
on the input type (optimisation, the paper's three techniques, the imbalance
baselines, early stopping, device) and the whole ``fit`` / ``predict`` logic.
Subclasses say how inputs are validated and encoded, which network is built
and which augmentations exist.
"""

from __future__ import annotations

import inspect
import numbers
import re
import threading
import time
import warnings
from abc import abstractmethod
from functools import partial
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import _safe_indexing, assert_all_finite, check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler
from torch import nn

from imbsk.techniques.class_scaling import CLASS_SCALING_RULES, class_smoothing_values, sam_class_radii
from imbsk.techniques.class_weights import balanced_sampling_weights, compute_class_weights
from imbsk.techniques.label_smoothing import predicted_probabilities, unsmoothed_probabilities
from imbsk.techniques.losses import LOSS_NAMES, build_loss
from imbsk.techniques.sam import SAM_STEPS, AsymmetricSAM
from imbsk.training.batching import TensorBatchIterator, TensorData
from imbsk.training.callbacks import (
    DeferredReweighting,
    EarlyStoppingBest,
    FiniteLossGuard,
    ValidationBalancedAccuracy,
    WarmupCosineLR,
    check_finite_model,
)
from imbsk.training.net import ImbalanceNet
from imbsk.training.optimizers import fused_optimizer_kwargs

_EARLY_STOPPING_MONITORS = {
    "loss": ("valid_loss", True),
    "accuracy": ("valid_acc", False),
    "balanced_accuracy": ("valid_bacc", False),
}

#: ``precision`` -> dtype of ``torch.autocast`` around the forward passes (None: plain float32).
_AUTOCAST_DTYPES = {"float32": None, "bfloat16": torch.bfloat16}
#: Held while a fit draws from torch's generators. They are process-wide, shared by every
#: thread: two fits running at once in threads (joblib's threading backend, ``imbsk tune
#: --n-jobs``) would draw weights, batches and dropout masks from each other's stream and
#: restore each other's state, so neither would be the model of its ``random_state``.
#: Fits in one process therefore take turns; reentrant for a fit that fits another.
_TORCH_RNG_LOCK = threading.RLock()
#: Names of the callbacks a fit installs itself (skorch's defaults and imbsk's own): a user
#: callback may not take one of them.
_OWN_CALLBACK_NAMES = frozenset(
    {"epoch_timer", "train_loss", "valid_loss", "print_log",
     "lr_schedule", "finite_loss", "drw", "valid_scores", "early_stopping"}
)
#: The device strings besides 'auto' and 'cpu': 'cuda' (the current GPU) or 'cuda:N'.
_CUDA_DEVICE = re.compile(r"cuda(:[0-9]+)?")


def resolve_device(device: str) -> str:
    """Map ``'auto'`` to ``'cuda'`` when a GPU is visible, else ``'cpu'``; check a ``'cuda'`` / ``'cuda:N'`` request.

    ``device`` must already have the form :func:`check_device_form` accepts. Raises a
    ``ValueError`` when the requested GPU is not visible, so the failure does not surface
    later as a CUDA error inside torch.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but no CUDA device is available; use device='cpu' or 'auto'.")
    index = torch.device(device).index
    if index is not None and index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA device(s) are visible "
            f"(indices 0 to {torch.cuda.device_count() - 1})."
        )
    return device


def check_free_arguments(
    params: Mapping[str, Any], estimator: type, reserved: Mapping[str, str], what: str, setter: str
) -> dict[str, Any]:
    """``params`` as a dict if every name is an argument of ``estimator`` that ``setter`` leaves free.

    ``reserved`` maps each argument ``setter`` sets itself to where it comes from instead. Raises a
    ``ValueError`` naming ``what`` (the option or argument the names came in) for a reserved name, or
    for one that is not an argument of ``estimator`` (a misspelling), before anything is fitted.
    """
    taken = sorted(set(params) & set(reserved))
    if taken:
        hints = "; ".join(f"{name}: {reserved[name]}" for name in taken)
        raise ValueError(f"{what} sets {taken}, which {setter} sets itself ({hints})")
    unknown = sorted(set(params) - set(estimator().get_params(deep=False)))
    if unknown:
        raise ValueError(f"{what} has names that are not {estimator.__name__} arguments: {unknown}")
    return dict(params)


def check_device_form(device: str, owner: str) -> None:
    """Raise sklearn's ``InvalidParameterError`` unless ``device`` is 'auto', 'cpu', 'cuda' or 'cuda:N'.

    ``_parameter_constraints`` has no constraint for the 'cuda:N' family, so it only checks
    that ``device`` is a string; this completes the check with the same message form.
    """
    if device not in ("auto", "cpu") and _CUDA_DEVICE.fullmatch(device) is None:
        raise InvalidParameterError(
            f"The 'device' parameter of {owner} must be 'auto', 'cpu', 'cuda' or 'cuda:N' (N the index of a GPU). "
            f"Got {device!r} instead."
        )


def _cuda_index(device: str) -> int:
    """GPU index of a resolved ``'cuda'`` / ``'cuda:N'`` device (``'cuda'`` means the current one)."""
    index = torch.device(device).index
    return torch.cuda.current_device() if index is None else index


def check_layer_sizes(sizes: Any, name: str, allow_empty: bool = False, owner: str | None = None) -> tuple[int, ...]:
    """Return ``sizes`` as a tuple of positive ints, or raise sklearn's ``InvalidParameterError`` naming ``name``.

    The network builders would otherwise fail with ``int()`` errors, or silently build a
    zero-width layer whose output is constant, far from the parameter that caused it.
    ``_parameter_constraints`` can only say "array-like"; the message completes its check in
    the same form (``owner``: the estimator's class name).
    """
    values = tuple(sizes)
    valid = (allow_empty or bool(values)) and all(
        not isinstance(size, bool) and isinstance(size, numbers.Integral) and size >= 1 for size in values
    )
    if not valid:
        what = "a tuple of positive integers" + ("" if allow_empty else " (at least one)")
        of = "" if owner is None else f" of {owner}"
        raise InvalidParameterError(f"The {name!r} parameter{of} must be {what}. Got {sizes!r} instead.")
    return tuple(int(size) for size in values)


class _FixedValidation:
    """skorch ``train_split`` returning a validation set prepared beforehand."""

    def __init__(self, valid: TensorData) -> None:
        self.valid = valid

    def __call__(self, dataset, y=None, **kwargs):
        return dataset, self.valid


class BaseImbalancedClassifier(ClassifierMixin, BaseEstimator):
    """Shared implementation; see :class:`imbsk.ImbalancedMLPClassifier` for the parameters."""

    _parameter_constraints: dict = {
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "optimizer": [StrOptions({"sgd", "adamw"})],
        "momentum": [Interval(numbers.Real, 0, 1, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "lr_warmup_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "ema_decay": [Interval(numbers.Real, 0, 1, closed="left"), None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "early_stopping_metric": [StrOptions(set(_EARLY_STOPPING_MONITORS))],
        "sam_asymmetric_rho": [Interval(numbers.Real, 0, None, closed="left")],
        "sam_asymmetric_step": [StrOptions(set(SAM_STEPS))],
        "class_smoothing_eps": [Interval(numbers.Real, 0, 1, closed="both")],
        "joint_ssl_weight": [Interval(numbers.Real, 0, None, closed="left")],
        "class_scaling": [StrOptions(set(CLASS_SCALING_RULES))],
        "invert_smoothing": ["boolean"],
        "loss": [StrOptions(set(LOSS_NAMES))],
        "focal_gamma": [Interval(numbers.Real, 0, None, closed="left")],
        "ldam_max_margin": [Interval(numbers.Real, 0, None, closed="left")],
        "class_weight": [StrOptions({"balanced", "effective_number"}), dict, None],
        "effective_number_beta": [Interval(numbers.Real, 0, 1, closed="left")],
        "drw_epoch": [Interval(numbers.Integral, 0, None, closed="left"), None],
        "resampling": [StrOptions({"balanced"}), None],
        # 'cuda:N' too: check_device_form completes this check in fit.
        "device": [StrOptions({"auto", "cpu", "cuda"}), str],
        "precision": [StrOptions(set(_AUTOCAST_DTYPES))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }
    #: Layer-size parameters (tuples of widths) and whether they may be empty. ``_parameter_constraints``
    #: can only say "array-like", so their entries are checked by :func:`check_layer_sizes` in ``fit``.
    _layer_size_parameters: dict[str, bool] = {"ssl_projector_dims": False}

    # -- subclass hooks ------------------------------------------------------------
    @abstractmethod
    def _fit_inputs(self, X: Any) -> Any:
        """Validate ``X`` at fit (set ``n_features_in_`` etc.) and return the encoded inputs."""

    @abstractmethod
    def _transform_inputs(self, X: Any) -> Any:
        """Validate ``X`` at predict time and return the encoded inputs."""

    @abstractmethod
    def _build_module(self, train_inputs: Any, n_classes: int, with_projector: bool) -> nn.Module:
        """The network for these inputs (with a projector head when Joint-SSL is on)."""

    def _view_transform(self, train_data: TensorData):
        """``f(X_batch) -> X_view``, a random augmentation of a batch for Joint-SSL."""
        return None

    def _batch_transform(self):
        """``f(X_batch, y_batch) -> (X_batch, BatchTargets)`` applied to training batches, or None."""
        return None

    # -- helpers -------------------------------------------------------------------
    def _encode_targets(self, y: Any) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = column_or_1d(y, warn=True)
        _check_no_missing_labels(y, "y", type(self).__name__)
        check_classification_targets(y)
        target_type = type_of_target(y, input_name="y")
        if target_type not in ("binary", "multiclass"):
            raise ValueError(f"Only binary and multiclass targets are supported, got target type {target_type!r}.")
        encoder = LabelEncoder()
        y_encoded = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"The training data has {len(self.classes_)} class ({self.classes_.tolist()}); "
                "a classifier needs at least 2 classes."
            )
        self.class_counts_ = np.bincount(y_encoded, minlength=len(self.classes_))
        return y_encoded

    def _fit_seed(self) -> int:
        """The seed a fit draws from ``random_state``: weights, batches and the held-out rows derive from it."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _validation_split(
        self, y: np.ndarray, seed: int, sample_weight: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Training and held-out row indices (held-out None without ``validation_fraction``).

        With ``sample_weight`` the held-out rows are drawn among the rows of positive weight
        (``validation_fraction`` of them); zero-weight rows always go to training. A zero-weight
        row would count for nothing in the weighted early-stopping score, and held-out rows
        that all weigh 0 would leave that score undefined. With every weight positive the
        split is the one drawn without weights.

        When the split cannot be stratified (a class of one row, or fewer held-out rows than
        classes), the random split may hold out every row of a class; those rows train instead,
        so that no class is left without a training row (the network could not learn it, and
        ``class_counts_`` would count it). If that leaves nothing held out (e.g. the one row of a
        minority class of 9 + 1 rows was drawn), the held-out rows are drawn again among the rows
        that can be spared: every row of a class of two rows or more but one. Only when no class
        has two rows does a ``ValueError`` say so.
        """
        indices = np.arange(len(y))
        if self.validation_fraction is None:
            return indices, None
        candidates = indices if sample_weight is None else indices[sample_weight > 0]
        labels = y[candidates]
        n_valid = max(1, int(round(self.validation_fraction * len(candidates))))
        if n_valid >= len(candidates):
            what = "training sample" if sample_weight is None else "training sample of positive sample_weight"
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no {what} out of {len(candidates)}; "
                "lower it or set validation_fraction=None."
            )
        label_counts = np.unique(labels, return_counts=True)[1]
        can_stratify = (
            label_counts.min() >= 2 and len(candidates) - n_valid >= len(label_counts) and n_valid >= len(label_counts)
        )
        train, valid = train_test_split(
            candidates, test_size=n_valid, random_state=seed, stratify=labels if can_stratify else None
        )
        # Only an unstratified split can hold out a whole class; moving its rows back keeps every other
        # split (each stratified one included) as drawn.
        unlearnable = ~np.isin(y[valid], y[train])
        if unlearnable.any():
            train, valid = np.concatenate([train, valid[unlearnable]]), valid[~unlearnable]
            if len(valid) == 0:
                # The draw fell on classes of one row only (9 + 1 rows: one seed in ten or so), though a split exists
                # whenever a class has two rows: the fit would fail or not by the seed. Drawn again where it is safe.
                train, valid = _spare_rows_split(candidates, labels, n_valid, seed)
                if len(valid) == 0:
                    raise ValueError(
                        f"validation_fraction={self.validation_fraction} cannot hold out a row without leaving its "
                        "class with no training row (no class has two rows); set validation_fraction=None."
                    )
        if len(candidates) < len(y):
            train = np.concatenate([train, indices[sample_weight <= 0]])
        return train, valid

    def _validated_sample_weight(self, sample_weight: Any, y: np.ndarray, name: str = "sample_weight") -> np.ndarray:
        """Validated float64 weights, one per row of ``y`` (the caller's array is never written to).

        ``name`` is the argument the weights came in (``'sample_weight'`` or ``'sample_weight_val'``).
        """
        options: dict[str, Any] = {"dtype": np.float64, "ensure_non_negative": True}
        # scikit-learn < 1.9 has no such option (and accepts all-zero weights); the check below says it.
        if "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters:
            options["allow_all_zero_weights"] = True
        try:
            weights = _check_sample_weight(sample_weight, y, **options)
        except ValueError as error:
            if name == "sample_weight" and "sample_weight" in str(error):
                raise
            # e.g. "Sample weights must be 1D array or scalar": say which argument it was.
            raise ValueError(f"Invalid {name}: {error}") from error
        if not np.all(np.isfinite(weights)):
            # A scalar is broadcast without the finiteness check scikit-learn gives arrays: inf trained
            # silently as equal weights, NaN was reported as all-zero weights.
            raise ValueError(f"{name} contains NaN or infinity; the weights must be finite.")
        if not np.any(weights > 0):
            raise ValueError(f"{name} is zero for every sample; at least one weight must be positive.")
        return weights

    def _validation_inputs(self, X_val: Any, y_val: Any) -> tuple[Any, np.ndarray]:
        if X_val is None or y_val is None:
            raise ValueError("X_val and y_val must be given together (or neither).")
        inputs = self._transform_inputs(X_val)
        y_val = column_or_1d(y_val, warn=True)
        _check_no_missing_labels(y_val, "y_val", type(self).__name__)
        if _n_rows(inputs) != len(y_val):
            raise ValueError(f"X_val has {_n_rows(inputs)} samples but y_val has {len(y_val)}.")
        unseen = np.setdiff1d(np.unique(y_val), self.classes_)
        if len(unseen):
            raise ValueError(
                f"y_val has labels not seen in y: {_some_labels(unseen, 5)}; the classes are "
                f"{_some_labels(self.classes_)}."
            )
        return inputs, np.searchsorted(self.classes_, y_val)

    def _sampling_probabilities(self, y_train: np.ndarray) -> np.ndarray | None:
        """Per-row drawing probabilities of the training batches; None for a permutation per epoch."""
        if self.resampling == "balanced":
            return balanced_sampling_weights(y_train, len(self.classes_))
        return None

    def _class_weight_vector(self) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        return compute_class_weights(
            self.class_weight, self.class_counts_, classes=self.classes_, beta=self.effective_number_beta
        )

    def _make_net(
        self,
        module: nn.Module,
        train: TensorData,
        valid: TensorData | None,
        seed: int,
        device: str,
        sampling: np.ndarray | None = None,
    ) -> ImbalanceNet:
        """The skorch net of one fit.

        ``sampling``: per-row drawing probabilities of the training batches
        (:meth:`_sampling_probabilities`), None for a permutation per epoch.
        """
        n_classes = len(self.classes_)
        criterion = build_loss(
            self.loss,
            n_classes=n_classes,
            class_counts=self.class_counts_,
            eps_per_class=(
                torch.as_tensor(self.class_smoothing_eps_, dtype=torch.float32) if self.class_smoothing_eps > 0 else None
            ),
            focal_gamma=self.focal_gamma,
            ldam_max_margin=self.ldam_max_margin,
        )
        sam = None
        if self.sam_asymmetric_rho > 0:
            radii, ascent_weights = sam_class_radii(self.sam_asymmetric_rho, self.class_counts_, self.class_scaling)
            sam = AsymmetricSAM(radii, ascent_weights, self.sam_asymmetric_step)

        steps_per_epoch = len(TensorBatchIterator(train, self.batch_size, merge_singleton=True))
        total_steps = steps_per_epoch * self.max_iter
        callbacks: list = [
            ("lr_schedule", WarmupCosineLR(total_steps, int(self.lr_warmup_fraction * total_steps))),
            ("finite_loss", FiniteLossGuard()),
        ]
        weights = self._class_weight_vector()
        drw_epoch = self.drw_epoch if weights is not None and self.drw_epoch else None
        if drw_epoch is not None:
            callbacks.append(("drw", DeferredReweighting(weights, drw_epoch)))
        proba_transform = self._proba_transform()
        if valid is not None:
            callbacks.append(("valid_scores", ValidationBalancedAccuracy(n_classes, proba_transform)))
        # Before early stopping, which ends the last epoch by raising: the user's callbacks see
        # every epoch's validation scores, that one included. (Checked in fit.)
        callbacks.extend(self.callbacks or ())
        if valid is not None:
            monitor, lower_is_better = _EARLY_STOPPING_MONITORS[self.early_stopping_metric]
            callbacks.append(("early_stopping", EarlyStoppingBest(
                monitor, lower_is_better, self.n_iter_no_change, self.tol, restart_epoch=drw_epoch
            )))

        if self.optimizer == "sgd":
            optimizer, optimizer_kwargs = torch.optim.SGD, {"momentum": self.momentum, "weight_decay": self.weight_decay}
        else:
            optimizer, optimizer_kwargs = torch.optim.AdamW, {"weight_decay": self.weight_decay}
        optimizer_kwargs.update(fused_optimizer_kwargs(optimizer, device))
        return ImbalanceNet(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=self.learning_rate_init,
            max_epochs=self.max_iter,
            batch_size=self.batch_size,
            train_split=None if valid is None else _FixedValidation(valid),
            callbacks=callbacks,
            device=device,
            verbose=int(self.verbose),
            sam=sam,
            ssl_weight=self.joint_ssl_weight,
            view_transform=self._view_transform(train) if self.joint_ssl_weight > 0 else None,
            batch_transform=self._batch_transform(),
            ema_decay=self.ema_decay or None,
            class_weights=None if self.drw_epoch else weights,
            iterator_seed=seed,
            sample_probabilities=sampling,
            autocast_dtype=_AUTOCAST_DTYPES[self.precision],
            n_classes=n_classes,
            proba_transform=proba_transform,
            **{f"optimizer__{key}": value for key, value in optimizer_kwargs.items()},
        )

    def _check_option_combinations(self) -> None:
        """Options that are valid alone but do nothing, or fail inside training, together."""
        if self.joint_ssl_weight > 0 and self.batch_size < 2:
            raise ValueError(
                f"joint_ssl_weight={self.joint_ssl_weight} needs batch_size >= 2: VICReg compares the samples of a "
                f"batch with each other; got batch_size={self.batch_size}."
            )
        if self.drw_epoch:
            if self.class_weight is None:
                warnings.warn("drw_epoch has no effect without class_weight: there are no weights to switch on.",
                              UserWarning, stacklevel=3)
            elif self.drw_epoch >= self.max_iter:
                warnings.warn(f"drw_epoch={self.drw_epoch} >= max_iter={self.max_iter}: the class weights never "
                              "switch on.", UserWarning, stacklevel=3)

    def _check_callbacks(self) -> None:
        """Refuse ``callbacks`` entries that are not skorch callbacks (instances or classes, bare or named)."""
        for item in self.callbacks or ():
            # skorch takes a named pair as a tuple or a list
            name, callback = item if isinstance(item, (tuple, list)) and len(item) == 2 else (None, item)
            is_callback = isinstance(callback, Callback) or (isinstance(callback, type) and issubclass(callback, Callback))
            if not is_callback or (name is not None and not isinstance(name, str)):
                raise TypeError(
                    "callbacks must be a list of skorch callbacks (skorch.callbacks.Callback instances or "
                    f"subclasses), each bare or as a (name, callback) tuple; got {item!r}"
                )
            if name in _OWN_CALLBACK_NAMES:
                raise ValueError(f"callbacks names a callback {name!r}, a name the fit uses itself "
                                 f"({sorted(_OWN_CALLBACK_NAMES)}); give it another name")
            _check_not_overridden(callback)

    # -- public API ------------------------------------------------------------------
    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        X_val: Any = None,
        y_val: Any = None,
        sample_weight_val: Any = None,
    ) -> "BaseImbalancedClassifier":
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : array-like or DataFrame
            Training inputs.
        y : array-like of shape (n_samples,)
            Class labels of any type scikit-learn accepts; ``predict`` returns them.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative, finite per-sample loss weights ``s_i`` (None: all
            equal). They are normalised once over the rows that train,
            ``s'_i = s_i / mean(s)`` (with ``resampling='balanced'``, by the mean
            weight of a drawn row, ``sum_j p_j s_j``), so their overall scale does
            not change the loss scale (nor the meaning of ``learning_rate_init``). The
            supervised loss of a batch of ``N`` rows is then

            ``L = (1 / N) * sum_i s'_i * w[y_i] * l_i``

            with ``w`` the class weights (``class_weight``, DRW) and ``l_i`` the
            per-sample loss (cross-entropy, focal, LDAM, with class smoothing).
            The weights enter where the class weights do, so they also weight
            both SAM-A passes and its per-class split, the logged
            ``train_loss``, DRW and resampled batches (a resampled row keeps its
            weight). With CutMix / MixUp a mixed image keeps the weight of the
            sample it was pasted onto (the one whose label has weight ``lam``);
            the pasted part's label gets ``1 - lam`` of that weight, whatever
            its own sample's weight. A zero-weight row still fills a batch
            slot, is seen by BatchNorm, the Joint-SSL term (which stays
            unweighted) and the input preprocessing, and adds nothing to the
            supervised loss of its own slot (with CutMix / MixUp, its pixels
            and label still train when pasted onto another image). The class
            counts (``class_counts_``, the class scaling of ``rho_c`` and
            ``eps_c``, ``class_weight='balanced'``, balanced resampling) stay
            unweighted counts, as in :func:`sklearn.utils.class_weight.compute_class_weight`.
            The rows held out by ``validation_fraction`` are drawn among the
            rows of positive weight (zero-weight rows always train) and keep
            their weights, normalised over the held-out rows: the
            early-stopping scores (loss, accuracy, balanced accuracy) are
            weighted by them, as in :class:`sklearn.neural_network.MLPClassifier`.
            An explicit ``X_val`` / ``y_val`` is scored with ``sample_weight_val``
            (unweighted without it). Weights that are all equal (e.g. ones)
            train exactly, bit for bit, as None.
        X_val : array-like or DataFrame, default=None
            Validation inputs for early stopping, in the format of ``X`` (as in
            :meth:`sklearn.ensemble.HistGradientBoostingClassifier.fit`). When
            given, every row of ``X`` trains and ``validation_fraction`` is not
            used; the preprocessing is fitted on ``X`` only. Keyword only.
        y_val : array-like of shape (n_val_samples,), default=None
            Labels of ``X_val``; each must occur in ``y``. Keyword only.
        sample_weight_val : array-like of shape (n_val_samples,), default=None
            Non-negative, finite weights of the ``X_val`` rows (as in
            :meth:`sklearn.ensemble.HistGradientBoostingClassifier.fit`),
            normalised to mean 1 over them: the early-stopping scores (loss,
            accuracy, balanced accuracy) are weighted by them. None: unweighted.
            Only with ``X_val`` / ``y_val``. Keyword only.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        # A fit that raises leaves the estimator unfitted, whatever it raises on (docs/mlp_classifier.md): the old
        # network must not outlive a failed fit and predict, neither under the new labels, preprocessing and
        # n_features_in_ that what follows replaces before checks that can still fail, nor under parameters
        # (set_params since it was fitted) that this fit has just refused.
        for name in ("net_", "n_iter_", "fit_time_"):
            self.__dict__.pop(name, None)
        self._validate_params()
        check_device_form(self.device, type(self).__name__)
        # Checked even when unused (e.g. the projector with joint_ssl_weight=0), as sklearn validates every parameter.
        for name, allow_empty in self._layer_size_parameters.items():
            check_layer_sizes(getattr(self, name), name, allow_empty=allow_empty, owner=type(self).__name__)
        self._check_callbacks()
        self._check_option_combinations()
        started = time.perf_counter()
        seed = self._fit_seed()
        if y is None:
            self._encode_targets(y)
        inputs = self._fit_inputs(X)
        y_encoded = self._encode_targets(y)
        if _n_rows(inputs) != len(y_encoded):
            raise ValueError(f"X has {_n_rows(inputs)} samples but y has {len(y_encoded)}.")
        self.class_smoothing_eps_ = class_smoothing_values(self.class_smoothing_eps, self.class_counts_, self.class_scaling)
        self._check_smoothing_inversion()
        self._warn_saturated_smoothing()
        weights = None if sample_weight is None else self._validated_sample_weight(sample_weight, y_encoded)
        if sample_weight_val is not None and X_val is None and y_val is None:
            raise ValueError("sample_weight_val weights the rows of X_val: give X_val and y_val with it.")
        device = resolve_device(self.device)
        if X_val is None and y_val is None:
            train_index, valid_index = self._validation_split(y_encoded, seed, weights)
            if valid_index is None:
                train_inputs, valid_inputs = inputs, None  # train_index is every row, in order
            else:
                # The preprocessing (quantiles, category codes, image statistics) is refitted on the training rows
                # alone, as HistGradientBoostingClassifier bins them: the held-out rows are then new data to it.
                # The encoding of every row is not used past this point: released, it is not held (a second copy
                # of the training data) through the refit and the whole training.
                inputs = None
                train_inputs = self._fit_inputs(_rows(X, train_index))
                valid_inputs = self._transform_inputs(_rows(X, valid_index))
            sampling = self._sampling_probabilities(y_encoded[train_index])
            train_weight = valid_weight = None
            if weights is not None:
                # Each set normalised over its own rows (both have a positive weight, see _validation_split).
                train_weight = _normalised_weights(weights[train_index], sampling)
                valid_weight = None if valid_index is None else _normalised_weights(weights[valid_index])
            train = TensorData(train_inputs, y_encoded[train_index], device=device, sample_weight=train_weight)
            valid = None
            if valid_inputs is not None:
                valid = TensorData(valid_inputs, y_encoded[valid_index], device=device, sample_weight=valid_weight)
        else:
            sampling = self._sampling_probabilities(y_encoded)
            train_weight = None if weights is None else _normalised_weights(weights, sampling)
            train = TensorData(inputs, y_encoded, device=device, sample_weight=train_weight)
            val_inputs, val_labels = self._validation_inputs(X_val, y_val)
            val_weight = None
            if sample_weight_val is not None:
                val_weight = _normalised_weights(
                    self._validated_sample_weight(sample_weight_val, val_labels, name="sample_weight_val")
                )
            valid = TensorData(val_inputs, val_labels, device=device, sample_weight=val_weight)

        # The GPU's generator is forked too, so fitting leaves the caller's CUDA random state as it was. Only the
        # forked generators are seeded: torch.manual_seed would reseed every GPU (a CPU fit included), unrestored.
        fork_devices = [_cuda_index(device)] if device != "cpu" else []
        with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=fork_devices):
            torch.default_generator.manual_seed(seed)
            for index in fork_devices:
                with torch.cuda.device(index):
                    torch.cuda.manual_seed(seed)
            module = self._build_module(train, len(self.classes_), with_projector=self.joint_ssl_weight > 0)
            net = self._make_net(module, train, valid, seed, device, sampling)
            net.fit(train, None)
        net.finalize()
        check_finite_model(net, train)
        self.net_ = net
        self.n_iter_ = len(net.history)
        self.fit_time_ = time.perf_counter() - started
        return self

    def _inverts_smoothing(self) -> bool:
        # The fitted eps_c, not the parameter: set_params(invert_smoothing=...) after fit switches the
        # predictions of the trained network (the epoch kept by early stopping stays what it was).
        return bool(self.invert_smoothing) and bool(np.any(self.class_smoothing_eps_ > 0))

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "net_")

    def _check_smoothing_inversion(self) -> None:
        """At fit and predict: the inversion needs the cross-entropy's minimiser and every ``eps_c < 1``."""
        if not self._inverts_smoothing():
            return
        # After fit, the loss the network was trained with: set_params(loss=...) since then has not changed
        # what its outputs estimate (a focal model is not inverted, a cross-entropy one still is).
        net = self.__dict__.get("net_")
        trained = self.loss if net is None else getattr(net.criterion_, "loss_name", self.loss)
        if trained != "cross_entropy":
            fix = "Use loss='cross_entropy'" if net is None else "Refit with loss='cross_entropy'"
            what = f"loss={trained!r}" if net is None else f"the model was trained with loss={trained!r}, which"
            raise ValueError(
                f"invert_smoothing=True undoes the smoothing of the expected target, which only the cross-entropy "
                f"estimates; {what} has another minimiser. {fix} or invert_smoothing=False."
            )
        saturated = self.classes_[self.class_smoothing_eps_ >= 1]
        if saturated.size:
            raise ValueError(
                "invert_smoothing=True needs every class's smoothing below 1, but classes "
                f"{_some_labels(saturated)} get eps_c = 1 (class_smoothing_eps={self.class_smoothing_eps}, "
                f"class_scaling={self.class_scaling!r}): "
                "their targets are uniform, so nothing of their probability can be recovered. Lower "
                "class_smoothing_eps or choose a gentler class_scaling."
            )

    def _warn_saturated_smoothing(self) -> None:
        """Warn at fit when the cap ``eps_c = min(eps * m_c, 1)`` binds: such a class trains on no label.

        At ``eps_c = 1`` the smoothed target is the uniform distribution whatever the row's class, so
        the true class is no longer the largest target and the class's rows carry no label at all
        (at imbalance 1:100, ``'inverse_frequency'`` saturates the rarest class from ``eps = 0.01``).
        """
        saturated = self.classes_[self.class_smoothing_eps_ >= 1]
        if saturated.size == 0:
            return
        warnings.warn(
            f"class_smoothing_eps={self.class_smoothing_eps} with class_scaling={self.class_scaling!r} gives "
            f"classes {_some_labels(saturated)} the capped smoothing eps_c = 1: their targets are uniform, so their "
            "rows train with no label. Lower class_smoothing_eps or choose a gentler class_scaling.",
            UserWarning,
            stacklevel=3,
        )

    def _proba_transform(self):
        """Map from the network's softmax to the probabilities that predict (None: the identity)."""
        if not self._inverts_smoothing():
            return None
        # set_params(invert_smoothing=True) after fit reaches here without fit's check.
        self._check_smoothing_inversion()
        # On the CPU: the function checks it there and copies it to the batch's device.
        eps = torch.as_tensor(self.class_smoothing_eps_, dtype=torch.float64)
        return partial(unsmoothed_probabilities, eps_per_class=eps)

    def _logits(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "net_")
        inputs = self._transform_inputs(X)
        with torch.inference_mode():
            return self.net_.forward(inputs, training=False, device="cpu")

    def _proba(self, X: Any) -> torch.Tensor:
        return predicted_probabilities(self._logits(X), self._proba_transform())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns ordered as ``classes_``; rows sum to 1.

        With ``invert_smoothing=True`` (and ``class_smoothing_eps > 0``) the network's
        probabilities ``p`` are mapped to ``P(j | x) = (p_j - c) / (1 - eps_j)``, the
        probabilities before smoothing, floored at ``min(0.05, 1/K) p_j`` (see
        :func:`~imbsk.techniques.label_smoothing.unsmoothed_probabilities`).
        """
        proba = self._proba(X).numpy()
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        # Before _inverts_smoothing, which reads the fitted class_smoothing_eps_ (an AttributeError unfitted).
        check_is_fitted(self, "net_")
        if self._inverts_smoothing():
            return torch.log(self._proba(X)).numpy()
        return torch.log_softmax(self._logits(X).double(), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class labels (the original labels given to ``fit``): the argmax of :meth:`predict_proba`."""
        check_is_fitted(self, "net_")  # as in predict_log_proba
        scores = self._proba(X) if self._inverts_smoothing() else self._logits(X)
        return self.classes_[scores.argmax(dim=1).numpy()]

    @property
    def history_(self):
        """skorch's per-epoch training history (losses, validation scores, durations)."""
        check_is_fitted(self, "net_")
        return self.net_.history

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.allow_nan = False
        return tags

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A model pickled before a parameter existed lacks it (and what fit derives from it): give
        # it the default, which is the behaviour it was trained and predicted with.
        super().__setstate__(state)
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if name != "self" and parameter.default is not inspect.Parameter.empty and name not in self.__dict__:
                setattr(self, name, parameter.default)
        if hasattr(self, "class_counts_") and not hasattr(self, "class_smoothing_eps_"):
            self.class_smoothing_eps_ = class_smoothing_values(
                self.class_smoothing_eps, self.class_counts_, self.class_scaling
            )


def _check_not_overridden(callback: Any) -> None:
    """Refuse a skorch callback whose effect the fit would undo without a word.

    imbsk's warm-up + cosine schedule sets every parameter group's learning rate before each
    training batch, so an ``LRScheduler`` would only change what ``event_lr`` records. The weights
    a fit keeps are imbsk's (the best epoch of its early stopping, then the EMA copy): a skorch
    ``load_best=True`` would load into ``module_`` before they overwrite it.
    """
    is_class = isinstance(callback, type)
    if (issubclass(callback, LRScheduler) if is_class else isinstance(callback, LRScheduler)):
        raise ValueError(
            "callbacks holds a skorch LRScheduler, which would be overridden: the fit sets the learning rate "
            "before every batch (linear warm-up, then cosine decay to 0). Tune it with learning_rate_init and "
            "lr_warmup_fraction."
        )
    if not is_class and isinstance(callback, (Checkpoint, EarlyStopping)) and callback.load_best:
        raise ValueError(
            f"callbacks holds a skorch {type(callback).__name__} with load_best=True, which would be overridden: "
            "the fit keeps the weights of the best epoch of its own early stopping (validation_fraction, "
            "early_stopping_metric), averaged with ema_decay, or else of the last epoch. Use load_best=False; "
            "a Checkpoint's files can be loaded after fit with clf.net_.load_params(checkpoint=...)."
        )


def _some_labels(labels: np.ndarray, shown: int = 10) -> str:
    """The first ``shown`` labels as a list, then how many more: a message must stay readable at 1,000 classes."""
    more = f" and {len(labels) - shown} more" if len(labels) > shown else ""
    return f"{np.asarray(labels)[:shown].tolist()}{more}"


def _check_no_missing_labels(y: np.ndarray, name: str, owner: str) -> None:
    """Raise a ``ValueError`` naming ``name`` when the labels hold None, NaN, pd.NA or infinity.

    Missing labels of an object or str column were otherwise reported by scikit-learn's
    target-type check as an "unknown" target, "maybe ... continuous values", or by a
    failed sort of None against strings.
    """
    if y.dtype == object and pd.isna(y).any():
        raise ValueError(
            f"Input {name} contains missing labels (None, NaN or pd.NA); drop those rows or give them a class."
        )
    assert_all_finite(y, input_name=name, estimator_name=owner)


def _spare_rows_split(
    candidates: np.ndarray, labels: np.ndarray, n_valid: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out rows of ``candidates``, with up to ``n_valid`` held out, each class keeping a training row.

    Each class keeps one row drawn at random for training; ``n_valid`` of the other rows (all of them
    when fewer) are held out at random. ``labels`` are the candidates' labels.
    """
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(candidates))
    # The first row of each class in the random order is the one it keeps.
    _, first = np.unique(labels[order], return_index=True)
    spare = np.delete(order, first)
    held = np.sort(rng.choice(spare, size=min(n_valid, len(spare)), replace=False))
    return np.delete(candidates, held), candidates[held]


def _normalised_weights(weights: np.ndarray, probabilities: np.ndarray | None = None) -> np.ndarray | None:
    """``weights / E_p[weights]``, or None when they are all equal.

    ``E_p[s] = sum_i p_i s_i`` is the mean weight of a row drawn from the training distribution
    ``p``: uniform over the rows (``E_p[s] = mean(s)``) unless the batches are resampled with
    ``probabilities``. Normalised so, the expected weight of a drawn row is 1 and the loss scale
    (hence the meaning of the learning rate) does not depend on the scale of the weights.

    None makes equal weights (ones, a scalar, any constant) train exactly, bit for bit, as no
    weights, with no extra work in the training step.
    """
    if np.all(weights == weights[0]):
        return None
    def expected(values: np.ndarray) -> float:
        return values.mean() if probabilities is None else probabilities @ values

    with np.errstate(over="ignore"):
        mean = expected(weights)
    if not np.isfinite(mean):
        # The sum of large finite weights (e.g. 1e307 each) overflows: scale them down first, or
        # every weight would become 0 (or NaN).
        weights = weights / weights.max()
        mean = expected(weights)
    return weights / mean


def _n_rows(inputs: Any) -> int:
    if isinstance(inputs, dict):
        return len(next(iter(inputs.values())))
    return len(inputs)


def _rows(X: Any, index: np.ndarray) -> Any:
    """The rows ``index`` of the raw input, of its own kind (a DataFrame stays a DataFrame, a list a list)."""
    if not (hasattr(X, "__getitem__") and hasattr(X, "__len__")):
        X = np.asarray(X)  # e.g. an object that only converts itself (__array__)
    return _safe_indexing(X, index)
