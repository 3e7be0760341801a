"""Train ImbalancedCNNClassifier on CIFAR-10-LT (or long-tailed digits) and compare imbalance methods.

For every imbalance ratio, method and seed the script trains one network on the
long-tailed training set, evaluates it on the balanced test set and prints the
accuracy, balanced accuracy and the minority / majority accuracy (mean accuracy
of the 20% of classes with the fewest / most training images, as in the paper),
with the training time. All rows are written to a CSV file, rewritten after every fit so that a
run stopped part-way keeps the rows it finished.

Exit status 0; 2 when the data is not available (CIFAR-10: no archive in --data-home and
the download failed).

Methods (all share the paper's training recipe of :class:`ImbalancedCNNClassifier`):

* ``erm`` -- plain cross-entropy;
* ``sam_a``, ``smoothing``, ``joint_ssl`` -- one of the paper's techniques;
* ``combined`` -- SAM-A + class-conditional smoothing + Joint-SSL;
* baselines: ``reweighting``, ``resampling``, ``drw`` (re-weighting from 80% of the
  epochs, Cao et al. 2019, here with ``'balanced'`` weights), ``focal``, ``ldam_drw``
  (Cao et al.'s LDAM with DRW and their effective-number weights).

Examples::

    # CPU, offline, under a minute: scikit-learn's digits made long-tailed
    python examples/cifar10_lt.py --dataset digits --epochs 5 --methods erm,combined --threads 1

    # CIFAR-10-LT on a GPU (downloads the 163 MB archive unless --data-home has it)
    python examples/cifar10_lt.py --imbalance-ratio 0.01 0.02 --methods erm,combined \\
        --epochs 200 --architecture resnet32 --seeds 0 1 2 --device cuda
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections import defaultdict
from typing import Any

import numpy as np
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from imbsk.datasets import load_digits_lt
from imbsk.datasets.cifar import load_cifar10_lt
from imbsk.estimators.cnn import ImbalancedCNNClassifier
from imbsk.metrics import majority_accuracy, minority_accuracy
from imbsk.training.allocator import retain_freed_cpu_memory

COLUMNS = [
    "dataset", "imbalance_ratio", "method", "seed", "architecture", "augmentation", "mixing", "epochs", "n_train",
    "accuracy", "balanced_accuracy", "minority_accuracy", "majority_accuracy", "fit_seconds", "device",
]


def method_params(name: str, epochs: int) -> dict[str, Any]:
    """Estimator parameters of a method; DRW switches re-weighting on at 80% of the epochs."""
    drw_epoch = max(1, int(0.8 * epochs))
    methods: dict[str, dict[str, Any]] = {
        "erm": {},
        "sam_a": dict(sam_asymmetric_rho=0.05),
        "smoothing": dict(class_smoothing_eps=0.05),
        "joint_ssl": dict(joint_ssl_weight=0.1),
        "combined": dict(sam_asymmetric_rho=0.05, class_smoothing_eps=0.05, joint_ssl_weight=0.1),
        "reweighting": dict(class_weight="balanced"),
        "resampling": dict(resampling="balanced"),
        "drw": dict(class_weight="balanced", drw_epoch=drw_epoch),
        "focal": dict(loss="focal"),
        "ldam_drw": dict(loss="ldam", class_weight="effective_number", drw_epoch=drw_epoch),
    }
    if name not in methods:
        raise SystemExit(f"Unknown method {name!r}; choose from {', '.join(methods)}.")
    return methods[name]


def load(dataset: str, ratio: float, data_home: str | None):
    if dataset == "digits":
        return load_digits_lt(ratio, as_images=True, random_state=0)
    return load_cifar10_lt(ratio, data_home=data_home, random_state=0)


def write_rows(output: str, rows: list[dict[str, Any]]) -> None:
    """(Re)write the CSV file with every row so far."""
    with open(output, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["cifar10", "digits"], default="cifar10")
    parser.add_argument("--imbalance-ratio", type=float, nargs="+", default=[0.01, 0.02],
                        help="ratio of the rarest to the most frequent class (default: 0.01 0.02)")
    parser.add_argument("--methods", default="erm,combined", help="comma-separated methods (default: erm,combined)")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--architecture", default=None,
                        help="resnet{6n+2} or wrn{6n+4}_{k}; default resnet32 (cifar10), resnet8 (digits)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--augmentation", default=None, choices=["none", "flip_crop", "trivialaugment", "autoaugment"],
                        help="default trivialaugment (cifar10, the paper's recipe), none (digits)")
    parser.add_argument("--mixing", default=None, choices=["cutmix", "mixup", "none"],
                        help="default cutmix (cifar10, the paper's recipe), none (digits)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (checked by the estimator)")
    parser.add_argument("--data-home", default=None, help="directory holding cifar-10-python.tar.gz")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--output", default=None, help="CSV file (default: <dataset>_lt_results.csv)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (1 is often fastest for the small digits models)")
    parser.add_argument("--verbose", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None and args.threads < 1:
        raise SystemExit(f"--threads must be a positive number of threads; got {args.threads}.")
    retain_freed_cpu_memory()  # a process that trains (see imbsk.training.allocator)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    digits = args.dataset == "digits"
    architecture = args.architecture or ("resnet8" if digits else "resnet32")
    # 8x8 digits are too small for the CIFAR policies (and flips change digits): no augmentation there by default.
    augmentation = args.augmentation or ("none" if digits else "trivialaugment")
    mixing = args.mixing or ("none" if digits else "cutmix")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods:
        raise SystemExit(f"--methods names no method: {args.methods!r}.")
    for name in methods:
        method_params(name, args.epochs)  # fail fast on a typo
    output = args.output or f"{args.dataset}_lt_results.csv"
    rows: list[dict[str, Any]] = []
    header = f"{'r':>6} {'method':<12} {'seed':>4} {'acc':>6} {'bal':>6} {'min':>6} {'maj':>6} {'sec':>8}"
    print(header)
    for ratio in args.imbalance_ratio:
        try:
            data = load(args.dataset, ratio, args.data_home)
        except FileNotFoundError as error:  # the loader's message says where to put the archive
            print(f"The {args.dataset} data is not available, so nothing was run.\n{error}", file=sys.stderr)
            return 2
        counts = dict(zip(range(len(data.class_counts)), data.class_counts.tolist()))
        for name in methods:
            for seed in args.seeds:
                clf = ImbalancedCNNClassifier(
                    architecture,
                    augmentation=augmentation,
                    mixing=None if mixing == "none" else mixing,
                    batch_size=args.batch_size,
                    max_iter=args.epochs,
                    device=args.device,
                    random_state=seed,
                    verbose=args.verbose,
                    **method_params(name, args.epochs),
                )
                started = time.perf_counter()
                clf.fit(data.X_train, data.y_train)
                seconds = time.perf_counter() - started
                predicted = clf.predict(data.X_test)
                row = dict(
                    dataset=args.dataset, imbalance_ratio=ratio, method=name, seed=seed, architecture=architecture,
                    augmentation=augmentation, mixing=mixing,
                    epochs=args.epochs, n_train=len(data.y_train),
                    accuracy=accuracy_score(data.y_test, predicted),
                    balanced_accuracy=balanced_accuracy_score(data.y_test, predicted),
                    minority_accuracy=minority_accuracy(data.y_test, predicted, class_counts=counts),
                    majority_accuracy=majority_accuracy(data.y_test, predicted, class_counts=counts),
                    fit_seconds=seconds, device=str(clf.net_.device),
                )
                rows.append(row)
                print(
                    f"{ratio:>6g} {name:<12} {seed:>4} {row['accuracy']:>6.3f} {row['balanced_accuracy']:>6.3f} "
                    f"{row['minority_accuracy']:>6.3f} {row['majority_accuracy']:>6.3f} {seconds:>8.1f}",
                    flush=True,
                )
                # After every fit: a GPU run of hours that dies in a later fit (out of memory, Ctrl-C)
                # used to leave no file at all, the CSV being written once at the end.
                write_rows(output, rows)

    groups: dict[tuple[float, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["imbalance_ratio"], row["method"])].append(row)
    print("\nmean ± standard error over seeds")
    for (ratio, name), group in groups.items():
        cells = []
        for key in ("accuracy", "minority_accuracy", "majority_accuracy"):
            values = np.array([g[key] for g in group], dtype=float)
            cell = f"{key.split('_')[0]} {values.mean():.3f}"
            if len(values) > 1:  # one seed has no standard error
                cell += f" ± {values.std(ddof=1) / math.sqrt(len(values)):.3f}"
            cells.append(cell)
        print(f"r={ratio:g} {name:<12} " + ", ".join(cells))
    print(f"\nwrote {len(rows)} rows to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
