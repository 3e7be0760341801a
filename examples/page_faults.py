"""Time Otto fits with and without imbsk.training.allocator.retain_freed_cpu_memory, in fresh processes.

Each pair of fits runs the shipped Otto model (``examples/configs/otto-mlp_sam_ls.json``: MLP-PLR 3 x 1024,
SGD, batch 64, SAM-A, smoothing, EMA, bfloat16) on the first ``--rows`` training rows for ``--epochs``
epochs, without a validation split, once in a process left to glibc's defaults and once in a process that
called ``retain_freed_cpu_memory()`` first; the order alternates between pairs. A process reports its fit
time, its minor page faults and a hash of its test-split ``predict_proba``; the script prints every pair,
the medians, and whether the probabilities were bitwise identical:

    OMP_NUM_THREADS=1 python examples/page_faults.py --data-home ../shared/data --rows 6400 --pairs 5
    OMP_NUM_THREADS=1 python examples/page_faults.py --data-home ../shared/data --pairs 3     # all 39,601 rows

Do not set ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` for it: with either set,
``retain_freed_cpu_memory`` leaves glibc alone and both processes run alike.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "configs" / "otto-mlp_sam_ls.json"
MODES = ("default", "retain")


def child(mode: str, rows: int | None, epochs: int, data_home: str | None) -> None:
    """One fit in this process; prints one JSON line."""
    import torch

    from imbsk.training.allocator import retain_freed_cpu_memory

    applied = retain_freed_cpu_memory() if mode == "retain" else False
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    from imbsk import ImbalancedMLPClassifier
    from imbsk.datasets import load_otto

    data = load_otto(data_home=data_home)
    X, y = data.X_train, data.y_train
    if rows is not None:
        X, y = X.iloc[:rows], y.iloc[:rows]
    params = json.loads(CONFIG.read_text())["params"]
    params.update(max_iter=epochs, verbose=0, random_state=0, device="cpu", validation_fraction=None)
    clf = ImbalancedMLPClassifier(**params)
    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    started = time.perf_counter()
    clf.fit(X, y)
    seconds = time.perf_counter() - started
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before
    proba = clf.predict_proba(data.X_test)
    digest = hashlib.sha256(proba.tobytes()).hexdigest()[:16]
    print(json.dumps({"mode": mode, "applied": applied, "fit_s": seconds, "faults": faults, "proba": digest}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="directory of otto_train.csv.gz (else $IMBSK_DATA)")
    parser.add_argument("--rows", type=int, default=None, help="first training rows to fit (default: all)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=3, help="pairs of fits, one of each mode, order alternating")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows, args.epochs, args.data_home)
        return 0
    glibc_settings = [name for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_") if name in os.environ]
    if glibc_settings:
        parser.error(f"unset {', '.join(glibc_settings)}: with it the two modes run alike")
    forwarded = ["--epochs", str(args.epochs)]
    forwarded += [] if args.rows is None else ["--rows", str(args.rows)]
    forwarded += [] if args.data_home is None else ["--data-home", args.data_home]
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    for pair in range(args.pairs):
        for mode in MODES if pair % 2 == 0 else MODES[::-1]:
            child_run = subprocess.run([sys.executable, __file__, "--child", mode, *forwarded],
                                       capture_output=True, text=True)
            if child_run.returncode != 0:
                # The child's stderr holds the reason (no data, a bad --rows, ...): without it, all that
                # showed was a CalledProcessError naming the command line.
                sys.stderr.write(child_run.stderr)
                print(f"{parser.prog}: error: the {mode} fit of pair {pair} failed "
                      f"(exit status {child_run.returncode}); its error is above", file=sys.stderr)
                return 1
            run = json.loads(child_run.stdout.strip().splitlines()[-1])
            runs[mode].append(run)
            print(f"pair {pair}: {mode:7s} fit {run['fit_s']:7.2f} s  minor page faults {run['faults']:>9,}  "
                  f"predict_proba {run['proba']}", flush=True)
    for mode in MODES:
        print(f"{mode:7s} median fit {statistics.median(r['fit_s'] for r in runs[mode]):7.2f} s, "
              f"median faults {statistics.median(r['faults'] for r in runs[mode]):>11,.0f}")
    if not all(run["applied"] for run in runs["retain"]):
        print("retain_freed_cpu_memory did not apply here (not glibc?): both modes ran alike")
    digests = {run["proba"] for mode in MODES for run in runs[mode]}
    print("predict_proba bitwise identical across all fits:", len(digests) == 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
