"""``ImbalancedMLPClassifier``: a tabular MLP with numerical embeddings, trained the paper's way."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, validate_data
from torch import nn

from imbsk.estimators.base import BaseImbalancedClassifier
from imbsk.models.tabular import TabularMLP, piecewise_bins
from imbsk.preprocessing.tabular import TabularPreprocessor
from imbsk.techniques.tabular_augment import TabularAugmenter
from imbsk.training.batching import TensorData


class _TabularViews:
    """Adapter: the estimator's batches are dicts ``{'x_num', 'x_cat'}``; the augmenter takes two tensors."""

    def __init__(self, augmenter: TabularAugmenter) -> None:
        self.augmenter = augmenter

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x_num, x_cat = self.augmenter(batch["x_num"], batch["x_cat"])
        return {"x_num": x_num, "x_cat": x_cat}


class ImbalancedMLPClassifier(BaseImbalancedClassifier):
    """MLP classifier for class-imbalanced tabular data (Shwartz-Ziv et al., NeurIPS 2023).

    A multilayer perceptron over numerical feature embeddings (PLR by default,
    Gorishniy et al. 2022) and learned categorical embeddings, trained with the
    paper's recipe: SGD with momentum, a small batch, linear warm-up then cosine
    annealing, weight decay and an exponential moving average of the weights,
    plus the paper's three techniques for imbalance, each off at 0:

    * ``sam_asymmetric_rho`` -- SAM-A: the gradient of class-``c`` samples is
      taken at ``theta + rho_c * g_hat`` (see :mod:`imbsk.techniques.sam`);
    * ``class_smoothing_eps`` -- class-conditional label smoothing,
      ``q_{y,j} = (1 - eps_y) 1[j = y] + eps_y / K``
      (see :mod:`imbsk.techniques.label_smoothing`);
    * ``joint_ssl_weight`` -- Joint-SSL: ``L = L_sup + lambda * L_VICReg`` on two
      SCARF-style corrupted views of each row (see :mod:`imbsk.techniques.vicreg`).

    ``rho_c`` and ``eps_c`` follow from the base values and the class counts by
    the ``class_scaling`` rule (:mod:`imbsk.techniques.class_scaling`).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the MLP blocks (Linear, ReLU, Dropout), positive integers;
        ``()`` gives a linear model on the embeddings.
    dropout : float, default=0.1
        Dropout probability after each block.
    n_ensemble_members : int, default=1
        Number ``k`` of ensemble members trained at once in one network
        (TabM-mini, Gorishniy et al. 2025; see :mod:`imbsk.models.ensemble`):
        they share the embeddings and the blocks, each has its own
        sign-initialised input scaling ``r_m`` and linear head, the training loss
        is the mean of their losses and ``predict_proba`` the mean of their
        probabilities, ``(1/k) sum_m softmax(logits_m)``. Each step costs about
        ``k`` times the blocks' work; 1 is one plain MLP. Use it with
        ``optimizer='adamw'`` (TabM's): under SGD the shared weights learn more
        slowly than one network's (measured in docs/mlp_classifier.md).
    num_embedding : {'plr', 'piecewise', 'none'}, default='plr'
        Embedding of numeric features: periodic + linear + ReLU (MLP-PLR),
        piecewise-linear encoding with quantile bins, or the raw values.
    d_embedding : int, default=24
        Size of each numeric feature's embedding.
    n_frequencies : int, default=48
        Number of frequencies of the periodic embedding.
    frequency_init_scale : float, default=0.01
        Standard deviation of the initial frequencies (the most important PLR
        hyperparameter; Gorishniy et al. tune it log-uniformly in [0.01, 100]).
    n_bins : int, default=48
        Number of quantile bins for ``num_embedding='piecewise'``.
    cat_embedding : {'embedding', 'onehot'}, default='embedding'
        Learned embedding table or one-hot encoding of categorical columns.
        Missing and unseen categories share a dedicated slot.
    d_cat_embedding : int, default=8
        Size of each categorical column's learned embedding.
    numeric_transform : {'quantile', 'standard'} or None, default='quantile'
        Preprocessing of numeric columns; 'quantile' maps each to a standard
        normal (as Gorishniy et al.).
    categorical_features : 'auto' or list, default='auto'
        Categorical columns by name or position; 'auto' takes the DataFrame
        columns of category, string, object and bool dtypes.
    learning_rate_init : float, default=0.05
        Peak learning rate (after warm-up).
    batch_size : int, default=64
        Mini-batch size. The paper finds small batches best under imbalance.
        ``predict`` and ``predict_proba`` run in batches of this size too; after
        fit, ``clf.net_.set_params(batch_size=...)`` changes theirs alone (the
        float32 outputs may then differ in their last bits).
    max_iter : int, default=100
        Maximum number of epochs.
    optimizer : {'sgd', 'adamw'}, default='sgd'
        SGD with ``momentum`` (the paper) or AdamW, stepped by PyTorch's fused
        kernel where the device has one (CPU since PyTorch 2.4, CUDA); see
        :mod:`imbsk.training.optimizers`.
    momentum : float, default=0.9
        SGD momentum (paper, Appendix B).
    weight_decay : float, default=2e-4
        L2 weight decay (paper, Appendix B).
    lr_warmup_fraction : float, default=0.05
        Fraction of all steps spent in linear warm-up before cosine annealing.
    ema_decay : float or None, default=0.999
        Decay of the exponential moving average of the weights; the averaged
        weights are validated and predict. None or 0 turns it off. After
        optimiser step ``t`` the average moves by ``1 - d_t`` with
        ``d_t = min(ema_decay, (1 + t) / (10 + t))``: a warm-up that reaches
        ``d = ema_decay`` only after ``(10 d - 1) / (1 - d)`` steps (8,990 for
        0.999, 29,990 for 0.9997); until then the average does not depend on
        ``ema_decay``, so on shorter runs larger decays give the same model.
    validation_fraction : float or None, default=0.1
        Fraction of the training data held out (stratified) for early stopping;
        None trains on everything for ``max_iter`` epochs. Where stratifying is
        impossible (a class of one row), the split is random, but a class it
        would hold out whole trains instead (the rows are drawn again among
        those a class of two rows or more can spare when none would be left). With
        ``sample_weight`` in ``fit``, a fraction of the rows of positive weight,
        whose weights then weight the validation scores. The preprocessing
        (quantiles, category codes) is fitted on the rows that train, so the
        held-out rows are scored as new data.
    n_iter_no_change : int, default=10
        Epochs without improvement of the validation score before stopping;
        the weights of the best epoch are restored.
    tol : float, default=1e-4
        Minimum improvement of the validation score.
    early_stopping_metric : {'loss', 'accuracy', 'balanced_accuracy'}, default='loss'
        Validation score watched by early stopping (the loss is the plain
        cross-entropy).
    sam_asymmetric_rho : float, default=0.0
        Base ascent radius ``rho`` of SAM-A; 0 disables SAM.
    sam_asymmetric_step : {'fast', 'faithful'}, default='fast'
        How SAM-A gives each class its radius with one perturbed pass
        (:mod:`imbsk.techniques.sam`): ``'fast'`` costs what plain SAM costs
        (two forward/backward passes) and is off the per-class contract at
        first order; ``'faithful'`` takes the paper's ascent direction and is
        exact for the largest radius and continuous at balance, at one more
        backward pass per step. Both are exactly SAM when every radius is equal.
    class_smoothing_eps : float, default=0.0
        Base label-smoothing strength ``eps``; 0 disables smoothing.
    joint_ssl_weight : float, default=0.0
        Weight ``lambda`` of the VICReg loss; 0 builds no projector and computes no views.
    class_scaling : {'sqrt_inverse_frequency', 'inverse_frequency', 'paper', 'official', 'uniform'}, \
            default='sqrt_inverse_frequency'
        Rule giving per-class ``rho_c`` and ``eps_c`` from the class counts. The
        default gives the majority class the base value and minority classes
        ``sqrt(n_max / n_c)`` times more; 'paper' is Eq. 5/6 as printed and
        'official' the authors' code (see :mod:`imbsk.techniques.class_scaling`).
    invert_smoothing : bool, default=False
        Undo the class-conditional smoothing in the predictions. A network
        trained on smoothed targets estimates ``p_j = (1 - eps_j) P(j | x) + c``
        with ``c`` the same for every class, so ``predict_proba`` returns
        ``P(j | x) = (p_j - c) / (1 - eps_j)`` (``c`` fixed by the rows summing to
        1), floored at ``min(0.05, 1/K) p_j`` so that no class is declared
        impossible (rows then renormalised), and
        ``predict`` and the early-stopping accuracy take its argmax. The
        probabilities are no longer flattened by the smoothing (lower log-loss),
        and minority classes, smoothed more, get back their share of the argmax.
        Needs ``loss='cross_entropy'`` and every ``eps_c < 1``; no effect at
        ``class_smoothing_eps=0``. ``set_params`` after ``fit`` switches the
        predictions of the trained network (not the epoch early stopping
        kept). See :func:`imbsk.techniques.label_smoothing.unsmoothed_probabilities`.
    loss : {'cross_entropy', 'focal', 'ldam'}, default='cross_entropy'
        Supervised loss (focal: Lin et al. 2017; LDAM: Cao et al. 2019).
    focal_gamma : float, default=2.0
        Focusing parameter of the focal loss.
    ldam_max_margin : float, default=0.5
        Largest LDAM margin (of the rarest class).
    class_weight : {'balanced', 'effective_number'}, dict or None, default=None
        Per-class loss weights: inverse frequency, the effective number of
        samples (Cui et al. 2019), or an explicit ``{label: weight}``.
    effective_number_beta : float, default=0.9999
        ``beta`` of the effective-number weights.
    drw_epoch : int or None, default=None
        Deferred re-weighting: apply ``class_weight`` only from this epoch (0-based) on.
        With early stopping, training runs at least to this epoch and the kept
        epoch is one of the re-weighted phase (early stopping starts afresh there).
    resampling : {'balanced'} or None, default=None
        Class-balanced resampling of the training batches.
    ssl_projector_dims : tuple of int, default=(256, 256)
        Projector head of Joint-SSL.
    ssl_corruption_rate : float, default=0.3
        Fraction of features replaced from the empirical marginals in each SSL view.
    ssl_noise_std : float, default=0.1
        Gaussian noise added to the (normalised) numeric features of each view.
    device : {'auto', 'cpu', 'cuda'} or 'cuda:N', default='auto'
        Where to train; 'auto' uses CUDA when available.
        'cuda:N' picks GPU number N.
    precision : {'float32', 'bfloat16'}, default='float32'
        'bfloat16' runs every forward pass (training, validation, prediction)
        under ``torch.autocast``: matrix products and convolutions in bfloat16,
        while weights, optimiser state, gradients and losses stay float32. A
        full Otto fit ran 1.76x faster on a CPU with AVX512-BF16 (see
        docs/performance.md); slow on CPUs without bfloat16 instructions.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, the validation split, the quantile
        noise and augmentation; an int makes CPU runs reproducible and leaves
        numpy's and torch's global generators untouched. None draws each fit's
        seed from numpy's global generator, as scikit-learn does
        (``np.random.seed`` repeats it, ``torch.manual_seed`` does not); a
        RandomState instance is advanced by each fit, so successive fits differ.
    verbose : int, default=0
        Print the epoch table (training loss, validation loss, accuracy and
        balanced accuracy, duration) when > 0; ``best`` marks each epoch that
        improved the early-stopping score (the last one marked is kept). Colour
        codes only on a terminal (not with ``NO_COLOR`` set).
    callbacks : list of skorch callbacks, default=None
        Extra :class:`skorch.callbacks.Callback` instances (or classes), each
        bare or as a ``(name, callback)`` tuple, added to the training loop
        after imbsk's own. They run after each epoch's validation scores are
        recorded (``net.history[-1, 'valid_acc']``, ``'valid_bacc'``,
        ``'valid_loss'``) and before early stopping, so ``on_epoch_end`` sees
        every epoch, the last one included; e.g.
        :class:`imbsk.tuning.PruneTrial` stops an Optuna trial's fit early. An
        exception a callback raises ends ``fit`` with it, but for
        ``KeyboardInterrupt`` raised during the epochs (``on_epoch_begin``
        to ``on_epoch_end``), skorch's request to stop training: the fit ends
        there and keeps its model (raised in ``on_train_begin`` /
        ``on_train_end``, or Ctrl-C elsewhere in the fit, it ends ``fit``
        with the ``KeyboardInterrupt``). The fit sets the
        learning rate before every batch and keeps its own choice of weights,
        so skorch's ``LRScheduler`` and ``load_best=True`` of ``Checkpoint`` /
        ``EarlyStopping`` are refused (``ValueError``).
        A callback's ``net`` is the skorch net, which predicts as the estimator
        with the encoded labels ``0 .. K-1`` (positions in ``classes_``):
        ``net.predict`` / ``net.predict_proba``, so ``EpochScoring`` and
        ``BatchScoring`` take scikit-learn's scorer names
        (``EpochScoring('f1_macro', lower_is_better=False)``) or
        ``scorer(net, X, y)`` with the encoded ``y``; their scores are
        unweighted. With ``use_caching=False`` the scorer gets ``y=None`` (the
        held-out labels are ``X.y``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_counts_ : ndarray of shape (n_classes,)
        Number of samples of each class passed to ``fit`` (aligned with
        ``classes_``), the rows ``validation_fraction`` holds out included:
        ``rho_c``, ``eps_c`` and ``class_weight`` scale with the data's class
        ratios, which a stratified hold-out keeps.
    class_smoothing_eps_ : ndarray of shape (n_classes,)
        Smoothing strength ``eps_c`` each class trained with (zeros when
        ``class_smoothing_eps=0``).
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.
    preprocessor_ : TabularPreprocessor
        The fitted input encoder.
    net_ : ImbalanceNet
        The trained skorch net.
    n_iter_ : int
        Epochs run.
    fit_time_ : float
        Seconds spent in ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from imbsk import ImbalancedMLPClassifier
    >>> X, y = make_classification(n_samples=300, weights=[0.9, 0.1], random_state=0)
    >>> clf = ImbalancedMLPClassifier(sam_asymmetric_rho=0.05, class_smoothing_eps=0.1,
    ...                               max_iter=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **BaseImbalancedClassifier._parameter_constraints,
        "hidden_layer_sizes": ["array-like"],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        "n_ensemble_members": [Interval(numbers.Integral, 1, None, closed="left")],
        "num_embedding": [StrOptions({"plr", "piecewise", "none"})],
        "d_embedding": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_frequencies": [Interval(numbers.Integral, 1, None, closed="left")],
        "frequency_init_scale": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_bins": [Interval(numbers.Integral, 2, None, closed="left")],
        "cat_embedding": [StrOptions({"embedding", "onehot"})],
        "d_cat_embedding": [Interval(numbers.Integral, 1, None, closed="left")],
        "numeric_transform": [StrOptions({"quantile", "standard"}), None],
        "categorical_features": [StrOptions({"auto"}), "array-like"],
        "ssl_projector_dims": ["array-like"],
        "ssl_corruption_rate": [Interval(numbers.Real, 0, 1, closed="both")],
        "ssl_noise_std": [Interval(numbers.Real, 0, None, closed="left")],
    }
    # No hidden layer is allowed: the network is then a linear model on the embeddings.
    _layer_size_parameters: dict[str, bool] = {"hidden_layer_sizes": True, "ssl_projector_dims": False}

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (256, 256),
        *,
        dropout: float = 0.1,
        n_ensemble_members: int = 1,
        num_embedding: str = "plr",
        d_embedding: int = 24,
        n_frequencies: int = 48,
        frequency_init_scale: float = 0.01,
        n_bins: int = 48,
        cat_embedding: str = "embedding",
        d_cat_embedding: int = 8,
        numeric_transform: str | None = "quantile",
        categorical_features: Any = "auto",
        learning_rate_init: float = 0.05,
        batch_size: int = 64,
        max_iter: int = 100,
        optimizer: str = "sgd",
        momentum: float = 0.9,
        weight_decay: float = 2e-4,
        lr_warmup_fraction: float = 0.05,
        ema_decay: float | None = 0.999,
        validation_fraction: float | None = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        early_stopping_metric: str = "loss",
        sam_asymmetric_rho: float = 0.0,
        sam_asymmetric_step: str = "fast",
        class_smoothing_eps: float = 0.0,
        joint_ssl_weight: float = 0.0,
        class_scaling: str = "sqrt_inverse_frequency",
        invert_smoothing: bool = False,
        loss: str = "cross_entropy",
        focal_gamma: float = 2.0,
        ldam_max_margin: float = 0.5,
        class_weight: Any = None,
        effective_number_beta: float = 0.9999,
        drw_epoch: int | None = None,
        resampling: str | None = None,
        ssl_projector_dims: tuple[int, ...] = (256, 256),
        ssl_corruption_rate: float = 0.3,
        ssl_noise_std: float = 0.1,
        device: str = "auto",
        precision: str = "float32",
        random_state: Any = None,
        verbose: int = 0,
        callbacks: list | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.n_ensemble_members = n_ensemble_members
        self.num_embedding = num_embedding
        self.d_embedding = d_embedding
        self.n_frequencies = n_frequencies
        self.frequency_init_scale = frequency_init_scale
        self.n_bins = n_bins
        self.cat_embedding = cat_embedding
        self.d_cat_embedding = d_cat_embedding
        self.numeric_transform = numeric_transform
        self.categorical_features = categorical_features
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.lr_warmup_fraction = lr_warmup_fraction
        self.ema_decay = ema_decay
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.early_stopping_metric = early_stopping_metric
        self.sam_asymmetric_rho = sam_asymmetric_rho
        self.sam_asymmetric_step = sam_asymmetric_step
        self.class_smoothing_eps = class_smoothing_eps
        self.joint_ssl_weight = joint_ssl_weight
        self.class_scaling = class_scaling
        self.invert_smoothing = invert_smoothing
        self.loss = loss
        self.focal_gamma = focal_gamma
        self.ldam_max_margin = ldam_max_margin
        self.class_weight = class_weight
        self.effective_number_beta = effective_number_beta
        self.drw_epoch = drw_epoch
        self.resampling = resampling
        self.ssl_projector_dims = ssl_projector_dims
        self.ssl_corruption_rate = ssl_corruption_rate
        self.ssl_noise_std = ssl_noise_std
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # -- inputs ----------------------------------------------------------------------
    def _check_table(self, X: Any, reset: bool) -> Any:
        """Shape, dtype and feature-name checks; DataFrames keep their column dtypes."""
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError("Found array with 0 sample(s) (shape=(0, %d)) while a minimum of 1 is required." % X.shape[1])
            return X
        if sp.issparse(X):
            raise TypeError(f"{type(self).__name__} does not accept sparse input; convert it with X.toarray().")
        X = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
        if X.dtype.kind in "OUS" and self._has_categorical_columns(reset):
            # Text columns of an object array are categorical by position (categorical_features=[1],
            # or the columns of the DataFrame seen at fit); the preprocessor converts the others.
            return X
        if X.dtype.kind in "OUS":
            try:
                X = X.astype(np.float64)
            except (TypeError, ValueError) as error:
                hint = "pass a pandas DataFrame to use categorical columns."
                if reset:
                    text = _text_columns(X)
                    # BaggingClassifier, BalancedBaggingClassifier and StackingClassifier(passthrough=True)
                    # hand a DataFrame on as an array: the user may well have passed a DataFrame.
                    hint = (
                        f"X is an array whose columns {text} hold text: pass a pandas DataFrame to use "
                        f"categorical columns, or list them by position, categorical_features={text} (needed when "
                        "a meta-estimator such as BaggingClassifier turns your DataFrame into an array)."
                    )
                raise ValueError(f"Could not convert X to numbers ({error}); {hint}") from error
        if X.dtype.kind == "f" or (X.dtype.kind in "biu" and not self._has_categorical_columns(reset)):
            # The preprocessor converts the numeric columns to float64 a chunk of rows at a time (the same values):
            # a float64 copy here held a float32 table twice over through predict. Integer and bool categorical
            # columns stay float64 here, as their category strings ('1.0', not '1') have always been.
            return X
        return check_array(X, dtype=np.float64, ensure_all_finite=False)

    def _has_categorical_columns(self, fitting: bool) -> bool:
        """Whether array input has categorical columns: listed by position at fit, found by the preprocessor after."""
        if fitting:
            return not isinstance(self.categorical_features, str)
        return bool(self.preprocessor_.categorical_columns_)

    def _fit_inputs(self, X: Any) -> dict[str, np.ndarray]:
        X = self._check_table(X, reset=True)
        self.preprocessor_ = TabularPreprocessor(
            numeric_transform=self.numeric_transform,
            categorical_features=self.categorical_features,
            random_state=self.random_state,
        )
        return self.preprocessor_.fit_transform(X)

    def _transform_inputs(self, X: Any) -> dict[str, np.ndarray]:
        X = self._check_table(X, reset=False)
        # _check_table has checked the columns (and warned about feature names) already: the preprocessor's
        # second warning would name TabularPreprocessor, an internal object the user never created. Not
        # hidden with warnings.catch_warnings, which swaps the process-wide filters unlocked: threads
        # predicting at once restored each other's and left a filter behind.
        return self.preprocessor_._transform(X, check_columns=False)

    # -- network -----------------------------------------------------------------------
    def _build_module(self, train: TensorData, n_classes: int, with_projector: bool) -> nn.Module:
        x_num = train.X["x_num"]
        bins = None
        if self.num_embedding == "piecewise" and x_num.shape[1] > 0:
            bins = piecewise_bins(x_num.cpu(), self.n_bins)
        return TabularMLP(
            x_num.shape[1],
            list(self.preprocessor_.cardinalities_),
            n_classes,
            num_embedding=self.num_embedding if x_num.shape[1] > 0 else "none",
            d_embedding=self.d_embedding,
            n_frequencies=self.n_frequencies,
            frequency_init_scale=self.frequency_init_scale,
            bins=bins,
            cat_embedding=self.cat_embedding,
            d_cat_embedding=self.d_cat_embedding,
            hidden_layer_sizes=tuple(int(size) for size in self.hidden_layer_sizes),
            dropout=self.dropout,
            projector_dims=tuple(int(size) for size in self.ssl_projector_dims) if with_projector else None,
            n_ensemble_members=self.n_ensemble_members,
        )

    def _view_transform(self, train: TensorData):
        augmenter = TabularAugmenter(
            train.X["x_num"], train.X["x_cat"], corruption_rate=self.ssl_corruption_rate, noise_std=self.ssl_noise_std
        )
        return _TabularViews(augmenter)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


def _text_columns(X: np.ndarray) -> list[int]:
    """Positions of the columns of a 2-D object / string array that do not convert to float."""
    positions = []
    for j in range(X.shape[1]):
        try:
            X[:, j].astype(np.float64)
        except (TypeError, ValueError):
            positions.append(j)
    return positions
