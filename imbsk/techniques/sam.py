"""SAM-Asymmetric (SAM-A): sharpness-aware minimisation with a class-dependent ascent radius.

SAM (Foret et al. 2021; paper Appendix A.6, Eq. 3-4) takes the descent
gradient at an adversarially perturbed point:

    g_hat = grad L(theta) / ||grad L(theta)||_2,    theta <- theta - lr * grad L(theta + rho * g_hat).

SAM-A (paper Section 3.2) gives each class ``c`` its own radius ``rho_c``
(larger for minority classes, see :mod:`imbsk.techniques.class_scaling`), so
that the gradient contributed by class-``c`` samples is taken at
``theta + rho_c * g_hat``:

    G = sum_c grad L_c(theta + rho_c * g_hat).

Done naively this needs one perturbed forward/backward pass per class. imbsk
takes one perturbed pass, at the largest radius ``r = max_c rho_c``, and
interpolates each class's gradient linearly between ``theta`` and that point,
with ``w_c = rho_c / r`` in ``[0, 1]``:

    pass 1 (at theta, one forward, two backward):
        g_hat = grad L(theta) / ||grad L(theta)||              (the paper's direction)
        g_1   = grad sum_c (1 - w_c) L_c(theta)
    pass 2 (at theta + r g_hat):
        g_2   = grad sum_c w_c L_c(theta + r g_hat)
    G = g_1 + g_2 = sum_c [(1 - w_c) grad L_c(theta) + w_c grad L_c(theta + r g_hat)]
      = sum_c grad L_c(theta + rho_c g_hat) - sum_c w_c (1 - w_c) r^2 / 2 * D^3 L_c[g_hat, g_hat] + O(r^3).

The step is exact for every class whose radius is the largest (``w_c = 1``),
the error of the others is second order with the factor ``w_c (1 - w_c) <= 1/4``,
and it vanishes continuously as the radii approach each other: with every
radius equal (balanced data, ``class_scaling='uniform'``) ``g_1 = 0`` and the
step is *exactly* SAM, one backward pass at ``theta`` for ``g_hat`` and the
descent gradient at ``theta + rho g_hat``. Unequal radii cost one more backward
pass through the graph of pass 1 than plain SAM (two forward, three backward
passes per step). The error grows with ``r^2``: with radii spread over a factor
of 100 (``'inverse_frequency'`` at imbalance 100) the majority class's gradient
is interpolated over a hundred times its own radius, and no two-point
interpolation is accurate there; the default rule spreads them over a factor of
10 at that imbalance.

(Until imbsk 0.1 / commit ``63a49a4`` the anchor was ``2 r`` and ``g_hat`` came from the
``(1 - w_c)``-weighted loss, which saved the extra backward pass but left a
first-order error in the direction and an error that did not vanish as the radii
approached each other: 5-11% of the SAM shift on a small MLP at near-balanced counts.)

The ``'official'`` rule of the authors' code keeps one radius and weights the
ascent loss by ``n_max / n_c``: pass 1 uses those class weights, pass 2 is the
plain loss, again exactly two passes. With every radius 0 there is no ascent
and the step is one pass of the plain (descent-weighted) gradient, ``G = grad L(theta)``,
under every rule.

An optional class-independent loss term (the Joint-SSL loss) is in the direction
with weight 1 and is treated as one more "class" whose radius is the smallest class radius: the base ``rho`` under
every rule except ``'paper'``, whose smallest multiplier (the rarest class's
``1 / (1 - p_min)``) exceeds 1.
BatchNorm running statistics are frozen during the second pass so that they
are updated once per step, as in an ERM step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

# objective([(class_weights (K,) tensor, extra_term_weight), ...]) -> one scalar loss per weighting, all from
# one forward pass at the current parameters
Objective = Callable[[Sequence[tuple[Tensor, float]]], list[Tensor]]


@contextlib.contextmanager
def frozen_batchnorm_statistics(module: nn.Module) -> Iterator[None]:
    """Keep BatchNorm running statistics unchanged inside the block.

    With momentum 0 the update ``running = (1 - m) running + m batch`` is the
    identity; the batch counter is restored too.
    """
    saved = []
    for layer in module.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm) and layer.track_running_stats:
            counter = None if layer.num_batches_tracked is None else layer.num_batches_tracked.clone()
            saved.append((layer, layer.momentum, counter))
            layer.momentum = 0.0
    try:
        yield
    finally:
        for layer, momentum, counter in saved:
            layer.momentum = momentum
            if counter is not None:
                layer.num_batches_tracked.copy_(counter)


class AsymmetricSAM:
    """Two-pass SAM-A gradient computation.

    Parameters
    ----------
    class_radii : array-like of shape (n_classes,)
        ``rho_c`` for each encoded class.
    ascent_weights : array-like of shape (n_classes,), default=None
        Extra per-class weights of the ascent loss (the ``'official'`` rule);
        None means ones.

    Notes
    -----
    The per-class tensors live on the training device and are rebuilt on
    demand, so a pickled estimator never carries device tensors here.
    """

    def __init__(self, class_radii: Sequence[float], ascent_weights: Sequence[float] | None = None) -> None:
        radii = np.asarray(class_radii, dtype=np.float64)
        if radii.ndim != 1 or np.any(radii < 0) or not np.all(np.isfinite(radii)):
            raise ValueError(f"class_radii must be non-negative and finite, got {radii.tolist()}.")
        self.class_radii = radii
        self.ascent_weights = np.ones_like(radii) if ascent_weights is None else np.asarray(ascent_weights, dtype=np.float64)
        self.uniform = bool(np.all(radii == radii[0]))
        #: The perturbation radius of pass 2: the largest class radius.
        self.radius = float(radii.max())
        descent = radii / self.radius if self.radius > 0 else np.ones_like(radii)
        # Each class's share of G: (1 - w_c) of its gradient at theta (kept from pass 1), w_c at theta + r g_hat.
        self._kept, self._perturbed = 1.0 - descent, descent
        extra = float(radii.min()) / self.radius if self.radius > 0 else 1.0
        self._extra_kept, self._extra_perturbed = 1.0 - extra, extra
        self._device_weights: dict[torch.device, tuple[Tensor, Tensor, Tensor]] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_device_weights"] = {}
        return state

    def _weights(self, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        if device not in self._device_weights:
            self._device_weights[device] = tuple(  # type: ignore[assignment]
                torch.as_tensor(weights, dtype=torch.float32, device=device)
                for weights in (self.ascent_weights, self._kept, self._perturbed)
            )
        return self._device_weights[device]

    def compute_gradients(self, params: list[Tensor], objective: Objective, module: nn.Module) -> None:
        """Leave the SAM-A descent gradient ``G`` in ``p.grad`` for every parameter.

        Parameters
        ----------
        params : list of Tensor
            The trainable parameters; their ``.grad`` must be None or zero.
        objective : callable
            ``objective([(class_weights, extra_weight), ...])`` runs one forward pass at
            the current parameters and returns, for each weighting, the scalar loss
            ``mean_i(class_weights[y_i] * l_i) + extra_weight * extra_term``
            (``l_i`` already multiplied by the sample's weight, if any).
        module : nn.Module
            The network (to freeze its BatchNorm statistics during pass 2).
        """
        device = params[0].device
        ascent, kept, perturbed = self._weights(device)
        if self.radius == 0.0:
            # No perturbation: G is the plain gradient at theta (plain SGD). The ascent weights
            # (the 'official' n_max / n_c) only steer a direction, so they must not leak into the step.
            objective([(perturbed, self._extra_perturbed)])[0].backward()
            return

        keeps_a_share = not self.uniform
        losses = objective([(ascent, 1.0)] + ([(kept, self._extra_kept)] if keeps_a_share else []))
        losses[0].backward(retain_graph=keeps_a_share)
        direction = [p.grad for p in params]
        live = [(p, g) for p, g in zip(params, direction) if g is not None]
        if not live:
            return
        live_params = [p for p, _ in live]
        live_grads = [g for _, g in live]
        grad_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(live_grads)))
        step = torch._foreach_mul(live_grads, self.radius / (grad_norm + 1e-12))
        for p in params:
            p.grad = None
        share_at_theta: list[Tensor | None] = [None] * len(params)
        if keeps_a_share:
            losses[1].backward()
            share_at_theta = [p.grad for p in params]
            for p in params:
                p.grad = None
        with torch.no_grad():
            torch._foreach_add_(live_params, step)
        try:
            with frozen_batchnorm_statistics(module):
                objective([(perturbed, self._extra_perturbed)])[0].backward()
        finally:
            with torch.no_grad():
                torch._foreach_sub_(live_params, step)
        for p, g in zip(params, share_at_theta):
            if g is not None:
                if p.grad is None:
                    p.grad = g
                else:
                    p.grad.add_(g)
