"""``fit(X, y, sample_weight=)`` of ImbalancedMLPClassifier: semantics, validation, routing.

The CNN's tests are in test_cnn.py, the training step's in test_training_parts.py.
"""

import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_classification
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from imbsk import ImbalancedMLPClassifier

FAST = dict(hidden_layer_sizes=(32,), d_embedding=8, n_frequencies=8, batch_size=32, device="cpu")


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(
        n_samples=400, n_features=6, n_informative=4, n_classes=3, weights=[0.7, 0.2, 0.1], random_state=1
    )
    return X, y


def _proba(X, y, sample_weight=None, **params):
    clf = ImbalancedMLPClassifier(**{"max_iter": 3, "random_state": 0, **FAST, **params})
    return clf.fit(X, y, sample_weight=sample_weight).predict_proba(X)


@pytest.mark.parametrize(
    "params", [dict(), dict(sam_asymmetric_rho=0.05, class_smoothing_eps=0.1)], ids=["erm", "sam_a_smoothing"]
)
def test_equal_weights_train_exactly_as_none(imbalanced, params):
    X, y = imbalanced
    reference = _proba(X, y, **params)
    np.testing.assert_array_equal(_proba(X, y, sample_weight=np.ones(len(y)), **params), reference)
    # Any constant, as a list: normalised to ones (and no held-out row is drawn differently).
    np.testing.assert_array_equal(_proba(X, y, sample_weight=[0.1] * len(y), **params), reference)


def test_weights_scale_does_not_matter(imbalanced):
    X, y = imbalanced
    w = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    np.testing.assert_allclose(_proba(X, y, sample_weight=7 * w), _proba(X, y, sample_weight=w), rtol=0, atol=1e-6)
    assert not np.allclose(_proba(X, y, sample_weight=w), _proba(X, y), atol=1e-3)


def test_huge_finite_weights_are_normalised_not_zeroed(imbalanced):
    # Their sum overflows float64: s / mean(s) made every weight 0 (a model trained on no loss).
    X, y = imbalanced
    w = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    huge = w * 1e307
    with np.errstate(over="ignore"):
        assert np.isfinite(huge).all() and not np.isfinite(huge.sum())
    np.testing.assert_allclose(_proba(X, y, sample_weight=huge), _proba(X, y, sample_weight=w), rtol=0, atol=1e-6)


def test_upweighting_the_minority_class_raises_its_recall(imbalanced):
    X, y = imbalanced
    w = np.where(y == 2, 6.0, 1.0)
    plain = ImbalancedMLPClassifier(max_iter=4, random_state=0, **FAST).fit(X, y)
    weighted = ImbalancedMLPClassifier(max_iter=4, random_state=0, **FAST).fit(X, y, sample_weight=w)
    recall_plain = recall_score(y, plain.predict(X), average=None)[2]
    recall_weighted = recall_score(y, weighted.predict(X), average=None)[2]
    assert recall_weighted > recall_plain + 0.2
    assert weighted.predict_proba(X)[:, 2].mean() > plain.predict_proba(X)[:, 2].mean()


@pytest.mark.parametrize(
    "params, atol", [(dict(), 0.0), (dict(sam_asymmetric_rho=0.05), 1e-6)], ids=["erm", "sam_a"]
)
def test_per_class_sample_weights_equal_the_same_class_weight(imbalanced, params, atol):
    # 'balanced' weights n / (K n_c) have mean 1 over the rows, so the normalised sample weights
    # s_i / mean(s) are the dict's values and the step multiplies every loss by the same float32
    # number either way: ERM gives the same bits. Under SAM-A the class weight is multiplied by
    # the pass weight before the loss, the sample weight after it (float rounding only).
    # validation_fraction=None: the class_weight path scores held-out rows unweighted.
    X, y = imbalanced
    class_weight = dict(enumerate(compute_class_weight("balanced", classes=np.unique(y), y=y)))
    sample_weight = compute_sample_weight("balanced", y)
    assert sample_weight.mean() == pytest.approx(1.0, abs=1e-12)
    by_class = _proba(X, y, validation_fraction=None, class_weight=class_weight, **params)
    by_sample = _proba(X, y, sample_weight=sample_weight, validation_fraction=None, **params)
    np.testing.assert_allclose(by_sample, by_class, rtol=0, atol=atol)
    assert not np.allclose(by_sample, _proba(X, y, validation_fraction=None, **params), atol=1e-3)


def test_weights_under_balanced_resampling_are_normalised_over_the_drawn_rows(imbalanced):
    # Balanced batches draw each class a third of the time, so w[i] = d[y_i] with a class mean of 1
    # already has expected weight 1 per drawn row and must train as class_weight=d. Normalising by
    # the mean over the data instead (0.7 here: the majority's 0.5 dominates) scaled the loss by 1/0.7.
    X, y = imbalanced
    d = {0: 0.5, 1: 1.0, 2: 1.5}
    sample_weight = np.array([d[label] for label in y])
    assert sample_weight.mean() == pytest.approx(0.7, abs=0.02)
    params = dict(resampling="balanced", validation_fraction=None)
    by_class = _proba(X, y, class_weight=d, **params)
    by_sample = _proba(X, y, sample_weight=sample_weight, **params)
    np.testing.assert_allclose(by_sample, by_class, rtol=0, atol=1e-6)
    # The scale of the weights still does not matter.
    np.testing.assert_allclose(_proba(X, y, sample_weight=5 * sample_weight, **params), by_sample, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        dict(class_weight="balanced", drw_epoch=1),
        dict(resampling="balanced"),
        dict(joint_ssl_weight=0.1, ssl_projector_dims=(16,)),
        dict(loss="ldam", sam_asymmetric_rho=0.05, class_scaling="official"),
        dict(loss="focal", class_smoothing_eps=0.1),
    ],
    ids=["drw", "resampling", "joint_ssl", "ldam_sam_official", "focal_smoothing"],
)
def test_weights_train_with_every_technique(imbalanced, params):
    X, y = imbalanced
    w = np.where(y == 2, 6.0, 1.0)
    plain = _proba(X, y, **params)
    weighted = _proba(X, y, sample_weight=w, **params)
    assert np.isfinite(weighted).all()
    assert weighted[:, 2].mean() > plain[:, 2].mean()


@pytest.mark.parametrize(
    "sample_weight, message",
    [
        (lambda n: -np.ones(n), "Negative values in data passed to `sample_weight`"),
        (lambda n: np.ones(n + 1), "sample_weight.shape"),
        (lambda n: np.ones((n, 2)), "Invalid sample_weight"),
        (lambda n: np.zeros(n), "sample_weight is zero for every sample"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "sample_weight contains NaN"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "sample_weight contains infinity"),
        # Scalars are broadcast by scikit-learn without a finiteness check: inf trained as equal weights.
        (lambda n: np.inf, "sample_weight contains NaN or infinity"),
        (lambda n: float("nan"), "sample_weight contains NaN or infinity"),
    ],
    ids=["negative", "wrong_length", "2d", "all_zero", "nan", "inf", "scalar_inf", "scalar_nan"],
)
def test_invalid_weights_name_sample_weight(sample_weight, message):
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    with pytest.raises(ValueError, match=message):
        ImbalancedMLPClassifier(max_iter=1, **FAST).fit(X, y, sample_weight=sample_weight(len(y)))


def test_weights_are_validated_by_the_sklearn_versions_before_1_9(imbalanced, monkeypatch):
    # scikit-learn 1.6 to 1.8 (pyproject: >= 1.6) have no allow_all_zero_weights option: fit raised
    # "TypeError: _check_sample_weight() got an unexpected keyword argument" for any weights.
    import inspect

    import imbsk.estimators.base as base

    real = base._check_sample_weight
    all_zero_allowed = "allow_all_zero_weights" in inspect.signature(real).parameters

    def before_1_9(sample_weight, X, *, dtype=None, ensure_non_negative=False, copy=False):
        extra = {"allow_all_zero_weights": True} if all_zero_allowed else {}
        return real(sample_weight, X, dtype=dtype, ensure_non_negative=ensure_non_negative, copy=copy, **extra)

    monkeypatch.setattr(base, "_check_sample_weight", before_1_9)
    X, y = imbalanced
    w = np.where(y == 2, 6.0, 1.0)
    np.testing.assert_array_equal(_proba(X, y, sample_weight=w), _proba(X, y, sample_weight=list(w)))
    with pytest.raises(ValueError, match="sample_weight is zero for every sample"):
        _proba(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        _proba(X, y, sample_weight=-w)


def test_too_few_positive_weights_for_the_held_out_split():
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    with pytest.raises(ValueError, match="no training sample of positive sample_weight"):
        ImbalancedMLPClassifier(max_iter=1, **FAST).fit(X, y, sample_weight=np.r_[1.0, np.zeros(39)])


def test_held_out_rows_keep_their_weights_and_weight_the_early_stopping_scores(imbalanced):
    X, y = imbalanced
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 4.0, len(y)) * (rng.random(len(y)) > 0.2)
    original = w.copy()
    clf = ImbalancedMLPClassifier(
        max_iter=4, validation_fraction=0.25, ema_decay=None, random_state=0, **FAST
    ).fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(w, original)  # the caller's array is not written to

    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    train_index, valid_index = clf._validation_split(y, seed, w)
    assert np.all(w[valid_index] > 0)  # zero-weight rows always train
    assert len(valid_index) == round(0.25 * np.count_nonzero(w))
    assert sorted(np.r_[train_index, valid_index].tolist()) == list(range(len(y)))

    # The restored (best-loss) weights reproduce that epoch's weighted validation scores.
    history = clf.history_
    best = int(np.argmin(history[:, "valid_loss"]))
    proba = clf.predict_proba(X[valid_index])
    y_valid, w_valid = y[valid_index], w[valid_index]
    log_loss = -np.log(proba[np.arange(len(valid_index)), y_valid])
    assert history[best, "valid_loss"] == pytest.approx(np.average(log_loss, weights=w_valid), rel=1e-4)
    assert abs(np.average(log_loss, weights=w_valid) - log_loss.mean()) > 1e-3  # the weights matter here
    predicted = clf.predict(X[valid_index])
    assert history[best, "valid_acc"] == pytest.approx(accuracy_score(y_valid, predicted, sample_weight=w_valid))
    assert history[best, "valid_bacc"] == pytest.approx(
        balanced_accuracy_score(y_valid, predicted, sample_weight=w_valid)
    )


def test_positive_weights_hold_out_the_rows_held_out_without_weights(imbalanced):
    _, y = imbalanced
    clf = ImbalancedMLPClassifier(validation_fraction=0.2)
    clf.classes_ = np.unique(y)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    for plain, weighted in zip(clf._validation_split(y, 123), clf._validation_split(y, 123, w)):
        np.testing.assert_array_equal(plain, weighted)


def test_explicit_validation_set_is_scored_unweighted(imbalanced):
    X, y = imbalanced
    X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]
    w = np.where(y_train == 2, 5.0, 1.0)
    clf = ImbalancedMLPClassifier(
        max_iter=3, early_stopping_metric="accuracy", ema_decay=None, random_state=0, **FAST
    ).fit(X_train, y_train, sample_weight=w, X_val=X_val, y_val=y_val)
    history = clf.history_
    assert sum(b["train_batch_size"] for b in history[0, "batches"] if "train_batch_size" in b) == 300
    best = int(np.argmax(history[:, "valid_acc"]))
    assert history[best, "valid_acc"] == pytest.approx(accuracy_score(y_val, clf.predict(X_val)), abs=1e-12)


def test_sample_weight_val_weights_the_explicit_validation_set(imbalanced):
    """As HistGradientBoostingClassifier.fit(..., sample_weight_val=): the X_val scores are weighted."""
    X, y = imbalanced
    X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]
    w_val = np.where(y_val == 2, 6.0, 1.0)
    params = dict(max_iter=3, early_stopping_metric="accuracy", ema_decay=None, random_state=0, **FAST)
    clf = ImbalancedMLPClassifier(**params).fit(X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=w_val)
    history = clf.history_
    best = int(np.argmax(history[:, "valid_acc"]))
    predicted = clf.predict(X_val)
    assert history[best, "valid_acc"] == pytest.approx(accuracy_score(y_val, predicted, sample_weight=w_val))
    assert history[best, "valid_bacc"] == pytest.approx(
        balanced_accuracy_score(y_val, predicted, sample_weight=w_val)
    )
    assert abs(accuracy_score(y_val, predicted, sample_weight=w_val) - accuracy_score(y_val, predicted)) > 1e-3
    # Equal weights are no weights; weights without X_val, or of the wrong length, are refused.
    plain = ImbalancedMLPClassifier(**params).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    ones = ImbalancedMLPClassifier(**params).fit(
        X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=np.ones(len(y_val))
    )
    np.testing.assert_array_equal(plain.predict_proba(X_val), ones.predict_proba(X_val))
    with pytest.raises(ValueError, match="give X_val and y_val with it"):
        ImbalancedMLPClassifier(**params).fit(X_train, y_train, sample_weight_val=w_val)
    with pytest.raises(ValueError, match="Invalid sample_weight_val"):
        ImbalancedMLPClassifier(**params).fit(X_train, y_train, X_val=X_val, y_val=y_val, sample_weight_val=w_val[:5])


def test_validation_set_is_keyword_only(imbalanced):
    X, y = imbalanced
    with pytest.raises(TypeError):
        ImbalancedMLPClassifier(max_iter=1, **FAST).fit(X, y, None, X, y)


def test_metadata_routing_grid_search_and_pipeline(imbalanced):
    X, y = imbalanced
    w = np.where(y == 2, 6.0, 1.0)
    params = dict(max_iter=2, validation_fraction=None, random_state=0, **FAST)

    # Pipeline: the step's prefixed fit parameter reaches the estimator.
    pipeline = make_pipeline(StandardScaler(), ImbalancedMLPClassifier(**params))
    pipeline.fit(X, y, imbalancedmlpclassifier__sample_weight=w)
    X_scaled = StandardScaler().fit_transform(X)
    direct = ImbalancedMLPClassifier(**params).fit(X_scaled, y, sample_weight=w).predict_proba(X_scaled)
    np.testing.assert_array_equal(pipeline.predict_proba(X), direct)
    assert not np.allclose(direct, ImbalancedMLPClassifier(**params).fit(X_scaled, y).predict_proba(X_scaled))

    # GridSearchCV with metadata routing (weighted fits and scores): the refit on all rows gets the weights.
    with sklearn.config_context(enable_metadata_routing=True):
        clf = ImbalancedMLPClassifier(**params).set_fit_request(sample_weight=True)
        clf.set_score_request(sample_weight=True)
        assert clf.get_metadata_routing().fit.requests["sample_weight"] is True
        search = GridSearchCV(clf, {"learning_rate_init": [0.05]}, cv=2).fit(X, y, sample_weight=w)
    weighted = ImbalancedMLPClassifier(**params).fit(X, y, sample_weight=w).predict_proba(X)
    np.testing.assert_array_equal(search.best_estimator_.predict_proba(X), weighted)
