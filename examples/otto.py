"""Tune and evaluate XGBoost, MLP-PLR and MLP-PLR + SAM-A + smoothing on Otto Group Product Classification (9 classes).

Each model is tuned with Optuna (TPE) on the validation accuracy, then its best
configuration is retrained with seeds 0..K-1 and scored on the test split
(accuracy, minority- and majority-class accuracy, mean ± standard error).
See :mod:`imbsk.tuning` for the search spaces and docs/benchmarks.md for results.

Example::

    python examples/otto.py --n-trials 15 --xgb-trials 30 --seeds 5 --max-epochs 20 \\
        --data-home /work/shared/data --storage sqlite:///otto.db --out results-otto

Run it again with the same --storage to add trials to the same studies; several
copies (or machines, with a postgresql:// storage) can tune at once.

Without ``otto_train.csv.gz`` (Kaggle's train.csv, gzip-compressed) in
--data-home, the loader fetches OpenML dataset 45548 and keeps it only if it is
byte-for-byte Kaggle's file once rewritten in that layout (see ``load_otto``).
"""

import sys

from imbsk.tuning import benchmark_main

if __name__ == "__main__":
    sys.exit(benchmark_main("otto"))
