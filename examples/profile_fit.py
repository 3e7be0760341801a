"""Time (or profile) the MLP-PLR fit on 5,000 rows of Adult used in docs/performance.md.

The configuration is the benchmark's tuned Adult model, for 2 epochs, with and without
SAM-A, at batch 32 and 256, and with Joint-SSL (``joint_ssl_weight=0.1``):

    OMP_NUM_THREADS=1 python examples/profile_fit.py --repeats 5
    OMP_NUM_THREADS=1 python examples/profile_fit.py --profile sam_b32      # cProfile, top functions
    OMP_NUM_THREADS=1 python examples/profile_fit.py --save-proba DIR       # predict_proba per config, for
                                                                            # bitwise before/after checks

Each repeat runs every configuration once (interleaved); the median is printed.
"""

from __future__ import annotations

import argparse
import time

import torch

from _timing import print_medians, profile_one, time_interleaved

from imbsk import ImbalancedMLPClassifier
from imbsk.datasets import load_adult

BASE = dict(
    hidden_layer_sizes=(160, 160), d_embedding=40, n_frequencies=80, frequency_init_scale=12.1, dropout=0.377,
    batch_size=32, sam_asymmetric_rho=0.0179, class_smoothing_eps=0.0747, ema_decay=0.999, max_iter=2,
    random_state=0, device="cpu",
)
CONFIGS = {
    "sam_b32": {},
    "erm_b32": {"sam_asymmetric_rho": 0.0},
    "sam_b256": {"batch_size": 256},
    "erm_b256": {"sam_asymmetric_rho": 0.0, "batch_size": 256},
    "sam_ssl_b32": {"joint_ssl_weight": 0.1},
    "erm_ssl_b32": {"sam_asymmetric_rho": 0.0, "joint_ssl_weight": 0.1},
}


def fit(name: str, X, y) -> tuple[ImbalancedMLPClassifier, float]:
    clf = ImbalancedMLPClassifier(**{**BASE, **CONFIGS[name]})
    started = time.perf_counter()
    clf.fit(X, y)
    return clf, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated configurations to time (default: all of {', '.join(CONFIGS)})")
    parser.add_argument("--repeats", type=int, default=3, help="fits per configuration; the median is reported")
    parser.add_argument("--profile", choices=list(CONFIGS), help="run one configuration under cProfile instead")
    parser.add_argument("--save-proba", metavar="DIR", help="save each configuration's predict_proba here")
    args = parser.parse_args()
    unknown = [name for name in args.configs.split(",") if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown --configs {unknown}; choose from {', '.join(CONFIGS)}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    torch.set_num_threads(1)
    adult = load_adult(data_home=args.data_home)
    X, y, X_test = adult.X_train.iloc[:5000], adult.y_train.iloc[:5000], adult.X_test.iloc[:2000]
    fit("sam_b32", X.iloc[:500], y.iloc[:500])  # warm-up
    if args.profile:
        profile_one(fit, args.profile, X, y, top=25)
        return
    names = args.configs.split(",")
    times = time_interleaved(fit, names, X, y, X_test, args.repeats, args.save_proba)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); median of {args.repeats}")
    print_medians(times, width=12)

if __name__ == "__main__":
    main()
