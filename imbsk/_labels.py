"""Class labels as plain Python values, for dict keys and messages (the CLI and imbsk.compare)."""

from __future__ import annotations

from typing import Any

import numpy as np


def python_label(label: Any) -> Any:
    """``label`` as a Python scalar (``np.int64(3)`` -> ``3``); other values unchanged.

    A numpy scalar prints as ``np.int64(3)`` in a dict since numpy 2; a Python one as ``3``.
    """
    return label.item() if isinstance(label, np.generic) else label


def label_counts(y: Any) -> dict:
    """``{label: number of rows}`` of ``y``, labels sorted, as Python scalars."""
    labels, counts = np.unique(np.asarray(y), return_counts=True)
    return {python_label(label): int(n) for label, n in zip(labels, counts)}
