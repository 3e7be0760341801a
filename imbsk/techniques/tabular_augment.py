"""SCARF-style random feature corruption to make views of table rows for Joint-SSL."""

from __future__ import annotations

import torch
from torch import Tensor


class TabularAugmenter:
    r"""Make a randomly corrupted view of a batch of table rows, fully batched on device.

    For a row :math:`x \in \mathbb{R}^{d}` each feature :math:`j` is corrupted
    independently (SCARF, Bahri et al., 2022):

    .. math::

        m_j \sim \mathrm{Bernoulli}(p), \qquad
        r_j \sim \mathcal{U}\{1, \dots, N_{\text{train}}\}, \\
        \tilde x_j = (1 - m_j)\, x_j + m_j\, X^{\text{train}}_{r_j, j}

    i.e. a corrupted feature is replaced by a draw from that feature's empirical marginal
    distribution in the training data (a random training row is drawn per feature, so
    the replacement values are not correlated across features). Numerical features then
    receive additive Gaussian noise,
    :math:`\tilde x^{\text{num}} \leftarrow \tilde x^{\text{num}} + \sigma \varepsilon`,
    :math:`\varepsilon \sim \mathcal{N}(0, I)`, which is meaningful because they are
    already quantile-normalised. Categorical codes only get the corruption step.

    Parameters
    ----------
    x_num_train : Tensor of shape (N_train, n_num), float
        Numerical training features (the second dimension may be 0).
    x_cat_train : Tensor of shape (N_train, n_cat), int64
        Categorical training codes (the second dimension may be 0).
    corruption_rate : float, default=0.3
        Probability :math:`p` that a feature of a row is replaced.
    noise_std : float, default=0.1
        Standard deviation :math:`\sigma` of the noise added to numerical features.

    Notes
    -----
    The training tensors are kept by reference (no copy) and moved once to the device of
    the first batch that lives elsewhere; call :meth:`to` to move them explicitly.

    References
    ----------
    D. Bahri, H. Jiang, Y. Tay, D. Metzler. "SCARF: Self-Supervised Contrastive Learning
    using Random Feature Corruption". ICLR 2022.
    """

    def __init__(
        self,
        x_num_train: Tensor,
        x_cat_train: Tensor,
        corruption_rate: float = 0.3,
        noise_std: float = 0.1,
    ) -> None:
        if x_num_train.ndim != 2 or x_cat_train.ndim != 2:
            raise ValueError("x_num_train and x_cat_train must be 2-D")
        if x_num_train.shape[0] != x_cat_train.shape[0]:
            raise ValueError(
                f"x_num_train and x_cat_train have different numbers of rows: "
                f"{x_num_train.shape[0]} != {x_cat_train.shape[0]}"
            )
        if not 0.0 <= corruption_rate <= 1.0:
            raise ValueError(f"corruption_rate must be in [0, 1], got {corruption_rate}")
        # `not >=` also rejects NaN, which would make every numerical view NaN; infinity likewise.
        if not 0.0 <= noise_std < float("inf"):
            raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std}")
        if corruption_rate > 0.0 and x_num_train.shape[0] == 0:
            raise ValueError("corruption needs at least one training row")
        self.x_num_train = x_num_train
        self.x_cat_train = x_cat_train
        self.corruption_rate = float(corruption_rate)
        self.noise_std = float(noise_std)

    def to(self, device: torch.device | str) -> TabularAugmenter:
        """Move the stored training tensors to ``device`` (in place) and return self."""
        self.x_num_train = self.x_num_train.to(device)
        self.x_cat_train = self.x_cat_train.to(device)
        return self

    def _corrupt(self, x: Tensor, train: Tensor, generator: torch.Generator | None) -> Tensor:
        if x.shape[1] != train.shape[1]:
            raise ValueError(f"batch has {x.shape[1]} columns, training data {train.shape[1]}")
        if self.corruption_rate == 0.0 or x.numel() == 0:
            return x.clone()
        shape = x.shape
        mask = torch.rand(shape, generator=generator, device=x.device) < self.corruption_rate
        rows = torch.randint(train.shape[0], shape, generator=generator, device=x.device)
        # gather along rows: replacement[i, j] = train[rows[i, j], j]
        replacement = torch.gather(train, 0, rows).to(x.dtype)
        return torch.where(mask, replacement, x)

    def __call__(
        self,
        x_num: Tensor,
        x_cat: Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Return a corrupted view ``(x_num_view, x_cat_view)`` of the batch.

        Parameters
        ----------
        x_num : Tensor of shape (N, n_num), float
        x_cat : Tensor of shape (N, n_cat), int64
        generator : torch.Generator or None, default=None
            Source of randomness, on the batch's device, for reproducible views.

        Returns
        -------
        x_num_view, x_cat_view : Tensor
            New tensors with the same shapes, dtypes and devices as the inputs.
        """
        if x_num.shape[0] != x_cat.shape[0]:
            raise ValueError(f"x_num and x_cat rows differ: {x_num.shape[0]} != {x_cat.shape[0]}")
        # Moved once and cached: the replacement draws must happen where the batch lives.
        if self.x_num_train.device != x_num.device:
            self.x_num_train = self.x_num_train.to(x_num.device)
        if self.x_cat_train.device != x_cat.device:
            self.x_cat_train = self.x_cat_train.to(x_cat.device)
        x_num_view = self._corrupt(x_num, self.x_num_train, generator)
        x_cat_view = self._corrupt(x_cat, self.x_cat_train, generator)
        if self.noise_std > 0.0 and x_num_view.numel() > 0:
            noise = torch.randn(
                x_num_view.shape, generator=generator, device=x_num.device, dtype=x_num.dtype
            )
            x_num_view = x_num_view + self.noise_std * noise
        return x_num_view, x_cat_view


__all__ = ["TabularAugmenter"]
