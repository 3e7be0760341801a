"""Inverting class-conditional smoothing: the formula, and ``invert_smoothing`` in the estimators."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss

from imbsk import ImbalancedMLPClassifier
from imbsk.techniques.label_smoothing import smoothed_targets, unsmoothed_probabilities

FAST = dict(hidden_layer_sizes=(32,), d_embedding=8, n_frequencies=8, batch_size=32, device="cpu")
EPS = torch.tensor([0.05, 0.2, 0.45], dtype=torch.float64)


def _posteriors(n=200, k=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.softmax(3.0 * torch.randn(n, k, generator=gen, dtype=torch.float64), dim=1)


def test_inverts_the_expected_smoothed_target_exactly():
    posterior = _posteriors()
    # E[q_j | x] = sum_y P(y | x) q_{y,j}: the expected target, built from the training targets themselves.
    targets = smoothed_targets(torch.arange(3), 3, EPS, dtype=torch.float64)  # row y = q_{y, .}
    expected = posterior @ targets
    assert torch.allclose(unsmoothed_probabilities(expected, EPS), posterior, atol=1e-12)


def test_hand_values_binary():
    # eps = (0.1, 0.3), P = (0.6, 0.4): c = (0.1 * 0.6 + 0.3 * 0.4) / 2 = 0.09, p = (0.9 * 0.6 + c, 0.7 * 0.4 + c)
    p = torch.tensor([[0.63, 0.37]], dtype=torch.float64)
    recovered = unsmoothed_probabilities(p, torch.tensor([0.1, 0.3], dtype=torch.float64))
    assert torch.allclose(recovered, torch.tensor([[0.6, 0.4]], dtype=torch.float64), atol=1e-12)


def test_uniform_eps_keeps_the_argmax_and_sharpens():
    p = _posteriors(seed=1) * 0.8 + 0.2 / 3  # plain smoothing, eps = 0.2
    recovered = unsmoothed_probabilities(p, torch.full((3,), 0.2, dtype=torch.float64))
    assert torch.equal(recovered.argmax(1), p.argmax(1))
    assert bool((recovered.max(1).values >= p.max(1).values - 1e-12).all())


def test_zero_eps_is_the_identity():
    p = _posteriors(seed=2)
    assert torch.allclose(unsmoothed_probabilities(p, torch.zeros(3, dtype=torch.float64)), p, atol=1e-15)


def test_minority_class_gets_its_share_back():
    # Equal network probabilities, class 2 smoothed most: undoing its smoothing makes it the argmax.
    p = torch.full((1, 3), 1 / 3, dtype=torch.float64)
    assert unsmoothed_probabilities(p, EPS).argmax().item() == 2


def test_values_below_the_floor_are_clipped_and_rows_sum_to_one():
    p = torch.tensor([[0.99, 0.007, 0.003]], dtype=torch.float64)  # c = 0.0137: classes 1 and 2 fall below it
    recovered = unsmoothed_probabilities(p, EPS)
    assert bool((recovered >= 0).all())
    assert recovered[0, 1].item() == 0.0 and recovered[0, 2].item() == 0.0
    assert recovered.sum().item() == pytest.approx(1.0, abs=1e-12)


def test_float32_input_keeps_its_dtype():
    p = _posteriors().float()
    assert unsmoothed_probabilities(p, EPS).dtype == torch.float32


def test_rejects_saturated_or_misshaped_eps():
    p = _posteriors()
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        unsmoothed_probabilities(p, torch.tensor([0.1, 1.0, 0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="shape"):
        unsmoothed_probabilities(p, torch.tensor([0.1, 0.1], dtype=torch.float64))


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=600, n_features=8, n_informative=5, n_classes=3, weights=[0.7, 0.2, 0.1], random_state=0
    )
    return X, y


def _fit(X, y, **params):
    return ImbalancedMLPClassifier(max_iter=6, random_state=0, class_smoothing_eps=0.2, **FAST, **params).fit(X, y)


def test_estimator_inverts_its_own_probabilities(imbalanced):
    X, y = imbalanced
    plain = _fit(X, y)
    inverted = _fit(X, y, invert_smoothing=True)  # early stopping on the loss: the same network
    eps = torch.as_tensor(plain.class_smoothing_eps_)
    expected = unsmoothed_probabilities(torch.as_tensor(plain.predict_proba(X)), eps).numpy()
    proba = inverted.predict_proba(X)
    np.testing.assert_allclose(proba, expected, atol=1e-12)
    np.testing.assert_array_equal(inverted.predict(X), inverted.classes_[proba.argmax(1)])
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(inverted.predict_log_proba(X), np.log(proba))
    # Smoothing flattens the probabilities; undoing it fits the training labels' likelihood better.
    assert log_loss(y, proba) < log_loss(y, plain.predict_proba(X))


def test_switching_after_fit_inverts_the_trained_network(imbalanced):
    X, y = imbalanced
    clf = _fit(X, y)
    raw = clf.predict_proba(X)
    clf.set_params(invert_smoothing=True)
    eps = torch.as_tensor(clf.class_smoothing_eps_)
    inverted = unsmoothed_probabilities(torch.as_tensor(raw), eps).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), inverted)
    clf.set_params(class_smoothing_eps=0.0)  # the fitted eps_c decide, not the parameter
    np.testing.assert_allclose(clf.predict_proba(X), inverted)
    clf.set_params(invert_smoothing=False)
    np.testing.assert_array_equal(clf.predict_proba(X), raw)


def test_class_smoothing_eps_attribute_follows_the_rule(imbalanced):
    X, y = imbalanced
    counts = np.bincount(y)
    clf = _fit(X, y, invert_smoothing=True)
    np.testing.assert_allclose(clf.class_smoothing_eps_, 0.2 * np.sqrt(counts.max() / counts))
    off = ImbalancedMLPClassifier(max_iter=1, random_state=0, **FAST).fit(X, y)
    np.testing.assert_array_equal(off.class_smoothing_eps_, np.zeros(3))


def test_without_smoothing_the_switch_changes_nothing(imbalanced):
    X, y = imbalanced
    base = dict(max_iter=3, random_state=0, **FAST)
    a = ImbalancedMLPClassifier(**base).fit(X, y).predict_proba(X)
    b = ImbalancedMLPClassifier(invert_smoothing=True, **base).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_early_stopping_accuracy_scores_the_inverted_predictions(imbalanced):
    X, y = imbalanced
    X_train, y_train, X_val, y_val = X[:450], y[:450], X[450:], y[450:]
    clf = ImbalancedMLPClassifier(
        max_iter=40, n_iter_no_change=4, learning_rate_init=0.3, early_stopping_metric="accuracy",
        class_smoothing_eps=0.2, invert_smoothing=True, ema_decay=None, random_state=0, **FAST,
    ).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    # The inversion changes some validation predictions, so a raw-argmax score would not match below.
    assert np.sum(clf._logits(X_val).argmax(1).numpy() != np.searchsorted(clf.classes_, clf.predict(X_val))) > 0
    valid_acc = clf.history_[:, "valid_acc"]
    best = int(np.argmax(valid_acc))
    assert np.mean(clf.predict(X_val) == y_val) == pytest.approx(valid_acc[best], abs=1e-12)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(loss="focal"), "cross_entropy"),
        (dict(loss="ldam"), "cross_entropy"),
        (dict(class_scaling="inverse_frequency", class_smoothing_eps=0.5), "below 1"),
    ],
)
def test_errors_name_the_parameter(imbalanced, params, message):
    X, y = imbalanced
    params = {"class_smoothing_eps": 0.2, **params}
    clf = ImbalancedMLPClassifier(max_iter=1, invert_smoothing=True, random_state=0, **FAST, **params)
    with pytest.raises(ValueError, match="invert_smoothing") as error:
        clf.fit(X, y)
    assert message in str(error.value)


def test_rejects_a_non_boolean(imbalanced):
    X, y = imbalanced
    with pytest.raises(ValueError, match="invert_smoothing"):
        ImbalancedMLPClassifier(invert_smoothing="yes", max_iter=1, **FAST).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_early_stopping_accuracy_scores_the_inverted_predictions(imbalanced):
    X, y = imbalanced
    X_train, y_train, X_val, y_val = X[:450], y[:450], X[450:], y[450:]
    clf = ImbalancedMLPClassifier(
        max_iter=10, n_iter_no_change=4, learning_rate_init=0.3, early_stopping_metric="accuracy",
        class_smoothing_eps=0.2, invert_smoothing=True, ema_decay=None, random_state=0, **{**FAST, "device": "cuda"},
    ).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    valid_acc = clf.history_[:, "valid_acc"]
    # GPU kernels may differ with the batch size (validation batches vs one prediction batch): one row may flip.
    assert np.mean(clf.predict(X_val) == y_val) == pytest.approx(max(valid_acc), abs=1.5 / len(y_val))
