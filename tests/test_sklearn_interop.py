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
