"""Tests for imbsk.metrics on hand-computed examples."""

import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from imblearn.metrics import geometric_mean_score as imb_gmean
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from imbsk.metrics import (
    SCORERS,
    few_shot_accuracy,
    geometric_mean_score,
    get_scorer,
    majority_accuracy,
    make_imbalance_scorer,
    many_shot_accuracy,
    medium_shot_accuracy,
    minority_accuracy,
    per_class_accuracy,
    shot_accuracy,
    standard_error,
)

# Five classes with training counts chosen to hit the shot boundaries:
# many (>100): 0, 1 | medium (20..100): 2 (=100), 3 (=20) | few (<20): 4 (=19).
COUNTS = {0: 300, 1: 120, 2: 100, 3: 20, 4: 19}
# Evaluation set with per-class accuracies 4/4, 2/4, 3/4, 1/4, 0/2.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4])
Y_PRED = np.array([0, 0, 0, 0, 1, 1, 0, 2, 2, 2, 2, 1, 3, 0, 0, 2, 0, 3])
ACC = [1.0, 0.5, 0.75, 0.25, 0.0]


def test_per_class_accuracy_hand_example():
    assert per_class_accuracy(Y_TRUE, Y_PRED).tolist() == ACC
    # Custom order and a label absent from y_true.
    out = per_class_accuracy(Y_TRUE, Y_PRED, labels=[3, 7, 0])
    assert out[0] == 0.25 and np.isnan(out[1]) and out[2] == 1.0


def test_per_class_accuracy_predicted_only_label_is_nan():
    out = per_class_accuracy(["a", "a", "b"], ["a", "c", "b"])
    assert out[:2].tolist() == [0.5, 1.0] and np.isnan(out[2])


def test_minority_majority_default_fraction():
    # 20% of 5 classes = 1 class: fewest samples is class 4, most is class 0.
    assert minority_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS) == 0.0
    assert majority_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS) == 1.0


@pytest.mark.parametrize("fraction", [0.4, 0.3, 0.21])
def test_minority_majority_two_classes(fraction):
    # ceil(fraction * 5) = 2 -> minority {4, 3}, majority {0, 1}.
    assert minority_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS, fraction=fraction) == 0.125
    assert majority_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS, fraction=fraction) == 0.75


def test_fraction_edge_cases():
    # Tiny fractions still pick one class; 0.2 * 5 must not round up to 2 classes.
    assert minority_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS, fraction=0.01) == 0.0
    counts15 = {k: 100 - k for k in range(15)}  # 0.2 * 15 = 3 classes, exactly
    y = np.arange(15)
    pred = np.where(y >= 11, y, -1)  # only classes 11..14 right
    assert minority_accuracy(y, pred, class_counts=counts15) == 1.0  # classes 12, 13, 14
    assert minority_accuracy(y, pred, class_counts=counts15, fraction=4 / 15) == 1.0
    assert minority_accuracy(y, pred, class_counts=counts15, fraction=5 / 15) == 0.8
    assert majority_accuracy(y, pred, class_counts=counts15, fraction=1.0) == 4 / 15
    # 0.07 * 100 is 7.000000000000001 in floating point (as 0.14 * 50): the group must still be 7 classes.
    counts100 = {k: 1000 - k for k in range(100)}
    y100 = np.arange(100)
    assert majority_accuracy(y100, np.where(y100 < 7, y100, -1), class_counts=counts100, fraction=0.07) == 1.0
    assert minority_accuracy(y100, np.where(y100 >= 93, y100, -1), class_counts=counts100, fraction=0.07) == 1.0
    with pytest.raises(ValueError, match="fraction"):
        minority_accuracy(y, pred, class_counts=counts15, fraction=0)


def test_ties_broken_by_label_order():
    counts = {4: 50, 3: 50, 2: 5, 1: 5, 0: 5}  # insertion order must not matter
    # minority tie among {0, 1, 2} -> 0 (acc 1.0); majority tie {3, 4} -> 3 (acc 0.25).
    assert minority_accuracy(Y_TRUE, Y_PRED, class_counts=counts) == 1.0
    assert majority_accuracy(Y_TRUE, Y_PRED, class_counts=counts) == 0.25


def test_class_counts_as_series_counter_and_strings():
    names = np.array(["ant", "bee", "cat", "dog", "eel"])
    yt, yp = names[Y_TRUE], names[Y_PRED]
    series = pd.Series({n: COUNTS[i] for i, n in enumerate(names)})
    assert minority_accuracy(yt, yp, class_counts=series, fraction=0.4) == 0.125
    counter = Counter(np.repeat(names, [300, 120, 100, 20, 19]))
    assert majority_accuracy(yt, yp, class_counts=counter, fraction=0.4) == 0.75
    with pytest.raises(TypeError, match="mapping"):
        minority_accuracy(yt, yp, class_counts=[300, 120, 100, 20, 19])


def test_group_class_missing_from_y_true_is_skipped():
    keep = Y_TRUE != 4  # class 4 absent from the evaluation set
    # Minority group {4, 3}: only class 3 can be scored.
    assert minority_accuracy(Y_TRUE[keep], Y_PRED[keep], class_counts=COUNTS, fraction=0.4) == 0.25
    assert np.isnan(minority_accuracy(Y_TRUE[keep], Y_PRED[keep], class_counts=COUNTS))


@pytest.mark.parametrize("class_counts", [
    {"0": 10, "1": 5},                 # counts read back from JSON: string keys for int labels
    {0: 10, 1: 5, "x": 1},             # mixed keys: numpy turns them all into strings
])
@pytest.mark.parametrize("metric", [minority_accuracy, majority_accuracy, shot_accuracy])
def test_labels_of_another_type_than_the_counts_raise_instead_of_nan(metric, class_counts):
    with pytest.raises(ValueError, match="No label of y_true is a key of class_counts"):
        metric([0, 1, 1], [0, 1, 1], class_counts=class_counts)


def test_shot_groups_hand_example():
    assert shot_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS, shot="many") == 0.75
    assert shot_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS, shot="medium") == 0.5
    assert shot_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS, shot="few") == 0.0
    assert many_shot_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS) == 0.75
    assert medium_shot_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS) == 0.5
    assert few_shot_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS) == 0.0


@pytest.mark.parametrize(
    ("count", "group"), [(101, "many"), (100, "medium"), (20, "medium"), (19, "few")]
)
def test_shot_boundaries(count, group):
    # Single class 1 with the given count; it is the only one scored right.
    counts = {0: 1000, 1: count, 2: 1}
    y = np.array([0, 1, 2])
    pred = np.array([9, 1, 9])
    for shot in ("many", "medium", "few"):
        score = shot_accuracy(y, pred, class_counts=counts, shot=shot)
        if shot == group:
            expected = {"many": 0.5, "medium": 1.0, "few": 0.5}[shot]
            assert score == expected
        elif shot == "medium":
            assert np.isnan(score)  # empty group
        else:
            assert score == 0.0


def test_shot_custom_thresholds_and_errors():
    kw = dict(class_counts=COUNTS, few_threshold=100, many_threshold=150)
    assert shot_accuracy(Y_TRUE, Y_PRED, shot="few", **kw) == 0.125  # classes 3, 4
    assert shot_accuracy(Y_TRUE, Y_PRED, shot="medium", **kw) == (0.5 + 0.75) / 2  # 1, 2
    assert shot_accuracy(Y_TRUE, Y_PRED, shot="many", **kw) == 1.0  # class 0
    with pytest.raises(ValueError, match="few_threshold"):
        shot_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS, few_threshold=200)
    # Equal thresholds are allowed ("must not exceed"): medium-shot is then exactly that count.
    equal = dict(class_counts=COUNTS, few_threshold=20, many_threshold=20)
    assert shot_accuracy(Y_TRUE, Y_PRED, shot="medium", **equal) == 0.25  # class 3 alone
    with pytest.raises(ValueError, match="many.*medium.*few"):
        shot_accuracy(Y_TRUE, Y_PRED, class_counts=COUNTS, shot="tail")


def test_geometric_mean_is_imblearn():
    assert geometric_mean_score is imb_gmean


# -------------------------------------------------------------------- scorers


class CountingLogisticRegression(LogisticRegression):
    """LogisticRegression that records its training class counts."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self.class_counts_ = np.array([np.sum(y == c) for c in self.classes_])
        return self


@pytest.fixture(scope="module")
def imbalanced_data():
    return make_classification(
        n_samples=400, n_features=6, n_informative=4, n_classes=5, n_clusters_per_class=1,
        weights=[0.45, 0.25, 0.15, 0.1, 0.05], flip_y=0.05, class_sep=0.8, random_state=0,
    )


def _manual_cv(estimator, X, y, cv, metric, **kwargs):
    scores = []
    for train, test in cv.split(X, y):
        est = clone(estimator).fit(X[train], y[train])
        labels, counts = np.unique(y[train], return_counts=True)
        scores.append(metric(y[test], est.predict(X[test]),
                             class_counts=dict(zip(labels, counts)), **kwargs))
    return np.array(scores)


@pytest.mark.parametrize(
    ("name", "metric"),
    [("minority_accuracy", minority_accuracy), ("majority_accuracy", majority_accuracy)],
)
def test_scorer_in_cross_val_score(imbalanced_data, name, metric):
    X, y = imbalanced_data
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    est = CountingLogisticRegression(max_iter=500)
    got = cross_val_score(est, X, y, cv=cv, scoring=make_imbalance_scorer(name))
    expected = _manual_cv(est, X, y, cv, metric)
    np.testing.assert_allclose(got, expected)
    # Passing by name through get_scorer gives the same result.
    np.testing.assert_allclose(cross_val_score(est, X, y, cv=cv, scoring=get_scorer(name)), got)


def test_scorer_with_kwargs_and_pipeline(imbalanced_data):
    X, y = imbalanced_data
    cv = StratifiedKFold(3, shuffle=True, random_state=1)
    pipe = make_pipeline(StandardScaler(), CountingLogisticRegression(max_iter=500))
    scorer = make_imbalance_scorer("many_shot_accuracy", many_threshold=40)
    got = cross_val_score(pipe, X, y, cv=cv, scoring=scorer)
    expected = _manual_cv(pipe, X, y, cv, shot_accuracy, shot="many", many_threshold=40)
    np.testing.assert_allclose(got, expected)
    assert np.all((got > 0) & (got < 1))
    # The threshold matters: by default only class 0 (~119 training samples) is many-shot.
    default = cross_val_score(pipe, X, y, cv=cv, scoring=SCORERS["many_shot_accuracy"])
    assert not np.allclose(got, default)


def test_scorer_fixed_counts_override_estimator(imbalanced_data):
    X, y = imbalanced_data
    est = CountingLogisticRegression(max_iter=500).fit(X, y)
    fixed = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}  # class 0 is now the minority class
    score = make_imbalance_scorer("minority_accuracy", class_counts=fixed)(est, X, y)
    assert score == per_class_accuracy(y, est.predict(X))[0]


def test_scorer_requires_class_counts():
    X, y = np.zeros((6, 1)), np.array([0, 0, 0, 1, 1, 2])
    est = DummyClassifier(strategy="most_frequent").fit(X, y)
    with pytest.raises(AttributeError, match="class_counts_"):
        SCORERS["minority_accuracy"](est, X, y)
    # Counts that do not line up with the classes would be silently truncated by zip: refused.
    est.class_counts_ = np.array([3, 2])
    with pytest.raises(ValueError, match="aligned"):
        SCORERS["minority_accuracy"](est, X, y)
    # Metrics that do not need counts work on any classifier.
    assert SCORERS["geometric_mean"](est, X, y) == imb_gmean(y, est.predict(X))


def test_custom_callable_metric_receives_counts():
    X, y = np.zeros((6, 1)), np.array([0, 0, 0, 1, 1, 2])
    est = CountingLogisticRegression().fit(X, y)
    seen = {}

    def metric(y_true, y_pred, *, class_counts, offset=0.0):
        seen.update(class_counts)
        return offset + 1.0

    assert make_imbalance_scorer(metric, offset=2.0)(est, X, y) == 3.0
    assert seen == {0: 3, 1: 2, 2: 1}


def test_get_scorer_names_and_passthrough(imbalanced_data):
    assert set(SCORERS) == {
        "minority_accuracy", "majority_accuracy", "many_shot_accuracy",
        "medium_shot_accuracy", "few_shot_accuracy", "geometric_mean",
    }
    X, y = imbalanced_data
    est = CountingLogisticRegression(max_iter=500).fit(X, y)
    assert get_scorer("balanced_accuracy")(est, X, y) == balanced_accuracy_score(y, est.predict(X))
    assert get_scorer("minority_accuracy") is not SCORERS["minority_accuracy"]
    with pytest.raises(ValueError, match="minority_accuracy"):
        get_scorer("no_such_metric")
    with pytest.raises(ValueError, match="valid names"):
        make_imbalance_scorer("no_such_metric")


def test_grid_search_multimetric(imbalanced_data):
    X, y = imbalanced_data
    search = GridSearchCV(
        CountingLogisticRegression(max_iter=500), {"C": [0.01, 1.0]}, cv=3,
        scoring={"minority": SCORERS["minority_accuracy"], "bal": "balanced_accuracy"},
        refit="minority",
    ).fit(X, y)
    res = search.cv_results_
    assert np.all(np.isfinite(res["mean_test_minority"]))
    assert search.best_index_ == int(np.argmax(res["mean_test_minority"]))


# -- sample weights ----------------------------------------------------------------------
def test_weighted_per_class_accuracy_is_sklearns_weighted_recall():
    from sklearn.metrics import recall_score

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    weights = rng.random(300) * 3
    np.testing.assert_allclose(
        per_class_accuracy(y_true, y_pred, sample_weight=weights),
        recall_score(y_true, y_pred, average=None, sample_weight=weights),
    )
    # A label asked for twice is reported twice, not as nan.
    np.testing.assert_allclose(per_class_accuracy(y_true, y_pred, labels=[2, 2, 0]),
                               per_class_accuracy(y_true, y_pred)[[2, 2, 0]])
    with pytest.raises(ValueError, match="non-negative"):
        per_class_accuracy([0, 1], [0, 1], sample_weight=[1, -1])


def test_group_accuracies_take_sample_weights():
    counts = {0: 100, 1: 50, 2: 10}
    y_true, y_pred = [0, 1, 2, 2, 2], [0, 1, 2, 0, 0]
    assert minority_accuracy(y_true, y_pred, class_counts=counts) == pytest.approx(1 / 3)
    assert minority_accuracy(y_true, y_pred, class_counts=counts, sample_weight=[1, 1, 4, 1, 1]) == pytest.approx(4 / 6)
    assert majority_accuracy([0, 0], [0, 1], class_counts=counts, sample_weight=[3, 1]) == pytest.approx(0.75)
    assert shot_accuracy([2, 2], [2, 0], class_counts=counts, shot="few", sample_weight=[1, 3]) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="not NaN"):
        minority_accuracy(y_true, y_pred, class_counts={0: float("nan"), 1: 5, 2: 1})


def test_scorer_takes_sample_weight_under_metadata_routing_and_refuses_it_unrequested():
    import sklearn
    from sklearn.exceptions import UnsetMetadataPassedError
    from sklearn.model_selection import cross_validate

    X, y = make_classification(n_samples=300, weights=[0.8, 0.2], random_state=0)
    weights = np.where(y == 1, 3.0, 1.0)
    counts = dict(zip(*np.unique(y, return_counts=True)))
    cv = StratifiedKFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        model = LogisticRegression().set_fit_request(sample_weight=False)
        scorer = make_imbalance_scorer("majority_accuracy", class_counts=counts, fraction=0.5)
        with pytest.raises(UnsetMetadataPassedError):
            cross_validate(model, X, y, cv=cv, scoring=scorer, params={"sample_weight": weights})
        scorer.set_score_request(sample_weight=True)
        weighted = cross_validate(model, X, y, cv=cv, scoring=scorer, params={"sample_weight": weights})["test_score"]
    expected = []
    for train, test in cv.split(X, y):
        fitted = LogisticRegression().fit(X[train], y[train])
        expected.append(majority_accuracy(y[test], fitted.predict(X[test]), class_counts=counts, fraction=0.5,
                                          sample_weight=weights[test]))
    np.testing.assert_allclose(weighted, expected)
    with pytest.raises(RuntimeError, match="metadata routing"):
        make_imbalance_scorer("minority_accuracy").set_score_request(sample_weight=True)


def test_a_class_with_no_training_sample_is_the_minority():
    # A count of 0 is a valid count (e.g. a class absent from one cross-validation fold's training rows).
    counts = {0: 50, 1: 0, 2: 20}
    y_true, y_pred = [0, 1, 1, 2], [0, 1, 0, 2]
    assert minority_accuracy(y_true, y_pred, class_counts=counts, fraction=0.2) == 0.5
    assert few_shot_accuracy(y_true, y_pred, class_counts=counts) == 0.5


def test_standard_error_by_hand_and_without_spread():
    # s = sqrt(((1 - 2)^2 + 0 + (3 - 2)^2) / (3 - 1)) = 1, se = 1 / sqrt(3)
    assert standard_error([1.0, 2.0, 3.0]) == pytest.approx(1 / np.sqrt(3), rel=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one seed is the common case: no "degrees of freedom" warning
        assert np.isnan(standard_error([0.7]))
        assert np.isnan(standard_error([]))
