"""MLP for tabular data with embeddings for numerical and categorical features."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from typing import Literal

import torch
from rtdl_num_embeddings import PeriodicEmbeddings, PiecewiseLinearEmbeddings, compute_bins
from torch import Tensor, nn

from imbsk.models.ensemble import MemberHeads, MemberScaling, mean_member_log_proba
from imbsk.models.projector import Projector

NumEmbedding = Literal["plr", "piecewise", "none"]
CatEmbedding = Literal["embedding", "onehot"]


class TabularMLP(nn.Module):
    """Multilayer perceptron over embedded numerical and categorical features.

    Each numerical feature :math:`x_j` is mapped to a vector :math:`e_j \\in \\mathbb{R}^d`
    and each categorical code :math:`c_j` to a learned (or one-hot) vector; all vectors
    are concatenated and fed to an MLP backbone followed by a linear head::

        h = concat(e_1, ..., e_{n_num}, E_1[c_1], ..., E_{n_cat}[c_{n_cat}])
        features = Block_L(... Block_1(h)),   Block(x) = Dropout(ReLU(W x + b))
        logits = head(features)

    Numerical embeddings (Gorishniy et al., 2022), all features handled in one op:

    - ``'plr'``: periodic + linear + ReLU (MLP-PLR in the paper),
      :math:`e_j = \\mathrm{ReLU}(W_j [\\cos(2\\pi c_j x_j), \\sin(2\\pi c_j x_j)] + b_j)`
      with trainable frequencies :math:`c_j \\in \\mathbb{R}^k`, initialised from
      :math:`\\mathcal{N}(0, \\sigma^2)` (``sigma = frequency_init_scale``,
      ``k = n_frequencies``). Uses ``PeriodicEmbeddings(lite=False)``.
    - ``'piecewise'``: piecewise-linear encoding over the given quantile bins followed by
      a per-feature linear layer (``PiecewiseLinearEmbeddings``, ``version='B'``, no
      activation). ``bins`` must be computed by the caller on training data with
      :func:`piecewise_bins` (or ``rtdl_num_embeddings.compute_bins``).
    - ``'none'``: the raw (already normalised) values are used as they are.

    Categorical embeddings:

    - ``'embedding'``: one learned vector of size ``d_cat_embedding`` per category.
      All columns share one ``nn.Embedding(sum(cat_cardinalities), d_cat_embedding)``
      and a per-column offset, so the lookup is a single op.
    - ``'onehot'``: concatenated one-hot vectors, no parameters.

    Code 0 of every categorical column is the "missing / unseen" category; it is an
    ordinary row of the table, so ``cat_cardinalities`` must count it. Codes must lie in
    ``[0, cardinality)`` and are not checked in ``forward`` (a check would synchronise a
    GPU every step; the estimator's preprocessing guarantees them): with ``'embedding'``,
    an out-of-range code silently reads another column's vectors.

    With ``n_ensemble_members = k > 1`` the network is a parameter-efficient ensemble
    (TabM-mini, :mod:`imbsk.models.ensemble`): ``k`` members share the embeddings and
    the backbone, each with its own sign-initialised input adapter ``r_m`` and head::

        logits_m = head_m(Block_L(... Block_1(r_m * h)))

    In training mode ``forward`` returns the members' logits, shape ``(N, k, n_classes)``
    (the loss is the mean of the members' losses); in evaluation mode it returns the
    log of the members' mean probability, shape ``(N, n_classes)``, which stands where
    one network's logits stand (its softmax is the mean probability).

    Parameters
    ----------
    n_num_features : int
        Number of numerical columns (may be 0).
    cat_cardinalities : list of int
        Number of codes of each categorical column, including code 0 (may be empty).
    n_classes : int
        Number of output logits.
    num_embedding : {'plr', 'piecewise', 'none'}, default='plr'
        Embedding of numerical features.
    d_embedding : int, default=24
        Size of each numerical feature's embedding ('plr' and 'piecewise').
    n_frequencies : int, default=48
        Number of frequencies ``k`` per feature ('plr').
    frequency_init_scale : float, default=0.01
        Standard deviation ``sigma`` of the initial frequencies ('plr'). An important
        hyperparameter in Gorishniy et al. (2022).
    bins : list of Tensor or None, default=None
        Bin edges per numerical feature, required for ``num_embedding='piecewise'``.
    cat_embedding : {'embedding', 'onehot'}, default='embedding'
        Encoding of categorical features.
    d_cat_embedding : int, default=8
        Size of each categorical embedding ('embedding').
    hidden_layer_sizes : sequence of int, default=(256, 256)
        Widths of the ``Linear -> ReLU -> Dropout`` blocks. May be empty, in which case
        the features are the flattened embeddings.
    dropout : float, default=0.1
        Dropout probability after each hidden block.
    projector_dims : tuple of int or None, default=None
        If given, a :class:`~imbsk.models.projector.Projector` with these layer sizes is
        built on top of the features (for Joint-SSL with VICReg). If None, no projector
        is created at all.
    n_ensemble_members : int, default=1
        Number ``k`` of members sharing the backbone (TabM-mini); 1 is one plain MLP.

    Attributes
    ----------
    backbone : nn.Sequential
        The hidden blocks.
    head : nn.Linear or MemberHeads
        Classification layer (one per member when ``n_ensemble_members > 1``).
    member_scaling : MemberScaling
        The members' input adapters; only present when ``n_ensemble_members > 1``.
    projector : Projector
        Only present when ``projector_dims`` is not None.
    n_features_out : int
        Size of the penultimate features.

    References
    ----------
    Y. Gorishniy, I. Rubachev, A. Babenko. "On Embeddings for Numerical Features in
    Tabular Deep Learning". NeurIPS 2022.
    Y. Gorishniy, A. Kotelnikov, A. Babenko. "TabM: Advancing Tabular Deep Learning
    with Parameter-Efficient Ensembling". ICLR 2025.
    """

    def __init__(
        self,
        n_num_features: int,
        cat_cardinalities: Sequence[int],
        n_classes: int,
        *,
        num_embedding: NumEmbedding = "plr",
        d_embedding: int = 24,
        n_frequencies: int = 48,
        frequency_init_scale: float = 0.01,
        bins: list[Tensor] | None = None,
        cat_embedding: CatEmbedding = "embedding",
        d_cat_embedding: int = 8,
        hidden_layer_sizes: Sequence[int] = (256, 256),
        dropout: float = 0.1,
        projector_dims: tuple[int, ...] | None = None,
        n_ensemble_members: int = 1,
    ) -> None:
        super().__init__()
        cat_cardinalities = [int(c) for c in cat_cardinalities]
        if n_num_features < 0:
            raise ValueError(f"n_num_features must be >= 0, got {n_num_features}")
        if n_num_features == 0 and len(cat_cardinalities) == 0:
            raise ValueError("TabularMLP needs at least one numerical or categorical feature")
        if any(c < 1 for c in cat_cardinalities):
            raise ValueError(f"cat_cardinalities must be >= 1, got {cat_cardinalities}")
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if n_ensemble_members < 1:
            raise ValueError(f"n_ensemble_members must be >= 1, got {n_ensemble_members}")
        # As the estimator's parameter constraints: a width of 0 would build a network whose logits are a
        # constant bias, and a negative one fails inside torch without naming the argument.
        for name, size in (("d_embedding", d_embedding), ("n_frequencies", n_frequencies),
                           ("d_cat_embedding", d_cat_embedding)):
            if int(size) < 1:
                raise ValueError(f"{name} must be >= 1, got {size}")
        if any(int(width) < 1 for width in hidden_layer_sizes):
            raise ValueError(f"hidden_layer_sizes must be positive, got {tuple(hidden_layer_sizes)}")

        self.n_num_features = int(n_num_features)
        self.cat_cardinalities = cat_cardinalities
        self.n_classes = int(n_classes)
        self.n_ensemble_members = int(n_ensemble_members)
        self.num_embedding = num_embedding
        self.cat_embedding = cat_embedding

        d_in = 0
        self.num_embeddings: nn.Module | None = None
        if self.n_num_features > 0:
            if num_embedding == "plr":
                self.num_embeddings = PeriodicEmbeddings(
                    self.n_num_features,
                    d_embedding,
                    n_frequencies=n_frequencies,
                    frequency_init_scale=frequency_init_scale,
                    activation=True,
                    lite=False,
                )
                d_in += self.n_num_features * d_embedding
            elif num_embedding == "piecewise":
                if bins is None:
                    raise ValueError(
                        "num_embedding='piecewise' needs bins; compute them on the training "
                        "data with imbsk.models.tabular.piecewise_bins"
                    )
                if len(bins) != self.n_num_features:
                    raise ValueError(
                        f"got bins for {len(bins)} features, expected {self.n_num_features}"
                    )
                # Version 'B' starts as a plain linear embedding and learns the piecewise
                # part during training, which rtdl recommends over the original 'A'.
                with _single_bins_allowed():
                    self.num_embeddings = PiecewiseLinearEmbeddings(
                        bins, d_embedding, activation=False, version="B"
                    )
                d_in += self.n_num_features * d_embedding
            elif num_embedding == "none":
                d_in += self.n_num_features
            else:
                raise ValueError(
                    f"num_embedding must be 'plr', 'piecewise' or 'none', got {num_embedding!r}"
                )
        elif num_embedding not in ("plr", "piecewise", "none"):
            raise ValueError(
                f"num_embedding must be 'plr', 'piecewise' or 'none', got {num_embedding!r}"
            )

        n_cat = len(cat_cardinalities)
        total_categories = sum(cat_cardinalities)
        # Column j's codes live at rows offsets[j] .. offsets[j] + card_j - 1 of one shared
        # table (or one-hot vector), so every column is looked up in a single op.
        offsets = torch.tensor([0, *cat_cardinalities[:-1]], dtype=torch.long).cumsum(0)
        self.register_buffer("cat_offsets", offsets[:n_cat], persistent=False)
        self.total_categories = total_categories
        self.cat_embeddings: nn.Embedding | None = None
        if cat_embedding == "embedding":
            if n_cat > 0:
                self.cat_embeddings = nn.Embedding(total_categories, d_cat_embedding)
                d_in += n_cat * d_cat_embedding
        elif cat_embedding == "onehot":
            d_in += total_categories
        else:
            raise ValueError(
                f"cat_embedding must be 'embedding' or 'onehot', got {cat_embedding!r}"
            )

        if self.n_ensemble_members > 1:
            self.member_scaling = MemberScaling(self.n_ensemble_members, d_in)
        blocks: list[nn.Module] = []
        d = d_in
        for width in hidden_layer_sizes:
            blocks += [nn.Linear(d, int(width)), nn.ReLU(), nn.Dropout(dropout)]
            d = int(width)
        self.backbone = nn.Sequential(*blocks)
        self.n_features_in = d_in
        self.n_features_out = d
        if self.n_ensemble_members > 1:
            self.head = MemberHeads(self.n_ensemble_members, d, self.n_classes)
        else:
            self.head = nn.Linear(d, self.n_classes)
        if projector_dims is not None:
            self.projector = Projector(d, tuple(projector_dims))

    def _embed(self, x_num: Tensor, x_cat: Tensor) -> Tensor:
        parts: list[Tensor] = []
        if self.n_num_features > 0:
            if self.num_embeddings is None:
                parts.append(x_num)
            else:
                parts.append(self.num_embeddings(x_num).flatten(1))
        if len(self.cat_cardinalities) > 0:
            codes = x_cat + self.cat_offsets
            if self.cat_embeddings is not None:
                parts.append(self.cat_embeddings(codes).flatten(1))
            else:
                onehot = torch.zeros(
                    codes.shape[0],
                    self.total_categories,
                    dtype=self.head.bias.dtype,
                    device=codes.device,
                )
                parts.append(onehot.scatter_(1, codes, 1.0))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def forward(
        self, x_num: Tensor, x_cat: Tensor, return_features: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Compute class logits.

        Parameters
        ----------
        x_num : Tensor of shape (N, n_num_features), float
            Numerical features (the second dimension may be 0).
        x_cat : Tensor of shape (N, n_cat_features), int64
            Categorical codes in ``[0, cardinality)`` (the second dimension may be 0).
        return_features : bool, default=False
            Also return the penultimate features.

        Returns
        -------
        logits : Tensor of shape (N, n_classes)
            With ``n_ensemble_members = k > 1``: the members' logits, shape
            ``(N, k, n_classes)``, in training mode; the log of their mean
            probability in evaluation mode.
        features : Tensor of shape (N, n_features_out)
            Only when ``return_features`` is True; ``(N, k, n_features_out)`` with
            ``k > 1`` members.
        """
        if x_num.shape[1] != self.n_num_features:
            raise ValueError(f"x_num has {x_num.shape[1]} columns, expected {self.n_num_features}")
        if x_cat.shape[1] != len(self.cat_cardinalities):
            raise ValueError(
                f"x_cat has {x_cat.shape[1]} columns, expected {len(self.cat_cardinalities)}"
            )
        embedded = self._embed(x_num, x_cat)
        if self.n_ensemble_members > 1:
            embedded = self.member_scaling(embedded)
        features = self.backbone(embedded)
        logits = self.head(features)
        if self.n_ensemble_members > 1 and not self.training:
            logits = mean_member_log_proba(logits)
        if return_features:
            return logits, features
        return logits

    def project(self, features: Tensor) -> Tensor:
        """Apply the VICReg projector to penultimate ``features``, (N, d) or an ensemble's (N, k, d).

        Raises
        ------
        AttributeError
            If the model was built with ``projector_dims=None``.
        """
        if not hasattr(self, "projector"):
            raise AttributeError(
                "this TabularMLP was built without a projector (projector_dims=None)"
            )
        return self.projector(features)

    def __setstate__(self, state: dict) -> None:
        # A module pickled (inside a fitted estimator) before imbsk had member ensembles is one plain MLP.
        state.setdefault("n_ensemble_members", 1)
        super().__setstate__(state)


@contextlib.contextmanager
def _single_bins_allowed() -> Iterator[None]:
    # One bin (a binary column) is a legitimate min-max encoding; rtdl's warning about it numbers the
    # column among the numeric ones only, which a user of the estimators cannot map back.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"The \d+-th feature has just two bin edges")
        yield


def piecewise_bins(x_num: torch.Tensor, n_bins: int) -> list[torch.Tensor]:
    """Quantile bin edges of each numeric column for the piecewise-linear embeddings.

    A column with distinct values gets ``rtdl_num_embeddings.compute_bins``' edges: the
    distinct values among its ``q / n_bins`` quantiles, ``q = 0..n_bins``, with ``n_bins``
    capped at ``n_rows - 1`` (two rows give one bin between their values). A column with one
    value ``c`` in these rows (a constant or rare indicator column, e.g. inside a
    cross-validation fold) gets the single bin ``[c - 1, c + 1]``, where ``compute_bins``
    would refuse the whole table.
    """
    bins = [torch.stack([value - 1.0, value + 1.0]) for value in x_num[0]]
    varying = torch.nonzero((x_num != x_num[:1]).any(dim=0)).flatten()
    if len(varying) == 0:
        return bins
    if len(x_num) == 2:
        # compute_bins needs 1 < n_bins < n_rows.
        edges = list(torch.sort(x_num[:, varying], dim=0).values.T)
    else:
        with _single_bins_allowed():
            edges = compute_bins(x_num[:, varying], n_bins=max(2, min(n_bins, len(x_num) - 1)))
    for position, column_edges in zip(varying.tolist(), edges):
        bins[position] = column_edges
    return bins


__all__ = ["TabularMLP", "piecewise_bins"]
