"""Batching by index, the learning-rate schedule, EMA, the validation callbacks and the training step."""

import math

import numpy as np
import pytest
import torch
from skorch.history import History
from torch import nn

from imbsk.techniques.ema import update_ema
from imbsk.techniques.losses import SmoothedCrossEntropy
from imbsk.techniques.sam import AsymmetricSAM
from imbsk.training.batching import TensorBatchIterator, TensorData, WeightedBatch
from imbsk.training.callbacks import EarlyStoppingBest, ValidationBalancedAccuracy, warmup_cosine_factor
from imbsk.training.net import BatchTargets, ImbalanceNet


def test_batches_cover_every_row_once_per_epoch():
    data = TensorData({"a": np.arange(10.0)[:, None], "b": np.arange(10)[:, None]}, np.arange(10))
    iterator = TensorBatchIterator(data, 4, shuffle=True, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([y for _, y in iterator])
    assert sorted(seen.tolist()) == list(range(10))
    assert seen.tolist() != list(range(10))
    for X, y in iterator:
        torch.testing.assert_close(X["a"][:, 0].long(), y)  # rows stay aligned across tensors
        assert X["a"].dtype == torch.float32
    assert len(iterator) == 3


def test_labels_of_any_integer_dtype_become_int64():
    # Losses index with the labels and cross_entropy needs int64: int32 / uint8 labels must be converted.
    for dtype in (np.int32, np.uint8):
        data = TensorData(np.zeros((3, 2)), np.array([0, 2, 1], dtype=dtype))
        assert data.y.dtype == torch.int64
        assert data.take(slice(0, 2))[1].dtype == torch.int64


def test_singleton_last_batch_is_merged():
    data = TensorData(np.zeros((9, 2)), np.zeros(9))
    sizes = [len(y) for _, y in TensorBatchIterator(data, 4, merge_singleton=True)]
    assert sizes == [4, 5]
    assert [len(y) for _, y in TensorBatchIterator(data, 4)] == [4, 4, 1]


def test_sequential_iteration_for_prediction():
    data = TensorData(np.arange(7.0)[:, None])
    out = torch.cat([X for X, _ in TensorBatchIterator(data, 3)])
    torch.testing.assert_close(out[:, 0], torch.arange(7.0))


def test_resampling_draws_classes_evenly():
    y = np.array([0] * 90 + [1] * 10)
    probabilities = np.where(y == 0, 1 / 180, 1 / 20)
    data = TensorData(np.zeros((100, 1)), y)
    iterator = TensorBatchIterator(
        data, 50, sample_probabilities=probabilities, generator=torch.Generator().manual_seed(0)
    )
    drawn = torch.cat([torch.cat([yb for _, yb in iterator]) for _ in range(40)])
    assert drawn.float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_warmup_cosine_factor():
    assert warmup_cosine_factor(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine_factor(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine_factor(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine_factor(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine_factor(100, 100, 10) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine_factor(30, 100, 0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.3)))
    # annealed to 0, it stays there: the cosine does not climb back past the last step
    assert warmup_cosine_factor(150, 100, 10) == pytest.approx(0.0, abs=1e-12)


class _ScoredNet:
    """The parts of ImbalanceNet that EarlyStoppingBest reads: a history, the predicting module, the callbacks."""

    def __init__(self) -> None:
        self.history = History()
        self.prediction_module = nn.Linear(1, 1, bias=False)
        self.callbacks_ = []
        self.verbose = 0


def _run_early_stopping(stopper: EarlyStoppingBest, scores: list[float]) -> tuple[_ScoredNet, int]:
    """Feed ``scores`` epoch by epoch (weights = epoch number); return the net and the epochs run before a stop."""
    net = _ScoredNet()
    stopper.initialize()
    for epoch, score in enumerate(scores, start=1):
        net.history.new_epoch()
        stopper.on_epoch_begin(net)
        with torch.no_grad():
            net.prediction_module.weight.fill_(epoch)
        net.history.record("score", score)
        try:
            stopper.on_epoch_end(net)
        except KeyboardInterrupt:
            break
    stopper.on_train_end(net)
    return net, len(net.history)


def test_early_stopping_counts_only_improvements_beyond_tol():
    # lower is better: 0.99995 is within tol=1e-4 of 1.0, so epoch 1 stays the best and patience 2 stops at 3
    stopper = EarlyStoppingBest("score", lower_is_better=True, patience=2, tol=1e-4)
    net, ran = _run_early_stopping(stopper, [1.0, 0.99995, 0.99992, 0.5])
    assert ran == 3 and net.prediction_module.weight.item() == 1.0
    assert list(net.history[:, "event_best"]) == [True, False, False]
    # higher is better with tol=0: a tie is no improvement, the earlier epoch is kept
    stopper = EarlyStoppingBest("score", lower_is_better=False, patience=3, tol=0.0)
    net, ran = _run_early_stopping(stopper, [0.5, 0.7, 0.7, 0.6, 0.7])
    assert ran == 5 and net.prediction_module.weight.item() == 2.0


def test_early_stopping_does_not_stop_before_the_restart_epoch():
    # Deferred re-weighting starts at epoch index 4: stale epochs before it never stop the fit, and the search
    # starts afresh there (epoch 5, the first re-weighted one, is kept though its score is worse).
    stopper = EarlyStoppingBest("score", lower_is_better=True, patience=1, tol=0.0, restart_epoch=4)
    net, ran = _run_early_stopping(stopper, [0.1, 0.2, 0.3, 0.4, 0.9, 0.95, 0.99])
    assert ran == 6 and net.prediction_module.weight.item() == 5.0


class _HistoryOnly:
    def __init__(self) -> None:
        self.history = History()
        self.history.new_epoch()


def _validation_scores(n_classes, y_true, logits, weights=None, batch_size=4):
    """Run ValidationBalancedAccuracy over one epoch of batches; (scores, largest tensor it held)."""
    net, callback = _HistoryOnly(), ValidationBalancedAccuracy(n_classes)
    callback.on_epoch_begin(net)
    held = 0
    for start in range(0, len(y_true), batch_size):
        rows = slice(start, start + batch_size)
        batch = (None, y_true[rows]) if weights is None else WeightedBatch(None, y_true[rows], weights[rows])
        callback.on_batch_end(net, batch=batch, training=False, y_pred=logits[rows])
        held = max([held] + [value.numel() for value in vars(callback).values() if isinstance(value, torch.Tensor)])
    callback.on_epoch_end(net)
    return (net.history[-1, "valid_acc"], net.history[-1, "valid_bacc"]), held


@pytest.mark.parametrize("weighted", [False, True])
def test_validation_scores_match_sklearn_and_hold_per_class_counts_only(weighted):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score

    # 1,000 classes, most absent from the held-out rows (as in a long tail): the scores are sklearn's over the
    # classes present, and the callback keeps two counts per class, not a (K, K) confusion matrix (a zeroed
    # K^2 buffer for every validation batch: 0.3 s an epoch at 1,000 classes, 5 s at 3,000).
    n_classes, generator = 1000, torch.Generator().manual_seed(0)
    y_true = torch.randint(0, 40, (30,), generator=generator)
    logits = torch.randn(30, n_classes, generator=generator)
    logits[torch.arange(0, 30, 2), y_true[::2]] += 10.0  # every other row predicted right
    weights = torch.rand(30, generator=generator) + 0.1 if weighted else None
    (acc, bacc), held = _validation_scores(n_classes, y_true, logits, weights)
    predicted = logits.argmax(dim=1).numpy()
    sample_weight = None if weights is None else weights.numpy()
    assert acc == pytest.approx(accuracy_score(y_true.numpy(), predicted, sample_weight=sample_weight))
    with pytest.warns(UserWarning, match="y_pred contains classes not in y_true"):
        expected = balanced_accuracy_score(y_true.numpy(), predicted, sample_weight=sample_weight)
    assert bacc == pytest.approx(expected)
    assert held <= 2 * n_classes


def test_ema_update_formula_and_warmup():
    live, averaged = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    with torch.no_grad():
        live.weight.fill_(2.0)
        averaged.weight.fill_(0.0)
        live.running_mean.fill_(1.0)
        live.num_batches_tracked.fill_(5)
    update_ema(averaged, live, decay=0.999, n_updates=0)  # effective decay (1 + 0) / (10 + 0) = 0.1
    torch.testing.assert_close(averaged.weight, torch.full((2,), 1.8))
    torch.testing.assert_close(averaged.running_mean, torch.full((2,), 0.9))
    assert int(averaged.num_batches_tracked) == 5
    update_ema(averaged, live, decay=0.5, n_updates=1000)  # the target decay caps the warm-up
    torch.testing.assert_close(averaged.weight, torch.full((2,), 1.9))


def test_ema_decay_matters_only_once_the_warmup_reaches_it():
    # (1 + t) / (10 + t) reaches 0.999 at t = (10 * 0.999 - 1) / (1 - 0.999) = 8990 (the estimators' docstrings).
    def averaged_after(decay, n_updates):
        live, averaged = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            live.weight.fill_(1.0)
            averaged.weight.fill_(0.0)
        update_ema(averaged, live, decay=decay, n_updates=n_updates)
        return averaged.weight.item()

    assert averaged_after(0.999, 8989) == averaged_after(0.9997, 8989) == pytest.approx(9 / 8999)
    assert averaged_after(0.999, 8991) == pytest.approx(0.001)
    assert averaged_after(0.9997, 8991) == pytest.approx(9 / 9001)


class _TinyNet(nn.Module):
    """Backbone with a BatchNorm, a head and a projector, the interface the training step needs."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh())
        self.head = nn.Linear(8, 3)
        self.projector = nn.Linear(8, 5)

    def forward(self, x, return_features=False):
        features = self.body(x)
        logits = self.head(features)
        return (logits, features) if return_features else logits

    def project(self, features):
        return self.projector(features)


def _tiny_net(view_transform, sam=None, class_weights=None):
    torch.manual_seed(0)
    net = ImbalanceNet(
        _TinyNet(),
        criterion=SmoothedCrossEntropy,
        criterion__eps_per_class=torch.tensor([0.1, 0.2, 0.4]),
        optimizer=torch.optim.SGD,
        lr=0.0,
        max_epochs=1,
        batch_size=16,
        train_split=None,
        sam=sam,
        ssl_weight=0.5,
        view_transform=view_transform,
        class_weights=class_weights,
        verbose=0,
    )
    return net.initialize()


def _batch():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(16, 4, generator=generator), torch.tensor([0] * 9 + [1] * 5 + [2] * 2)


def test_sam_passes_see_the_same_ssl_views():
    # SAM's descent pass must evaluate the loss whose ascent direction pass 1 took,
    # so the Joint-SSL views are drawn once per step, not once per pass.
    calls = []

    def view(x):
        calls.append(1)
        return x + torch.randn_like(x)

    net = _tiny_net(view, sam=AsymmetricSAM([0.1, 0.2, 0.4]))
    X, y = _batch()
    ssl_inputs = []

    def record_ssl_batch(module, args):
        if len(args[0]) == 2 * len(X):  # the two stacked views, not the supervised batch
            ssl_inputs.append(args[0].clone())

    net.module_.register_forward_pre_hook(record_ssl_batch)
    net.train_step((X, y))
    assert len(calls) == 2
    assert len(ssl_inputs) == 2 and torch.equal(ssl_inputs[0], ssl_inputs[1])


@pytest.mark.parametrize("sam", [AsymmetricSAM([0.1, 0.2, 0.4]), AsymmetricSAM([0.1] * 3, [1.0, 1.8, 4.5])])
def test_train_loss_under_sam_is_the_objective_at_theta(sam):
    # The recorded train_loss is L(theta) = mean_i w[y_i] l_i + lambda L_SSL, whatever
    # class weights SAM-A puts on its ascent pass (1 - w_c, or n_max / n_c under 'official').
    X, y = _batch()
    shift = torch.linspace(-1.0, 1.0, 4)  # deterministic views, equal in both nets
    weights = np.array([1.0, 2.0, 3.0])
    erm = _tiny_net(lambda x: x + shift, class_weights=weights).train_step((X, y))["loss"]
    with_sam = _tiny_net(lambda x: x + shift, sam=sam, class_weights=weights).train_step((X, y))["loss"]
    torch.testing.assert_close(with_sam, erm, rtol=1e-6, atol=1e-7)


def test_set_training_resets_a_submodule_switched_elsewhere():
    # _set_training skips modules already in the requested mode; a submodule whose mode
    # was changed by other code must still be switched back.
    net = _tiny_net(None)
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())
    net.module_.body[1].eval()
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())
    net._set_training(False)
    assert not any(m.training for m in net.module_.modules())
    net.initialize_module()  # a new module object is checked afresh
    net.module_.eval()
    net._set_training(True)
    assert all(m.training for m in net.module_.modules())


@pytest.mark.parametrize("sam", [None, AsymmetricSAM([0.1, 0.2, 0.4])], ids=["erm", "sam_a"])
def test_sample_weights_multiply_each_rows_loss(sam):
    # A batch (X, y, s) trains on mean_i s_i w[y_i] l_i over its N rows; the recorded train_loss
    # is that loss at theta, under SAM-A too.
    X, y = _batch()
    class_weights = np.array([1.0, 2.0, 3.0])
    s = torch.linspace(0.0, 2.0, len(y))
    reference = _tiny_net(None, class_weights=class_weights)
    reference.module_.train()
    with torch.no_grad():
        per_sample = reference.criterion_(reference.module_(X), y)
    expected = (per_sample * torch.tensor(class_weights, dtype=torch.float32)[y] * s).mean()
    loss = _tiny_net(None, sam=sam, class_weights=class_weights).train_step((X, y, s))["loss"]
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("sam", [None, AsymmetricSAM([0.1, 0.2, 0.4])], ids=["erm", "sam_a"])
def test_unit_sample_weights_give_the_unweighted_gradient(sam):
    X, y = _batch()
    plain, weighted = _tiny_net(None, sam=sam), _tiny_net(None, sam=sam)
    plain.train_step((X, y))
    weighted.train_step((X, y, torch.ones(len(y))))
    for a, b in zip(plain.module_.parameters(), weighted.module_.parameters()):
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            assert torch.equal(a.grad, b.grad)


def test_weighted_batches_carry_the_weights_of_their_rows():
    data = TensorData(np.arange(10.0)[:, None], np.arange(10), sample_weight=np.arange(10.0) / 10)
    for batch in TensorBatchIterator(data, 4, shuffle=True, generator=torch.Generator().manual_seed(0)):
        X, y = batch  # the pair skorch unpacks
        torch.testing.assert_close(batch.sample_weight, X[:, 0] / 10)
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        TensorData(np.zeros((3, 1)), np.zeros(3), sample_weight=np.ones(4))


def test_mixed_labels_each_carry_their_own_class_weight():
    """With CutMix / MixUp and class weights a sample's loss is lam w[y_a] l_a + (1 - lam) w[y_b] l_b.

    That is the class-weighted cross-entropy against the mixed target; the weight used to be
    mixed separately and multiplied into the mixed loss, which also gave y_a's loss y_b's weight.
    """
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 3, generator=generator)
    y_a, y_b = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([2, 2, 0, 1, 0, 1])
    lam = torch.tensor(0.3)
    weights = torch.tensor([1.0, 4.0, 10.0])
    targets = BatchTargets(y_a, y_b, lam)
    label_losses = targets.losses(lambda labels: nn.functional.cross_entropy(logits, labels, reduction="none"))
    mixed_target = lam * nn.functional.one_hot(y_a, 3) + (1 - lam) * nn.functional.one_hot(y_b, 3)
    expected = nn.functional.cross_entropy(logits, mixed_target.float(), weight=weights, reduction="none")
    torch.testing.assert_close(targets.weighted(label_losses, weights), expected)
    # Without weights: the mixed loss; without mixing: w[y] l(y), the same floats as before.
    torch.testing.assert_close(targets.weighted(label_losses, None), lam * label_losses[0] + (1 - lam) * label_losses[1])
    plain = BatchTargets(y_a)
    plain_losses = plain.losses(lambda labels: nn.functional.cross_entropy(logits, labels, reduction="none"))
    assert plain_losses[1] is None
    assert torch.equal(plain.weighted(plain_losses, weights), plain_losses[0] * weights[y_a])


@pytest.mark.parametrize("use_sam", [False, True])
def test_train_step_weights_each_mixed_label_by_its_own_class(use_sam):
    """The logged training loss of a mixed batch with class weights is mean(lam w_a l_a + (1 - lam) w_b l_b)."""
    X, y = _batch()
    y_b = y.flip(0)
    lam = torch.tensor(0.25)
    weights = np.array([1.0, 3.0, 8.0], dtype=np.float32)
    sam = AsymmetricSAM([0.05, 0.1, 0.2], ascent_weights=[1.0, 2.0, 4.0]) if use_sam else None
    net = _tiny_net(None, sam=sam, class_weights=weights)
    net.ssl_weight = 0.0
    net.batch_transform = lambda Xb, yb: (Xb, BatchTargets(yb, y_b, lam))
    with torch.no_grad():
        logits = net.module_(X)
    criterion = net.criterion_
    w = torch.as_tensor(weights)
    expected = (lam * w[y] * criterion(logits, y) + (1 - lam) * w[y_b] * criterion(logits, y_b)).mean()
    step = net.train_step((X, y))
    torch.testing.assert_close(step["loss"], expected)


@pytest.mark.parametrize(
    "sam",
    [
        AsymmetricSAM([0.05, 0.1, 0.2]),
        AsymmetricSAM([0.05, 0.1, 0.2], step="faithful"),
        AsymmetricSAM([0.1] * 3, ascent_weights=[1.0, 2.0, 5.0]),
        AsymmetricSAM([0.05, 0.1, 0.2], ascent_weights=[1.0, 2.0, 5.0]),
    ],
    ids=["fast", "faithful", "official", "fast_ascent_weights"],
)
def test_sam_a_splits_each_mixed_label_into_its_own_class_share(sam):
    """SAM-A on a mixed batch: a row's ``lam`` part is class ``y_a``'s loss, its ``1 - lam`` part class ``y_b``'s.

    With ``L_c = mean_i s_i (lam w[y_a] l(y_a) 1[y_a = c] + (1 - lam) w[y_b] l(y_b) 1[y_b = c])`` (smoothed with each
    label's own ``eps``), the step's gradient is the module docstring's ``G`` built from these ``L_c``, computed
    here by hand in float64 with :func:`torch.func.functional_call`.
    """
    from torch.func import functional_call

    X, y = _batch()
    y_b = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))]
    lam, s = 0.37, torch.linspace(0.2, 2.0, len(y))
    class_weights = np.array([1.0, 3.0, 8.0])
    net = _tiny_net(None, sam=sam, class_weights=class_weights)
    net.ssl_weight = 0.0
    net.batch_transform = lambda Xb, yb: (Xb, BatchTargets(yb, y_b, torch.tensor(lam)))
    module = _TinyNet().double()
    module.load_state_dict(net.module_.state_dict())
    criterion = SmoothedCrossEntropy(net.criterion_.eps_per_class).double()
    w = torch.as_tensor(class_weights)

    def class_gradient(params, class_factors):
        # gradient of sum_c class_factors[c] * L_c at params
        logits = functional_call(module, params, (X.double(),))
        parts = lam * (w * class_factors)[y] * criterion(logits, y)
        parts = parts + (1 - lam) * (w * class_factors)[y_b] * criterion(logits, y_b)
        grads = torch.autograd.grad((parts * s.double()).mean(), list(params.values()))
        return dict(zip(params, grads))

    radii, ascent = torch.as_tensor(sam.class_radii), torch.as_tensor(sam.ascent_weights)
    if sam.uniform:
        radius, direction, kept, perturbed = radii[0], ascent, None, torch.ones(3, dtype=torch.float64)
    else:
        radius = 2 * radii.max() if sam.step == "fast" else radii.max()
        share = radii / radius
        direction = (1 - share) * ascent if sam.step == "fast" else ascent
        kept, perturbed = 1 - share, share
    theta = {
        name: p.detach().clone().requires_grad_(True)
        for name, p in module.named_parameters()
        if not name.startswith("projector")  # unused without Joint-SSL
    }
    ascent_gradient = class_gradient(theta, direction)
    norm = torch.sqrt(sum((g**2).sum() for g in ascent_gradient.values()))
    moved = {name: (p + radius * g / norm).detach().requires_grad_(True) for (name, p), g in
             zip(theta.items(), ascent_gradient.values())}
    expected = class_gradient(moved, perturbed)
    if kept is not None:
        expected = {name: g + class_gradient(theta, kept)[name] for name, g in expected.items()}

    net.train_step((X, y, s))
    for name, p in net.module_.named_parameters():
        if name in expected:
            torch.testing.assert_close(p.grad.double(), expected[name], rtol=2e-5, atol=1e-6)
        else:
            assert p.grad is None


class _Terminal:
    """A stdout that says it is a terminal and keeps what is printed."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def _verbose_fit_output() -> None:
    from imbsk import ImbalancedMLPClassifier

    X = np.random.default_rng(0).normal(size=(120, 3))
    y = (X[:, 0] > 0.3).astype(int)
    ImbalancedMLPClassifier(max_iter=2, verbose=1, random_state=0, hidden_layer_sizes=(8,), device="cpu").fit(X, y)


def test_epoch_table_colours_only_a_terminal(monkeypatch, capsys):
    _verbose_fit_output()
    piped = capsys.readouterr().out
    assert "valid_loss" in piped and "\x1b[" not in piped
    terminal = _Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    _verbose_fit_output()
    assert "\x1b[" in terminal.text  # each column's best value, as skorch marks it
    monkeypatch.setenv("NO_COLOR", "1")
    terminal.text = ""
    _verbose_fit_output()
    assert "valid_loss" in terminal.text and "\x1b[" not in terminal.text


def test_class_weights_reassigned_twice_between_steps_are_not_served_stale():
    # The device copy was keyed on id(): an array freed by one reassignment could pass its id to the next one.
    net = _tiny_net(None, class_weights=np.array([1.0, 1.0, 1.0]))
    for step in range(50):
        np.testing.assert_array_equal(net._device_class_weights(torch.device("cpu")).numpy(), net.class_weights)
        value = 2.0 * step + 2.0
        net.class_weights = np.array([value, value, value])  # CPython tends to reuse the freed array's address
        net.class_weights = np.array([value + 1, value + 1, value + 1])
