"""Stopping unpromising trials early: a skorch callback that reports to Optuna, and the pruners of :func:`tune`.

A trial of an MLP study fits one model per model seed ``s_0, ..., s_{S-1}`` for at
most ``E`` epochs each. After epoch ``e`` (1-based) of the fit of seed ``s_i`` the
trial reports, at step

    ``t = i * E + e - 1``,

the score its objective would have if the fit stopped there:

    ``v_t = (a_0 + ... + a_{i-1} + max(m_1, ..., m_e)) / (i + 1)``,

with ``a_j`` the validation accuracy of the finished seeds and ``m_1..m_e`` the
epochs' validation accuracies so far (early stopping keeps the best epoch's
weights, so the best-so-far is what a stop returns). Every trial of a study uses
the same seeds and epoch cap, so two trials' values at one step are comparable,
and the last value of a complete trial is its objective. The pruner compares
them and stops the fit (:class:`optuna.TrialPruned`) of a trial that falls behind.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import optuna
from skorch import NeuralNet
from skorch.callbacks import Callback

#: ``pruner=`` names of :func:`~imbsk.tuning.tune` (and ``imbsk tune --pruner``).
PRUNER_NAMES: tuple[str, ...] = ("none", "median", "hyperband")
#: Complete trials before the median pruner stops any (Optuna's default).
PRUNER_STARTUP_TRIALS = 5


class PruneTrial(Callback):
    """Report each epoch's best-so-far validation score to an Optuna trial; stop the fit when it is pruned.

    After epoch ``e`` (1-based) it reports, at step ``step_offset + e - 1``,

    ``v = (sum(prior_scores) + best_e) / (len(prior_scores) + 1)``,

    where ``best_e`` is the best value of ``net.history[:, monitor]`` over
    epochs ``1..e`` (the largest, or the smallest when ``lower_is_better``),
    counting an epoch as better only when it improves on the best so far by more
    than ``tol``: give the estimator's ``tol`` when early stopping watches the same
    key, so that ``best_e`` is the score of the epoch the fit keeps.
    With the defaults that is the best validation accuracy so far, at step
    ``e - 1``. ``prior_scores`` and ``step_offset`` let a trial that fits several
    models (one per seed) report their running mean on one scale of steps (see
    :mod:`imbsk.tuning.pruning`). When ``trial.should_prune()`` says so it raises
    :class:`optuna.TrialPruned`, which ends ``fit``; Optuna records the trial as
    pruned when the objective lets it propagate.

    Use it in your own studies through the estimators' ``callbacks``::

        def objective(trial):
            clf = ImbalancedMLPClassifier(
                learning_rate_init=trial.suggest_float("lr", 1e-4, 1e-2, log=True),
                callbacks=[PruneTrial(trial)],
            )
            clf.fit(X_train, y_train, X_val=X_val, y_val=y_val)
            return clf.score(X_val, y_val)

    The study's direction must match the monitor (maximise for accuracies).
    Fit the estimator that carries it, as above: scikit-learn's ``clone`` (inside
    ``cross_val_score``, say) rebuilds callbacks from deep copies of their
    parameters, and a copied trial reports to a copy of an in-memory study.

    Parameters
    ----------
    trial : optuna.Trial
        The trial to report to.
    monitor : str, default='valid_acc'
        History key reported (``'valid_acc'``, ``'valid_bacc'``, ``'valid_loss'``);
        the fit needs a validation set (``X_val`` or ``validation_fraction``).
    lower_is_better : bool, default=False
        Whether smaller values of ``monitor`` are better (True for a loss).
    step_offset : int, default=0
        Step of the first epoch.
    prior_scores : sequence of float, default=()
        Final scores of models the trial fitted before this one.
    tol : float, default=0.0
        Least improvement that makes an epoch the new best (as the estimators'
        ``tol``).
    """

    def __init__(
        self,
        trial: optuna.Trial,
        monitor: str = "valid_acc",
        lower_is_better: bool = False,
        step_offset: int = 0,
        prior_scores: Sequence[float] = (),
        tol: float = 0.0,
    ) -> None:
        self.trial = trial
        self.monitor = monitor
        self.lower_is_better = lower_is_better
        self.step_offset = step_offset
        self.prior_scores = prior_scores
        self.tol = tol

    def initialize(self) -> "PruneTrial":
        self.best_ = math.inf if self.lower_is_better else -math.inf
        self.last_step_ = None  # the step last reported, None before the first
        return self

    def on_epoch_end(self, net: NeuralNet, **kwargs: Any) -> None:
        if self.monitor not in net.history[-1]:
            raise KeyError(
                f"PruneTrial monitors {self.monitor!r}, which this fit does not record: give the fit a validation "
                "set (X_val / y_val or validation_fraction) or monitor another history key"
            )
        score = float(net.history[-1, self.monitor])
        if math.isfinite(score):
            improved = score < self.best_ - self.tol if self.lower_is_better else score > self.best_ + self.tol
            if improved or not math.isfinite(self.best_):
                self.best_ = score
        if not math.isfinite(self.best_):
            return  # nothing finite to report yet
        epoch = len(net.history)
        step = int(self.step_offset) + epoch - 1
        value = (float(sum(self.prior_scores)) + self.best_) / (len(self.prior_scores) + 1)
        self.trial.report(value, step)
        self.last_step_ = step
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} (step {step}): {self.monitor} {value:.4f}")

    def __getstate__(self) -> dict:
        # A fitted estimator keeps its callbacks; the trial (and its storage connection) is
        # spent once the fit is over and need not travel with a pickled model.
        state = self.__dict__.copy()
        state["trial"] = None
        return state


def make_pruner(
    pruner: str | optuna.pruners.BasePruner | None, *, max_epochs: int, n_model_seeds: int
) -> optuna.pruners.BasePruner:
    """The Optuna pruner of a study whose trials report as :mod:`imbsk.tuning.pruning` describes.

    - ``'none'`` / None: :class:`optuna.pruners.NopPruner` (every trial runs to its end).
    - ``'median'``: :class:`optuna.pruners.MedianPruner` stops a trial whose value at a
      step is below the median of the earlier trials' values at that step, once
      ``PRUNER_STARTUP_TRIALS`` trials are complete, and not during the first
      ``w = max(1, E // 5)`` epochs of the first seed (the first epochs of a
      warm-up and cosine schedule rank configurations poorly).
    - ``'hyperband'``: :class:`optuna.pruners.HyperbandPruner` (Li et al. 2018) with
      resources ``w`` to ``S * E`` steps and reduction factor 3.
    - an Optuna pruner: used as given.

    ``E`` is ``max_epochs``, ``S`` is ``n_model_seeds``.
    """
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner not in PRUNER_NAMES:
        raise ValueError(f"pruner must be one of {list(PRUNER_NAMES)} or an optuna.pruners.BasePruner; got {pruner!r}")
    warmup = max(1, int(max_epochs) // 5)
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=warmup)
    return optuna.pruners.HyperbandPruner(
        min_resource=warmup, max_resource=max(warmup, int(n_model_seeds) * int(max_epochs)), reduction_factor=3
    )
