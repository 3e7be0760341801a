"""Exponential moving average (EMA) of the network weights.

The paper's image recipe (Section 4.1.1 / Appendix B) predicts with an
exponential moving average of the weights (Polyak & Juditsky 1992; Izmailov
et al. 2018):

    theta_ema <- d_t * theta_ema + (1 - d_t) * theta,    d_t = min(d, (1 + t) / (10 + t)),

after optimiser step ``t``. The warm-up ``(1 + t) / (10 + t)`` (as in
TensorFlow's ``ExponentialMovingAverage`` with ``num_updates``) keeps the
average from being dominated by the random initialisation on short runs.
Floating-point buffers (BatchNorm statistics) are averaged the same way,
integer buffers are copied.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(averaged: nn.Module, live: nn.Module, decay: float, n_updates: int) -> None:
    """One EMA step of ``averaged`` towards ``live`` (both of the same architecture).

    Parameters
    ----------
    averaged, live : nn.Module
        The averaged copy and the trained network.
    decay : float
        The target decay ``d`` in (0, 1).
    n_updates : int
        How many updates were made before this one (``t``).
    """
    effective = min(decay, (1.0 + n_updates) / (10.0 + n_updates))
    avg_params = list(averaged.parameters())
    live_params = list(live.parameters())
    torch._foreach_lerp_(avg_params, live_params, 1.0 - effective)
    float_avg, float_live = [], []
    for avg_buffer, live_buffer in zip(averaged.buffers(), live.buffers()):
        if avg_buffer.dtype.is_floating_point:
            float_avg.append(avg_buffer)
            float_live.append(live_buffer)
        else:
            avg_buffer.copy_(live_buffer)
    if float_avg:
        torch._foreach_lerp_(float_avg, float_live, 1.0 - effective)
