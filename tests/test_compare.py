"""Tests of the comparison engine (imbsk.compare) and the ``imbsk compare`` command."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.svm import SVC, LinearSVC

from imbsk.cli import main
from imbsk.compare import (
    METHODS,
    METRICS,
    QUICK_MLP_PARAMS,
    DatasetInfo,
    LabelEncodedXGBClassifier,
    SmoteSamplingStrategy,
    describe_dataset,
    format_table,
    mlp_defaults,
    run_comparison,
    summarize,
    summary_to_markdown,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SUMMARY_COLUMNS = [column for metric in (*METRICS, "fit_time") for column in (metric, f"{metric}_se")]


def _mixed_frame(n: int = 240, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three imbalanced string classes; numeric, category, str and bool columns, NaN in some."""
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array(["common", "middle", "rare"]), size=n, p=[0.65, 0.23, 0.12])
    X = pd.DataFrame(
        {
            "signal": rng.normal(size=n) + 2.5 * (y == "middle") - 2.5 * (y == "rare"),
            "noise": rng.normal(size=n),
            "colour": pd.Series(rng.choice(["red", "green", "blue"], size=n)).astype("category"),
            "code": pd.Series(np.where(y == "rare", "r", rng.choice(["p", "q"], size=n))).astype("str"),
            "flag": rng.random(n) < 0.5,
        }
    )
    X.loc[rng.random(n) < 0.1, "colour"] = np.nan
    X.loc[rng.random(n) < 0.1, "code"] = np.nan
    return X, y


# ---------------------------------------------------------------------------------------
# the CLI end to end
# ---------------------------------------------------------------------------------------
@pytest.mark.filterwarnings(r"ignore:smote_mlp. classes \[9\]:UserWarning")
def test_compare_digits_writes_all_outputs(tmp_path, capsys):
    methods = ["erm", "logreg", "xgboost", "smote_mlp"]
    out = tmp_path / "out"
    status = main(
        ["compare", "--methods", ",".join(methods), "--seeds", "2", "--out", str(out), "--no-progress", "--quick",
         "--device", "cpu"]
    )
    assert status == 0
    printed = capsys.readouterr().out
    # digits-lt at the default ratio 0.01: 304 long-tailed training images, 50 test images per digit.
    assert "304 training rows, 500 test rows, 10 classes" in printed
    for method in methods:
        assert method in printed

    summary = pd.read_csv(out / "summary.csv", index_col="method")
    assert list(summary.index) == methods
    assert set(SUMMARY_COLUMNS) <= set(summary.columns)
    scores = summary[[*METRICS, *(f"{metric}_se" for metric in METRICS)]].to_numpy()
    assert np.all((scores >= 0) & (scores <= 1))
    assert (summary["n_runs"] == 2).all() and (summary["n_failed"] == 0).all()
    # Logistic regression is deterministic and far above chance (10%) on digits.
    assert summary.loc["logreg", "accuracy"] > 0.6
    assert summary.loc["logreg", "accuracy_se"] == pytest.approx(0.0, abs=1e-12)

    results = pd.read_csv(out / "results.csv")
    assert len(results) == len(methods) * 2
    assert sorted(zip(results["method"], results["seed"])) == sorted((m, s) for m in methods for s in (0, 1))
    assert results["error"].isna().all()
    # The summary is the mean of the per-run rows.
    erm = results[results["method"] == "erm"]
    assert summary.loc["erm", "balanced_accuracy"] == pytest.approx(erm["balanced_accuracy"].mean())

    markdown = (out / "summary.md").read_text(encoding="utf-8")
    assert markdown.count("| smote_mlp |") == 1 and "Minority acc. (%)" in markdown
    assert (out / "minority_majority.png").read_bytes()[:8] == PNG_MAGIC


def test_compare_csv_dataset_with_categoricals(tmp_path, capsys):
    X, y = _mixed_frame(200)
    frame = X.assign(label=y)
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    status = main(
        ["compare", "--dataset", str(path), "--target", "label", "--methods", "erm,svm,xgboost,smote_mlp",
         "--seeds", "0,3", "--out", str(out), "--no-progress", "--quick", "--device", "cpu"]
    )
    assert status == 0
    # Stratified 80/20 split of 200 rows.
    assert "160 training rows, 40 test rows, 3 classes" in capsys.readouterr().out
    results = pd.read_csv(out / "results.csv")
    assert sorted(set(results["seed"])) == [0, 3]
    assert len(results) == 8 and results["error"].isna().all()
    assert results[list(METRICS)].notna().all().all()


def test_compare_imbalance_ratio_on_csv(tmp_path, capsys):
    X, y = _mixed_frame(300)
    path = tmp_path / "table.csv"
    X.assign(label=y).to_csv(path, index=False)
    status = main(
        ["compare", "--dataset", str(path), "--target", "label", "--methods", "logreg", "--seeds", "1",
         "--imbalance-ratio", "0.25", "--out", str(tmp_path / "out"), "--no-progress"]
    )
    assert status == 0
    printed = capsys.readouterr().out
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(results) == 1 and results["error"].isna().all()
    counts_text = printed.split("training class counts ")[1].splitlines()[0]
    counts = eval(counts_text)  # noqa: S307 - the dict printed by the CLI
    # n_max is the smallest class of the stratified 240-row training split (the 'rare'
    # class, 12% of 300 rows, about 29 of them); labels in sorted order get
    # floor(n_max * 0.25 ** (i / 2)).
    n_max = counts["common"]
    assert 20 <= n_max <= 40
    assert counts["middle"] == math.floor(n_max * 0.5 + 1e-9)
    assert counts["rare"] == math.floor(n_max * 0.25 + 1e-9)


def _split_counts(*argv: str) -> tuple[dict, dict]:
    """Training and test class counts of the split the ``compare`` options describe."""
    from imbsk.cli import build_parser, load_compare_data

    args = build_parser(["compare"]).parse_args(["compare", *argv])
    _, y_train, _, y_test, _ = load_compare_data(args)
    return _counts(y_train), _counts(y_test)


def _counts(y) -> dict:
    return pd.Series(np.asarray(y)).value_counts().to_dict()


def test_test_imbalance_ratio_ranks_the_classes_by_their_training_counts(tmp_path):
    # 'zeta' is the majority of the training split; ranked by label it was made the rarest
    # test class, so the test set inverted the training long tail.
    X, y = _mixed_frame(300)
    y = np.where(y == "common", "zeta", y)
    path = tmp_path / "table.csv"
    X.assign(label=y).to_csv(path, index=False)
    train, test = _split_counts("--dataset", str(path), "--target", "label", "--test-imbalance-ratio", "0.2")
    assert max(train, key=train.get) == "zeta"
    assert sorted(test, key=test.get, reverse=True) == sorted(train, key=train.get, reverse=True)
    assert test["zeta"] > test["rare"]


def test_imbalance_ratio_keeps_the_natural_majority_as_the_head(tmp_path):
    # Ranked by label, 'zeta' (the natural majority) became the rarest training class.
    X, y = _mixed_frame(300)
    y = np.where(y == "common", "zeta", y)
    path = tmp_path / "table.csv"
    X.assign(label=y).to_csv(path, index=False)
    natural, _ = _split_counts("--dataset", str(path), "--target", "label")
    train, _ = _split_counts("--dataset", str(path), "--target", "label", "--imbalance-ratio", "0.25")
    assert sorted(train, key=train.get, reverse=True) == sorted(natural, key=natural.get, reverse=True)
    assert train["zeta"] == max(train.values()) and train["rare"] == math.floor(train["zeta"] * 0.25 + 1e-9)


def test_max_train_rows_keeps_the_single_sample_classes_of_digits_lt():
    # Class 9 of digits-LT has 1 training image, so a stratified split is impossible; the
    # plain random draw that replaced it lost classes 8 and 9 at 150 rows.
    train, _ = _split_counts("--max-train-rows", "150")
    assert sum(train.values()) == 150
    assert sorted(train) == list(range(10))
    counts = [train[label] for label in range(10)]
    assert counts == sorted(counts, reverse=True)  # the long tail keeps its order


@pytest.mark.parametrize("rows", [10, 20, 50])
def test_max_train_rows_keeps_every_class_however_few_rows(rows):
    # A stratified split of 20 rows gave classes 5-8 of digits-LT no row at all.
    train, _ = _split_counts("--max-train-rows", str(rows))
    assert sum(train.values()) == rows and sorted(train) == list(range(10))
    counts = [train[label] for label in range(10)]
    assert counts == sorted(counts, reverse=True)


def test_max_train_rows_below_the_number_of_classes_is_refused(capsys):
    from imbsk.cli import main

    assert main(["compare", "--max-train-rows", "9", "--methods", "logreg", "--no-progress"]) == 2
    assert "--max-train-rows 9 is below the 10 classes" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--methods", "erm,nonsense"], ["Unknown method 'nonsense'", "sam_a", "ldam_drw", "logreg"]),
        (["--dataset", "mnist"], ["unknown dataset 'mnist'", "digits-lt", "adult", "otto", "covertype"]),
        (["--imbalance-ratio", "0.001"], ["too small for digits-lt", "target count of 0 for"]),
    ],
)
def test_compare_bad_input_exits_2(tmp_path, capsys, extra, expected):
    status = main(["compare", "--out", str(tmp_path / "out"), "--no-progress", "--quick", *extra])
    assert status == 2
    error = capsys.readouterr().err
    for text in expected:
        assert text in error
    assert not (tmp_path / "out").exists()


def test_compare_csv_errors(tmp_path, capsys):
    X, y = _mixed_frame(60)
    path = tmp_path / "small.csv"
    X.assign(label=y).to_csv(path, index=False)
    base = ["compare", "--dataset", str(path), "--out", str(tmp_path / "out"), "--no-progress", "--quick"]

    assert main(base) == 2
    assert "--target is required" in capsys.readouterr().err

    assert main([*base, "--target", "income"]) == 2
    error = capsys.readouterr().err
    assert "'income'" in error and all(column in error for column in ["signal", "colour", "label"])

    # 48 training rows: the rarest class is too small for a 100:1 long tail.
    assert main([*base, "--target", "label", "--imbalance-ratio", "0.01"]) == 2
    error = capsys.readouterr().err
    assert "class counts {'common':" in error and "'rare':" in error

    assert main([*base, "--dataset", str(tmp_path / "missing.csv"), "--target", "label"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("name, damage", [("data.csv.gz", "truncated"), ("data.csv", "empty")])
def test_compare_damaged_csv_is_a_usage_error_naming_it(tmp_path, capsys, name, damage):
    # pandas decompresses .csv.gz by extension: a truncated one raised a bare EOFError (a traceback), and an
    # empty file's "No columns to parse from file" named no file.
    X, y = _mixed_frame(60)
    path = tmp_path / name
    X.assign(label=y).to_csv(path, index=False)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2] if damage == "truncated" else b"")
    assert main(["compare", "--dataset", str(path), "--target", "label", "--out", str(tmp_path / "out"),
                 "--no-progress", "--quick"]) == 2
    assert f"cannot read {path}" in capsys.readouterr().err


def test_seeds_option_parsing(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--seeds", "zero", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--seeds: expected a number of seeds (3) or a comma list (0,1,2), got 'zero'" in capsys.readouterr().err


def test_seeds_option_refuses_negative_seeds_and_runs_a_repeated_seed_once(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--seeds=-1,2", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "seeds must be non-negative, got -1" in capsys.readouterr().err

    status = main(["compare", "--methods", "logreg", "--seeds", "1,1", "--out", str(tmp_path / "out"),
                   "--no-progress", "--quick"])
    assert status == 0
    assert "seeds: 1\n" in capsys.readouterr().out  # the header names the seeds that run
    assert list(pd.read_csv(tmp_path / "out" / "results.csv")["seed"]) == [1]


def test_out_that_cannot_be_a_directory_is_refused_before_any_fit(tmp_path, capsys, monkeypatch):
    import imbsk.compare

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted although --out is unusable")

    monkeypatch.setattr(imbsk.compare, "run_comparison", no_fit)
    a_file = tmp_path / "results.csv"
    a_file.write_text("")
    for out, message in [(a_file, "is a file, not a directory"), (a_file / "sub", "cannot be created")]:
        assert main(["compare", "--methods", "logreg", "--out", str(out), "--no-progress", "--quick"]) == 2
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error and len(error.strip().splitlines()) == 1


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_out_is_probed_by_a_real_write_not_by_permission_bits(tmp_path):
    # /proc refuses new directories even to root, whom os.access calls writable everywhere.
    from imbsk._files import check_output_directory

    with pytest.raises(ValueError, match="--out /proc/imbsk-out is not writable"):
        check_output_directory("/proc/imbsk-out")
    check_output_directory(tmp_path / "new" / "dir")
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind


def test_continuous_target_error_is_one_short_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "regression.csv"
    pd.DataFrame({"x": rng.normal(size=500), "price": rng.normal(size=500)}).to_csv(path, index=False)
    status = main(["compare", "--dataset", str(path), "--target", "price", "--out", str(tmp_path / "out"),
                   "--no-progress", "--quick"])
    assert status == 2
    error = capsys.readouterr().err
    assert "(500 classes)" in error and len(error) < 600


def test_python_m_imbsk_help():
    done = subprocess.run(
        [sys.executable, "-m", "imbsk", "compare", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "--dataset" in done.stdout and "--imbalance-ratio" in done.stdout
    assert "--quick" not in done.stdout  # hidden


# ---------------------------------------------------------------------------------------
# the engine
# ---------------------------------------------------------------------------------------
def test_run_comparison_unknown_method_lists_valid_names():
    X, y = _mixed_frame(40)
    with pytest.raises(ValueError, match="valid methods are: erm, sam_a, class_smoothing"):
        run_comparison(X, y, X, y, methods=["erm", "gbm"], seeds=1, progress=False)


def test_device_is_checked_by_form_before_any_fit(tmp_path, capsys):
    X, y = _mixed_frame(40)
    with pytest.raises(ValueError, match="'device' parameter of imbsk.compare must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        run_comparison(X, y, X, y, methods=["erm"], seeds=1, progress=False, device="gpu")
    with pytest.raises(SystemExit):
        main(["compare", "--out", str(tmp_path / "out"), "--no-progress", "--device", "cuda:x"])
    assert "argument --device: must be auto, cpu, cuda or cuda:N" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_torch_is_warmed_up_once_before_the_timed_runs_of_network_methods(monkeypatch):
    import imbsk.compare

    calls = []
    monkeypatch.setattr(imbsk.compare, "_warm_up_torch", lambda device: calls.append(device))
    X, y = _mixed_frame(60)
    run_comparison(X, y, X, y, methods=["logreg", "svm"], seeds=2, progress=False)
    assert calls == []  # no network method: nothing to warm up
    run_comparison(X, y, X, y, methods=["logreg", "erm", "focal"], seeds=1, mlp_params=QUICK_MLP_PARAMS,
                   progress=False, device="cpu")
    assert calls == ["cpu"]


@pytest.mark.parametrize("progress", [False, True])
def test_no_tqdm_warning_in_a_notebook_without_ipywidgets(monkeypatch, recwarn, capsys, progress):
    # What tqdm.autonotebook looks for in a Jupyter kernel; no ipywidgets is installed here.
    import types

    shell = types.ModuleType("IPython")
    shell.get_ipython = lambda: type("ZMQInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "IPython", shell)
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # an import of it fails
    for name in ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook"):  # imported afresh, as in a new kernel
        monkeypatch.delitem(sys.modules, name, raising=False)
    warnings.simplefilter("always")
    X, y = _mixed_frame(60)
    results = run_comparison(X, y, X, y, methods=["logreg"], seeds=1, progress=progress)
    assert results["error"].isna().all()
    assert [str(w.message) for w in recwarn] == []
    assert ("1/1" in capsys.readouterr().err) == progress  # the text bar still shows


def test_every_method_handles_categorical_frames_with_nan(capsys):
    X, y = _mixed_frame(240)
    X_train, X_test, y_train, y_test = X.iloc[:180], X.iloc[180:], y[:180], y[180:]
    # Numeric NaN too: the MLPs get an imputer, SMOTE-NC imputes before interpolating.
    X_train = X_train.copy()
    X_train.loc[X_train.index[:5], "noise"] = np.nan
    results = run_comparison(
        X_train, y_train, X_test, y_test, methods="all", seeds=1, mlp_params=QUICK_MLP_PARAMS, progress=False
    )
    assert list(results["method"]) == list(METHODS)
    assert results["error"].isna().all()
    scores = results[list(METRICS)].to_numpy()
    assert np.all((scores >= 0) & (scores <= 1))
    # The signal column separates the classes: logistic regression must find it.
    assert results.set_index("method").loc["logreg", "balanced_accuracy"] > 0.7
    assert capsys.readouterr().err == ""  # progress=False: no bar


def test_numeric_nan_only_in_the_test_rows_is_imputed_for_the_mlps():
    # No NaN in the training rows, one in a test row: the MLPs must impute it with the
    # training median as the baselines do, not fail at predict time.
    X, y = _mixed_frame(120)
    X_test = X.iloc[90:].copy()
    X_test.loc[X_test.index[0], "signal"] = np.nan
    results = run_comparison(
        X.iloc[:90], y[:90], X_test, y[90:], methods="erm,logreg", seeds=1, mlp_params=QUICK_MLP_PARAMS,
        progress=False, errors="warn",
    )
    assert results["error"].isna().all(), results["error"].tolist()


def test_global_pandas_transform_output_changes_no_result():
    """sklearn.set_config(transform_output='pandas') made the one-hot encoders (SVM, logreg, SMOTE-NC) fail."""
    import sklearn

    X, y = _mixed_frame(120)
    kwargs = dict(
        methods="smote_mlp,svm,logreg", seeds=1, mlp_params={**QUICK_MLP_PARAMS, "max_iter": 2}, progress=False
    )
    expected = run_comparison(X.iloc[:90], y[:90], X.iloc[90:], y[90:], **kwargs)
    with sklearn.config_context(transform_output="pandas"):
        results = run_comparison(X.iloc[:90], y[:90], X.iloc[90:], y[90:], **kwargs)
    pd.testing.assert_frame_equal(results.drop(columns="fit_time"), expected.drop(columns="fit_time"))


def test_missing_categories_become_one_missing_category_whatever_the_pandas_version():
    # pandas < 3 turns None, NaN and pd.NA into the strings 'None', 'nan' and '<NA>' under astype(str):
    # three categories that the encoders of the SVM, logreg, XGBoost and SMOTE-NC told apart.
    from imbsk.compare import _categories_as_strings

    X = pd.DataFrame({
        "code": pd.Series(["b", None, "a", np.nan, pd.NA, 3], dtype=object),
        "tier": pd.Series(["x", None, "x", "y", None, "y"], dtype="category"),
    })
    out = _categories_as_strings(X)
    assert out["code"].tolist() == ["b", "__missing__", "a", "__missing__", "__missing__", "3"]
    assert out["tier"].tolist() == ["x", "__missing__", "x", "y", "__missing__", "y"]


def test_smote_nc_finds_the_categorical_columns_of_a_frame_with_integer_column_names():
    # The imputer in front of SMOTE-NC renames non-string columns (0 -> 'x0') and puts the
    # categorical ones last; the categorical column 0 taken as a position was the numeric 'x1'.
    # Under scikit-learn < 1.9 the imputer named both its numeric and its categorical output 'x0' and
    # every MLP method failed on such a frame ("Duplicated feature names").
    X, y = _mixed_frame(120)
    X = X[["code", "signal", "noise"]].set_axis([0, 1, 2], axis=1)
    results = run_comparison(
        X.iloc[:90], y[:90], X.iloc[90:], y[90:], methods="erm,smote_mlp", seeds=1, mlp_params=QUICK_MLP_PARAMS,
        progress=False, errors="warn",
    )
    assert results["error"].isna().all(), results["error"].tolist()


def test_progress_bar_goes_to_stderr(capsys):
    X, y = _mixed_frame(60)
    run_comparison(X, y, X, y, methods="logreg", seeds=[0, 1], progress=True)
    assert "2/2" in capsys.readouterr().err


def test_failed_runs_are_recorded_with_errors_warn():
    X, y = _mixed_frame(60)
    X_test = X.drop(columns=["signal"])  # a column missing at predict time makes every run fail
    with pytest.warns(RuntimeWarning, match="logreg .seed 0. failed"):
        results = run_comparison(X, y, X_test, y, methods="logreg", seeds=1, progress=False, errors="warn")
    assert results.loc[0, "error"].startswith("ValueError")
    summary = summarize(results)
    assert summary.loc["logreg", "n_runs"] == 0 and summary.loc["logreg", "n_failed"] == 1
    assert "failed" in format_table(summary)


def test_a_method_with_some_failed_runs_says_so_in_the_table():
    results = pd.DataFrame(
        {"method": ["m", "m", "m"], "seed": [0, 1, 2], "accuracy": [0.5, 0.7, np.nan],
         "balanced_accuracy": [0.5, 0.7, np.nan], "minority_accuracy": [0.0, 1.0, np.nan],
         "majority_accuracy": [1.0, 1.0, np.nan], "fit_time": [1.0, 3.0, np.nan],
         "error": [None, None, "ValueError: boom"]}
    )
    summary = summarize(results)
    assert "m (1 of 3 failed)" in format_table(summary).splitlines()[-1]
    assert "| m (1 of 3 failed) | 60.0 ± 10.0 |" in summary_to_markdown(summary)


def test_summarize_mean_and_standard_error_by_hand():
    results = pd.DataFrame(
        {
            "method": ["b", "b", "a", "a", "a"],
            "seed": [0, 1, 0, 1, 2],
            "accuracy": [0.5, 0.7, 0.6, 0.6, 0.9],
            "balanced_accuracy": [0.4, 0.4, 0.3, 0.6, 0.9],
            "minority_accuracy": [0.0, 1.0, 0.1, 0.2, 0.3],
            "majority_accuracy": [1.0, 1.0, 0.9, 0.9, 0.9],
            "fit_time": [1.0, 3.0, 2.0, 2.0, 2.0],
            "error": [None] * 5,
        }
    )
    summary = summarize(results)
    assert list(summary.index) == ["b", "a"]  # order of first appearance
    # b: mean 0.6, sample sd sqrt(0.02) = 0.1414, se = 0.1414 / sqrt(2) = 0.1.
    assert summary.loc["b", "accuracy"] == pytest.approx(0.6)
    assert summary.loc["b", "accuracy_se"] == pytest.approx(0.1)
    # a: balanced accuracy 0.3, 0.6, 0.9 -> mean 0.6, sd 0.3, se 0.3 / sqrt(3).
    assert summary.loc["a", "balanced_accuracy_se"] == pytest.approx(0.3 / math.sqrt(3))
    assert summary.loc["a", "majority_accuracy_se"] == pytest.approx(0.0)
    assert summary.loc["b", "fit_time_se"] == pytest.approx(1.0)
    table = format_table(summary)
    assert "60.0 ± 10.0" in table and "2.00 ± 1.00" in table
    markdown = summary_to_markdown(summary)
    assert "| b | 60.0 ± 10.0 | 40.0 ± 0.0 | 50.0 ± 50.0 | 100.0 ± 0.0 | 2.00 ± 1.00 |" in markdown


def test_single_run_has_no_standard_error():
    results = pd.DataFrame(
        {"method": ["m"], "seed": [0], "accuracy": [0.25], "balanced_accuracy": [0.5],
         "minority_accuracy": [0.0], "majority_accuracy": [1.0], "fit_time": [0.5]}
    )
    summary = summarize(results)
    assert math.isnan(summary.loc["m", "accuracy_se"])
    row = format_table(summary).splitlines()[-1].split()
    assert row == ["m", "25.0", "50.0", "0.0", "100.0", "0.50"]


def test_chart_labels_failed_and_undefined_scores_instead_of_showing_zero(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from imbsk.compare import plot_minority_majority

    results = pd.DataFrame(
        {"method": ["ok", "bad", "na"], "seed": [0, 0, 0], "accuracy": [0.9, np.nan, 0.5],
         "balanced_accuracy": [0.8, np.nan, 0.5], "minority_accuracy": [0.7, np.nan, np.nan],
         "majority_accuracy": [0.95, np.nan, 0.6], "fit_time": [1.0, np.nan, 1.0],
         "error": [None, "ValueError: boom", None]}
    )
    saved = []
    original_savefig = Figure.savefig

    def recording_savefig(self, *args, **kwargs):
        saved.append(self)
        return original_savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", recording_savefig)
    summary = summarize(results)
    plot_minority_majority(summary, tmp_path / "chart.png")
    # The table writes 'failed' for 'bad' and 'n/a' for the minority score of 'na'; the
    # chart drew both as empty bars, indistinguishable from a score of 0%.
    assert "failed" in format_table(summary) and "n/a" in format_table(summary)
    notes = sorted(text.get_text() for text in saved[0].axes[0].texts)
    assert notes == ["failed", "failed", "n/a"]


def test_smote_strategy_skips_classes_smaller_than_k_plus_one():
    y = np.array([0] * 10 + [1] * 3 + [2] * 1)
    assert SmoteSamplingStrategy(1)(y) == {0: 10, 1: 10}
    assert SmoteSamplingStrategy(3)(y) == {0: 10}


def test_smote_factory_adapts_k_and_rejects_all_singleton_minorities():
    X = np.arange(26, dtype=float).reshape(13, 2)
    info = describe_dataset(X, np.array([0] * 10 + [1] * 2 + [2]))
    with pytest.warns(UserWarning, match=r"classes \[2\] have a single training sample"):
        pipeline = METHODS["smote_mlp"](0, info).pipeline
    sampler = pipeline.steps[1][1]
    assert sampler.k_neighbors == 1  # min(5, n_min - 1) with n_min = 2
    with pytest.raises(ValueError, match="class counts are"):
        METHODS["smote_mlp"](0, describe_dataset(X[:12], np.array([0] * 10 + [1, 2])))


def _record_early_stopping_sets(monkeypatch) -> list:
    """``(mlp, train, valid)`` of every MLP fit: the rows its network trains and early-stops on."""
    from imbsk.estimators.base import BaseImbalancedClassifier

    seen = []
    original = BaseImbalancedClassifier._make_net

    def recording(self, module, train, valid, seed, device, sampling=None):
        seen.append((self, train, valid))
        return original(self, module, train, valid, seed, device, sampling)

    monkeypatch.setattr(BaseImbalancedClassifier, "_make_net", recording)
    return seen


def _rows(data) -> np.ndarray:
    """The encoded numeric inputs of a TensorData (or of ``_transform_inputs``) as float32 rows."""
    x_num = data.X["x_num"] if hasattr(data, "X") else data["x_num"]
    return np.asarray(x_num.cpu() if hasattr(x_num, "cpu") else x_num, dtype=np.float32)


def _row_positions(rows: np.ndarray, table: np.ndarray) -> list:
    """Position in ``table`` of each row of ``rows`` (None for a row not in it)."""
    where = {row.tobytes(): i for i, row in enumerate(table)}
    return [where.get(row.tobytes()) for row in rows]


#: Early stopping on a 10% split, as mlp_defaults gives above 2,000 rows, on a tiny MLP.
EARLY_STOPPING_PARAMS = {**QUICK_MLP_PARAMS, "max_iter": 2, "validation_fraction": 0.1}


def _numeric_classes(counts: list, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(counts)), counts)
    return rng.normal(size=(len(y), 3)) + y[:, None], y


def test_smote_mlp_early_stops_on_real_rows_held_out_before_resampling(monkeypatch):
    # In the imbalanced-learn pipeline the MLP drew its early-stopping rows from the SMOTE
    # output: synthetic rows, in balanced proportions, next to the rows they came from.
    X, y = _numeric_classes([150, 40, 10])
    info = describe_dataset(X, y, mlp_params=EARLY_STOPPING_PARAMS)
    seen = _record_early_stopping_sets(monkeypatch)
    METHODS["smote_mlp"](0, info).fit(X, y)
    METHODS["erm"](0, info).fit(X, y)
    (smote_mlp, train, valid), (erm, _, erm_valid) = seen
    held_out = _row_positions(_rows(valid), _rows(smote_mlp._transform_inputs(X)))
    assert None not in held_out, "an early-stopping row is not a training row"
    # The training data's class proportions (150:40:10 of 200 rows -> 15:4:1 of 20), ...
    np.testing.assert_array_equal(np.bincount(y[held_out]), [15, 4, 1])
    np.testing.assert_array_equal(np.bincount(valid.y.cpu().numpy()), [15, 4, 1])
    # ... the rows ERM holds out with the same seed, ...
    assert held_out == _row_positions(_rows(erm_valid), _rows(erm._transform_inputs(X)))
    # ... and none of them trains (SMOTE resampled only the other 180 rows up to 135 per class).
    assert set(_row_positions(_rows(train), _rows(valid))) == {None}
    np.testing.assert_array_equal(smote_mlp.class_counts_, [135, 135, 135])


def test_smote_mlp_oversamples_a_class_left_with_k_rows_by_the_held_out_split(monkeypatch):
    # 6 rows give k_neighbors=5; the split holds one out, and SMOTE with k=5 skipped the
    # 5 left (a class needs k + 1): the rarest class was the one not oversampled.
    X, y = _numeric_classes([54, 6])
    seen = _record_early_stopping_sets(monkeypatch)
    model = METHODS["smote_mlp"](0, describe_dataset(X, y, mlp_params=EARLY_STOPPING_PARAMS)).fit(X, y)
    (mlp, _, valid), = seen
    np.testing.assert_array_equal(np.bincount(valid.y.cpu().numpy()), [5, 1])
    np.testing.assert_array_equal(mlp.class_counts_, [49, 49])
    assert model.pipeline_.steps[1][1].k_neighbors == 4
    # The estimator counts the training rows, not the resampled ones, for the imbalance scorers.
    from imbsk.metrics import _estimator_class_counts

    assert _estimator_class_counts(model) == {0: 54, 1: 6}


def test_smote_mlp_trains_a_class_whose_rows_the_unstratified_split_holds_out(monkeypatch):
    # A single-sample class rules out stratification; with seed 24 the random split draws
    # that sample, which then trains (an MLP fitted without it could not score it), in the
    # plain MLP's split and the SMOTE pipeline's alike.
    X, y = _numeric_classes([50, 8, 1])
    info = describe_dataset(X, y, mlp_params=EARLY_STOPPING_PARAMS)
    seen = _record_early_stopping_sets(monkeypatch)
    METHODS["erm"](24, info).fit(X, y)
    np.testing.assert_array_equal(np.bincount(seen[0][2].y.cpu().numpy(), minlength=3), [5, 0, 0])
    with pytest.warns(UserWarning, match=r"classes \[2\] have a single training sample"):
        model = METHODS["smote_mlp"](24, info)
    model.fit(X, y)
    mlp, _, valid = seen[1]
    np.testing.assert_array_equal(np.bincount(valid.y.cpu().numpy(), minlength=3), [5, 0, 0])
    assert list(mlp.classes_) == [0, 1, 2] and mlp.class_counts_[2] == 1


def test_smote_nc_held_out_rows_are_imputed_but_not_resampled(monkeypatch):
    from imbsk import ImbalancedMLPClassifier

    X, y = _mixed_frame(200)
    X.loc[X.index[:20], "noise"] = np.nan
    calls = []
    original_fit = ImbalancedMLPClassifier.fit

    def recording_fit(self, X, y, sample_weight=None, **kwargs):
        calls.append((X, np.asarray(y), kwargs))
        return original_fit(self, X, y, sample_weight, **kwargs)

    monkeypatch.setattr(ImbalancedMLPClassifier, "fit", recording_fit)
    monkeypatch.setattr("imbsk.compare._warm_up_torch", lambda device: None)  # its fit is not the method's
    results = run_comparison(
        X.iloc[:150], y[:150], X.iloc[150:], y[150:], methods="smote_mlp", seeds=1,
        mlp_params=EARLY_STOPPING_PARAMS, progress=False,
    )
    assert results["error"].isna().all()
    (X_train, y_train, kwargs), = calls
    X_val, y_val = kwargs.get("X_val"), kwargs.get("y_val")
    assert X_val is not None, "the MLP drew its early-stopping rows from the SMOTE-NC output"
    assert len(X_val) == 15 and not X_val.isna().any().any()
    assert list(X_val.columns) == list(X_train.columns)
    # Real rows in the training proportions; SMOTE-NC balanced only the other 135 rows.
    train_counts = pd.Series(y[:150]).value_counts()
    assert pd.Series(y_val).value_counts().to_dict() == (train_counts / 10).round().astype(int).to_dict()
    assert len(set(pd.Series(y_train).value_counts())) == 1
    assert len(y_train) == 3 * (train_counts["common"] - pd.Series(y_val).value_counts()["common"])


def test_smote_mlp_without_early_stopping_is_the_plain_pipeline():
    from imblearn.over_sampling import SMOTE
    from imblearn.pipeline import make_pipeline as make_imblearn_pipeline
    from sklearn.impute import SimpleImputer

    from imbsk import ImbalancedMLPClassifier

    X, y = _numeric_classes([60, 20, 6])
    X[::7, 1] = np.nan
    info = describe_dataset(X, y, mlp_params={**QUICK_MLP_PARAMS, "max_iter": 2})
    assert info.mlp_params["validation_fraction"] is None
    model = METHODS["smote_mlp"](3, info).fit(X, y)
    plain = make_imblearn_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        SMOTE(sampling_strategy=SmoteSamplingStrategy(5), k_neighbors=5, random_state=3),
        ImbalancedMLPClassifier(device="cpu", random_state=3, **info.mlp_params),
    ).fit(X, y)
    np.testing.assert_array_equal(model.predict_proba(X), plain.predict_proba(X))
    np.testing.assert_array_equal(model.predict(X), plain.predict(X))


def test_ldam_drw_defers_to_two_thirds_without_early_stopping():
    info = describe_dataset(np.zeros((50, 2)), np.array([0] * 40 + [1] * 10))
    model = METHODS["ldam_drw"](0, info)[-1]  # the MLP, behind its imputer
    assert info.mlp_params["max_iter"] == 100
    assert model.drw_epoch == 67 and model.validation_fraction is None
    assert model.loss == "ldam" and model.class_weight == "effective_number"


def test_mlp_defaults_tiers_and_svm_switch():
    assert mlp_defaults(300)["validation_fraction"] is None
    assert mlp_defaults(5_000)["validation_fraction"] == 0.1
    assert mlp_defaults(100_000)["batch_size"] > mlp_defaults(5_000)["batch_size"]
    small = DatasetInfo(n_train=1_000, n_features=3, class_counts={0: 900, 1: 100}, numeric_columns=(0, 1, 2))
    large = DatasetInfo(n_train=25_000, n_features=3, class_counts={0: 24_000, 1: 1_000}, numeric_columns=(0, 1, 2))
    assert isinstance(METHODS["svm"](0, small)[-1], SVC)
    assert isinstance(METHODS["svm"](0, large)[-1], LinearSVC)


def test_label_encoded_xgboost_returns_original_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.where(X[:, 0] > 0.5, "high", np.where(X[:, 0] < -0.5, "low", "mid"))
    model = LabelEncodedXGBClassifier(n_estimators=20, random_state=0).fit(X, y)
    assert list(model.classes_) == ["high", "low", "mid"]
    assert (model.predict(X) == y).mean() > 0.95
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)


def test_tune_without_tuning_module_reports_unavailable(monkeypatch, capsys):
    import imbsk

    # A None entry in sys.modules makes the import fail, as when imbsk/tuning/ is absent.
    monkeypatch.setitem(sys.modules, "imbsk.tuning", None)
    monkeypatch.delattr(imbsk, "tuning", raising=False)
    assert main(["tune", "--dataset", "adult", "--n-trials", "1"]) == 1
    assert "tuning is unavailable" in capsys.readouterr().err


def test_class_scaling_option_reaches_the_mlps(tmp_path, monkeypatch):
    from imbsk import ImbalancedMLPClassifier

    seen = []
    original_fit = ImbalancedMLPClassifier.fit

    def recording_fit(self, X, y):
        seen.append(self.class_scaling)
        return original_fit(self, X, y)

    monkeypatch.setattr(ImbalancedMLPClassifier, "fit", recording_fit)
    monkeypatch.setattr("imbsk.compare._warm_up_torch", lambda device: None)  # its fit is not the method's
    code = main(["compare", "--methods", "class_smoothing", "--seeds", "1", "--quick", "--no-progress",
                 "--class-scaling", "uniform", "--out", str(tmp_path)])
    assert code == 0
    assert seen == ["uniform"]


def test_label_counts_are_keyed_by_python_scalars():
    from imbsk._labels import label_counts

    counts = label_counts(np.array([3, 1, 3, 3], dtype=np.int64))
    assert counts == {1: 1, 3: 3}
    assert all(type(label) is int for label in counts)
    # Printed in error messages: no "np.int64(...)" noise.
    assert str(counts) == "{1: 1, 3: 3}"
    assert label_counts(["b", "a", "b"]) == {"a": 1, "b": 2}


def test_methods_without_torch_are_exactly_those_without_a_network():
    """The warm-up before the timed runs is skipped only for methods that fit no imbsk network."""
    from imbsk import ImbalancedMLPClassifier
    from imbsk.compare import _WITHOUT_TORCH

    info = describe_dataset(np.zeros((50, 2)), np.array([0] * 40 + [1] * 10))

    def holds_network(estimator) -> bool:
        parts = [estimator, *vars(estimator).values()]
        if hasattr(estimator, "get_params"):
            parts += list(estimator.get_params(deep=True).values())
        return any(isinstance(part, ImbalancedMLPClassifier) for part in parts) or any(
            holds_network(part) for part in parts if part is not estimator and hasattr(part, "steps")
        )

    without = {name for name in METHODS if not holds_network(METHODS[name](0, info))}
    assert without == set(_WITHOUT_TORCH)


@pytest.mark.parametrize(
    "mlp_params, message",
    [
        ({"random_state": 3}, r"sets \['random_state'\], which each run sets itself \(random_state: the run's seed"),
        ({"device": "cpu"}, r"sets \['device'\], which each run sets itself \(device: device / --device\)"),
        ({"max_iters": 2}, r"not ImbalancedMLPClassifier arguments: \['max_iters'\]"),
    ],
)
def test_mlp_params_that_no_run_can_take_are_refused_before_any_fit(mlp_params, message):
    # They used to reach every MLP factory: TypeError "got multiple values for keyword argument
    # 'random_state'" (or "unexpected keyword"), or under errors='warn' a table of failed MLP runs.
    X, y = _numeric_classes([40, 10])
    with pytest.raises(ValueError, match=message):
        describe_dataset(X, y, mlp_params=mlp_params)
    with pytest.raises(ValueError, match=message):
        run_comparison(X, y, X, y, methods="erm,logreg", seeds=1, mlp_params=mlp_params, errors="warn", progress=False)


@pytest.mark.parametrize("seeds", [[1.5], [0, True], ["1"]])
def test_seeds_that_are_not_integers_are_refused(seeds):
    # int() ran seed 1.5 as seed 1 (and '1' as 1): results recorded under a seed the caller did not give.
    X, y = _numeric_classes([40, 10])
    with pytest.raises(ValueError, match="seeds must be integers"):
        run_comparison(X, y, X, y, methods="logreg", seeds=seeds, progress=False)


@pytest.mark.parametrize("seeds", [True, 2.0, "01", None])
def test_seeds_that_are_neither_a_count_nor_a_list_are_refused(seeds):
    # True / 2.0 raised "'bool' object is not iterable"; '01' was read as the seeds ['0', '1'].
    X, y = _numeric_classes([40, 10])
    with pytest.raises(ValueError, match="seeds must be a positive number of seeds or a list of seeds"):
        run_comparison(X, y, X, y, methods="logreg", seeds=seeds, progress=False)


@pytest.mark.parametrize("torch_threads", [0, -1, 2.0, "2", True])
def test_invalid_torch_threads_is_refused_naming_it(torch_threads):
    # torch.set_num_threads refused it at the first run: "set_num_threads expects a positive integer".
    X, y = _numeric_classes([40, 10])
    with pytest.raises(ValueError, match="torch_threads must be a positive integer, 'auto' or None"):
        run_comparison(X, y, X, y, methods="logreg", seeds=1, progress=False, torch_threads=torch_threads)


@pytest.mark.parametrize("seeds", [[-1], [0, 2**32]])
def test_seeds_outside_the_random_state_range_are_refused_before_any_run(seeds):
    # They used to run: logreg and XGBoost scored, every MLP and SVM run failed on its random_state.
    X, y = _numeric_classes([40, 10])
    with pytest.raises(ValueError, match=r"seeds must be integers from 0 to 2\*\*32 - 1 .* got \[(-1|4294967296)\]"):
        run_comparison(X, y, X, y, methods="logreg,erm", seeds=seeds, errors="warn", progress=False,
                       mlp_params=QUICK_MLP_PARAMS)


def test_seeds_option_refuses_seeds_above_the_random_state_range(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--seeds", "0,4294967296", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "seeds must be at most 2**32 - 1, got 4294967296" in capsys.readouterr().err


def _process_settings() -> dict:
    import os
    import signal
    import warnings

    import sklearn
    import torch

    return {
        "torch": (torch.get_num_threads(), torch.is_grad_enabled(), torch.get_default_dtype(),
                  torch.are_deterministic_algorithms_enabled(), torch.is_autocast_enabled("cpu")),
        "torch_rng": torch.get_rng_state(), "numpy_rng": np.random.get_state()[1].copy(),
        "numpy_errors": np.geterr(), "warning_filters": list(warnings.filters), "sklearn": sklearn.get_config(),
        "environment": dict(os.environ), "cwd": os.getcwd(), "sigint": signal.getsignal(signal.SIGINT),
        "streams": (sys.stdout, sys.stderr),
    }


@pytest.mark.parametrize("threads", [None, "2"])
def test_the_command_in_process_leaves_the_process_settings_as_it_found_them(tmp_path, threads, capsys):
    # cli.main is called in-process (these tests, notebooks): past glibc's malloc thresholds (documented there),
    # what a compare run sets for itself (torch's threads, warning capture, sklearn's output) is restored.
    import torch

    from imbsk import ImbalancedMLPClassifier

    # torch's lazy imports at a process's first training step set TORCHINDUCTOR_CACHE_DIR: torch's, not the command's.
    ImbalancedMLPClassifier(hidden_layer_sizes=(4,), max_iter=1, validation_fraction=None).fit([[0.0], [1.0]], [0, 1])
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        before = _process_settings()
        assert main(["compare", "--methods", "logreg,erm", "--seeds", "1", "--quick", "--max-train-rows", "200",
                     "--out", str(tmp_path / "out")]) == 0
        after = _process_settings()
    finally:
        torch.set_num_threads(previous)
    for name in ("torch_rng", "numpy_rng"):
        assert np.array_equal(np.asarray(before.pop(name)), np.asarray(after.pop(name))), name
    assert after == before


def test_label_encoded_xgboost_passes_sklearns_checks_and_validates_its_parameters():
    from sklearn.exceptions import NotFittedError
    from sklearn.utils._param_validation import InvalidParameterError
    from sklearn.utils.estimator_checks import check_estimator

    # It used to fail 13 checks: predict before fit raised AttributeError (classes_), a list X crashed on X.shape,
    # a continuous y was fitted as one class per value, infinity reached XGBoost, predict did not check the columns.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(LabelEncodedXGBClassifier(n_estimators=5, n_jobs=1, random_state=0), on_fail=None)
    assert [r["check_name"] for r in results if r["status"] == "failed"] == []
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.array(["a", "b"] * 10)
    with pytest.raises(NotFittedError):
        LabelEncodedXGBClassifier().predict(X)
    # XGBoost fits no tree with n_estimators <= 0 (a constant model) without a word.
    with pytest.raises(InvalidParameterError, match="'n_estimators' parameter"):
        LabelEncodedXGBClassifier(n_estimators=0).fit(X, y)
    X[0, 0] = np.nan  # XGBoost's missing value stays allowed, as documented
    assert LabelEncodedXGBClassifier(n_estimators=3, n_jobs=1).fit(X, y).predict(X).shape == (20,)
