"""ImbalancedMLPClassifier inside imbalanced-learn pipelines (SMOTE, random over/under-sampling)."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.datasets import make_classification
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline as sklearn_make_pipeline
from sklearn.preprocessing import StandardScaler

from imbsk import ImbalancedMLPClassifier
from imbsk.metrics import SCORERS, make_imbalance_scorer, per_class_accuracy

# 300 rows, 3 classes in proportions 70/20/10.
X, y = make_classification(
    n_samples=300, n_features=6, n_informative=4, n_redundant=0, n_classes=3, n_clusters_per_class=1,
    weights=[0.7, 0.2, 0.1], flip_y=0, random_state=0,
)
COUNTS = np.bincount(y)


def _tiny_mlp() -> ImbalancedMLPClassifier:
    return ImbalancedMLPClassifier(
        hidden_layer_sizes=(16,), max_iter=3, validation_fraction=None, device="cpu", random_state=0
    )


@pytest.mark.parametrize(
    "sampler, expected_per_class",
    [
        (SMOTE(random_state=0), COUNTS.max()),
        (RandomOverSampler(random_state=0), COUNTS.max()),
        (RandomUnderSampler(random_state=0), COUNTS.min()),
    ],
    ids=["smote", "random_over", "random_under"],
)
def test_sampler_balances_what_the_mlp_sees(sampler, expected_per_class):
    assert COUNTS.max() > 2 * COUNTS.min()  # the problem is imbalanced to begin with
    pipeline = make_pipeline(sampler, _tiny_mlp()).fit(X, y)
    mlp = pipeline[-1]
    # class_counts_ counts the rows the MLP was fitted on, i.e. after resampling.
    np.testing.assert_array_equal(mlp.class_counts_, np.full(3, expected_per_class))
    np.testing.assert_array_equal(mlp.classes_, [0, 1, 2])

    # Samplers act only in fit: predict sees all 300 rows.
    predictions = pipeline.predict(X)
    assert predictions.shape == (300,) and set(np.unique(predictions)) <= {0, 1, 2}
    proba = pipeline.predict_proba(X)
    assert proba.shape == (300, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_pipeline_params_and_cross_validation():
    pipeline = make_pipeline(SMOTE(k_neighbors=3, random_state=0), _tiny_mlp())
    pipeline.set_params(imbalancedmlpclassifier__max_iter=2, smote__k_neighbors=2)
    assert pipeline.get_params()["imbalancedmlpclassifier__max_iter"] == 2
    scores = cross_val_score(pipeline, X, y, cv=3, scoring="balanced_accuracy")
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_imbalance_scorers_refuse_the_resampled_counts_of_a_sampler_pipeline():
    """The group scorers must not read class_counts_ after resampling: they are balanced there.

    Classes 0/1/2 have 210/60/30 rows; after over-sampling the MLP counts 210 of each, and the
    "minority" group drawn from those tied counts was class 0, the majority.
    """
    pipeline = make_pipeline(RandomOverSampler(random_state=0), _tiny_mlp()).fit(X, y)
    assert len(set(pipeline[-1].class_counts_.tolist())) == 1
    with pytest.raises(ValueError, match=r"resamples its training rows \(steps \['randomoversampler'\]\)"):
        SCORERS["minority_accuracy"](pipeline, X, y)
    # Nested: the sampler sits in an inner pipeline's non-final position.
    with pytest.raises(ValueError, match="resamples"):
        SCORERS["majority_accuracy"](sklearn_make_pipeline(pipeline), X, y)

    # With the counts of the data before resampling, the minority group is class 2.
    counts = dict(enumerate(COUNTS.tolist()))
    scorer = make_imbalance_scorer("minority_accuracy", class_counts=counts)
    assert scorer(pipeline, X, y) == per_class_accuracy(y, pipeline.predict(X))[2]
    # Metrics that need no counts still score the pipeline, as does a pipeline without a sampler.
    assert 0 <= SCORERS["geometric_mean"](pipeline, X, y) <= 1
    plain = sklearn_make_pipeline(StandardScaler(), _tiny_mlp()).fit(X, y)
    assert SCORERS["minority_accuracy"](plain, X, y) == per_class_accuracy(y, plain.predict(X))[2]
