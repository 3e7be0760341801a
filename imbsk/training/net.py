"""The skorch net behind every imbsk estimator: one training step for tabular and vision.

:class:`ImbalanceNet` subclasses :class:`skorch.NeuralNet` and overrides only
what the paper's algorithm needs:

* ``train_step``: ERM or SAM-A (:mod:`imbsk.techniques.sam`), the Joint-SSL
  term (:mod:`imbsk.techniques.vicreg`) on two augmented views, per-class loss
  weights (re-weighting, DRW), per-sample loss weights (``sample_weight``), an
  optional batch transform (image augmentation, CutMix/MixUp) and the EMA
  update (:mod:`imbsk.techniques.ema`);
* ``get_loss`` / ``validation_step``: the validation loss is the plain
  cross-entropy of the predicting (EMA) weights, whatever the training loss
  (weighted by the held-out rows' sample weights when they have some);
* ``get_dataset`` / ``get_iterator``: tensors on the device batched by index
  (:mod:`imbsk.training.batching`) instead of a per-item ``DataLoader``;
* every forward pass (training, validation, prediction) optionally runs under
  ``torch.autocast`` (bfloat16 mixed precision): matrix products and
  convolutions in bfloat16, weights, optimiser state, gradients and losses in
  float32, the logits returned as float32.

The criterion returns one loss per sample, ``criterion(logits, y) -> (N,)``; a
network that returns its ensemble members' logits ``(N, k, C)`` in training
(:mod:`imbsk.models.ensemble`) is trained on the mean of the members' losses.
A training batch is ``(X, y)`` or, with sample weights ``s``, a :class:`~imbsk.training.batching.WeightedBatch`
(``(X, y)`` carrying ``s``; a plain ``(X, y, s)`` is taken too); the
supervised loss of a step is ``mean_i s_i * w[y_i] * l_i`` over the batch's
``N`` rows (``s_i = 1`` without sample weights, ``w`` the class weights).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from skorch import NeuralNet
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator
from torch import Tensor, nn

from imbsk.models.ensemble import mean_member_log_proba
from imbsk.techniques.ema import update_ema
from imbsk.techniques.label_smoothing import predicted_probabilities
from imbsk.techniques.sam import AsymmetricSAM
from imbsk.techniques.vicreg import vicreg_loss
from imbsk.training.batching import TensorBatchIterator, TensorData, batch_sample_weight
from imbsk.training.callbacks import EpochTable


#: The fit's own callbacks that record and print an epoch, run after the user's: they still see an epoch at
#: whose end a user's callback stopped the fit.
_EPOCH_BOOKKEEPING = frozenset({"early_stopping", "print_log"})

#: Constructor arguments of ImbalanceNet that are the fitted objects themselves (see __getstate__).
_FITTED_ALIASES = ("module", "criterion")


class _FittedAlias:
    """In a pickled ImbalanceNet: this attribute is the fitted attribute ``target`` (e.g. ``module_``)."""

    def __init__(self, target: str) -> None:
        self.target = target


class BatchTargets:
    """Labels of a training batch after an optional mixing transform.

    A sample's loss is ``lam * l(y_a) + (1 - lam) * l(y_b)`` (CutMix / MixUp)
    and, with class weights, ``lam * w[y_a] * l(y_a) + (1 - lam) * w[y_b] * l(y_b)``:
    each label's loss carries its own class's weight, as a class-weighted
    cross-entropy against the mixed target ``lam * e_{y_a} + (1 - lam) * e_{y_b}``
    does. Without mixing ``y_b`` is None and ``lam`` is 1.
    """

    __slots__ = ("y_a", "y_b", "lam")

    def __init__(self, y_a: Tensor, y_b: Tensor | None = None, lam: Tensor | None = None) -> None:
        self.y_a, self.y_b, self.lam = y_a, y_b, lam

    def weighted(self, label_losses: tuple[Tensor, Tensor | None], weights: Tensor | None) -> Tensor:
        """``lam * w[y_a] * l_a + (1 - lam) * w[y_b] * l_b`` from the per-label losses of :meth:`losses`."""
        loss_a, loss_b = label_losses
        if weights is not None:
            loss_a = loss_a * weights[self.y_a]
        if self.y_b is None:
            return loss_a
        if weights is not None:
            loss_b = loss_b * weights[self.y_b]
        return self.lam * loss_a + (1.0 - self.lam) * loss_b

    def mean_loss(
        self, label_losses: tuple[Tensor, Tensor | None], weights: Tensor | None, sample_weight: Tensor | None
    ) -> Tensor:
        """The batch loss ``mean_i s_i * (lam w[y_a] l_a + (1 - lam) w[y_b] l_b)_i`` (``s`` None: all 1)."""
        losses = self.weighted(label_losses, weights)
        if sample_weight is not None:
            losses = losses * sample_weight
        return losses.mean()

    def losses(self, fn: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor | None]:
        """``(fn(y_a), fn(y_b))``, the second None without mixing."""
        return fn(self.y_a), (None if self.y_b is None else fn(self.y_b))


class ImbalanceNet(ClassifierMixin, NeuralNet):
    """skorch net with the paper's training step.

    It predicts as the estimator does, with the encoded labels ``0 .. K-1`` (positions in
    the estimator's ``classes_``) for classes: :meth:`predict_proba` and :meth:`predict`
    are what skorch's scoring callbacks (``EpochScoring``, ``BatchScoring``) and their
    scikit-learn scorers call.

    Parameters (beyond :class:`skorch.NeuralNet`'s)
    -------------------------------------------------
    sam : AsymmetricSAM or None
        SAM-A gradient computation; None for ERM.
    ssl_weight : float
        Weight ``lambda`` of the VICReg loss; 0 disables Joint-SSL.
    view_transform : callable or None
        ``view_transform(X_batch) -> X_view``: one random augmentation of a batch
        (same structure as the input); called twice per step for Joint-SSL, on the
        batch as loaded (before ``batch_transform``).
    batch_transform : callable or None
        ``batch_transform(X_batch, y_batch) -> (X_batch, BatchTargets)``, applied
        to training batches before the forward pass (image augmentation and mixing).
    ema_decay : float or None
        Decay of the weight EMA; None or 0 disables it.
    class_weights : ndarray of shape (n_classes,) or None
        Per-class loss weights (re-weighting); may be replaced between epochs (DRW).
    iterator_seed : int
        Seed of the shuffling generator.
    sample_probabilities : ndarray or None
        Per-sample drawing probabilities for class-balanced resampling.
    autocast_dtype : torch.dtype or None
        Run forward passes under ``torch.autocast`` with this dtype (e.g.
        ``torch.bfloat16``); None runs them in float32.
    n_classes : int or None
        Number of classes ``K``; ``classes_`` is ``0 .. K-1``.
    proba_transform : callable or None
        Map from the softmax of the outputs to the probabilities that predict (the
        smoothing inversion); None: the softmax.
    """

    def __init__(
        self,
        module,
        *args,
        sam: AsymmetricSAM | None = None,
        ssl_weight: float = 0.0,
        view_transform: Callable | None = None,
        batch_transform: Callable | None = None,
        ema_decay: float | None = None,
        class_weights: np.ndarray | None = None,
        iterator_seed: int = 0,
        sample_probabilities: np.ndarray | None = None,
        autocast_dtype: torch.dtype | None = None,
        n_classes: int | None = None,
        proba_transform: Callable[[Tensor], Tensor] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(module, *args, **kwargs)
        self.sam = sam
        self.ssl_weight = ssl_weight
        self.view_transform = view_transform
        self.batch_transform = batch_transform
        self.ema_decay = ema_decay
        self.class_weights = class_weights
        self.iterator_seed = iterator_seed
        self.sample_probabilities = sample_probabilities
        self.autocast_dtype = autocast_dtype
        self.n_classes = n_classes
        self.proba_transform = proba_transform

    # -- initialisation -------------------------------------------------------------

    @property
    def _default_callbacks(self) -> list[tuple[str, Any]]:
        # skorch's defaults, with an epoch table that leaves its colour codes out of logs and pipes.
        return [
            (name, EpochTable() if name == "print_log" else callback) for name, callback in super()._default_callbacks
        ]

    def initialize_module(self):
        super().initialize_module()
        if self.ema_decay:
            averaged = copy.deepcopy(self.module_)
            for parameter in averaged.parameters():
                parameter.requires_grad_(False)
            self.ema_module_ = averaged
        self.ema_updates_ = 0
        return self

    def initialize(self):
        super().initialize()
        self.shuffle_generator_ = torch.Generator().manual_seed(int(self.iterator_seed))
        self._class_weight_cache: tuple[Any, Tensor] | None = None
        self._mode_trees = {}
        return self

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_class_weight_cache", None)
        state.pop("_mode_trees", None)
        state.pop("_user_interruption", None)  # set only during a fit (a checkpoint pickles the net then)
        for name in _FITTED_ALIASES:
            # The module and loss were handed over as instances, so `module` IS `module_`. skorch saves `module_`
            # with torch (and loads it onto the CPU where there is no GPU); a plain-pickled second reference would
            # carry the GPU tensors past that, fail to load on a CPU-only machine, and double the pickle's size.
            if name + "_" in self.__dict__ and self.__dict__.get(name) is self.__dict__[name + "_"]:
                state[name] = _FittedAlias(name + "_")
        return state

    def __setstate__(self, state):
        # A net pickled before one of imbsk's parameters existed (n_classes, proba_transform, autocast_dtype, ...)
        # trained and predicts as one given the parameter's default (None, 0: the feature off).
        for name, parameter in _OWN_PARAMETERS.items():
            state.setdefault(name, parameter.default)
        super().__setstate__(state)
        for name in _FITTED_ALIASES:
            alias = self.__dict__.get(name)
            if isinstance(alias, _FittedAlias):
                self.__dict__[name] = self.__dict__.get(alias.target)

    def _set_training(self, training=True):
        """skorch's mode switch, skipping modules already wholly in the requested mode.

        ``nn.Module.train`` walks and re-sets every submodule; skorch calls it before
        every training batch, although the mode only changes around validation. The
        check reads ``training`` of every submodule (a list flattened once per module
        object), so a mode changed by anything else is still switched back.
        """
        trees = getattr(self, "_mode_trees", None)
        if trees is None:
            trees = self._mode_trees = {}
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if not isinstance(module, nn.Module):
                continue
            tree = trees.get(name)
            if tree is None or tree[0] is not module:
                tree = trees[name] = (module, list(module.modules()))
            for submodule in tree[1]:
                if submodule.training != training:
                    module.train(training)
                    break

    def notify(self, method_name, **cb_kwargs):
        """skorch's dispatch, except that a callback stopping the fit at the end of an epoch still lets
        imbsk's early stopping and epoch table see that epoch.

        A callback stops a fit by raising ``KeyboardInterrupt`` (skorch's ``EarlyStopping``). The user's
        callbacks run before early stopping and the table, which then missed the last epoch: were it
        the best, an earlier epoch's weights were restored, and its row was never printed.
        """
        try:
            if method_name != "on_epoch_end":
                return super().notify(method_name, **cb_kwargs)
            getattr(self, method_name)(self, **cb_kwargs)
            stop = None
            for name, callback in self.callbacks_:
                if stop is not None and name not in _EPOCH_BOOKKEEPING:
                    continue
                try:
                    callback.on_epoch_end(self, **cb_kwargs)
                except KeyboardInterrupt as interruption:
                    if stop is not None or name in _EPOCH_BOOKKEEPING:
                        # imbsk's early stopping prints the table's row before it stops the fit.
                        raise
                    stop = interruption
            if stop is not None:
                raise stop
            return None
        except KeyboardInterrupt as request:
            # A callback's request to stop, which ends the fit quietly (fit_loop below).
            request.imbsk_callback_stop = True
            raise

    def fit_loop(self, *args, **kwargs):
        """skorch's loop; a KeyboardInterrupt that no callback raised (the user's Ctrl-C) is kept for partial_fit.

        skorch's ``partial_fit`` takes every KeyboardInterrupt out of the loop for a callback stopping the
        fit and returns the net as trained. The user's Ctrl-C, which lands in a training step, then gave
        back a half-trained model as fitted: a tuning trial completed with its score, a script went on.
        """
        try:
            return super().fit_loop(*args, **kwargs)
        except KeyboardInterrupt as interruption:
            if not getattr(interruption, "imbsk_callback_stop", False):
                self._user_interruption = interruption
            raise

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, then the user's KeyboardInterrupt, if one ended the loop, raised again."""
        self._user_interruption = None
        try:
            super().partial_fit(X, y, classes, **fit_params)
            interruption = self._user_interruption
        finally:
            del self._user_interruption
        if interruption is not None:
            raise interruption
        return self

    def get_all_learnable_params(self):
        for name, parameter in self.module_.named_parameters():
            if parameter.requires_grad:
                yield name, parameter

    @property
    def prediction_module(self) -> nn.Module:
        """The weights that predict: the EMA copy when weight averaging is on."""
        return getattr(self, "ema_module_", None) or self.module_

    # -- prediction -------------------------------------------------------------------
    @property
    def classes_(self) -> np.ndarray:
        """The encoded labels ``0 .. K-1`` the net predicts."""
        if self.n_classes is None:
            raise AttributeError(f"{type(self).__name__} has no attribute 'classes_' without n_classes")
        return np.arange(self.n_classes)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of the predicting weights, one column per encoded label, as the estimator's.

        The softmax of the outputs in float64, mapped by ``proba_transform`` when given. Members' logits
        ``(N, k, C)`` (an ensemble's training outputs, cached by a scoring callback with ``on_train=True``)
        are first averaged as the ensemble averages them when it predicts.
        """
        probas = []
        for logits in self.forward_iter(X, training=False):
            logits = logits[0] if isinstance(logits, tuple) else logits
            if logits.ndim == 3:
                logits = mean_member_log_proba(logits)
            probas.append(predicted_probabilities(logits, self.proba_transform).cpu().numpy())
        proba = np.concatenate(probas)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Encoded labels ``0 .. K-1``: the argmax of :meth:`predict_proba`."""
        return self.predict_proba(X).argmax(axis=1)

    # -- data -----------------------------------------------------------------------
    def get_dataset(self, X, y=None):
        if isinstance(X, TensorData):
            return X
        return TensorData(X, y, device=self.device)

    def get_iterator(self, dataset, training=False):
        if training:
            return TensorBatchIterator(
                dataset,
                self.batch_size,
                shuffle=True,
                generator=self.shuffle_generator_,
                sample_probabilities=self.sample_probabilities,
                merge_singleton=True,
            )
        return TensorBatchIterator(dataset, self.batch_size if self.batch_size > 0 else len(dataset))

    # -- forward --------------------------------------------------------------------
    def _call(self, module: nn.Module, X: Any, **kwargs) -> Any:
        return self._autocast(_forward, module, X, **kwargs)

    def _autocast(self, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """``fn(*args, **kwargs)`` under the net's autocast (none without ``autocast_dtype``), outputs in float32."""
        if self.autocast_dtype is None:
            return fn(*args, **kwargs)
        device_type = torch.device(self.device).type
        with torch.autocast(device_type, dtype=self.autocast_dtype):
            out = fn(*args, **kwargs)
        # losses, softmax and the SAM gradient norm stay in float32
        if isinstance(out, tuple):
            return tuple(o.float() for o in out)
        return out.float()

    def infer(self, x, **fit_params):
        module = self.module_ if self.module_.training else self.prediction_module
        return self._call(module, x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False, sample_weight: Tensor | None = None):
        """Mean training loss (per-sample criterion, class and sample weights) or plain validation cross-entropy.

        ``sample_weight`` (one weight per row, normalised by the caller to an expected value of 1
        for a row drawn into a batch) multiplies each row's loss; the mean is still over the batch's rows, so that
        the batch losses averaged by skorch over an epoch give the weighted mean.
        """
        if not training:
            if sample_weight is None:
                return F.cross_entropy(y_pred, y_true)
            return (F.cross_entropy(y_pred, y_true, reduction="none") * sample_weight).mean()
        targets = y_true if isinstance(y_true, BatchTargets) else BatchTargets(y_true)
        label_losses = targets.losses(lambda labels: self._row_losses(y_pred, labels))
        return targets.mean_loss(label_losses, self._device_class_weights(y_pred.device), sample_weight)

    def _row_losses(self, y_pred: Tensor, labels: Tensor) -> Tensor:
        """The criterion's loss of each row; for the members' logits ``(N, k, C)`` of an
        ensemble (:mod:`imbsk.models.ensemble`), the mean of the ``k`` members' losses."""
        if y_pred.ndim == 2:
            return self.criterion_(y_pred, labels)
        n_rows, n_members = y_pred.shape[:2]
        member_losses = self.criterion_(y_pred.flatten(0, 1), labels.repeat_interleave(n_members))
        return member_losses.view(n_rows, n_members).mean(dim=1)

    def validation_step(self, batch, **fit_params):
        """skorch's validation step, passing the held-out rows' sample weights (if any) to the loss."""
        self._set_training(False)
        Xi, yi, wi = unpack_batch(batch)
        with torch.no_grad():
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False, sample_weight=wi)
        return {"loss": loss, "y_pred": y_pred}

    def _device_class_weights(self, device: torch.device) -> Tensor | None:
        if self.class_weights is None:
            return None
        # Keyed on the array object itself (held, so its id cannot pass to a new array): DRW assigns a new one.
        source = self.class_weights
        cached = getattr(self, "_class_weight_cache", None)
        if cached is None or cached[0] is not source or cached[1].device != device:
            cached = (source, torch.as_tensor(np.asarray(source), dtype=torch.float32, device=device))
            self._class_weight_cache = cached
        return cached[1]

    def _ssl_views(self, Xi: Any) -> Any:
        """Two random views of the batch, stacked along the rows (view 1 first)."""
        view_1, view_2 = self.view_transform(Xi), self.view_transform(Xi)
        if isinstance(view_1, Mapping):
            return {key: torch.cat([view_1[key], view_2[key]]) for key in view_1}
        return torch.cat([view_1, view_2])

    def _ssl_loss(self, both: Any) -> Tensor:
        """VICReg loss of the projected features of two views stacked by :meth:`_ssl_views`."""
        _, features = self._call(self.module_, both, return_features=True)
        # The projector is part of the training forward pass: under autocast its matrix products run in
        # bfloat16 as the backbone's do, while the VICReg terms are computed from float32 projections.
        projections = self._autocast(self.module_.project, features.flatten(0, -2))
        # An ensemble's features (2N, k, d) give projections (2N, k, K): the mean of the members' VICReg losses,
        # each on its own rows, as the supervised loss is the mean of theirs.
        z_1, z_2 = projections.view(*features.shape[:-1], -1).chunk(2)
        return vicreg_loss(z_1, z_2)

    # -- the training step ------------------------------------------------------------
    def train_step(self, batch, **fit_params):
        """One optimisation step: ERM or SAM-A, plus Joint-SSL, then the EMA update."""
        self._set_training(True)
        Xi, yi, row_weights = unpack_batch(batch)
        # Joint-SSL views are drawn from the batch as loaded, before augmentation and mixing.
        X_views = Xi
        targets = BatchTargets(yi)
        if self.batch_transform is not None:
            Xi, targets = self.batch_transform(Xi, yi)
        use_ssl = self.ssl_weight > 0 and self.view_transform is not None
        # Drawn once per step (in the first pass, after its supervised forward, the order
        # of random draws of an ERM step): both SAM passes must evaluate the same loss, as
        # the supervised term does with the batch transformed once above.
        ssl_views: list[Any] = []
        record: dict[str, Tensor] = {}
        base_weights = self._device_class_weights(yi.device)

        def objective(weightings: Sequence[tuple[Tensor | None, float]]) -> list[Tensor]:
            # One forward pass; one loss per (SAM class weights, weight of the Joint-SSL term).
            y_pred = self._call(self.module_, Xi, **fit_params)
            label_losses = targets.losses(lambda labels: self._row_losses(y_pred, labels))
            ssl = None
            if use_ssl:
                if not ssl_views:
                    ssl_views.append(self._ssl_views(X_views))
                ssl = self._ssl_loss(ssl_views[0])
            losses = []
            for sam_class_weights, extra_weight in weightings:
                weights = base_weights
                if sam_class_weights is not None:
                    weights = sam_class_weights if weights is None else weights * sam_class_weights
                # Sample weights stay with the batch's rows: a mixed image (CutMix / MixUp) keeps the
                # weight of the sample at its row (the one whose label y_a has weight lam).
                loss = targets.mean_loss(label_losses, weights, row_weights)
                if ssl is not None:
                    loss = loss + extra_weight * self.ssl_weight * ssl
                losses.append(loss)
            if "loss" not in record:
                # The first call is at theta. Under SAM its class weights only shape the
                # ascent direction, so the recorded train_loss is the objective without them.
                logged = losses[0]
                if weightings[0][0] is not None:
                    supervised = targets.mean_loss(label_losses, base_weights, row_weights)
                    logged = supervised + (0.0 if ssl is None else self.ssl_weight * ssl)
                record["loss"], record["y_pred"] = logged.detach(), y_pred.detach()
            return losses

        self._zero_grad_optimizer(set_to_none=True)
        if self.sam is None:
            objective([(None, 1.0)])[0].backward()
        else:
            params = [p for _, p in self.get_all_learnable_params()]
            self.sam.compute_gradients(params, objective, self.module_)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        self._step_optimizer(None)
        ema = getattr(self, "ema_module_", None)
        if ema is not None:
            update_ema(ema, self.module_, self.ema_decay, self.ema_updates_)
            self.ema_updates_ += 1
        return record

    def finalize(self) -> None:
        """After training: predict with the averaged weights and drop training-only state."""
        ema = getattr(self, "ema_module_", None)
        if ema is not None:
            self.module_.load_state_dict(ema.state_dict())
            del self.ema_module_
        self.module_.eval()
        self.view_transform = None
        self.batch_transform = None
        self.sample_probabilities = None
        self.train_split = None
        self._class_weight_cache = None


#: ImbalanceNet's own parameters (those beyond skorch's) and their defaults, for __setstate__.
_OWN_PARAMETERS = {
    name: parameter
    for name, parameter in inspect.signature(ImbalanceNet.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}


def unpack_batch(batch: Any) -> tuple[Any, Any, Tensor | None]:
    """``(X, y, sample_weight)`` of a batch ``(X, y)`` (weight None), a ``WeightedBatch`` or ``(X, y, w)``."""
    weights = batch_sample_weight(batch)
    if weights is not None:
        return batch[0], batch[1], weights
    Xi, yi = unpack_data(batch)
    return Xi, yi, None


def _forward(module: nn.Module, X: Any, **kwargs) -> Any:
    if isinstance(X, Mapping):
        return module(**X, **kwargs)
    return module(X, **kwargs)
