"""Parameter-efficient ensembling: k members sharing one MLP backbone (TabM-mini).

A plain deep ensemble trains ``k`` networks. TabM (Gorishniy et al., 2025)
trains ``k`` members at once in one network that shares almost every weight;
its "mini" variant gives each member only

* a multiplicative adapter ``r_m`` on the backbone's input, initialised with
  random signs (the members' only difference at the start, besides their heads),
* its own linear head ``(W_m, b_m)``,

so that member ``m`` computes

    logits_m(x) = W_m f(r_m * h(x)) + b_m,

with ``h`` the feature embeddings and ``f`` the shared backbone. Each member
sees every training batch and the training loss is the mean of the members'
losses; the prediction is the mean of their probabilities,

    p(y | x) = (1 / k) sum_m softmax(logits_m(x))_y.

The mean gives each member's own parameters (``r_m``, ``W_m``, ``b_m``) only
``1/k`` of the gradient of that member's loss; they receive it whole instead
(:func:`member_gradient`), so that under SGD a learning rate means the same for
them as for the shared weights (AdamW is indifferent to the scale).

The backbone runs on ``k`` copies of each row, so a step costs about ``k`` times
the backbone's work of one network, but the parameters grow by only
``k * (d_in + n_classes * (width + 1))``.

Reference: Y. Gorishniy, A. Kotelnikov, A. Babenko. "TabM: Advancing Tabular
Deep Learning with Parameter-Efficient Ensembling". ICLR 2025.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class _ScaledGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return grad * ctx.scale, None


def member_gradient(parameter: Tensor) -> Tensor:
    """``parameter`` itself, with its gradient multiplied by the number of members (its first dimension).

    The training loss is the mean of the ``k`` members' losses; a parameter of one member
    only enters that member's loss, so its gradient is ``1/k`` of that loss's gradient.
    Scaling it by ``k`` gives it the gradient it would get were the member trained alone.
    """
    n_members = parameter.shape[0]
    if n_members == 1 or not torch.is_grad_enabled():
        return parameter
    return _ScaledGradient.apply(parameter, float(n_members))


class MemberScaling(nn.Module):
    """Per-member input adapter ``x -> r_m * x``: ``(N, d)`` to ``(N, k, d)``.

    ``r_m`` starts as random signs (+1 or -1 with equal probability), which makes
    the members differ from the first step while keeping the scale of ``x``.
    """

    def __init__(self, n_members: int, n_features: int) -> None:
        super().__init__()
        if n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {n_members}")
        signs = torch.randint(0, 2, (n_members, n_features)).float() * 2.0 - 1.0
        self.weight = nn.Parameter(signs)

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(-2) * member_gradient(self.weight)


class MemberHeads(nn.Module):
    """``k`` independent linear heads: ``(N, k, d)`` to ``(N, k, n_classes)``.

    Each head is initialised as :class:`torch.nn.Linear` initialises one,
    uniform in ``[-1/sqrt(d), 1/sqrt(d)]``.
    """

    def __init__(self, n_members: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = nn.Parameter(torch.empty(n_members, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_members, out_features).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("nkd,kdc->nkc", x, member_gradient(self.weight)) + member_gradient(self.bias)


def mean_member_log_proba(member_logits: Tensor) -> Tensor:
    """``log((1/k) sum_m softmax(logits_m))``: ``(N, k, C)`` to ``(N, C)``.

    The result is a row of log-probabilities, so ``softmax`` of it is the
    ensemble's mean probability and its cross-entropy is the ensemble's
    log-loss: it can stand wherever one network's logits stand.
    """
    n_members = member_logits.shape[-2]
    return torch.logsumexp(torch.log_softmax(member_logits, dim=-1), dim=-2) - math.log(n_members)


__all__ = ["MemberHeads", "MemberScaling", "mean_member_log_proba", "member_gradient"]
