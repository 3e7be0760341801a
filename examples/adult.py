"""Tune and evaluate XGBoost, MLP-PLR and MLP-PLR + SAM-A + smoothing on UCI Adult (binary, ~3.2:1 imbalance).

Each model is tuned with Optuna (TPE) on the validation accuracy, then its best
configuration is retrained with seeds 0..K-1 and scored on the test split
(accuracy, minority- and majority-class accuracy, mean ± standard error).
See :mod:`imbsk.tuning` for the search spaces and docs/benchmarks.md for results.

Example::

    python examples/adult.py --n-trials 15 --xgb-trials 30 --seeds 5 --max-epochs 20 \\
        --data-home /work/shared/data --storage sqlite:///adult.db --out results-adult

Run it again with the same --storage to add trials to the same studies; several
copies (or machines, with a postgresql:// storage) can tune at once. Give each
rerun and each copy its own --seed (the studies' sampler seed), or they replay
the same random start-up trials. The seed is also the model seed each of their
trials trains with (the final evaluation always uses seeds 0..K-1), so trials of
different copies are scored on different model seeds.
"""

import sys

from imbsk.tuning import benchmark_main

if __name__ == "__main__":
    sys.exit(benchmark_main("adult"))
