"""On-disk store of the predictions of fitted models, so that seeded runs are paid for once.

A seeded evaluation (:func:`imbsk.tuning.evaluate`) fits one model per seed and
keeps only its validation and test probabilities. Saving those lets a later call
reuse them: the single models of seeds ``0..14`` are also the members of three
ensembles of five, ``p(y | x) = (1 / M) sum_m p_m(y | x)``, which then cost no fit.

One ``.npz`` file per fitted model, named
``<dataset>-<model>-<key>-seed<seed>.npz``; ``key`` is a hash of everything that
decides what the fit produces *apart from the code*: dataset, model, estimator
arguments, device, training rows and the epoch or tree cap. A changed
configuration therefore never reads stale files.

Each file also records that configuration (as JSON), a digest of the data it was
fitted and scored on (:func:`data_digest`: a file of the same name fitted on other
rows, e.g. another copy of a data file with the same shape, is refused), the versions of imbsk,
torch, scikit-learn, xgboost and numpy under which it was fitted, and the machine
it was fitted on (processor architecture, CPU model, GPU), so a store says what it
holds. A file fitted under other versions or on another machine is still read (a
refit would cost what the store saves), and :func:`version_changes` /
:func:`machine_changes` name the differences so callers can report them: MLP
floats differ between CPU models, so a model read from another machine need not
equal a refit here. Code changes that keep the version number are not detected:
clear the directory after changing training code. Files are written
atomically (a temporary file renamed into place), so several processes may share
one directory. A file that cannot be read (truncated or damaged outside imbsk) is
treated as absent, with a warning, so its model is fitted and stored anew.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import warnings
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imbsk._files import atomic_write

__all__ = [
    "MemberPredictions",
    "config_key",
    "data_digest",
    "load_member",
    "machine_changes",
    "machine_description",
    "member_path",
    "save_member",
    "software_versions",
    "version_changes",
]

# The distributions whose versions can change what a fit produces.
_TRACKED_DISTRIBUTIONS = ("imbsk", "torch", "scikit-learn", "xgboost", "numpy")


@dataclass(frozen=True)
class MemberPredictions:
    """What a seeded evaluation keeps of one fitted model.

    ``val_proba`` / ``test_proba`` have one column per class, in sorted class order.
    ``config``, ``versions`` and ``machine`` are what a loaded file records about its
    fit (see :func:`save_member`); they are None for files written before imbsk stored
    them, and for members that were not loaded.
    """

    val_proba: np.ndarray
    test_proba: np.ndarray
    fit_time: float
    epochs: int
    config: dict[str, Any] | None = None
    versions: dict[str, str] | None = None
    machine: dict[str, str] | None = None


@cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    versions = []
    for name in _TRACKED_DISTRIBUTIONS:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "absent"))
    return tuple(versions)


def software_versions() -> dict[str, str]:
    """Installed versions of imbsk, torch, scikit-learn, xgboost and numpy (``'absent'`` if not installed)."""
    return dict(_installed_versions())


def _cpu_model() -> str:
    # /proc/cpuinfo names the model on Linux; platform.processor() is often empty there.
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@cache
def _machine() -> tuple[tuple[str, str], ...]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (("architecture", platform.machine() or "unknown"), ("cpu", _cpu_model()), ("gpu", gpu))


def machine_description() -> dict[str, str]:
    """This machine's processor ``architecture``, ``cpu`` model and first CUDA ``gpu`` (``'none'`` without one)."""
    return dict(_machine())


def _differences(stored: dict[str, str] | None, current: dict[str, str]) -> dict[str, tuple[str, str]]:
    if stored is None:
        return {}
    return {
        name: (stored.get(name, "unknown"), value)
        for name, value in current.items()
        if stored.get(name, "unknown") != value
    }


def version_changes(stored: dict[str, str] | None) -> dict[str, tuple[str, str]]:
    """``{name: (stored version, installed version)}`` for every tracked package whose version differs.

    Empty when ``stored`` is None (a file that predates version records): nothing is known to differ.
    """
    return _differences(stored, software_versions())


def machine_changes(stored: dict[str, str] | None) -> dict[str, tuple[str, str]]:
    """``{field: (stored value, this machine's value)}`` for every :func:`machine_description` field that differs.

    Empty when ``stored`` is None (a file that predates machine records).
    """
    return _differences(stored, machine_description())


def _config_json(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def config_key(config: dict[str, Any]) -> str:
    """A 16-hex-digit hash of ``config`` (JSON with sorted keys; tuples hash as lists)."""
    return hashlib.sha256(_config_json(config).encode("utf-8")).hexdigest()[:16]


def data_digest(*parts: Any) -> str:
    """A sha256 digest of the values, column names and order of ``parts`` (DataFrames, Series or arrays).

    Two splits get the same digest only when every part holds the same values in the same
    rows and columns; the row index is left out, so a reloaded file matches itself.
    """
    import pandas as pd  # the store itself needs no pandas

    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, (pd.DataFrame, pd.Series)):
            names = list(part.columns) if isinstance(part, pd.DataFrame) else [part.name]
            digest.update(json.dumps([str(name) for name in names]).encode("utf-8"))
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
        else:
            array = np.ascontiguousarray(np.asarray(part))
            digest.update(f"{array.dtype.str}{array.shape}".encode("utf-8"))
            digest.update(array.tobytes() if array.dtype.kind != "O" else repr(array.tolist()).encode("utf-8"))
        digest.update(b"|")
    return digest.hexdigest()


def member_path(directory: str | os.PathLike, dataset: str, model: str, key: str, seed: int) -> Path:
    """Where the model of ``seed`` of the configuration hashed to ``key`` is stored."""
    return Path(directory) / f"{dataset}-{model}-{key}-seed{int(seed)}.npz"


def _class_names(classes: np.ndarray) -> np.ndarray:
    # Unicode, so the file loads without pickle whatever the label type.
    return np.asarray(classes).astype(str)


def save_member(
    path: str | os.PathLike,
    member: MemberPredictions,
    classes: np.ndarray,
    *,
    config: dict[str, Any] | None = None,
    data: str | None = None,
) -> None:
    """Write ``member`` (probability columns ordered as ``classes``) to ``path`` atomically.

    The file also records ``config`` (the configuration that :func:`config_key` hashed
    to name the file; ``{}`` when None), ``data`` (the :func:`data_digest` of the split
    the member was fitted and scored on, if given), :func:`software_versions` and
    :func:`machine_description`: the caller is the process that fitted the member.
    """
    buffer = io.BytesIO()
    np.savez(
        buffer,
        val_proba=member.val_proba,
        test_proba=member.test_proba,
        classes=_class_names(classes),
        fit_time=np.float64(member.fit_time),
        epochs=np.int64(member.epochs),
        config=np.str_(_config_json(config or {})),
        versions=np.str_(json.dumps(software_versions(), sort_keys=True)),
        machine=np.str_(json.dumps(machine_description(), sort_keys=True)),
        **({} if data is None else {"data": np.str_(data)}),
    )
    atomic_write(path, buffer.getvalue())


def load_member(
    path: str | os.PathLike, classes: np.ndarray, n_val: int, n_test: int, *, data: str | None = None
) -> MemberPredictions | None:
    """The stored predictions at ``path``, or None when there is no such file or it cannot be read.

    An unreadable file (not an ``.npz`` archive, truncated, or missing an array) gives a
    ``RuntimeWarning`` naming it, and None: the caller fits the model and overwrites the file.

    Raises
    ------
    ValueError
        The file belongs to other data: its classes or row counts differ from
        ``classes``, ``n_val`` and ``n_test``, or it records a data digest other than
        ``data`` (files written before digests were recorded are not checked).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            member = MemberPredictions(
                val_proba=stored["val_proba"],
                test_proba=stored["test_proba"],
                fit_time=float(stored["fit_time"]),
                epochs=int(stored["epochs"]),
                config=json.loads(str(stored["config"])) if "config" in stored.files else None,
                versions=json.loads(str(stored["versions"])) if "versions" in stored.files else None,
                machine=json.loads(str(stored["machine"])) if "machine" in stored.files else None,
            )
            stored_classes = stored["classes"]
            stored_data = str(stored["data"]) if "data" in stored.files else None
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as error:
        # imbsk writes atomically, so such a file was truncated or damaged by something else
        # (a partial copy, a full disk elsewhere); it holds no model to reuse, and the refit
        # that follows replaces it atomically.
        warnings.warn(f"{path} cannot be read ({type(error).__name__}: {error}); its model is fitted anew",
                      RuntimeWarning, stacklevel=2)
        return None
    expected = (len(classes),)
    if (
        not np.array_equal(stored_classes, _class_names(classes))
        or member.val_proba.shape != (n_val,) + expected
        or member.test_proba.shape != (n_test,) + expected
    ):
        raise ValueError(
            f"{path} holds predictions for other data (classes {stored_classes.tolist()}, "
            f"{member.val_proba.shape[0]} validation / {member.test_proba.shape[0]} test rows); "
            f"expected classes {_class_names(classes).tolist()}, {n_val} / {n_test} rows. Delete the file."
        )
    if data is not None and stored_data is not None and stored_data != data:
        raise ValueError(
            f"{path} holds predictions of a model fitted on other data (same classes and row counts, other "
            f"values: data digest {stored_data[:12]}..., here {data[:12]}...). Delete the file, or give this data "
            "its own predictions directory."
        )
    return member
