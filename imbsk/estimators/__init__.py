"""scikit-learn estimators."""

from imbsk.estimators.mlp import ImbalancedMLPClassifier

__all__ = ["ImbalancedMLPClassifier"]
