"""skorch callbacks used by the imbsk training loop."""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback, PrintLog

from imbsk.techniques.class_weights import drw_weights
from imbsk.techniques.label_smoothing import predicted_probabilities
from imbsk.training.batching import batch_sample_weight


def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Learning-rate multiplier: linear warm-up, then cosine annealing to 0.

    ``f(t) = (t + 1) / W`` for ``t < W``, else
    ``f(t) = 0.5 * (1 + cos(pi * (t - W) / (T - W)))`` (Loshchilov & Hutter 2017;
    Goyal et al. 2017 for the warm-up), with ``T`` total and ``W`` warm-up steps.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class WarmupCosineLR(Callback):
    """Set every parameter group's learning rate before each training batch.

    Parameters
    ----------
    total_steps : int
        Optimiser steps of the whole run (epochs x batches per epoch).
    warmup_steps : int
        Steps of linear warm-up.
    """

    def __init__(self, total_steps: int, warmup_steps: int) -> None:
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps

    def initialize(self) -> "WarmupCosineLR":
        self.step_ = 0
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs) -> None:
        if not training:
            return
        factor = warmup_cosine_factor(self.step_, self.total_steps, self.warmup_steps)
        for group in net.optimizer_.param_groups:
            group["lr"] = net.lr * factor
        self.step_ += 1


class ValidationBalancedAccuracy(Callback):
    """Record ``valid_acc`` and ``valid_bacc`` (balanced accuracy) each epoch.

    Each class's support and correct predictions (``2 K`` counts) are accumulated on the
    device with ``bincount``; one host synchronisation per epoch. Both scores need no more
    than these, the diagonal and the row sums of the confusion matrix: the ``(K, K)`` matrix
    itself cost a zeroed ``K^2`` buffer per validation batch (0.3 s an epoch at 1,000
    classes, 5 s at 3,000, for 5,000 held-out rows). When the validation batches carry
    sample weights (:func:`~imbsk.training.batching.batch_sample_weight`) the counts sum the
    rows' weights, as sklearn's ``accuracy_score`` / ``balanced_accuracy_score`` with
    ``sample_weight``.

    ``proba_transform``, when given, maps the softmax of the network's outputs to the
    probabilities that predict (e.g. :func:`~imbsk.techniques.label_smoothing.unsmoothed_probabilities`),
    so the scores are those of the estimator's ``predict``; None predicts the argmax of the outputs.
    """

    def __init__(self, n_classes: int, proba_transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.n_classes = n_classes
        self.proba_transform = proba_transform

    def on_epoch_begin(self, net, **kwargs) -> None:
        self.counts_ = None

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs) -> None:
        if training or y_pred is None:
            return
        y_true = batch[1]
        if self.proba_transform is None:
            predicted = y_pred.argmax(dim=1)
        else:
            predicted = predicted_probabilities(y_pred, self.proba_transform).argmax(dim=1)
        hit = predicted == y_true
        weights = batch_sample_weight(batch)
        if weights is not None:
            counts = _weighted_class_counts(y_true, hit, weights, self.n_classes)
        else:
            # (class, hit) pairs: an integer bincount, exact and deterministic on every device.
            counts = torch.bincount(y_true * 2 + hit.long(), minlength=2 * self.n_classes)
        self.counts_ = counts if self.counts_ is None else self.counts_ + counts

    def on_epoch_end(self, net, **kwargs) -> None:
        if self.counts_ is None:
            return
        counts = self.counts_.view(self.n_classes, 2).cpu().numpy()
        correct = counts[:, 1]
        support = counts.sum(axis=1)
        present = support > 0
        recall = correct[present] / support[present]
        net.history.record("valid_acc", float(correct.sum() / support.sum()))
        net.history.record("valid_bacc", float(recall.mean()))
        self.counts_ = None


def _weighted_class_counts(
    y_true: torch.Tensor, hit: torch.Tensor, weights: torch.Tensor, n_classes: int
) -> torch.Tensor:
    """Flattened ``(K, 2)`` float64 counts: per class, the weights of its missed and of its hit rows.

    A one-hot product rather than ``bincount(weights=)`` / ``index_add_``, whose float
    atomics on a GPU add in a varying order (and refuse deterministic mode).
    """
    weights = weights.double()
    hit_weights = weights * hit.double()
    per_row = torch.stack([weights - hit_weights, hit_weights], dim=1)  # (N, 2)
    true_onehot = torch.nn.functional.one_hot(y_true, n_classes).double()
    return (true_onehot.T @ per_row).reshape(-1)


class FiniteLossGuard(Callback):
    """Stop training with an error naming the epoch when the training loss is not finite."""

    def on_epoch_end(self, net, **kwargs) -> None:
        loss = net.history[-1, "train_loss"]
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"The training loss became {loss} in epoch {len(net.history)}; the model diverged. "
                + divergence_hint(net)
            )


def divergence_hint(net: Any) -> str:
    """What to change when the fit of ``net`` diverged: the parameters that can make a step too large in it."""
    # The Joint-SSL term (VICReg, about 25 at the start) diverges at the default learning rate with
    # batches of a few rows.
    causes = ["learning_rate_init"]
    if getattr(net, "sam", None) is not None:
        causes.append("sam_asymmetric_rho")
    if getattr(net, "ssl_weight", 0) > 0:
        causes.append("joint_ssl_weight (or raise batch_size)")
    return f"Lower {' or '.join(causes)}, or check the input for extreme values."


def check_finite_model(net: Any, data: Any) -> None:
    """Raise ``FloatingPointError`` when the trained ``net`` (after ``finalize``) is not finite.

    :class:`FiniteLossGuard` sees a diverged step only in the next epoch's training loss: the
    steps of the last epoch can leave weights behind a finite loss that are NaN, or so large
    that the logits overflow, and the fit would return a model whose probabilities are all NaN.
    Checked: every weight, and the logits of the first batch of ``data`` (a ``TensorData``).
    """
    for name, value in net.module_.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise FloatingPointError(
                f"The trained weights are not finite ({name} holds NaN or infinity): the model diverged in the "
                f"last epoch of training. {divergence_hint(net)}"
            )
    batch = data.take(slice(0, max(1, net.batch_size)))[0]
    with torch.inference_mode():
        logits = net.infer(batch)
    logits = logits[0] if isinstance(logits, tuple) else logits
    if not bool(torch.isfinite(logits).all()):
        raise FloatingPointError(
            "The trained model's outputs are not finite (its weights overflow): the model diverged in the last "
            f"epoch of training. {divergence_hint(net)}"
        )


class EarlyStoppingBest(Callback):
    """Stop when the monitored validation score has not improved for ``patience`` epochs,
    then restore the weights of the best epoch.

    The weights kept are those of the module that predicts (the EMA copy when
    weight averaging is on). They are kept on the CPU and dropped after
    training so that a pickled model holds no device tensors here.

    Parameters
    ----------
    monitor : str
        History key, e.g. ``'valid_loss'`` or ``'valid_bacc'``.
    lower_is_better : bool
    patience : int
        ``n_iter_no_change`` of the estimator.
    tol : float
        Minimum improvement that counts.
    restart_epoch : int or None, default=None
        0-based epoch at which the search starts afresh (the best score, the
        patience and the kept weights are forgotten): the first epoch of deferred
        re-weighting, whose loss is not comparable with the plain loss before
        it. Without the restart the unweighted validation loss, which the switch
        raises, would keep a pre-switch epoch and train a plain ERM model. No
        stop happens before it, so the re-weighted phase always runs.
    """

    def __init__(
        self, monitor: str, lower_is_better: bool, patience: int, tol: float, restart_epoch: int | None = None
    ) -> None:
        self.monitor = monitor
        self.lower_is_better = lower_is_better
        self.patience = patience
        self.tol = tol
        self.restart_epoch = restart_epoch

    def initialize(self) -> "EarlyStoppingBest":
        self.best_score_ = math.inf if self.lower_is_better else -math.inf
        self.best_epoch_ = 0
        self.best_state_ = None
        self.stale_epochs_ = 0
        return self

    def on_epoch_begin(self, net, **kwargs) -> None:
        if self.restart_epoch is not None and len(net.history) - 1 == self.restart_epoch:
            self.initialize()

    def _improved(self, score: float) -> bool:
        if self.lower_is_better:
            return score < self.best_score_ - self.tol
        return score > self.best_score_ + self.tol

    def on_epoch_end(self, net, **kwargs) -> None:
        score = net.history[-1, self.monitor]
        if math.isfinite(score) and self._improved(score):
            self.best_score_ = score
            self.best_epoch_ = len(net.history)
            self.stale_epochs_ = 0
            self.best_state_ = {
                key: value.detach().to("cpu", copy=True) for key, value in net.prediction_module.state_dict().items()
            }
            net.history.record("event_best", True)
            return
        net.history.record("event_best", False)
        self.stale_epochs_ += 1
        before_restart = self.restart_epoch is not None and len(net.history) - 1 < self.restart_epoch
        if self.stale_epochs_ >= self.patience and not before_restart:
            # skorch runs its epoch table after every other callback, so the interruption below would
            # leave this last epoch out of it; print its row first.
            table = dict(net.callbacks_).get("print_log")
            if table is not None:
                table.on_epoch_end(net)
            if net.verbose:
                print(f"Stopping early: no improvement of {self.monitor} for {self.patience} epochs; "
                      f"restoring the weights of epoch {self.best_epoch_}.")
            raise KeyboardInterrupt

    def on_train_end(self, net, **kwargs) -> None:
        if self.best_state_ is not None:
            net.prediction_module.load_state_dict(self.best_state_)
        self.best_state_ = None


class DeferredReweighting(Callback):
    """Deferred re-weighting (DRW, Cao et al. 2019): plain loss until ``start_epoch``, then class weights.

    Parameters
    ----------
    weights : ndarray of shape (n_classes,)
        The class weights switched on at ``start_epoch`` (0-based).
    start_epoch : int
    """

    def __init__(self, weights: np.ndarray, start_epoch: int) -> None:
        self.weights = weights
        self.start_epoch = start_epoch

    def on_epoch_begin(self, net, **kwargs) -> None:
        epoch = len(net.history) - 1  # skorch appends the new epoch's row before this call
        net.class_weights = drw_weights(epoch, self.start_epoch, self.weights)


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class EpochTable(PrintLog):
    """skorch's per-epoch table, with its colour codes (each column's best value so far) only on a terminal.

    Printed to a file or a pipe (a log, a notebook's captured output, ``imbsk evaluate > run.log``) the
    escape codes are noise around every best value, so they are left out; ``NO_COLOR`` (no-color.org)
    leaves them out on a terminal too. The ``best`` column marks each epoch that improved the
    early-stopping score either way.
    """

    def format_row(self, row: dict[str, Any], key: str, color: str) -> Any:
        text = super().format_row(row, key, color)
        if isinstance(text, str) and not _colours_wanted():
            return _ANSI_ESCAPE.sub("", text)
        return text


def _colours_wanted() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return not os.environ.get("NO_COLOR") and callable(isatty) and bool(isatty())
