"""Loaders for the tabular benchmarks: UCI Adult, Otto Group, UCI Covertype.

Each loader finds a local file (``data_home`` argument, else the environment
variable ``IMBSK_DATA``, else ``$XDG_CACHE_HOME/imbsk`` or ``~/.cache/imbsk``),
optionally downloads it, verifies its checksum, parses it with explicit dtypes
and returns a :class:`sklearn.utils.Bunch` that also carries the standard
train / validation / test split.

Splits
------
The split sizes follow Gorishniy et al. (2021), the protocol also used by the
paper this package implements:

============  =========  ========  ========
dataset       train      val       test
============  =========  ========  ========
Adult         26,048     6,513     16,281
Otto          39,601     9,901     12,376
Covertype     371,847    92,962    116,203
============  =========  ========  ========

All three come from one rule: ``n_test = ceil(0.2 * n)`` split off the whole
(stratified), then ``n_val = ceil(0.2 * n_rest)`` split off the rest
(stratified), using :func:`sklearn.model_selection.train_test_split` with
``random_state=SPLIT_SEED`` (0). Adult is the exception for the test part: its
test set is the original UCI ``adult.test`` file (16,281 rows) and only the
validation part is split off the 32,561 UCI training rows. For inputs of other
sizes (e.g. a subsample of Covertype) the same rule gives the same proportions.

References
----------
Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models for
Tabular Data." NeurIPS 2021.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import fetch_openml
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from ._fetch import (
    atomic_write,
    download_bytes,
    get_data_home,
    missing_file_error,
    not_a_directory,
    verify_sha256,
)

__all__ = [
    "SPLIT_SEED",
    "TEST_FRACTION",
    "VAL_FRACTION",
    "COVTYPE_FEATURE_NAMES",
    "DATASETS",
    "load_adult",
    "load_otto",
    "load_covertype",
    "load_dataset",
]

#: ``random_state`` of both stratified ``train_test_split`` calls.
SPLIT_SEED = 0
#: Fraction (rounded up) of all rows that goes to the test set.
TEST_FRACTION = 0.2
#: Fraction (rounded up) of the non-test rows that goes to the validation set.
VAL_FRACTION = 0.2

# --- Adult ------------------------------------------------------------------
ADULT_FILE = "adult.csv.gz"
ADULT_SHA256 = "0f055e8d4bf3772081858b2c26eb3e4afa52bcc0f70fdae29c7c7aaf9b6e651c"
ADULT_CSV_SHA256 = "c6c77bfbd8b6c387f5e508860cdc6595f3522e645be92e9d55612bbf046829f9"
ADULT_URLS = {
    "train": "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.data",
    "test": "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.test",
}
ADULT_NUMERICAL = [
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
]
ADULT_CATEGORICAL = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
]
# Column order of the file (and of the UCI originals, which have no header).
_ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
    "split",
]
ADULT_CLASSES = ["<=50K", ">50K"]
_ADULT_SOURCE = (
    "the UCI Machine Learning Repository, 'Adult' (adult.data + adult.test "
    "assembled as described in shared/data/README.md)"
)

# --- Otto -------------------------------------------------------------------
OTTO_FILE = "otto_train.csv.gz"
OTTO_SHA256 = "90a912dc3f03494b38a19addbe2a105c8b9b66f3e5fff3458111fb521e1ebca8"
OTTO_CSV_SHA256 = "11d3618a9d2dba32356c7c5f71ea2c790dcf1bd1ac1f0270f5f520b14329a3b4"
OTTO_FEATURES = [f"feat_{i}" for i in range(1, 94)]
OTTO_CLASSES = [f"Class_{i}" for i in range(1, 10)]
#: OpenML dataset "Otto-Group-Product-Classification-Challenge" (Kaggle's train.csv).
OTTO_OPENML_ID = 45548
_OTTO_SOURCE = (
    "the Kaggle competition 'otto-group-product-classification-challenge' "
    "(file train.csv, gzip-compressed), or OpenML dataset "
    f"{OTTO_OPENML_ID} (fetched automatically when download=True)"
)

# --- Covertype --------------------------------------------------------------
COVTYPE_FILES = ("covtype.data.gz", "covtype.data")
COVTYPE_URL = (
    "https://archive.ics.uci.edu/ml/machine-learning-databases/covtype/covtype.data.gz"
)
#: sha256 of ``covtype.data.gz`` if known; ``None`` disables the check because
#: no trusted digest of the public file was available when this was written.
COVTYPE_SHA256: str | None = None
COVTYPE_FEATURE_NAMES = [
    "Elevation",
    "Aspect",
    "Slope",
    "Horizontal_Distance_To_Hydrology",
    "Vertical_Distance_To_Hydrology",
    "Horizontal_Distance_To_Roadways",
    "Hillshade_9am",
    "Hillshade_Noon",
    "Hillshade_3pm",
    "Horizontal_Distance_To_Fire_Points",
    *[f"Wilderness_Area_{i}" for i in range(4)],
    *[f"Soil_Type_{i}" for i in range(40)],
]
COVTYPE_TARGET = "Cover_Type"
COVTYPE_CLASSES = list(range(1, 8))


# ---------------------------------------------------------------------------
# splitting and packaging
# ---------------------------------------------------------------------------
def _holdout_size(n: int, fraction: float) -> int:
    """``ceil(fraction * n)``: what ``train_test_split`` does for a float size.

    Made explicit so the integer sizes of Gorishniy et al. (2021) are visible:
    ceil(0.2 * 581,012) = 116,203 and ceil(0.2 * 464,809) = 92,962, etc.
    """
    return int(math.ceil(fraction * n))


def _stratified_holdout(
    X: pd.DataFrame, y: pd.Series, n_holdout: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    return train_test_split(
        X, y, test_size=n_holdout, stratify=y, random_state=SPLIT_SEED, shuffle=True
    )


def _three_way_split(
    X: pd.DataFrame, y: pd.Series
) -> dict[str, pd.DataFrame | pd.Series]:
    X_rest, X_test, y_rest, y_test = _stratified_holdout(
        X, y, _holdout_size(len(X), TEST_FRACTION)
    )
    X_train, X_val, y_train, y_val = _stratified_holdout(
        X_rest, y_rest, _holdout_size(len(X_rest), VAL_FRACTION)
    )
    return dict(
        X_train=X_train, X_val=X_val, X_test=X_test,
        y_train=y_train, y_val=y_val, y_test=y_test,
    )


def _package(
    frame: pd.DataFrame,
    data: pd.DataFrame,
    target: pd.Series,
    splits: dict[str, pd.DataFrame | pd.Series],
    *,
    return_X_y: bool,
    as_frame: bool,
    **extra: Any,
) -> Bunch | tuple[Any, Any]:
    if not as_frame:
        data_out: Any = data.to_numpy()
        target_out: Any = target.to_numpy()
        splits = {k: v.to_numpy() for k, v in splits.items()}
        frame_out = None
    else:
        data_out, target_out, frame_out = data, target, frame
    if return_X_y:
        return data_out, target_out
    return Bunch(
        frame=frame_out,
        data=data_out,
        target=target_out,
        feature_names=list(data.columns),
        split_seed=SPLIT_SEED,
        **splits,
        **extra,
    )


def _covtype_candidates(directory: Path) -> list[Path]:
    return [directory / name for name in COVTYPE_FILES]


# ---------------------------------------------------------------------------
# Adult
# ---------------------------------------------------------------------------
def _assemble_adult(train_raw: bytes, test_raw: bytes) -> bytes:
    """Turn UCI ``adult.data`` + ``adult.test`` into the documented CSV layout.

    The conversion (see ``shared/data/README.md``): header row; train rows then
    test rows in their original order; the space after each comma removed; the
    ``|1x3 Cross validator`` line and blank lines dropped; the trailing ``.``
    of the test labels removed; a ``split`` column (``train``/``test``) added;
    ``?`` kept as is. Applied to the UCI originals it reproduces the file's
    sha256 ``ADULT_CSV_SHA256`` byte for byte.
    """

    def rows(raw: bytes, split: str, strip_dot: bool) -> list[str]:
        out = []
        for line in raw.decode("ascii").splitlines():
            line = line.strip()
            if not line or line.startswith("|"):
                continue
            line = line.replace(", ", ",")
            if strip_dot and line.endswith("."):
                line = line[:-1]
            out.append(f"{line},{split}")
        return out

    lines = [",".join(_ADULT_COLUMNS)]
    lines += rows(train_raw, "train", strip_dot=False)
    lines += rows(test_raw, "test", strip_dot=True)
    return ("\n".join(lines) + "\n").encode("ascii")


def _download_adult(path: Path) -> None:
    try:
        train_raw = download_bytes(ADULT_URLS["train"])
        test_raw = download_bytes(ADULT_URLS["test"])
    except OSError as exc:
        raise missing_file_error(
            ADULT_FILE, path.parent, _ADULT_SOURCE, reason=f"download failed: {exc}"
        ) from exc
    source = f"{ADULT_FILE} assembled from {ADULT_URLS['train']} and {ADULT_URLS['test']}"
    fix = f"Place a correct {ADULT_FILE} in {path.parent} instead."
    try:
        csv = _assemble_adult(train_raw, test_raw)
    except UnicodeDecodeError as exc:
        # The UCI files are ASCII; anything else (an HTML error or portal page) failed with the codec's
        # bare "'ascii' codec can't decode byte ...", which named neither the download nor what to do.
        raise ValueError(f"{source}: the downloaded files are not the UCI text files ({exc}); nothing was "
                         f"written. {fix}") from exc
    _cache_verified_csv(path, csv, ADULT_CSV_SHA256, source=source, why="the upstream files changed", fix=fix)


def _cache_verified_csv(path: Path, csv: bytes, expected_sha256: str, *, source: str, why: str, fix: str) -> None:
    """Gzip ``csv`` to ``path`` if its sha256 is the reference one; raise otherwise.

    Checked before writing, so a changed upstream copy never lands in the cache.
    """
    got = hashlib.sha256(csv).hexdigest()
    if got != expected_sha256:
        raise ValueError(f"{source} has sha256 {got}, expected {expected_sha256}: {why}. {fix}")
    atomic_write(path, gzip.compress(csv, compresslevel=9, mtime=0))


def _read_data_csv(path: Path, *, layout: str, fix: str, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_csv(path, **kwargs)``, a damaged file's error naming it.

    A truncated, non-gzip or re-encoded file reaching the parser (``verify=False``, or Covertype's
    file, which has no default checksum) fails there with errors ("Compressed file ended before ...",
    "Not a gzipped file (b'<h')", an int64 column holding text) that name no file and escape as
    EOFError / OSError rather than the documented ValueError.
    """
    try:
        return pd.read_csv(path, **kwargs)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(
            f"{path} is truncated, corrupt or not in the {layout} format ({type(exc).__name__}: {exc}). {fix}"
        ) from exc


def _verified_source_fix(source: str) -> str:
    return f"Replace it with the file from {source}; verify=True checks its sha256."


_ADULT_DESCR = """\
UCI Adult (Census Income)
-------------------------
1994 US Census extract (Kohavi & Becker). Binary task: income >50K/yr.
48,842 rows, 14 features (6 numerical, 8 categorical), imbalance about 3.2:1.
Missing values ('?') occur in workclass, occupation, native_country and are NaN.
Split (Gorishniy et al., 2021): test = the original UCI adult.test rows (16,281);
validation = stratified ceil(0.2 * 32,561) = 6,513 rows of adult.data
(train_test_split, random_state=SPLIT_SEED=0); train = the remaining 26,048.
Source: UCI ML Repository, license CC BY 4.0.
Reference: R. Kohavi, "Scaling Up the Accuracy of Naive-Bayes Classifiers: a
Decision-Tree Hybrid", KDD 1996.
"""


def load_adult(
    data_home: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    return_X_y: bool = False,
    as_frame: bool = True,
    verify: bool = True,
) -> Bunch | tuple[Any, Any]:
    """Load UCI Adult with the Gorishniy et al. (2021) split.

    Reads ``adult.csv.gz`` (48,842 rows: 32,561 from ``adult.data`` then 16,281
    from ``adult.test``) with ``na_values=['?']``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Directory holding ``adult.csv.gz``. ``None`` uses ``$IMBSK_DATA``, else
        ``$XDG_CACHE_HOME/imbsk`` or ``~/.cache/imbsk``.
    download : bool, default=True
        If the file is absent, download ``adult.data`` and ``adult.test`` from
        UCI, assemble them into the documented layout and cache the result.
    return_X_y : bool, default=False
        Return ``(data, target)`` of all 48,842 rows instead of a Bunch.
    as_frame : bool, default=True
        If False, ``data``, ``target`` and the split arrays are numpy arrays
        (``object`` dtype for the features, since eight are strings) and
        ``frame`` is None.
    verify : bool, default=True
        Check the file's sha256 (``ADULT_SHA256``, or ``ADULT_CSV_SHA256`` of
        the decompressed content).

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``frame`` (features, ``income`` and ``split``), ``data`` (14 features;
        categorical columns have dtype ``category``, numerical ``int64``),
        ``target`` (``income``, category ``['<=50K', '>50K']``),
        ``X_train, X_val, X_test, y_train, y_val, y_test`` (26,048 / 6,513 /
        16,281 rows; original row labels kept as index), ``feature_names``,
        ``categorical_features``, ``numerical_features``, ``target_names``,
        ``split_seed`` and ``DESCR``.

    Raises
    ------
    FileNotFoundError
        The file is absent and ``download`` is False, the download failed, or the data directory is a file.
    ValueError
        Checksum mismatch, or unexpected content (a truncated or corrupt file, with ``verify=False``).
    """
    directory = get_data_home(data_home)
    path = directory / ADULT_FILE
    if not path.is_file():
        if not download or not_a_directory(directory):
            raise missing_file_error(ADULT_FILE, directory, _ADULT_SOURCE)
        _download_adult(path)
    if verify:
        verify_sha256(path, ADULT_SHA256, ADULT_CSV_SHA256)

    dtypes: dict[str, Any] = {c: "int64" for c in ADULT_NUMERICAL}
    dtypes.update({c: "category" for c in ADULT_CATEGORICAL})
    dtypes["income"] = pd.CategoricalDtype(ADULT_CLASSES)
    dtypes["split"] = pd.CategoricalDtype(["train", "test"])
    # keep_default_na=False: only '?' marks a missing value, nothing else.
    frame = _read_data_csv(path, layout="expected", fix=_verified_source_fix(_ADULT_SOURCE), na_values=["?"],
                           keep_default_na=False, dtype=dtypes)
    if list(frame.columns) != _ADULT_COLUMNS:
        raise ValueError(f"{path}: unexpected columns {list(frame.columns)}")
    if frame["income"].isna().any() or frame["split"].isna().any():
        raise ValueError(f"{path}: labels outside {ADULT_CLASSES} or split outside train/test")

    features = [c for c in _ADULT_COLUMNS if c not in ("income", "split")]
    data = frame[features]
    target = frame["income"]
    is_test = (frame["split"] == "test").to_numpy()
    X_tv, y_tv = data[~is_test], target[~is_test]
    X_train, X_val, y_train, y_val = _stratified_holdout(
        X_tv, y_tv, _holdout_size(len(X_tv), VAL_FRACTION)
    )
    splits = dict(
        X_train=X_train, X_val=X_val, X_test=data[is_test],
        y_train=y_train, y_val=y_val, y_test=target[is_test],
    )
    return _package(
        frame, data, target, splits,
        return_X_y=return_X_y, as_frame=as_frame,
        categorical_features=list(ADULT_CATEGORICAL),
        numerical_features=list(ADULT_NUMERICAL),
        target_names=list(ADULT_CLASSES),
        DESCR=_ADULT_DESCR,
    )


# ---------------------------------------------------------------------------
# Otto
# ---------------------------------------------------------------------------
_OTTO_DESCR = """\
Otto Group Product Classification Challenge (Kaggle, 2015)
----------------------------------------------------------
61,878 products, 93 obfuscated non-negative integer count features, 9 classes
(Class_1..Class_9), imbalance about 8.4:1. The 'id' column is dropped.
Split (Gorishniy et al., 2021 sizes): stratified test = ceil(0.2 * 61,878) =
12,376 rows, then stratified validation = ceil(0.2 * 49,502) = 9,901 rows, train
= 39,601 rows (train_test_split, random_state=SPLIT_SEED=0).
Source: Kaggle competition data under the competition's rules.
"""


def _remove_empty_trees(directories: list[Path]) -> None:
    """Remove each of ``directories`` (deepest first) while nothing but empty directories lies below it."""
    for directory in directories:
        if not directory.is_dir():
            continue
        below = sorted(directory.rglob("*"), key=lambda item: len(item.parts), reverse=True)
        if not all(item.is_dir() for item in below):
            return
        for item in below:
            item.rmdir()
        directory.rmdir()


def _download_otto(path: Path) -> None:
    cache = path.parent / "openml"
    absent = [directory for directory in [cache, *cache.parents] if not directory.exists()]
    try:
        bunch = fetch_openml(data_id=OTTO_OPENML_ID, as_frame=True, parser="pandas", data_home=str(cache))
    except Exception as exc:  # urllib, HTTP and OpenML errors alike mean "not available"
        # fetch_openml makes its cache directories before it connects: a failed download (under a
        # mistyped data_home, say) must not leave an empty tree behind.
        _remove_empty_trees(absent)
        raise missing_file_error(
            OTTO_FILE, path.parent, _OTTO_SOURCE, reason=f"download from OpenML failed: {exc}"
        ) from exc
    _cache_verified_csv(
        path, _otto_csv_from_openml(bunch.data, bunch.target), OTTO_CSV_SHA256,
        source=f"OpenML dataset {OTTO_OPENML_ID} rewritten in Kaggle's train.csv layout",
        why="the OpenML copy differs from Kaggle's file (other rows or another row order)",
        fix=f"Place Kaggle's train.csv, gzip-compressed, as {path} instead.",
    )


def _otto_csv_from_openml(data: pd.DataFrame, target: pd.Series) -> bytes:
    """Kaggle's ``train.csv`` bytes rebuilt from an OpenML copy of Otto.

    Accepts the features with or without an ``id`` column (with one, rows are put
    in id order; without one, ids are the row numbers 1..n, as in Kaggle's file), feature columns named
    ``feat_1..feat_93`` or just 93 columns in that order, and labels
    ``Class_1..Class_9``. Integer-valued floats are written as integers.

    Raises
    ------
    ValueError
        If the columns or labels do not fit that layout.
    """
    data = pd.DataFrame(data).reset_index(drop=True)
    labels = pd.Series(np.asarray(target, dtype=str))
    if "id" in data.columns:
        # Kaggle's rows are in id order; restore it whatever order the copy uses.
        order = np.argsort(data["id"].to_numpy(), kind="stable")
        data, labels = data.iloc[order].reset_index(drop=True), labels.iloc[order].reset_index(drop=True)
        ids = data.pop("id")
    else:
        ids = pd.Series(np.arange(1, len(data) + 1))
    if list(data.columns) != OTTO_FEATURES:
        if data.shape[1] != len(OTTO_FEATURES):
            raise ValueError(f"expected the {len(OTTO_FEATURES)} Otto features, got columns {list(data.columns)}")
        data.columns = OTTO_FEATURES
    values = data.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)) or not np.array_equal(values, np.round(values)):
        raise ValueError("Otto features must be finite integer counts")
    unknown = sorted(set(labels) - set(OTTO_CLASSES))
    if unknown:
        raise ValueError(f"Otto labels outside {OTTO_CLASSES}: {unknown[:5]}")
    frame = pd.DataFrame(values.astype(np.int64), columns=OTTO_FEATURES)
    frame.insert(0, "id", np.asarray(ids, dtype=np.int64))
    frame["target"] = labels.to_numpy()
    return frame.to_csv(index=False, lineterminator="\n").encode()


def load_otto(
    data_home: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    return_X_y: bool = False,
    as_frame: bool = True,
    verify: bool = True,
) -> Bunch | tuple[Any, Any]:
    """Load the Otto Group product data with the Gorishniy et al. (2021) split.

    Reads ``otto_train.csv.gz`` (Kaggle ``train.csv``, 61,878 rows).

    Parameters
    ----------
    data_home : str or path-like, default=None
        Directory holding ``otto_train.csv.gz``. ``None`` uses ``$IMBSK_DATA``,
        else ``$XDG_CACHE_HOME/imbsk`` or ``~/.cache/imbsk``.
    download : bool, default=True
        If the file is absent, fetch OpenML dataset ``OTTO_OPENML_ID`` with
        :func:`sklearn.datasets.fetch_openml` (its own cache goes under
        ``data_home/openml``), rewrite it in Kaggle's ``train.csv`` layout
        (``id`` = row number when OpenML has no id column), and keep it only if
        that CSV's sha256 equals ``OTTO_CSV_SHA256``: the cached file is then
        byte-for-byte Kaggle's ``train.csv``, so splits match the reference.
    return_X_y : bool, default=False
        Return ``(data, target)`` of all rows instead of a Bunch.
    as_frame : bool, default=True
        If False, arrays instead of pandas objects and ``frame`` is None.
    verify : bool, default=True
        Check the file's sha256 (``OTTO_SHA256``, or ``OTTO_CSV_SHA256`` of the
        decompressed content).

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``frame``, ``data`` (93 ``int64`` columns ``feat_1..feat_93``),
        ``target`` (``target``, category ``Class_1..Class_9``),
        ``X_train, X_val, X_test, y_train, y_val, y_test`` (39,601 / 9,901 /
        12,376 rows), ``feature_names``, ``target_names``, ``split_seed`` and
        ``DESCR``.

    Raises
    ------
    FileNotFoundError
        The file is absent and ``download`` is False, the download failed, or the data directory is a file.
    ValueError
        Checksum mismatch (of the file, or of the OpenML copy rewritten in
        Kaggle's layout), or unexpected content (a truncated or corrupt file, with ``verify=False``).
    """
    directory = get_data_home(data_home)
    path = directory / OTTO_FILE
    if not path.is_file():
        if not download or not_a_directory(directory):
            raise missing_file_error(OTTO_FILE, directory, _OTTO_SOURCE)
        _download_otto(path)
    if verify:
        verify_sha256(path, OTTO_SHA256, OTTO_CSV_SHA256)

    dtypes: dict[str, Any] = {c: "int64" for c in ["id", *OTTO_FEATURES]}
    dtypes["target"] = pd.CategoricalDtype(OTTO_CLASSES)
    frame = _read_data_csv(path, layout="expected", fix=_verified_source_fix(_OTTO_SOURCE), dtype=dtypes)
    if list(frame.columns) != ["id", *OTTO_FEATURES, "target"]:
        raise ValueError(f"{path}: unexpected columns")
    if frame["target"].isna().any():
        raise ValueError(f"{path}: labels outside {OTTO_CLASSES}")
    frame = frame.drop(columns="id")
    data = frame[OTTO_FEATURES]
    target = frame["target"]
    return _package(
        frame, data, target, _three_way_split(data, target),
        return_X_y=return_X_y, as_frame=as_frame,
        target_names=list(OTTO_CLASSES),
        DESCR=_OTTO_DESCR,
    )


# ---------------------------------------------------------------------------
# Covertype
# ---------------------------------------------------------------------------
_COVTYPE_DESCR = """\
UCI Covertype (Forest Cover Type)
---------------------------------
Cartographic variables of 30x30 m cells in the Roosevelt National Forest,
Colorado. 581,012 rows, 54 integer features (10 quantitative, 4 binary
wilderness-area, 40 binary soil-type columns), 7 classes (Cover_Type 1..7).
Split: stratified test = ceil(0.2 * n) rows, then stratified validation =
ceil(0.2 * rest) rows (train_test_split, random_state=SPLIT_SEED=0). For the full
581,012 rows this gives the Gorishniy et al. (2021) sizes 371,847 / 92,962 /
116,203; other inputs get the same proportions.
No checksum is verified unless COVTYPE_SHA256 or the sha256 argument is set.
Source: UCI ML Repository (Blackard & Dean, 1999), license CC BY 4.0.
Reference: J. A. Blackard, D. J. Dean, "Comparative accuracies of artificial
neural networks and discriminant analysis in predicting forest cover types from
cartographic variables", Computers and Electronics in Agriculture 24 (1999).
"""

_COVTYPE_SOURCE = f"{COVTYPE_URL} (UCI; either covtype.data.gz or the uncompressed covtype.data)"


def _check_covtype_download(payload: bytes, expected_sha256: str | None, path: Path) -> None:
    """Raise ``ValueError`` unless ``payload`` is a whole gzip file with the expected sha256, if one is given.

    Checked before writing, as for the other data sets: a cached file is found and trusted by
    every later call, and Covertype has no default checksum to catch an error page or a
    truncated transfer saved as ``covtype.data.gz``.
    """
    fix = f"Nothing was written; place {COVTYPE_FILES[0]} or {COVTYPE_FILES[1]} in {path.parent} instead."
    if expected_sha256 is not None:
        got = hashlib.sha256(payload).hexdigest()
        if got != expected_sha256.lower():
            raise ValueError(f"Downloaded {COVTYPE_URL} has sha256 {got}, expected {expected_sha256}. {fix}")
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(payload)) as stream:
            while stream.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(
            f"Downloaded {COVTYPE_URL} is not a complete gzip file ({type(exc).__name__}: {exc}). {fix}"
        ) from exc


def _read_covtype_file(path: Path) -> tuple[pd.DataFrame, pd.Series]:
    names = [*COVTYPE_FEATURE_NAMES, COVTYPE_TARGET]
    raw = _read_data_csv(path, layout="UCI", fix=f"Replace it with the file from {_COVTYPE_SOURCE}.", header=None,
                         dtype="int64")
    if raw.shape[1] != len(names):
        raise ValueError(
            f"{path}: expected {len(names)} comma-separated columns "
            f"(54 features + label), found {raw.shape[1]}"
        )
    raw.columns = names
    return raw[COVTYPE_FEATURE_NAMES], raw[COVTYPE_TARGET]


def _covtype_from_sklearn(directory: Path) -> tuple[pd.DataFrame, pd.Series] | None:
    """scikit-learn's cached copy (``fetch_covtype``), without downloading.

    Tried with ``directory`` as scikit-learn data home and then with
    scikit-learn's own default (``$SCIKIT_LEARN_DATA`` or ``~/scikit_learn_data``),
    each only if it exists: scikit-learn creates the data home it is given, and a
    failed look-up must not leave empty directories behind. scikit-learn reads its
    cache with ``joblib.load`` (pickle), so a ``covertype/`` folder in either runs code.
    """
    try:
        from sklearn.datasets import fetch_covtype
    except ImportError:
        return None
    sklearn_default = Path(os.environ.get("SCIKIT_LEARN_DATA", "~/scikit_learn_data")).expanduser()
    for home in (directory, sklearn_default):
        if not home.is_dir():
            continue
        try:
            bunch = fetch_covtype(data_home=home, download_if_missing=False)
            X = np.asarray(bunch.data)
            y = np.asarray(bunch.target)
            if X.ndim != 2 or X.shape[1] != len(COVTYPE_FEATURE_NAMES) or y.shape != (len(X),):
                # A damaged cache is no source: the pandas error its table would raise names no file.
                continue
            # sklearn stores the integer table as float64; restore the file's ints.
            data = pd.DataFrame(X.astype(np.int64), columns=COVTYPE_FEATURE_NAMES)
            target = pd.Series(y.astype(np.int64), name=COVTYPE_TARGET)
        except Exception:  # any failure of an optional cache means "not available"
            continue
        return data, target
    return None


def load_covertype(
    data_home: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    return_X_y: bool = False,
    as_frame: bool = True,
    verify: bool = True,
    sha256: str | None = None,
    sklearn_fallback: bool = True,
) -> Bunch | tuple[Any, Any]:
    """Load UCI Covertype with the Gorishniy et al. (2021) split.

    Sources, in order: ``covtype.data.gz`` or ``covtype.data`` in the data
    directory (UCI format: no header, comma separated, 54 integer features then
    the label 1..7); scikit-learn's cache from ``fetch_covtype`` (never
    downloading); finally, if ``download``, the UCI file ``COVTYPE_URL``.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Directory holding the UCI file. ``None`` uses ``$IMBSK_DATA``, else
        ``$XDG_CACHE_HOME/imbsk`` or ``~/.cache/imbsk``.
    download : bool, default=True
        Download ``covtype.data.gz`` into the data directory if no source exists.
        It is written only if it is a complete gzip file with the expected sha256
        (when one is given and ``verify``); otherwise nothing is written.
    return_X_y : bool, default=False
        Return ``(data, target)`` of all rows instead of a Bunch.
    as_frame : bool, default=True
        If False, arrays instead of pandas objects and ``frame`` is None.
    verify : bool, default=True
        Check the file's sha256 against ``sha256`` (or the module constant
        ``COVTYPE_SHA256``). Both are None by default because no trusted digest
        of the public file is known, so by default nothing is checked. Applies
        to whichever local file is used; the scikit-learn cache is not checked.
    sha256 : str, default=None
        Expected hex sha256 of the local file.
    sklearn_fallback : bool, default=True
        Whether to try scikit-learn's cached copy when no UCI file is present:
        ``data_home/covertype/`` and then ``$SCIKIT_LEARN_DATA/covertype/`` (default
        ``~/scikit_learn_data``). scikit-learn keeps that copy as joblib pickles, which
        can execute code when loaded: pass False for a data directory you did not fill
        yourself. A cache of another shape is skipped.

    Returns
    -------
    bunch : sklearn.utils.Bunch
        ``frame``, ``data`` (54 ``int64`` columns named as in
        ``sklearn.datasets.fetch_covtype``), ``target`` (``Cover_Type``,
        ``int64`` 1..7), ``X_train, X_val, X_test, y_train, y_val, y_test``,
        ``feature_names``, ``target_names``, ``source``, ``split_seed``,
        ``DESCR``. Split sizes: test ``ceil(0.2 n)``, val ``ceil(0.2 (n - n_test))``;
        371,847 / 92,962 / 116,203 for the full 581,012 rows.

    Raises
    ------
    FileNotFoundError
        No source found and ``download`` is False, the download failed, or the data directory is a file.
    ValueError
        Checksum mismatch, a download that is no complete gzip file, a truncated or
        corrupt file, wrong column count or labels outside 1..7.
    """
    directory = get_data_home(data_home)
    path = next((p for p in _covtype_candidates(directory) if p.is_file()), None)
    loaded = None
    if path is None and sklearn_fallback:
        loaded = _covtype_from_sklearn(directory)
    if path is None and loaded is None:
        if not download or not_a_directory(directory):
            raise missing_file_error(COVTYPE_FILES[0], directory, _COVTYPE_SOURCE)
        path = directory / COVTYPE_FILES[0]
        try:
            payload = download_bytes(COVTYPE_URL)
        except OSError as exc:
            raise missing_file_error(
                COVTYPE_FILES[0], directory, _COVTYPE_SOURCE, reason=f"download failed: {exc}"
            ) from exc
        _check_covtype_download(payload, (sha256 or COVTYPE_SHA256) if verify else None, path)
        atomic_write(path, payload)

    if loaded is not None:
        data, target = loaded
        source = "sklearn.datasets.fetch_covtype cache"
    else:
        assert path is not None
        expected = sha256 or COVTYPE_SHA256
        if verify and expected is not None:
            verify_sha256(path, expected)
        data, target = _read_covtype_file(path)
        source = str(path)
    bad = ~target.isin(COVTYPE_CLASSES)
    if bad.any():
        raise ValueError(
            f"Covertype labels must be in 1..7; found {sorted(target[bad].unique().tolist())}"
        )
    frame = pd.concat([data, target], axis=1)
    return _package(
        frame, data, target, _three_way_split(data, target),
        return_X_y=return_X_y, as_frame=as_frame,
        target_names=list(COVTYPE_CLASSES),
        source=source,
        DESCR=_COVTYPE_DESCR,
    )


# ---------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------
DATASETS: dict[str, Callable[..., Bunch | tuple[Any, Any]]] = {
    "adult": load_adult,
    "otto": load_otto,
    "covertype": load_covertype,
}


def load_dataset(name: str, **kwargs: Any) -> Bunch | tuple[Any, Any]:
    """Load a tabular benchmark by name.

    Parameters
    ----------
    name : {'adult', 'otto', 'covertype'}
        Case-insensitive key of ``DATASETS``.
    **kwargs
        Passed to the loader (``data_home``, ``download``, ``as_frame``, ...).

    Raises
    ------
    ValueError
        Unknown name; the message lists the valid names.
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; valid names: {sorted(DATASETS)}")
    return DATASETS[key](**kwargs)
