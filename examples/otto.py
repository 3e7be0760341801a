"""Tune and evaluate XGBoost, MLP-PLR and MLP-PLR + SAM-A + smoothing on Otto Group Product Classification (9 classes).

Each model is tuned with Optuna (TPE) on the validation accuracy, then its best
configuration is retrained with seeds 0..K-1 and scored on the test split
(accuracy, minority- and majority-class accuracy, mean ± standard error).
See :mod:`imbsk.tuning` for the search spaces and docs/benchmarks.md for results.

Example::

    python examples/otto.py --n-trials 15 --xgb-trials 30 --seeds 5 --max-epochs 20 \\
        --data-home /work/shared/data --storage sqlite:///otto.db --out results-otto

Run it again with the same --storage to add trials to the same studies; several
copies (or machines, with a postgresql:// storage) can tune at once. Give each
rerun and each copy its own --seed (the studies' sampler seed), or they replay
the same random start-up trials. The seed is also the model seed each of their
trials trains with (the final evaluation always uses seeds 0..K-1), so trials of
different copies are scored on different model seeds.

The script reads ``otto_train.csv.gz`` (Kaggle's train.csv, gzip-compressed) from
--data-home (else $IMBSK_DATA) and never downloads. To fetch it, run
``imbsk.datasets.load_otto(data_home=DIR)`` once: it downloads OpenML dataset 45548
and keeps it only if it is byte-for-byte Kaggle's file once rewritten in that
layout.
"""

import sys

from imbsk.tuning import benchmark_main

if __name__ == "__main__":
    sys.exit(benchmark_main("otto"))
