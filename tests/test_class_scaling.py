"""Per-class rules for SAM-A radii and smoothing strengths on a known class-count vector."""

import numpy as np
import pytest
import torch

from imbsk.techniques.class_scaling import (
    CLASS_SCALING_RULES,
    class_multipliers,
    class_smoothing_values,
    sam_class_radii,
)
from imbsk.techniques.label_smoothing import smoothed_targets

COUNTS = np.array([400, 100, 25])  # p = [16, 4, 1] / 21


def test_sqrt_inverse_frequency_default():
    np.testing.assert_allclose(class_multipliers(COUNTS), [1.0, 2.0, 4.0])


def test_inverse_frequency():
    np.testing.assert_allclose(class_multipliers(COUNTS, "inverse_frequency"), [1.0, 4.0, 16.0])


def test_paper_rule_as_printed_favours_the_majority():
    multipliers = class_multipliers(COUNTS, "paper")
    np.testing.assert_allclose(multipliers, [21 / 5, 21 / 17, 21 / 20])
    assert multipliers[0] > multipliers[2]


def test_official_rule_is_one_radius_with_weighted_ascent():
    radii, weights = sam_class_radii(0.05, COUNTS, "official")
    np.testing.assert_allclose(radii, [0.05, 0.05, 0.05])
    np.testing.assert_allclose(weights, [1.0, 4.0, 16.0])


def test_uniform_rule():
    np.testing.assert_allclose(class_multipliers(COUNTS, "uniform"), 1.0)


@pytest.mark.parametrize("rule", [r for r in CLASS_SCALING_RULES if r != "paper"])
def test_balanced_data_reduces_to_plain_values(rule):
    radii, weights = sam_class_radii(0.1, np.array([50, 50, 50]), rule)
    np.testing.assert_allclose(radii, 0.1)
    np.testing.assert_allclose(weights, 1.0)
    np.testing.assert_allclose(class_smoothing_values(0.2, np.array([50, 50, 50]), rule), 0.2)


@pytest.mark.parametrize("rule", ["sqrt_inverse_frequency", "inverse_frequency", "uniform"])
def test_minority_gets_at_least_the_majority_value(rule):
    radii, _ = sam_class_radii(0.1, COUNTS, rule)
    assert np.all(radii >= radii[0])
    eps = class_smoothing_values(0.05, COUNTS, rule)
    assert np.all(eps >= eps[0])


def test_smoothing_is_capped_at_the_uniform_target():
    eps = class_smoothing_values(0.2, COUNTS, "inverse_frequency")
    np.testing.assert_allclose(eps, [0.2, 0.8, 1.0])
    targets = smoothed_targets(torch.tensor([2]), 3, torch.as_tensor(eps, dtype=torch.float32))
    torch.testing.assert_close(targets, torch.full((1, 3), 1 / 3))


def test_smoothed_targets_formula():
    eps = torch.tensor([0.0, 0.3])
    targets = smoothed_targets(torch.tensor([0, 1, 1]), 2, eps)
    expected = torch.tensor([[1.0, 0.0], [0.15, 0.85], [0.15, 0.85]])
    torch.testing.assert_close(targets, expected)
    torch.testing.assert_close(smoothed_targets(torch.tensor([1]), 2, None), torch.tensor([[0.0, 1.0]]))


def test_errors():
    with pytest.raises(ValueError, match="valid rules"):
        class_multipliers(COUNTS, "bogus")
    with pytest.raises(ValueError, match="positive"):
        class_multipliers(np.array([3, 0]))


def test_fit_warns_when_the_smoothing_cap_leaves_a_class_no_label():
    import warnings

    from imbsk import ImbalancedMLPClassifier

    rng = np.random.RandomState(0)
    X, y = rng.randn(202, 3), np.r_[np.zeros(200), np.ones(2)]
    params = dict(hidden_layer_sizes=(4,), max_iter=1, batch_size=64, validation_fraction=None, random_state=0)
    # Imbalance 1:100: eps_c = min(0.1 * 100, 1) = 1 for class 1, whose target is then uniform.
    with pytest.warns(UserWarning, match=r"class_scaling='inverse_frequency' gives classes \[1\.0\] the capped "
                                         r"smoothing eps_c = 1: their targets are uniform"):
        clf = ImbalancedMLPClassifier(class_smoothing_eps=0.1, class_scaling="inverse_frequency", **params).fit(X, y)
    np.testing.assert_allclose(clf.class_smoothing_eps_, [0.1, 1.0])
    # The printed rule saturates the majority instead; eps = 1 saturates every class under any rule.
    with pytest.warns(UserWarning, match=r"classes \[0\.0\] the capped"):
        ImbalancedMLPClassifier(class_smoothing_eps=0.1, class_scaling="paper", **params).fit(X, y)
    with pytest.warns(UserWarning, match=r"classes \[0\.0, 1\.0\] the capped"):
        ImbalancedMLPClassifier(class_smoothing_eps=1.0, class_scaling="uniform", **params).fit(X, y)
    # Below the cap (sqrt rule: 0.1 * 10 = 1.0 binds, 0.05 * 10 does not) and without smoothing: silent.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ImbalancedMLPClassifier(class_smoothing_eps=0.05, **params).fit(X, y)
        ImbalancedMLPClassifier(class_scaling="inverse_frequency", **params).fit(X, y)


@pytest.mark.parametrize("rule", ["sqrt_inverse_frequency", "inverse_frequency", "paper", "uniform"])
def test_per_class_rules_leave_the_ascent_loss_unweighted(rule):
    # Only 'official' weights the ascent loss; the per-class rules put the class dependence in the radii alone.
    radii, weights = sam_class_radii(0.1, COUNTS, rule)
    np.testing.assert_allclose(radii, 0.1 * class_multipliers(COUNTS, rule))
    np.testing.assert_array_equal(weights, 1.0)
