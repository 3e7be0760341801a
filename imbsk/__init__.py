"""imbsk: neural networks that train well on class-imbalanced data, with scikit-learn's face.

Implements "Simplifying Neural Network Training Under Class Imbalance"
(Shwartz-Ziv, Goldblum, Li, Bruss, Wilson; NeurIPS 2023): SAM-A,
class-conditional label smoothing and Joint-SSL, as scikit-learn estimators
trained by skorch.
"""

from imbsk.estimators.cnn import ImbalancedCNNClassifier
from imbsk.estimators.mlp import ImbalancedMLPClassifier

__version__ = "0.1.0"
__all__ = ["ImbalancedCNNClassifier", "ImbalancedMLPClassifier", "__version__"]
