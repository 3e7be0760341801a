"""Time one optimiser step, for-loop against fused, on the parameters of the benchmark networks.

The networks are the shipped Otto model's (MLP-PLR 3 x 1024 over 93 features, 3.8 million weights) and the
shipped Adult model's (MLP-PLR 2 x 160, categorical embeddings of 16); each gets random gradients, and SGD
(momentum 0.9, weight decay 5e-4) and AdamW (weight decay 1e-2) step it ``--steps`` times per measurement,
for-loop (``foreach=False``, PyTorch's CPU default), ``foreach=True`` and ``fused=True``, in turn within each
of ``--repeats`` rounds; the median per step is printed:

    OMP_NUM_THREADS=1 python examples/optimizer_step.py --repeats 5

The estimators use the fused kernel where the device has one (imbsk.training.optimizers).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from imbsk.models.tabular import TabularMLP
from imbsk.training.allocator import retain_freed_cpu_memory
from imbsk.training.optimizers import fused_optimizer_kwargs

NETWORKS = {
    "otto 3 x 1024": lambda: TabularMLP(93, [], 9, d_embedding=16, n_frequencies=58, hidden_layer_sizes=(1024,) * 3),
    "adult 2 x 160": lambda: TabularMLP(
        6, [10, 17, 8, 16, 7, 6, 3, 43], 2, d_embedding=40, n_frequencies=80, hidden_layer_sizes=(160, 160),
        d_cat_embedding=16,
    ),
}
OPTIMIZERS = {
    "SGD": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}),
    "AdamW": (torch.optim.AdamW, {"lr": 1e-3, "weight_decay": 1e-2}),
}
MODES = {"for-loop": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def time_steps(optimizer: torch.optim.Optimizer, steps: int) -> float:
    """Milliseconds per ``optimizer.step()``, after two warm-up steps (which create the state)."""
    for _ in range(2):
        optimizer.step()
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.step()
    return 1000 * (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    retain_freed_cpu_memory()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    for network_name, build in NETWORKS.items():
        params = list(build().parameters())
        for parameter in params:
            parameter.grad = torch.randn_like(parameter)
        print(f"{network_name}: {sum(p.numel() for p in params):,} weights in {len(params)} tensors")
        for optimizer_name, (optimizer_class, kwargs) in OPTIMIZERS.items():
            modes = dict(MODES)
            if not fused_optimizer_kwargs(optimizer_class, "cpu"):
                del modes["fused"]
            times: dict[str, list[float]] = {mode: [] for mode in modes}
            for _ in range(args.repeats):
                for mode, mode_kwargs in modes.items():
                    # fresh copies: every mode steps the same weights from the same start
                    copies = [p.detach().clone().requires_grad_() for p in params]
                    for copy, parameter in zip(copies, params):
                        copy.grad = parameter.grad
                    times[mode].append(time_steps(optimizer_class(copies, **kwargs, **mode_kwargs), args.steps))
            medians = {mode: statistics.median(runs) for mode, runs in times.items()}
            listed = "   ".join(f"{mode} {ms:6.3f} ms" for mode, ms in medians.items())
            print(f"  {optimizer_name:5s} {listed}")


if __name__ == "__main__":
    main()
