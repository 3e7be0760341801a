"""Projection head used by the VICReg self-supervised loss."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class Projector(nn.Module):
    """MLP "expander" that maps backbone features to the space where VICReg is computed.

    Every layer except the last is ``Linear -> BatchNorm1d -> ReLU``; the last one is a
    plain ``Linear``, as in VICReg (Bardes et al., 2022, Section 4.1). The VICReg
    variance and covariance terms act on this output, so the backbone features themselves
    are not forced to be decorrelated.

    Parameters
    ----------
    in_features : int
        Size of the backbone features fed to the projector.
    dims : sequence of int
        Output size of each layer; ``dims[-1]`` is the embedding size ``K`` seen by the
        loss. Must contain at least one positive integer.

    References
    ----------
    A. Bardes, J. Ponce, Y. LeCun. "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning". ICLR 2022.
    """

    def __init__(self, in_features: int, dims: Sequence[int]) -> None:
        super().__init__()
        dims = tuple(int(d) for d in dims)
        if in_features <= 0:
            raise ValueError(f"in_features must be positive, got {in_features}")
        if len(dims) == 0 or any(d <= 0 for d in dims):
            raise ValueError(f"dims must be a non-empty sequence of positive ints, got {dims}")
        layers: list[nn.Module] = []
        d_in = in_features
        for d_out in dims[:-1]:
            # The Linear bias is redundant right before BatchNorm, which has its own shift.
            layers += [nn.Linear(d_in, d_out, bias=False), nn.BatchNorm1d(d_out), nn.ReLU()]
            d_in = d_out
        layers.append(nn.Linear(d_in, dims[-1]))
        self.net = nn.Sequential(*layers)
        self.in_features = in_features
        self.out_features = dims[-1]

    def forward(self, x: Tensor) -> Tensor:
        """Project ``x`` of shape (N, in_features) to (N, dims[-1]), or (N, ..., in_features) row-wise.

        Leading dimensions (an ensemble's members, ``(N, k, in_features)``) are flattened into
        the batch first: ``BatchNorm1d`` would otherwise read a 3-D input's second axis as its
        channels, and fail, or, when ``k`` equals a layer's width, normalise across the members.
        """
        if x.dim() == 2:
            return self.net(x)
        return self.net(x.reshape(-1, x.shape[-1])).view(*x.shape[:-1], -1)


__all__ = ["Projector"]
