"""Tests for imbsk.preprocessing.tabular."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from imbsk.preprocessing.tabular import TabularPreprocessor, category_codes, sorted_categories

from _memory import traced_peak


def _shared_data_dir() -> Path:
    env = os.environ.get("IMBSK_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [25, 32, 47, 51, 62, 38],
            "income": [1.5, 2.0, 3.25, 0.5, 10.0, 4.0],
            "city": ["paris", "berlin", np.nan, "paris", "oslo", None],
            "grade": pd.Categorical(["b", "a", "b", "c", "a", "b"]),
            "member": [True, False, True, True, False, False],
        }
    )


# ----------------------------------------------------------------------------- helpers
def test_category_codes_reserves_zero_for_missing_and_unseen() -> None:
    codes = category_codes(np.array(["b", None, "zz", "a", np.nan], dtype=object), ["a", "b"])
    assert codes.dtype == np.int64
    assert codes.tolist() == [2, 0, 0, 1, 0]


def test_integer_coded_category_survives_int_float_changes() -> None:
    # A missing value turns an int64 column into float64 at predict: 3.0 must still be category "3".
    train = pd.DataFrame({"zip": [1, 2, 3, 1], "x": [0.0, 1.0, 2.0, 3.0]})
    pre = TabularPreprocessor(categorical_features=["zip"], numeric_transform=None).fit(train)
    test = pd.DataFrame({"zip": [1, 3, None, 4], "x": [0.0, 1.0, 2.0, 3.0]})
    assert test["zip"].dtype == np.float64
    np.testing.assert_array_equal(pre.transform(test)["x_cat"][:, 0], [1, 3, 0, 0])
    # and the reverse: categories learnt as "1.0", ... from a float column, then int codes
    pre = TabularPreprocessor(categorical_features=["zip"], numeric_transform=None).fit(test.fillna(2.0))
    np.testing.assert_array_equal(pre.transform(train)["x_cat"][:, 0], [1, 2, 3, 1])
    # a category dtype with float categories matches integer categories too
    assert category_codes(pd.Categorical([2.0, 5.0, np.nan]), ["1", "2"]).tolist() == [2, 0, 0]
    # text keeps its exact spelling: "1" is not the category "1.0"
    assert category_codes(pd.Series(["1", "1.0"], dtype="str"), ["1.0"]).tolist() == [0, 1]


def test_sorted_categories_sorts_string_forms_and_drops_missing() -> None:
    cats = sorted_categories(pd.Series([10, 2, None, 2, "x"], dtype=object))
    # str order: "10" < "2" < "x"
    assert cats.tolist() == ["10", "2", "x"]


# ----------------------------------------------------------------------------- DataFrame path
def test_mixed_dataframe_roles_codes_and_dtypes(mixed_frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor(numeric_transform=None).fit(mixed_frame)
    assert pre.numeric_columns_ == ["age", "income"]
    assert pre.categorical_columns_ == ["city", "grade", "member"]
    assert [c.tolist() for c in pre.categories_] == [
        ["berlin", "oslo", "paris"],
        ["a", "b", "c"],
        ["False", "True"],
    ]
    assert pre.cardinalities_ == [4, 4, 3]
    assert pre.n_features_in_ == 5
    assert pre.feature_names_in_.tolist() == list(mixed_frame.columns)
    assert pre.numeric_transformer_ is None

    out = pre.transform(mixed_frame)
    assert set(out) == {"x_num", "x_cat"}
    assert out["x_num"].dtype == np.float32 and out["x_num"].shape == (6, 2)
    assert out["x_cat"].dtype == np.int64 and out["x_cat"].shape == (6, 3)
    np.testing.assert_array_equal(out["x_num"], mixed_frame[["age", "income"]].to_numpy(np.float32))
    # city: berlin=1, oslo=2, paris=3, missing=0; grade: a=1, b=2, c=3; member: False=1, True=2
    np.testing.assert_array_equal(
        out["x_cat"],
        [[3, 2, 2], [1, 1, 1], [0, 2, 2], [3, 3, 2], [2, 1, 1], [0, 2, 1]],
    )


def test_unseen_category_at_transform_maps_to_zero(mixed_frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor(numeric_transform=None).fit(mixed_frame)
    new = mixed_frame.iloc[:3].copy()
    new["city"] = ["rome", "berlin", "madrid"]
    new["grade"] = pd.Categorical(["z", "c", None])
    out = pre.transform(new)
    np.testing.assert_array_equal(out["x_cat"][:, 0], [0, 1, 0])
    np.testing.assert_array_equal(out["x_cat"][:, 1], [0, 3, 0])
    assert out["x_cat"].max(axis=0).tolist() <= [c - 1 for c in pre.cardinalities_]


def test_explicit_categorical_features_by_name_and_position(mixed_frame: pd.DataFrame) -> None:
    frame = mixed_frame.drop(columns=["grade"])
    by_name = TabularPreprocessor(categorical_features=["city", "age"], numeric_transform=None)
    by_name.fit(frame)
    # An integer column listed explicitly becomes categorical; unlisted columns (bool
    # included) are then numeric. Columns are reported in table order.
    assert by_name.categorical_columns_ == ["age", "city"]
    assert by_name.numeric_columns_ == ["income", "member"]
    by_pos = TabularPreprocessor(categorical_features=[2, 0], numeric_transform=None).fit(frame)
    assert by_pos.categorical_columns_ == ["age", "city"]
    assert by_pos.numeric_columns_ == ["income", "member"]
    assert by_pos.cardinalities_ == [7, 4]
    np.testing.assert_array_equal(by_pos.transform(frame)["x_cat"], by_name.transform(frame)["x_cat"])
    out = by_pos.transform(frame)
    # member (bool) listed as numeric is cast to 0/1.
    np.testing.assert_array_equal(out["x_num"][:, 1], [1, 0, 1, 1, 0, 0])


def test_feature_names_are_checked_at_transform(mixed_frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor(random_state=0).fit(mixed_frame)
    reordered = mixed_frame[["income", "age", "city", "grade", "member"]]
    with pytest.raises(ValueError, match="feature names"):
        pre.transform(reordered)
    renamed = mixed_frame.rename(columns={"age": "years"})
    with pytest.raises(ValueError, match="feature names"):
        pre.transform(renamed)


def test_wrong_number_of_columns_raises(mixed_frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor().fit(mixed_frame.to_numpy()[:, :2].astype(float))
    with pytest.raises(ValueError, match="3 features.*expecting 2"):
        pre.transform(np.ones((4, 3)))
    pre = TabularPreprocessor().fit(mixed_frame)
    with pytest.raises(ValueError, match="feature names|expecting 5"):
        pre.transform(mixed_frame.drop(columns=["member"]))


def test_nan_or_inf_in_numeric_column_names_the_column(mixed_frame: pd.DataFrame) -> None:
    bad = mixed_frame.copy()
    bad["income"] = bad["income"].astype(float)
    bad.loc[2, "income"] = np.nan
    with pytest.raises(ValueError, match="'income' contains NaN or infinity.*SimpleImputer"):
        TabularPreprocessor().fit(bad)
    pre = TabularPreprocessor().fit(mixed_frame)
    bad.loc[2, "income"] = -np.inf
    with pytest.raises(ValueError, match="'income' contains NaN or infinity"):
        pre.transform(bad)
    nullable = mixed_frame.astype({"age": "Int64"})
    nullable.loc[0, "age"] = pd.NA
    with pytest.raises(ValueError, match="'age'"):
        TabularPreprocessor().fit(nullable)
    arr = np.ones((5, 3))
    arr[1, 2] = np.nan
    with pytest.raises(ValueError, match="column 2 contains NaN"):
        TabularPreprocessor().fit(arr)


def test_constant_numeric_column_does_not_crash() -> None:
    X = pd.DataFrame({"const": np.full(50, 7.0), "x": np.arange(50.0)})
    for transform in ("quantile", "standard"):
        pre = TabularPreprocessor(numeric_transform=transform, random_state=0).fit(X)
        out = pre.transform(X)["x_num"]
        assert np.all(out[:, 0] == 0.0)
        assert np.all(np.isfinite(out))
        assert np.all(np.diff(out[:, 1]) > 0)


# ----------------------------------------------------------------------------- numeric transforms
def test_quantile_output_is_standard_normal_on_skewed_column() -> None:
    rng = np.random.default_rng(0)
    skewed = rng.lognormal(mean=0.0, sigma=1.5, size=2000)
    assert abs(pd.Series(skewed).skew()) > 3  # really skewed input
    X = pd.DataFrame({"skewed": skewed})
    pre = TabularPreprocessor(random_state=0).fit(X)
    assert isinstance(pre.numeric_transformer_, QuantileTransformer)
    assert pre.numeric_transformer_.n_quantiles == 1000
    assert pre.numeric_transformer_.output_distribution == "normal"
    z = pre.transform(X)["x_num"][:, 0].astype(np.float64)
    assert abs(z.mean()) < 0.05
    assert abs(z.std() - 1.0) < 0.05
    assert abs(pd.Series(z).skew()) < 0.1
    # monotone map: ranks are preserved
    np.testing.assert_array_equal(np.argsort(z, kind="stable"), np.argsort(skewed, kind="stable"))


def test_quantile_noise_only_affects_fit_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"discrete": rng.integers(0, 5, size=300), "cont": rng.normal(size=300)})
    n_quantiles = min(1000, len(X))
    a = TabularPreprocessor(random_state=3).fit(X)
    assert a.numeric_transformer_.n_quantiles == n_quantiles
    b = TabularPreprocessor(random_state=3).fit(X)
    c = TabularPreprocessor(random_state=4).fit(X)
    out_a = a.transform(X)["x_num"]
    np.testing.assert_array_equal(out_a, b.transform(X)["x_num"])
    # the noise reaches the fitted quantiles, so another seed gives other quantiles
    assert not np.array_equal(a.numeric_transformer_.quantiles_, c.numeric_transformer_.quantiles_)
    # ... but the transform sees un-noised data: equal inputs give equal outputs
    d = out_a[:, 0]
    for value in range(5):
        assert np.ptp(d[X["discrete"].to_numpy() == value]) == 0.0
    # the quantiles were fitted on values within a few 1e-3 std of the integers
    q = a.numeric_transformer_.quantiles_[:, 0]
    assert np.max(np.abs(q - np.round(q))) < 10 * 1e-3 * X["discrete"].std()
    assert np.max(np.abs(q - np.round(q))) > 0


def test_quantile_fit_keeps_at_most_two_copies_of_the_numeric_block() -> None:
    # The noisy copy is built in place: x_num + noise_std * N held the block, N and their product at once
    # (three copies: 460 MiB at Covertype's 371,847 x 54, against 310 MiB now).
    rng = np.random.default_rng(0)
    X = rng.integers(0, 100, size=(50_000, 20)).astype(np.float64)
    block_bytes = X.nbytes
    preprocessor = TabularPreprocessor(random_state=0)
    _, peak = traced_peak(lambda: preprocessor.fit(X))
    assert peak < 2.5 * block_bytes
    # ... with the quantiles the noise formula gives (the same products and sums, bit for bit)
    from imbsk.preprocessing.tabular import _quantile_noise_std

    x_num = preprocessor._numeric_block(X, list(range(X.shape[1])))  # the layout the fit saw (std sums by it)

    noisy = x_num + _quantile_noise_std(x_num) * np.random.RandomState(0).standard_normal(x_num.shape)
    expected = QuantileTransformer(output_distribution="normal", n_quantiles=1000, subsample=10**9, random_state=0)
    np.testing.assert_array_equal(preprocessor.numeric_transformer_.quantiles_, expected.fit(noisy).quantiles_)


def test_one_outlier_does_not_drown_a_discrete_column() -> None:
    # Counts 0..4 and a single 1e8: with the std as noise scale (2,235 here) the counts all mapped to about 0.01.
    rng = np.random.default_rng(0)
    counts = np.append(rng.integers(0, 5, size=2000), 1e8).astype(float)
    X = pd.DataFrame({"count": counts})
    out = TabularPreprocessor(random_state=0).fit(X).transform(X)["x_num"][:, 0]
    levels = [out[counts == value][0] for value in range(5)]
    assert np.all(np.diff(levels) > 0.3)  # five well separated levels, as without the outlier
    assert out[-1] == out.max()


def test_noise_scale_is_the_std_where_the_central_spread_exceeds_it() -> None:
    # The benchmark columns: the robust cap does not bind, so their quantiles are those of the std rule.
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"discrete": rng.integers(0, 5, size=500).astype(float), "cont": rng.normal(size=500)})
    fitted = TabularPreprocessor(random_state=7).fit(X)
    noise = np.random.RandomState(7).standard_normal(X.shape) * (1e-3 * X.to_numpy().std(axis=0))
    reference = QuantileTransformer(output_distribution="normal", n_quantiles=500, subsample=10**9, random_state=7)
    reference.fit(X.to_numpy() + noise)
    np.testing.assert_array_equal(fitted.numeric_transformer_.quantiles_, reference.quantiles_)


@pytest.mark.parametrize("scale", [1e200, 1e307])
def test_quantile_transform_of_huge_magnitudes_is_that_of_the_column_at_an_ordinary_scale(scale: float) -> None:
    # The std of such a column overflows float64: the noise fell back on the central spread (about 5x the
    # std), so the same column at another scale was encoded differently, with numpy's overflow warning.
    X = np.random.RandomState(0).randn(200, 2)
    ordinary = TabularPreprocessor(random_state=0).fit_transform(X)["x_num"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huge = TabularPreprocessor(random_state=0).fit_transform(X * scale)["x_num"]
    np.testing.assert_allclose(huge, ordinary, atol=1e-5)
    # StandardScaler cannot take them: said in its own terms, not as values too large for float32.
    with warnings.catch_warnings(), pytest.raises(ValueError, match="too large for numeric_transform='standard'.*use "
                                                  "numeric_transform='quantile'"):
        warnings.simplefilter("error")  # the error, without numpy's overflow warnings before it
        TabularPreprocessor(numeric_transform="standard").fit_transform(X * scale)


def test_standard_and_passthrough_transforms() -> None:
    X = np.array([[1.0, 10], [2.0, 20], [3.0, 60]])
    out = TabularPreprocessor(numeric_transform="standard").fit_transform(X)
    expected = (X - X.mean(axis=0)) / X.std(axis=0)
    np.testing.assert_allclose(out["x_num"], expected, rtol=1e-6)
    pre = TabularPreprocessor(numeric_transform="standard").fit(X)
    assert isinstance(pre.numeric_transformer_, StandardScaler)
    out = TabularPreprocessor(numeric_transform=None).fit_transform(X)
    np.testing.assert_array_equal(out["x_num"], X.astype(np.float32))
    assert out["x_cat"].shape == (3, 0) and out["x_cat"].dtype == np.int64


def test_invalid_parameters_raise(mixed_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="numeric_transform"):
        TabularPreprocessor(numeric_transform="minmax").fit(mixed_frame)
    with pytest.raises(ValueError, match="'height'"):
        TabularPreprocessor(categorical_features=["height"]).fit(mixed_frame)
    with pytest.raises(ValueError, match="index 9"):
        TabularPreprocessor(categorical_features=[9]).fit(mixed_frame)
    with pytest.raises(ValueError, match="categorical_features"):
        TabularPreprocessor(categorical_features="all").fit(mixed_frame)
    # a text column forced to numeric: error names it
    with pytest.raises(ValueError, match="'city'.*categorical_features"):
        TabularPreprocessor(categorical_features=["grade", "member"]).fit(mixed_frame)



def test_column_left_out_of_an_explicit_list_is_told_to_join_it(mixed_frame: pd.DataFrame) -> None:
    """The category column 'grade' is numeric once a list names the categorical columns without it.

    The error told the user to give it a category dtype, which it already has.
    """
    with pytest.raises(ValueError, match=r"'grade'.*categorical_features=\['city', 'member'\] names every") as info:
        TabularPreprocessor(categorical_features=["city", "member"]).fit(mixed_frame)
    assert "category dtype" not in str(info.value)

# ----------------------------------------------------------------------------- numpy path
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int32])
def test_numpy_numeric_arrays_of_any_dtype(dtype: type) -> None:
    X = (np.arange(40).reshape(20, 2) * [1, 3]).astype(dtype)
    pre = TabularPreprocessor(numeric_transform=None).fit(X)
    assert pre.numeric_columns_ == [0, 1]
    assert pre.categorical_columns_ == []
    assert not hasattr(pre, "feature_names_in_")
    out = pre.transform(X)
    np.testing.assert_array_equal(out["x_num"], X.astype(np.float32))
    assert out["x_cat"].shape == (20, 0)
    assert TabularPreprocessor(random_state=0).fit_transform(X)["x_num"].dtype == np.float32


def test_numpy_with_explicit_categorical_positions() -> None:
    X = np.array([[0.5, 3], [1.5, 1], [2.5, 3], [3.5, 2]])
    pre = TabularPreprocessor(categorical_features=[1], numeric_transform=None).fit(X)
    assert pre.numeric_columns_ == [0] and pre.categorical_columns_ == [1]
    assert pre.categories_[0].tolist() == ["1.0", "2.0", "3.0"]
    out = pre.transform(np.array([[0.0, 2.0], [1.0, 7.0]]))
    np.testing.assert_array_equal(out["x_cat"][:, 0], [2, 0])


def test_numpy_string_array_with_auto_suggests_dataframe() -> None:
    X = np.array([["a", "1"], ["b", "2"]])
    with pytest.raises(ValueError, match="DataFrame"):
        TabularPreprocessor().fit(X)
    obj = np.array([["a", 1.0], ["b", 2.0]], dtype=object)
    with pytest.raises(ValueError, match="column 0.*DataFrame"):
        TabularPreprocessor().fit(obj)
    # object arrays holding numbers are numeric (as scikit-learn's check_dtype_object wants)
    out = TabularPreprocessor(numeric_transform=None).fit_transform(obj[:, 1:])
    np.testing.assert_array_equal(out["x_num"][:, 0], [1.0, 2.0])
    # and a text column of an object array can be declared categorical
    out = TabularPreprocessor(categorical_features=[0], numeric_transform=None).fit_transform(obj)
    np.testing.assert_array_equal(out["x_cat"][:, 0], [1, 2])


def test_dataframe_fit_numpy_transform_gives_same_result(mixed_frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor(random_state=0).fit(mixed_frame)
    from_frame = pre.transform(mixed_frame)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from_array = pre.transform(mixed_frame.to_numpy())
    assert any("feature names" in str(w.message) for w in caught)
    np.testing.assert_array_equal(from_frame["x_num"], from_array["x_num"])
    np.testing.assert_array_equal(from_frame["x_cat"], from_array["x_cat"])


# ----------------------------------------------------------------------------- sklearn integration
def test_clone_and_pipeline(mixed_frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor(numeric_transform="standard", categorical_features=["city"], random_state=7)
    twin = clone(pre)
    assert twin.get_params() == pre.get_params()
    assert not hasattr(twin, "cardinalities_")

    X = np.array([[1.0, np.nan], [2.0, 4.0], [3.0, 8.0], [4.0, 0.0]])
    pipe = Pipeline([("impute", SimpleImputer()), ("tab", TabularPreprocessor(numeric_transform=None))])
    out = pipe.fit_transform(X)
    np.testing.assert_array_equal(out["x_num"][:, 1], [4.0, 4.0, 8.0, 0.0])
    pipe.set_params(tab__numeric_transform="standard")
    out = clone(pipe).fit(X).transform(X)
    np.testing.assert_allclose(out["x_num"].mean(axis=0), 0.0, atol=1e-6)


def test_check_estimator_fails_only_where_dict_output_is_the_reason() -> None:
    # The output is a dict of two arrays, which the generic transformer checks cannot
    # compare or slice; every other scikit-learn check must pass.
    dict_output_checks = {
        "check_pipeline_consistency",
        "check_estimators_pickle",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit_idempotent",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(TabularPreprocessor(random_state=0), on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    if tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 7):
        # scikit-learn 1.6's check gives a categorical-tagged estimator int32 data, then subtracts its float mean
        # in place, which numpy refuses (fixed in scikit-learn 1.7).
        failed.discard("check_positive_only_tag_during_fit")
    assert failed <= dict_output_checks, failed - dict_output_checks
    for name in ("check_estimators_nan_inf", "check_estimators_empty_data_messages",
                 "check_dtype_object", "check_n_features_in_after_fitting", "check_fit1d"):
        assert name in passed


# ----------------------------------------------------------------------------- real data
def test_adult_first_rows_roles_and_cardinalities() -> None:
    path = _shared_data_dir() / "adult.csv.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    df = pd.read_csv(path, na_values=["?"], nrows=2000).drop(columns=["income", "split"])
    pre = TabularPreprocessor(random_state=0).fit(df)
    assert pre.numeric_columns_ == [
        "age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"
    ]
    assert len(pre.categorical_columns_) == 8
    assert "workclass" in pre.categorical_columns_ and "native_country" in pre.categorical_columns_
    expected = [df[c].nunique(dropna=True) + 1 for c in pre.categorical_columns_]
    assert pre.cardinalities_ == expected
    out = pre.transform(df)
    assert out["x_num"].shape == (2000, 6) and out["x_cat"].shape == (2000, 8)
    # missing workclass rows (there are some in the first 2000) get code 0, and only they
    missing = df["workclass"].isna().to_numpy()
    assert missing.any()
    j = pre.categorical_columns_.index("workclass")
    np.testing.assert_array_equal(out["x_cat"][:, j] == 0, missing)
    assert np.all(out["x_cat"] < np.array(pre.cardinalities_))
    # age is nearly continuous: its quantile output is close to standard normal
    age = out["x_num"][:, 0].astype(np.float64)
    assert abs(age.mean()) < 0.05 and abs(age.std() - 1.0) < 0.05


# ----------------------------------------------------------------------------- boundaries of the input checks
def test_categorical_positions_at_the_bounds_and_listed_twice(mixed_frame: pd.DataFrame) -> None:
    frame = mixed_frame.drop(columns=["grade"])  # age, income, city, member
    # One past the last column is out of range; it must not wrap around to column 0.
    with pytest.raises(ValueError, match="index 4, but X has 4 columns"):
        TabularPreprocessor(categorical_features=[4]).fit(frame)
    pre = TabularPreprocessor(categorical_features=[-4, "city"], numeric_transform=None).fit(frame)
    assert pre.categorical_columns_ == ["age", "city"]
    # The same column by name and by position would give it two embedding tables.
    with pytest.raises(ValueError, match="lists a column twice"):
        TabularPreprocessor(categorical_features=["city", 2]).fit(frame)
    with pytest.raises(ValueError, match="lists a column twice"):
        TabularPreprocessor(categorical_features=[0, -4]).fit(frame)


def test_category_codes_refuses_duplicate_categories() -> None:
    # With "a" twice, get_indexer cannot give one code per value.
    with pytest.raises(ValueError, match="duplicates"):
        category_codes(["a", "b"], ["a", "b", "a"])


def test_non_finite_error_names_the_numeric_column_behind_a_categorical_one() -> None:
    # The position among the numeric columns is not the position in the table.
    X = pd.DataFrame({"city": ["a", "b", "c"], "size": [1.0, np.nan, 2.0]})
    with pytest.raises(ValueError, match="'size' contains NaN or infinity"):
        TabularPreprocessor().fit(X)
    arr = np.array([["a", 1.0], ["b", np.inf]], dtype=object)
    with pytest.raises(ValueError, match="column 1 contains NaN or infinity"):
        TabularPreprocessor(categorical_features=[0]).fit(arr)


def test_integers_beyond_float64_precision_are_not_matched_by_their_rounded_value() -> None:
    # float64(2**53 + 1) == 2**53: the int-float second look-up must not read an unseen id as a seen one.
    categories = sorted_categories(pd.Series([2**53, 1], dtype="int64"))
    codes = category_codes(pd.Series([2**53 + 1, 2**53, 1], dtype="int64"), categories)
    assert codes.tolist() == [0, 2, 1]


def test_transform_holds_a_chunk_of_float64_not_the_whole_block() -> None:
    # The numeric block was copied to float64 whole, then again by the QuantileTransformer, before the float32
    # cast: two float64 copies of the table at once (445 MiB for 500,000 x 54 float64 rows). Encoded by row chunks,
    # the float32 output is the only array of the table's length.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300_000, 12))
    preprocessor = TabularPreprocessor(random_state=0).fit(X[:2000])
    _, peak = traced_peak(lambda: preprocessor.transform(X))
    assert peak < 1.5 * X.nbytes  # 2.7 x before (two float64 copies and the float32 output), 1.1 x now


@pytest.mark.parametrize("numeric_transform", ["quantile", "standard", None])
def test_chunked_transform_is_the_whole_table_transform_bit_for_bit(monkeypatch, numeric_transform) -> None:
    import imbsk.preprocessing.tabular as tabular

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=1000), "c": rng.choice(["x", "y", None], size=1000),
                      "b": rng.integers(0, 5, size=1000), "k": np.full(1000, 3.0)})
    new = X.assign(k=rng.normal(size=1000))  # the constant column is no longer constant
    numeric = ["a", "b", "k"]
    for fit_table, table in ((X.iloc[:300], new), (X[numeric].iloc[:300].to_numpy(), new[numeric].to_numpy())):
        preprocessor = TabularPreprocessor(numeric_transform=numeric_transform, random_state=0).fit(fit_table)
        monkeypatch.setattr(tabular, "_TRANSFORM_CHUNK_ROWS", 10**6)
        whole = preprocessor.transform(table)
        monkeypatch.setattr(tabular, "_TRANSFORM_CHUNK_ROWS", 7)
        chunked = preprocessor.transform(table)
        assert chunked["x_num"].dtype == np.float32 and chunked["x_num"].shape == (1000, 3)
        np.testing.assert_array_equal(chunked["x_num"], whole["x_num"])
        np.testing.assert_array_equal(chunked["x_cat"], whole["x_cat"])


def test_chunked_transform_names_the_first_bad_column_of_the_whole_table(monkeypatch) -> None:
    import imbsk.preprocessing.tabular as tabular

    monkeypatch.setattr(tabular, "_TRANSFORM_CHUNK_ROWS", 10)
    X = pd.DataFrame({"first": np.arange(30.0), "second": np.arange(30.0)})
    preprocessor = TabularPreprocessor().fit(X)
    bad = X.copy()
    bad.loc[3, "second"] = np.nan  # in the first chunk
    bad.loc[25, "first"] = np.inf  # in the third: the column an unchunked pass names
    with pytest.raises(ValueError, match="'first' contains NaN or infinity") as caught:
        preprocessor.transform(bad)
    # ... and only that column: not chained to the first chunk's error, which names 'second'
    assert not any("'second'" in message for message in _chained_messages(caught.value))
    text = X.astype(object)
    text.loc[3, "second"] = "x"
    text.loc[25, "first"] = "y"
    with pytest.raises(ValueError, match="'first' is treated as numeric") as caught:
        TabularPreprocessor(categorical_features=[]).fit(X).transform(text)
    assert not any("'second'" in message for message in _chained_messages(caught.value))


def _chained_messages(error: BaseException | None) -> list[str]:
    """The messages of ``error`` and of every exception its traceback shows before it (cause or context)."""
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__ or error.__context__
    return messages


def test_a_refit_that_raises_leaves_the_preprocessor_unfitted() -> None:
    # The attributes used to be set one by one: a refit failing on a NaN numeric value kept the new categories and
    # the old quantile transformer, and transform scaled the new data with the old data's quantiles.
    from sklearn.exceptions import NotFittedError

    rng = np.random.default_rng(0)
    old = pd.DataFrame({"a": rng.normal(size=50), "c": rng.choice(["x", "y"], 50)})
    new = pd.DataFrame({"a": 100 * rng.normal(size=50), "c": rng.choice(["p", "q", "r"], 50)})
    bad = new.copy()
    bad.loc[0, "a"] = np.nan
    preprocessor = TabularPreprocessor(random_state=0).fit(old)
    with pytest.raises(ValueError, match="contains NaN"):
        preprocessor.fit(bad)
    assert not hasattr(preprocessor, "numeric_transformer_") and not hasattr(preprocessor, "n_features_in_")
    with pytest.raises(NotFittedError):
        preprocessor.transform(new)


def test_categorical_features_may_be_a_pandas_index_of_column_names() -> None:
    # X.select_dtypes(...).columns was refused as "must be 'auto' or a list of columns".
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [5, 6, 5], "c": ["x", "y", "x"]})
    preprocessor = TabularPreprocessor(categorical_features=pd.Index(["b", "c"]), numeric_transform=None).fit(X)
    assert preprocessor.categorical_columns_ == ["b", "c"]
    assert preprocessor.cardinalities_ == [3, 3]
