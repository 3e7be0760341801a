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
gets it in the two passes of plain SAM by linear interpolation along the ascent
direction. With an anchor radius ``s = 2 * max_c rho_c`` and ``w_c = rho_c / s``:

    pass 1 (at theta):        g_1 = grad sum_c (1 - w_c) L_c(theta),   g_hat = g_1 / ||g_1||
    pass 2 (at theta + s g_hat): g_2 = grad sum_c w_c L_c(theta + s * g_hat)
    G = g_1 + g_2 = sum_c [(1 - w_c) grad L_c(theta) + w_c grad L_c(theta + s g_hat)]
      = sum_c grad L_c(theta + rho_c g_hat) + O(rho^2),

because ``grad L_c`` is linear in the radius to first order. The ascent
direction is the gradient of the loss with class weights ``1 - w_c``, which lie
in ``[1/2, 1)``: with unequal radii this ``g_hat`` is not the direction of
``grad L(theta)`` above, so the O(rho^2) agreement is with the per-class contract
evaluated along this ``g_hat``; against the plain-loss direction the step differs
at first order in rho (on a small MLP with counts 18/8/4, by about 30% of the
SAM shift). When every class has the same radius (balanced data, or
``class_scaling='uniform'``) the step is *exactly* SAM: one pass at ``theta``
for ``g_hat`` and the descent gradient at ``theta + rho * g_hat``.

The ``'official'`` rule of the authors' code keeps one radius and weights the
ascent loss by ``n_max / n_c``: pass 1 uses those class weights, pass 2 is the
plain loss, again exactly two passes. With every radius 0 there is no ascent
and the step is one pass of the plain (descent-weighted) gradient, ``G = grad L(theta)``,
under every rule.

An optional class-independent loss term (the Joint-SSL loss) is treated as one
more "class" whose radius is the smallest class radius: the base ``rho`` under
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

#: Anchor radius of the interpolation, in units of the largest class radius.
INTERPOLATION_ANCHOR = 2.0

# objective(class_weights (K,) tensor, extra_term_weight float) -> scalar tensor
Objective = Callable[[Tensor, float], Tensor]


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
        self.uniform = bool(np.allclose(radii, radii[0]))
        if self.uniform:
            self.radius = float(radii[0])
            self._pass1, self._pass2 = self.ascent_weights, np.ones_like(radii)
            self._extra1, self._extra2 = 1.0, 1.0
        else:
            self.radius = INTERPOLATION_ANCHOR * float(radii.max())
            descent = radii / self.radius
            self._pass1, self._pass2 = (1.0 - descent) * self.ascent_weights, descent
            extra = float(radii.min()) / self.radius
            self._extra1, self._extra2 = 1.0 - extra, extra
        self._device_weights: dict[torch.device, tuple[Tensor, Tensor]] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_device_weights"] = {}
        return state

    def _weights(self, device: torch.device) -> tuple[Tensor, Tensor]:
        if device not in self._device_weights:
            self._device_weights[device] = (
                torch.as_tensor(self._pass1, dtype=torch.float32, device=device),
                torch.as_tensor(self._pass2, dtype=torch.float32, device=device),
            )
        return self._device_weights[device]

    def compute_gradients(self, params: list[Tensor], objective: Objective, module: nn.Module) -> None:
        """Leave the SAM-A descent gradient ``G`` in ``p.grad`` for every parameter.

        Parameters
        ----------
        params : list of Tensor
            The trainable parameters; their ``.grad`` must be None or zero.
        objective : callable
            ``objective(class_weights, extra_weight)`` runs a forward pass at the
            current parameters and returns the scalar loss
            ``mean_i(class_weights[y_i] * l_i) + extra_weight * extra_term``
            (``l_i`` already multiplied by the sample's weight, if any).
        module : nn.Module
            The network (to freeze its BatchNorm statistics during pass 2).
        """
        device = params[0].device
        weights1, weights2 = self._weights(device)
        if self.radius == 0.0:
            # No perturbation: G is the descent-pass gradient at theta (plain SGD). The
            # ascent weights (the 'official' n_max / n_c) only steer a direction, so they
            # must not leak into the step when there is no ascent.
            objective(weights2, self._extra2).backward()
            return

        objective(weights1, self._extra1).backward()
        first = [p.grad for p in params]
        live = [(p, g) for p, g in zip(params, first) if g is not None]
        if not live:
            return
        live_params = [p for p, _ in live]
        live_grads = [g for _, g in live]
        grad_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(live_grads)))
        step = torch._foreach_mul(live_grads, self.radius / (grad_norm + 1e-12))
        for p in params:
            p.grad = None
        with torch.no_grad():
            torch._foreach_add_(live_params, step)
        try:
            with frozen_batchnorm_statistics(module):
                objective(weights2, self._extra2).backward()
        finally:
            with torch.no_grad():
                torch._foreach_sub_(live_params, step)
        if not self.uniform:
            # the interpolation keeps the first-pass gradient as the (1 - w_c) part of G
            for p, g in live:
                if p.grad is None:
                    p.grad = g
                else:
                    p.grad.add_(g)
