import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from imbsk.techniques.class_weights import (
    balanced_sampling_weights,
    compute_class_weights,
    drw_weights,
)


def test_none_gives_ones():
    np.testing.assert_array_equal(compute_class_weights(None, np.array([5, 1, 3])), np.ones(3))


def test_balanced_matches_sklearn():
    y = np.array(["a"] * 50 + ["b"] * 7 + ["c"] * 3)
    classes, counts = np.unique(y, return_counts=True)
    ours = compute_class_weights("balanced", counts, classes=classes)
    np.testing.assert_allclose(ours, compute_class_weight("balanced", classes=classes, y=y))
    # hand value: n / (K n_c) = 60 / (3 * 3)
    assert ours[2] == pytest.approx(60 / 9)


@pytest.mark.parametrize("beta", [0.9, 0.99])
def test_effective_number_hand_computed(beta):
    counts = np.array([100, 10])
    raw = np.array([(1 - beta) / (1 - beta**100), (1 - beta) / (1 - beta**10)])
    expected = raw * 2 / raw.sum()
    w = compute_class_weights("effective_number", counts, beta=beta)
    np.testing.assert_allclose(w, expected)
    assert w.sum() == pytest.approx(2.0)
    assert w[1] > w[0]


def test_effective_number_literal_values():
    # beta=0.9: raw = [0.1/(1-0.9^100), 0.1/(1-0.9^10)] = [0.1000027, 0.1535340]; times 2/sum
    w = compute_class_weights("effective_number", np.array([100, 10]), beta=0.9)
    np.testing.assert_allclose(w, [0.788862, 1.211138], atol=1e-6)


def test_effective_number_limits():
    counts = np.array([1000, 50, 3])
    np.testing.assert_allclose(compute_class_weights("effective_number", counts, beta=0.0), np.ones(3))
    np.testing.assert_allclose(compute_class_weights("effective_number", counts, beta=1e-8), np.ones(3))
    # beta -> 1 approaches inverse frequency (up to normalisation)
    w = compute_class_weights("effective_number", counts, beta=1 - 1e-9)
    inv = 1 / counts
    np.testing.assert_allclose(w, inv * 3 / inv.sum(), rtol=1e-5)
    with pytest.raises(ValueError, match="beta"):
        compute_class_weights("effective_number", counts, beta=1.0)


def test_dict_weights():
    classes = np.array(["cat", "dog", "eel"])
    w = compute_class_weights({"eel": 5.0, "cat": 0.5}, np.array([10, 10, 2]), classes=classes)
    np.testing.assert_array_equal(w, [0.5, 1.0, 5.0])
    # default classes are 0..K-1
    np.testing.assert_array_equal(compute_class_weights({1: 3.0}, np.array([4, 4])), [1.0, 3.0])


def test_dict_errors():
    classes = np.array(["cat", "dog"])
    with pytest.raises(ValueError, match="bird"):
        compute_class_weights({"bird": 2.0, "cat": 1.0}, np.array([3, 4]), classes=classes)
    with pytest.raises(ValueError, match=">= 0"):
        compute_class_weights({"cat": -1.0}, np.array([3, 4]), classes=classes)
    with pytest.raises(ValueError, match="classes"):
        compute_class_weights({"cat": 1.0}, np.array([3, 4, 5]), classes=classes)



@pytest.mark.parametrize("value, match", [("2", "must be numbers"), ([1.0], "must be numbers"), (None, "must be numbers"),
                                          (0, "every class the weight 0"), (0.0, "every class the weight 0")])
def test_dict_values_that_are_not_usable_weights(value, match):
    # A string was silently read as a number and a list failed in numpy without naming class_weight; weights
    # that are all 0 made every loss 0, a fit that learned nothing from the labels without a word.
    classes = np.array(["cat", "dog"])
    with pytest.raises(ValueError, match=f"class_weight .*{match}"):
        compute_class_weights({"cat": value, "dog": 0}, np.array([3, 4]), classes=classes)
    np.testing.assert_array_equal(
        compute_class_weights({"cat": np.float32(0.5), "dog": np.int64(0)}, np.array([3, 4]), classes=classes), [0.5, 0]
    )


def test_estimator_refuses_class_weights_that_are_all_zero():
    from imbsk import ImbalancedMLPClassifier

    X, y = np.random.RandomState(0).randn(20, 3), [0, 1] * 10
    clf = ImbalancedMLPClassifier(hidden_layer_sizes=(4,), class_weight={0: 0, 1: 0.0}, max_iter=1, device="cpu")
    with pytest.raises(ValueError, match="class_weight gives every class the weight 0"):
        clf.fit(X, y)



def test_dict_naming_every_class_may_name_more():
    """A dict covering every class of the data fits a subset lacking one (as sklearn's compute_class_weight)."""
    from sklearn.utils.class_weight import compute_class_weight

    classes = np.array(["cat", "dog"])
    weights = {"cat": 0.5, "dog": 2.0, "eel": 9.0}
    np.testing.assert_array_equal(compute_class_weights(weights, np.array([3, 4]), classes=classes), [0.5, 2.0])
    np.testing.assert_array_equal(compute_class_weight(weights, classes=classes, y=np.array(["cat", "dog"])),
                                  [0.5, 2.0])
    with pytest.raises(ValueError, match="eel"):  # 'dog' missing: 'eel' is taken for a misspelling
        compute_class_weights({"cat": 0.5, "eel": 9.0}, np.array([3, 4]), classes=classes)

def test_unknown_values():
    with pytest.raises(ValueError, match="balanced.*effective_number"):
        compute_class_weights("inverse", np.array([3, 4]))
    with pytest.raises(TypeError):
        compute_class_weights([1.0, 2.0], np.array([3, 4]))
    with pytest.raises(ValueError, match="positive"):
        compute_class_weights("balanced", np.array([3, 0]))


def test_drw_switches_at_epoch_boundary():
    w = np.array([0.5, 2.0, 4.0])
    np.testing.assert_array_equal(drw_weights(0, 3, w), np.ones(3))
    np.testing.assert_array_equal(drw_weights(2, 3, w), np.ones(3))
    np.testing.assert_array_equal(drw_weights(3, 3, w), w)
    np.testing.assert_array_equal(drw_weights(10, 3, w), w)
    np.testing.assert_array_equal(drw_weights(0, None, w), w)
    out = drw_weights(5, 3, w)
    out[0] = 99.0
    assert w[0] == 0.5  # returns a copy
    with pytest.raises(ValueError):
        drw_weights(0, -1, w)


def test_balanced_sampling_equal_class_mass():
    y = np.array([0] * 90 + [1] * 9 + [2] * 1)
    rng = np.random.default_rng(0)
    y = rng.permutation(y)
    p = balanced_sampling_weights(y, 3)
    assert p.shape == y.shape
    assert p.sum() == pytest.approx(1.0)
    per_class = np.bincount(y, weights=p, minlength=3)
    np.testing.assert_allclose(per_class, np.full(3, 1 / 3))
    # within a class every sample is equally likely; hand value for the singleton
    assert p[y == 2][0] == pytest.approx(1 / 3)
    np.testing.assert_allclose(p[y == 0], 1 / 270)


def test_balanced_sampling_absent_class_and_errors():
    p = balanced_sampling_weights(np.array([0, 0, 2]), 3)
    np.testing.assert_allclose(p, [0.25, 0.25, 0.5])
    with pytest.raises(ValueError):
        balanced_sampling_weights(np.array([0, 3]), 3)
    with pytest.raises(ValueError):
        balanced_sampling_weights(np.array([0.0, 1.0]), 2)
