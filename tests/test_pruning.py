"""Pruning: the estimators' ``callbacks``, :class:`imbsk.tuning.PruneTrial`, and ``tune(pruner=...)``."""

from __future__ import annotations

import argparse
import json
import os
import pickle
from pathlib import Path

import numpy as np
import optuna
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

from imbsk import ImbalancedCNNClassifier, ImbalancedMLPClassifier, tuning
from imbsk.datasets import load_digits_lt
from imbsk.tuning import commands

optuna.logging.set_verbosity(optuna.logging.WARNING)

SHARED_DATA = Path(os.environ.get("IMBSK_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
needs_adult = pytest.mark.skipif(not (SHARED_DATA / "adult.csv.gz").is_file(), reason="Adult file not available")
DATA_HOME = str(SHARED_DATA)

FAST = dict(hidden_layer_sizes=(16,), d_embedding=4, n_frequencies=4, batch_size=64, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def split():
    X, y = make_classification(n_samples=400, n_features=5, n_informative=3, weights=[0.8, 0.2], random_state=0)
    return X[:300], y[:300], X[300:], y[300:]


class RecordScores(Callback):
    def __init__(self, key: str = "valid_acc") -> None:
        self.key = key

    def initialize(self):
        self.seen_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.seen_.append(net.history[-1, self.key])


class FakeTrial:
    """What PruneTrial uses of an Optuna trial: report and should_prune (true from ``prune_at`` on)."""

    def __init__(self, prune_at: int | None = None) -> None:
        self.prune_at = prune_at
        self.reports: list[tuple[int, float]] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return self.prune_at is not None and self.reports[-1][0] >= self.prune_at


# -- the estimators' callbacks ---------------------------------------------------------
def test_user_callbacks_see_every_epoch_even_the_one_early_stopping_ends(split):
    X, y, X_val, y_val = split
    recorder = RecordScores()
    # tol=1: no epoch after the first improves, so early stopping raises at the end of epoch 2.
    clf = ImbalancedMLPClassifier(max_iter=6, n_iter_no_change=1, tol=1.0, callbacks=[("scores", recorder)], **FAST)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert clf.n_iter_ == 2
    assert recorder.seen_ == list(clf.history_[:, "valid_acc"])
    by_class = ImbalancedMLPClassifier(max_iter=2, callbacks=[RecordScores, ["listed", RecordScores("valid_bacc")]],
                                       **FAST).fit(X, y, X_val=X_val, y_val=y_val)
    callbacks = dict(by_class.net_.callbacks_)
    assert callbacks["RecordScores"].seen_ == list(by_class.history_[:, "valid_acc"])
    assert callbacks["listed"].seen_ == list(by_class.history_[:, "valid_bacc"])


def test_callbacks_leave_the_model_unchanged_and_survive_clone(split):
    X, y, X_val, y_val = split
    plain = ImbalancedMLPClassifier(max_iter=3, **FAST).fit(X, y, X_val=X_val, y_val=y_val)
    watched = ImbalancedMLPClassifier(max_iter=3, callbacks=[RecordScores("valid_bacc")], **FAST)
    watched.fit(X, y, X_val=X_val, y_val=y_val)
    np.testing.assert_array_equal(watched.predict_proba(X_val), plain.predict_proba(X_val))
    twin = clone(watched)
    assert type(twin.callbacks[0]) is RecordScores and twin.callbacks[0] is not watched.callbacks[0]
    assert twin.callbacks[0].key == "valid_bacc"


def test_the_image_classifier_runs_the_callbacks_too():
    data = load_digits_lt(1.0, as_images=True, random_state=0)
    recorder = RecordScores()
    cnn = ImbalancedCNNClassifier(architecture="resnet8", max_iter=2, batch_size=64, augmentation="none", mixing=None,
                                  device="cpu", random_state=0, callbacks=[recorder])
    cnn.fit(data.X_train[:200], data.y_train[:200], X_val=data.X_train[200:300], y_val=data.y_train[200:300])
    assert len(recorder.seen_) == cnn.n_iter_ == 2
    assert recorder.seen_ == list(cnn.history_[:, "valid_acc"])


@pytest.mark.parametrize("callbacks, error, message", [
    ("print", InvalidParameterError, "'callbacks' parameter"),
    ([print], TypeError, "callbacks must be a list of skorch callbacks"),
    ([("scores", "x")], TypeError, "callbacks must be a list of skorch callbacks"),
    ([(3, RecordScores())], TypeError, "callbacks must be a list of skorch callbacks"),
    ([("early_stopping", RecordScores())], ValueError, "name the fit uses itself"),
])
def test_bad_callbacks_are_refused_before_training(split, callbacks, error, message):
    X, y, _, _ = split
    with pytest.raises(error, match=message):
        ImbalancedMLPClassifier(max_iter=1, callbacks=callbacks, **FAST).fit(X, y)


# -- PruneTrial ----------------------------------------------------------------------
def test_prune_trial_reports_the_running_mean_with_the_best_epoch_so_far(split):
    X, y, X_val, y_val = split
    trial = FakeTrial()
    clf = ImbalancedMLPClassifier(max_iter=5, n_iter_no_change=5, learning_rate_init=0.03,
                                  callbacks=[tuning.PruneTrial(trial, step_offset=10, prior_scores=[0.5, 0.7])], **FAST)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    best = np.maximum.accumulate(clf.history_[:, "valid_acc"])
    assert [step for step, _ in trial.reports] == [10, 11, 12, 13, 14]
    np.testing.assert_allclose([value for _, value in trial.reports], (1.2 + best) / 3)


def test_prune_trial_counts_a_new_best_only_beyond_tol():
    # As the fit's early stopping: an epoch better by less than tol is not the kept one.
    class Net:
        def __init__(self) -> None:
            self.history = _History()

    class _History(list):
        def __getitem__(self, key):
            if isinstance(key, tuple):
                return list.__getitem__(self, key[0])[key[1]]
            return list.__getitem__(self, key)

    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    pruning = tuning.PruneTrial(trial, tol=0.01).initialize()
    net = Net()
    for score in (0.80, 0.805, 0.83, 0.835):
        net.history.append({"valid_acc": score})
        pruning.on_epoch_end(net)
    assert [trial.storage.get_trial(trial._trial_id).intermediate_values[step] for step in range(4)] == [
        0.80, 0.80, 0.83, 0.83]


def test_prune_trial_stops_the_fit_when_the_trial_is_pruned(split):
    X, y, X_val, y_val = split
    trial = FakeTrial(prune_at=1)
    clf = ImbalancedMLPClassifier(max_iter=5, callbacks=[tuning.PruneTrial(trial)], **FAST)
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 2"):
        clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert [step for step, _ in trial.reports] == [0, 1]
    assert not hasattr(clf, "net_")


def test_prune_trial_needs_the_monitored_score(split):
    X, y, _, _ = split
    clf = ImbalancedMLPClassifier(max_iter=1, validation_fraction=None, callbacks=[tuning.PruneTrial(FakeTrial())], **FAST)
    with pytest.raises(KeyError, match="does not record: give the fit a validation set"):
        clf.fit(X, y)


def test_a_model_fitted_with_prune_trial_pickles_without_the_trial(split):
    X, y, X_val, y_val = split
    trial = FakeTrial()
    trial.unpicklable = lambda: None
    clf = ImbalancedMLPClassifier(max_iter=2, callbacks=[tuning.PruneTrial(trial)], **FAST).fit(X, y, X_val=X_val, y_val=y_val)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_val), clf.predict_proba(X_val))
    assert restored.callbacks[0].trial is None


# -- make_pruner ---------------------------------------------------------------------
def test_make_pruner_builds_the_named_pruners():
    assert isinstance(tuning.make_pruner("none", max_epochs=20, n_model_seeds=1), optuna.pruners.NopPruner)
    assert isinstance(tuning.make_pruner(None, max_epochs=20, n_model_seeds=1), optuna.pruners.NopPruner)
    median = tuning.make_pruner("median", max_epochs=20, n_model_seeds=3)
    assert isinstance(median, optuna.pruners.MedianPruner)
    assert (median._n_startup_trials, median._n_warmup_steps) == (5, 4)
    assert tuning.make_pruner("median", max_epochs=3, n_model_seeds=1)._n_warmup_steps == 1
    hyperband = tuning.make_pruner("hyperband", max_epochs=20, n_model_seeds=3)
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)
    assert (hyperband._min_resource, hyperband._max_resource, hyperband._reduction_factor) == (4, 60, 3)
    own = optuna.pruners.PercentilePruner(25.0)
    assert tuning.make_pruner(own, max_epochs=20, n_model_seeds=1) is own
    with pytest.raises(ValueError, match=r"pruner must be one of \['none', 'median', 'hyperband'\]"):
        tuning.make_pruner("asha", max_epochs=20, n_model_seeds=1)


# -- tune(pruner=...) ------------------------------------------------------------------
class PruneAfterTheFirstTrial(optuna.pruners.BasePruner):
    """Prune every trial but the first, at its second step."""

    def prune(self, study, trial) -> bool:
        return trial.number > 0 and max(trial.intermediate_values, default=-1) >= 1


# dropout is drawn: two trials are two configurations, not one model read back from the store.
FIXED = {"n_blocks": 1, "width": 64, "frequency_init_scale": 1.0, "n_frequencies": 8, "d_embedding": 8,
         "learning_rate_init": 1e-3, "weight_decay": 1e-5, "batch_size": 128}


@needs_adult
def test_tune_prunes_trials_that_report_behind_and_keeps_their_models_out_of_the_store(tmp_path):
    store = tmp_path / "predictions"
    study = tuning.tune("adult", "mlp", n_trials=2, storage=f"sqlite:///{tmp_path}/p.db", data_home=DATA_HOME,
                        max_epochs=3, max_train_rows=600, batch_sizes=(128,), trial_seeds=2, fixed_params=FIXED,
                        estimator_params={"n_iter_no_change": 3}, predictions_dir=store,
                        pruner=PruneAfterTheFirstTrial())
    first, second = study.trials
    assert first.state == optuna.trial.TrialState.COMPLETE and second.state == optuna.trial.TrialState.PRUNED
    # Steps i * E + e - 1: seed 0 epochs 1-3, then seed 1 epochs 1-3; the last value is the objective.
    assert sorted(first.intermediate_values) == [0, 1, 2, 3, 4, 5]
    assert first.intermediate_values[5] == pytest.approx(first.value, abs=1e-12)
    assert first.intermediate_values[2] == pytest.approx(first.user_attrs["val_accuracies"][0], abs=1e-12)
    assert sorted(second.intermediate_values) == [0, 1]
    assert second.user_attrs["params"]["hidden_layer_sizes"] == [64]
    assert len(list(store.glob("*.npz"))) == 2  # the first trial's two models only
    assert tuning.best_params(study) == first.user_attrs["params"]


@needs_adult
def test_a_pruned_study_is_not_resumed_with_steps_that_mean_other_epochs(tmp_path):
    storage = f"sqlite:///{tmp_path}/r.db"
    common = dict(data_home=DATA_HOME, max_train_rows=600, batch_sizes=(128,), fixed_params=FIXED, storage=storage)
    study = tuning.tune("adult", "mlp", n_trials=1, max_epochs=2, pruner="median", **common)
    assert study.user_attrs["pruning_steps"] == {"max_epochs": 2, "n_model_seeds": 1}
    with pytest.raises(ValueError, match="steps for max_epochs=2 and 1 seed.*max_epochs=3, 1 seed"):
        tuning.tune("adult", "mlp", n_trials=0, max_epochs=3, pruner="median", **common)
    with pytest.raises(ValueError, match="max_epochs=2, 2 seed"):
        tuning.tune("adult", "mlp", n_trials=0, max_epochs=2, trial_seeds=2, pruner="median", **common)
    # Without a pruner nothing compares steps across trials; with the recorded caps the pruner may resume.
    tuning.tune("adult", "mlp", n_trials=0, max_epochs=3, **common)
    tuning.tune("adult", "mlp", n_trials=0, max_epochs=2, pruner="median", **common)


@needs_adult
def test_a_pruner_is_not_resumed_on_trials_an_unpruned_run_added_under_other_caps(tmp_path):
    # The record of the study's caps matched, so the pruner compared this run's trials with the curves of trials
    # that a run without a pruner had added under another epoch cap: steps that mean other epochs.
    storage = f"sqlite:///{tmp_path}/u.db"
    common = dict(data_home=DATA_HOME, max_train_rows=600, batch_sizes=(128,), fixed_params=FIXED, storage=storage,
                  trial_seeds=2)
    tuning.tune("adult", "mlp", n_trials=1, max_epochs=2, pruner="median", **common)
    study = tuning.tune("adult", "mlp", n_trials=1, max_epochs=3, **common)  # allowed: no pruner
    with pytest.raises(ValueError, match=r"holds trial 1, run without a pruner under max_epochs=3 and 2 seed"):
        tuning.tune("adult", "mlp", n_trials=1, max_epochs=2, pruner="median", **common)
    assert len(study.trials) == 2
    tuning.tune("adult", "mlp", n_trials=0, max_epochs=3, **common)  # still allowed without a pruner


@needs_adult
def test_without_a_pruner_trials_still_record_their_learning_curves(tmp_path):
    study = tuning.tune("adult", "mlp", n_trials=2, storage=f"sqlite:///{tmp_path}/n.db", data_home=DATA_HOME,
                        max_epochs=2, max_train_rows=600, batch_sizes=(128,), fixed_params=FIXED)
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE and sorted(trial.intermediate_values) == [0, 1]
        assert trial.intermediate_values[1] == pytest.approx(trial.value, abs=1e-12)


@needs_adult
def test_xgboost_trials_are_not_pruned(tmp_path):
    study = tuning.tune("adult", "xgboost", n_trials=2, storage=f"sqlite:///{tmp_path}/x.db", data_home=DATA_HOME,
                        max_train_rows=600, xgb_max_estimators=10, pruner=PruneAfterTheFirstTrial())
    assert all(t.state == optuna.trial.TrialState.COMPLETE and not t.intermediate_values for t in study.trials)


def test_callbacks_are_the_drivers_own(tmp_path):
    with pytest.raises(ValueError, match=r"sets \['callbacks'\], which the tuning driver sets itself .*--pruner"):
        tuning.tune("adult", "mlp", n_trials=1, storage=f"sqlite:///{tmp_path}/r.db", data_home=str(tmp_path),
                    estimator_params={"callbacks": []})


@needs_adult
def test_tune_command_passes_the_pruner_and_counts_pruned_trials(tmp_path, capsys, monkeypatch):
    seen = []

    def tune_with_a_test_pruner(*args, pruner, **kwargs):
        seen.append(pruner)
        return tuning.tune(*args, pruner=PruneAfterTheFirstTrial(), **kwargs)

    monkeypatch.setattr(commands, "tune", tune_with_a_test_pruner)
    parser = argparse.ArgumentParser()
    tuning.add_tune_arguments(parser)
    args = parser.parse_args([
        "--dataset", "adult", "--model", "mlp", "--n-trials", "2", "--max-epochs", "2", "--max-train-rows", "600",
        "--batch-sizes", "128", "--fixed-params", json.dumps(FIXED), "--pruner", "median",
        "--storage", f"sqlite:///{tmp_path}/c.db", "--data-home", DATA_HOME, "--out", str(tmp_path / "out"),
    ])
    assert commands.run_tune_command(args) == 0
    assert seen == ["median"]
    assert "study 'adult-mlp': 1 completed trials, 1 pruned" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["--dataset", "adult", "--model", "mlp", "--n-trials", "1", "--pruner", "asha"])
    assert "argument --pruner: invalid choice: 'asha'" in capsys.readouterr().err


def test_example_scripts_pass_the_pruner(monkeypatch):
    seen = {}
    monkeypatch.setattr(commands, "load_split", lambda *args, **kwargs: None)
    monkeypatch.setattr(commands, "run_benchmark", lambda dataset, **kwargs: seen.update(kwargs, dataset=dataset))
    assert commands.benchmark_main("otto", ["--pruner", "hyperband", "--n-trials", "3"]) == 0
    assert (seen["dataset"], seen["pruner"]) == ("otto", "hyperband")
    assert commands.benchmark_main("adult", []) == 0 and seen["pruner"] == "none"
