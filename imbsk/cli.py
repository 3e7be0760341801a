"""Command line: ``imbsk compare`` (and ``imbsk tune`` when :mod:`imbsk.tuning` is available).

``imbsk compare`` fits the methods of :data:`imbsk.compare.METHODS` on one dataset
for a few seeds, prints mean ± standard error per method and writes ``results.csv``
(one row per run), ``summary.csv``, ``summary.md`` and ``minority_majority.png``.

Datasets
--------
``digits-lt`` (default)
    :func:`imbsk.datasets.load_digits_lt`: long-tailed training set with
    ``--imbalance-ratio`` (default 0.01), balanced test set; no download.
``adult``, ``otto``, ``covertype``
    :func:`imbsk.datasets.load_dataset` splits. Methods fit on ``X_train`` (the MLPs
    hold out their own early-stopping split) and are scored on ``X_test``; ``X_val``
    is not used. ``--imbalance-ratio``, when given, subsamples the training split
    with :func:`imbsk.datasets.make_long_tailed`, its classes ranked by their own
    counts (the most frequent class stays the head; ties by label).
``PATH.csv``
    Any CSV file with ``--target COL``; rows with a missing target are dropped and
    the rest is split 80/20, stratified, with seed 0. ``--imbalance-ratio`` as above.

``--test-imbalance-ratio`` makes the test set long-tailed too, its classes ranked by
their training counts (the training head stays the test head); ``--max-train-rows``
draws a (stratified when possible) subsample of the training split, after the
imbalance, for quick runs.

Hidden options for tests and smoke runs (not in ``--help``): ``--quick`` trains a
tiny MLP (one 16-unit layer, 3 epochs, :data:`imbsk.compare.QUICK_MLP_PARAMS`) and
``--max-iter N`` overrides the MLPs' number of epochs.

Exit status: 0 on success, 1 when every run failed (or tuning is unavailable), 2 for
bad input (unknown dataset, method or column, data too small for the imbalance
ratio, an unusable path, ...), with the reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imbsk._argtypes import device_name, positive_int
from imbsk._files import check_output_directory
from imbsk._labels import label_counts, python_label
from imbsk.training.allocator import retain_freed_cpu_memory

DATASET_CHOICES = ("digits-lt", "adult", "otto", "covertype")
#: Imbalance ratio of digits-lt when ``--imbalance-ratio`` is not given.
DIGITS_DEFAULT_RATIO = 0.01
#: Seed of the CSV train/test split and of the long-tail subsampling.
SPLIT_SEED = 0


class _UsageError(ValueError):
    """Bad input from the user: reported on stderr with exit status 2."""


# ---------------------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------------------
def _parse_seeds(text: str) -> list[int]:
    """``'3'`` -> seeds 0, 1, 2; ``'0,1,5'`` -> those seeds (``'7,'`` is the single seed 7).

    A repeated seed is kept once, as the comparison runs it once; negative seeds and seeds above
    2**32 - 1 are refused, since the MLPs' ``random_state`` (numpy) would fail on every one of them.
    """
    try:
        if "," in text:
            seeds = [int(part) for part in text.split(",") if part.strip()]
        else:
            count = int(text)
            if count < 1:
                raise argparse.ArgumentTypeError(f"the number of seeds must be at least 1, got {count}")
            seeds = list(range(count))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seeds (3) or a comma list (0,1,2), got {text!r}") from None
    if not seeds:
        raise argparse.ArgumentTypeError("no seed given")
    negative = [seed for seed in seeds if seed < 0]
    if negative:
        raise argparse.ArgumentTypeError(f"seeds must be non-negative, got {', '.join(map(str, negative))}")
    from imbsk.compare import MAX_SEED

    too_large = [seed for seed in seeds if seed > MAX_SEED]
    if too_large:
        raise argparse.ArgumentTypeError(f"seeds must be at most 2**32 - 1, got {', '.join(map(str, too_large))}")
    return list(dict.fromkeys(seeds))


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"the imbalance ratio must be in (0, 1], got {value}")
    return value


def _add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    from imbsk.compare import METHODS

    parser.add_argument(
        "--dataset",
        default="digits-lt",
        help=f"one of {', '.join(DATASET_CHOICES)}, or a path to a .csv file (with --target). Default: digits-lt.",
    )
    parser.add_argument("--target", default=None, help="target column of a CSV dataset")
    parser.add_argument(
        "--methods",
        default="all",
        help=f"comma-separated methods (default: all): {', '.join(METHODS)}",
    )
    parser.add_argument(
        "--seeds",
        type=_parse_seeds,
        default=[0, 1, 2],
        help="number of seeds N (seeds 0..N-1) or a comma list of seeds. Default: 3.",
    )
    parser.add_argument(
        "--imbalance-ratio",
        type=_ratio,
        default=None,
        help="rarest / most frequent training class count; digits-lt default 0.01, "
        "other datasets are left as they are unless given",
    )
    parser.add_argument(
        "--test-imbalance-ratio", type=_ratio, default=None, help="also make the test set long-tailed with this ratio"
    )
    parser.add_argument("--out", default="imbsk-compare", help="output directory (default: ./imbsk-compare)")
    parser.add_argument("--device", default="auto", type=device_name, metavar="{auto,cpu,cuda,cuda:N}",
                        help="where the MLPs train (default: auto, a visible GPU else the CPU)")
    parser.add_argument("--data-home", default=None, help="directory of the downloaded data files")
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing data file")
    parser.add_argument(
        "--max-train-rows", type=positive_int, default=None, help="subsample the training split to N rows"
    )
    parser.add_argument(
        "--class-scaling",
        default=None,
        choices=["sqrt_inverse_frequency", "inverse_frequency", "paper", "official", "uniform"],
        help="per-class rule for SAM-A radii and smoothing strengths (default: the estimator's, "
        "sqrt_inverse_frequency; see docs/class_scaling.md)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    # Hidden: tiny networks for tests and smoke runs.
    parser.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--max-iter", type=positive_int, default=None, help=argparse.SUPPRESS)


_TUNING_COMMANDS = {
    "tune": ("tune hyperparameters with Optuna (imbsk.tuning)", "add_tune_arguments", "run_tune_command"),
    "evaluate": ("retrain a stored configuration over seeds and score the test split (imbsk.tuning)",
                 "add_evaluate_arguments", "run_evaluate_command"),
}


def _add_tuning_parser(subparsers: Any, command: str, wanted: bool) -> None:
    """Register ``command`` of :mod:`imbsk.tuning`, which (with optuna) is imported only when it is run."""
    help_text, add_arguments, run = _TUNING_COMMANDS[command]
    parser = subparsers.add_parser(command, help=help_text)
    if not wanted:
        return
    try:
        from imbsk import tuning
    except ImportError as error:
        # Its options are unknown here; main() lets them through to this message.
        parser.set_defaults(handler=_tuning_unavailable, tuning_error=f"{type(error).__name__}: {error}")
        return
    getattr(tuning, add_arguments)(parser)
    parser.set_defaults(handler=getattr(tuning, run))


def _tuning_unavailable(args: argparse.Namespace) -> int:
    print(f"imbsk {args.command}: tuning is unavailable ({args.tuning_error}).", file=sys.stderr)
    return 1


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``imbsk`` argument parser.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments to be parsed; the options of the ``tune`` and ``evaluate``
        subcommands are loaded from :mod:`imbsk.tuning` only when they name it.
    """
    parser = argparse.ArgumentParser(
        prog="imbsk", description="Neural networks under class imbalance: compare methods, tune hyperparameters, "
        "evaluate configurations over seeds."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="{compare,tune,evaluate}")
    compare = subparsers.add_parser(
        "compare",
        help="compare the paper's techniques with imbalance baselines",
        description="Fit every method for a few seeds on one dataset; print and save mean ± s.e. of "
        "accuracy, balanced accuracy and minority/majority-class accuracy.",
    )
    _add_compare_arguments(compare)
    compare.set_defaults(handler=_run_compare)
    command = next((arg for arg in argv or [] if not str(arg).startswith("-")), None)
    for name in _TUNING_COMMANDS:
        _add_tuning_parser(subparsers, name, wanted=command == name)
    return parser


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------
#: Class counts shown in an error message; more (a continuous column given as --target
#: has one "class" per row) would bury the message under thousands of entries.
MAX_COUNTS_SHOWN = 10


def _counts_text(counts: dict) -> str:
    """``counts`` as a dict literal, cut after :data:`MAX_COUNTS_SHOWN` entries."""
    if len(counts) <= MAX_COUNTS_SHOWN:
        return str(counts)
    shown = ", ".join(f"{label!r}: {n}" for label, n in list(counts.items())[:MAX_COUNTS_SHOWN])
    return f"{{{shown}, ...}} ({len(counts)} classes)"


def _long_tailed(
    X: Any, y: Any, ratio: float, what: str, option: str, rank_by: Any = None
) -> tuple[Any, Any]:
    """Long-tailed subsample of ``(X, y)``; ``rank_by`` gives the labels whose counts rank the classes.

    Without ``rank_by`` the smallest label gets the most samples (make_long_tailed's
    'descending'). With it, the classes are ranked by their counts in ``rank_by``
    (ties and absent classes by label), so that a test set follows the head and tail
    of the training set.
    """
    from imbsk.datasets import make_long_tailed

    class_order: Any = "descending"
    if rank_by is not None:
        classes = np.unique(np.asarray(y))
        reference = label_counts(rank_by)
        counts = np.array([reference.get(python_label(label), 0) for label in classes])
        class_order = classes[np.argsort(-counts, kind="stable")]
    try:
        return make_long_tailed(X, y, ratio, class_order=class_order, random_state=SPLIT_SEED)
    except ValueError as error:
        raise _UsageError(
            f"{option} {ratio} cannot be applied to the {what} ({len(y)} rows, class counts "
            f"{_counts_text(label_counts(y))}): {error}"
        ) from error


def _subsample(X: Any, y: Any, n_rows: int) -> tuple[Any, Any]:
    """``n_rows`` training rows, stratified, with every class kept.

    scikit-learn's stratified split is used when it keeps every class. On a long-tailed
    training set it may not (a small ``train_size`` rounds the rare classes to 0 rows, and
    it refuses classes of one row); then each class keeps one row and the rest of
    ``n_rows`` is shared in proportion to the classes' other rows (largest remainders).
    Fewer rows than classes are refused: a class the model never sees would silently drop
    out of the minority / majority groups, which are taken from the training counts.
    """
    from sklearn.model_selection import train_test_split

    if n_rows >= len(y):
        return X, y
    labels, codes, counts = np.unique(np.asarray(y), return_inverse=True, return_counts=True)
    if n_rows < len(labels):
        raise _UsageError(
            f"--max-train-rows {n_rows} is below the {len(labels)} classes of the training data; every class needs "
            "a row."
        )
    try:
        X_sub, _, y_sub, _ = train_test_split(X, y, train_size=n_rows, stratify=y, random_state=SPLIT_SEED)
        if len(np.unique(np.asarray(y_sub))) == len(labels):
            return X_sub, y_sub
    except ValueError:
        pass
    others = counts - 1
    quota = others * (n_rows - len(labels)) / others.sum()
    extra = np.floor(quota).astype(int)
    leftover = n_rows - len(labels) - int(extra.sum())
    extra[np.argsort(-(quota - extra), kind="stable")[:leftover]] += 1
    rng = np.random.default_rng(SPLIT_SEED)
    rows = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(codes == k), size=1 + int(extra[k]), replace=False) for k in range(len(labels))
    ]))
    return _take_rows(X, rows), _take_rows(y, rows)


def _take_rows(data: Any, rows: np.ndarray) -> Any:
    """Rows of a DataFrame, Series or array, by position."""
    return data.iloc[rows] if hasattr(data, "iloc") else np.asarray(data)[rows]


def _load_csv(path: Path, target: str | None) -> tuple[Any, Any, Any, Any]:
    from sklearn.model_selection import train_test_split

    if target is None:
        raise _UsageError(f"--target is required with a CSV dataset ({path}).")
    try:
        frame = pd.read_csv(path)
    except (OSError, EOFError, zlib.error, pd.errors.ParserError, pd.errors.EmptyDataError,
            UnicodeDecodeError) as error:
        # pandas reads .csv.gz / .zip / .bz2 by extension: a truncated one ends in EOFError (no OSError),
        # which escaped as a traceback; an empty file's "No columns to parse from file" named no file.
        raise _UsageError(f"cannot read {path}: {error}") from error
    if target not in frame.columns:
        raise _UsageError(f"column {target!r} is not in {path}; its columns are: {', '.join(map(str, frame.columns))}.")
    frame = frame[frame[target].notna()]
    X, y = frame.drop(columns=[target]), frame[target]
    if X.shape[1] == 0:
        raise _UsageError(f"{path} has no feature column besides the target {target!r}.")
    counts = label_counts(y)
    if len(counts) < 2:
        raise _UsageError(f"the target {target!r} has a single class: {counts}.")
    if min(counts.values()) < 2:
        raise _UsageError(
            f"a stratified 80/20 split needs at least 2 rows per class of {target!r}; class counts are "
            f"{_counts_text(counts)}."
        )
    try:
        return train_test_split(X, y, test_size=0.2, stratify=y, random_state=SPLIT_SEED)
    except ValueError as error:
        raise _UsageError(f"cannot split {path} 80/20 stratified (class counts {_counts_text(counts)}): {error}") from error


def load_compare_data(args: argparse.Namespace) -> tuple[Any, Any, Any, Any, str]:
    """Train/test split described by the ``compare`` options, and a one-line description.

    Returns
    -------
    X_train, y_train, X_test, y_test, description
    """
    name = args.dataset
    ratio = args.imbalance_ratio
    if name.lower() == "digits-lt":
        from imbsk.datasets import load_digits_lt

        ratio = DIGITS_DEFAULT_RATIO if ratio is None else ratio
        try:
            data = load_digits_lt(ratio, random_state=SPLIT_SEED)
        except ValueError as error:
            raise _UsageError(f"--imbalance-ratio {ratio} is too small for digits-lt: {error}") from error
        X_train, y_train, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
        description = f"digits-lt (imbalance ratio {ratio})"
    elif name.lower() in DATASET_CHOICES:
        from imbsk.datasets import load_dataset

        data = load_dataset(name.lower(), data_home=args.data_home, download=not args.no_download)
        X_train, y_train, X_test, y_test = data.X_train, data.y_train, data.X_test, data.y_test
        description = name.lower()
        if ratio is not None:
            X_train, y_train = _long_tailed(X_train, y_train, ratio, "training split", "--imbalance-ratio", rank_by=y_train)
            description += f" (training imbalance ratio {ratio})"
    elif name.lower().endswith(".csv") or Path(name).is_file():
        path = Path(name)
        if not path.is_file():
            raise _UsageError(f"CSV file {path} does not exist.")
        X_train, X_test, y_train, y_test = _load_csv(path, args.target)
        description = f"{path.name} (target {args.target!r})"
        if ratio is not None:
            X_train, y_train = _long_tailed(X_train, y_train, ratio, "training split", "--imbalance-ratio", rank_by=y_train)
            description += f" (training imbalance ratio {ratio})"
    else:
        raise _UsageError(f"unknown dataset {name!r}; valid datasets are: {', '.join(DATASET_CHOICES)}, or a path to a .csv file.")
    if args.max_train_rows is not None:
        X_train, y_train = _subsample(X_train, y_train, args.max_train_rows)
    if args.test_imbalance_ratio is not None:
        # Ranked by the training counts: ranked by label, a class frequent in training
        # could be made the rarest at test time (the label order is arbitrary for a CSV).
        X_test, y_test = _long_tailed(
            X_test, y_test, args.test_imbalance_ratio, "test split", "--test-imbalance-ratio", rank_by=y_train
        )
        description += f", test imbalance ratio {args.test_imbalance_ratio}"
    return X_train, y_train, X_test, y_test, description


# ---------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------
def _run_compare(args: argparse.Namespace) -> int:
    from imbsk import compare

    methods = compare.validate_methods(args.methods)  # fail before loading any data
    check_output_directory(args.out)
    X_train, y_train, X_test, y_test, description = load_compare_data(args)
    mlp_params: dict[str, Any] = dict(compare.QUICK_MLP_PARAMS) if args.quick else {}
    if args.max_iter is not None:
        mlp_params["max_iter"] = args.max_iter
    if args.class_scaling is not None:
        mlp_params["class_scaling"] = args.class_scaling
    counts = label_counts(y_train)
    print(
        f"Dataset: {description}: {len(y_train)} training rows, {len(y_test)} test rows, "
        f"{len(counts)} classes; training class counts {counts}"
    )
    print(f"Methods: {', '.join(methods)}; seeds: {', '.join(map(str, args.seeds))}")
    with warnings.catch_warnings(record=True) as caught:
        # Collected and printed once each after the progress bar, which they would break up.
        warnings.simplefilter("always")
        results = compare.run_comparison(
            X_train,
            y_train,
            X_test,
            y_test,
            methods,
            args.seeds,
            device=args.device,
            progress=not args.no_progress,
            mlp_params=mlp_params or None,
            errors="warn",
        )
    notes = dict.fromkeys(
        str(warning.message)
        for warning in caught
        if not issubclass(warning.category, (DeprecationWarning, FutureWarning, PendingDeprecationWarning))
    )
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    summary = compare.summarize(results)
    print()
    print(compare.format_table(summary))
    paths = compare.write_report(results, summary, args.out, title=f"imbsk compare: {description}")
    print()
    print(f"Results written to {Path(args.out).resolve()}:")
    for path in paths.values():
        print(f"  {path.name}")
    # Failed runs were reported by their warnings above and show as 'failed' or fewer runs.
    return 1 if results["error"].notna().all() else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``imbsk`` command.

    Like the command, a call sets glibc's malloc thresholds for the whole process, for good
    (:func:`imbsk.training.allocator.retain_freed_cpu_memory`: the same results, freed memory kept
    for reuse); it changes no other process-wide setting.

    Parameters
    ----------
    argv : sequence of str, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 when nothing could be run, 2 for bad input.
    """
    # A process that trains: keep freed tensor memory for reuse (see imbsk.training.allocator).
    retain_freed_cpu_memory()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args, unknown = parser.parse_known_args([str(arg) for arg in argv])
    if unknown and getattr(args, "handler", None) is not _tuning_unavailable:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return int(args.handler(args))
    except (_UsageError, ValueError, OSError) as error:
        # OSError: a path the user gave that is missing, a directory where a file is
        # expected (or the reverse), or unwritable; one line, not a traceback.
        print(f"imbsk {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
