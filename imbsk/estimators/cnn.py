"""``ImbalancedCNNClassifier``: a CIFAR-style ResNet / WideResNet for images, trained the paper's way."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import _check_feature_names
from torch import Tensor, nn

from imbsk.augment.mixing import mix_batch
from imbsk.augment.vision import AUGMENTATION_NAMES, ImageAugmentation, build_image_augmentation
from imbsk.estimators.base import BaseImbalancedClassifier
from imbsk.models.projector import Projector
from imbsk.models.resnet import build_vision_model
from imbsk.training.batching import TensorData
from imbsk.training.net import BatchTargets

# Channel counts of ordinary images (grey, grey + alpha, RGB, RGBA): an axis of this length beside
# one that is not is taken as the channel axis when the layout has to be checked.
_IMAGE_CHANNELS = (1, 2, 3, 4)
_EXPECTED_LAYOUTS = (
    "(n_samples, height, width, channels) uint8 images with values 0..255, "
    "(n_samples, channels, height, width) float images with values in [0, 1], "
    "or (n_samples, height, width) single-channel images of either kind"
)
# A channel whose standard deviation is below this is constant: it is centred but not rescaled.
_MIN_CHANNEL_STD = 1e-6
# Images per block when computing channel statistics, to bound the float64 temporaries.
_STATS_CHUNK = 2048


class ImageNet(nn.Module):
    """A vision backbone behind per-channel input standardisation, with an optional Joint-SSL projector.

    ``forward`` computes ``backbone((x - mean_c) / std_c)``, so the network takes images in ``[0, 1]``
    (the range the augmentations work in) and the statistics travel with the weights (they are
    buffers: saved, pickled and moved to the device with the module).

    On the CPU the standardised images are passed to the backbone in the channels-last memory
    layout (``torch.channels_last``; the values and shapes are unchanged): oneDNN's convolutions
    run faster on it, for training steps and prediction alike (docs/performance.md). The float
    results differ from the channels-first layout by rounding only. Other devices get the
    layout the images come in.

    Parameters
    ----------
    backbone : nn.Module
        Network with ``forward(x, return_features=False)`` and a ``feature_dim`` attribute
        (:class:`~imbsk.models.resnet.CifarResNet`, :class:`~imbsk.models.resnet.WideResNet`).
    channel_mean, channel_std : array-like of shape (n_channels,)
        Per-channel statistics of the training images.
    projector_dims : sequence of int, optional
        Layer sizes of the :class:`~imbsk.models.projector.Projector` used by :meth:`project`;
        None builds no projector.
    """

    def __init__(
        self,
        backbone: nn.Module,
        channel_mean: Any,
        channel_std: Any,
        projector_dims: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        mean = torch.as_tensor(np.asarray(channel_mean, dtype=np.float32)).view(1, -1, 1, 1)
        std = torch.as_tensor(np.asarray(channel_std, dtype=np.float32)).view(1, -1, 1, 1)
        self.register_buffer("channel_mean", mean)
        self.register_buffer("channel_std", std)
        self.projector = None if projector_dims is None else Projector(int(backbone.feature_dim), projector_dims)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Logits ``(N, n_classes)``, or ``(logits, features)`` when ``return_features``."""
        if x.device.type == "cpu" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.backbone((x - self.channel_mean) / self.channel_std, return_features=return_features)

    def project(self, features: Tensor) -> Tensor:
        """Map backbone features to the space where the VICReg loss is computed."""
        if self.projector is None:
            raise RuntimeError("This network was built without a projector (joint_ssl_weight=0).")
        return self.projector(features)


class _AugmentThenMix:
    """Training-batch transform: per-image augmentation on the device, then CutMix / MixUp."""

    def __init__(self, augmentation: ImageAugmentation | None, mixing: str | None, alpha: float) -> None:
        self.augmentation = augmentation
        self.mixing = mixing
        self.alpha = alpha

    def __call__(self, X: Tensor, y: Tensor) -> tuple[Tensor, BatchTargets]:
        if self.augmentation is not None:
            X = self.augmentation(X)
        if self.mixing is None:
            return X, BatchTargets(y)
        X, y_a, y_b, lam = mix_batch(X, y, self.mixing, alpha=self.alpha)
        return X, BatchTargets(y_a, y_b, lam)


class _RandomView:
    """Joint-SSL view transform: one random augmentation of a batch (a plain callable: skorch
    refuses ``nn.Module`` attributes set outside its ``initialize`` methods)."""

    def __init__(self, augmentation: ImageAugmentation) -> None:
        self.augmentation = augmentation

    def __call__(self, X: Tensor) -> Tensor:
        return self.augmentation(X)


def _channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) standard deviation of ``(N, C, H, W)`` images.

    Two passes over blocks of images with float64 accumulation: the second pass sums
    ``(x - mean_c)^2``, which avoids the cancellation of ``E[x^2] - E[x]^2``.
    """
    n, c, h, w = images.shape
    count = float(n * h * w)
    total = np.zeros(c)
    for start in range(0, n, _STATS_CHUNK):
        total += images[start : start + _STATS_CHUNK].sum(axis=(0, 2, 3), dtype=np.float64)
    mean = total / count
    squares = np.zeros(c)
    centre = mean.reshape(1, c, 1, 1)
    for start in range(0, n, _STATS_CHUNK):
        block = images[start : start + _STATS_CHUNK].astype(np.float64) - centre
        squares += np.square(block).sum(axis=(0, 2, 3))
    std = np.sqrt(squares / count)
    std = np.where(std < _MIN_CHANNEL_STD, 1.0, std)
    return mean, std


def _pixel_array(X: Any) -> np.ndarray:
    """``X`` as a NumPy array; a DataFrame of pandas' nullable numeric dtypes (``UInt8``, ``Int64``, ``Float32``) as
    its NumPy dtype, pd.NA as NaN (refused later as non-finite).

    ``np.asarray`` would give such a frame an object array, refused as non-numeric.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "to_numpy"):
        return np.asarray(X)
    numpy_dtypes = [getattr(dtype, "numpy_dtype", dtype) for dtype in dtypes]
    if not numpy_dtypes or not all(isinstance(dtype, np.dtype) and dtype.kind in "uif" for dtype in numpy_dtypes):
        return np.asarray(X)
    if X.isna().to_numpy().any():
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    return X.to_numpy(dtype=np.result_type(*numpy_dtypes))


class ImbalancedCNNClassifier(BaseImbalancedClassifier):
    """Convolutional classifier for class-imbalanced images (Shwartz-Ziv et al., NeurIPS 2023).

    A CIFAR-style ResNet (He et al. 2016) or WideResNet (Zagoruyko & Komodakis
    2016) trained with the paper's image recipe (Section 4 and Appendix B):
    SGD with momentum 0.9, learning rate 0.1 with linear warm-up then cosine
    annealing, weight decay 2e-4, a small batch, an exponential moving average
    of the weights, TrivialAugment (Müller & Hutter 2021) followed by CutMix
    (Yun et al. 2019) on every training batch, plus the paper's three
    techniques for imbalance, each off at 0:

    * ``sam_asymmetric_rho`` -- SAM-A: the gradient of class-``c`` samples is
      taken at ``theta + rho_c * g_hat`` (see :mod:`imbsk.techniques.sam`);
    * ``class_smoothing_eps`` -- class-conditional label smoothing,
      ``q_{y,j} = (1 - eps_y) 1[j = y] + eps_y / K``
      (see :mod:`imbsk.techniques.label_smoothing`); with CutMix / MixUp the
      loss of a mixed image is ``lam * l(y_a) + (1 - lam) * l(y_b)``;
    * ``joint_ssl_weight`` -- Joint-SSL: ``L = L_sup + lambda * L_VICReg``
      (Bardes et al. 2022) between the projections of two independently
      augmented views of each (un-mixed) training image.

    **Inputs.** The layout follows the dtype:

    * ``uint8`` arrays are ``(n_samples, height, width, channels)`` with values
      0..255 (the layout of image files, :func:`imbsk.datasets.load_cifar10`
      and ``load_digits_lt(as_images=True)``); they are divided by 255. A
      uint8 array that looks channels-first (second axis 1 to 4, last axis
      not) is rejected rather than guessed;
    * floating arrays are ``(n_samples, channels, height, width)`` (PyTorch's
      layout) with values in ``[0, 1]``, which ``fit`` checks because the
      augmentations assume it. A float array that looks channels-last (last
      axis 1 to 4, second axis not) is rejected rather than guessed;
    * 3-D arrays ``(n_samples, height, width)`` are single-channel images:
      uint8 (divided by 255) or float in ``[0, 1]``, e.g. MNIST or
      ``load_digits().images / 16``;
    * 2-D arrays of flattened images are accepted only when ``image_shape``
      ``= (height, width, channels)`` is given: each row is one image in
      height, width, channel order (``images.reshape(n, -1)`` of a
      channels-last array), uint8 (divided by 255) or float in ``[0, 1]``.
      This makes the estimator usable on flat data such as the 64 columns of
      scikit-learn's digits (``image_shape=(8, 8, 1)`` after scaling to
      ``[0, 1]``).

    Images are converted once to a float32 ``(N, C, H, W)`` array in
    ``[0, 1]``. Each channel is standardised with the mean and standard
    deviation of the training images (``channel_mean_``, ``channel_std_``)
    *inside the network* (:class:`ImageNet`), so augmentation and mixing act
    on ``[0, 1]`` images (zero fill is black, as in the reference pipelines)
    and prediction needs no separate preprocessing.

    **Label smoothing.** The paper's recipe adds label smoothing to every
    method. Here it stays off by default so that the defaults are the ERM
    baseline and each technique is opted into, as for
    :class:`imbsk.ImbalancedMLPClassifier`. Plain label smoothing is
    ``class_smoothing_eps=0.1, class_scaling='uniform'``; with the default
    ``class_scaling='sqrt_inverse_frequency'``, ``eps_c = min(eps *
    sqrt(n_max / n_c), 1)``, so at an imbalance ratio of 100 an ``eps`` of
    0.1 already gives the rarest class a uniform (uninformative) target;
    use ``eps`` around 0.05 there.

    **scikit-learn checks.** ``check_estimator`` cannot be run as a whole: its
    checks feed 2-D arrays with arbitrary numbers of columns and arbitrary
    (negative, unbounded) values, while this estimator needs images, i.e. a
    fixed ``image_shape`` for 2-D input and pixel values in ``[0, 1]``. The
    checks that do not depend on the data format (cloning, ``get_params`` /
    ``set_params``, parameter validation, no work in ``__init__``, tags,
    ``NotFittedError`` before ``fit``) pass, as do pickling, ``fit`` returning
    ``self``, arbitrary (e.g. string) class labels and the sample-weight
    checks whose data can be images; data-driven checks such as
    ``check_fit2d_1feature``, ``check_n_features_in_after_fitting``,
    ``check_classifiers_train`` (varying widths, negative values) or
    ``check_fit_idempotent`` on GPU do not apply. The estimator tags say
    2-D input is supported only when ``image_shape`` is set.

    Parameters
    ----------
    architecture : str, default='resnet32'
        Any name accepted by :func:`imbsk.models.resnet.build_vision_model`:
        ``'resnet{6n+2}'`` (``'resnet8'``, ``'resnet20'``, ``'resnet32'``, ...)
        or ``'wrn{6n+4}_{k}'`` (``'wrn28_10'``, the paper's CIFAR network).
        ResNet-32 is the usual CIFAR-LT network (Cao et al. 2019).
    image_shape : tuple of int or None, default=None
        ``(height, width, channels)`` of the images when ``X`` holds flattened
        rows; None accepts only image arrays, 4-D or 3-D (single-channel).
    augmentation : {'none', 'flip_crop', 'trivialaugment', 'autoaugment'}, default='trivialaugment'
        Per-image augmentation of training batches, run on the training device
        (see :func:`imbsk.augment.vision.build_image_augmentation`). The paper
        uses TrivialAugment and finds AutoAugment better under severe imbalance
        (Appendix A.2).
    mixing : {'cutmix', 'mixup'} or None, default='cutmix'
        Mixing applied to every training batch after augmentation
        (see :func:`imbsk.augment.mixing.mix_batch`); None disables it.
    mixing_alpha : float, default=1.0
        ``lam ~ Beta(alpha, alpha)`` of CutMix / MixUp.
    learning_rate_init : float, default=0.1
        Peak learning rate (after warm-up); paper, Appendix B.
    batch_size : int, default=64
        Mini-batch size. The paper finds small batches best under imbalance.
        ``predict`` and ``predict_proba`` run in batches of this size too; after
        fit, ``clf.net_.set_params(batch_size=...)`` changes theirs alone (the
        float32 outputs may then differ in their last bits).
    max_iter : int, default=200
        Number of epochs (200 as in Cao et al.'s CIFAR-LT protocol; the paper
        trains WRN-28-10 for 300).
    optimizer : {'sgd', 'adamw'}, default='sgd'
        SGD with ``momentum`` (the paper) or AdamW, stepped by PyTorch's fused
        kernel where the device has one (CPU since PyTorch 2.4, CUDA); see
        :mod:`imbsk.training.optimizers`.
    momentum : float, default=0.9
        SGD momentum (paper, Appendix B).
    weight_decay : float, default=2e-4
        L2 weight decay (paper, Appendix B).
    lr_warmup_fraction : float, default=0.025
        Fraction of all steps spent in linear warm-up before cosine annealing
        (5 of 200 epochs, as Cao et al.).
    ema_decay : float or None, default=0.999
        Decay of the exponential moving average of the weights; the averaged
        weights (and BatchNorm statistics) predict. None or 0 turns it off. After
        optimiser step ``t`` the average moves by ``1 - d_t`` with
        ``d_t = min(ema_decay, (1 + t) / (10 + t))``: a warm-up that reaches
        ``d = ema_decay`` only after ``(10 d - 1) / (1 - d)`` steps (8,990 for
        0.999, 29,990 for 0.9997); until then the average does not depend on
        ``ema_decay``, so on shorter runs larger decays give the same model.
    validation_fraction : float or None, default=None
        Fraction of the training data held out (stratified) for early stopping
        (with ``sample_weight`` in ``fit``, of the rows of positive weight,
        whose weights then weight the validation scores; a class an unstratified
        split would hold out whole trains instead, the rows being drawn again
        among those a class of two rows or more can spare when none would be
        left). None, the default,
        trains the full schedule on all data as the paper does: a 10% hold-out
        would remove 5 of the 50 images of the rarest CIFAR-10-LT class. The
        channel statistics come from the images that train.
    n_iter_no_change : int, default=10
        Epochs without improvement of the validation score before stopping.
    tol : float, default=1e-4
        Minimum improvement of the validation score.
    early_stopping_metric : {'loss', 'accuracy', 'balanced_accuracy'}, default='loss'
        Validation score watched by early stopping.
    sam_asymmetric_rho : float, default=0.0
        Base ascent radius ``rho`` of SAM-A; 0 disables SAM.
    sam_asymmetric_step : {'fast', 'faithful'}, default='fast'
        SAM-A's step, as in :class:`ImbalancedMLPClassifier`: ``'fast'`` at the
        cost of SAM, ``'faithful'`` (the paper's ascent direction) at one more
        backward pass per step; see :mod:`imbsk.techniques.sam`.
    class_smoothing_eps : float, default=0.0
        Base label-smoothing strength ``eps``; 0 disables smoothing.
    joint_ssl_weight : float, default=0.0
        Weight ``lambda`` of the VICReg loss; 0 builds no projector and computes
        no views. The views use ``augmentation`` (``'flip_crop'`` when it is
        ``'none'``, so that the two views differ) and no mixing.
    class_scaling : {'sqrt_inverse_frequency', 'inverse_frequency', 'paper', 'official', 'uniform'}, \
            default='sqrt_inverse_frequency'
        Rule giving per-class ``rho_c`` and ``eps_c`` from the class counts
        (see :mod:`imbsk.techniques.class_scaling`).
    invert_smoothing : bool, default=False
        Undo the class-conditional smoothing in ``predict_proba``, ``predict``
        and the early-stopping accuracy, ``P(j | x) = (p_j - c) / (1 - eps_j)``
        with ``c`` fixed by the rows summing to 1; needs
        ``loss='cross_entropy'`` and every ``eps_c < 1``. As in
        :class:`~imbsk.estimators.mlp.ImbalancedMLPClassifier` (see there) and
        :func:`imbsk.techniques.label_smoothing.unsmoothed_probabilities`.
    loss : {'cross_entropy', 'focal', 'ldam'}, default='cross_entropy'
        Supervised loss (focal: Lin et al. 2017; LDAM: Cao et al. 2019).
    focal_gamma : float, default=2.0
        Focusing parameter of the focal loss.
    ldam_max_margin : float, default=0.5
        Largest LDAM margin (of the rarest class).
    class_weight : {'balanced', 'effective_number'}, dict or None, default=None
        Per-class loss weights; with mixing each label's loss carries its
        class's weight, ``lam * w[y_a] * l(y_a) + (1 - lam) * w[y_b] * l(y_b)``.
    effective_number_beta : float, default=0.9999
        ``beta`` of the effective-number weights (Cui et al. 2019).
    drw_epoch : int or None, default=None
        Deferred re-weighting: apply ``class_weight`` only from this epoch on
        (with early stopping, as in :class:`ImbalancedMLPClassifier`).
    resampling : {'balanced'} or None, default=None
        Class-balanced resampling of the training batches.
    ssl_projector_dims : tuple of int, default=(512, 128)
        Projector head of Joint-SSL (Linear-BN-ReLU layers, then a Linear).
    device : {'auto', 'cpu', 'cuda'} or 'cuda:N', default='auto'
        Where to train and augment; 'auto' uses CUDA when available.
        'cuda:N' picks GPU number N.
    precision : {'float32', 'bfloat16'}, default='float32'
        'bfloat16' runs every forward pass (training, validation, prediction)
        under ``torch.autocast``: matrix products and convolutions in bfloat16,
        while weights, optimiser state, gradients and losses stay float32. Only
        a bare training step was timed for the CNN: about 1.8x faster for
        ResNet-8 and ResNet-32 on a CPU with AVX512-BF16 (no full fit, no
        accuracy comparison; see docs/cnn_classifier.md). Slow on CPUs without
        bfloat16 instructions.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling, the validation split, augmentation and
        mixing, as for :class:`ImbalancedMLPClassifier`: an int makes CPU runs
        reproducible, None draws each fit's seed from numpy's global generator.
    verbose : int, default=0
        Print the epoch table when > 0 (as :class:`ImbalancedMLPClassifier`).
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (instances or classes, bare or named as
        ``(name, callback)``), as in :class:`ImbalancedMLPClassifier`: they
        run after each epoch's validation scores and before early stopping.

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
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the training images.
    n_features_in_ : int
        ``height * width * channels``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame of flat rows (with
        ``image_shape``) whose column names are all strings; ``predict`` then
        requires the same columns in the same order, as scikit-learn's
        estimators do.
    channel_mean_, channel_std_ : ndarray of shape (channels,)
        Per-channel statistics of the training images in ``[0, 1]`` scale.
    net_ : ImbalanceNet
        The trained skorch net (its module is an :class:`ImageNet`).
    n_iter_ : int
        Epochs run.
    fit_time_ : float
        Seconds spent in ``fit``.

    References
    ----------
    .. [1] R. Shwartz-Ziv, M. Goldblum, Y. L. Li, C. B. Bruss and A. G. Wilson.
       "Simplifying Neural Network Training Under Class Imbalance". NeurIPS 2023.
    .. [2] K. Cao, C. Wei, A. Gaidon, N. Arechiga and T. Ma. "Learning Imbalanced
       Datasets with Label-Distribution-Aware Margin Loss". NeurIPS 2019.

    Examples
    --------
    >>> from imbsk.datasets import load_digits_lt
    >>> from imbsk.estimators.cnn import ImbalancedCNNClassifier
    >>> data = load_digits_lt(0.1, as_images=True)
    >>> clf = ImbalancedCNNClassifier("resnet8", max_iter=2, device="cpu", random_state=0)
    >>> clf.fit(data.X_train, data.y_train).predict_proba(data.X_test[:2]).shape
    (2, 10)
    """

    _parameter_constraints: dict = {
        **BaseImbalancedClassifier._parameter_constraints,
        "architecture": [str],
        "image_shape": ["array-like", None],
        "augmentation": [StrOptions(set(AUGMENTATION_NAMES))],
        "mixing": [StrOptions({"cutmix", "mixup"}), None],
        "mixing_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "ssl_projector_dims": ["array-like"],
    }

    def __init__(
        self,
        architecture: str = "resnet32",
        *,
        image_shape: tuple[int, int, int] | None = None,
        augmentation: str = "trivialaugment",
        mixing: str | None = "cutmix",
        mixing_alpha: float = 1.0,
        learning_rate_init: float = 0.1,
        batch_size: int = 64,
        max_iter: int = 200,
        optimizer: str = "sgd",
        momentum: float = 0.9,
        weight_decay: float = 2e-4,
        lr_warmup_fraction: float = 0.025,
        ema_decay: float | None = 0.999,
        validation_fraction: float | None = None,
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
        ssl_projector_dims: tuple[int, ...] = (512, 128),
        device: str = "auto",
        precision: str = "float32",
        random_state: Any = None,
        verbose: int = 0,
        callbacks: list | None = None,
    ) -> None:
        self.architecture = architecture
        self.image_shape = image_shape
        self.augmentation = augmentation
        self.mixing = mixing
        self.mixing_alpha = mixing_alpha
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
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # -- inputs ----------------------------------------------------------------------
    def _flat_image_shape(self) -> tuple[int, int, int]:
        shape = tuple(self.image_shape)
        if len(shape) != 3 or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in shape):
            raise InvalidParameterError(
                f"The 'image_shape' parameter of {type(self).__name__} must be None or (height, width, channels), "
                f"three positive integers. Got {self.image_shape!r} instead."
            )
        return tuple(int(s) for s in shape)  # type: ignore[return-value]

    def _as_nchw(self, X: Any) -> tuple[np.ndarray, bool]:
        """Validate ``X``; return float32 ``(N, C, H, W)`` images and whether the values were taken as is (not uint8)."""
        name = type(self).__name__
        if sp.issparse(X):
            raise TypeError(f"{name} does not accept sparse input; pass dense images: {_EXPECTED_LAYOUTS}.")
        X = _pixel_array(X)
        if X.dtype == np.bool_ or X.dtype.kind not in "uif":
            raise ValueError(f"{name} expects numeric images, {_EXPECTED_LAYOUTS}; got an array of dtype {X.dtype}.")
        if X.ndim == 2:
            if self.image_shape is None:
                raise ValueError(
                    f"{name} expects images of shape {_EXPECTED_LAYOUTS}; got a 2-D array of shape {X.shape}. "
                    "For tabular data use ImbalancedMLPClassifier; for flattened images pass "
                    "image_shape=(height, width, channels)."
                )
            height, width, channels = self._flat_image_shape()
            if X.shape[1] != height * width * channels:
                raise ValueError(
                    f"With image_shape={(height, width, channels)} each row must hold {height * width * channels} "
                    f"pixel values, i.e. X of shape (n_samples, {height * width * channels}); got shape {X.shape}."
                )
            channels_last = X.reshape(len(X), height, width, channels)
        elif X.ndim == 3:
            # (N, H, W) has one reading whatever the dtype: single-channel images (MNIST, load_digits().images).
            if X.dtype != np.uint8 and X.dtype.kind != "f":
                raise ValueError(
                    f"{name} expects {_EXPECTED_LAYOUTS}; got a 3-D array of dtype {X.dtype}. "
                    "Cast 0..255 images to uint8, or scale them to [0, 1] floats."
                )
            channels_last = X[..., np.newaxis]
        elif X.ndim == 4:
            channels_last = None
            if X.dtype == np.uint8:
                if X.shape[1] in _IMAGE_CHANNELS and X.shape[-1] not in _IMAGE_CHANNELS:
                    # A uint8 (N, C, H, W) array (e.g. a torch image tensor) would otherwise be read as C-pixel-high
                    # images with W channels and train silently on scrambled pixels.
                    raise ValueError(
                        f"uint8 images must be (n_samples, height, width, channels); X of shape {X.shape} looks "
                        "channels-first. Use X.transpose(0, 2, 3, 1), or pass float (n_samples, channels, height, "
                        "width) images scaled to [0, 1]."
                    )
                channels_last = X
            elif X.dtype.kind != "f":
                raise ValueError(
                    f"{name} expects {_EXPECTED_LAYOUTS}; got a 4-D array of dtype {X.dtype}. "
                    "Cast 0..255 images to uint8, or scale them to [0, 1] floats in (n_samples, channels, height, width)."
                )
            elif X.shape[-1] in _IMAGE_CHANNELS and X.shape[1] not in _IMAGE_CHANNELS:
                raise ValueError(
                    f"Float images must be (n_samples, channels, height, width); X of shape {X.shape} looks "
                    "channels-last. Use X.transpose(0, 3, 1, 2), or pass uint8 (n_samples, height, width, channels) images."
                )
        else:
            raise ValueError(f"{name} expects images of shape {_EXPECTED_LAYOUTS}; got an array of shape {X.shape}.")
        if len(X) == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")

        taken_as_is = X.dtype != np.uint8
        if channels_last is None:
            images = np.ascontiguousarray(X, dtype=np.float32)
        elif taken_as_is:
            images = np.ascontiguousarray(channels_last.transpose(0, 3, 1, 2), dtype=np.float32)
        else:
            images = np.empty((len(X), channels_last.shape[3], *channels_last.shape[1:3]), dtype=np.float32)
            np.divide(channels_last.transpose(0, 3, 1, 2), np.float32(255.0), out=images, dtype=np.float32)
        if taken_as_is and not np.isfinite(images).all():
            raise ValueError("Input X contains NaN or infinity.")
        return images, taken_as_is

    @staticmethod
    def _check_pixel_range(images: np.ndarray) -> None:
        """Float pixels must lie in [0, 1]: the augmentations and the fitted channel statistics assume it."""
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            # The positive_only tag's message (scikit-learn's check_positive_only_tag_during_fit matches it).
            negative = "Negative values in data. " if low < 0.0 else ""
            raise ValueError(
                f"{negative}Float pixel values must lie in [0, 1] (the augmentations and the network's input "
                f"standardisation assume it); got the range [{low:g}, {high:g}]. Scale them (e.g. X / 255), "
                "or pass uint8 images."
            )

    def _fit_inputs(self, X: Any) -> np.ndarray:
        # Flat rows are pixels by position: a DataFrame's columns in another order at predict would scramble the
        # images silently. Record the names as scikit-learn does (the pixel count is checked by _as_nchw).
        _check_feature_names(self, X, reset=True)
        images, taken_as_is = self._as_nchw(X)
        if taken_as_is:
            self._check_pixel_range(images)
        if self.image_shape is not None:
            expected = self._flat_image_shape()
            if (images.shape[2], images.shape[3], images.shape[1]) != expected:
                raise ValueError(
                    f"image_shape={expected} (height, width, channels) does not match the images of X, "
                    f"which are {images.shape[2]} x {images.shape[3]} with {images.shape[1]} channels."
                )
        n, channels, height, width = images.shape
        self.image_shape_ = (int(height), int(width), int(channels))
        self.n_features_in_ = int(channels * height * width)
        self.channel_mean_, self.channel_std_ = _channel_stats(images)
        return images

    def _transform_inputs(self, X: Any) -> np.ndarray:
        _check_feature_names(self, X, reset=False)
        images, taken_as_is = self._as_nchw(X)
        if taken_as_is:
            # Unscaled 0..255 floats would otherwise get confident, meaningless predictions.
            self._check_pixel_range(images)
        height, width, channels = self.image_shape_
        got = (images.shape[2], images.shape[3], images.shape[1])
        if got != self.image_shape_:
            raise ValueError(
                f"X has {got[0]} x {got[1]} images with {got[2]} channels, but {type(self).__name__} was fitted on "
                f"{height} x {width} images with {channels} channels: expected shape (n_samples, {height}, {width}, "
                f"{channels}) for uint8 input or (n_samples, {channels}, {height}, {width}) for float input"
                + (f", or (n_samples, {height}, {width})" if channels == 1 else "")
                + (f", or (n_samples, {self.n_features_in_}) flat rows." if self.image_shape is not None else ".")
            )
        return images

    # -- network -----------------------------------------------------------------------
    def _build_module(self, train: TensorData, n_classes: int, with_projector: bool) -> nn.Module:
        height, width = self.image_shape_[:2]
        # Both architectures halve the feature maps twice (strides 1, 2, 2): the last stage's maps are
        # ceil(H / 4) x ceil(W / 4). At 1 x 1 a training batch of one image leaves its BatchNorm layers a
        # single value per channel, which torch refuses mid-fit with a message that names neither cause.
        if self.batch_size == 1 and -(-height // 4) * -(-width // 4) == 1:
            raise ValueError(
                f"batch_size=1 cannot train on {height} x {width} images: the network's last feature maps are "
                "1 x 1, so its BatchNorm layers would normalise one value per channel. Use batch_size >= 2."
            )
        try:
            backbone = build_vision_model(self.architecture, n_classes, in_channels=self.image_shape_[2])
        except ValueError as error:
            raise ValueError(f"Invalid architecture={self.architecture!r}: {error}") from error
        projector_dims = tuple(int(size) for size in self.ssl_projector_dims) if with_projector else None
        return ImageNet(backbone, self.channel_mean_, self.channel_std_, projector_dims)

    def _augmentation(self, name: str) -> ImageAugmentation:
        return build_image_augmentation(name, self.image_shape_[:2])

    def _batch_transform(self):
        augmentation = None if self.augmentation == "none" else self._augmentation(self.augmentation)
        if augmentation is None and self.mixing is None:
            return None
        return _AugmentThenMix(augmentation, self.mixing, float(self.mixing_alpha))

    def _view_transform(self, train: TensorData):
        # Identical views would make the VICReg invariance term vanish, so 'none' falls back to flip + crop.
        return _RandomView(self._augmentation("flip_crop" if self.augmentation == "none" else self.augmentation))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = self.image_shape is not None
        tags.input_tags.three_d_array = True
        tags.input_tags.positive_only = True
        return tags
