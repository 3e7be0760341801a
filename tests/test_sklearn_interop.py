"""ImbalancedMLPClassifier inside the wider scikit-learn / imbalanced-learn toolbox.

Tiny fits (a few hundred rows, a few epochs): these tests check that the tools run and that
their results have the right shape, labels and direction, not that the models are good.
"""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.datasets import make_classification

from imbsk import ImbalancedMLPClassifier

FAST = dict(hidden_layer_sizes=(16,), d_embedding=4, n_frequencies=4, batch_size=32, device="cpu", random_state=0)


def _mlp(**params):
    return ImbalancedMLPClassifier(**{**FAST, "max_iter": 3, **params})


@pytest.fixture(scope="module")
def binary():
    """Numeric 85/15 problem with string labels."""
    X, y = make_classification(n_samples=300, n_features=5, n_informative=3, weights=[0.85, 0.15], random_state=0)
    return X, np.array(["neg", "pos"])[y]


@pytest.fixture(scope="module")
def frame(binary):
    """The same problem as a DataFrame with a category column and a pandas-3 str column holding missing values."""
    X, y = binary
    rng = np.random.default_rng(0)
    df = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    df["color"] = pd.Series(rng.choice(["red", "green", "blue"], len(df))).astype("category")
    df["city"] = pd.Series(rng.choice(["x", "y", "z", None], len(df)), dtype="str")
    return df, y


@pytest.mark.parametrize("numeric_transform", ["quantile", "standard"])
def test_global_pandas_transform_output_does_not_reach_the_internal_scaler(frame, numeric_transform):
    """sklearn.set_config(transform_output='pandas') made the internal numeric scaler return DataFrames."""
    X, y = frame
    fitted = _mlp(numeric_transform=numeric_transform).fit(X, y)
    expected = fitted.predict_proba(X)
    with sklearn.config_context(transform_output="pandas"):
        np.testing.assert_array_equal(fitted.predict_proba(X), expected)  # fitted before the setting
        np.testing.assert_array_equal(_mlp(numeric_transform=numeric_transform).fit(X, y).predict_proba(X), expected)


def test_balanced_bagging_on_a_dataframe_with_text_columns(frame):
    """Bagging meta-estimators hand the DataFrame on as an object array: the error names the fix, which works."""
    from imblearn.ensemble import BalancedBaggingClassifier

    X, y = frame
    with pytest.raises(ValueError, match=r"columns \[3, 4\] hold text.*categorical_features=\[3, 4\]"):
        BalancedBaggingClassifier(estimator=_mlp(), n_estimators=2, random_state=0).fit(X, y)
    bagging = BalancedBaggingClassifier(estimator=_mlp(categorical_features=[3, 4]), n_estimators=2, random_state=0)
    bagging.fit(X, y)
    for member in bagging.estimators_:  # each member is (RandomUnderSampler, MLP): it trained on balanced classes
        counts = member[-1].class_counts_
        assert counts[0] == counts[1] and member[-1].preprocessor_.categorical_columns_ == [3, 4]
    assert list(bagging.classes_) == ["neg", "pos"]
    assert set(bagging.predict(X)) <= {"neg", "pos"}
    np.testing.assert_allclose(bagging.predict_proba(X).sum(axis=1), 1.0)


def test_self_training_needs_numeric_input(frame):
    """SelfTrainingClassifier converts X to floats before the MLP sees it: text columns fail whatever
    categorical_features says (the known limits say so), numeric DataFrames work."""
    from sklearn.semi_supervised import SelfTrainingClassifier

    X, y = frame
    partly_labelled = np.where(y == "pos", 1, 0)
    partly_labelled[::3] = -1
    if int(pd.__version__.split(".")[0]) >= 3:
        with pytest.raises(ValueError, match="could not convert string to float"):
            SelfTrainingClassifier(_mlp(categorical_features=[3, 4]), max_iter=1).fit(X, partly_labelled)
    else:
        # pandas 2 makes 'city' an object column; with the category column beside it scikit-learn finds no
        # common dtype to convert to and passes an object array on, which the listed positions embed.
        fitted = SelfTrainingClassifier(_mlp(categorical_features=[3, 4]), max_iter=1).fit(X, partly_labelled)
        assert fitted.estimator_.preprocessor_.categorical_columns_ == [3, 4]
    numeric = X[["a", "b", "c"]]
    assert set(SelfTrainingClassifier(_mlp(), max_iter=1).fit(numeric, partly_labelled).predict(numeric)) <= {0, 1}


# -- threshold tuning and calibration ---------------------------------------------------------
def test_tuned_threshold_moves_towards_the_minority_class(frame):
    from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV

    X, y = frame
    tuned = TunedThresholdClassifierCV(_mlp(), scoring="balanced_accuracy", cv=3).fit(X, y)
    assert list(tuned.classes_) == ["neg", "pos"]
    # An 85/15 problem: the balanced-accuracy threshold on P(pos) lies below 0.5 and predicts more 'pos'.
    assert 0 < tuned.best_threshold_ < 0.5
    assert (tuned.predict(X) == "pos").sum() > (tuned.estimator_.predict(X) == "pos").sum()

    fixed = FixedThresholdClassifier(_mlp(), threshold=0.2, pos_label="pos").fit(X, y)
    p_pos = fixed.estimator_.predict_proba(X)[:, list(fixed.estimator_.classes_).index("pos")]
    np.testing.assert_array_equal(fixed.predict(X), np.where(p_pos >= 0.2, "pos", "neg"))


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_cross_validated_and_frozen(frame, method):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    X, y = frame
    labels = np.where(X["color"] == "red", "rare", y)  # three classes
    calibrated = CalibratedClassifierCV(_mlp(), method=method, cv=3).fit(X, labels)
    assert len(calibrated.calibrated_classifiers_) == 3
    proba = calibrated.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(calibrated.classes_) == ["neg", "pos", "rare"]
    assert set(calibrated.predict(X)) <= {"neg", "pos", "rare"}

    fitted = _mlp().fit(X.iloc[:200], labels[:200])
    before = fitted.predict_proba(X)
    frozen = CalibratedClassifierCV(FrozenEstimator(fitted), method=method).fit(X.iloc[200:], labels[200:])
    np.testing.assert_array_equal(frozen.classes_, fitted.classes_)
    np.testing.assert_allclose(frozen.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict_proba(X), before)  # calibrated on new rows, not refitted



def test_class_weight_dict_in_a_fold_that_lacks_a_class():
    """class_weight names the three classes; a cross-validation fold whose training rows lack the rare one fits.

    The dict's label of the absent class made fit raise, where scikit-learn's estimators (LogisticRegression,
    HistGradientBoostingClassifier) take the same dict.
    """
    from sklearn.model_selection import KFold, cross_val_predict

    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    y = np.where(np.arange(60) >= 57, 2, y)  # class 2 only in the last fold
    weights = {0: 1.0, 1: 2.0, 2: 20.0}
    with pytest.warns(RuntimeWarning, match="Number of classes in training fold"):
        proba = cross_val_predict(_mlp(class_weight=weights), X, y, cv=KFold(3), method="predict_proba")
    assert proba.shape == (60, 3) and np.all(proba[-20:, 2] == 0)
    fitted = _mlp(class_weight=weights).fit(X[:40], y[:40])
    np.testing.assert_array_equal(fitted._class_weight_vector(), [1.0, 2.0])
    with pytest.raises(ValueError, match=r"labels \[3\]"):  # a class (1) missing from the dict: a misspelt label
        _mlp(class_weight={0: 1.0, 3: 2.0}).fit(X[:40], y[:40])


@pytest.mark.parametrize(
    "labels",
    [pd.Series(["neg", "pos", None] * 20), pd.Series(["neg", "pos", None] * 20, dtype="str"),
     pd.Categorical(["neg", "pos", None] * 20), ["neg", "pos", None] * 20],
    ids=["object", "str", "categorical", "list"],
)
def test_missing_labels_are_called_missing(labels):
    """A label column with missing entries was reported as an 'unknown' target, 'maybe ... continuous values'.

    scikit-learn's classifiers say that y contains NaN; the message now says the labels are missing.
    """
    X = np.random.default_rng(0).normal(size=(60, 3))
    with pytest.raises(ValueError, match=r"Input y contains missing labels \(None, NaN or pd.NA\)"):
        _mlp().fit(X, labels)
    complete = np.array(["neg", "pos", "pos"] * 20)
    with pytest.raises(ValueError, match="Input y_val contains missing labels"):
        _mlp().fit(X, complete, X_val=X[:3], y_val=["neg", None, "pos"])

# -- ensembles --------------------------------------------------------------------------------
def test_soft_voting_with_xgboost_and_logistic_regression(binary):
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from xgboost import XGBClassifier

    X, y = binary
    members = [("mlp", _mlp()), ("xgb", XGBClassifier(n_estimators=5, max_depth=2, n_jobs=1)),
               ("lr", LogisticRegression())]
    voting = VotingClassifier(members, voting="soft").fit(X, y)  # XGBoost gets the encoded labels from Voting
    assert list(voting.classes_) == ["neg", "pos"]
    mean = np.mean([member.predict_proba(X) for member in voting.estimators_], axis=0)
    np.testing.assert_allclose(voting.predict_proba(X), mean)
    np.testing.assert_array_equal(voting.predict(X), voting.classes_[mean.argmax(axis=1)])


# -- inspection -------------------------------------------------------------------------------
def test_permutation_importance_finds_the_informative_column():
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"signal": rng.normal(size=300), "noise": rng.normal(size=300)})
    X["colour"] = pd.Series(rng.choice(["red", "blue"], 300)).astype("category")
    y = np.where(X["signal"] > 1.0, "rare", "common")  # about 16% rare
    clf = _mlp(max_iter=5, validation_fraction=None).fit(X, y)
    # roc_auc scores the probabilities: it sees the ranking a few epochs learn before the predictions change
    result = permutation_importance(clf, X, y, scoring="roc_auc", n_repeats=3, random_state=0)
    importance = dict(zip(X.columns, result.importances_mean))
    assert importance["signal"] > 0.2
    assert importance["signal"] > 5 * max(abs(importance["noise"]), abs(importance["colour"]))


# -- pipelines and metadata routing -------------------------------------------------------------
def test_column_transformer_with_pandas_output_keeps_names_and_categories(frame):
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = frame
    X = X.copy()
    X.loc[::10, "a"] = np.nan
    columns = make_column_transformer(
        (make_pipeline(SimpleImputer(), StandardScaler()), ["a", "b"]),
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    pipe = make_pipeline(columns, _mlp()).set_output(transform="pandas").fit(X, y)
    clf = pipe[-1]
    assert clf.feature_names_in_.tolist() == ["a", "b", "c", "color", "city"]
    # the category and str columns reach the MLP with their dtypes: it embeds them
    assert clf.preprocessor_.categorical_columns_ == ["color", "city"]
    unseen = X.head(3).assign(color=pd.Categorical(["purple", "red", None]), city=["nowhere", None, "x"])
    assert set(pipe.predict(unseen)) <= {"neg", "pos"}


def test_metadata_routing_enabled(binary):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import cross_validate
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y = binary
    with sklearn.config_context(enable_metadata_routing=True):
        # plain fits (no metadata) inside routing meta-estimators
        assert set(_mlp().fit(X, y).predict(X)) <= {"neg", "pos"}
        scores = cross_validate(_mlp(), X, y, cv=2, scoring="balanced_accuracy", return_estimator=True)
        assert all(estimator.n_iter_ == 3 for estimator in scores["estimator"])
        assert CalibratedClassifierCV(_mlp(), cv=2).fit(X, y).predict_proba(X).shape == (len(X), 2)
        # a validation set routed through a Pipeline: transform_input transforms it by the earlier steps
        drop_last = FunctionTransformer(lambda rows: rows[:, :-1])
        mlp = _mlp().set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("drop", drop_last), ("mlp", mlp)], transform_input=["X_val"])
        pipe.fit(X[:240], y[:240], X_val=X[240:], y_val=y[240:])
        assert pipe[-1].n_features_in_ == 4 and "valid_loss" in pipe[-1].history_[-1]
        with pytest.raises(ValueError, match="features"):  # without it, the raw 5-column X_val reaches the MLP
            Pipeline([("drop", drop_last), ("mlp", mlp)]).fit(X[:240], y[:240], X_val=X[240:], y_val=y[240:])


def test_boosting_and_weighted_voting_pass_sample_weights_to_the_mlp(binary):
    """AdaBoost and RUSBoost weight their members' rows; Voting passes fit(sample_weight=) on."""
    from imblearn.ensemble import RUSBoostClassifier
    from sklearn.ensemble import AdaBoostClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = binary
    for booster in (AdaBoostClassifier(_mlp(), n_estimators=2, random_state=0),
                    RUSBoostClassifier(_mlp(), n_estimators=2, random_state=0)):
        booster.fit(X, y)
        assert len(booster.estimators_) >= 1 and set(booster.predict(X)) <= {"neg", "pos"}
    # Weighting the minority rows 20x moves the MLP member's probabilities towards it (the logistic
    # regression gets the weights too, so the voted probabilities alone would not show that the MLP did).
    weights = np.where(y == "pos", 20.0, 1.0)
    voting = [("mlp", _mlp(max_iter=10)), ("logreg", LogisticRegression())]
    plain = VotingClassifier(voting, voting="soft").fit(X, y)
    weighted = VotingClassifier(voting, voting="soft").fit(X, y, sample_weight=weights)
    mlp_plain, mlp_weighted = (voting.named_estimators_["mlp"].predict_proba(X)[:, 1] for voting in (plain, weighted))
    assert mlp_weighted.mean() > mlp_plain.mean() + 0.05
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05
