"""PyTorch modules: the tabular MLP with numerical embeddings (optionally a parameter-efficient ensemble,
:mod:`imbsk.models.ensemble`), CIFAR ResNets / WideResNets, the SSL projector."""

from imbsk.models.projector import Projector
from imbsk.models.tabular import TabularMLP, piecewise_bins

__all__ = ["Projector", "TabularMLP", "piecewise_bins"]
