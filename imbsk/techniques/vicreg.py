"""VICReg self-supervised loss, used as the auxiliary objective of Joint-SSL."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _off_diagonal_sq_sum(z: Tensor) -> Tensor:
    """Sum of squared off-diagonal entries of the (unbiased) covariance matrix of ``z`` of shape ``(N, K)``;
    for ``(N, m, K)``, the mean over the ``m`` members of each one's sum."""
    n = z.shape[0]
    zc = z - z.mean(dim=0)
    # (K, N) @ (N, K), or batched over the members: (m, K, N) @ (m, N, K).
    cov = zc.movedim(0, -1) @ zc.movedim(0, -2) / (n - 1)
    # Zero the diagonal exactly instead of subtracting its squares afterwards, which would
    # cancel catastrophically when variances dwarf the covariances.
    off_diag = cov - torch.diag_embed(torch.diagonal(cov, dim1=-2, dim2=-1))
    return off_diag.pow(2).sum(dim=(-2, -1)).mean()


def _variance_hinge(z: Tensor, eps: float) -> Tensor:
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1.0 - std).mean()


def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    r"""Variance-Invariance-Covariance Regularization loss between two batches of views.

    For embeddings :math:`Z, Z' \in \mathbb{R}^{N \times K}` of two augmented views of
    the same :math:`N` samples:

    .. math::

        s(Z, Z') &= \frac{1}{NK} \sum_{i,k} (Z_{ik} - Z'_{ik})^2 \\
        v(Z) &= \frac{1}{K} \sum_{k=1}^{K}
                \max\left(0, 1 - \sqrt{\mathrm{Var}(Z_{:,k}) + \epsilon}\right) \\
        c(Z) &= \frac{1}{K} \sum_{k \neq k'} C(Z)_{k,k'}^2, \quad
        C(Z) = \frac{1}{N-1} \sum_{i} (Z_i - \bar Z)(Z_i - \bar Z)^\top \\
        \mathcal{L} &= \lambda\, s(Z, Z') + \mu\, \frac{v(Z) + v(Z')}{2}
                      + \nu\, \left(c(Z) + c(Z')\right)

    with :math:`\lambda` = ``sim_coeff``, :math:`\mu` = ``std_coeff``,
    :math:`\nu` = ``cov_coeff`` and unbiased variances. This is the loss of the original
    VICReg paper and code. Appendix A.5 of Shwartz-Ziv et al. (2023) prints a variant
    with a single covariance matrix of the concatenation :math:`[Z, Z']` (and reuses
    :math:`\gamma` both as the variance target and as a coefficient); we follow Bardes
    et al. (2022), where each branch is regularised separately and the target is 1.

    An ensemble's projections ``(N, m, K)`` (member ``j``'s are ``z[:, j]``) give the mean over the
    ``m`` members of each one's loss, its variance and covariance over its own ``N`` rows: pooled over
    the members, the spread between them would count as variance, and a member whose features
    collapsed would pass the variance term.

    Parameters
    ----------
    z1, z2 : Tensor of shape (N, K) or (N, m, K)
        Projected embeddings of the two views; ``N >= 2``.
    sim_coeff : float, default=25.0
        Weight of the invariance term.
    std_coeff : float, default=25.0
        Weight of the variance term.
    cov_coeff : float, default=1.0
        Weight of the covariance term.
    eps : float, default=1e-4
        Added to the variance before the square root for numerical stability.

    Returns
    -------
    loss : Tensor
        Scalar loss.

    References
    ----------
    A. Bardes, J. Ponce, Y. LeCun. "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning". ICLR 2022.
    R. Shwartz-Ziv, M. Goldblum, Y. L. Li, C. B. Bruss, A. G. Wilson. "Simplifying
    Neural Network Training Under Class Imbalance". NeurIPS 2023, Appendix A.5.
    """
    if z1.ndim not in (2, 3) or z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must be (N, K) or (N, m, K) with equal shapes, got {z1.shape}, {z2.shape}")
    n, k = z1.shape[0], z1.shape[-1]
    if n < 2:
        raise ValueError(f"VICReg needs at least 2 samples per batch, got {n}")
    invariance = F.mse_loss(z1, z2)
    variance = 0.5 * (_variance_hinge(z1, eps) + _variance_hinge(z2, eps))
    covariance = (_off_diagonal_sq_sum(z1) + _off_diagonal_sq_sum(z2)) / k
    return sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance


class VICRegLoss(nn.Module):
    """Module wrapper around :func:`vicreg_loss` holding the coefficients.

    Parameters
    ----------
    sim_coeff, std_coeff, cov_coeff, eps : float
        See :func:`vicreg_loss`.
    """

    def __init__(
        self,
        sim_coeff: float = 25.0,
        std_coeff: float = 25.0,
        cov_coeff: float = 1.0,
        eps: float = 1e-4,
    ) -> None:
        super().__init__()
        self.sim_coeff = sim_coeff
        self.std_coeff = std_coeff
        self.cov_coeff = cov_coeff
        self.eps = eps

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Return the scalar VICReg loss between ``z1`` and ``z2``."""
        return vicreg_loss(
            z1,
            z2,
            sim_coeff=self.sim_coeff,
            std_coeff=self.std_coeff,
            cov_coeff=self.cov_coeff,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"sim_coeff={self.sim_coeff}, std_coeff={self.std_coeff}, "
            f"cov_coeff={self.cov_coeff}, eps={self.eps}"
        )


__all__ = ["VICRegLoss", "vicreg_loss"]
