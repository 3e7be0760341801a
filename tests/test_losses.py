import numpy as np
import pytest
import torch
import torch.nn.functional as F

from imbsk.techniques.label_smoothing import smoothed_targets
from imbsk.techniques.losses import (
    LOSS_NAMES,
    FocalLoss,
    LDAMLoss,
    SmoothedCrossEntropy,
    build_loss,
    ldam_margins,
)

K = 4
COUNTS = np.array([400, 100, 25, 5])


@pytest.fixture
def batch():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(32, K, generator=gen) * 3.0
    y = torch.randint(0, K, (32,), generator=gen)
    y[:K] = torch.arange(K)  # every class present
    return logits, y


EPS = torch.tensor([0.0, 0.1, 0.3, 0.6])


def all_losses(eps=None):
    return [
        SmoothedCrossEntropy(eps_per_class=eps),
        FocalLoss(gamma=2.0, eps_per_class=eps),
        FocalLoss(gamma=0.5, eps_per_class=eps),
        LDAMLoss(COUNTS, max_margin=0.5, scale=1.0, eps_per_class=eps),
        LDAMLoss(COUNTS, max_margin=0.5, scale=30.0, eps_per_class=eps),
    ]


# --- smoothed targets -----------------------------------------------------------------------


def test_smoothed_targets_hand_values():
    y = torch.tensor([0, 2, 3])
    q = smoothed_targets(y, K, EPS)
    expected = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.075, 0.075, 1 - 0.3 + 0.075, 0.075],
            [0.15, 0.15, 0.15, 1 - 0.6 + 0.15],
        ]
    )
    torch.testing.assert_close(q, expected)
    torch.testing.assert_close(q.sum(1), torch.ones(3))


def test_smoothed_targets_none_and_zero_are_onehot():
    y = torch.tensor([1, 0, 3, 3])
    onehot = F.one_hot(y, K).float()
    assert torch.equal(smoothed_targets(y, K, None), onehot)
    assert torch.equal(smoothed_targets(y, K, torch.zeros(K)), onehot)


# --- cross-entropy --------------------------------------------------------------------------


def test_ce_without_smoothing_equals_torch_exactly(batch):
    logits, y = batch
    ref = F.cross_entropy(logits, y, reduction="none")
    assert torch.equal(SmoothedCrossEntropy()(logits, y), ref)
    assert torch.equal(SmoothedCrossEntropy(torch.zeros(K))(logits, y), ref)


def test_ce_constant_eps_equals_torch_label_smoothing(batch):
    logits, y = batch
    loss = SmoothedCrossEntropy(torch.full((K,), 0.2))(logits, y)
    ref = F.cross_entropy(logits, y, reduction="none", label_smoothing=0.2)
    torch.testing.assert_close(loss, ref)
    # the mean of the per-sample losses is torch's scalar loss
    torch.testing.assert_close(loss.mean(), F.cross_entropy(logits, y, label_smoothing=0.2))


def test_ce_class_conditional_eps_per_sample(batch):
    logits, y = batch
    loss = SmoothedCrossEntropy(EPS)(logits, y)
    # each sample matches torch's uniform label smoothing at that sample's class eps
    for c in range(K):
        mask = y == c
        ref = F.cross_entropy(logits[mask], y[mask], reduction="none", label_smoothing=float(EPS[c]))
        torch.testing.assert_close(loss[mask], ref)


def test_ce_full_smoothing_is_uniform_target():
    logits = torch.tensor([[2.0, 0.0, -1.0, 0.5]])
    loss = SmoothedCrossEntropy(torch.ones(K))(logits, torch.tensor([0]))
    torch.testing.assert_close(loss, -F.log_softmax(logits, 1).mean(1))


# --- focal ----------------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [None, EPS])
def test_focal_gamma_zero_equals_cross_entropy(batch, eps):
    logits, y = batch
    torch.testing.assert_close(FocalLoss(0.0, eps)(logits, y), SmoothedCrossEntropy(eps)(logits, y))


def test_focal_hard_targets_hand_formula(batch):
    logits, y = batch
    p_y = F.softmax(logits, 1).gather(1, y[:, None]).squeeze(1)
    expected = -((1 - p_y) ** 2) * torch.log(p_y)
    torch.testing.assert_close(FocalLoss(2.0)(logits, y), expected)
    torch.testing.assert_close(FocalLoss(2.0)(logits, y).mean(), expected.mean())


def test_focal_hand_value_binary():
    # p = softmax([log 3, 0]) = [0.75, 0.25]; hard target 0, gamma 2: -(0.25^2) log 0.75
    logits = torch.tensor([[np.log(3.0), 0.0]], dtype=torch.float32)
    loss = FocalLoss(2.0)(logits, torch.tensor([0]))
    torch.testing.assert_close(loss, torch.tensor([-(0.25**2) * np.log(0.75)], dtype=torch.float32))
    # soft target: eps=0.5 on class 0 -> q = [0.75, 0.25]
    loss = FocalLoss(2.0, torch.tensor([0.5, 0.0]))(logits, torch.tensor([0]))
    expected = -(0.75 * 0.25**2 * np.log(0.75) + 0.25 * 0.75**2 * np.log(0.25))
    torch.testing.assert_close(loss, torch.tensor([expected], dtype=torch.float32))


def test_focal_downweights_easy_samples():
    # a confident correct sample loses relatively more than a hard one
    logits = torch.tensor([[5.0, 0.0], [0.2, 0.0]])
    y = torch.tensor([0, 0])
    ce = SmoothedCrossEntropy()(logits, y)
    fl = FocalLoss(2.0)(logits, y)
    ratio = fl / ce
    assert ratio[0] < ratio[1] < 1.0


def test_focal_gradient_finite_when_p_is_one():
    logits = torch.tensor([[200.0, 0.0, -50.0]], requires_grad=True)
    for gamma in (0.5, 2.0):
        loss = FocalLoss(gamma, torch.tensor([0.1, 0.1, 0.1]))(logits, torch.tensor([0]))
        (grad,) = torch.autograd.grad(loss.sum(), logits)
        assert torch.isfinite(loss).all() and torch.isfinite(grad).all()


def test_focal_rejects_negative_gamma():
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(-1.0)


# --- LDAM -----------------------------------------------------------------------------------


def test_ldam_margins_proportional_to_inverse_fourth_root():
    margins = ldam_margins(COUNTS, max_margin=0.5)
    assert margins.max() == pytest.approx(0.5)
    assert np.argmax(margins) == 3  # rarest class
    np.testing.assert_allclose(margins * COUNTS**0.25, np.full(K, 0.5 * 5**0.25))
    # counts 1 and 16: margins 0.5 and 0.5 / 2
    np.testing.assert_allclose(ldam_margins([1, 16], 0.5), [0.5, 0.25])
    torch.testing.assert_close(LDAMLoss(COUNTS).margins, torch.as_tensor(margins, dtype=torch.float32))


def test_ldam_zero_margin_unit_scale_is_cross_entropy(batch):
    logits, y = batch
    torch.testing.assert_close(LDAMLoss(COUNTS, 0.0, 1.0)(logits, y), F.cross_entropy(logits, y, reduction="none"))
    torch.testing.assert_close(LDAMLoss(COUNTS, 0.0, 1.0, EPS)(logits, y), SmoothedCrossEntropy(EPS)(logits, y))


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_ldam_subtracts_margin_from_true_class_only(batch, scale):
    logits, y = batch
    margins = torch.as_tensor(ldam_margins(COUNTS, 0.5), dtype=torch.float32)
    adjusted = logits.clone()
    adjusted[torch.arange(len(y)), y] -= margins[y]
    loss = LDAMLoss(COUNTS, 0.5, scale)(logits, y)
    ref = F.cross_entropy(scale * adjusted, y, reduction="none")
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(loss.mean(), F.cross_entropy(scale * adjusted, y))


def test_ldam_only_true_class_logit_matters_for_margin():
    # hand values: with zero logits only the true logit moves, by its own class margin
    logits = torch.zeros(1, 2)
    loss = LDAMLoss([1, 16], max_margin=0.5)(logits, torch.tensor([1]))
    # true class 1 has margin 0.25: CE([0, -0.25], 1) = log(1 + e^0.25)
    torch.testing.assert_close(loss, torch.tensor([np.log1p(np.exp(0.25))], dtype=torch.float32))
    loss = LDAMLoss([1, 16], max_margin=0.5)(logits, torch.tensor([0]))
    torch.testing.assert_close(loss, torch.tensor([np.log1p(np.exp(0.5))], dtype=torch.float32))


def test_ldam_larger_margin_raises_minority_loss(batch):
    logits, y = batch
    ce = F.cross_entropy(logits, y, reduction="none")
    loss = LDAMLoss(COUNTS, 0.5)(logits, y)
    assert torch.all(loss > ce)
    # the rarest class gets the largest increase for equal logits
    zero_logits = torch.zeros(K, K)
    inc = LDAMLoss(COUNTS, 0.5)(zero_logits, torch.arange(K)) - np.log(K)
    assert torch.all(inc[1:] > inc[:-1])


def test_ldam_validation():
    with pytest.raises(ValueError, match="positive"):
        LDAMLoss([10, 0])
    with pytest.raises(ValueError, match="scale"):
        LDAMLoss([10, 1], scale=0.0)
    with pytest.raises(ValueError, match="classes"):
        LDAMLoss([10, 1])(torch.zeros(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="max_margin"):  # a negative margin would favour the rare classes' rivals
        LDAMLoss([10, 1], max_margin=-0.5)


# --- common contract ------------------------------------------------------------------------


@pytest.mark.parametrize("eps", [None, EPS])
def test_all_losses_shape_finite_differentiable(batch, eps):
    logits, y = batch
    for loss_fn in all_losses(eps):
        z = logits.clone().requires_grad_(True)
        loss = loss_fn(z, y)
        assert loss.shape == (len(y),) and loss.dtype == torch.float32, loss_fn
        assert torch.isfinite(loss).all() and torch.all(loss >= 0), loss_fn
        (grad,) = torch.autograd.grad(loss.sum(), z)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, loss_fn
        # rows of a softmax-based loss gradient sum to zero (shift invariance)
        torch.testing.assert_close(grad.sum(1), torch.zeros(len(y)), atol=1e-5, rtol=0)


def test_all_losses_gradcheck_float64():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(5, K, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 3])
    for loss_fn in all_losses(EPS):
        assert torch.autograd.gradcheck(lambda z: loss_fn(z, y), (logits,)), loss_fn


def test_half_precision_logits_return_float32(batch):
    logits, y = batch
    loss = FocalLoss()(logits.to(torch.bfloat16), y)
    assert loss.dtype == torch.float32


def test_eps_is_a_buffer_and_follows_state_dict():
    loss = FocalLoss(eps_per_class=EPS)
    assert "eps_per_class" in dict(loss.named_buffers())
    assert "margins" in dict(LDAMLoss(COUNTS).named_buffers())
    assert SmoothedCrossEntropy().eps_per_class is None


def test_eps_validation():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SmoothedCrossEntropy(torch.tensor([0.1, 1.5]))
    with pytest.raises(ValueError, match="1-D"):
        SmoothedCrossEntropy(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="classes"):
        SmoothedCrossEntropy(torch.zeros(3))(torch.zeros(2, 4), torch.tensor([0, 1]))


# --- build_loss -----------------------------------------------------------------------------


def test_build_loss_names_and_params(batch):
    logits, y = batch
    ce = build_loss("cross_entropy", n_classes=K, class_counts=COUNTS, eps_per_class=EPS)
    assert isinstance(ce, SmoothedCrossEntropy)
    torch.testing.assert_close(ce(logits, y), SmoothedCrossEntropy(EPS)(logits, y))
    focal = build_loss("focal", n_classes=K, class_counts=COUNTS, eps_per_class=None, focal_gamma=1.5)
    assert isinstance(focal, FocalLoss) and focal.gamma == 1.5
    ldam = build_loss("ldam", n_classes=K, class_counts=COUNTS, eps_per_class=None, ldam_max_margin=0.3, ldam_scale=2.0)
    assert isinstance(ldam, LDAMLoss) and ldam.scale == 2.0
    assert float(ldam.margins.max()) == pytest.approx(0.3)
    # The smoothing reaches every loss, LDAM's included.
    for name, cls in (("focal", FocalLoss), ("ldam", LDAMLoss)):
        smoothed = build_loss(name, n_classes=K, class_counts=COUNTS, eps_per_class=EPS)
        assert torch.equal(smoothed.eps_per_class, torch.as_tensor(EPS, dtype=torch.float32))
        plain = build_loss(name, n_classes=K, class_counts=COUNTS, eps_per_class=None)
        assert not torch.allclose(smoothed(logits, y), plain(logits, y))
    assert set(LOSS_NAMES) == {"cross_entropy", "focal", "ldam"}
    # Each module names the loss it was built for (what a fitted estimator's invert_smoothing check reads).
    assert [build_loss(name, n_classes=K, class_counts=COUNTS).loss_name for name in LOSS_NAMES] == list(LOSS_NAMES)


def test_build_loss_errors():
    with pytest.raises(ValueError, match="cross_entropy.*focal.*ldam"):
        build_loss("hinge", n_classes=K, class_counts=COUNTS, eps_per_class=None)
    with pytest.raises(ValueError, match="class_counts"):
        build_loss("ldam", n_classes=3, class_counts=COUNTS, eps_per_class=None)
    with pytest.raises(ValueError, match="eps_per_class"):
        build_loss("focal", n_classes=K, class_counts=COUNTS, eps_per_class=torch.zeros(3))
