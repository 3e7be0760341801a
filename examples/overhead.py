"""Training-loop overhead of ImbalancedMLPClassifier, and the cost of a SAM-A step.

Times ``fit`` against a minimal hand-written PyTorch loop that runs the same
epochs with the same network, optimiser and batch size on the same
preprocessed tensors, and times SAM (uniform radius) and SAM-A (per-class
radii; its 'fast' and 'faithful' steps) against ERM steps. Each configuration is
run ``--repeats`` times in interleaved order and the fastest run is kept, which
filters out noise from other processes.

    python examples/overhead.py --rows 20000 --epochs 5 --batch-size 128 --repeats 3

Goals (issue 2): fit / hand loop <= 1.10 on CPU; SAM-A step / ERM step <= 2.1.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from sklearn.datasets import make_classification

from imbsk import ImbalancedMLPClassifier
from imbsk.preprocessing.tabular import TabularPreprocessor
from imbsk.models.tabular import TabularMLP
from imbsk.training.optimizers import fused_optimizer_kwargs


def hand_written_loop(inputs: dict, y: np.ndarray, n_classes: int, args, device: str) -> float:
    """The reference: preprocessed tensors on the device, randperm batches, SGD, cross-entropy."""
    torch.manual_seed(0)
    x_num = torch.as_tensor(inputs["x_num"], device=device)
    x_cat = torch.as_tensor(inputs["x_cat"], device=device)
    target = torch.as_tensor(y, device=device)
    model = TabularMLP(x_num.shape[1], [], n_classes, hidden_layer_sizes=args.hidden, dropout=0.1).to(device)
    # the estimator's own optimiser kernel (fused where the device has one), so only the loop around it differs
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.05, momentum=0.9, weight_decay=2e-4, **fused_optimizer_kwargs(torch.optim.SGD, device)
    )
    n = len(target)
    started = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(n, device=device)
        for start in range(0, n, args.batch_size):
            index = order[start : start + args.batch_size]
            loss = torch.nn.functional.cross_entropy(model(x_num[index], x_cat[index]), target[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()  # skorch reads every batch loss; the reference pays the same synchronisation
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


def imbsk_fit(X, y, args, device: str, **params) -> tuple[float, float]:
    """Seconds for the whole ``fit`` and for its training epochs alone (from skorch's history)."""
    clf = ImbalancedMLPClassifier(
        hidden_layer_sizes=args.hidden,
        batch_size=args.batch_size,
        max_iter=args.epochs,
        validation_fraction=None,
        ema_decay=None,
        device=device,
        random_state=0,
        **params,
    )
    started = time.perf_counter()
    clf.fit(X, y)
    total = time.perf_counter() - started
    return total, float(sum(clf.history_[:, "dur"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    args.hidden = tuple(args.hidden)

    X, y = make_classification(
        n_samples=args.rows, n_features=args.features, n_informative=10, n_classes=4,
        weights=[0.7, 0.2, 0.07, 0.03], random_state=0,
    )
    inputs = TabularPreprocessor(random_state=0).fit_transform(X)
    runs = {"hand": [], "fit": [], "fit_epochs": [], "erm": [], "sam": [], "sam_a": [], "sam_a_faithful": []}
    for _ in range(args.repeats):
        runs["hand"].append(hand_written_loop(inputs, y, 4, args, args.device))
        total, epochs = imbsk_fit(X, y, args, args.device)
        runs["fit"].append(total)
        runs["erm"].append(epochs)
        runs["sam"].append(imbsk_fit(X, y, args, args.device, sam_asymmetric_rho=0.05, class_scaling="uniform")[1])
        runs["sam_a"].append(imbsk_fit(X, y, args, args.device, sam_asymmetric_rho=0.05)[1])
        runs["sam_a_faithful"].append(
            imbsk_fit(X, y, args, args.device, sam_asymmetric_rho=0.05, sam_asymmetric_step="faithful")[1]
        )
    best = {key: min(values) for key, values in runs.items() if values}

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, device {args.device}")
    print(f"data: {args.rows} rows x {args.features} features, 4 classes; MLP {args.hidden}, "
          f"batch {args.batch_size}, {args.epochs} epochs; best of {args.repeats}")
    print(f"hand-written loop          {best['hand']:8.2f} s")
    print(f"ImbalancedMLPClassifier.fit {best['fit']:8.2f} s   ratio {best['fit'] / best['hand']:.3f}  "
          "(includes input validation and the quantile transform)")
    print(f"  of which training epochs {best['erm']:8.2f} s   ratio {best['erm'] / best['hand']:.3f}")
    print(f"SAM (uniform rho) epochs   {best['sam']:8.2f} s   per-step cost vs ERM {best['sam'] / best['erm']:.3f}")
    print(f"SAM-A (per-class rho)      {best['sam_a']:8.2f} s   per-step cost vs ERM {best['sam_a'] / best['erm']:.3f}")
    print(f"SAM-A, faithful step       {best['sam_a_faithful']:8.2f} s   per-step cost vs ERM "
          f"{best['sam_a_faithful'] / best['erm']:.3f}")


if __name__ == "__main__":
    main()
