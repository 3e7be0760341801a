"""Data sets: the embedded digits-LT default, the long-tail builder and the tabular benchmark loaders."""

from imbsk.datasets.cifar import load_cifar10, load_cifar10_lt
from imbsk.datasets.digits import load_digits_lt
from imbsk.datasets.long_tail import long_tailed_counts, make_long_tailed
from imbsk.datasets.tabular import DATASETS, load_adult, load_covertype, load_dataset, load_otto

__all__ = [
    "DATASETS",
    "load_adult",
    "load_cifar10",
    "load_cifar10_lt",
    "load_covertype",
    "load_dataset",
    "load_digits_lt",
    "load_otto",
    "long_tailed_counts",
    "make_long_tailed",
]
