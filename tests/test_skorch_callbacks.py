"""skorch's own callbacks in the estimators' ``callbacks``: those that work, and those refused because the fit
would silently override them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from skorch.callbacks import BatchScoring, Callback, Checkpoint, EarlyStopping, EpochScoring, LRScheduler

from imbsk import ImbalancedMLPClassifier

FAST = dict(hidden_layer_sizes=(16,), d_embedding=4, n_frequencies=4, batch_size=64, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=300, n_features=5, n_informative=3, weights=[0.8, 0.2], random_state=0)


@pytest.mark.parametrize("callback", [
    LRScheduler("StepLR", step_size=1, gamma=0.1),
    ("steps", LRScheduler),
    EarlyStopping(load_best=True),
    Checkpoint(load_best=True),
])
def test_callbacks_the_fit_would_override_are_refused(data, callback):
    # imbsk's warm-up + cosine sets every group's learning rate before each batch, and the weights kept after fit
    # are imbsk's (its early stopping's best epoch, the EMA copy): these would be overwritten without a word.
    X, y = data
    with pytest.raises(ValueError, match="would be overridden"):
        ImbalancedMLPClassifier(max_iter=1, callbacks=[callback], **FAST).fit(X, y)


def test_early_stopping_and_checkpoint_without_load_best_still_run(data, tmp_path):
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), f_optimizer=None, f_criterion=None, f_history=None)
    clf = ImbalancedMLPClassifier(max_iter=3, callbacks=[EarlyStopping(patience=5), checkpoint], **FAST).fit(X, y)
    assert clf.n_iter_ == 3 and (tmp_path / "params.pt").is_file()


# -- skorch's scoring callbacks ----------------------------------------------------------
@pytest.mark.parametrize("params", [{}, dict(class_smoothing_eps=0.2, invert_smoothing=True), dict(ema_decay=0.9)])
def test_epoch_scoring_scores_the_estimators_predictions(data, params):
    # The net in a callback predicts as the estimator does: encoded labels (positions in classes_) and the
    # probabilities of predict_proba, so skorch's named scorers work and agree with imbsk's own valid_bacc.
    X, y = data
    scorings = [EpochScoring("balanced_accuracy", lower_is_better=False, name="sk_bacc"),
                EpochScoring("roc_auc", lower_is_better=False, name="sk_auc"),
                BatchScoring("accuracy", lower_is_better=False, name="sk_acc")]
    clf = ImbalancedMLPClassifier(max_iter=2, callbacks=scorings, **FAST, **params).fit(np.asarray(X), y)
    assert clf.history_[:, "sk_bacc"] == pytest.approx(clf.history_[:, "valid_bacc"])
    assert all(0.0 <= score <= 1.0 for score in clf.history_[:, "sk_auc"])
    net = clf.net_
    assert list(net.classes_) == [0, 1]
    inputs = clf._transform_inputs(X)
    np.testing.assert_allclose(net.predict_proba(inputs), clf.predict_proba(X))
    np.testing.assert_array_equal(clf.classes_[net.predict(inputs)], clf.predict(X))


def test_a_custom_scorer_gets_the_encoded_labels_and_their_predictions(data):
    X, y = data
    seen = []

    def scorer(net, X_valid, y_valid):
        predicted = net.predict(X_valid)  # once: skorch hands the cached predictions of the epoch out once
        seen.append((np.unique(y_valid), np.unique(predicted)))
        return float(np.mean(predicted == y_valid))

    labels = np.where(y == 1, "rare", "common")
    clf = ImbalancedMLPClassifier(max_iter=1, callbacks=[EpochScoring(scorer, lower_is_better=False, name="mine")],
                                  **FAST).fit(X, labels)
    assert set(seen[0][0]) == {0, 1} and set(seen[0][1]) <= {0, 1}
    assert clf.history_[-1, "mine"] == pytest.approx(clf.history_[-1, "valid_acc"])


def test_scoring_callbacks_take_the_batches_of_a_weighted_fit(data):
    # A weighted batch unpacks as skorch's (X, y); skorch's unpack_data refused the former (X, y, w).
    X, y = data
    weights = np.linspace(0.5, 2.0, len(y))
    scorings = [EpochScoring("accuracy", lower_is_better=False, name="sk_acc"),
                EpochScoring(lambda net, X, y: float(len(net.predict(X))), name="n_valid", use_caching=False),
                BatchScoring("accuracy", lower_is_better=False, name="batch_acc", on_train=True)]
    clf = ImbalancedMLPClassifier(max_iter=2, callbacks=scorings, **FAST).fit(X, y, sample_weight=weights)
    plain = ImbalancedMLPClassifier(max_iter=2, **FAST).fit(X, y, sample_weight=weights)
    assert clf.history_[-1, "n_valid"] == 30
    assert all(0.0 <= score <= 1.0 for score in clf.history_[:, "sk_acc"] + clf.history_[:, "batch_acc"])
    # The weights still train and score: the callbacks change nothing of the fit.
    assert clf.history_[:, "valid_bacc"] == plain.history_[:, "valid_bacc"]
    np.testing.assert_array_equal(clf.predict_proba(X), plain.predict_proba(X))


class StopAt(Callback):
    """Stop the fit at the end of epoch ``epoch`` as skorch's EarlyStopping does; keep that epoch's weights."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            self.weights_ = {key: value.clone() for key, value in net.prediction_module.state_dict().items()}
            raise KeyboardInterrupt


def test_a_callback_stopping_the_fit_leaves_its_epoch_to_early_stopping_and_the_table(data, capsys):
    X, y = data
    clf = ImbalancedMLPClassifier(max_iter=6, early_stopping_metric="loss", tol=0.0, verbose=1,
                                  callbacks=[("stop", StopAt(2))], **FAST).fit(X, y)
    assert clf.n_iter_ == 2
    rows = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.strip()[:1].isdigit()]
    assert rows == ["1", "2"]
    # The last epoch improved the validation loss, so its weights are the ones kept.
    assert clf.history_[:, "valid_loss"][1] < clf.history_[:, "valid_loss"][0]
    assert clf.history_[:, "event_best"] == [True, True]
    kept = clf.net_.module_.state_dict()
    assert all(torch.equal(kept[key], value) for key, value in clf.callbacks[0][1].weights_.items())


def test_skorch_early_stopping_stops_the_fit(data):
    X, y = data
    stop = EarlyStopping(monitor="train_loss", patience=1, lower_is_better=False)
    clf = ImbalancedMLPClassifier(max_iter=6, callbacks=[stop], **FAST).fit(X, y)
    assert clf.n_iter_ == 2 and "event_best" in clf.history_[-1]


class RecordStep(Callback):
    """The weights and gradient handed to ``on_grad_computed`` in the first step, and its learning rate."""

    def on_grad_computed(self, net, named_parameters, **kwargs):
        if not hasattr(self, "grads_"):
            named = list(named_parameters)
            self.weights_ = {name: p.detach().clone() for name, p in named}
            self.grads_ = {name: p.grad.clone() for name, p in named}
            self.lr_ = net.optimizer_.param_groups[0]["lr"]


@pytest.mark.parametrize("params", [{}, dict(sam_asymmetric_rho=0.5), dict(sam_asymmetric_rho=0.5, joint_ssl_weight=0.1)])
def test_on_grad_computed_sees_the_gradient_the_step_takes(data, params):
    # Under SAM-A (two or three backward passes) the callback sees the final descent gradient: the one the
    # optimiser applies, so GradientNormClipping clips what steps.
    X, y = data
    record = RecordStep()
    clf = ImbalancedMLPClassifier(max_iter=1, validation_fraction=None, momentum=0.0,
                                  weight_decay=0.0, dropout=0.0, ema_decay=None, callbacks=[record],
                                  **{**FAST, "batch_size": len(y)}, **params).fit(X, y)
    for name, p in clf.net_.module_.named_parameters():
        torch.testing.assert_close(p.detach(), record.weights_[name] - record.lr_ * record.grads_[name])


def test_a_checkpoint_of_the_averaged_weights_holds_the_kept_model(data, tmp_path):
    # With EMA the weights scored (and kept by early stopping on the loss) are ema_module_'s, not module_'s.
    X, y = data
    checkpoint = Checkpoint(dirname=str(tmp_path), f_params=None, f_ema_module="ema.pt", f_optimizer=None,
                            f_criterion=None, f_history=None)
    clf = ImbalancedMLPClassifier(max_iter=3, ema_decay=0.9, early_stopping_metric="loss", tol=0.0,
                                  callbacks=[checkpoint], **FAST).fit(X, y)
    assert clf.history_[:, "event_cp"] == clf.history_[:, "event_best"]
    saved = torch.load(tmp_path / "ema.pt")
    assert all(torch.equal(saved[key], value) for key, value in clf.net_.module_.state_dict().items())


def test_the_users_ctrl_c_during_a_fit_stops_it_and_reaches_the_caller(data, monkeypatch):
    # skorch ends a fit quietly on any KeyboardInterrupt, its callbacks' way to stop training; Ctrl-C in a training
    # step returned a half-trained model as fitted: `imbsk tune` recorded it as a complete trial (and
    # --predictions-dir stored its probabilities for good), compare went on to the next run, a script carried on.
    from imbsk.training.net import ImbalanceNet

    X, y = data
    train_step = ImbalanceNet.train_step
    steps = []

    def interrupted_step(self, batch, **fit_params):
        steps.append(1)
        if len(steps) == 3:
            raise KeyboardInterrupt  # where SIGINT lands: in the step, not in a callback
        return train_step(self, batch, **fit_params)

    monkeypatch.setattr(ImbalanceNet, "train_step", interrupted_step)
    clf = ImbalancedMLPClassifier(max_iter=5, **FAST)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert len(steps) == 3 and not hasattr(clf, "net_")
    # A callback's KeyboardInterrupt still only stops the fit (skorch's EarlyStopping, StopAt above), and the
    # interruption left nothing behind that would stop the next fit.
    monkeypatch.setattr(ImbalanceNet, "train_step", train_step)
    assert ImbalancedMLPClassifier(max_iter=5, callbacks=[("stop", StopAt(2))], **FAST).fit(X, y).n_iter_ == 2


@pytest.mark.parametrize("hook", ["on_train_begin", "on_train_end"])
def test_a_callbacks_keyboard_interrupt_outside_the_epochs_ends_the_fit(data, hook):
    # skorch takes a KeyboardInterrupt as a request to stop only inside its epoch loop; the callbacks docstring
    # said any callback's KeyboardInterrupt keeps the model.
    def interrupt(self, net, **kwargs):
        raise KeyboardInterrupt

    Interrupt = type("Interrupt", (Callback,), {hook: interrupt})
    clf = ImbalancedMLPClassifier(max_iter=2, callbacks=[("interrupt", Interrupt())], **FAST)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(*data)
    assert not hasattr(clf, "net_")
