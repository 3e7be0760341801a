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
interpolates each class's gradient linearly along the ascent direction
instead, with one perturbed pass. Two steps are offered (``step``):

``'fast'`` (the default; the estimators' ``sam_asymmetric_step='fast'``): the
two forward/backward passes of plain SAM. With an anchor ``s = 2 * max_c rho_c``
and ``w_c = rho_c / s`` in ``(0, 1/2]``:

    pass 1 (at theta):           g_1 = grad sum_c (1 - w_c) L_c(theta),   g_hat = g_1 / ||g_1||
    pass 2 (at theta + s g_hat): g_2 = grad sum_c w_c L_c(theta + s g_hat)
    G = g_1 + g_2 = sum_c [(1 - w_c) grad L_c(theta) + w_c grad L_c(theta + s g_hat)]

The ascent direction is the gradient of the loss weighted by ``1 - w_c`` (in
``[1/2, 1)``), not ``grad L(theta)``, and every class's gradient is
interpolated, the largest radius's too (at the midpoint of ``[theta, theta +
s g_hat]``). Against the per-class contract with the paper's direction the
step is off at first order: 3-38% of the SAM shift on a small MLP
(``tests/test_sam.py``), 15% for radii ``(0.05, 0.1, 0.2)``. With radii that
differ at all it is not SAM, however close they are (3% of the SAM shift at
radii 0.1% apart on that MLP); only equal radii give exactly SAM.

``'faithful'``: one forward and two backward passes at ``theta``, one
forward/backward pass at the largest radius ``r = max_c rho_c``, ``w_c = rho_c / r``
in ``[0, 1]``:

    pass 1 (at theta):        g_hat = grad L(theta) / ||grad L(theta)||       (the paper's direction)
                              g_1   = grad sum_c (1 - w_c) L_c(theta)
    pass 2 (at theta + r g_hat): g_2 = grad sum_c w_c L_c(theta + r g_hat)
    G = g_1 + g_2 = sum_c grad L_c(theta + rho_c g_hat) + sum_c w_c (1 - w_c) r^2 / 2 * D^3 L_c[g_hat, g_hat] + O(r^3).

(The interpolation's second-order term is ``w_c r^2 / 2 * D^3 L_c[g_hat, g_hat]``, the exact
gradient's ``w_c^2 r^2 / 2`` times the same; their difference is the term above.) Exact for every
class of the largest radius, second order (factor ``w_c (1 - w_c) <= 1/4``) for the others, and
continuous at balance: 0-2.5% of the SAM shift on the same MLP. The third backward pass costs time (Adult
benchmark: 31% longer fits, and no better accuracy; docs/benchmarks.md, twenty-first run).
Both steps lose accuracy as the radii spread: a factor of 100 between them
(``'inverse_frequency'`` at imbalance 100) interpolates the majority class's
gradient over a hundred times its own radius.

With every radius equal (balanced data, ``class_scaling='uniform'``) both steps
are *exactly* SAM: one pass at ``theta`` for ``g_hat`` and the descent gradient
at ``theta + rho g_hat``.

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

#: The steps :class:`AsymmetricSAM` offers (see the module docstring).
SAM_STEPS = ("fast", "faithful")
#: Anchor radius of the ``'fast'`` step's interpolation, in units of the largest class radius.
FAST_STEP_ANCHOR = 2.0

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
        None means ones. They shape the ascent direction only, never ``G``'s share
        at ``theta`` (with unequal radii the ``'fast'`` step then takes one more backward pass).
    step : {'fast', 'faithful'}, default='fast'
        How unequal radii are handled (module docstring): two forward/backward
        passes with an anchor at twice the largest radius, or the paper's ascent
        direction with one more backward pass, exact for the largest radius.

    Notes
    -----
    The per-class tensors live on the training device and are rebuilt on
    demand, so a pickled estimator never carries device tensors here.
    """

    def __init__(
        self,
        class_radii: Sequence[float] | np.ndarray,
        ascent_weights: Sequence[float] | np.ndarray | None = None,
        step: str = "fast",
    ) -> None:
        radii = np.asarray(class_radii, dtype=np.float64)
        if radii.ndim != 1 or radii.size == 0 or np.any(radii < 0) or not np.all(np.isfinite(radii)):
            raise ValueError(f"class_radii must be non-empty, 1-D, non-negative and finite, got {radii.tolist()}.")
        if step not in SAM_STEPS:
            raise ValueError(f"step must be one of {SAM_STEPS}, got {step!r}.")
        self.class_radii = radii
        self.step = step
        self.ascent_weights = np.ones_like(radii) if ascent_weights is None else np.asarray(ascent_weights, dtype=np.float64)
        # A shorter vector would broadcast silently (one weight for every class) and a negative one would turn
        # that class's ascent into a descent.
        if self.ascent_weights.shape != radii.shape:
            raise ValueError(
                f"ascent_weights must have one entry per class radius, shape {radii.shape}, "
                f"got {self.ascent_weights.shape}."
            )
        if np.any(self.ascent_weights < 0) or not np.all(np.isfinite(self.ascent_weights)):
            raise ValueError(f"ascent_weights must be non-negative and finite, got {self.ascent_weights.tolist()}.")
        # Relative only: numpy's default absolute tolerance (1e-8) would call radii of 1e-9 and 4e-9 equal.
        self.uniform = bool(np.allclose(radii, radii[0], atol=0.0))
        ones = np.ones_like(radii)
        # (class weights, weight of the extra term) of: the ascent direction, the share of G kept from pass 1
        # (None: nothing kept), and pass 2.
        self._kept: tuple[np.ndarray, float] | None
        if self.uniform:
            self.radius = float(radii[0])
            self._direction, self._kept, self._perturbed = (self.ascent_weights, 1.0), None, (ones, 1.0)
        elif step == "fast":
            self.radius = FAST_STEP_ANCHOR * float(radii.max())
            w, w_extra = radii / self.radius, float(radii.min()) / self.radius
            self._direction = ((1.0 - w) * self.ascent_weights, 1.0 - w_extra)
            # The direction's gradient is also G's share at theta, unless ascent weights (which only steer the
            # direction) make the two differ: then the share takes its own backward pass, as in 'faithful'.
            unit_ascent = bool(np.all(self.ascent_weights == 1.0))
            self._kept = self._direction if unit_ascent else (1.0 - w, 1.0 - w_extra)
            self._perturbed = (w, w_extra)
        else:
            self.radius = float(radii.max())
            w, w_extra = radii / self.radius, float(radii.min()) / self.radius
            self._direction, self._kept = (self.ascent_weights, 1.0), (1.0 - w, 1.0 - w_extra)
            self._perturbed = (w, w_extra)
        self._device_weights: dict[torch.device, dict[str, tuple[Tensor, float]]] = {}

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_device_weights"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        if "_pass1" in state:
            # Pickled before imbsk had two steps: that object's weights were the 'fast' step's.
            fresh = AsymmetricSAM(state["class_radii"], state.get("ascent_weights"), "fast")
            state = fresh.__dict__
        self.__dict__.update(state)

    def _weights(self, device: torch.device) -> dict[str, tuple[Tensor, float]]:
        if device not in self._device_weights:
            parts = {"direction": self._direction, "perturbed": self._perturbed}
            if self._kept is not None and self._kept is not self._direction:
                parts["kept"] = self._kept
            self._device_weights[device] = {
                name: (torch.as_tensor(weights, dtype=torch.float32, device=device), float(extra))
                for name, (weights, extra) in parts.items()
            }
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
        weights = self._weights(params[0].device)
        if self.radius == 0.0:
            # No perturbation: G is the plain gradient at theta (plain SGD). The ascent weights
            # (the 'official' n_max / n_c) only steer a direction, so they must not leak into the step.
            objective([weights["perturbed"]])[0].backward()
            return

        separate_share = "kept" in weights
        losses = objective([weights["direction"]] + ([weights["kept"]] if separate_share else []))
        losses[0].backward(retain_graph=separate_share)
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
        share_at_theta: list[Tensor | None] = [None] * len(params)
        if separate_share:
            losses[1].backward()
            share_at_theta = [p.grad for p in params]
            for p in params:
                p.grad = None
        elif self._kept is not None:
            share_at_theta = first
        with torch.no_grad():
            torch._foreach_add_(live_params, step)
        try:
            with frozen_batchnorm_statistics(module):
                objective([weights["perturbed"]])[0].backward()
        finally:
            with torch.no_grad():
                torch._foreach_sub_(live_params, step)
        summed, kept = [], []
        for p, g in zip(params, share_at_theta):
            if g is None:
                continue
            if p.grad is None:
                p.grad = g
            else:
                summed.append(p.grad)
                kept.append(g)
        if summed:
            torch._foreach_add_(summed, kept)
