import pytest
import torch

from imbsk.techniques.vicreg import VICRegLoss, vicreg_loss


def _only(term: str, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    coeffs = {"sim_coeff": 0.0, "std_coeff": 0.0, "cov_coeff": 0.0}
    coeffs[term] = 1.0
    return vicreg_loss(z1, z2, **coeffs)


def test_identical_spread_views_have_zero_invariance_and_variance():
    g = torch.Generator().manual_seed(0)
    z = 3.0 * torch.randn(512, 16, generator=g)  # std ~3 > 1 in every dimension
    assert _only("sim_coeff", z, z.clone()).item() == 0.0
    assert _only("std_coeff", z, z.clone()).item() == 0.0


def test_invariance_is_mse():
    z1 = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    z2 = torch.tensor([[1.0, 1.0], [2.0, 1.0]])
    # squared diffs 1, 0, 0, 4 -> mean 1.25
    assert _only("sim_coeff", z1, z2).item() == pytest.approx(1.25)


def test_collapsed_embeddings_give_full_variance_penalty():
    z = torch.ones(64, 8) * 0.7
    loss = vicreg_loss(z, z.clone(), sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0)
    # Var = 0 -> std = sqrt(1e-4) = 0.01 -> hinge 0.99 in every dimension, both branches.
    assert loss.item() == pytest.approx(25.0 * 0.99, rel=1e-5)
    assert loss.item() == pytest.approx(25.0, rel=0.02)


def test_covariance_term_hand_computed():
    # Columns of z1: a = [1, 2, 3], b = [2, 4, 6] -> var(a) = 1, var(b) = 4, cov(a, b) = 2
    # (unbiased). Off-diagonal squared sum = 2 * 2^2 = 8, divided by K = 2 -> 4.
    z1 = torch.tensor([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    # Columns of z2: [1, 0, -1] and [0, 0, 0] -> covariance 0.
    z2 = torch.tensor([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]])
    assert _only("cov_coeff", z1, z2).item() == pytest.approx(4.0)
    # Covariances of the two branches add up.
    assert _only("cov_coeff", z1, z1).item() == pytest.approx(8.0)


def test_variance_term_hand_computed():
    # column std: col0 = 0.5 (values 0, 1 -> unbiased var 0.5, std ~0.7071), col1 std 0.
    z = torch.tensor([[0.0, 5.0], [1.0, 5.0]])
    eps = 1e-4
    expected = ((1 - (0.5 + eps) ** 0.5) + (1 - eps**0.5)) / 2
    assert _only("std_coeff", z, z).item() == pytest.approx(expected, rel=1e-5)


def test_total_is_weighted_sum_and_module_matches():
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(32, 6, generator=g) * 0.5
    z2 = z1 + 0.3 * torch.randn(32, 6, generator=g)
    parts = [_only(t, z1, z2) for t in ("sim_coeff", "std_coeff", "cov_coeff")]
    total = vicreg_loss(z1, z2, sim_coeff=2.0, std_coeff=3.0, cov_coeff=0.5)
    expected = 2 * parts[0].item() + 3 * parts[1].item() + 0.5 * parts[2].item()
    assert total.item() == pytest.approx(expected, rel=1e-5)
    module = VICRegLoss(sim_coeff=2.0, std_coeff=3.0, cov_coeff=0.5)
    assert module(z1, z2).item() == pytest.approx(total.item(), rel=1e-6)
    assert all(p.item() > 0 for p in parts)


def test_gradient_flows_to_both_branches():
    g = torch.Generator().manual_seed(2)
    z1 = (0.1 * torch.randn(16, 4, generator=g)).requires_grad_()
    z2 = (0.1 * torch.randn(16, 4, generator=g)).requires_grad_()
    vicreg_loss(z1, z2).backward()
    for z in (z1, z2):
        assert z.grad is not None
        assert torch.isfinite(z.grad).all()
        assert z.grad.abs().sum() > 0


def test_gradient_finite_when_collapsed():
    z = torch.zeros(8, 4, requires_grad=True)
    vicreg_loss(z, z).backward()
    assert torch.isfinite(z.grad).all()


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        vicreg_loss(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError):
        vicreg_loss(torch.zeros(1, 3), torch.zeros(1, 3))


def test_members_projections_give_the_mean_of_the_members_losses():
    # (N, m, K): each member's loss over its own rows, averaged (an ensemble's Joint-SSL term).
    g = torch.Generator().manual_seed(3)
    z1, z2 = (torch.randn(10, 5, 7, generator=g, dtype=torch.float64) for _ in range(2))
    coeffs = dict(sim_coeff=2.0, std_coeff=3.0, cov_coeff=0.5)
    expected = torch.stack([vicreg_loss(z1[:, m], z2[:, m], **coeffs) for m in range(5)]).mean()
    torch.testing.assert_close(vicreg_loss(z1, z2, **coeffs), expected)
    torch.testing.assert_close(vicreg_loss(z1[:, :1], z2[:, :1]), vicreg_loss(z1[:, 0], z2[:, 0]))
    with pytest.raises(ValueError, match=r"\(N, K\) or \(N, m, K\)"):
        vicreg_loss(z1[..., None], z2[..., None])
    with pytest.raises(ValueError, match="at least 2"):
        vicreg_loss(z1[:1], z2[:1])
