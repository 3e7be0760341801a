"""ImbalancedMLPClassifier: scikit-learn contract, techniques wiring, bad input, persistence."""

import io
import os
import pickle
import threading
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_checks
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from imbsk import ImbalancedMLPClassifier

from _memory import traced_peak

FAST = dict(hidden_layer_sizes=(32,), d_embedding=8, n_frequencies=8, batch_size=32, device="cpu")


def _shared_data_dir() -> Path:
    return Path(os.environ.get("IMBSK_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=600, n_features=8, n_informative=5, n_classes=3, weights=[0.7, 0.2, 0.1], random_state=0
    )
    return X, y


# scikit-learn 1.6's check_positive_only_tag_during_fit gives an estimator with the categorical input tag
# int32 data and then subtracts its float mean in place, which numpy refuses (fixed in scikit-learn 1.7).
SKLEARN_BEFORE_1_7 = tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 7)
CHECKS_BROKEN_BEFORE_1_7 = {
    "check_positive_only_tag_during_fit": "scikit-learn 1.6's check casts an int32 X in place (fixed in 1.7)"
} if SKLEARN_BEFORE_1_7 else {}


def _expected_failed_checks(estimator) -> dict[str, str]:
    return {
        "check_sample_weight_equivalence_on_dense_data": (
            "mini-batch SGD: a row repeated k times fills k slots of different shuffled batches (more "
            "steps per epoch, other batch compositions), a row of weight k one slot with k times its "
            "loss; the expected step loss is the same, but the two fits follow different stochastic "
            "paths to different models"
        ),
        **CHECKS_BROKEN_BEFORE_1_7,
    }


@parametrize_with_checks(
    [
        ImbalancedMLPClassifier(max_iter=20, ema_decay=None, random_state=0, **FAST),
        # the ensemble's other output shapes (members in training, their mean in prediction)
        ImbalancedMLPClassifier(max_iter=20, ema_decay=None, random_state=0, n_ensemble_members=3, **FAST),
        # the paper's techniques on, with the weight average and the smoothing inverted in the predictions
        ImbalancedMLPClassifier(
            max_iter=20, random_state=0, sam_asymmetric_rho=0.05, sam_asymmetric_step="faithful",
            class_smoothing_eps=0.05, invert_smoothing=True, **FAST
        ),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_sklearn_param_validation_check():
    """sklearn runs check_param_validation on its own estimators only; every parameter must pass it."""
    estimator_checks.check_param_validation(
        "ImbalancedMLPClassifier", ImbalancedMLPClassifier(max_iter=2, ema_decay=None, random_state=0, **FAST)
    )


def test_fit_predict_original_labels_and_attributes(imbalanced):
    X, y = imbalanced
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = ImbalancedMLPClassifier(max_iter=15, random_state=0, **FAST).fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert clf.class_counts_.tolist() == [int((labels == c).sum()) for c in clf.classes_]
    assert clf.n_features_in_ == 8
    assert set(clf.predict(X)) <= set(clf.classes_)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert clf.score(X, labels) > 0.8
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X[:5])), proba[:5], rtol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        dict(sam_asymmetric_rho=0.05),
        dict(class_smoothing_eps=0.1),
        dict(joint_ssl_weight=0.1),
        dict(sam_asymmetric_rho=0.05, class_smoothing_eps=0.1, joint_ssl_weight=0.1, class_scaling="inverse_frequency"),
        dict(sam_asymmetric_rho=0.05, class_scaling="official"),
        dict(sam_asymmetric_rho=0.05, sam_asymmetric_step="faithful", joint_ssl_weight=0.1, class_smoothing_eps=0.1),
        dict(num_embedding="piecewise"),
        dict(num_embedding="none", cat_embedding="onehot", optimizer="adamw", learning_rate_init=1e-3),
    ],
)
def test_techniques_train(imbalanced, params):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=10, random_state=0, **{**FAST, **params}).fit(X, y)
    assert clf.score(X, y) > 0.75


def test_piecewise_embeddings_take_constant_and_binary_columns(imbalanced):
    X, y = imbalanced
    X = X.copy()
    X[:, 2] = 0.0
    X[5, 2] = 1.0  # a rare indicator: constant in any fold without row 5
    X[:, 3] = X[:, 3] > 0  # binary: one bin, no warning
    X[:, 4] = 7.0  # constant in every row
    params = dict(num_embedding="piecewise", max_iter=2, random_state=0, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = ImbalancedMLPClassifier(**params).fit(np.delete(X, 5, axis=0), np.delete(y, 5))
    assert np.isfinite(clf.predict_proba(X)).all()  # row 5's unseen indicator value included
    # Every fold of a cross-validation fits, whether or not it holds row 5.
    scores = [ImbalancedMLPClassifier(**params).fit(X[train], y[train]).score(X[test], y[test])
              for train, test in [(np.arange(300), np.arange(300, 600)), (np.arange(300, 600), np.arange(300))]]
    assert min(scores) > 0.5


def test_piecewise_bins_of_constant_varying_and_two_row_columns():
    from imbsk.models.tabular import piecewise_bins

    x = torch.tensor([[0.0, 2.5, 1.0], [1.0, 2.5, 0.0], [2.0, 2.5, 1.0], [3.0, 2.5, 0.0]])
    bins = piecewise_bins(x, n_bins=48)
    torch.testing.assert_close(bins[0], torch.tensor([0.0, 1.0, 2.0, 3.0]))  # n_bins capped at n_rows - 1
    torch.testing.assert_close(bins[1], torch.tensor([1.5, 3.5]))
    assert bins[2][0] == 0.0 and bins[2][-1] == 1.0
    two_rows = piecewise_bins(x[:2], n_bins=48)
    torch.testing.assert_close(two_rows[0], torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(two_rows[2], torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(two_rows[1], torch.tensor([1.5, 3.5]))


def test_the_preprocessing_learns_from_the_training_rows_only():
    # 40 rows, 40 categories: the 10 held out for early stopping are unseen categories (code 0), as at predict.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=40), "c": pd.Series([f"c{i}" for i in range(40)], dtype="category")})
    y = np.arange(40) % 2
    clf = ImbalancedMLPClassifier(validation_fraction=0.25, max_iter=1, random_state=0, **FAST).fit(X, y)
    assert list(clf.preprocessor_.cardinalities_) == [31]  # 30 categories + the unseen slot
    assert clf.preprocessor_.numeric_transformer_.n_quantiles_ == 30
    train_rows = np.flatnonzero(clf.preprocessor_.transform(X)["x_cat"][:, 0] > 0)
    assert len(train_rows) == 30
    # Without a held-out split every row teaches the preprocessing.
    whole = ImbalancedMLPClassifier(validation_fraction=None, max_iter=1, random_state=0, **FAST).fit(X, y)
    assert list(whole.preprocessor_.cardinalities_) == [41]


def test_deferred_reweighting_keeps_an_epoch_of_the_reweighted_phase():
    # The unweighted validation loss rises when the weights switch on: early stopping used to keep the last plain
    # epoch, i.e. train a plain ERM model. It starts afresh at drw_epoch and does not stop before it.
    X, y = make_classification(n_samples=600, n_features=8, n_informative=4, weights=[0.9, 0.1], flip_y=0.05,
                               random_state=1)
    params = dict(hidden_layer_sizes=(32,), max_iter=12, n_iter_no_change=2, device="cpu", random_state=0)
    drw = ImbalancedMLPClassifier(class_weight="balanced", drw_epoch=8, **params).fit(X, y)
    events = list(drw.history_[:, "event_best"])
    assert drw.n_iter_ > 8  # no stop before the switch, though patience 2 would have stopped it
    assert max(epoch for epoch, best in enumerate(events) if best) >= 8  # the kept epoch is re-weighted
    assert events[8]  # the first re-weighted epoch is a new best by construction


def test_option_combinations_that_do_nothing_or_cannot_train_are_named(imbalanced):
    X, y = imbalanced
    with pytest.raises(ValueError, match="joint_ssl_weight=0.1 needs batch_size >= 2"):
        ImbalancedMLPClassifier(joint_ssl_weight=0.1, batch_size=1, max_iter=1).fit(X, y)
    with pytest.warns(UserWarning, match="drw_epoch has no effect without class_weight"):
        ImbalancedMLPClassifier(drw_epoch=1, max_iter=1, random_state=0, **FAST).fit(X, y)
    with pytest.warns(UserWarning, match="drw_epoch=3 >= max_iter=2: the class weights never switch on"):
        ImbalancedMLPClassifier(class_weight="balanced", drw_epoch=3, max_iter=2, random_state=0, **FAST).fit(X, y)


def test_a_holdout_fit_does_not_hold_the_encoding_of_every_row_while_training(monkeypatch):
    # The first encoding (all rows) only validates X once the preprocessing is refitted on the training rows;
    # kept alive it was a second copy of the training data through the whole fit (77 MiB at Covertype's size).
    import gc
    import weakref

    from skorch.callbacks import Callback

    encodings = []
    fit_inputs = ImbalancedMLPClassifier._fit_inputs

    def recording(self, X):
        inputs = fit_inputs(self, X)
        encodings.append(weakref.ref(inputs["x_num"]))
        return inputs

    class Probe(Callback):
        def on_train_begin(self, net, **kwargs):
            gc.collect()
            self.alive_ = [encoding() is not None for encoding in encodings]

    monkeypatch.setattr(ImbalancedMLPClassifier, "_fit_inputs", recording)
    probe = Probe()
    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    ImbalancedMLPClassifier(validation_fraction=0.2, max_iter=1, random_state=0, callbacks=[probe], **FAST).fit(X, y)
    # every row's encoding released; the training rows' encoding is the training tensor's memory
    assert probe.alive_ == [False, True]


def test_a_failed_refit_leaves_the_estimator_unfitted(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=1, random_state=0, **FAST).fit(X, y)
    labels = np.where(y == 2, "pos", "neg")
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X, labels, sample_weight=-np.ones(len(y)))
    # The three-class network must not predict under the new two labels.
    with pytest.raises(NotFittedError):
        clf.predict(X[:4])
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert clf.fit(X, labels).predict_proba(X[:4]).shape == (4, 2)
    check_is_fitted(clf)


@pytest.mark.parametrize(
    "params, fit_kwargs, error",
    [
        (dict(learning_rate_init=-1.0), {}, ValueError),  # sklearn's InvalidParameterError
        (dict(hidden_layer_sizes=(0,)), {}, ValueError),
        (dict(device="gpu"), {}, ValueError),
        (dict(callbacks=["not a callback"]), {}, TypeError),
        ({}, dict(y=None), ValueError),
    ],
)
def test_a_refit_refused_before_training_leaves_the_estimator_unfitted(imbalanced, params, fit_kwargs, error):
    # The parameter and argument checks ran before the old network was dropped: the fitted network kept predicting
    # under parameters this fit had refused, although a fit that raises is documented to leave it unfitted.
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=1, random_state=0, **FAST).fit(X, y)
    with pytest.raises(error):
        clf.set_params(**params).fit(X, **{"y": y, **fit_kwargs})
    with pytest.raises(NotFittedError):
        clf.predict(X[:4])
    assert not hasattr(clf, "n_iter_") and not hasattr(clf, "fit_time_")


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba"])
def test_unfitted_with_invert_smoothing_raises_not_fitted(imbalanced, method):
    # invert_smoothing reads the fitted eps_c: before fit that was an AttributeError, not NotFittedError.
    X, _ = imbalanced
    clf = ImbalancedMLPClassifier(class_smoothing_eps=0.1, invert_smoothing=True, **FAST)
    with pytest.raises(NotFittedError):
        getattr(clf, method)(X[:4])
    estimator_checks.check_estimators_unfitted("ImbalancedMLPClassifier", clf)


def test_techniques_are_absent_at_zero(imbalanced):
    X, y = imbalanced
    plain = ImbalancedMLPClassifier(max_iter=2, random_state=0, **FAST).fit(X, y)
    assert plain.net_.sam is None
    assert plain.net_.criterion_.eps_per_class is None
    assert not hasattr(plain.net_.module_, "projector")
    full = ImbalancedMLPClassifier(
        max_iter=2, random_state=0, sam_asymmetric_rho=0.1, class_smoothing_eps=0.2, joint_ssl_weight=0.5, **FAST
    ).fit(X, y)
    assert full.net_.sam is not None and not full.net_.sam.uniform
    radii = full.net_.sam.class_radii
    counts = full.class_counts_
    # minority classes get at least the majority's radius
    assert radii[np.argmin(counts)] > radii[np.argmax(counts)] == pytest.approx(0.1)
    eps = full.net_.criterion_.eps_per_class.numpy()
    assert eps[np.argmin(counts)] > eps[np.argmax(counts)] == pytest.approx(0.2)
    assert hasattr(full.net_.module_, "projector")


def test_zero_valued_techniques_match_plain_training(imbalanced):
    X, y = imbalanced
    a = ImbalancedMLPClassifier(max_iter=3, random_state=3, **FAST).fit(X, y)
    b = ImbalancedMLPClassifier(
        max_iter=3, random_state=3, sam_asymmetric_rho=0.0, class_smoothing_eps=0.0, joint_ssl_weight=0.0,
        class_scaling="paper", **FAST
    ).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_reproducible_with_random_state(imbalanced):
    X, y = imbalanced
    params = dict(max_iter=4, sam_asymmetric_rho=0.05, joint_ssl_weight=0.1, **FAST)
    p1 = ImbalancedMLPClassifier(random_state=7, **params).fit(X, y).predict_proba(X)
    p2 = ImbalancedMLPClassifier(random_state=7, **params).fit(X, y).predict_proba(X)
    p3 = ImbalancedMLPClassifier(random_state=8, **params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(p1, p3)


def _global_rng_states() -> tuple[np.ndarray, torch.Tensor]:
    return np.random.get_state()[1].copy(), torch.random.get_rng_state()


@pytest.mark.parametrize("extra", [{}, dict(dropout=0.2, joint_ssl_weight=0.1, n_ensemble_members=2)])
def test_random_state_semantics_follow_scikit_learn(imbalanced, extra):
    """int: the caller's numpy and torch generators untouched by fit and predict; None: a seed from
    numpy's global generator (as scikit-learn's None), torch's untouched; a RandomState: advanced
    by each fit, so successive fits differ, and kept as the parameter."""
    X, y = imbalanced
    params = dict(max_iter=2, **FAST, **extra)
    np.random.seed(11)
    torch.manual_seed(11)
    before = _global_rng_states()
    clf = ImbalancedMLPClassifier(random_state=0, **params).fit(X, y)
    proba = clf.predict_proba(X)
    clf.predict(X), clf.predict_log_proba(X), clf.score(X, y)
    after = _global_rng_states()
    np.testing.assert_array_equal(before[0], after[0])
    assert torch.equal(before[1], after[1])
    np.testing.assert_array_equal(clf.predict_proba(X), proba)  # predicting changed nothing

    torch_state = torch.random.get_rng_state()
    np.random.seed(5)
    first = ImbalancedMLPClassifier(random_state=None, **params).fit(X, y).predict_proba(X)
    second = ImbalancedMLPClassifier(random_state=None, **params).fit(X, y).predict_proba(X)
    np.random.seed(5)
    again = ImbalancedMLPClassifier(random_state=None, **params).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)
    assert torch.equal(torch_state, torch.random.get_rng_state())

    rng = np.random.RandomState(3)
    clf = ImbalancedMLPClassifier(random_state=rng, **params)
    first, second = clf.fit(X, y).predict_proba(X), clf.fit(X, y).predict_proba(X)
    assert not np.array_equal(first, second)
    assert clf.get_params()["random_state"] is rng


def test_early_stopping_restores_best_weights(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(
        max_iter=60, n_iter_no_change=3, learning_rate_init=0.3, random_state=0, ema_decay=None, **FAST
    ).fit(X, y)
    history = clf.history_
    assert clf.n_iter_ < 60
    valid_losses = history[:, "valid_loss"]
    best_epoch = int(np.argmin(valid_losses))
    assert clf.n_iter_ == best_epoch + 1 + 3
    # recompute the validation loss of the final weights on the same split
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    _, valid_index = clf._validation_split(y, seed)
    proba = clf.predict_proba(X[valid_index])
    loss = -np.mean(np.log(proba[np.arange(len(valid_index)), y[valid_index]]))
    assert loss == pytest.approx(valid_losses[best_epoch], rel=1e-4)


def test_given_validation_set_drives_early_stopping_and_all_rows_train(imbalanced):
    X, y = imbalanced
    labels = np.array(["a", "b", "c"])[y]
    X_train, y_train, X_val, y_val = X[:450], labels[:450], X[450:], labels[450:]
    clf = ImbalancedMLPClassifier(
        max_iter=40, n_iter_no_change=4, learning_rate_init=0.3, early_stopping_metric="accuracy",
        random_state=0, ema_decay=None, **FAST,
    ).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    history = clf.history_
    # Every training row is used: no internal split took its share.
    assert sum(batch["train_batch_size"] for batch in history[0, "batches"] if "train_batch_size" in batch) == 450
    valid_acc = history[:, "valid_acc"]
    best_epoch = int(np.argmax(valid_acc))
    assert clf.n_iter_ == best_epoch + 1 + 4
    # The restored weights score the best recorded accuracy on exactly X_val.
    assert np.mean(clf.predict(X_val) == y_val) == pytest.approx(valid_acc[best_epoch], abs=1e-12)


def test_a_given_validation_set_without_some_classes_is_scored_under_the_training_encoding(imbalanced):
    # y_val holds only "b" and "c": encoded on its own they would read as classes 0 and 1 ("a" and "b").
    X, y = imbalanced
    labels = np.array(["a", "b", "c"])[y]
    val = labels != "a"
    X_val, y_val = X[val][:150], labels[val][:150]
    clf = ImbalancedMLPClassifier(
        max_iter=4, n_iter_no_change=4, early_stopping_metric="accuracy", random_state=0, ema_decay=None, **FAST
    ).fit(X, labels, X_val=X_val, y_val=y_val)
    valid_acc = clf.history_[:, "valid_acc"]
    assert np.mean(clf.predict(X_val) == y_val) == pytest.approx(valid_acc[int(np.argmax(valid_acc))], abs=1e-12)


def test_given_validation_set_errors(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=2, random_state=0, **FAST)
    with pytest.raises(ValueError, match="X_val and y_val must be given together"):
        clf.fit(X, y, X_val=X[:10])
    with pytest.raises(ValueError, match="y_val has labels not seen in y: \\[7\\]"):
        clf.fit(X, y, X_val=X[:3], y_val=[0, 1, 7])
    with pytest.raises(ValueError, match="X_val has 10 samples but y_val has 9"):
        clf.fit(X, y, X_val=X[:10], y_val=y[:9])
    # With hundreds of classes the message listed all of them.
    many = np.arange(len(X)) % 300  # 300 classes of two rows (more would be taken for a regression target)
    with pytest.raises(ValueError, match=r"the classes are \[0, 1, .*, 9\] and 290 more\.$"):
        clf.fit(X, many, X_val=X[:3], y_val=[0, 1, 5000])
    with pytest.raises(ValueError, match="features"):
        clf.fit(X, y, X_val=X[:10, :5], y_val=y[:10])


def test_without_validation_runs_all_epochs(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=4, validation_fraction=None, random_state=0, **FAST).fit(X, y)
    assert clf.n_iter_ == 4
    assert "valid_loss" not in clf.history_[-1]


def test_an_unstratified_validation_split_never_holds_out_a_whole_class():
    # Classes of one row rule out stratification; the random split used to hold out the only row of a class
    # (here class 0 with seed 2), which then trained with no example at all.
    counts = [1, 4, 3, 4, 1, 3, 2, 4, 3, 5]
    y = np.repeat(np.arange(len(counts)), counts)
    for seed in range(20):
        for fraction in (0.1, 0.3, 0.5):
            train, valid = ImbalancedMLPClassifier(validation_fraction=fraction)._validation_split(y, seed)
            assert set(y[train]) == set(y), (seed, fraction)
            assert len(valid) > 0 and len(np.intersect1d(train, valid)) == 0
            assert sorted(np.concatenate([train, valid])) == list(range(len(y)))
    # A split that could be stratified is the one drawn before.
    y_ok = np.repeat([0, 1, 2], [20, 5, 2])
    clf = ImbalancedMLPClassifier(validation_fraction=0.2)
    from sklearn.model_selection import train_test_split

    expected = train_test_split(np.arange(len(y_ok)), test_size=5, random_state=3, stratify=y_ok)
    for got, want in zip(clf._validation_split(y_ok, 3), expected):
        np.testing.assert_array_equal(got, want)
    # Nothing left to hold out: said, not trained without a validation set.
    with pytest.raises(ValueError, match="without leaving its class with no training row .no class has two rows"):
        ImbalancedMLPClassifier(validation_fraction=0.3)._validation_split(np.array([0, 1, 2]), 0)


@pytest.mark.parametrize("counts", [[9, 1], [20] + [1] * 99, [2] + [1] * 20])
def test_an_unstratified_split_that_drew_only_single_row_classes_is_drawn_again(counts):
    # The random split held out only rows of one-row classes for some seeds (the minority row of 9 + 1 with
    # seed 5, fifteen seeds in twenty for 2 + 1 x 20): those rows went back to training and the fit raised
    # "holds out only rows ...", pass or fail by the seed, though a class of two rows or more can spare a
    # row. Every seed now holds out such a row and leaves every class a training row.
    y = np.repeat(np.arange(len(counts)), counts)
    n_valid = max(1, round(0.1 * len(y)))
    for seed in range(20):
        train, valid = ImbalancedMLPClassifier(validation_fraction=0.1)._validation_split(y, seed)
        assert set(y[train]) == set(y), seed
        assert 0 < len(valid) <= n_valid and set(y[valid]) <= {label for label, n in enumerate(counts) if n > 1}
        assert sorted(np.concatenate([train, valid])) == list(range(len(y)))
    X = np.random.default_rng(0).normal(size=(10, 2))
    # random_state=19 drew that split in fit.
    clf = ImbalancedMLPClassifier((4,), max_iter=1, random_state=19, device="cpu").fit(X, np.repeat([0, 1], [9, 1]))
    assert "valid_loss" in clf.history_[-1]


def test_a_single_row_class_trains_under_validation_fraction():
    from skorch.callbacks import Callback

    class TrainingLabels(Callback):
        def __init__(self):
            self.labels = set()

        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                self.labels.update(batch[1].tolist())

    X, y = make_classification(n_samples=41, n_features=4, n_informative=2, n_redundant=0, random_state=0)
    y = np.r_[y[:40], 2]
    for seed in range(8):
        seen = TrainingLabels()
        ImbalancedMLPClassifier(
            max_iter=1, validation_fraction=0.5, random_state=seed, callbacks=[seen], **FAST
        ).fit(X, y)
        assert seen.labels == {0, 1, 2}, seed

def test_verbose_prints_epoch_table(imbalanced, capsys):
    X, y = imbalanced
    ImbalancedMLPClassifier(max_iter=2, verbose=1, random_state=0, **FAST).fit(X, y)
    out = capsys.readouterr().out
    for column in ("epoch", "train_loss", "valid_loss", "valid_bacc", "dur"):
        assert column in out


def test_verbose_table_has_a_row_for_every_epoch_including_the_one_that_stops(imbalanced, capsys):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=60, n_iter_no_change=2, learning_rate_init=0.5, verbose=1, random_state=0,
                                  **FAST).fit(X, y)
    out = capsys.readouterr().out
    assert clf.n_iter_ < 60 and "Stopping early" in out
    rows = [line.split()[0] for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert rows == [str(epoch) for epoch in range(1, clf.n_iter_ + 1)]
    assert out.index(f"\n{clf.n_iter_:>7} ") < out.index("Stopping early")


def test_baselines_wire_into_training(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(
        max_iter=4, class_weight="effective_number", drw_epoch=2, loss="ldam", validation_fraction=None,
        random_state=0, **FAST
    ).fit(X, y)
    assert clf.n_iter_ == 4
    assert np.ptp(clf.net_.class_weights) > 0  # DRW switched the weights on
    sampled = ImbalancedMLPClassifier(
        max_iter=6, resampling="balanced", loss="focal", ema_decay=None, random_state=0, **FAST
    ).fit(X, y)
    assert balanced_accuracy_score(y, sampled.predict(X)) > 0.6


# -- persistence ----------------------------------------------------------------------


def test_pickle_and_joblib_round_trips(imbalanced, tmp_path):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=3, joint_ssl_weight=0.1, random_state=0, **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict_proba(X), expected)


def test_a_net_pickled_before_its_parameters_existed_unpickles_with_their_defaults(imbalanced):
    """A model pickled by an older imbsk: its ImbalanceNet lacks the parameters added since (autocast_dtype came
    with `precision`; n_classes and proba_transform later) and predicts as one given their defaults."""
    from imbsk.training.net import _OWN_PARAMETERS

    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=2, random_state=0, **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    old = pickle.loads(pickle.dumps(clf))
    for name in ("autocast_dtype", "n_classes", "proba_transform", "sample_probabilities"):
        delattr(old.net_, name)  # what the older imbsk pickled
    restored = pickle.loads(pickle.dumps(old))
    for name in ("autocast_dtype", "n_classes", "proba_transform", "sample_probabilities"):
        assert getattr(restored.net_, name) is _OWN_PARAMETERS[name].default is None
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    refitted = restored.set_params(max_iter=1).fit(X, y)  # and it refits, and pickles again
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(refitted)).predict_proba(X), refitted.predict_proba(X))


def test_model_trained_on_cuda_unpickles_on_cpu(imbalanced, monkeypatch):
    """A net pickled with device='cuda' loads on a CPU-only machine (skorch maps the tensors to CPU)."""
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=2, random_state=0, **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    clf.net_.device = "cuda"  # what a GPU-trained model carries
    payload = pickle.dumps(clf)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="CUDA"):
        restored = pickle.loads(payload)
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(X), expected)


def test_a_model_whose_tensors_are_on_a_gpu_unpickles_without_one(imbalanced, monkeypatch):
    """Every tensor of the net tagged as a CUDA tensor when pickled (what a GPU-trained model holds) still loads here.

    The net's `module` / `criterion` arguments are the fitted objects themselves; pickled as such, next to the
    `module_` skorch saves for device mapping, their CUDA storages failed to load on a CPU-only machine.
    """
    import torch.serialization as serialization

    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=2, random_state=0, class_smoothing_eps=0.1, **FAST).fit(X, y)
    expected = clf.predict_proba(X)
    net = clf.net_
    on_gpu = {t.untyped_storage().data_ptr() for m in (net.module_, net.criterion_)
              for t in [*m.parameters(), *m.buffers()]}
    cpu_tag = serialization.location_tag
    monkeypatch.setattr(serialization, "location_tag",
                        lambda storage: "cuda:0" if storage.data_ptr() in on_gpu else cpu_tag(storage))
    net.device = "cuda"
    payload = pickle.dumps(clf)
    monkeypatch.setattr(serialization, "location_tag", cpu_tag)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skorch: "... CUDA ... not available, mapping to CPU"
        restored = pickle.loads(payload)
    np.testing.assert_array_equal(restored.predict_proba(X), expected)
    assert restored.net_.module is restored.net_.module_ and restored.net_.criterion is restored.net_.criterion_


@pytest.mark.skipif(torch.cuda.is_available() and torch.cuda.is_initialized(), reason="needs CUDA uninitialised")
def test_a_cpu_fit_leaves_the_gpus_random_state_alone(imbalanced, monkeypatch):
    # torch.manual_seed queues a reseed of every GPU until CUDA starts: a CPU fit must not touch their streams.
    tracker = getattr(torch.cuda, "_lazy_seed_tracker", None)
    if tracker is None or not hasattr(tracker, "manual_seed_all_cb"):
        pytest.skip("this torch keeps its queued GPU seeds elsewhere")
    monkeypatch.setattr(tracker, "manual_seed_all_cb", None)
    X, y = imbalanced
    ImbalancedMLPClassifier(max_iter=1, random_state=0, **FAST).fit(X, y)
    assert tracker.manual_seed_all_cb is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_training_round_trip(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=3, random_state=0, sam_asymmetric_rho=0.05, **{**FAST, "device": "cuda"})
    clf.fit(X, y)
    buffer = io.BytesIO()
    pickle.dump(clf, buffer)
    buffer.seek(0)
    assert pickle.load(buffer).score(X, y) == clf.score(X, y)


def _linear_output_dtypes(clf, X) -> set:
    """Dtypes of every nn.Linear output during one prediction of ``clf``."""
    seen = set()
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
             for m in clf.net_.module_.modules() if isinstance(m, torch.nn.Linear)]
    try:
        logits = clf._logits(X)
    finally:
        for hook in hooks:
            hook.remove()
    return seen, logits


def test_bfloat16_autocast_trains_every_technique_in_mixed_precision(imbalanced):
    X, y = imbalanced
    params = dict(sam_asymmetric_rho=0.05, class_smoothing_eps=0.1, joint_ssl_weight=0.1, max_iter=8, random_state=0)
    mixed = ImbalancedMLPClassifier(precision="bfloat16", **params, **FAST).fit(X, y)
    full = ImbalancedMLPClassifier(**params, **FAST).fit(X, y)
    mixed_dtypes, mixed_logits = _linear_output_dtypes(mixed, X)
    full_dtypes, _ = _linear_output_dtypes(full, X)
    assert mixed_dtypes == {torch.bfloat16} and full_dtypes == {torch.float32}
    # the network's logits come back as float32; its weights and training losses stay float32
    assert mixed_logits.dtype == torch.float32
    assert {p.dtype for p in mixed.net_.module_.parameters()} == {torch.float32}
    losses = mixed.history_[:, "train_loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    # bfloat16 rounding changes the trajectory a little, not what is learnt
    assert not np.array_equal(mixed.predict_proba(X), full.predict_proba(X))
    assert mixed.score(X, y) > 0.8 and abs(mixed.score(X, y) - full.score(X, y)) < 0.05
    restored = pickle.loads(pickle.dumps(mixed))
    np.testing.assert_array_equal(restored.predict_proba(X), mixed.predict_proba(X))



def test_bfloat16_autocast_covers_the_joint_ssl_projector(imbalanced, monkeypatch):
    """The projector's matrix products run in bfloat16 under autocast, as the backbone's (they ran in
    float32: the projection was taken outside autocast); the VICReg loss still gets float32 projections."""
    from skorch.callbacks import Callback

    from imbsk.training import net as net_module

    X, y = imbalanced
    seen: dict[str, set] = {}

    def record(part):
        return lambda _module, _inputs, out: seen.setdefault(part, set()).add(out.dtype)

    class RecordLinearOutputs(Callback):
        def on_train_begin(self, net, **kwargs):
            for name, module in net.module_.named_modules():
                if isinstance(module, torch.nn.Linear):
                    module.register_forward_hook(record(name.split(".")[0]))

    vicreg_inputs = set()
    original = net_module.vicreg_loss

    def recording_vicreg(z_1, z_2, **kwargs):
        vicreg_inputs.update({z_1.dtype, z_2.dtype})
        return original(z_1, z_2, **kwargs)

    monkeypatch.setattr(net_module, "vicreg_loss", recording_vicreg)
    ImbalancedMLPClassifier(precision="bfloat16", joint_ssl_weight=0.1, ssl_projector_dims=(16, 16), max_iter=1,
                            random_state=0, callbacks=[RecordLinearOutputs()], **FAST).fit(X, y)
    assert seen == {"backbone": {torch.bfloat16}, "head": {torch.bfloat16}, "projector": {torch.bfloat16}}
    assert vicreg_inputs == {torch.float32}

# -- bad input --------------------------------------------------------------------------


def test_nan_names_the_column():
    X = pd.DataFrame({"age": [1.0, 2.0, np.nan, 4.0] * 10, "income": np.arange(40.0)})
    y = [0, 1] * 20
    with pytest.raises(ValueError, match="age"):
        ImbalancedMLPClassifier(max_iter=1, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="inf"):
        ImbalancedMLPClassifier(max_iter=1, **FAST).fit(np.array([[1.0, np.inf]] * 10), [0, 1] * 5)


def test_target_errors():
    X = np.random.RandomState(0).randn(20, 3)
    with pytest.raises(ValueError, match="1 class"):
        ImbalancedMLPClassifier(**FAST).fit(X, np.zeros(20))
    with pytest.raises(ValueError, match="Unknown label type"):
        ImbalancedMLPClassifier(**FAST).fit(X, np.linspace(0, 1, 20))


def test_object_arrays_with_text_columns():
    """An object array's text columns work by position, as they do in TabularPreprocessor."""
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"x": rng.randn(60), "city": rng.choice(["a", "b", "c"], 60)})
    y = np.where(frame["city"] == "a", "yes", "no")
    params = dict(max_iter=2, random_state=0, **FAST)
    from_frame = ImbalancedMLPClassifier(**params).fit(frame, y)
    expected = from_frame.predict_proba(frame)
    # fitted on a DataFrame, predicting on its values: sklearn's feature-name warning, same result
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(from_frame.predict_proba(frame.to_numpy()), expected)
    # fitted on the object array with the text column given by position: same model
    from_array = ImbalancedMLPClassifier(categorical_features=[1], **params).fit(frame.to_numpy(), y)
    np.testing.assert_array_equal(from_array.predict_proba(frame.to_numpy()), expected)
    # without categorical columns, text in an array still gets the DataFrame hint
    with pytest.raises(ValueError, match="pass a pandas DataFrame"):
        ImbalancedMLPClassifier(**params).fit(frame.to_numpy(), y)


@pytest.mark.parametrize("fit_on_frame", [True, False])
def test_feature_name_mismatch_warns_once_naming_the_estimator(fit_on_frame):
    X = pd.DataFrame(np.random.RandomState(0).randn(40, 3), columns=["a", "b", "c"])
    y = [0, 1] * 20
    clf = ImbalancedMLPClassifier(max_iter=1, random_state=0, **FAST).fit(X if fit_on_frame else X.to_numpy(), y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.predict(X.to_numpy() if fit_on_frame else X)
    messages = [str(w.message) for w in caught if "feature names" in str(w.message)]
    assert len(messages) == 1 and "ImbalancedMLPClassifier" in messages[0]


def test_predictions_in_parallel_threads_leave_the_warning_filters_as_they_were(imbalanced):
    # Hiding the preprocessor's feature-name warning with warnings.catch_warnings, which swaps the process-wide
    # filter list unlocked: two threads' blocks interleaved and one restored the list with the other's filter
    # in it, so `imbsk tune --n-jobs 2` and threaded predictions left an "ignore" filter in the process for good.
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=1, random_state=0, **FAST).fit(X, y)
    before = list(warnings.filters)

    def predict_many() -> None:
        for _ in range(200):
            clf.predict_proba(X[:8])

    threads = [threading.Thread(target=predict_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert warnings.filters == before


def test_wrong_number_of_columns_at_predict(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=1, random_state=0, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="8 features"):
        clf.predict(X[:, :5])


@pytest.mark.parametrize(
    "param, value",
    [("sam_asymmetric_rho", -1.0), ("class_smoothing_eps", 1.5), ("joint_ssl_weight", -0.1),
     ("class_scaling", "nope"), ("batch_size", 0), ("device", "tpu"), ("num_embedding", "fourier"),
     ("precision", "float16")],
)
def test_invalid_hyperparameters_name_the_parameter(imbalanced, param, value):
    X, y = imbalanced
    with pytest.raises(ValueError, match=param):
        ImbalancedMLPClassifier(**{**FAST, param: value}).fit(X, y)


@pytest.mark.parametrize(
    "param, value",
    [("hidden_layer_sizes", (0,)), ("hidden_layer_sizes", (16, -2)), ("hidden_layer_sizes", ("a",)),
     ("hidden_layer_sizes", (8.5,)), ("hidden_layer_sizes", (8.0,)), ("hidden_layer_sizes", (True,)),
     ("hidden_layer_sizes", [16, None]), ("ssl_projector_dims", ()), ("ssl_projector_dims", (0,)),
     ("ssl_projector_dims", np.array([8, -1]))],
)
def test_invalid_layer_sizes_name_the_parameter(param, value):
    # A zero width used to train a constant model silently; a string failed in int() without naming the parameter.
    # The entries are checked at fit as _parameter_constraints checks the rest: sklearn's InvalidParameterError
    # (a ValueError) in its message form, which the docs promise (it used to be a ValueError of another form).
    X, y = np.random.RandomState(0).randn(20, 3), [0, 1] * 10
    with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of ImbalancedMLPClassifier must be"):
        ImbalancedMLPClassifier(max_iter=1, **{**FAST, param: value}).fit(X, y)


def test_no_hidden_layer_is_a_linear_model():
    X, y = np.random.RandomState(0).randn(20, 3), [0, 1] * 10
    clf = ImbalancedMLPClassifier(max_iter=1, **{**FAST, "hidden_layer_sizes": ()}).fit(X, y)
    assert len(clf.net_.module_.backbone) == 0


def test_fits_in_parallel_threads_are_the_models_of_their_seeds(imbalanced):
    """torch's generators are process-wide: concurrent fits must not draw from each other's stream."""
    X, y = imbalanced

    def proba(seed: int) -> np.ndarray:
        params = {**FAST, "dropout": 0.3}
        return ImbalancedMLPClassifier(max_iter=3, random_state=seed, **params).fit(X, y).predict_proba(X)

    alone = {seed: proba(seed) for seed in (0, 1, 2)}
    together: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda s=seed: together.__setitem__(s, proba(s))) for seed in (0, 1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in (0, 1, 2):
        np.testing.assert_array_equal(together[seed], alone[seed])


def test_diverging_training_names_the_epoch(imbalanced):
    X, y = imbalanced
    with pytest.raises(FloatingPointError, match="epoch 1") as error:
        ImbalancedMLPClassifier(max_iter=3, learning_rate_init=1e30, ema_decay=None, random_state=0, **FAST).fit(X, y)
    assert "Lower learning_rate_init, or check" in str(error.value)


def test_diverging_joint_ssl_with_tiny_batches_names_joint_ssl_weight():
    # VICReg on batches of 2 rows diverges at the default learning rate; the error used to name only
    # learning_rate_init and sam_asymmetric_rho (which this fit does not use).
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 4), np.r_[np.zeros(30), np.ones(10)]
    clf = ImbalancedMLPClassifier(hidden_layer_sizes=(16,), ssl_projector_dims=(8,), joint_ssl_weight=1.0, batch_size=2,
                                  max_iter=2, validation_fraction=None, random_state=0)
    with pytest.raises(FloatingPointError, match=r"Lower learning_rate_init or joint_ssl_weight \(or raise batch_size\)"):
        clf.fit(X, y)
    with pytest.raises(FloatingPointError, match="learning_rate_init or sam_asymmetric_rho or joint_ssl_weight"):
        clf.set_params(sam_asymmetric_rho=0.05).fit(X, y)


@pytest.mark.parametrize("validation_fraction", [0.1, None])
def test_divergence_in_the_last_epoch_is_an_error_not_a_nan_model(validation_fraction):
    # The steps of the last epoch made the weights NaN behind a finite training loss: fit used to return a
    # model whose predict_proba was all NaN (and predict the first class) without a word.
    rng = np.random.RandomState(0)
    X, y = rng.randn(40, 3), np.r_[np.zeros(30), np.ones(10)]
    clf = ImbalancedMLPClassifier(hidden_layer_sizes=(8,), d_embedding=4, n_frequencies=4, learning_rate_init=1e6,
                                  batch_size=16, max_iter=1, validation_fraction=validation_fraction, device="cpu",
                                  random_state=0)
    with pytest.raises(FloatingPointError, match="model diverged") as error:
        clf.fit(X, y)
    assert "Lower learning_rate_init, or check" in str(error.value)
    assert not hasattr(clf, "net_")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_requested_without_gpu(imbalanced, device):
    X, y = imbalanced
    with pytest.raises(ValueError, match=f"device='{device}' was requested but no CUDA device"):
        ImbalancedMLPClassifier(**{**FAST, "device": device}).fit(X, y)


@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:", "cuda:one", "cuda:0:1", "cpu:0", ""])
def test_unknown_device_string_names_the_parameter(imbalanced, device):
    X, y = imbalanced
    with pytest.raises(ValueError, match="The 'device' parameter of ImbalancedMLPClassifier must be 'auto', 'cpu', "
                                         "'cuda' or 'cuda:N'"):
        ImbalancedMLPClassifier(**{**FAST, "device": device}).fit(X, y)


def test_non_string_device_is_refused_by_the_parameter_check(imbalanced):
    X, y = imbalanced
    with pytest.raises(ValueError, match="'device' parameter"):
        ImbalancedMLPClassifier(**{**FAST, "device": 0}).fit(X, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_numbered_cuda_device(imbalanced):
    X, y = imbalanced
    clf = ImbalancedMLPClassifier(max_iter=2, random_state=0, **{**FAST, "device": "cuda:0"}).fit(X, y)
    assert next(clf.net_.module_.parameters()).device == torch.device("cuda:0")
    beyond = f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(ValueError, match="CUDA device\\(s\\) are visible"):
        ImbalancedMLPClassifier(**{**FAST, "device": beyond}).fit(X, y)


# -- pandas, categoricals, pipelines, grid search on real Adult rows -------------------


@pytest.fixture(scope="module")
def adult_rows():
    path = _shared_data_dir() / "adult.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found (set IMBSK_SHARED_DATA)")
    frame = pd.read_csv(path, na_values=["?"], nrows=6000)
    frame = frame.sample(n=1500, random_state=0)
    y = frame.pop("income")
    frame = frame.drop(columns=["split"])
    for column in ("workclass", "education", "marital_status", "relationship", "race", "sex"):
        frame[column] = frame[column].astype("category")
    return frame, y


def test_grid_search_on_adult_dataframe(adult_rows):
    X, y = adult_rows
    assert X["workclass"].isna().any() and X["occupation"].isna().any()
    # str columns (pandas 3; object columns under pandas 2) are categorical too
    assert pd.api.types.is_string_dtype(X["occupation"]) or X["occupation"].dtype == object
    search = GridSearchCV(
        ImbalancedMLPClassifier(max_iter=8, batch_size=128, random_state=0, hidden_layer_sizes=(64,)),
        {"sam_asymmetric_rho": [0.0, 0.05], "class_smoothing_eps": [0.0, 0.1]},
        cv=2,
        scoring="accuracy",
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["sam_asymmetric_rho"] in (0.0, 0.05)
    predictions = search.predict(X)
    assert set(predictions) <= {"<=50K", ">50K"}
    assert search.best_estimator_.feature_names_in_.tolist() == list(X.columns)
    majority = (y == "<=50K").mean()
    assert search.best_score_ > majority  # learns something beyond the majority class
    # unseen category and missing values at predict time do not crash
    X_new = X.head(3).copy()
    X_new["occupation"] = ["Astronaut", None, "Sales"]
    assert len(search.predict(X_new)) == 3


def test_in_sklearn_pipeline_and_clone(imbalanced):
    X, y = imbalanced
    pipe = make_pipeline(StandardScaler(), ImbalancedMLPClassifier(max_iter=3, random_state=0, **FAST))
    pipe.fit(X, y)
    assert pipe.score(X, y) > 0.5
    cloned = clone(pipe)
    assert not hasattr(cloned[-1], "net_")


def test_soft_voting_ensemble_of_seeds(imbalanced):
    """A deep ensemble is sklearn's soft VotingClassifier over seeds; labels stay the user's."""
    from sklearn.ensemble import VotingClassifier

    X, y = imbalanced
    labels = np.array(["cat", "dog", "emu"])[y]
    members = [(f"seed{s}", ImbalancedMLPClassifier(max_iter=3, sam_asymmetric_rho=0.05, random_state=s, **FAST))
               for s in range(3)]
    ensemble = VotingClassifier(members, voting="soft").fit(X, labels)
    assert list(ensemble.classes_) == ["cat", "dog", "emu"]
    fitted = ensemble.estimators_
    assert not np.allclose(fitted[0].predict_proba(X), fitted[1].predict_proba(X))
    mean_proba = np.mean([member.predict_proba(X) for member in fitted], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(X), mean_proba, atol=1e-12)
    np.testing.assert_array_equal(ensemble.predict(X), ensemble.classes_[mean_proba.argmax(axis=1)])


def test_architecture_parameters_reach_the_preprocessor_and_the_network(imbalanced):
    X, y = imbalanced
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["colour"] = np.array(["red", "green", "blue"])[np.arange(len(frame)) % 3]
    params = dict(
        max_iter=1, validation_fraction=None, random_state=0, hidden_layer_sizes=(16,), batch_size=64, device="cpu"
    )
    plr = ImbalancedMLPClassifier(
        frequency_init_scale=30.0, n_frequencies=200, d_embedding=4, d_cat_embedding=3,
        numeric_transform="standard", **params,
    ).fit(frame, y)
    module = plr.net_.module_
    # one epoch moves the frequencies little: their spread is still that of N(0, 30^2), not of the default 0.01
    assert module.num_embeddings.periodic.weight.shape == (8, 200)
    assert module.num_embeddings.linear.weight.shape == (8, 2 * 200, 4)
    assert 20 < module.num_embeddings.periodic.weight.std().item() < 40
    assert module.cat_embeddings.weight.shape == (4, 3)
    assert plr.preprocessor_.numeric_transform == "standard"
    np.testing.assert_allclose(plr.preprocessor_.numeric_transformer_.mean_, X.mean(axis=0))
    piecewise = ImbalancedMLPClassifier(num_embedding="piecewise", n_bins=5, cat_embedding="onehot", **params)
    module = piecewise.fit(frame, y).net_.module_
    assert module.cat_embeddings is None and module.n_features_in == 8 * 24 + 4
    assert module.num_embeddings.linear.weight.shape[:2] == (8, 5)


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.bool_])
def test_predict_does_not_copy_a_numeric_array_to_float64_whole(dtype):
    # A float32 (or integer) table was first copied whole to float64, twice its size, then encoded: now the
    # preprocessor converts it a chunk of rows at a time, to the same values (predictions bit-identical).
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300_000, 12)) * 3).astype(dtype)
    y = rng.integers(0, 2, size=300_000)
    clf = ImbalancedMLPClassifier(
        hidden_layer_sizes=(), d_embedding=4, n_frequencies=4, max_iter=1, validation_fraction=None, random_state=0
    ).fit(X[:300], y[:300])
    expected = clf.predict_proba(X[:40_000].astype(np.float64))
    inputs, peak = traced_peak(lambda: clf._transform_inputs(X))
    # 3.6 x the float32 encoding before (the float64 copy, then the encoding and chunks of float64), 1.6 x now
    encoding = X.size * 4
    assert peak < 2 * encoding, peak
    assert inputs["x_num"].dtype == np.float32
    np.testing.assert_array_equal(clf.predict_proba(X[:40_000]), expected)


def test_integer_categorical_columns_of_an_array_keep_their_category_strings():
    # Arrays are passed on without a float64 copy where that gives the same encoding; the categories of an integer
    # or bool column listed by position stay those of its float64 form, as fitted models have them.
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(-3, 12, 200), rng.integers(0, 2, 200)])
    y = X[:, 0] > 4
    for table in (X, X.astype(bool)):
        params = dict(hidden_layer_sizes=(4,), max_iter=1, categorical_features=[1], random_state=0)
        fitted = ImbalancedMLPClassifier(**params).fit(table, y)
        as_float = ImbalancedMLPClassifier(**params).fit(table.astype(np.float64), y)
        for got, expected in zip(fitted.preprocessor_.categories_, as_float.preprocessor_.categories_):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(fitted.predict_proba(table), as_float.predict_proba(table.astype(np.float64)))
