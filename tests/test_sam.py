"""SAM-A against naive references: per-class perturbation loop, plain SAM, the official rule, BatchNorm."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from imbsk.techniques import sam as sam_module
from imbsk.techniques.sam import FAST_STEP_ANCHOR, AsymmetricSAM, frozen_batchnorm_statistics


def _problem(seed=0, n=48, batchnorm=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(5, 16)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.Tanh(), nn.Linear(16, 3)]
    model = nn.Sequential(*layers).double()
    X = torch.randn(n, 5, dtype=torch.float64)
    y = torch.tensor([0] * (n // 2) + [1] * (n // 3) + [2] * (n - n // 2 - n // 3))
    return model, X, y


def _per_sample_loss(model, X, y):
    return nn.functional.cross_entropy(model(X), y, reduction="none")


def _objective(model, X, y, forwards=None):
    def objective(weightings):
        if forwards is not None:
            forwards.append(len(weightings))
        losses = _per_sample_loss(model, X, y)
        return [(losses * class_weights.to(torch.float64)[y]).mean() for class_weights, _ in weightings]

    return objective


def _grads(model):
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def _flat_grad(loss, model):
    return torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(model.parameters()))])


def _ascent_direction(model, X, y, class_weights):
    g = _flat_grad((_per_sample_loss(model, X, y) * class_weights[y]).mean(), model)
    return g / g.norm()


def _perturbed_class_gradient(model, X, y, direction, radius, cls):
    """Gradient of class ``cls``'s share of the mean loss at theta + radius * direction (a naive reference)."""
    params = list(model.parameters())
    offsets, start = [], 0
    for p in params:
        offsets.append(direction[start : start + p.numel()].view_as(p))
        start += p.numel()
    with torch.no_grad():
        for p, d in zip(params, offsets):
            p.add_(radius * d)
    mask = (y == cls).to(torch.float64)
    grad = _flat_grad((_per_sample_loss(model, X, y) * mask).mean(), model)
    with torch.no_grad():
        for p, d in zip(params, offsets):
            p.sub_(radius * d)
    return grad


def _sam_a_gradient(model, X, y, radii, ascent_weights=None, step="fast"):
    sam = AsymmetricSAM(radii, ascent_weights, step)
    model.zero_grad(set_to_none=True)
    sam.compute_gradients(list(model.parameters()), _objective(model, X, y), model)
    return sam, _grads(model)


def _naive_reference(model, X, y, radii, direction_weights=None):
    """The contract sum_c grad L_c(theta + rho_c g_hat), g_hat ~ grad L (the paper) unless weights are given."""
    weights = torch.ones(3, dtype=torch.float64) if direction_weights is None else torch.as_tensor(direction_weights)
    direction = _ascent_direction(model, X, y, weights.to(torch.float64))
    return sum(_perturbed_class_gradient(model, X, y, direction, radii[c], c) for c in range(len(radii)))


@pytest.mark.parametrize("step, tolerance", [("faithful", 0.02), ("fast", 0.05)])
def test_asymmetric_step_matches_per_class_loop_to_second_order(step, tolerance):
    # 'fast' against the contract along its own direction (its pass-1 weights), 'faithful' along the paper's.
    model, X, y = _problem()
    erm = _flat_grad(_per_sample_loss(model, X, y).mean(), model)
    errors = []
    for rho in (0.02, 0.01, 0.005):
        radii = rho * np.array([1.0, 2.0, 4.0])
        sam, ours = _sam_a_gradient(model, X, y, radii, step=step)
        reference = _naive_reference(model, X, y, radii, sam._direction[0] if step == "fast" else None)
        shift = (reference - erm).norm()
        error = (ours - reference).norm()
        # the documented tolerance: error is second order, far below the first-order SAM shift
        assert error < tolerance * shift
        errors.append(error.item())
    # halving rho divides a second-order error by about 4
    assert errors[0] / errors[1] > 3.0 and errors[1] / errors[2] > 3.0


def test_faithful_step_is_closer_to_the_papers_contract_than_the_fast_one():
    model, X, y = _problem()
    erm = _flat_grad(_per_sample_loss(model, X, y).mean(), model)
    radii = np.array([0.05, 0.1, 0.2])
    reference = _naive_reference(model, X, y, radii)
    shift = (reference - erm).norm()
    errors = {step: ((_sam_a_gradient(model, X, y, radii, step=step)[1] - reference).norm() / shift).item()
              for step in ("fast", "faithful")}
    assert errors["faithful"] < 0.05 < 0.1 < errors["fast"]


def test_the_class_of_the_largest_radius_is_exact_in_the_faithful_step():
    # A batch of that class alone: G is its gradient at theta + rho_max g_hat, whatever the other radii.
    model, X, y = _problem(seed=6)
    keep = y == 2
    X, y = X[keep], y[keep]
    radii = np.array([0.05, 0.1, 0.3])
    _, ours = _sam_a_gradient(model, X, y, radii, step="faithful")
    direction = _ascent_direction(model, X, y, torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(ours, _perturbed_class_gradient(model, X, y, direction, 0.3, 2), rtol=1e-10, atol=1e-12)


def _third_derivative(model, X, y, direction, cls):
    """``D^3 L_c[d, d]``: the gradient of ``d^T H_c d`` with ``d`` held fixed (class ``cls``'s share of the loss)."""
    params = list(model.parameters())
    loss = (_per_sample_loss(model, X, y) * (y == cls).to(torch.float64)).mean()
    grad = torch.cat([g.flatten() for g in torch.autograd.grad(loss, params, create_graph=True)])
    hvp = torch.cat([g.flatten() for g in torch.autograd.grad(grad @ direction, params, create_graph=True)])
    return torch.cat([g.flatten() for g in torch.autograd.grad(hvp @ direction, params)])


def test_faithful_step_second_order_term_has_the_documented_sign():
    # The module docstring and docs/sam_asymmetric.md: G = contract + sum_c w_c (1 - w_c) r^2 / 2 D^3 L_c + O(r^3).
    # With that term the remainder falls as r^3; with the opposite sign it would be twice the term, O(r^2).
    model, X, y = _problem()
    direction = _ascent_direction(model, X, y, torch.ones(3, dtype=torch.float64))
    third = [_third_derivative(model, X, y, direction, c) for c in range(3)]
    remainders, flipped = [], []
    for r in (0.02, 0.01):
        radii = np.array([r / 4, r / 2, r])
        _, ours = _sam_a_gradient(model, X, y, radii, step="faithful")
        contract = _naive_reference(model, X, y, radii)
        term = sum((rho / r) * (1 - rho / r) * r**2 / 2 * t for rho, t in zip(radii, third))
        remainders.append((ours - contract - term).norm().item())
        flipped.append((ours - contract + term).norm().item())
    assert remainders[1] < remainders[0] / 6  # third order: 8 times smaller at half the radius
    assert remainders[0] < 0.05 * flipped[0]
    printed = "sum_c grad L_c(theta + rho_c g_hat) + sum_c w_c (1 - w_c) r^2 / 2 * D^3 L_c[g_hat, g_hat]"
    assert printed in sam_module.__doc__
    assert printed in (Path(__file__).parents[1] / "docs" / "sam_asymmetric.md").read_text()


def test_nearly_equal_radii_give_nearly_plain_sam_in_the_faithful_step_only():
    # The faithful step is continuous at balance; the fast one jumps to its anchored interpolation.
    model, X, y = _problem(seed=7)
    rho = 0.1
    _, sam = _sam_a_gradient(model, X, y, [rho] * 3)
    erm = _flat_grad(_per_sample_loss(model, X, y).mean(), model)

    def gap(step, spread):
        _, ours = _sam_a_gradient(model, X, y, rho * np.array([1.0, 1.0 + spread, 1.0 + spread]), step=step)
        return ((ours - sam).norm() / (sam - erm).norm()).item()

    gaps = [gap("faithful", spread) for spread in (1e-2, 1e-3, 1e-4)]
    assert gaps[0] < 0.02 and gaps[1] < gaps[0] / 5 and gaps[2] < gaps[1] / 5
    assert gap("fast", 1e-4) > 0.01


@pytest.mark.parametrize("step, pass_one", [("fast", 1), ("faithful", 2)])
def test_forward_passes_and_the_losses_each_takes(step, pass_one):
    model, X, y = _problem(seed=8)
    for radii, passes in (([0.1, 0.1, 0.1], [1, 1]), ([0.1, 0.2, 0.4], [pass_one, 1]), ([0.0, 0.0, 0.0], [1])):
        forwards = []
        AsymmetricSAM(radii, step=step).compute_gradients(list(model.parameters()), _objective(model, X, y, forwards),
                                                         model)
        model.zero_grad(set_to_none=True)
        assert forwards == passes  # losses per forward pass: the faithful step takes two from pass 1's one forward


def test_fast_step_of_an_object_pickled_before_there_were_two_steps():
    import pickle

    model, X, y = _problem(seed=9)
    sam, expected = _sam_a_gradient(model, X, y, [0.1, 0.2, 0.4])
    old_state = {"class_radii": sam.class_radii, "ascent_weights": sam.ascent_weights, "uniform": False,
                 "radius": sam.radius, "_pass1": sam._direction[0], "_pass2": sam._perturbed[0],
                 "_extra1": 0.875, "_extra2": 0.125, "_device_weights": {}}
    restored = AsymmetricSAM.__new__(AsymmetricSAM)
    restored.__setstate__(pickle.loads(pickle.dumps(old_state)))
    model.zero_grad(set_to_none=True)
    restored.compute_gradients(list(model.parameters()), _objective(model, X, y), model)
    torch.testing.assert_close(_grads(model), expected, rtol=1e-12, atol=1e-15)


def test_uniform_radii_is_exactly_plain_sam():
    model, X, y = _problem(seed=1)
    rho = 0.1
    sam, ours = _sam_a_gradient(model, X, y, [rho, rho, rho])
    assert sam.uniform
    g = _flat_grad(_per_sample_loss(model, X, y).mean(), model)
    direction = g / g.norm()
    plain = sum(_perturbed_class_gradient(model, X, y, direction, rho, c) for c in range(3))
    torch.testing.assert_close(ours, plain, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(ours, g)


def test_tiny_radii_are_compared_relatively():
    # A fourfold spread stays asymmetric however small the base radius (numpy's absolute tolerance would hide it).
    assert not AsymmetricSAM([1e-9, 4e-9]).uniform
    assert AsymmetricSAM([1e-9, 1e-9]).uniform and AsymmetricSAM([0.0, 0.0]).uniform


def test_official_rule_weights_only_the_ascent():
    model, X, y = _problem(seed=2)
    rho, weights = 0.1, np.array([1.0, 1.5, 3.0])
    _, ours = _sam_a_gradient(model, X, y, [rho] * 3, ascent_weights=weights)
    direction = _ascent_direction(model, X, y, torch.as_tensor(weights))
    expected = sum(_perturbed_class_gradient(model, X, y, direction, rho, c) for c in range(3))
    torch.testing.assert_close(ours, expected, rtol=1e-10, atol=1e-12)


def test_zero_radius_is_the_plain_gradient_even_with_ascent_weights():
    # rho = 0 under the 'official' rule: the n_max / n_c ascent weights must not reach the step
    model, X, y = _problem(seed=5)
    plain = _flat_grad(_per_sample_loss(model, X, y).mean(), model)
    for ascent_weights in (None, np.array([1.0, 2.5, 9.0])):
        _, ours = _sam_a_gradient(model, X, y, [0.0] * 3, ascent_weights=ascent_weights)
        torch.testing.assert_close(ours, plain, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("step", ["fast", "faithful"])
def test_ascent_weights_with_unequal_radii_only_steer_the_direction(step):
    # G = sum_c [(1 - w_c) grad L_c(theta) + w_c grad L_c(theta + s g_hat)]: the ascent weights shape g_hat
    # alone, so as the radii vanish G tends to the plain gradient whatever the weights.
    model, X, y = _problem(seed=12)
    plain = _flat_grad(_per_sample_loss(model, X, y).mean(), model)
    _, ours = _sam_a_gradient(model, X, y, 1e-7 * np.array([1.0, 2.0, 4.0]), np.array([1.0, 2.0, 3.0]), step)
    assert ((ours - plain).norm() / plain.norm()).item() < 1e-4


def test_parameters_are_restored_after_the_step():
    model, X, y = _problem(seed=3)
    before = [p.detach().clone() for p in model.parameters()]
    _sam_a_gradient(model, X, y, [0.1, 0.3, 0.5])
    for p, b in zip(model.parameters(), before):
        torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-15)


def test_interpolation_weights():
    fast = AsymmetricSAM([0.1, 0.2, 0.4])
    s = FAST_STEP_ANCHOR * 0.4
    assert fast.radius == pytest.approx(s)
    np.testing.assert_allclose(fast._perturbed[0], np.array([0.1, 0.2, 0.4]) / s)
    np.testing.assert_allclose(fast._direction[0] + fast._perturbed[0], 1.0)
    assert fast._perturbed[1] == pytest.approx(0.1 / s)
    faithful = AsymmetricSAM([0.1, 0.2, 0.4], step="faithful")
    assert faithful.radius == pytest.approx(0.4)
    np.testing.assert_allclose(faithful._perturbed[0], [0.25, 0.5, 1.0])
    np.testing.assert_allclose(faithful._kept[0] + faithful._perturbed[0], 1.0)
    np.testing.assert_allclose(faithful._direction[0], 1.0)
    assert (faithful._kept[1], faithful._perturbed[1]) == pytest.approx((0.75, 0.25))
    with pytest.raises(ValueError, match="step must be one of"):
        AsymmetricSAM([0.1, 0.2], step="exact")


def test_batchnorm_statistics_are_updated_once_per_step():
    model, X, y = _problem(seed=4, batchnorm=True)
    reference, _, _ = _problem(seed=4, batchnorm=True)
    reference.train()
    reference(X)  # one ERM forward pass updates the running statistics once
    _sam_a_gradient(model, X, y, [0.1, 0.2, 0.4])
    bn, bn_ref = model[1], reference[1]
    torch.testing.assert_close(bn.running_mean, bn_ref.running_mean)
    torch.testing.assert_close(bn.running_var, bn_ref.running_var)
    assert int(bn.num_batches_tracked) == 1


def test_frozen_batchnorm_restores_momentum():
    bn = nn.BatchNorm1d(4, momentum=0.3)
    with frozen_batchnorm_statistics(bn):
        bn(torch.randn(8, 4))
    assert bn.momentum == 0.3
    torch.testing.assert_close(bn.running_mean, torch.zeros(4))


def test_invalid_radii():
    with pytest.raises(ValueError, match="non-negative"):
        AsymmetricSAM([0.1, -0.2])
    with pytest.raises(ValueError, match="non-empty"):
        AsymmetricSAM([])


@pytest.mark.parametrize("ascent_weights", [[1.0], [1.0, 2.0, 3.0], [[1.0, 2.0]], [1.0, -2.0], [1.0, np.nan]])
def test_invalid_ascent_weights(ascent_weights):
    # A one-entry vector used to broadcast to every class; negative or NaN weights were kept as given.
    with pytest.raises(ValueError, match="ascent_weights"):
        AsymmetricSAM([0.1, 0.2], ascent_weights)


def test_pickle_drops_device_tensors():
    import pickle

    sam = AsymmetricSAM([0.1, 0.2])
    sam._weights(torch.device("cpu"))
    restored = pickle.loads(pickle.dumps(sam))
    assert restored._device_weights == {}
    np.testing.assert_allclose(restored.class_radii, [0.1, 0.2])


def _objective_with_extra_term(model, X, y, extra_class):
    """Class ``extra_class``'s share of the loss passed as the class-independent extra term (as Joint-SSL's)."""

    def objective(weightings):
        losses = _per_sample_loss(model, X, y)
        extra = (losses * (y == extra_class).to(torch.float64)).mean()
        supervised = (y != extra_class).to(torch.float64)
        return [(losses * supervised * torch.cat([w, w.new_zeros(1)]).to(torch.float64)[y]).mean() + e * extra
                for w, e in weightings]

    return objective


@pytest.mark.parametrize("step", ["fast", "faithful"])
@pytest.mark.parametrize("radii, ascent_weights", [([0.1, 0.1], None), ([0.1, 0.1], [1.0, 4.0]), ([0.05, 0.2], None)])
def test_extra_term_is_one_more_class_of_the_smallest_radius(step, radii, ascent_weights):
    # The documented contract: the extra term is stepped exactly like a class whose radius is the smallest
    # class radius (and whose ascent weight is 1), in the ascent direction and in the descent gradient.
    model, X, y = _problem(seed=10)
    sam = AsymmetricSAM(radii, ascent_weights, step)
    model.zero_grad(set_to_none=True)
    sam.compute_gradients(list(model.parameters()), _objective_with_extra_term(model, X, y, 2), model)
    with_extra = _grads(model)
    class_weights = None if ascent_weights is None else list(ascent_weights) + [1.0]
    as_class = AsymmetricSAM(list(radii) + [min(radii)], class_weights, step)
    model.zero_grad(set_to_none=True)
    as_class.compute_gradients(list(model.parameters()), _objective(model, X, y), model)
    torch.testing.assert_close(with_extra, _grads(model), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("radii", [[0.1, 0.1, 0.1], [0.1, 0.2, 0.4]])
def test_a_zero_gradient_gives_a_zero_step_not_nan(radii):
    # A batch whose loss has no gradient (e.g. every sample weight 0): g_hat is undefined, the step must be 0.
    model, X, y = _problem(seed=11)

    def zero_objective(weightings):
        losses = _per_sample_loss(model, X, y)
        return [(losses * 0.0 * w.to(torch.float64)[y]).mean() for w, _ in weightings]

    model.zero_grad(set_to_none=True)
    AsymmetricSAM(radii).compute_gradients(list(model.parameters()), zero_objective, model)
    assert torch.equal(_grads(model), torch.zeros_like(_grads(model)))


def test_frozen_batchnorm_covers_convolutional_batchnorm():
    # The CNN's layers are BatchNorm2d: their running statistics must be frozen in pass 2 as well.
    bn = nn.BatchNorm2d(3)
    bn(torch.randn(4, 3, 5, 5))
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    with frozen_batchnorm_statistics(nn.Sequential(nn.Conv2d(3, 3, 1), bn)):
        bn(torch.randn(4, 3, 5, 5) + 3.0)
    torch.testing.assert_close(bn.running_mean, mean, rtol=0, atol=0)
    torch.testing.assert_close(bn.running_var, var, rtol=0, atol=0)
    assert int(bn.num_batches_tracked) == 1
