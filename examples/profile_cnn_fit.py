"""Time (or profile) one-epoch ImbalancedCNNClassifier fits on synthetic long-tailed 32x32 RGB images.

Data: 2,040 uint8 images ``(N, 32, 32, 3)``, 10 classes with the exponential long-tailed counts
``long_tailed_counts(500, 10, 0.1)`` (500 ... 50), fixed seed; each class has its own mean colour and
a smooth random pattern plus pixel noise, so that the histogram operations see realistic images. Every
fit is one epoch (32 steps at batch 64) on the CPU with the estimator's defaults (SGD, EMA 0.999, no
validation split) apart from the architecture, augmentation, mixing and the two techniques:

    OMP_NUM_THREADS=1 python examples/profile_cnn_fit.py --repeats 5
    OMP_NUM_THREADS=1 python examples/profile_cnn_fit.py --profile r8_ta_cutmix    # cProfile, top functions
    OMP_NUM_THREADS=1 python examples/profile_cnn_fit.py --save-proba DIR          # predict_proba per config,
                                                                                   # for bitwise checks
    OMP_NUM_THREADS=1 python examples/profile_cnn_fit.py --augment-only            # the augmentations alone

Each repeat runs every configuration once (interleaved); the median (and every run) is printed; the
default 3 repeats took 2 min 54 s on the 2-core Xeon of docs/performance.md. The
augmentation timing applies the module the estimator builds (``build_image_augmentation(name, (32, 32))``)
to one batch of 64 images, interleaved over the augmentations, and reports the median per batch and per
epoch (x 32 batches), which gives the augmentation's share of a fit.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import kornia
import numpy as np
import torch

from _timing import print_medians, profile_one, time_interleaved

from imbsk import ImbalancedCNNClassifier
from imbsk.augment.vision import AUGMENTATION_NAMES, build_image_augmentation
from imbsk.datasets import long_tailed_counts

BATCH_SIZE = 64
BASE = dict(architecture="resnet8", augmentation="none", mixing=None, batch_size=BATCH_SIZE, max_iter=1,
            device="cpu", random_state=0)
CONFIGS = {
    "r8_none": {},
    "r8_flipcrop": {"augmentation": "flip_crop"},
    "r8_ta": {"augmentation": "trivialaugment"},
    "r8_aa": {"augmentation": "autoaugment"},
    "r8_ta_cutmix": {"augmentation": "trivialaugment", "mixing": "cutmix"},
    "r8_ta_cutmix_sam": {"augmentation": "trivialaugment", "mixing": "cutmix", "sam_asymmetric_rho": 0.05},
    "r8_ta_cutmix_ssl": {"augmentation": "trivialaugment", "mixing": "cutmix", "joint_ssl_weight": 0.1},
    "r32_none": {"architecture": "resnet32"},
    "r32_ta_cutmix": {"architecture": "resnet32", "augmentation": "trivialaugment", "mixing": "cutmix"},
}


def synthetic_images(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Long-tailed training images and a balanced test set of 200 images (uint8, NHWC)."""
    rng = np.random.default_rng(seed)
    counts = long_tailed_counts(500, 10, 0.1)
    colours = rng.uniform(40, 215, size=(10, 3))

    def draw(labels: np.ndarray) -> np.ndarray:
        n = len(labels)
        # a smooth 4x4 pattern upsampled to 32x32, per image and channel, plus pixel noise
        coarse = rng.normal(0.0, 40.0, size=(n, 4, 4, 3))
        pattern = coarse.repeat(8, axis=1).repeat(8, axis=2)
        noise = rng.normal(0.0, 15.0, size=(n, 32, 32, 3))
        return np.clip(colours[labels][:, None, None, :] + pattern + noise, 0, 255).astype(np.uint8)

    y_train = rng.permutation(np.repeat(np.arange(10), counts))
    y_test = np.repeat(np.arange(10), 20)
    return draw(y_train), y_train, draw(y_test), y_test


def cpu_name() -> str:
    """The CPU's model name (as ``lscpu`` shows it) where /proc/cpuinfo exists, else the platform's word."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fit(name: str, X, y) -> tuple[ImbalancedCNNClassifier, float]:
    clf = ImbalancedCNNClassifier(**{**BASE, **CONFIGS[name]})
    started = time.perf_counter()
    clf.fit(X, y)
    return clf, time.perf_counter() - started


def time_augmentations(X: np.ndarray, repeats: int, calls: int = 20) -> None:
    """Median seconds per batch of each augmentation module, applied to 64 images as the estimator does."""
    batch = torch.from_numpy(X[:BATCH_SIZE].transpose(0, 3, 1, 2) / np.float32(255.0)).float().contiguous()
    modules = {name: build_image_augmentation(name, (32, 32)) for name in AUGMENTATION_NAMES if name != "none"}
    times: dict[str, list[float]] = {name: [] for name in modules}
    torch.manual_seed(0)
    for module in modules.values():  # warm-up
        module(batch)
    for _ in range(repeats):
        for name, module in modules.items():
            started = time.perf_counter()
            for _ in range(calls):
                module(batch)
            times[name].append((time.perf_counter() - started) / calls)
    steps = -(-int(long_tailed_counts(500, 10, 0.1).sum()) // BATCH_SIZE)
    print(f"augmentation alone, batch of {BATCH_SIZE}, {calls} calls per repeat; median of {repeats} (spread)")
    for name, runs in times.items():
        med = statistics.median(runs)
        print(f"{name:15s} {1e3 * med:7.2f} ms/batch  {steps * med:6.3f} s/epoch ({steps} batches)"
              f"   [{1e3 * min(runs):.2f} .. {1e3 * max(runs):.2f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated configurations to time (default: all of {', '.join(CONFIGS)})")
    parser.add_argument("--repeats", type=int, default=3, help="fits per configuration; the median is reported")
    parser.add_argument("--profile", choices=list(CONFIGS), help="run one configuration under cProfile instead")
    parser.add_argument("--save-proba", metavar="DIR", help="save each configuration's predict_proba here")
    parser.add_argument("--augment-only", action="store_true", help="time the augmentation modules alone")
    args = parser.parse_args()
    names = args.configs.split(",")
    unknown = [name for name in names if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown --configs {unknown}; choose from {', '.join(CONFIGS)}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    torch.set_num_threads(1)
    X, y, X_test, _ = synthetic_images()
    print(f"{cpu_name()} ({os.cpu_count()} logical CPUs), torch {torch.__version__}, kornia {kornia.__version__}, "
          f"{torch.get_num_threads()} thread(s); {len(X)} training images, batch {BATCH_SIZE}")
    if args.augment_only:
        time_augmentations(X, max(args.repeats, 5))
        return
    # Warm-up on the full data: the first full-size fit of a process runs some 20-30% slower.
    fit("r8_ta_cutmix", X, y)
    if args.profile:
        profile_one(fit, args.profile, X, y, top=30)
        return
    times = time_interleaved(fit, names, X, y, X_test, args.repeats, args.save_proba)
    print(f"one-epoch fit time, median of {args.repeats} (all runs)")
    print_medians(times, width=18)

if __name__ == "__main__":
    main()
