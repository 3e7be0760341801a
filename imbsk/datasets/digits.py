"""Long-tailed version of scikit-learn's bundled handwritten digits (no download)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.utils import Bunch, check_random_state

from .long_tail import long_tailed_counts, make_long_tailed

__all__ = ["load_digits_lt"]

_DEFAULT_TEST_SIZE_PER_CLASS = 50
_IMAGE_SHAPE = (8, 8, 1)
_MAX_PIXEL = 16


def load_digits_lt(
    imbalance_ratio: float = 0.01,
    *,
    test_size_per_class: int | None = None,
    profile: str = "exponential",
    as_frame: bool = False,
    as_images: bool = False,
    random_state: int | np.random.RandomState | None = 0,
) -> Bunch:
    """Load a long-tailed train split and a balanced test split of the digits data.

    Built from :func:`sklearn.datasets.load_digits` (1,797 grey-scale 8x8 images of
    the digits 0-9, 174-183 per class), which ships with scikit-learn, so nothing is
    downloaded. Construction:

    1. ``test_size_per_class`` images of every class are drawn at random as a
       *balanced* test set, as in the CIFAR-LT protocol (Cao et al., 2019), where
       only the training set is imbalanced.
    2. The rest is subsampled with :func:`~imbsk.datasets.long_tail.make_long_tailed`
       (``class_order='descending'``, so digit 0 is the head class and digit 9 the
       rarest) with ``n_max`` equal to the smallest remaining class count
       (124 with the default test size), i.e.
       ``n_i = floor(n_max * r ** (i / 9))`` for the exponential profile.

    Parameters
    ----------
    imbalance_ratio : float, default=0.01
        Ratio ``r`` in ``(0, 1]`` of the rarest to the most frequent training class.
    test_size_per_class : int, default=None
        Test images per class; ``None`` means 50 (500 test images in all).
    profile : {'exponential', 'step'}, default='exponential'
        Long-tail profile, see :func:`~imbsk.datasets.long_tail.long_tailed_counts`.
    as_frame : bool, default=False
        Return ``X_*`` as DataFrames with columns ``pixel_0_0 ... pixel_7_7`` and
        ``y_*`` as Series named ``'target'``; the index holds the row numbers of the
        original 1,797-image dataset.
    as_images : bool, default=False
        Return ``X_*`` as uint8 image arrays of shape ``(N, 8, 8, 1)`` scaled to
        ``0..255`` (``value * 255 // 16``). Incompatible with ``as_frame``.
    random_state : int, RandomState instance or None, default=0
        Controls both the test split and the long-tailed subsampling.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        - ``X_train``, ``X_test``: float32 pixel intensities in ``[0, 16]``, shape
          ``(N, 64)`` (or DataFrame / images, see above).
        - ``y_train``, ``y_test``: int64 digit labels.
        - ``class_counts``: ndarray of shape (10,), training samples per class, in
          the order of ``target_names``.
        - ``feature_names``: the 64 pixel names.
        - ``target_names``: ``array([0, ..., 9])``.
        - ``DESCR``: description of the construction.

    References
    ----------
    .. [1] Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware
       Margin Loss", NeurIPS 2019.
    .. [2] Alpaydin and Kaynak, "Optical Recognition of Handwritten Digits", UCI
       Machine Learning Repository, 1998.

    Examples
    --------
    >>> data = load_digits_lt(0.1)
    >>> data.X_train.shape[1], data.X_test.shape
    (64, (500, 64))
    >>> data.class_counts.tolist()
    [124, 96, 74, 57, 44, 34, 26, 20, 16, 12]
    """
    if as_frame and as_images:
        raise ValueError("as_frame and as_images cannot both be True.")
    digits = load_digits()
    X_all = digits.data.astype(np.float32)
    y_all = digits.target.astype(np.int64)
    target_names = np.asarray(digits.target_names)
    feature_names = list(digits.feature_names)
    available = np.bincount(y_all, minlength=len(target_names))

    if test_size_per_class is None:
        test_size_per_class = _DEFAULT_TEST_SIZE_PER_CLASS
    if (
        isinstance(test_size_per_class, bool)
        or not isinstance(test_size_per_class, Integral)
        or not 1 <= test_size_per_class < available.min()
    ):
        raise ValueError(
            "test_size_per_class must be an integer in [1, "
            f"{available.min() - 1}] (the smallest digits class has {available.min()} "
            f"images); got {test_size_per_class!r}."
        )
    rng = check_random_state(random_state)

    # A balanced test set is an r = 1 "long tail" with n_max = test_size_per_class.
    positions = np.arange(len(y_all))
    _, _, test_idx = make_long_tailed(
        positions,
        y_all,
        1.0,
        n_max=int(test_size_per_class),
        random_state=rng,
        return_indices=True,
    )
    rest_idx = np.setdiff1d(positions, test_idx, assume_unique=True)
    _, _, kept = make_long_tailed(
        rest_idx, y_all[rest_idx], imbalance_ratio, profile=profile,
        random_state=rng, return_indices=True,
    )
    train_idx = rest_idx[kept]

    y_train, y_test = y_all[train_idx], y_all[test_idx]
    class_counts = np.bincount(y_train, minlength=len(target_names))
    n_max = int(np.bincount(y_all[rest_idx]).min())
    expected = long_tailed_counts(n_max, len(target_names), imbalance_ratio, profile)

    if as_images:
        images = (digits.data.astype(np.int64) * 255 // _MAX_PIXEL).astype(np.uint8)
        images = images.reshape((-1, *_IMAGE_SHAPE))
        X_train, X_test = images[train_idx], images[test_idx]
    elif as_frame:
        frame = pd.DataFrame(X_all, columns=feature_names)
        X_train, X_test = frame.iloc[train_idx], frame.iloc[test_idx]
        y_train = pd.Series(y_train, index=X_train.index, name="target")
        y_test = pd.Series(y_test, index=X_test.index, name="target")
    else:
        X_train, X_test = X_all[train_idx], X_all[test_idx]

    descr = (
        "Long-tailed digits (imbsk.datasets.load_digits_lt)\n"
        "--------------------------------------------------\n"
        "Source: scikit-learn's bundled optical recognition of handwritten digits "
        "(1,797 8x8 grey-scale images, pixel values 0-16, 10 classes).\n"
        f"Test set: {test_size_per_class} random images per class "
        f"({len(test_idx)} in all), balanced.\n"
        f"Training set: the remaining images subsampled to a long tail, profile "
        f"'{profile}' (exponential: Liu et al. 2019, Cao et al. 2019; step: Buda et "
        f"al. 2018), with imbalance ratio r={imbalance_ratio}, n_max={n_max} (smallest "
        "remaining class count), digit 0 most frequent, digit 9 rarest.\n"
        f"Training counts per class: {expected.tolist()} ({int(expected.sum())} in all).\n"
        f"random_state={random_state!r}."
    )
    return Bunch(
        X_train=X_train,
        X_test=X_test,
        y_train=y_train,
        y_test=y_test,
        class_counts=class_counts,
        feature_names=feature_names,
        target_names=target_names,
        DESCR=descr,
    )
