"""CIFAR-10 from the official python archive, and its long-tailed version CIFAR-10-LT.

The archive ``cifar-10-python.tar.gz`` (Krizhevsky, 2009) holds the members
``cifar-10-batches-py/data_batch_1`` ... ``data_batch_5`` (10,000 training images
each), ``test_batch`` (10,000 test images) and ``batches.meta``. Each is a Python
pickle of a dict whose ``b'data'`` is a ``(N, 3072)`` uint8 array, one image per
row stored as the 1,024 red, then green, then blue values of the 32x32 image in
row-major order, and whose ``b'labels'`` is a list of ints in 0..9;
``batches.meta`` gives ``b'label_names'``.

Loading unpickles these members, which can execute code: only read archives from
a trusted source (a download is always checked against the official md5).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ._fetch import atomic_write, download_bytes, get_data_home, missing_file_error, not_a_directory
from .long_tail import make_long_tailed

__all__ = ["CIFAR10_FILE", "CIFAR10_MD5", "CIFAR10_URL", "load_cifar10", "load_cifar10_lt"]

CIFAR10_FILE = "cifar-10-python.tar.gz"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: md5 published on the CIFAR page for ``cifar-10-python.tar.gz``.
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
_MEMBER_DIR = "cifar-10-batches-py"
_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_BATCH = "test_batch"
_META = "batches.meta"
_IMAGE_SHAPE = (3, 32, 32)
_N_CLASSES = 10
_SOURCE = f"{CIFAR10_URL} (the 'CIFAR-10 python version', md5 {CIFAR10_MD5})"


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(path: Path) -> None:
    try:
        payload = download_bytes(CIFAR10_URL)
    except OSError as exc:
        raise missing_file_error(CIFAR10_FILE, path.parent, _SOURCE, reason=f"download failed: {exc}") from exc
    got = _md5(payload)
    # Checked before writing so that a corrupt or changed download never lands in the cache.
    if got != CIFAR10_MD5:
        raise ValueError(
            f"Downloaded {CIFAR10_URL} has md5 {got}, expected {CIFAR10_MD5}; nothing was written. "
            f"Place a correct {CIFAR10_FILE} in {path.parent} instead."
        )
    atomic_write(path, payload)


def _read_member(archive: tarfile.TarFile, name: str, path: Path) -> dict:
    member = f"{_MEMBER_DIR}/{name}"
    try:
        handle = archive.extractfile(member)
    except KeyError:
        handle = None
    if handle is None:
        raise ValueError(f"{path} has no member {member!r}; it is not the CIFAR-10 python archive.")
    with handle:
        # The batches were pickled by Python 2; 'bytes' keeps their str keys as bytes.
        content = pickle.load(io.BytesIO(handle.read()), encoding="bytes")
    if not isinstance(content, dict):
        # Indexed with b'data' / .get below, another object fails with a TypeError naming no file.
        raise ValueError(
            f"{path}: member {member!r} holds a {type(content).__name__}, not the dict of a CIFAR-10 batch."
        )
    return content


def _decode_batch(batch: dict, name: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.asarray(batch[b"data"])
        raw_labels = batch[b"labels"]
    except KeyError as exc:
        raise ValueError(f"{path}: batch {name!r} lacks the key {exc.args[0]!r}.") from None
    try:
        labels = np.asarray(raw_labels, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: batch {name!r} has labels that are not integers ({exc}).") from None
    n_pixels = int(np.prod(_IMAGE_SHAPE))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != n_pixels:
        raise ValueError(
            f"{path}: batch {name!r} has data of dtype {data.dtype} and shape {data.shape}; "
            f"expected uint8 of shape (n, {n_pixels})."
        )
    if labels.shape != (len(data),):
        raise ValueError(f"{path}: batch {name!r} has {len(data)} images but {labels.size} labels.")
    if labels.size and (labels.min() < 0 or labels.max() >= _N_CLASSES):
        raise ValueError(f"{path}: batch {name!r} has labels outside 0..{_N_CLASSES - 1}.")
    # Rows are channel-planar (R plane, G plane, B plane); the estimators take uint8 channels-last.
    images = data.reshape(len(data), *_IMAGE_SHAPE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def load_cifar10(
    data_home: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    verify: bool = False,
) -> Bunch:
    """Load CIFAR-10 (Krizhevsky, 2009): 50,000 training and 10,000 test 32x32 colour images, 10 classes.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Directory holding ``cifar-10-python.tar.gz``. ``None`` uses ``$IMBSK_DATA``,
        else ``$XDG_CACHE_HOME/imbsk`` or ``~/.cache/imbsk``.
    download : bool, default=True
        If the archive is absent, download it (163 MB) from the CIFAR page, check its
        md5 against ``CIFAR10_MD5`` and cache it.
    verify : bool, default=False
        Also check the md5 of an archive that is already present.

    Returns
    -------
    data : sklearn.utils.Bunch
        - ``X_train``: uint8 array of shape (50000, 32, 32, 3), channels-last;
        - ``y_train``: int64 array of shape (50000,), labels 0..9;
        - ``X_test``, ``y_test``: the same for the 10,000 test images;
        - ``target_names``: the 10 class names (``'airplane'`` ... ``'truck'``);
        - ``DESCR``: a description.

    Raises
    ------
    FileNotFoundError
        The archive is absent and ``download`` is False, the download failed, or the data directory is a file.
    ValueError
        md5 mismatch, a truncated or corrupt archive, or an archive that is not in the CIFAR-10 python format.

    References
    ----------
    .. [1] A. Krizhevsky. "Learning Multiple Layers of Features from Tiny Images".
       Technical report, University of Toronto, 2009.
    """
    directory = get_data_home(data_home)
    path = directory / CIFAR10_FILE
    if not path.is_file():
        if not download or not_a_directory(directory):
            raise missing_file_error(CIFAR10_FILE, directory, _SOURCE)
        _download(path)
    elif verify:
        got = _md5_file(path)
        if got != CIFAR10_MD5:
            raise ValueError(
                f"Checksum mismatch for {path}: expected md5 {CIFAR10_MD5}, got {got}. "
                "The file is corrupt or a different version; replace it, or pass verify=False."
            )

    try:
        archive = tarfile.open(path, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        # tarfile.open reads the first member header: a file cut within its first block ends the
        # gzip stream there, an EOFError (no OSError) that would escape naming no file.
        raise ValueError(
            f"{path} is not a readable .tar.gz archive: truncated or corrupt ({type(exc).__name__}: {exc}). "
            f"Replace it with the archive from {_SOURCE}."
        ) from exc
    try:
        with archive:
            train = [_decode_batch(_read_member(archive, name, path), name, path) for name in _TRAIN_BATCHES]
            X_test, y_test = _decode_batch(_read_member(archive, _TEST_BATCH, path), _TEST_BATCH, path)
            meta = _read_member(archive, _META, path)
    except (tarfile.TarError, OSError, EOFError, zlib.error, pickle.UnpicklingError) as exc:
        # tarfile reads a .tar.gz lazily, so a truncated or damaged archive only fails here, mid-stream.
        raise ValueError(
            f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}). Replace it with the archive from "
            f"{_SOURCE}; verify=True checks its md5."
        ) from exc
    names = meta.get(b"label_names")
    if not isinstance(names, (list, tuple)) or len(names) != _N_CLASSES:
        raise ValueError(f"{path}: {_META!r} must list {_N_CLASSES} b'label_names'.")
    target_names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]

    X_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    descr = (
        "CIFAR-10 (Krizhevsky, 2009)\n"
        "---------------------------\n"
        "60,000 32x32 colour images in 10 classes: 50,000 training images (5 batches of 10,000; "
        "5,000 per class) and 10,000 test images (1,000 per class). Images are uint8 arrays of shape "
        "(32, 32, 3) (height, width, RGB).\n"
        f"Read from {path}."
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        target_names=target_names,
        DESCR=descr,
    )


def load_cifar10_lt(
    imbalance_ratio: float = 0.01,
    *,
    data_home: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool = False,
    profile: str = "exponential",
    random_state: Any = 0,
) -> Bunch:
    """Load CIFAR-10-LT: a long-tailed subsample of the CIFAR-10 training set and the balanced test set.

    The training set is subsampled with :func:`~imbsk.datasets.make_long_tailed`
    (exponential profile of Liu et al. 2019 / Cao et al. 2019, class 0 'airplane'
    the head class, class 9 'truck' the rarest), with ``n_max`` the smallest
    training class count, i.e. 5,000 on CIFAR-10:
    ``n_i = floor(5000 * r ** (i / 9))``, which gives 12,406 images for
    ``r = 0.01`` (5,000 down to 50) and 13,996 for ``r = 0.02`` (down to 100). The 10,000 test
    images stay balanced, as in the CIFAR-LT protocol of the paper.

    Parameters
    ----------
    imbalance_ratio : float, default=0.01
        Ratio ``r`` in ``(0, 1]`` of the rarest to the most frequent class count
        (the paper reports ``r = 0.01`` and ``0.02``; its "training ratio").
    data_home, download, verify
        See :func:`load_cifar10`.
    profile : {'exponential', 'step'}, default='exponential'
        Long-tail profile, see :func:`~imbsk.datasets.long_tailed_counts`.
    random_state : int, RandomState instance or None, default=0
        Which images of each class are kept.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X_train``, ``y_train`` (long-tailed), ``X_test``, ``y_test`` (balanced),
        ``class_counts`` (training images per class, shape (10,)), ``target_names``
        and ``DESCR``.

    References
    ----------
    .. [1] K. Cao, C. Wei, A. Gaidon, N. Arechiga and T. Ma. "Learning Imbalanced
       Datasets with Label-Distribution-Aware Margin Loss". NeurIPS 2019.
    .. [2] Z. Liu et al. "Large-Scale Long-Tailed Recognition in an Open World". CVPR 2019.
    """
    full = load_cifar10(data_home, download=download, verify=verify)
    X_train, y_train = make_long_tailed(
        full.X_train, full.y_train, imbalance_ratio, profile=profile, random_state=random_state
    )
    class_counts = np.bincount(y_train, minlength=_N_CLASSES)
    descr = (
        "CIFAR-10-LT (imbsk.datasets.load_cifar10_lt)\n"
        "--------------------------------------------\n"
        f"Training set: CIFAR-10's training images subsampled to a long tail, profile '{profile}', "
        f"imbalance ratio r={imbalance_ratio}, class 0 most frequent, class 9 rarest; counts "
        f"{class_counts.tolist()} ({int(class_counts.sum())} in all). Test set: the balanced 10,000 "
        f"CIFAR-10 test images. random_state={random_state!r}.\n\n" + full.DESCR
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=full.X_test,
        y_test=full.y_test,
        class_counts=class_counts,
        target_names=full.target_names,
        DESCR=descr,
    )
