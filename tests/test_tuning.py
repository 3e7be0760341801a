"""Tests of imbsk.tuning: search spaces, tune/evaluate end to end, shared studies, the CLI hooks."""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import re
import threading
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
from optuna.distributions import CategoricalDistribution as Cat
from optuna.distributions import FloatDistribution as Float
from optuna.distributions import IntDistribution as Int
from sklearn.metrics import log_loss

from imbsk import member_cache, tuning

optuna.logging.set_verbosity(optuna.logging.WARNING)

SHARED_DATA = Path(os.environ.get("IMBSK_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
needs_adult = pytest.mark.skipif(not (SHARED_DATA / "adult.csv.gz").is_file(), reason="Adult file not available")
DATA_HOME = str(SHARED_DATA)
ROWS = 1500


# ---------------------------------------------------------------------------
# search spaces
# ---------------------------------------------------------------------------
def _draw(space, n: int = 40) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    draws = []
    for _ in range(n):
        trial = study.ask()
        draws.append(space(trial))
        study.tell(trial, 0.0)
    return draws


def test_mlp_space_ranges():
    for params in _draw(tuning.mlp_space):
        assert 0.01 <= params["frequency_init_scale"] <= 100
        assert 8 <= params["n_frequencies"] <= 96 and 8 <= params["d_embedding"] <= 64
        assert 1 <= len(params["hidden_layer_sizes"]) <= 4
        assert len(set(params["hidden_layer_sizes"])) == 1 and params["hidden_layer_sizes"][0] % 32 == 0
        assert 64 <= params["hidden_layer_sizes"][0] <= tuning.MAX_WIDTH == 1024
        assert 0 <= params["dropout"] <= 0.5
        assert params["optimizer"] == "adamw"
        assert 3e-5 <= params["learning_rate_init"] <= 3e-3 and 1e-6 <= params["weight_decay"] <= 1e-3
        assert params["batch_size"] in tuning.BATCH_SIZES
        assert "sam_asymmetric_rho" not in params and "class_smoothing_eps" not in params
        json.dumps(params)  # stored as a trial user attribute


def _distributions(space, **kwargs) -> dict:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    space(trial, **kwargs)
    return trial.distributions


def test_spaces_draw_from_the_documented_distributions():
    # The table of imbsk.tuning's docstring and docs/benchmarks.md "Search spaces": bounds, log scale and step.
    # Range checks on a few draws cannot tell log-uniform from uniform, nor notice a narrowed range.
    mlp = {
        "n_blocks": Int(1, 4),
        "width": Int(64, 1024, step=32),
        "frequency_init_scale": Float(0.01, 100.0, log=True),
        "n_frequencies": Int(8, 96),
        "d_embedding": Int(8, 64),
        "dropout": Float(0.0, 0.5),
        "learning_rate_init": Float(3e-5, 3e-3, log=True),
        "weight_decay": Float(1e-6, 1e-3, log=True),
        "batch_size": Cat([64, 128, 256, 512]),
    }
    assert _distributions(tuning.mlp_space) == mlp
    sgd = _distributions(tuning.mlp_space, optimizer="sgd")
    assert sgd == {**mlp, "learning_rate_init": Float(1e-3, 0.3, log=True)}
    assert _distributions(tuning.mlp_sam_ls_space) == {
        **mlp,
        "sam_asymmetric_rho": Float(0.01, 0.5, log=True),
        "class_smoothing_eps": Float(0.0, 0.3),
    }
    assert _distributions(tuning.xgboost_space) == {
        "max_depth": Int(3, 10),
        "learning_rate": Float(0.01, 0.3, log=True),
        "min_child_weight": Float(1e-2, 1e2, log=True),
        "subsample": Float(0.5, 1.0),
        "colsample_bytree": Float(0.5, 1.0),
        "reg_lambda": Float(1e-8, 1e2, log=True),
        "reg_alpha": Float(1e-8, 1e2, log=True),
    }


def test_sam_ls_space_adds_rho_and_eps():
    draws = _draw(tuning.mlp_sam_ls_space)
    for params in draws:
        assert 0.01 <= params["sam_asymmetric_rho"] <= 0.5
        assert 0.0 <= params["class_smoothing_eps"] <= 0.3
    # log-uniform over [0.01, 0.5]: the median of log(rho) is near the middle of the log range
    log_rho = np.log([p["sam_asymmetric_rho"] for p in draws])
    assert abs(np.median(log_rho) - (np.log(0.01) + np.log(0.5)) / 2) < 0.8


def test_sgd_spaces_use_the_sgd_learning_rate_range():
    for space in (tuning.mlp_space, tuning.mlp_sam_ls_space):
        draws = _draw(lambda t: space(t, optimizer="sgd"), 30)
        assert {p["optimizer"] for p in draws} == {"sgd"}
        rates = [p["learning_rate_init"] for p in draws]
        assert all(1e-3 <= r <= 0.3 for r in rates) and max(rates) > 3e-3  # beyond the AdamW range
    with pytest.raises(ValueError, match="optimizer must be one of"):
        _draw(lambda t: tuning.mlp_space(t, optimizer="adam"), 1)
    assert "optimizer" not in _draw(lambda t: tuning.xgboost_space(t, optimizer="sgd"), 1)[0]


def test_precision_is_carried_only_when_not_float32():
    assert "precision" not in _draw(tuning.mlp_sam_ls_space, 1)[0]  # float32 configurations stay as before
    for space in (tuning.mlp_space, tuning.mlp_sam_ls_space):
        assert {p["precision"] for p in _draw(lambda t: space(t, precision="bfloat16"), 3)} == {"bfloat16"}
    assert "precision" not in _draw(lambda t: tuning.xgboost_space(t, precision="bfloat16"), 1)[0]
    with pytest.raises(ValueError, match="precision must be one of"):
        _draw(lambda t: tuning.mlp_space(t, precision="float16"), 1)


def test_studies_from_before_the_optimizer_was_recorded_count_as_adamw():
    legacy = optuna.create_study(direction="maximize")
    legacy.add_trial(optuna.trial.create_trial(value=0.8, params={}, distributions={}))
    with pytest.raises(ValueError, match="optimizer='adamw'"):
        tuning.study._pin_study_optimizer(legacy, "sgd")
    tuning.study._pin_study_optimizer(legacy, "adamw")  # continuing it as before is fine
    fresh = optuna.create_study(direction="maximize")
    tuning.study._pin_study_optimizer(fresh, "sgd")
    assert fresh.user_attrs == {"optimizer": "sgd"}


def test_xgboost_space_and_batch_sizes_argument():
    for params in _draw(tuning.xgboost_space, 20):
        assert 3 <= params["max_depth"] <= 10 and 0.01 <= params["learning_rate"] <= 0.3
        assert set(params) == {"max_depth", "learning_rate", "min_child_weight", "subsample",
                               "colsample_bytree", "reg_lambda", "reg_alpha", "max_cat_to_onehot"}
        assert params["max_cat_to_onehot"] == tuning.XGB_MAX_CAT_TO_ONEHOT
    sizes = {p["batch_size"] for p in _draw(lambda t: tuning.mlp_space(t, batch_sizes=(32,)), 5)}
    assert sizes == {32}


# ---------------------------------------------------------------------------
# names, helpers
# ---------------------------------------------------------------------------
def test_unknown_names_list_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"valid names: \['mlp', 'mlp_sam_ls', 'xgboost'\]"):
        tuning.tune("adult", "resnet", n_trials=1, storage=f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(ValueError, match=r"valid names: \['adult', 'covertype', 'otto'\]"):
        tuning.evaluate("mnist", "mlp", {}, seeds=1)


def test_summarize_mean_and_standard_error():
    results = pd.DataFrame({
        "dataset": "d", "model": "m", "seed": [0, 1, 2],
        "val_accuracy": [0.5, 0.5, 0.5], "test_accuracy": [0.8, 0.9, 1.0],
        "minority_accuracy": [0.6, 0.6, 0.9], "majority_accuracy": [1.0, 1.0, 1.0], "fit_time": [1.0, 2.0, 3.0],
    })
    row = tuning.summarize(results).iloc[0]
    assert row["n_seeds"] == 3
    assert row["test_accuracy_mean"] == pytest.approx(0.9)
    assert row["test_accuracy_se"] == pytest.approx(0.1 / math.sqrt(3))  # std(ddof=1) = 0.1
    assert row["minority_accuracy_se"] == pytest.approx(math.sqrt(0.03) / math.sqrt(3))
    assert row["majority_accuracy_se"] == 0.0
    assert "80.00" not in tuning.format_summary(tuning.summarize(results))
    assert "90.00 ± 5.77" in tuning.format_summary(tuning.summarize(results))

    # One seed has no standard error (NaN, as in imbsk.compare.summarize), not a spread of 0.
    single = tuning.summarize(results.iloc[:1]).iloc[0]
    assert single["n_seeds"] == 1 and single["test_accuracy_mean"] == pytest.approx(0.8)
    assert math.isnan(single["test_accuracy_se"]) and math.isnan(single["fit_time_se"])
    table = tuning.format_summary(tuning.summarize(results.iloc[:1]))
    assert "| d | m | 1 | 80.00 | 60.00 | 100.00 | 1.0 |" in table and "±" not in table


def test_xgb_frame_turns_text_into_categories():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": pd.Series(["x", "y"], dtype="str"), "c": [True, False]})
    out = tuning.data._xgb_frame(frame)
    assert isinstance(out["b"].dtype, pd.CategoricalDtype) and isinstance(out["c"].dtype, pd.CategoricalDtype)
    assert out["a"].dtype == np.float64
    assert pd.api.types.is_string_dtype(frame["b"].dtype)  # the input is not modified


@needs_adult
def test_load_split_subsample_is_stratified():
    full = tuning.load_split("adult", data_home=DATA_HOME)
    small = tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=ROWS)
    assert len(small.y_train) == ROWS and len(small.X_train) == ROWS
    assert sum(small.class_counts.values()) == ROWS
    full_share = full.class_counts[">50K"] / sum(full.class_counts.values())
    assert abs(small.class_counts[">50K"] / ROWS - full_share) < 1 / ROWS + 1e-12
    assert len(small.y_val) == len(full.y_val) == 6513 and len(small.y_test) == 16281


# ---------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------
@needs_adult
def test_tune_and_evaluate_mlp_end_to_end(tmp_path):
    storage = f"sqlite:///{tmp_path}/study.db"
    study = tuning.tune("adult", "mlp_sam_ls", n_trials=2, storage=storage, data_home=DATA_HOME,
                        max_epochs=2, max_train_rows=ROWS, batch_sizes=(256,))
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert study.study_name == "adult-mlp_sam_ls" and len(completed) == 2
    for trial in completed:
        assert 0.5 < trial.value <= 1.0
        assert trial.user_attrs["fit_time"] > 0 and 1 <= trial.user_attrs["epochs"] <= 2
    params = tuning.best_params(study)
    assert params["batch_size"] == 256 and params["sam_asymmetric_rho"] > 0

    results = tuning.evaluate("adult", "mlp_sam_ls", params, seeds=[0, 1], data_home=DATA_HOME,
                              max_epochs=2, max_train_rows=ROWS)
    assert list(results["seed"]) == [0, 1] and results["fit_time"].gt(0).all()
    # Seed 0 with the same configuration reproduces the trial (CPU training is deterministic).
    assert results.loc[0, "val_accuracy"] == pytest.approx(study.best_value, abs=1e-12)
    # Binary task: accuracy is the class-size weighted mean of the two recalls.
    full = tuning.load_split("adult", data_home=DATA_HOME)
    n_pos = int(np.sum(np.asarray(full.y_test) == ">50K"))
    n = len(full.y_test)
    expected = (n_pos * results["minority_accuracy"] + (n - n_pos) * results["majority_accuracy"]) / n
    np.testing.assert_allclose(results["test_accuracy"], expected, atol=1e-12)


@needs_adult
def test_mlp_trains_on_all_train_rows_and_early_stops_on_the_validation_split():
    data = tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=ROWS)
    params = {"hidden_layer_sizes": (32,), "d_embedding": 8, "n_frequencies": 8, "batch_size": 256}
    fitted = tuning.fitting._fit_model("mlp", params, data, seed=0, device="cpu", max_epochs=4)
    estimator = fitted.estimator
    first_epoch = estimator.history_[0, "batches"]
    assert sum(b["train_batch_size"] for b in first_epoch if "train_batch_size" in b) == len(data.y_train)
    assert sum(b["valid_batch_size"] for b in first_epoch if "valid_batch_size" in b) == len(data.y_val)
    # The kept weights are those of the epoch with the best accuracy on X_val.
    val_accuracy = tuning.fitting._accuracy(data.y_val, fitted.predict(data.X_val))
    assert val_accuracy == pytest.approx(max(estimator.history_[:, "valid_acc"]), abs=1e-12)
    # Stored configurations without an optimiser ran AdamW, and still do.
    assert type(estimator.net_.optimizer_) is torch.optim.AdamW
    assert estimator.n_iter_no_change == 2  # max(2, max_epochs // 4)
    assert estimator.ema_decay == tuning.MLP_EMA_DECAY


@needs_adult
def test_an_evaluated_configuration_may_keep_the_epoch_of_least_validation_loss():
    data = tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=ROWS)
    params = {"hidden_layer_sizes": (32,), "d_embedding": 8, "n_frequencies": 8, "batch_size": 128,
              "n_iter_no_change": 5, "early_stopping_metric": "loss"}
    fitted = tuning.fitting._fit_model("mlp", params, data, seed=0, device="cpu", max_epochs=5)
    estimator = fitted.estimator
    assert estimator.early_stopping_metric == "loss" and estimator.n_iter_ == 5
    losses = estimator.history_[:, "valid_loss"]
    kept_loss = log_loss(data.y_val, fitted.predict_proba(data.X_val), labels=fitted.classes)
    assert kept_loss == pytest.approx(min(losses), rel=1e-5)
    # The configuration decides: here the epoch of least loss is not the last one.
    assert int(np.argmin(losses)) < len(losses) - 1 and kept_loss < losses[-1] - 1e-4


@needs_adult
def test_mlp_fits_in_parallel_threads_are_the_models_of_their_seeds():
    # tune(n_jobs > 1) runs trials in threads; the MLP seeds torch's process-wide generator,
    # so two fits at once used to draw from each other's stream.
    data = tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=600)
    params = {"hidden_layer_sizes": (64,), "d_embedding": 8, "n_frequencies": 8, "batch_size": 64, "dropout": 0.3}

    def proba(seed: int) -> np.ndarray:
        fitted = tuning.fitting._fit_model("mlp", params, data, seed=seed, device="cpu", max_epochs=2)
        return fitted.predict_proba(data.X_val)

    alone = {seed: proba(seed) for seed in (0, 1)}
    together: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda s=seed: together.__setitem__(s, proba(s))) for seed in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in (0, 1):
        np.testing.assert_array_equal(together[seed], alone[seed])


@needs_adult
def test_tune_command_with_sgd_trains_with_sgd(tmp_path):
    parser = argparse.ArgumentParser()
    tuning.add_tune_arguments(parser)
    args = parser.parse_args([
        "--dataset", "adult", "--model", "mlp_sam_ls", "--n-trials", "1", "--optimizer", "sgd",
        "--storage", f"sqlite:///{tmp_path}/sgd.db", "--data-home", DATA_HOME, "--max-epochs", "1",
        "--max-train-rows", "600", "--batch-sizes", "256", "--out", str(tmp_path / "out"), "--precision", "bfloat16",
    ])
    assert tuning.run_tune_command(args) == 0
    best = json.loads((tmp_path / "out" / "adult-mlp_sam_ls-best.json").read_text())
    assert best["params"]["optimizer"] == "sgd" and 1e-3 <= best["params"]["learning_rate_init"] <= 0.3
    assert best["params"]["precision"] == "bfloat16"  # so that evaluate retrains in the same precision
    data = tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=600)
    # A configuration may carry its own patience and weight-average horizon.
    params = dict(best["params"], n_iter_no_change=7, ema_decay=0.999)
    fitted = tuning.fitting._fit_model("mlp_sam_ls", params, data, seed=0, device="cpu", max_epochs=1)
    net = fitted.estimator.net_
    assert type(net.optimizer_) is torch.optim.SGD and net.optimizer_.defaults["momentum"] == 0.9
    assert fitted.estimator.n_iter_no_change == 7
    assert fitted.estimator.ema_decay == 0.999 and net.ema_decay == 0.999
    assert net.autocast_dtype is torch.bfloat16
    with pytest.raises(ValueError, match="optimizer must be one of"):
        tuning.tune("adult", "mlp", n_trials=1, storage=f"sqlite:///{tmp_path}/sgd.db", optimizer="lbfgs")
    # The study recorded SGD: AdamW trials would mix two learning-rate ranges in one TPE model.
    with pytest.raises(ValueError, match=r"tuned with optimizer='sgd'.*--study-name"):
        tuning.tune("adult", "mlp_sam_ls", n_trials=1, storage=f"sqlite:///{tmp_path}/sgd.db", data_home=DATA_HOME,
                    max_train_rows=600, optimizer="adamw")
    assert optuna.load_study(study_name="adult-mlp_sam_ls", storage=f"sqlite:///{tmp_path}/sgd.db").user_attrs[
        "optimizer"] == "sgd"


@needs_adult
def test_fixed_params_hold_the_base_configuration(tmp_path):
    fixed = {"n_blocks": 1, "width": 64, "frequency_init_scale": 1.0, "n_frequencies": 8, "d_embedding": 8,
             "dropout": 0.1, "learning_rate_init": 1e-3, "weight_decay": 1e-5, "batch_size": 256}
    study = tuning.tune("adult", "mlp_sam_ls", n_trials=2, storage=f"sqlite:///{tmp_path}/f.db", data_home=DATA_HOME,
                        max_epochs=1, max_train_rows=600, batch_sizes=(256,), fixed_params=fixed)
    draws = [t.params for t in study.trials]
    assert all({k: d[k] for k in fixed} == fixed for d in draws)
    # Only the two technique strengths vary.
    assert len({(d["sam_asymmetric_rho"], d["class_smoothing_eps"]) for d in draws}) == 2
    assert tuning.best_params(study)["hidden_layer_sizes"] == [64]
    with pytest.raises(ValueError, match=r"outside the search space: \['rho'\]"):
        tuning.tune("adult", "mlp_sam_ls", n_trials=1, storage=f"sqlite:///{tmp_path}/f.db", data_home=DATA_HOME,
                    fixed_params={"rho": 0.1})


def test_json_argument_inline_and_file(tmp_path):
    (tmp_path / "p.json").write_text('{"width": 64}')
    assert tuning.commands._json_argument('{"width": 64}', "--fixed-params") == {"width": 64}
    assert tuning.commands._json_argument(f"@{tmp_path}/p.json", "--fixed-params") == {"width": 64}
    assert tuning.commands._json_argument(None, "--fixed-params") is None
    with pytest.raises(ValueError, match="--fixed-params must be a JSON object"):
        tuning.commands._json_argument("[1, 2]", "--fixed-params")
    with pytest.raises(ValueError, match="--fixed-params must be a JSON object"):
        tuning.commands._json_argument("{width: 64", "--fixed-params")



def test_json_file_that_is_not_utf8_is_named(tmp_path):
    # A configuration saved as UTF-16 (Windows "Unicode") failed with the codec's message, naming no file.
    path = tmp_path / "utf16.json"
    path.write_text('{"params": {}}', encoding="utf-16")
    with pytest.raises(ValueError, match=f"{path} is not a UTF-8 JSON file"):
        tuning.load_config(path)
    with pytest.raises(ValueError, match=f"{path} is not a UTF-8 JSON file"):
        tuning.commands._json_argument(f"@{path}", "--estimator-params")

def _categorical_split_sizes(booster) -> list[int]:
    """Number of categories sent down the 'yes' branch, for every categorical split of every tree."""
    sizes = []

    def walk(node):
        if isinstance(node.get("split_condition"), list):
            sizes.append(len(node["split_condition"]))
        for child in node.get("children", ()):
            walk(child)

    for tree in booster.get_dump(dump_format="json"):
        walk(json.loads(tree))
    return sizes


@needs_adult
def test_xgboost_space_makes_one_vs_rest_categorical_splits():
    data = tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=3000)
    params = _draw(tuning.xgboost_space, 1)[0] | {"max_depth": 6, "learning_rate": 0.3, "min_child_weight": 1.0}

    def split_sizes(extra):
        fitted = tuning.fitting._fit_model("xgboost", params | extra, data, seed=0, device="cpu", max_epochs=1,
                                   xgb_max_estimators=20)
        return _categorical_split_sizes(fitted.estimator.get_booster())

    one_vs_rest = split_sizes({})
    assert one_vs_rest and set(one_vs_rest) == {1}
    # XGBoost's own default partitions the categories: the check above tells the two apart.
    assert max(split_sizes({"max_cat_to_onehot": 1})) > 1


@needs_adult
def test_tune_xgboost_records_trees(tmp_path):
    study = tuning.tune("adult", "xgboost", n_trials=2, storage=f"sqlite:///{tmp_path}/x.db",
                        data_home=DATA_HOME, max_train_rows=ROWS, xgb_max_estimators=25)
    for trial in study.trials:
        assert 1 <= trial.user_attrs["epochs"] <= 25
        assert 0.7 < trial.value < 1.0
    results = tuning.evaluate("adult", "xgboost", tuning.best_params(study), seeds=1, data_home=DATA_HOME,
                              max_train_rows=ROWS, xgb_max_estimators=25)
    assert results.loc[0, "val_accuracy"] == pytest.approx(study.best_value, abs=1e-12)
    assert 0.7 < results.loc[0, "test_accuracy"] < 1.0


@needs_adult
def test_ensemble_soft_votes_the_members_of_consecutive_seeds():
    kwargs = dict(data_home=DATA_HOME, max_train_rows=ROWS, xgb_max_estimators=30)
    params = {"max_depth": 3, "learning_rate": 0.3, "subsample": 0.7, "colsample_bytree": 0.7}
    single = tuning.evaluate("adult", "xgboost", params, seeds=4, **kwargs)
    assert (single["ensemble_size"] == 1).all()
    np.testing.assert_array_equal(single["member_test_accuracy"], single["test_accuracy"])

    ensembles = tuning.evaluate("adult", "xgboost", params, seeds=[0, 1], ensemble_size=2, **kwargs)
    assert list(ensembles["seed"]) == [0, 1] and (ensembles["ensemble_size"] == 2).all()
    # Ensemble s holds the single models of seeds 2s and 2s + 1 ...
    np.testing.assert_allclose(ensembles["member_test_accuracy"],
                               single["test_accuracy"].to_numpy().reshape(2, 2).mean(axis=1), atol=1e-12)
    assert ensembles["fit_time"].gt(0).all()
    # ... and predicts the arg max of their mean probabilities.
    data = tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=ROWS)
    members = [tuning.fitting._fit_model("xgboost", params, data, seed=s, device="cpu", max_epochs=1,
                                         xgb_max_estimators=30)
               for s in (2, 3)]
    mean_proba = (members[0].predict_proba(data.X_test) + members[1].predict_proba(data.X_test)) / 2
    expected = tuning.fitting._accuracy(data.y_test, members[0].classes[mean_proba.argmax(axis=1)])
    assert ensembles.loc[1, "test_accuracy"] == pytest.approx(expected, abs=1e-12)
    assert not np.array_equal(members[0].predict(data.X_test), members[1].predict(data.X_test))

    summary = tuning.summarize(pd.concat([single, ensembles], ignore_index=True))
    assert list(summary["ensemble_size"]) == [1, 2] and list(summary["n_seeds"]) == [4, 2]
    assert "xgboost (ensembles of 2)" in tuning.format_summary(summary)
    with pytest.raises(ValueError, match="ensemble_size"):
        tuning.evaluate("adult", "xgboost", params, seeds=1, ensemble_size=0, **kwargs)


@needs_adult
def test_mlp_ensemble_averages_probabilities_of_fitted_members():
    params = {"hidden_layer_sizes": (32,), "d_embedding": 8, "n_frequencies": 8, "batch_size": 256}
    kwargs = dict(data_home=DATA_HOME, max_train_rows=ROWS, max_epochs=2)
    ensemble = tuning.evaluate("adult", "mlp", params, seeds=[1], ensemble_size=2, **kwargs)
    single = tuning.evaluate("adult", "mlp", params, seeds=[2, 3], **kwargs)
    assert ensemble.loc[0, "member_test_accuracy"] == pytest.approx(single["test_accuracy"].mean(), abs=1e-12)
    assert 0.7 < ensemble.loc[0, "test_accuracy"] < 1.0 and ensemble.loc[0, "epochs"] in (1, 2)


@needs_adult
def test_stored_predictions_make_ensembles_of_single_models_without_fitting(tmp_path, monkeypatch, capsys):
    kwargs = dict(data_home=DATA_HOME, max_train_rows=ROWS, xgb_max_estimators=20)
    params = {"max_depth": 3, "learning_rate": 0.3, "subsample": 0.7, "colsample_bytree": 0.7}
    store = tmp_path / "predictions"
    single = tuning.evaluate("adult", "xgboost", params, seeds=4, predictions_dir=store, **kwargs)
    assert len(list(store.glob("adult-xgboost-*-seed*.npz"))) == 4
    fresh = tuning.evaluate("adult", "xgboost", params, seeds=[0, 1], ensemble_size=2, **kwargs)

    fits = []
    real_fit = tuning.fitting._fit_model
    monkeypatch.setattr(tuning.fitting, "_fit_model", lambda *a, **k: fits.append(k["seed"]) or real_fit(*a, **k))
    capsys.readouterr()
    stored = tuning.evaluate("adult", "xgboost", params, seeds=[0, 1], ensemble_size=2, predictions_dir=store,
                             **kwargs)
    assert fits == [] and "read from" in capsys.readouterr().err
    # Reading stored members gives the same ensembles as fitting them, fit times included.
    columns = ["val_accuracy", "test_accuracy", "minority_accuracy", "majority_accuracy", "member_test_accuracy",
               "test_log_loss"]
    pd.testing.assert_frame_equal(stored[columns], fresh[columns], check_exact=False, atol=1e-12)
    np.testing.assert_allclose(stored["fit_time"], single["fit_time"].to_numpy().reshape(2, 2).sum(axis=1))

    # Any change to the configuration (here the tree cap) fits and stores anew.
    tuning.evaluate("adult", "xgboost", params, seeds=[0], predictions_dir=store,
                    **(kwargs | {"xgb_max_estimators": 21}))
    assert fits == [0] and len(list(store.glob("*.npz"))) == 5


def test_validation_blend_weight_is_the_best_on_validation_and_ties_go_to_the_middle():
    classes = np.array(["a", "b"])
    y_val = np.array(["a", "a", "b", "b"])
    # The first model is right on rows 0-2, the second on rows 1-3: only a mix gets all four.
    first = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.55, 0.45]])
    second = np.array([[0.45, 0.55], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])
    weight = tuning.evaluation._validation_blend_weight(y_val, classes, first, second)
    blended = (1 - weight) * first + weight * second
    assert (classes[blended.argmax(1)] == y_val).all()
    # Every weight of the grid between 0.15 and 0.8 is perfect here; the one nearest 0.5 wins.
    assert weight == 0.5
    # Identical models: every weight ties, so 0.5.
    assert tuning.evaluation._validation_blend_weight(y_val, classes, first, first) == 0.5
    # A second model that always says "a": weights up to 0.4 keep the first's three right rows
    # (row 2 flips once 0.8 (1 - w) < w), and 0.4 is the one of them nearest 0.5.
    always_a = np.array([[1.0, 0.0]] * 4)
    assert tuning.evaluation._validation_blend_weight(y_val, classes, first, always_a) == 0.4


@needs_adult
def test_blend_of_stored_models_weights_their_probabilities(tmp_path, monkeypatch):
    kwargs = dict(data_home=DATA_HOME, max_train_rows=ROWS, predictions_dir=tmp_path / "p")
    shallow = {"model": "xgboost", "xgb_max_estimators": 20, "params": {"max_depth": 1, "learning_rate": 0.3}}
    mlp = {"model": "mlp", "max_epochs": 2,
           "params": {"hidden_layer_sizes": (32,), "d_embedding": 8, "n_frequencies": 8, "batch_size": 256}}
    alone = [tuning.evaluate("adult", c["model"], c["params"], seeds=[0, 1], max_epochs=c.get("max_epochs", 20),
                             xgb_max_estimators=c.get("xgb_max_estimators", 2000), **kwargs) for c in (shallow, mlp)]

    fits = []
    real_fit = tuning.fitting._fit_model
    monkeypatch.setattr(tuning.fitting, "_fit_model", lambda *a, **k: fits.append(k["seed"]) or real_fit(*a, **k))
    ends = [tuning.evaluate_blend("adult", shallow, mlp, seeds=[0, 1], weight=w, **kwargs) for w in (0.0, 1.0)]
    picked = tuning.evaluate_blend("adult", shallow, mlp, seeds=[0, 1], weight="validation", **kwargs)
    halves = tuning.evaluate_blend("adult", shallow, mlp, seeds=[0, 1], **kwargs)  # plain soft voting
    assert (halves["blend_weight"] == 0.5).all()
    assert fits == []  # every member is read from the store evaluate filled
    columns = ["val_accuracy", "test_accuracy", "minority_accuracy", "majority_accuracy"]
    for end, single in zip(ends, alone):
        np.testing.assert_allclose(end[columns].to_numpy(), single[columns].to_numpy(), atol=1e-12)
    assert list(picked["model"]) == ["xgboost+mlp"] * 2
    np.testing.assert_allclose(picked["first_test_accuracy"], alone[0]["test_accuracy"])
    np.testing.assert_allclose(picked["second_test_accuracy"], alone[1]["test_accuracy"])
    np.testing.assert_allclose(picked["fit_time"], alone[0]["fit_time"] + alone[1]["fit_time"])
    assert set(picked["blend_weight"]) <= set(tuning.BLEND_WEIGHTS)
    # Weights 0 and 1 are on the grid, so on validation the blend is at least as good as either model.
    best_alone = np.maximum(alone[0]["val_accuracy"], alone[1]["val_accuracy"])
    assert (picked["val_accuracy"] >= best_alone - 1e-12).all()
    summary = tuning.summarize(picked).iloc[0]
    assert summary["blend_weight_mean"] == pytest.approx(picked["blend_weight"].mean())


@pytest.mark.parametrize("kwargs, message", [
    ({"weight": 1.5}, "weight must be a number in"),
    ({"weight": "val"}, "weight must be a number in"),
    ({"ensemble_size": 0}, "ensemble_size must be a positive integer"),
])
def test_blend_refuses_bad_arguments(kwargs, message):
    config = {"model": "xgboost", "params": {}}
    with pytest.raises(ValueError, match=message):
        tuning.evaluate_blend("adult", config, config, seeds=1, **kwargs)
    with pytest.raises(ValueError, match="Unknown model"):
        tuning.evaluate_blend("adult", config, {"model": "svm", "params": {}}, seeds=1)


@pytest.mark.parametrize("cap, value", [("max_epochs", 2.5), ("max_epochs", 0), ("xgb_max_estimators", "1000"),
                                        ("xgb_max_estimators", True)])
def test_blend_refuses_caps_that_are_not_positive_integers(cap, value):
    # As evaluate() does: int() trained max_epochs=2.5 for 2 epochs, and 0 fell back to the default 50.
    mlp = {"model": "mlp", "params": {}}
    with pytest.raises(ValueError, match=rf"second\['{cap}'\] must be a positive integer"):
        tuning.evaluate_blend("adult", mlp, mlp | {cap: value}, seeds=1)
    with pytest.raises(ValueError, match=f"{cap} must be a positive integer"):
        tuning.evaluate("adult", "mlp", {}, seeds=1, **{cap: value})


@needs_adult
def test_evaluate_command_blends_two_configurations_and_writes_a_config_that_reruns_the_blend(tmp_path, capsys):
    from imbsk.cli import main

    xgb = tmp_path / "xgb.json"
    xgb.write_text(json.dumps({"dataset": "adult", "model": "xgboost", "xgb_max_estimators": 10,
                               "max_train_rows": 800, "params": {"max_depth": 2, "learning_rate": 0.3}}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"dataset": "adult", "model": "xgboost", "xgb_max_estimators": 10,
                                 "params": {"max_depth": 5, "learning_rate": 0.3, "colsample_bytree": 0.5}}))
    common = ["--data-home", DATA_HOME, "--predictions-dir", str(tmp_path / "p")]
    assert main(["evaluate", "--config", str(xgb), "--blend-config", str(other), "--seeds", "0-1", "--name", "mix",
                 "--blend-weight", "validation", "--out", str(tmp_path / "out"), *common]) == 0
    printed = capsys.readouterr().out
    assert "blended with xgboost (weight: validation)" in printed and "blended: xgboost alone" in printed
    rows = pd.read_csv(tmp_path / "out" / "mix-seeds.csv")
    assert list(rows["model"]) == ["xgboost+xgboost"] * 2
    written = json.loads((tmp_path / "out" / "mix-config.json").read_text())
    assert written["blend_weight"] == "validation"
    assert written["blend_config"] == {"dataset": "adult", "model": "xgboost", "xgb_max_estimators": 10,
                                       "params": {"max_depth": 5, "learning_rate": 0.3, "colsample_bytree": 0.5}}

    # A configuration may name its partner by a path relative to itself.
    named = tmp_path / "named.json"
    named.write_text(json.dumps(json.loads(xgb.read_text()) | {"blend_config": "other.json", "blend_weight": 0.25}))
    assert main(["evaluate", "--config", str(named), "--seeds", "0-0", "--out", str(tmp_path / "named"), *common]) == 0
    assert "blended with xgboost (weight: 0.25)" in capsys.readouterr().out
    assert json.loads((tmp_path / "named" / "named-config.json").read_text())["blend_config"] == written["blend_config"]

    # The written file reruns the blend (a fixed weight from the command line), reading every member.
    assert main(["evaluate", "--config", str(tmp_path / "out" / "mix-config.json"), "--blend-weight", "0",
                 "--seeds", "0-1", "--out", str(tmp_path / "again"), *common]) == 0
    member_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[evaluate adult/xgboost]")]
    assert len(member_lines) == 4 and all("read from" in line for line in member_lines)
    again = pd.read_csv(tmp_path / "again" / "mix-config-seeds.csv")
    assert (again["blend_weight"] == 0).all()
    np.testing.assert_allclose(again["test_accuracy"], rows["first_test_accuracy"])

    # A cap given on the command line caps the partner too (its file says 10 trees).
    assert main(["evaluate", "--config", str(xgb), "--blend-config", str(other), "--seeds", "0-0", "--name", "capped",
                 "--xgb-max-estimators", "3", "--out", str(tmp_path / "capped"), *common]) == 0
    capped = json.loads((tmp_path / "capped" / "capped-config.json").read_text())
    assert capped["xgb_max_estimators"] == capped["blend_config"]["xgb_max_estimators"] == 3
    stored = []
    for path in (tmp_path / "p").rglob("*.npz"):
        with np.load(path) as member:
            stored.append(json.loads(str(member["config"])))
    assert sum(config.get("xgb_max_estimators") == 3 for config in stored) == 2


def test_evaluate_command_names_what_is_wrong_with_a_blend(tmp_path, capsys):
    from imbsk.cli import main

    first = tmp_path / "first.json"
    first.write_text(json.dumps({"dataset": "adult", "model": "xgboost", "max_train_rows": 800, "params": {}}))
    otto = tmp_path / "otto.json"
    otto.write_text(json.dumps({"dataset": "otto", "model": "xgboost", "params": {}}))
    assert main(["evaluate", "--config", str(first), "--blend-config", str(otto)]) == 2
    assert "cannot blend a adult configuration with a otto one" in capsys.readouterr().err
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps({"model": "xgboost", "max_train_rows": 900, "params": {}}))
    assert main(["evaluate", "--config", str(first), "--blend-config", str(rows)]) == 2
    assert "train on different rows" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--config", str(first), "--blend-config", str(rows), "--blend-weight", "2"])
    assert "--blend-weight must be a number in [0, 1] or 'validation'" in capsys.readouterr().err


def test_evaluate_command_checks_the_params_of_both_configuration_files_before_fitting(tmp_path, capsys):
    """A mistyped or driver-set name in a file's params fails at once, naming the file, not after the first fits."""
    from imbsk.cli import main

    good = {"dataset": "adult", "model": "xgboost", "params": {"max_depth": 2}}
    first = tmp_path / "first.json"
    first.write_text(json.dumps(good | {"params": {"max_dept": 2}}))
    assert main(["evaluate", "--config", str(first), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"the params of {first} has names that are not XGBClassifier arguments: ['max_dept']" in err

    first.write_text(json.dumps(good))
    partner = tmp_path / "partner.json"
    partner.write_text(json.dumps({"model": "mlp", "params": {"max_iter": 3, "widht": 64}}))
    assert main(["evaluate", "--config", str(first), "--blend-config", str(partner),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"the params of the blend configuration {partner} sets ['max_iter'], which the tuning driver sets" in err
    partner.write_text(json.dumps({"model": "mlp", "params": {"widht": 64}}))
    assert main(["evaluate", "--config", str(first), "--blend-config", str(partner)]) == 2
    assert "not ImbalancedMLPClassifier arguments: ['widht']" in capsys.readouterr().err
    partner.write_text(json.dumps({"model": "mlp_sam", "params": {}}))
    assert main(["evaluate", "--config", str(first), "--blend-config", str(partner)]) == 2
    assert "Unknown model 'mlp_sam'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("call, message", [
    (lambda: tuning.evaluate("adult", "mlp", {"random_state": 0}, seeds=1),
     r"params sets \['random_state'\], which the tuning driver sets itself"),
    (lambda: tuning.evaluate("adult", "xgboost", {"early_stopping_rounds": 5}, seeds=1),
     r"params sets \['early_stopping_rounds'\]"),
    (lambda: tuning.evaluate("adult", "mlp_sam_ls", {"sam_rho": 0.1}, seeds=1),
     r"params has names that are not ImbalancedMLPClassifier arguments: \['sam_rho'\]"),
    (lambda: tuning.evaluate_blend("adult", {"model": "mlp", "params": {}},
                                   {"model": "xgboost", "params": {"n_estimators": 9}}, seeds=1),
     r"second\['params'\] sets \['n_estimators'\]"),
])
def test_evaluate_checks_params_before_loading_data(monkeypatch, call, message):
    """The names are refused before the split is read, let alone a model fitted."""
    monkeypatch.setattr("imbsk.tuning.evaluation.load_split", _split_reached)
    with pytest.raises(ValueError, match=message):
        call()


class _SplitReached(Exception):
    pass


def _split_reached(*args, **kwargs):
    raise _SplitReached


def test_evaluate_lets_a_configuration_name_its_kept_epoch_score(monkeypatch):
    """early_stopping_metric passes the name check of an evaluation (a study refuses it): the split is reached."""
    monkeypatch.setattr("imbsk.tuning.evaluation.load_split", _split_reached)
    with pytest.raises(_SplitReached):
        tuning.evaluate("adult", "mlp", {"early_stopping_metric": "loss"}, seeds=1)
    with pytest.raises(_SplitReached):
        tuning.evaluate_blend("adult", {"model": "mlp", "params": {"early_stopping_metric": "loss"}},
                              {"model": "xgboost", "params": {"max_depth": 3}}, seeds=1)


def test_an_enqueued_trial_with_a_name_outside_the_space_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("imbsk.tuning.study.load_split", _split_reached)  # refused before any data is read
    with pytest.raises(ValueError, match=r"enqueue_trials\[1\] has names outside the search space: \['depth'\]"):
        tuning.tune("adult", "xgboost", n_trials=1, storage=f"sqlite:///{tmp_path}/e.db",
                    enqueue_trials=[{"max_depth": 3}, {"depth": 3}])


def test_validation_fraction_is_the_drivers_own():
    # Every benchmark fit early-stops on X_val, which overrides it: accepted, it would be silently ignored.
    with pytest.raises(ValueError, match="validation_fraction.*the benchmark's validation split"):
        tuning.evaluate("adult", "mlp", {"validation_fraction": None}, seeds=1)


def test_tune_and_evaluate_refuse_an_unusable_out_before_fitting(tmp_path, capsys, monkeypatch):
    from imbsk.cli import main

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted although --out is unusable")

    monkeypatch.setattr("imbsk.tuning.commands.tune", no_fit)
    monkeypatch.setattr("imbsk.tuning.commands.evaluate", no_fit)
    a_file = tmp_path / "results.csv"
    a_file.write_text("")
    config = tmp_path / "xgb.json"
    config.write_text(json.dumps({"dataset": "adult", "model": "xgboost", "params": {}}))
    for command in (["tune", "--dataset", "adult", "--model", "xgboost", "--n-trials", "1"],
                    ["evaluate", "--config", str(config)]):
        for out, message in [(a_file, "is a file, not a directory"), (a_file / "sub", "cannot be created")]:
            assert main([*command, "--out", str(out)]) == 2
            error = capsys.readouterr().err
            assert message in error and "Traceback" not in error and len(error.strip().splitlines()) == 1


@needs_adult
def test_tune_names_a_storage_it_cannot_open(tmp_path, capsys):
    from imbsk.cli import main

    url = f"sqlite:///{tmp_path}/missing/study.db"
    assert main(["tune", "--dataset", "adult", "--model", "xgboost", "--n-trials", "1", "--storage", url,
                 "--data-home", DATA_HOME, "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert f"cannot open the Optuna storage {url!r}: unable to open database file" in error
    assert len(error.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


@needs_adult
def test_a_training_subsample_that_cannot_be_stratified_is_named():
    for rows in (1, 26047):
        with pytest.raises(ValueError, match=rf"max_train_rows={rows}: a stratified subsample of the 26048 adult "
                                             r"training rows needs at least 2 rows kept and 2 left out .* give 2 to "
                                             r"26046, or 26048 or more"):
            tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=rows)
    for rows in (10, 26046):
        assert len(tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=rows).y_train) == rows
    # Enough rows for both classes, but proportional allocation gives the minority (24%) none of 2.
    with pytest.raises(ValueError, match=r"max_train_rows=2 leaves the adult classes \['>50K'\] without a training"):
        tuning.load_split("adult", data_home=DATA_HOME, max_train_rows=2)


@needs_adult
def test_a_store_refuses_members_of_other_data_of_the_same_shape(tmp_path, monkeypatch):
    kwargs = dict(data_home=DATA_HOME, max_train_rows=ROWS, xgb_max_estimators=5, predictions_dir=tmp_path / "p")
    params = {"max_depth": 2}
    first = tuning.evaluate("adult", "xgboost", params, seeds=[0], **kwargs)
    assert len(first) == 1
    real_split = tuning.evaluation.load_split

    def other_copy(*args, **split_kwargs):
        data = real_split(*args, **split_kwargs)
        data.X_train = data.X_train.assign(age=data.X_train["age"] + 1)  # another file of the same shape
        data.digest = member_cache.data_digest(data.X_train, data.y_train, data.X_val, data.y_val,
                                               data.X_test, data.y_test)
        return data

    monkeypatch.setattr(tuning.evaluation, "load_split", other_copy)
    with pytest.raises(ValueError, match="fitted on other data"):
        tuning.evaluate("adult", "xgboost", params, seeds=[0], **kwargs)


@needs_adult
def test_stored_member_says_when_it_was_fitted_under_other_package_versions_or_on_another_machine(tmp_path, capsys):
    kwargs = dict(data_home=DATA_HOME, max_train_rows=ROWS, xgb_max_estimators=5)
    params = {"max_depth": 2, "learning_rate": 0.3}
    store = tmp_path / "predictions"
    tuning.evaluate("adult", "xgboost", params, seeds=[0], predictions_dir=store, **kwargs)
    (path,) = store.glob("*.npz")
    with np.load(path) as stored:
        fields = {name: stored[name] for name in stored.files}
    recorded = json.loads(str(fields["config"]))
    assert recorded["params"] == params and recorded["xgb_max_estimators"] == 5 and recorded["dataset"] == "adult"
    assert "fitted under" not in capsys.readouterr().err

    versions = json.loads(str(fields["versions"])) | {"xgboost": "0.9"}
    np.savez(path, **(fields | {"versions": np.str_(json.dumps(versions))}))
    tuning.evaluate("adult", "xgboost", params, seeds=[0], predictions_dir=store, **kwargs)
    err = capsys.readouterr().err
    assert f"read from {path}, fitted under xgboost 0.9 (now " in err and "fitted on" not in err

    machine = json.loads(str(fields["machine"])) | {"cpu": "Other CPU 9000"}
    np.savez(path, **(fields | {"machine": np.str_(json.dumps(machine))}))
    tuning.evaluate("adult", "xgboost", params, seeds=[0], predictions_dir=store, **kwargs)
    here = member_cache.machine_description()["cpu"]
    assert f"read from {path}, fitted on cpu Other CPU 9000 (here {here})" in capsys.readouterr().err


@pytest.mark.parametrize("text, seeds", [("3", [0, 1, 2]), ("5-7", [5, 6, 7]), ("4,0, 9", [4, 0, 9]), (" 1 ", [0])])
def test_parse_seeds(text, seeds):
    assert tuning.parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["0", "-2", "7-5", "a", "1-b", "1,,2", "2,-1", "3,1,3"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ValueError, match="--seeds"):
        tuning.parse_seeds(text)


@pytest.mark.parametrize("call", [
    lambda: tuning.evaluate("adult", "xgboost", {}, seeds=[0, 0]),
    lambda: tuning.evaluate_blend("adult", {"model": "xgboost", "params": {}}, {"model": "mlp", "params": {}},
                                  seeds=[1, 2, 1]),
    lambda: tuning.tune("adult", "xgboost", n_trials=1, trial_seeds=[3, 3]),
])
def test_a_repeated_seed_is_refused_before_anything_is_fitted(call):
    # The same model twice would count as two seeds: n_seeds 2 and a standard error of 0.
    with pytest.raises(ValueError, match="must not repeat a seed"):
        call()


@needs_adult
def test_evaluate_command_retrains_the_configuration_tune_stored(tmp_path, capsys):
    from imbsk.cli import main

    out = tmp_path / "tuned"
    assert main(["tune", "--dataset", "adult", "--model", "xgboost", "--n-trials", "1", "--max-train-rows", "800",
                 "--xgb-max-estimators", "15", "--storage", f"sqlite:///{tmp_path}/t.db", "--data-home", DATA_HOME,
                 "--out", str(out)]) == 0
    config = out / "adult-xgboost-best.json"
    stored = json.loads(config.read_text())
    assert (stored["xgb_max_estimators"], stored["max_train_rows"]) == (15, 800)

    # dataset, model, tree cap and training rows all come from the stored configuration.
    assert main(["evaluate", "--config", str(config), "--seeds", "0-1", "--data-home", DATA_HOME,
                 "--out", str(tmp_path / "evaluated"), "--predictions-dir", str(tmp_path / "p")]) == 0
    printed = capsys.readouterr().out
    assert "test_accuracy:" in printed and "(2 seeds)" in printed
    rows = pd.read_csv(tmp_path / "evaluated" / "adult-xgboost-best-seeds.csv")
    assert list(rows["seed"]) == [0, 1] and (rows["dataset"] == "adult").all()
    # Seed 0 is the tuned trial itself.
    assert rows.loc[0, "val_accuracy"] == pytest.approx(stored["val_accuracy"], abs=1e-12)
    summary = json.loads((tmp_path / "evaluated" / "adult-xgboost-best-summary.json").read_text())
    assert summary["test_accuracy_mean"] == pytest.approx(rows["test_accuracy"].mean())
    assert len(list((tmp_path / "p").glob("*.npz"))) == 2


def test_evaluate_command_says_which_caps_an_old_tune_file_does_not_record(tmp_path, capsys, monkeypatch):
    """A <study>-best.json of an imbsk tune that predates its caps record (no max_epochs, max_train_rows): the
    evaluation runs under the defaults, which it says, as they need not be the study's; a given option is no news."""
    from imbsk.cli import main
    from imbsk.tuning import commands

    class Evaluated(Exception):
        pass

    def fake_evaluate(*args, **kwargs):
        raise Evaluated(kwargs)

    monkeypatch.setattr(commands, "evaluate", fake_evaluate)
    config = tmp_path / "adult-mlp-best.json"
    config.write_text(json.dumps({"study": "adult-mlp", "dataset": "adult", "model": "mlp", "n_trials": 3,
                                  "val_accuracy": 0.8, "params": {"dropout": 0.1}}))
    common = ["evaluate", "--config", str(config), "--seeds", "0-0", "--out", str(tmp_path / "out")]
    with pytest.raises(Evaluated) as raised:
        main(common)
    assert (raised.value.args[0]["max_epochs"], raised.value.args[0]["max_train_rows"]) == (50, None)
    printed = capsys.readouterr().out
    assert f"note: {config} records no max_epochs or max_train_rows" in printed
    assert '{"max_epochs": 50, "max_train_rows": null}' in printed and "--max-epochs / --max-train-rows" in printed
    with pytest.raises(Evaluated):
        main([*common, "--max-epochs", "2"])
    assert "records no max_train_rows (" in capsys.readouterr().out
    recorded = json.loads(config.read_text()) | {"max_epochs": 2, "xgb_max_estimators": 9, "max_train_rows": None}
    config.write_text(json.dumps(recorded))  # what tune writes now: no note
    with pytest.raises(Evaluated):
        main(common)
    assert "note:" not in capsys.readouterr().out
    examples = Path(__file__).parents[1] / "examples" / "configs" / "otto-mlp.json"
    with pytest.raises(Evaluated):  # nor for a hand-written configuration without caps
        main(["evaluate", "--config", str(examples), "--seeds", "0-0", "--out", str(tmp_path / "out")])
    assert "note:" not in capsys.readouterr().out


@needs_adult
def test_evaluate_command_overrides_params_and_writes_a_config_that_reruns_it(tmp_path, capsys):
    from imbsk.cli import main

    config = tmp_path / "xgb.json"
    config.write_text(json.dumps({"dataset": "adult", "model": "xgboost", "xgb_max_estimators": 10,
                                  "max_train_rows": 800, "params": {"max_depth": 2, "learning_rate": 0.3}}))
    out, store = tmp_path / "out", tmp_path / "p"
    common = ["--seeds", "0-0", "--data-home", DATA_HOME, "--out", str(out), "--predictions-dir", str(store)]
    assert main(["evaluate", "--config", str(config), *common]) == 0
    # One seed measures no spread: the mean alone is printed, and the summary (strict JSON) has a null s.e.
    printed = capsys.readouterr().out
    accuracy = pd.read_csv(out / "xgb-seeds.csv").loc[0, "test_accuracy"]
    assert f"test_accuracy: {100 * accuracy:.2f} % (1 seed)" in printed and "±" not in printed
    # The test log-loss is that of the stored test probabilities.
    loss = pd.read_csv(out / "xgb-seeds.csv").loc[0, "test_log_loss"]
    (member,) = store.glob("*.npz")
    data = tuning.load_split("adult", data_home=DATA_HOME)
    assert loss == pytest.approx(log_loss(data.y_test, np.load(member)["test_proba"], labels=data.classes))
    assert f"test_log_loss: {loss:.4f} (1 seed)" in printed
    summary = json.loads((out / "xgb-summary.json").read_text(), parse_constant=pytest.fail)
    assert summary["test_accuracy_se"] is None and summary["test_accuracy_mean"] == pytest.approx(accuracy)
    assert main(["evaluate", "--config", str(config), "--estimator-params", '{"max_depth": 4, "reg_alpha": 1.0}',
                 "--name", "deeper", *common]) == 0
    assert 'with {"max_depth": 4, "reg_alpha": 1.0}' in capsys.readouterr().out
    # The override is a configuration of its own: its own files, its own stored model.
    plain, deeper = (pd.read_csv(out / f"{stem}-seeds.csv") for stem in ("xgb", "deeper"))
    assert len(list(store.glob("*.npz"))) == 2
    assert plain.loc[0, "val_accuracy"] != deeper.loc[0, "val_accuracy"]
    written = json.loads((out / "deeper-config.json").read_text())
    assert written["params"] == {"max_depth": 4, "learning_rate": 0.3, "reg_alpha": 1.0}
    assert (written["dataset"], written["model"], written["xgb_max_estimators"], written["max_train_rows"]) == (
        "adult", "xgboost", 10, 800)
    assert json.loads((out / "xgb-config.json").read_text())["params"] == {"max_depth": 2, "learning_rate": 0.3}

    # The written configuration is the one that ran: evaluating it reads the stored model back.
    assert main(["evaluate", "--config", str(out / "deeper-config.json"), *common[:-4],
                 "--out", str(tmp_path / "again"), "--predictions-dir", str(store)]) == 0
    assert "read from" in capsys.readouterr().err
    again = pd.read_csv(tmp_path / "again" / "deeper-config-seeds.csv")
    assert again.loc[0, "test_accuracy"] == deeper.loc[0, "test_accuracy"]


@pytest.mark.parametrize("model, overrides, message", [
    ("xgboost", {"n_estimators": 5}, r"sets \['n_estimators'\], which the tuning driver sets itself "
                                     r"\(n_estimators: the tree cap, xgb_max_estimators / --xgb-max-estimators\)"),
    ("mlp", {"max_iter": 1, "device": "cpu"}, r"sets \['device', 'max_iter'\], which the tuning driver sets itself "
                                               r"\(device: device / --device; max_iter: the epoch cap, max_epochs / "
                                               r"--max-epochs\)"),
    ("xgboost", {"max_dept": 5}, r"not XGBClassifier arguments: \['max_dept'\]"),
    ("mlp", {"random_state": 1}, r"sets \['random_state'\], which the tuning driver sets itself"),
    ("mlp_sam_ls", {"joint_ssl_wieght": 0.1}, r"not ImbalancedMLPClassifier arguments: \['joint_ssl_wieght'\]"),
])
def test_evaluate_command_refuses_overrides_the_estimator_cannot_take(tmp_path, capsys, model, overrides, message):
    from imbsk.cli import main

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"dataset": "adult", "model": model, "params": {}}))
    assert main(["evaluate", "--config", str(config), "--estimator-params", json.dumps(overrides),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--estimator-params" in err
    assert re.search(message, err)
    assert not (tmp_path / "out").exists()


@needs_adult
def test_evaluate_command_keeps_the_epoch_an_override_names_and_tune_refuses_it(tmp_path, capsys):
    from imbsk.cli import main

    config = tmp_path / "c.json"
    config.write_text(json.dumps({"dataset": "adult", "model": "mlp", "max_epochs": 3, "max_train_rows": 800,
                                  "params": {"hidden_layer_sizes": [16], "d_embedding": 4, "n_frequencies": 4,
                                             "batch_size": 256, "n_iter_no_change": 3}}))
    store, out = tmp_path / "p", tmp_path / "out"
    common = ["--seeds", "0-0", "--data-home", DATA_HOME, "--predictions-dir", str(store), "--out", str(out)]
    assert main(["evaluate", "--config", str(config), "--name", "acc", *common]) == 0
    assert main(["evaluate", "--config", str(config), "--estimator-params", '{"early_stopping_metric": "loss"}',
                 "--name", "loss", *common]) == 0
    # Another kept epoch is another model: its own stored file, its own written configuration.
    assert len(list(store.glob("*.npz"))) == 2
    assert json.loads((out / "loss-config.json").read_text())["params"]["early_stopping_metric"] == "loss"
    by_accuracy, by_loss = (pd.read_csv(out / f"{stem}-seeds.csv").loc[0] for stem in ("acc", "loss"))
    assert by_accuracy["val_accuracy"] >= by_loss["val_accuracy"]
    capsys.readouterr()

    assert main(["tune", "--dataset", "adult", "--model", "mlp", "--n-trials", "1", "--max-train-rows", "600",
                 "--estimator-params", '{"early_stopping_metric": "loss"}', "--storage", f"sqlite:///{tmp_path}/t.db",
                 "--data-home", DATA_HOME, "--out", str(tmp_path / "tuned")]) == 2
    assert "ranks and prunes trials by; imbsk evaluate takes another" in capsys.readouterr().err


def test_evaluate_command_names_what_is_wrong_with_the_configuration(tmp_path, capsys):
    from imbsk.cli import main

    no_params = tmp_path / "no_params.json"
    no_params.write_text(json.dumps({"dataset": "adult", "model": "xgboost", "max_depth": 3}))
    assert main(["evaluate", "--config", str(no_params)]) == 2
    assert "'params' object" in capsys.readouterr().err
    no_model = tmp_path / "no_model.json"
    no_model.write_text(json.dumps({"dataset": "adult", "params": {}}))
    assert main(["evaluate", "--config", str(no_model)]) == 2
    assert "pass --model" in capsys.readouterr().err
    assert main(["evaluate", "--config", str(tmp_path / "missing.json")]) == 2
    with pytest.raises(SystemExit):
        main(["evaluate", "--config", str(no_model), "--seeds", "3-1"])
    assert "--seeds must name at least one non-negative seed; got '3-1'" in capsys.readouterr().err


@pytest.mark.parametrize("message", [
    "table studies already exists",
    "UNIQUE constraint failed: alembic_version.version_num",
])
def test_storage_retries_when_a_concurrent_worker_wins_the_schema_race(monkeypatch, tmp_path, message):
    real = optuna.storages.RDBStorage
    attempts = []

    def racing(url, **kwargs):
        attempts.append(url)
        if len(attempts) == 1:
            raise RuntimeError(message)
        return real(url, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    monkeypatch.setattr(tuning.study.time, "sleep", lambda seconds: None)
    storage = tuning.study._storage(f"sqlite:///{tmp_path}/race.db")
    assert len(attempts) == 2
    assert isinstance(storage, real)


def test_storage_that_is_no_url_is_a_usage_error():
    with pytest.raises(ValueError, match="cannot use 'study.db' as an Optuna storage URL"):
        tuning.study._storage("study.db")


def test_best_params_of_a_study_without_a_completed_trial_names_the_study():
    study = optuna.create_study(study_name="empty", direction="maximize")
    with pytest.raises(ValueError, match="study 'empty' has no completed trial \\(no trial at all\\)"):
        tuning.best_params(study)
    study.optimize(lambda trial: float("nan"), n_trials=1)
    with pytest.raises(ValueError, match="\\(1 fail\\)"):
        tuning.best_params(study)


def test_storage_does_not_hide_other_errors(monkeypatch):
    def broken(url, **kwargs):
        raise RuntimeError("unable to open database file")

    monkeypatch.setattr(optuna.storages, "RDBStorage", broken)
    with pytest.raises(RuntimeError, match="unable to open"):
        tuning.study._storage("sqlite:////nonexistent/dir/x.db")


def _worker(storage: str, seed: int) -> None:
    import optuna as _optuna

    from imbsk import tuning as _tuning

    _optuna.logging.set_verbosity(_optuna.logging.WARNING)
    _tuning.tune("adult", "xgboost", n_trials=2, storage=storage, study_name="shared", seed=seed,
                 data_home=DATA_HOME, max_train_rows=500)


@needs_adult
def test_two_processes_share_one_sqlite_study(tmp_path):
    storage = f"sqlite:///{tmp_path}/shared.db"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(storage, seed)) for seed in (0, 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    study = optuna.load_study(study_name="shared", storage=storage)
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(completed) == 4
    assert len({t.number for t in completed}) == 4
    # Different worker seeds draw different first configurations.
    assert len({json.dumps(t.user_attrs["params"], sort_keys=True) for t in completed}) == 4


@needs_adult
def test_run_tune_command_writes_outputs(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tuning.add_tune_arguments(parser)
    out = tmp_path / "out"
    args = parser.parse_args([
        "--dataset", "adult", "--model", "xgboost", "--n-trials", "2",
        "--storage", f"sqlite:///{tmp_path}/cli.db", "--data-home", DATA_HOME,
        "--max-train-rows", "800", "--evaluate-seeds", "2", "--out", str(out),
    ])
    assert args.device == "cpu" and args.study_name is None and args.max_epochs == tuning.DEFAULT_MAX_EPOCHS
    assert tuning.run_tune_command(args) == 0
    printed = capsys.readouterr().out
    assert "best validation accuracy" in printed and "test_accuracy:" in printed

    best = json.loads((out / "adult-xgboost-best.json").read_text())
    assert best["n_trials"] == 2 and best["model"] == "xgboost" and "max_depth" in best["params"]
    seeds = pd.read_csv(out / "adult-xgboost-seeds.csv")
    assert list(seeds["seed"]) == [0, 1]
    summary = json.loads((out / "adult-xgboost-summary.json").read_text())
    assert summary["test_accuracy_mean"] == pytest.approx(seeds["test_accuracy"].mean())

    # Running again continues the same study; this time it scores ensembles of two seeds.
    args.evaluate_ensemble_size = 2
    tuning.run_tune_command(args)
    assert json.loads((out / "adult-xgboost-best.json").read_text())["n_trials"] == 4
    assert "(2 ensembles of 2 seeds)" in capsys.readouterr().out
    seeds = pd.read_csv(out / "adult-xgboost-seeds.csv")
    assert list(seeds["seed"]) == [0, 1] and (seeds["ensemble_size"] == 2).all()
    with pytest.raises(SystemExit):
        parser.parse_args(["--dataset", "adult", "--model", "mlp", "--n-trials", "1", "--evaluate-ensemble-size", "0"])
    assert "argument --evaluate-ensemble-size: must be a positive integer, got 0" in capsys.readouterr().err


@needs_adult
def test_best_json_keeps_the_caps_of_the_best_trial_when_the_study_is_reported_with_other_options(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    tuning.add_tune_arguments(parser)
    common = ["--dataset", "adult", "--model", "xgboost", "--storage", f"sqlite:///{tmp_path}/caps.db",
              "--data-home", DATA_HOME, "--out", str(tmp_path / "out")]
    tuning.run_tune_command(parser.parse_args(common + ["--n-trials", "1", "--max-train-rows", "800",
                                                        "--xgb-max-estimators", "10"]))
    # Reporting the study (no new trial) with default options, and evaluating its best configuration.
    capsys.readouterr()
    tuning.run_tune_command(parser.parse_args(common + ["--n-trials", "0", "--evaluate-seeds", "1"]))
    assert "not this run's options" in capsys.readouterr().out
    best = json.loads((tmp_path / "out" / "adult-xgboost-best.json").read_text())
    assert (best["max_train_rows"], best["xgb_max_estimators"]) == (800, 10)
    # The evaluation retrained the trial's model (seed 0, same caps), so it scores what the trial scored.
    seeds = pd.read_csv(tmp_path / "out" / "adult-xgboost-seeds.csv")
    assert seeds.loc[0, "val_accuracy"] == pytest.approx(best["val_accuracy"], abs=1e-12)


@pytest.mark.parametrize("option, value, message", [
    ("--n-trials", "-1", "must be a non-negative integer, got -1"),
    ("--max-epochs", "0", "must be a positive integer, got 0"),
    ("--max-epochs", "x", "must be a positive integer, got 'x'"),
    ("--n-jobs", "0", "must be a positive integer"),
    ("--max-train-rows", "0", "must be a positive integer"),
    ("--xgb-max-estimators", "0", "must be a positive integer"),
    ("--batch-sizes", "0", "must be a positive integer"),
    ("--timeout", "-5", "must be a positive number"),
    ("--evaluate-seeds", "-2", "must be a non-negative integer"),
    ("--evaluate-ensemble-size", "x", "must be a positive integer, got 'x'"),
])
def test_tune_options_refuse_values_that_could_only_fail_later(capsys, option, value, message):
    parser = argparse.ArgumentParser()
    tuning.add_tune_arguments(parser)
    base = ["--dataset", "adult", "--model", "mlp", "--n-trials", "1"]
    with pytest.raises(SystemExit):
        parser.parse_args([*base, option, value])
    assert f"argument {option}: {message}" in capsys.readouterr().err


@pytest.mark.parametrize("add_arguments, base", [
    (tuning.add_tune_arguments, ["--dataset", "adult", "--model", "mlp", "--n-trials", "1"]),
    (tuning.add_evaluate_arguments, ["--config", "x.json"]),
])
def test_device_option_takes_what_the_estimators_take(capsys, add_arguments, base):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    for device in ("auto", "cpu", "cuda", "cuda:1"):
        assert parser.parse_args([*base, "--device", device]).device == device
    for device in ("gpu", "cuda:x", "cuda1", ""):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, "--device", device])
        assert "argument --device: must be auto, cpu, cuda or cuda:N" in capsys.readouterr().err


def test_driver_checks_the_device_and_stores_gpu_members_under_one_key():
    assert tuning.fitting._resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="'device' parameter of the tuning driver must be"):
        tuning.fitting._resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device is available"):
            tuning.fitting._resolve_device("cuda:1")
    keys = {tuning.fitting._member_config("adult", "mlp", {}, device, None, 3, 5)["device"]
            for device in ("cuda", "cuda:0", "cuda:1")}
    assert keys == {"cuda"}
    assert tuning.fitting._member_config("adult", "mlp", {}, "cpu", None, 3, 5)["device"] == "cpu"


def test_evaluate_config_that_is_a_directory_is_a_one_line_error(tmp_path, capsys):
    from imbsk.cli import main

    assert main(["evaluate", "--config", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("imbsk evaluate: error:") and "Is a directory" in error
    assert len(error.strip().splitlines()) == 1


def test_cli_parser_rejects_unknown_model(capsys):
    parser = argparse.ArgumentParser()
    tuning.add_tune_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--dataset", "adult", "--model", "svm", "--n-trials", "1"])
    assert "argument --model: invalid choice: 'svm'" in capsys.readouterr().err


@needs_adult
def test_enqueued_trial_runs_first(tmp_path):
    fixed = {"max_depth": 4, "learning_rate": 0.2, "min_child_weight": 1.0, "subsample": 0.9,
             "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-3}
    storage = f"sqlite:///{tmp_path}/q.db"
    kwargs = dict(storage=storage, data_home=DATA_HOME, max_train_rows=500, xgb_max_estimators=10)
    study = tuning.tune("adult", "xgboost", n_trials=2, enqueue_trials=[fixed], **kwargs)
    assert study.trials[0].params == fixed
    assert study.trials[0].user_attrs["params"] == fixed | {"max_cat_to_onehot": tuning.XGB_MAX_CAT_TO_ONEHOT}
    assert study.trials[1].params != fixed
    # skip_if_exists: enqueuing the same configuration again adds no duplicate
    study = tuning.tune("adult", "xgboost", n_trials=1, enqueue_trials=[fixed], **kwargs)
    assert sum(t.params == fixed for t in study.trials) == 1 and len(study.trials) == 3


@needs_adult
def test_an_enqueued_trial_that_an_interruption_failed_is_enqueued_again(tmp_path, monkeypatch):
    # Ctrl-C during the enqueued trial fails it; Optuna's skip_if_exists counted that trial, so a rerun of the
    # same command (the benchmark driver's warm start) never evaluated the configuration.
    from imbsk.tuning import study as study_module

    fixed = {"max_depth": 4, "learning_rate": 0.2, "min_child_weight": 1.0, "subsample": 0.9,
             "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-3}
    kwargs = dict(storage=f"sqlite:///{tmp_path}/q.db", data_home=DATA_HOME, max_train_rows=500,
                  xgb_max_estimators=10, enqueue_trials=[fixed])
    fit = study_module._evaluated_member

    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(study_module, "_evaluated_member", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("adult", "xgboost", n_trials=2, **kwargs)
    monkeypatch.setattr(study_module, "_evaluated_member", fit)
    study = tuning.tune("adult", "xgboost", n_trials=1, **kwargs)
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "COMPLETE"] and study.trials[1].params == fixed

    # A configuration that fails by itself (a NaN loss: RuntimeError) is recorded as such, and not tried again.
    def diverged(*args, **kw):
        raise RuntimeError("loss is NaN")

    other = fixed | {"max_depth": 3}
    monkeypatch.setattr(study_module, "_evaluated_member", diverged)
    study = tuning.tune("adult", "xgboost", n_trials=1, **(kwargs | {"enqueue_trials": [other]}))
    assert study.trials[-1].state.name == "FAIL" and study.trials[-1].user_attrs["error"] == "RuntimeError: loss is NaN"
    monkeypatch.setattr(study_module, "_evaluated_member", fit)
    study = tuning.tune("adult", "xgboost", n_trials=1, **(kwargs | {"enqueue_trials": [fixed, other]}))
    assert len(study.trials) == 4 and study.trials[-1].state.name == "COMPLETE"
    assert study.trials[-1].params not in (fixed, other)

    # Out of GPU memory (another process may hold it) is not the configuration's failure: enqueued again.
    def out_of_memory(*args, **kw):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    third = fixed | {"max_depth": 5}
    monkeypatch.setattr(study_module, "_evaluated_member", out_of_memory)
    study = tuning.tune("adult", "xgboost", n_trials=1, **(kwargs | {"enqueue_trials": [third]}))
    assert study.trials[-1].state.name == "FAIL" and "error" not in study.trials[-1].user_attrs
    monkeypatch.setattr(study_module, "_evaluated_member", fit)
    study = tuning.tune("adult", "xgboost", n_trials=1, **(kwargs | {"enqueue_trials": [third]}))
    assert study.trials[-1].state.name == "COMPLETE" and study.trials[-1].params == third


@needs_adult
@pytest.mark.skipif(tuning.study._this_process() is None, reason="needs /proc to tell whether a process has ended")
def test_a_trial_left_running_by_a_killed_process_is_failed_and_its_enqueued_configuration_rerun(tmp_path, capsys):
    # A worker killed mid-trial (SIGKILL, out of memory) leaves its trial RUNNING for good: the rerun of the
    # benchmark driver counted it as holding the enqueued warm start and never evaluated it.
    import subprocess
    import sys

    from imbsk.tuning import study as study_module

    fixed = {"max_depth": 4, "learning_rate": 0.2, "min_child_weight": 1.0, "subsample": 0.9,
             "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-3}
    alive = fixed | {"max_depth": 3}
    storage = f"sqlite:///{tmp_path}/q.db"
    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    killed = study_module._this_process() | {"pid": process.pid, "start": study_module._process_start(process.pid)}
    process.kill()
    process.wait()
    study = optuna.create_study(storage=storage, study_name="adult-xgboost", direction="maximize")
    for params, worker in ((fixed, killed), (alive, study_module._this_process())):
        study.enqueue_trial(params)
        study.ask().set_user_attr("worker", worker)
    study = tuning.tune("adult", "xgboost", n_trials=1, storage=storage, data_home=DATA_HOME, max_train_rows=500,
                        xgb_max_estimators=10, enqueue_trials=[fixed, alive])
    assert [t.state.name for t in study.trials] == ["FAIL", "RUNNING", "COMPLETE"]
    assert study.trials[2].params == fixed  # the running trial of a live process still holds its configuration
    printed = capsys.readouterr().out
    assert f"trial 0 was left running by process {process.pid}, which has ended; marked failed" in printed
    assert study.trials[2].user_attrs["worker"] == study_module._this_process()


def test_only_a_process_of_this_machine_and_namespace_is_judged_ended():
    from imbsk.tuning.study import _has_ended, _this_process

    here = _this_process()
    if here is None:
        pytest.skip("needs /proc")
    assert not _has_ended(here, here)
    gone = here | {"start": here["start"] + 1}  # the pid now names another process
    assert _has_ended(gone, here)
    for key in ("host", "boot_id", "pid_namespace"):
        assert not _has_ended(gone | {key: "elsewhere"}, here)
    assert not _has_ended(None, here) and not _has_ended({"pid": 1}, here) and not _has_ended(gone, None)


def test_a_live_process_whose_proc_entry_cannot_be_read_is_not_judged_ended(monkeypatch):
    # /proc mounted with hidepid=1 or 2 (shared machines) hides another user's processes: reading their stat
    # fails as for an ended process, and a run of the study failed the live trials of another user's worker,
    # whose optimize then ended on "Cannot tell a FAIL trial".
    import subprocess
    import sys

    from imbsk.tuning import study as study_module

    here = study_module._this_process()
    if here is None:
        pytest.skip("needs /proc")
    def refused(pid, signal):
        raise PermissionError(f"kill({pid}, {signal})")

    def gone(pid):
        raise FileNotFoundError(f"/proc/{pid}/stat")

    process = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        child = here | {"pid": process.pid, "start": study_module._process_start(process.pid)}
        for hidden in (FileNotFoundError, PermissionError):
            def unreadable(pid, error=hidden):
                raise error(f"/proc/{pid}/stat")

            monkeypatch.setattr(study_module, "_process_start", unreadable)
            assert not study_module._has_ended(child, here), hidden
            assert not study_module._has_ended(here, here), hidden
            # another user's process: kill(pid, 0) may not signal it, but it exists
            monkeypatch.setattr(study_module.os, "kill", refused)
            assert not study_module._has_ended(child, here), hidden
            monkeypatch.undo()
    finally:
        process.kill()
        process.wait()
    # an ended process is still told apart when its stat cannot be read
    monkeypatch.setattr(study_module, "_process_start", gone)
    assert study_module._has_ended(child, here)


@needs_adult
def test_a_run_of_no_trial_enqueues_nothing(tmp_path, capsys):
    # The example scripts' --n-trials 0 ("evaluate the study's best as it is") enqueued the mlp_sam_ls warm start
    # and left it waiting: the next run of that study, whatever its options, ran it first.
    fixed = {"max_depth": 4, "learning_rate": 0.2, "min_child_weight": 1.0, "subsample": 0.9,
             "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-3}
    kwargs = dict(storage=f"sqlite:///{tmp_path}/q.db", data_home=DATA_HOME, max_train_rows=500, xgb_max_estimators=10)
    tuning.tune("adult", "xgboost", n_trials=1, **kwargs)
    study = tuning.tune("adult", "xgboost", n_trials=0, enqueue_trials=[fixed], **kwargs)
    assert [t.state.name for t in study.trials] == ["COMPLETE"]


@needs_adult
def test_tune_command_enqueues_trials(tmp_path):
    from imbsk.cli import main

    first = {"max_depth": 4, "learning_rate": 0.2, "min_child_weight": 1.0, "subsample": 0.9,
             "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-3}
    (tmp_path / "second.json").write_text(json.dumps(first | {"max_depth": 3}))
    storage = f"sqlite:///{tmp_path}/q.db"
    assert main(["tune", "--dataset", "adult", "--model", "xgboost", "--n-trials", "2", "--max-train-rows", "500",
                 "--xgb-max-estimators", "10", "--storage", storage, "--data-home", DATA_HOME,
                 "--enqueue-trial", json.dumps(first), "--enqueue-trial", f"@{tmp_path}/second.json",
                 "--out", str(tmp_path / "out")]) == 0
    trials = optuna.load_study(study_name="adult-xgboost", storage=storage).trials
    assert [t.params["max_depth"] for t in trials] == [4, 3] and trials[0].params == first


@needs_adult
def test_adult_example_script_runs_all_three_models(tmp_path, capsys, monkeypatch):
    import runpy
    import sys

    out = tmp_path / "results"
    argv = ["examples/adult.py", "--n-trials", "2", "--xgb-trials", "2", "--seeds", "2", "--max-epochs", "2",
            "--max-train-rows", "600", "--batch-sizes", "256", "--xgb-max-estimators", "20",
            "--data-home", DATA_HOME, "--storage", f"sqlite:///{tmp_path}/b.db", "--out", str(out), "--sam-ls-on-mlp",
            "--ensemble-size", "2", "--predictions-dir", str(tmp_path / "predictions")]
    script = Path(__file__).resolve().parents[1] / "examples" / "adult.py"
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    summary = pd.read_csv(out / "adult-summary.csv")
    assert list(summary["model"]) == ["xgboost", "mlp", "mlp_sam_ls"]
    assert (summary["n_seeds"] == 2).all() and summary["test_accuracy_mean"].between(0.5, 1.0).all()
    results = pd.read_csv(out / "adult-results.csv")
    assert len(results) == 6 and sorted(set(results["seed"])) == [0, 1] and (results["ensemble_size"] == 2).all()
    best = json.loads((out / "adult-best-params.json").read_text())
    # SAM-A + smoothing kept the tuned MLP's configuration and tuned only rho and eps.
    mlp, sam = best["mlp"]["params"], best["mlp_sam_ls"]["params"]
    assert {k: v for k, v in sam.items() if k not in ("sam_asymmetric_rho", "class_smoothing_eps")} == mlp
    study = optuna.load_study(study_name="adult-mlp_sam_ls-on-mlp", storage=f"sqlite:///{tmp_path}/b.db")
    assert len(study.trials) == 2
    assert "total wall time" in capsys.readouterr().out
    # Two ensembles of two members per model, every member's probabilities kept.
    assert len(list((tmp_path / "predictions").glob("adult-*-seed[0-3].npz"))) == 12
    # The caps each model was evaluated with are recorded beside its parameters.
    assert {k: best["mlp"][k] for k in ("max_epochs", "max_train_rows", "xgb_max_estimators")} == {
        "max_epochs": 2, "max_train_rows": 600, "xgb_max_estimators": 20}


@needs_adult
def test_benchmark_run_stopped_in_a_later_stage_keeps_the_files_of_the_models_it_finished(tmp_path, monkeypatch):
    # The files were written once, after the last model: a run of hours that died while tuning its last model
    # (out of memory, Ctrl-C) left no file of the models it had tuned and evaluated.
    from imbsk.tuning import commands

    tune = commands.tune

    def stopped_at_the_mlp(dataset, model, **kwargs):
        if model == "mlp":
            raise KeyboardInterrupt
        return tune(dataset, model, **kwargs)

    monkeypatch.setattr(commands, "tune", stopped_at_the_mlp)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        tuning.run_benchmark("adult", n_trials={"xgboost": 1, "mlp": 1}, seeds=1, storage=f"sqlite:///{tmp_path}/s.db",
                             data_home=DATA_HOME, max_train_rows=500, xgb_max_estimators=10, out=str(out))
    assert list(pd.read_csv(out / "adult-summary.csv")["model"]) == ["xgboost"]
    assert list(pd.read_csv(out / "adult-results.csv")["model"]) == ["xgboost"]
    assert list(json.loads((out / "adult-best-params.json").read_text())) == ["xgboost"]
    assert not [path.name for path in out.iterdir() if path.name.startswith(".")]  # no temporary file left


@needs_adult
@pytest.mark.parametrize("models", [["mlp_sam_ls"], ["xgboost", "mlp_sam_ls", "mlp"]])
def test_sam_ls_on_mlp_without_an_mlp_stage_before_it_is_refused(tmp_path, capsys, models):
    # It was ignored: rerunning only the stage a crash stopped (--models mlp_sam_ls --sam-ls-on-mlp) tuned the
    # whole space in the study 'adult-mlp_sam_ls' instead of continuing 'adult-mlp_sam_ls-on-mlp'.
    storage = f"sqlite:///{tmp_path}/s.db"
    assert tuning.benchmark_main("adult", ["--models", *models, "--sam-ls-on-mlp", "--n-trials", "1",
                                           "--max-epochs", "1", "--max-train-rows", "600", "--data-home", DATA_HOME,
                                           "--storage", storage, "--out", str(tmp_path / "out")]) == 2
    assert "holds the best 'mlp' configuration of the same run fixed" in capsys.readouterr().err
    assert optuna.get_all_study_names(storage) == []  # refused before any study


@needs_adult
def test_example_script_reruns_on_the_same_storage(tmp_path, capsys):
    common = ["--max-epochs", "1", "--max-train-rows", "600", "--xgb-max-estimators", "10", "--seeds", "1",
              "--data-home", DATA_HOME, "--storage", f"sqlite:///{tmp_path}/r.db", "--out", str(tmp_path / "out")]
    xgb = ["--models", "xgboost", "--xgb-trials", "2"]
    assert tuning.benchmark_main("adult", [*xgb, *common]) == 0
    # Its own --seed: a continuation draws new start-up configurations instead of replaying them.
    assert tuning.benchmark_main("adult", [*xgb, *common, "--seed", "1"]) == 0
    trials = optuna.load_study(study_name="adult-xgboost", storage=f"sqlite:///{tmp_path}/r.db").trials
    assert trials[0].params != trials[2].params and trials[1].params != trials[3].params
    # ... and trains its trials with that seed, which the --seed help and the scripts' docstrings say.
    assert [t.user_attrs["model_seeds"] for t in trials] == [[0], [0], [1], [1]]
    # A study keeps the batch sizes it started with: a clear error, no failed trial.
    mlp = ["--models", "mlp", "--n-trials", "1"]
    assert tuning.benchmark_main("adult", [*mlp, *common, "--batch-sizes", "256"]) == 0
    capsys.readouterr()
    assert tuning.benchmark_main("adult", [*mlp, *common, "--batch-sizes", "128"]) == 2
    assert "draws batch_size from [256], not [128]" in capsys.readouterr().err
    study = optuna.load_study(study_name="adult-mlp", storage=f"sqlite:///{tmp_path}/r.db")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE]
    with pytest.raises(SystemExit):
        tuning.benchmark_main("adult", ["--seeds", "0"])
    assert "argument --seeds: must be a positive integer, got 0" in capsys.readouterr().err


def test_benchmark_seed_is_documented_as_the_trials_model_seed(capsys):
    # It was described as the studies' sampler seed alone: parallel copies with their own --seed score their
    # trials on different model seeds, which a user comparing their trials should know.
    with pytest.raises(SystemExit):
        tuning.benchmark_main("adult", ["--help"])
    assert "model seed of their trials" in " ".join(capsys.readouterr().out.split())
    for script in ("adult", "otto", "covertype"):
        text = (Path(__file__).resolve().parents[1] / "examples" / f"{script}.py").read_text()
        assert "also the model seed" in text


CONFIGS = sorted((Path(__file__).resolve().parents[1] / "examples" / "configs").glob("*.json"))


def test_shipped_configurations_cover_both_benchmarks_and_all_models():
    names = {p.stem for p in CONFIGS}
    assert {f"{d}-{m}" for d in ("adult", "otto") for m in ("xgboost", "mlp_sam_ls")} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configuration_trains(path):
    config = tuning.load_config(path)
    assert path.stem.startswith(f"{config['dataset']}-{config['model']}")
    data_file = {"adult": "adult.csv.gz", "otto": "otto_train.csv.gz"}[config["dataset"]]
    if not (SHARED_DATA / data_file).is_file():
        pytest.skip(f"{data_file} not available")
    # Its real arguments on a small subsample, one epoch / five trees: the estimators accept them all.
    small = {"max_epochs": 1, "xgb_max_estimators": 5}
    if "blend_config" in config:
        partner = tuning.load_config(path.parent / config["blend_config"])
        assert partner["dataset"] == config["dataset"]
        results = tuning.evaluate_blend(config["dataset"], config | small, partner | small, seeds=[0],
                                        data_home=DATA_HOME, max_train_rows=600)
    else:
        results = tuning.evaluate(config["dataset"], config["model"], config["params"], seeds=[0],
                                  data_home=DATA_HOME, max_train_rows=600, **small)
    n_classes = 2 if config["dataset"] == "adult" else 9
    assert results.loc[0, "test_accuracy"] > 1.2 / n_classes


@needs_adult
def test_trial_seeds_score_the_mean_and_store_members_that_evaluate_reuses(tmp_path, monkeypatch):
    kwargs = dict(data_home=DATA_HOME, max_train_rows=ROWS, xgb_max_estimators=20)
    store = tmp_path / "predictions"
    study = tuning.tune("adult", "xgboost", n_trials=2, storage=f"sqlite:///{tmp_path}/s.db", trial_seeds=[3, 4],
                       predictions_dir=store, **kwargs)
    for trial in study.trials:
        accuracies = trial.user_attrs["val_accuracies"]
        assert trial.user_attrs["model_seeds"] == [3, 4] and len(accuracies) == 2
        assert trial.value == pytest.approx(np.mean(accuracies), abs=1e-12)
    assert len(list(store.glob("adult-xgboost-*-seed[34].npz"))) == 4

    params = tuning.best_params(study)
    fits = []
    real_fit = tuning.fitting._fit_model
    monkeypatch.setattr(tuning.fitting, "_fit_model", lambda *a, **k: fits.append(k["seed"]) or real_fit(*a, **k))
    rows = tuning.evaluate("adult", "xgboost", params, seeds=[2, 3, 4], predictions_dir=store, **kwargs)
    # The best trial's two models are read; only seed 2 is new.
    assert fits == [2]
    np.testing.assert_allclose(rows["val_accuracy"].iloc[1:], study.best_trial.user_attrs["val_accuracies"], atol=1e-12)
    # Without the store, the scores are those of fresh fits of the same seeds.
    monkeypatch.setattr(tuning.fitting, "_fit_model", real_fit)
    fresh = tuning.evaluate("adult", "xgboost", params, seeds=[3, 4], **kwargs)
    np.testing.assert_allclose(fresh["val_accuracy"], study.best_trial.user_attrs["val_accuracies"], atol=1e-12)


@needs_adult
def test_estimator_params_join_every_trial(tmp_path):
    fixed = {"n_blocks": 1, "width": 64, "frequency_init_scale": 1.0, "n_frequencies": 8, "d_embedding": 8,
             "dropout": 0.1, "learning_rate_init": 1e-3, "weight_decay": 1e-5, "batch_size": 256}
    storage = f"sqlite:///{tmp_path}/e.db"
    study = tuning.tune("adult", "mlp", n_trials=1, storage=storage, data_home=DATA_HOME, max_epochs=1,
                        max_train_rows=600, batch_sizes=(256,), fixed_params=fixed,
                        estimator_params={"ema_decay": 0.5, "n_iter_no_change": 7})
    params = tuning.best_params(study)
    assert (params["ema_decay"], params["n_iter_no_change"], params["hidden_layer_sizes"]) == (0.5, 7, [64])


@needs_adult
def test_a_tol_that_is_not_a_number_is_refused_naming_tol(tmp_path):
    # The trial's pruner read float(tol) before the estimator checked it: None failed with a TypeError
    # ("float() argument must be ... not 'NoneType'") that named no parameter.
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="The 'tol' parameter of ImbalancedMLPClassifier"):
        tuning.tune("adult", "mlp", n_trials=1, storage=f"sqlite:///{tmp_path}/t.db", data_home=DATA_HOME,
                    max_epochs=1, max_train_rows=300, estimator_params={"tol": None})


@pytest.mark.parametrize("extra, message", [
    ({"dropout": 0.2}, r"sets \['dropout'\], which the search space draws"),
    ({"random_state": 3}, r"sets \['random_state'\], which the tuning driver sets"),
    ({"early_stopping_metric": "loss"}, r"sets \['early_stopping_metric'\], which the tuning driver sets itself "
                                        r"\(early_stopping_metric: a study keeps each trial's epoch of best "
                                        r"validation accuracy"),
    ({"ema_decy": 0.9}, r"not ImbalancedMLPClassifier arguments: \['ema_decy'\]"),
])
def test_estimator_params_refuse_drawn_reserved_and_unknown_names(tmp_path, extra, message):
    with pytest.raises(ValueError, match=message):
        tuning.tune("adult", "mlp", n_trials=1, storage=f"sqlite:///{tmp_path}/r.db", data_home=str(tmp_path),
                    estimator_params=extra)


@pytest.mark.parametrize("precision, extra, message", [
    ("float32", {"optimizer": "sgd"}, r"sets \['optimizer'\], which tune sets from its own arguments "
                                      r"\(optimizer: optimizer= / --optimizer\)"),
    ("bfloat16", {"precision": "float32"}, r"sets \['precision'\], which tune sets from its own arguments "
                                           r"\(precision: precision= / --precision\)"),
])
def test_estimator_params_name_the_tune_argument_of_the_optimizer_and_precision(tmp_path, precision, extra, message):
    # The space returns these from tune's arguments; "hold them with fixed_params" was no way to set them.
    with pytest.raises(ValueError, match=message):
        tuning.tune("adult", "mlp", n_trials=1, storage=f"sqlite:///{tmp_path}/r.db", data_home=str(tmp_path),
                    precision=precision, estimator_params=extra)


def test_trial_seeds_must_name_a_non_negative_seed(tmp_path):
    for seeds, message in (([], "at least one seed"), ([1, -1], "trial_seeds must be non-negative")):
        with pytest.raises(ValueError, match=message):
            tuning.tune("adult", "xgboost", n_trials=1, storage=f"sqlite:///{tmp_path}/r.db",
                        data_home=str(tmp_path), trial_seeds=seeds)


@pytest.mark.parametrize("name, value, message", [
    ("max_epochs", 2.5, "max_epochs must be a positive integer"),
    ("max_epochs", "3", "max_epochs must be a positive integer"),
    ("max_epochs", True, "max_epochs must be a positive integer"),
    ("xgb_max_estimators", 0, "xgb_max_estimators must be a positive integer"),
    ("batch_sizes", [64, 2.5], "batch_sizes entries must be a positive integer"),
    ("batch_sizes", ["64"], "batch_sizes entries must be a positive integer"),
    ("batch_sizes", [], "batch_sizes must hold at least one"),
    ("max_train_rows", 500.5, "max_train_rows must be a positive integer"),
    ("trial_seeds", [0, 1.5], "trial_seeds must be non-negative integers"),
    ("trial_seeds", [True], "trial_seeds must be non-negative integers"),
    ("seed", 2.5, "seed must be an integer >= 0"),
    ("seed", -1, "seed must be an integer >= 0"),
])
def test_tune_refuses_counts_and_seeds_that_are_not_integers(tmp_path, name, value, message):
    # int() took them silently: max_epochs=2.5 trained 2 epochs, batch_sizes=[2.5] batches of 2, trial seed 1.5
    # the model of seed 1; '3' failed with "invalid literal for int() with base 10: ''", naming nothing.
    with pytest.raises(ValueError, match=message):
        tuning.tune("adult", "mlp", n_trials=1, storage=f"sqlite:///{tmp_path}/r.db", data_home=str(tmp_path),
                    **{name: value})


@pytest.mark.parametrize("name, value", [("max_epochs", 2.5), ("xgb_max_estimators", 0), ("seeds", [0.5]),
                                         ("max_train_rows", 0)])
def test_evaluate_refuses_counts_and_seeds_that_are_not_integers(tmp_path, name, value):
    kwargs = {"seeds": 1, name: value}
    with pytest.raises(ValueError, match=f"{name} must be"):
        tuning.evaluate("adult", "mlp", {}, data_home=str(tmp_path), **kwargs)


@needs_adult
def test_tune_command_passes_trial_seeds_and_estimator_params(tmp_path):
    from imbsk.cli import main

    out = tmp_path / "tuned"
    fixed = json.dumps({"n_blocks": 1, "width": 64, "frequency_init_scale": 1.0, "n_frequencies": 8,
                        "d_embedding": 8, "dropout": 0.1, "learning_rate_init": 1e-3, "weight_decay": 1e-5,
                        "batch_size": 256})
    assert main(["tune", "--dataset", "adult", "--model", "mlp", "--n-trials", "1", "--max-train-rows", "600",
                 "--max-epochs", "1", "--batch-sizes", "256", "--fixed-params", fixed, "--trial-seeds", "1-2",
                 "--estimator-params", '{"ema_decay": 0.9}', "--storage", f"sqlite:///{tmp_path}/t.db",
                 "--data-home", DATA_HOME, "--predictions-dir", str(tmp_path / "p"), "--out", str(out)]) == 0
    stored = json.loads((out / "adult-mlp-best.json").read_text())
    assert stored["model_seeds"] == [1, 2] and stored["params"]["ema_decay"] == 0.9
    assert sorted(p.name[-9:] for p in (tmp_path / "p").glob("*.npz")) == ["seed1.npz", "seed2.npz"]


def test_seed_options_show_why_a_value_is_refused(capsys):
    from imbsk.cli import main

    with pytest.raises(SystemExit):
        main(["evaluate", "--config", "x.json", "--seeds", "0"])
    assert "seed 0 alone is '0-0'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tune", "--dataset", "adult", "--model", "mlp", "--n-trials", "1", "--trial-seeds", "a"])
    assert "--trial-seeds must be K, A-B or A,B,C" in capsys.readouterr().err


def test_every_driver_set_argument_says_where_it_comes_from():
    """The refusal message looks each reserved name up; a name without an entry would raise KeyError instead."""
    from imbsk.tuning import fitting

    assert set(fitting._DRIVER_ARGUMENT_SOURCES) == fitting._DRIVER_ARGUMENTS | fitting._XGB_DRIVER_ARGUMENTS


def test_the_caps_note_names_only_the_caps_that_bind_the_model(capsys):
    from imbsk.tuning.commands import _caps_of_best_trial

    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    for name, value in {"max_epochs": 50, "xgb_max_estimators": 2000, "max_train_rows": None}.items():
        trial.set_user_attr(name, value)
    study.tell(trial, 0.8)
    given = {"max_epochs": 5, "xgb_max_estimators": 2000, "max_train_rows": None}
    caps = _caps_of_best_trial(study, "", "xgboost", **given)
    assert caps["max_epochs"] == 50 and capsys.readouterr().out == ""  # an epoch cap does not bind XGBoost
    _caps_of_best_trial(study, "", "mlp", **given)
    assert 'the best trial was scored with {"max_epochs": 50}' in capsys.readouterr().out


@needs_adult
def test_ctrl_c_in_a_trial_stops_the_study_and_records_no_score(tmp_path, monkeypatch):
    # The fit used to swallow the KeyboardInterrupt (skorch's stop signal for callbacks): the half-trained trial
    # completed with its score, its probabilities were stored for reuse, and the study went on.
    from imbsk.training.net import ImbalanceNet

    def interrupted_step(self, batch, **fit_params):
        raise KeyboardInterrupt

    monkeypatch.setattr(ImbalanceNet, "train_step", interrupted_step)
    storage = f"sqlite:///{tmp_path}/study.db"
    with pytest.raises(KeyboardInterrupt):
        tuning.tune("adult", "mlp", n_trials=2, storage=storage, data_home=DATA_HOME, max_epochs=1,
                    max_train_rows=600, batch_sizes=(256,), predictions_dir=tmp_path / "p")
    study = optuna.load_study(study_name="adult-mlp", storage=storage)
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.FAIL]
    assert not any(path.is_file() for path in (tmp_path / "p").rglob("*"))


@needs_adult
def test_unusable_predictions_dir_is_refused_before_any_fit_and_a_failed_store_loses_no_run(
    tmp_path, monkeypatch, capsys
):
    from imbsk.cli import main

    kwargs = dict(data_home=DATA_HOME, max_train_rows=ROWS, xgb_max_estimators=5)
    params = {"max_depth": 3}
    fits = []
    real_fit = tuning.fitting._fit_model
    monkeypatch.setattr(tuning.fitting, "_fit_model", lambda *a, **k: fits.append(k["seed"]) or real_fit(*a, **k))
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    # A file (or a path below one) can never hold a model: refused before the first fit, not after it
    # with the bare "[Errno 17] File exists" of the first save.
    for store in (a_file, a_file / "below"):
        with pytest.raises(ValueError, match="predictions_dir .* is a file"):
            tuning.evaluate("adult", "xgboost", params, seeds=[0], predictions_dir=store, **kwargs)
        with pytest.raises(ValueError, match="predictions_dir .* is a file"):
            tuning.tune("adult", "xgboost", n_trials=1, storage=f"sqlite:///{tmp_path / 's.db'}",
                        predictions_dir=store, **kwargs)
    config = tmp_path / "xgb.json"
    config.write_text(json.dumps({"dataset": "adult", "model": "xgboost", "params": params}))
    assert main(["evaluate", "--config", str(config), "--seeds", "0-0", "--data-home", DATA_HOME,
                 "--max-train-rows", str(ROWS), "--xgb-max-estimators", "5", "--out", str(tmp_path / "out"),
                 "--predictions-dir", str(a_file)]) == 2
    assert f"--predictions-dir {a_file} is a file" in capsys.readouterr().err
    assert fits == []

    # A store that cannot take a file (read-only, full disk) warns; the fitted models are still scored.
    def full(*args, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(member_cache, "atomic_write", full)
    with pytest.warns(RuntimeWarning, match="could not be stored .*No space left"):
        results = tuning.evaluate("adult", "xgboost", params, seeds=[0, 1], predictions_dir=tmp_path / "p", **kwargs)
    assert fits == [0, 1] and len(results) == 2
    expected = tuning.evaluate("adult", "xgboost", params, seeds=[0, 1], **kwargs)
    pd.testing.assert_frame_equal(results.drop(columns="fit_time"), expected.drop(columns="fit_time"))
    with pytest.warns(RuntimeWarning, match="could not be stored"):
        study = tuning.tune("adult", "xgboost", n_trials=2, storage=f"sqlite:///{tmp_path / 's.db'}",
                            predictions_dir=tmp_path / "p", **kwargs)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2


@needs_adult
def test_output_stem_with_a_slash_writes_into_a_subdirectory_of_out(tmp_path, capsys):
    # An Optuna study name may hold a '/' ('adult/xgb'), and so may --name: the files went to a
    # subdirectory of --out that nobody created, so the write that ends the run failed after all its fits.
    from imbsk.cli import main

    out, storage = tmp_path / "out", f"sqlite:///{tmp_path / 's.db'}"
    common = ["--data-home", DATA_HOME, "--max-train-rows", str(ROWS), "--xgb-max-estimators", "5", "--out", str(out)]
    assert main(["tune", "--dataset", "adult", "--model", "xgboost", "--n-trials", "1", "--storage", storage,
                 "--study-name", "adult/xgb", "--evaluate-seeds", "1", *common]) == 0
    best = json.loads((out / "adult" / "xgb-best.json").read_text())
    assert best["study"] == "adult/xgb"
    assert (out / "adult" / "xgb-seeds.csv").is_file() and (out / "adult" / "xgb-summary.json").is_file()
    config = out / "adult" / "xgb-best.json"
    assert main(["evaluate", "--config", str(config), "--seeds", "0-0", "--name", "runs/first", *common]) == 0
    assert {p.name for p in (out / "runs").iterdir()} == {"first-seeds.csv", "first-summary.json", "first-config.json"}
    # A file in the way is refused before anything is fitted.
    (out / "blocked").write_text("")
    assert main(["evaluate", "--config", str(config), "--seeds", "0-0", "--name", "blocked/x", *common]) == 2
    assert "is a file" in capsys.readouterr().err
    # A name that would leave --out (joined onto it, an absolute name replaces it) is refused before any fit.
    for name in (str(tmp_path / "elsewhere"), "../escaped"):
        assert main(["evaluate", "--config", str(config), "--seeds", "0-0", "--name", name, *common]) == 2
        assert "must name a file inside --out" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere-seeds.csv").exists() and not (tmp_path / "escaped-seeds.csv").exists()
