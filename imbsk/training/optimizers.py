"""The optimiser's update in one pass over the weights: PyTorch's fused kernels where the device has one.

A for-loop SGD step with momentum ``mu`` and weight decay ``lambda`` reads and writes every weight tensor
once per operation::

    d = g + lambda * theta,    b = mu * b + d,    theta = theta - lr * b

(AdamW: more). ``torch.optim``'s fused kernels do all of them in one pass over each tensor. Once the matrix
products are cheap (bfloat16 on CPUs with AMX units), an MLP step at a small batch is largely such passes over
its weights, and the fused kernel makes the optimiser's share of it two to five times cheaper: on Otto's
3 x 1024 network (3.8 million weights, one Intel Xeon core, PyTorch 2.13) an SGD step took 6.5 ms for-loop and
2.0 ms fused, an AdamW step 15.2 ms and 3.3 ms; whole Otto and Adult fits ran 7-12% faster (docs/performance.md).

The fused kernels compute the same update as the for-loop up to rounding: on a CPU, fused SGD's weights equal
the for-loop's bit for bit on large tensors and differ in the last bit on a few entries of small ones (tensors
of 7 and 165 entries in our check), fused AdamW's here and there. Training amplifies such differences, so a
seed's fit is not the one the for-loop would have given, as on another CPU. Accuracy is as good on average (Adult
25 paired seeds, Otto 10); Otto's test log-loss came out 0.0026 +- 0.0010 higher over ten paired seeds, half of
it through the epoch early stopping keeps, while no validation figure moved (docs/performance.md).
Fused kernels exist on CPU since PyTorch 2.4 and on CUDA; elsewhere the for-loop is kept.
"""

from __future__ import annotations

from functools import lru_cache

import torch


def fused_optimizer_kwargs(optimizer_class: type[torch.optim.Optimizer], device: torch.device | str) -> dict[str, bool]:
    """``{'fused': True}`` if ``optimizer_class`` has a fused kernel for ``device``, else ``{}``.

    Parameters
    ----------
    optimizer_class : type
        A ``torch.optim`` optimiser class, e.g. ``torch.optim.SGD``.
    device : torch.device or str
        The device the parameters live on.

    Returns
    -------
    kwargs : dict
        Keyword arguments to add to the optimiser's.
    """
    return {"fused": True} if _has_fused_kernel(optimizer_class, torch.device(device).type) else {}


@lru_cache(maxsize=None)
def _has_fused_kernel(optimizer_class: type[torch.optim.Optimizer], device_type: str) -> bool:
    # Asking the optimiser is the one test that follows PyTorch's versions and devices: it refuses
    # fused=True when its kernel is missing (TypeError before the argument existed, RuntimeError after).
    try:
        probe = torch.zeros(1, device=device_type, requires_grad=True)
        optimizer_class([probe], lr=0.1, fused=True)
    except (TypeError, RuntimeError, ValueError):
        return False
    return True
