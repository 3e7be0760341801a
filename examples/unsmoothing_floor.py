"""Undo the class smoothing of stored models after fit, for several floors: no model is fitted.

``imbsk evaluate --predictions-dir DIR`` keeps each fitted model's validation and test
probabilities in ``DIR`` (one ``.npz`` file a seed, recording its configuration). This script
reads the files of one configuration trained without ``invert_smoothing`` and scores what
``set_params(invert_smoothing=True)`` after fit would predict,

    P(j | x) = max(u_j, f p_j) / sum_k max(u_k, f p_k),    u_j = (p_j - c) / (1 - eps_j)

(:func:`imbsk.techniques.label_smoothing.unsmoothed_probabilities`), for each floor fraction
``f`` given, beside the raw probabilities: accuracy, minority accuracy and log-loss on the
validation and test splits, mean +- standard error over the files::

    python examples/unsmoothing_floor.py --data-home ../shared/data \\
        otto-preds/otto-mlp_sam_ls-54ce2a1add097c96-seed{0,1,2,3}.npz

``f`` should be chosen on the validation log-loss; the test columns are for the record.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import log_loss

from imbsk import ImbalancedMLPClassifier
from imbsk.member_cache import load_member
from imbsk.metrics import format_mean_se, minority_accuracy, standard_error
from imbsk.techniques.class_scaling import class_smoothing_values
from imbsk.techniques.label_smoothing import unsmoothed_probabilities
from imbsk.tuning.data import load_split


def _configuration(paths: list[Path]) -> dict:
    """The one configuration the files record (a ValueError if they differ or were trained inverted)."""
    configs = []
    for path in paths:
        with np.load(path, allow_pickle=False) as stored:
            if "config" not in stored.files:
                raise ValueError(f"{path} records no configuration (written before imbsk stored it)")
            configs.append(json.loads(str(stored["config"])))
    first = configs[0]
    for path, config in zip(paths, configs):
        if config != first:
            raise ValueError(f"{path} holds another configuration than {paths[0]}; pass the files of one")
    if first.get("params", {}).get("invert_smoothing"):
        raise ValueError("these models were trained with invert_smoothing=True: their probabilities are inverted already")
    return first


def _class_smoothing(params: dict, class_counts: np.ndarray) -> torch.Tensor:
    defaults = ImbalancedMLPClassifier().get_params()
    eps = params.get("class_smoothing_eps", defaults["class_smoothing_eps"])
    if eps == 0:
        raise ValueError("the models trained with class_smoothing_eps=0: there is no smoothing to undo")
    rule = params.get("class_scaling", defaults["class_scaling"])
    return torch.as_tensor(class_smoothing_values(eps, class_counts, rule), dtype=torch.float64)


#: Columns of each row of :func:`score_members`.
COLUMNS = ["val acc.", "val log-loss", "test acc.", "test log-loss", "minority acc."]


def score_members(paths: list[Path], fractions: list[float], data_home: str | None = None) -> dict[str, np.ndarray]:
    """``{variant: array of shape (n_files, len(COLUMNS))}``, variants ``'raw'`` and ``'f = <fraction>'``."""
    config = _configuration(paths)
    split = load_split(config["dataset"], data_home=data_home, max_train_rows=config.get("max_train_rows"))
    classes = split.classes
    counts = np.array([split.class_counts[label] for label in classes])
    eps = _class_smoothing(config["params"], counts)
    y_val, y_test = np.asarray(split.y_val), np.asarray(split.y_test)
    print(f"{config['dataset']}/{config['model']}, {len(paths)} models; eps_c = "
          + ", ".join(f"{label}: {value:.4f}" for label, value in zip(classes, eps.tolist())))

    variants = {"raw": None} | {f"f = {fraction:g}": fraction for fraction in fractions}
    scores = {name: [] for name in variants}
    for path in paths:
        member = load_member(path, classes, n_val=len(y_val), n_test=len(y_test))
        if member is None:
            raise ValueError(f"{path} cannot be read")
        for name, fraction in variants.items():
            row = []
            for proba, y in ((member.val_proba, y_val), (member.test_proba, y_test)):
                proba = torch.as_tensor(proba, dtype=torch.float64)
                proba = proba / proba.sum(dim=1, keepdim=True)
                if fraction is not None:
                    proba = unsmoothed_probabilities(proba, eps, floor_fraction=fraction)
                proba = proba.numpy()
                predicted = classes[proba.argmax(axis=1)]
                row += [np.mean(predicted == y), log_loss(y, proba, labels=classes)]
            row.append(minority_accuracy(y_test, predicted, class_counts=split.class_counts))
            scores[name].append(row)
    return {name: np.array(rows) for name, rows in scores.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("members", nargs="+", type=Path, help="stored model files of one configuration")
    parser.add_argument("--data-home", default=None, help="directory of the data files")
    parser.add_argument("--floor-fractions", default="0,0.02,0.05,0.1,0.2,0.5",
                        help="comma-separated floor fractions f to score (default: %(default)s)")
    args = parser.parse_args(argv)
    fractions = [float(text) for text in args.floor_fractions.split(",")]
    scores = score_members(args.members, fractions, data_home=args.data_home)

    print("| probabilities | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, table in scores.items():
        cells = [format_mean_se(float(np.mean(table[:, j])), standard_error(table[:, j]),
                                scale=100 if "acc" in column else 1, decimals=2 if "acc" in column else 4)
                 for j, column in enumerate(COLUMNS)]
        print(f"| {name} | " + " | ".join(cells) + " |")
    best = min((name for name in scores if name != "raw"), key=lambda name: float(np.mean(scores[name][:, 1])))
    print(f"lowest validation log-loss: {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
