"""skorch's own callbacks in the estimators' ``callbacks``: those that work, and those refused because the fit
would silently override them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from skorch.callbacks import BatchScoring, Checkpoint, EarlyStopping, EpochScoring, LRScheduler

from imbsk import ImbalancedMLPClassifier

FAST = dict(hidden_layer_sizes=(16,), d_embedding=4, n_frequencies=4, batch_size=64, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=300, n_features=5, n_informative=3, weights=[0.8, 0.2], random_state=0)


@pytest.mark.parametrize("callback", [
    LRScheduler("StepLR", step_size=1, gamma=0.1),
    ("steps", LRScheduler),
    EarlyStopping(load_best=True),
    Checkpoint(load_best=True),
])
def test_callbacks_the_fit_would_override_are_refused(data, callback):
    # imbsk's warm-up + cosine sets every group's learning rate before each batch, and the weights kept after fit
    # are imbsk's (its early stopping's best epoch, the EMA copy): these would be overwritten without a word.
    X, y = data
    with pytest.raises(ValueError, match="would be overridden"):
        ImbalancedMLPClassifier(max_iter=1, callbacks=[callback], **FAST).fit(X, y)


def test_early_stopping_and_checkpoint_without_load_best_still_run(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), f_optimizer=None, f_criterion=None, f_history=None)
    clf = ImbalancedMLPClassifier(max_iter=3, callbacks=[EarlyStopping(patience=5), checkpoint], **FAST).fit(X, y)
    assert clf.n_iter_ == 3 and (tmp_path / "params.pt").is_file()
