"""Shared by the profiling scripts (profile_fit.py, profile_cnn_fit.py): cProfile one fit, or time fits interleaved.

``fit(name, X, y) -> (fitted classifier, seconds)`` is the script's own; configurations are timed in
turn within each repeat, so that a load that comes and goes hits every configuration alike.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Fit = Callable[[str, Any, Any], tuple[Any, float]]


def profile_one(fit: Fit, name: str, X: Any, y: Any, top: int) -> None:
    """Run one configuration under cProfile and print its ``top`` functions by own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    _, seconds = fit(name, X, y)
    profiler.disable()
    print(f"{name}: {seconds:.3f} s under cProfile")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def time_interleaved(
    fit: Fit, names: Sequence[str], X: Any, y: Any, X_test: Any, repeats: int, save_proba: str | None
) -> dict[str, list[float]]:
    """Fit every configuration ``repeats`` times, in turn; with ``save_proba``, save each one's first predict_proba."""
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names:
            clf, seconds = fit(name, X, y)
            times[name].append(seconds)
            if repeat == 0 and save_proba:
                os.makedirs(save_proba, exist_ok=True)
                np.save(os.path.join(save_proba, f"{name}.npy"), clf.predict_proba(X_test))
    return times


def print_medians(times: dict[str, list[float]], width: int) -> None:
    """One line per configuration: the median and every run."""
    for name, runs in times.items():
        listed = " ".join(f"{t:.3f}" for t in runs)
        print(f"{name:{width}s} {statistics.median(runs):7.3f} s   ({listed})")
