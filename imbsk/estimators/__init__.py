"""scikit-learn estimators."""

from imbsk.estimators.cnn import ImbalancedCNNClassifier
from imbsk.estimators.mlp import ImbalancedMLPClassifier

__all__ = ["ImbalancedCNNClassifier", "ImbalancedMLPClassifier"]
