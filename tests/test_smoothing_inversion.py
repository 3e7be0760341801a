"""Inverting class-conditional smoothing: the formula, and ``invert_smoothing`` in the estimators."""

import os
import warnings
from pathlib import Path

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
    assert torch.allclose(unsmoothed_probabilities(expected, EPS, floor_fraction=0.0), posterior, atol=1e-12)
    # The floor only lifts classes whose posterior lies below f * p_j: the others keep their ratios.
    floored = unsmoothed_probabilities(expected, EPS)
    lifted = posterior < 0.05 * expected
    assert bool(lifted.any()) and bool((~lifted).any())
    kept = ~lifted.any(dim=1)
    assert torch.allclose(floored[kept], posterior[kept], atol=1e-12)


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


def test_values_below_the_smoothing_level_are_clipped_without_a_floor():
    p = torch.tensor([[0.99, 0.007, 0.003]], dtype=torch.float64)  # c = 0.0137: classes 1 and 2 fall below it
    recovered = unsmoothed_probabilities(p, EPS, floor_fraction=0.0)
    assert recovered.tolist() == [[1.0, 0.0, 0.0]]


def test_the_floor_keeps_a_fraction_of_the_network_probability():
    p = torch.tensor([[0.99, 0.007, 0.003]], dtype=torch.float64)
    # u = (a_0 (0.99 - c), <0, <0) clipped to (u_0, 0, 0), then lifted to (u_0, 0.1 * 0.007, 0.1 * 0.003)
    scale = 1 / (1 - EPS)
    level = ((p * scale).sum() - 1) / scale.sum()
    lifted = torch.tensor([[scale[0].item() * (0.99 - level.item()), 0.0007, 0.0003]], dtype=torch.float64)
    recovered = unsmoothed_probabilities(p, EPS, floor_fraction=0.1)
    assert torch.allclose(recovered, lifted / lifted.sum(), atol=1e-15)


def test_the_floor_is_capped_at_one_over_k_and_never_moves_the_argmax():
    p = _posteriors(n=2000, k=4, seed=3)
    eps = torch.tensor([0.05, 0.1, 0.3, 0.6], dtype=torch.float64)
    exact = unsmoothed_probabilities(p, eps, floor_fraction=0.0)
    for fraction in (0.05, 0.25, 1.0):
        floored = unsmoothed_probabilities(p, eps, floor_fraction=fraction)
        assert torch.equal(floored.argmax(1), exact.argmax(1))
        assert bool((floored > 0).all())
        assert torch.allclose(floored.sum(1), torch.ones(len(p), dtype=torch.float64), atol=1e-12)
    np.testing.assert_array_equal(
        unsmoothed_probabilities(p, eps, floor_fraction=1.0), unsmoothed_probabilities(p, eps, floor_fraction=0.25)
    )


def test_float32_input_keeps_its_dtype():
    p = _posteriors().float()
    assert unsmoothed_probabilities(p, EPS).dtype == torch.float32


def test_rejects_saturated_or_misshaped_eps():
    p = _posteriors()
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        unsmoothed_probabilities(p, torch.tensor([0.1, 1.0, 0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="shape"):
        unsmoothed_probabilities(p, torch.tensor([0.1, 0.1], dtype=torch.float64))
    with pytest.raises(ValueError, match="floor_fraction"):
        unsmoothed_probabilities(p, EPS, floor_fraction=-0.1)


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
    assert (proba > 0).all()  # the floor: no class is declared impossible
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


def test_switching_after_fit_follows_the_loss_the_network_was_trained_with(imbalanced):
    """At prediction the inversion is checked against the loss of the fit, not a loss set_params set since."""
    X, y = imbalanced
    params = dict(max_iter=1, class_smoothing_eps=0.2, random_state=0, **FAST)
    focal = ImbalancedMLPClassifier(loss="focal", **params).fit(X, y)
    # A focal model does not estimate the smoothed target: naming the cross-entropy now does not make it one.
    focal.set_params(loss="cross_entropy", invert_smoothing=True)
    for predict in (focal.predict_proba, focal.predict, focal.predict_log_proba):
        with pytest.raises(ValueError, match="trained with loss='focal'"):
            predict(X[:5])
    # A cross-entropy model stays invertible whatever loss is set for a next fit.
    inverted = ImbalancedMLPClassifier(invert_smoothing=True, **params).fit(X, y)
    expected = inverted.predict_proba(X)
    np.testing.assert_array_equal(inverted.set_params(loss="ldam").predict_proba(X), expected)


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
    # Switched on after a fit without it, the inversion is refused at prediction for the same reason.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the saturated case warns that eps_c = 1
        clf.set_params(invert_smoothing=False).fit(X, y)
    clf.set_params(invert_smoothing=True)
    for predict in (clf.predict_proba, clf.predict, clf.predict_log_proba):
        with pytest.raises(ValueError, match="invert_smoothing") as error:
            predict(X[:5])
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


SHARED_DATA = Path(os.environ.get("IMBSK_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.mark.skipif(not (SHARED_DATA / "adult.csv.gz").is_file(), reason="Adult file not available")
def test_floor_script_scores_what_switching_the_fitted_model_predicts(tmp_path):
    """examples/unsmoothing_floor.py on a stored model equals set_params(invert_smoothing=True) on the same fit."""
    import runpy

    from imbsk import tuning

    script = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "unsmoothing_floor.py"))
    params = {**FAST, "class_smoothing_eps": 0.2, "batch_size": 128}
    params.pop("device")
    kwargs = dict(data_home=str(SHARED_DATA), max_epochs=2, max_train_rows=600)
    results = tuning.evaluate("adult", "mlp_sam_ls", params, seeds=[0], predictions_dir=tmp_path, **kwargs)
    (member,) = tmp_path.glob("adult-mlp_sam_ls-*-seed0.npz")
    scores = script["score_members"]([member], [0.0, 0.05], data_home=str(SHARED_DATA))
    assert set(scores) == {"raw", "f = 0", "f = 0.05"}
    raw = scores["raw"][0]
    assert raw[2] == pytest.approx(results.loc[0, "test_accuracy"], abs=1e-12)
    assert raw[3] == pytest.approx(results.loc[0, "test_log_loss"], abs=1e-9)

    data = tuning.load_split("adult", data_home=str(SHARED_DATA), max_train_rows=600)
    estimator = tuning.fitting._fit_model("mlp_sam_ls", params, data, seed=0, device="cpu", max_epochs=2).estimator
    estimator.set_params(invert_smoothing=True)
    proba = estimator.predict_proba(data.X_test)
    floored = scores["f = 0.05"][0]
    assert floored[2] == pytest.approx(np.mean(estimator.predict(data.X_test) == np.asarray(data.y_test)), abs=1e-12)
    assert floored[3] == pytest.approx(log_loss(data.y_test, proba, labels=estimator.classes_), abs=1e-9)
    assert floored[3] < raw[3]  # undoing the smoothing sharpens the probabilities
    with pytest.raises(ValueError, match="inverted already"):
        inverted = tuning.evaluate("adult", "mlp_sam_ls", {**params, "invert_smoothing": True}, seeds=[0],
                                   predictions_dir=tmp_path / "inverted", **kwargs)
        assert len(inverted) == 1
        script["score_members"](list((tmp_path / "inverted").glob("*.npz")), [0.05], data_home=str(SHARED_DATA))


def test_a_model_pickled_before_invert_smoothing_existed_still_predicts(imbalanced):
    import pickle

    X, y = imbalanced
    clf = _fit(X, y)
    expected = clf.predict_proba(X)
    old = pickle.loads(pickle.dumps(clf))
    del old.invert_smoothing, old.class_smoothing_eps_  # what an older imbsk pickled
    restored = pickle.loads(pickle.dumps(old))
    assert restored.invert_smoothing is False
    np.testing.assert_allclose(restored.class_smoothing_eps_, clf.class_smoothing_eps_)
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    restored.set_params(invert_smoothing=True)  # and it can be switched like a new one
    np.testing.assert_allclose(restored.predict_proba(X), clf.set_params(invert_smoothing=True).predict_proba(X))
