"""Tests for imbsk.datasets.long_tail and imbsk.datasets.digits."""

import numpy as np
import pandas as pd
import pytest

from imbsk.datasets.digits import load_digits_lt
from imbsk.datasets.long_tail import long_tailed_counts, make_long_tailed

CIFAR10_LT_COUNTS = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]


def _balanced(n_per_class, n_classes, n_features=3):
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = np.arange(len(y) * n_features, dtype=float).reshape(len(y), n_features)
    return X, y


# --------------------------------------------------------------------- counts


def test_exponential_counts_cifar10_lt():
    counts = long_tailed_counts(5000, 10, 0.01)
    assert counts.tolist() == CIFAR10_LT_COUNTS
    assert counts.sum() == 12406
    assert counts.dtype == np.int64


def test_step_counts_by_hand():
    # 7 classes: floor(7/2) = 3 head classes keep 200, 4 tail classes get floor(200*0.05)=10
    assert long_tailed_counts(200, 7, 0.05, profile="step").tolist() == [200] * 3 + [10] * 4
    assert long_tailed_counts(100, 4, 0.25, profile="step").tolist() == [100, 100, 25, 25]


@pytest.mark.parametrize("profile", ["exponential", "step"])
def test_integer_targets_survive_rounding_error(profile):
    # 100 * 0.29 is 28.999999999999996 in floating point: the rarest class must still get 29, not 28.
    assert long_tailed_counts(100, 2, 0.29, profile=profile).tolist() == [100, 29]
    assert long_tailed_counts(1000, 3, 0.57, profile=profile)[-1] == 570


def test_ratio_one_is_balanced_and_single_class():
    assert long_tailed_counts(37, 5, 1.0).tolist() == [37] * 5
    assert long_tailed_counts(37, 5, 1.0, profile="step").tolist() == [37] * 5
    assert long_tailed_counts(9, 1, 0.1).tolist() == [9]


@pytest.mark.parametrize("r", [0, -0.1, 1.5, float("nan"), "0.1"])
def test_bad_ratio(r):
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        long_tailed_counts(100, 10, r)


def test_bad_profile_lists_valid_values():
    with pytest.raises(ValueError, match="exponential.*step"):
        long_tailed_counts(100, 10, 0.1, profile="linear")


# ----------------------------------------------------------- make_long_tailed


def test_cifar10_lt_sizes_and_subset():
    X, y = _balanced(5000, 10, n_features=2)
    X_lt, y_lt, idx = make_long_tailed(X, y, 0.01, random_state=0, return_indices=True)
    assert np.bincount(y_lt).tolist() == CIFAR10_LT_COUNTS
    assert len(y_lt) == 12406
    assert np.array_equal(X_lt, X[idx]) and np.array_equal(y_lt, y[idx])
    assert np.all(np.diff(idx) > 0)  # sorted, no duplicates


def test_step_profile_sampling():
    X, y = _balanced(40, 6)
    _, y_lt = make_long_tailed(X, y, 0.1, profile="step", random_state=1)
    assert np.bincount(y_lt).tolist() == [40, 40, 40, 4, 4, 4]


def test_default_n_max_is_smallest_class_and_explicit_n_max():
    y = np.array([0] * 30 + [1] * 12 + [2] * 50)
    X = np.zeros((len(y), 1))
    _, y_lt = make_long_tailed(X, y, 0.25, random_state=0)
    # n_max = 12: [12, floor(12 * 0.5), floor(12 * 0.25)]
    assert np.bincount(y_lt).tolist() == [12, 6, 3]
    _, y_lt = make_long_tailed(X, y, 0.25, n_max=24, random_state=0)
    assert np.bincount(y_lt).tolist() == [24, 12, 6]


def test_ratio_one_balanced_subsample():
    y = np.array([0] * 10 + [1] * 7 + [2] * 9)
    _, y_lt = make_long_tailed(np.zeros((26, 2)), y, 1.0, random_state=0)
    assert np.bincount(y_lt).tolist() == [7, 7, 7]


def test_reproducible_and_seed_dependent():
    X, y = _balanced(100, 5)
    a = make_long_tailed(X, y, 0.1, random_state=3, return_indices=True)[2]
    b = make_long_tailed(X, y, 0.1, random_state=3, return_indices=True)[2]
    c = make_long_tailed(X, y, 0.1, random_state=4, return_indices=True)[2]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_ascending_and_explicit_order():
    X, y = _balanced(100, 4)
    expected = long_tailed_counts(100, 4, 0.1).tolist()  # [100, 46, 21, 10]
    _, y_lt = make_long_tailed(X, y, 0.1, class_order="ascending", random_state=0)
    assert np.bincount(y_lt).tolist() == expected[::-1]
    _, y_lt = make_long_tailed(X, y, 0.1, class_order=[2, 0, 3, 1], random_state=0)
    counts = np.bincount(y_lt)
    assert [counts[2], counts[0], counts[3], counts[1]] == expected


def test_random_order_is_a_permutation_of_the_profile():
    X, y = _balanced(100, 6)
    expected = long_tailed_counts(100, 6, 0.05)
    orders = set()
    for seed in range(5):
        _, y_lt = make_long_tailed(X, y, 0.05, class_order="random", random_state=seed)
        counts = np.bincount(y_lt, minlength=6)
        assert sorted(counts.tolist()) == sorted(expected.tolist())
        orders.add(tuple(counts))
    assert len(orders) > 1


def test_dataframe_and_series_keep_type_and_index():
    rng = np.random.default_rng(0)
    n = 60
    X = pd.DataFrame(
        {"num": rng.normal(size=n), "cat": pd.Series(list("abc") * 20, dtype="str")},
        index=pd.RangeIndex(1000, 1000 + n),
    )
    y = pd.Series(np.repeat(["cat", "dog", "eel"], 20), index=X.index, name="label")
    X_lt, y_lt, idx = make_long_tailed(X, y, 0.25, random_state=0, return_indices=True)
    assert isinstance(X_lt, pd.DataFrame) and isinstance(y_lt, pd.Series)
    assert list(X_lt.columns) == ["num", "cat"] and y_lt.name == "label"
    assert X_lt.index.equals(y_lt.index)
    assert X_lt.index.tolist() == (1000 + idx).tolist()
    assert y_lt.value_counts().to_dict() == {"cat": 20, "dog": 10, "eel": 5}
    pd.testing.assert_frame_equal(X_lt, X.iloc[idx])


def test_images_and_lists():
    X = np.random.default_rng(0).integers(0, 255, size=(40, 4, 4, 3), dtype=np.uint8)
    y = [0] * 20 + [1] * 20
    X_lt, y_lt, idx = make_long_tailed(X, y, 0.5, random_state=0, return_indices=True)
    assert X_lt.shape == (30, 4, 4, 3) and X_lt.dtype == np.uint8
    assert isinstance(y_lt, list) and y_lt == [y[i] for i in idx]
    assert np.array_equal(X_lt, X[idx])
    _, y_tuple = make_long_tailed(X, tuple(y), 0.5, random_state=0)
    assert isinstance(y_tuple, tuple) and list(y_tuple) == y_lt


def test_error_class_too_small_reports_counts():
    y = np.array([0] * 30 + [1] * 12 + [2] * 50)
    with pytest.raises(ValueError, match=r"1 of 3 classes .* Available: \{1: 12\}; requested: \{1: 21\}\."):
        make_long_tailed(np.zeros((92, 1)), y, 0.5, n_max=30)


def test_error_zero_target_count():
    X, y = _balanced(50, 10)
    with pytest.raises(ValueError, match="count of 0"):
        make_long_tailed(X, y, 0.01)  # floor(50 * 0.01) = 0


def test_error_bad_arguments():
    X, y = _balanced(10, 3)
    with pytest.raises(ValueError, match="exponential"):
        make_long_tailed(X, y, 0.5, profile="cosine")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        make_long_tailed(X, y, 2.0)
    with pytest.raises(ValueError, match="descending"):
        make_long_tailed(X, y, 0.5, class_order="sideways")
    with pytest.raises(ValueError, match="exactly once"):
        make_long_tailed(X, y, 0.5, class_order=[0, 1, 1])
    with pytest.raises(ValueError):
        make_long_tailed(X, y[:-1], 0.5)


def test_explicit_n_max_may_use_every_row_of_a_class_but_not_one_more():
    y = np.array([0] * 30 + [1] * 12 + [2] * 50)
    X = np.zeros((len(y), 1))
    # Class 1 (12 rows) gets floor(n_max * 0.5 ** 0.5): 12 at n_max=18, 13 at n_max=19.
    _, y_lt = make_long_tailed(X, y, 0.5, n_max=18, random_state=0)
    assert np.bincount(y_lt).tolist() == [18, 12, 9]
    with pytest.raises(ValueError, match="fewer samples than their target count"):
        make_long_tailed(X, y, 0.5, n_max=19, random_state=0)


def test_count_errors_name_only_the_offending_classes_and_stay_short_at_many_classes():
    # They printed the available and requested counts of every class: thousands of entries at 1,000 classes.
    y = np.repeat(np.arange(1000), 20)
    X = np.zeros((len(y), 1))
    with pytest.raises(ValueError, match="count of 0 for 999 of 1000 classes") as info:
        make_long_tailed(X, y, 0.001, n_max=1, random_state=0)
    assert "and 989 more classes" in str(info.value) and len(str(info.value)) < 400
    y_short = np.concatenate([y, [0] * 30])  # class 0 (ranked first) asks for 50 of its 50 rows; class 1 for 49 of 20
    with pytest.raises(ValueError, match="of 1000 classes have fewer samples than their target count") as info:
        make_long_tailed(np.zeros((len(y_short), 1)), y_short, 0.4, n_max=50)
    assert "{1: 20" in str(info.value) and "0: 50" not in str(info.value) and len(str(info.value)) < 600


def test_explicit_class_order_listing_a_label_twice_is_refused():
    X, y = _balanced(10, 3)
    # Holds every label (np.unique matches the classes), but one of them twice.
    with pytest.raises(ValueError, match="exactly once"):
        make_long_tailed(X, y, 0.5, class_order=[0, 1, 2, 2])


@pytest.mark.parametrize("n_max,n_classes", [(0, 3), (10, 0)])
def test_counts_need_a_positive_head_and_class_count(n_max, n_classes):
    with pytest.raises(ValueError, match="must be a positive integer"):
        long_tailed_counts(n_max, n_classes, 0.5)


# ------------------------------------------------------------ load_digits_lt


def test_digits_lt_default_shapes_and_balance():
    data = load_digits_lt()
    assert data.X_test.shape == (500, 64) and data.X_test.dtype == np.float32
    assert np.bincount(data.y_test).tolist() == [50] * 10
    assert data.X_train.shape == (len(data.y_train), 64)
    assert data.X_train.min() >= 0 and data.X_train.max() <= 16
    # Smallest digits class has 174 images -> 124 remain after the test split.
    assert data.class_counts.tolist() == long_tailed_counts(124, 10, 0.01).tolist()
    assert data.class_counts.tolist() == [124, 74, 44, 26, 16, 9, 5, 3, 2, 1]
    assert np.array_equal(np.bincount(data.y_train, minlength=10), data.class_counts)
    assert len(data.feature_names) == 64 and data.feature_names[-1] == "pixel_7_7"
    assert data.target_names.tolist() == list(range(10))
    assert "r=0.01" in data.DESCR and "balanced" in data.DESCR


def test_digits_lt_train_test_disjoint():
    data = load_digits_lt(0.1, test_size_per_class=30, as_frame=True)
    assert len(set(data.X_train.index) & set(data.X_test.index)) == 0
    assert np.bincount(data.y_test).tolist() == [30] * 10
    # 174 - 30 = 144 remain in the smallest class.
    assert data.class_counts.tolist() == long_tailed_counts(144, 10, 0.1).tolist()


def test_digits_lt_step_profile():
    data = load_digits_lt(0.1, profile="step")
    assert data.class_counts.tolist() == [124] * 5 + [12] * 5


def test_digits_lt_reproducible():
    a, b = load_digits_lt(0.05, random_state=7), load_digits_lt(0.05, random_state=7)
    c = load_digits_lt(0.05, random_state=8)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_test, c.X_test)


def test_digits_lt_as_frame():
    data = load_digits_lt(as_frame=True)
    assert isinstance(data.X_train, pd.DataFrame) and isinstance(data.y_train, pd.Series)
    assert list(data.X_train.columns) == data.feature_names
    assert data.X_train.columns[0] == "pixel_0_0"
    assert data.X_train.index.equals(data.y_train.index)
    assert data.y_train.value_counts().sort_index().tolist() == data.class_counts.tolist()


def test_digits_lt_as_images():
    flat = load_digits_lt(0.1)
    img = load_digits_lt(0.1, as_images=True)
    assert img.X_train.shape == (len(img.y_train), 8, 8, 1)
    assert img.X_test.shape == (500, 8, 8, 1) and img.X_train.dtype == np.uint8
    assert img.X_train.max() == 255  # 16 * 255 // 16
    expected = (flat.X_train.astype(np.int64) * 255 // 16).reshape(-1, 8, 8, 1)
    assert np.array_equal(img.X_train, expected)


def test_digits_lt_errors():
    with pytest.raises(ValueError, match="as_frame"):
        load_digits_lt(as_frame=True, as_images=True)
    with pytest.raises(ValueError, match="test_size_per_class"):
        load_digits_lt(test_size_per_class=174)
    with pytest.raises(ValueError, match="count of 0"):
        load_digits_lt(0.001)
