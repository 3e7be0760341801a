"""Command lines: the benchmark driver of ``examples/*.py``, ``imbsk tune`` and ``imbsk evaluate``."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from imbsk._argtypes import device_name, non_negative_int, positive_float, positive_int
from imbsk._files import atomic_write, check_output_directory
from imbsk.metrics import format_mean_se
from imbsk.training.allocator import retain_freed_cpu_memory
from imbsk.tuning.data import load_split
from imbsk.tuning.evaluation import _check_blend_weight, evaluate, evaluate_blend, format_summary, summarize
from imbsk.tuning.fitting import DEFAULT_MAX_EPOCHS, XGB_MAX_ESTIMATORS, _check_estimator_names
from imbsk.tuning.pruning import PRUNER_NAMES
from imbsk.tuning.spaces import (
    BATCH_SIZES,
    DATASET_NAMES,
    DEFAULT_OPTIMIZER,
    LEARNING_RATE_RANGES,
    MODEL_NAMES,
    PRECISIONS,
    _check_names,
)
from imbsk.tuning.study import _best_caps, best_params, tune

#: SAM-A radius and smoothing of the first ``'mlp_sam_ls'`` trial in :func:`run_benchmark`
#: (added to the best plain-MLP configuration).
WARM_START_RHO = 0.05
WARM_START_EPS = 0.05


def _caps_of_best_trial(study: optuna.Study, prefix: str, model: str, **given: Any) -> dict[str, Any]:
    """``max_epochs``, ``xgb_max_estimators`` and ``max_train_rows`` of the study's best trial; ``given`` (this
    run's options) stand in for a trial that predates their record.

    The best trial may come from an earlier run of the study with other caps (e.g. a report
    with --n-trials 0 and default options): its configuration is the trial's, caps included,
    and a line (starting with ``prefix``) says so when the caps that bind ``model`` differ
    from this run's (an epoch cap does not bind XGBoost, nor a tree cap an MLP).
    """
    caps = _best_caps(study, **given)
    unused = "max_epochs" if model == "xgboost" else "xgb_max_estimators"
    differ = {name: value for name, value in caps.items() if value != given[name] and name != unused}
    if differ:
        print(f"{prefix}the best trial was scored with {json.dumps(differ)}, not this run's options; "
              "its configuration keeps them", flush=True)
    return caps


# ---------------------------------------------------------------------------
# benchmark driver (used by examples/*.py)
# ---------------------------------------------------------------------------
def run_benchmark(
    dataset: str,
    *,
    n_trials: dict[str, int],
    seeds: int,
    storage: str,
    data_home: str | None = None,
    device: str = "cpu",
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    timeout: float | None = None,
    max_train_rows: int | None = None,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    xgb_max_estimators: int = XGB_MAX_ESTIMATORS,
    out: str | None = None,
    sam_ls_on_mlp: bool = False,
    optimizer: str = DEFAULT_OPTIMIZER,
    precision: str = "float32",
    ensemble_size: int = 1,
    predictions_dir: str | os.PathLike | None = None,
    seed: int = 0,
    pruner: str = "none",
) -> pd.DataFrame:
    """Tune every model of ``n_trials`` on one benchmark, then evaluate it over seeds.

    Parameters
    ----------
    dataset : str
        Benchmark.
    n_trials : dict {model: int}
        Models to run, in order, and their trial budgets.
    seeds : int
        Seeds ``0..seeds-1`` of the final evaluation.
    storage : str
        Optuna storage URL (studies ``'{dataset}-{model}'``).
    timeout : float, default=None
        Per-study time limit of the tuning, seconds.
    out : str, default=None
        Directory for ``{dataset}-results.csv``, ``{dataset}-summary.csv`` and
        ``{dataset}-best-params.json`` (each model's best parameters, validation
        accuracy and the caps it was evaluated with), written again after each
        model, so that a run stopped in a later stage keeps the models it finished.
    seed : int, default=0
        Sampler seed of every study (:func:`tune`), and the model seed of their
        trials (the evaluation uses seeds ``0..seeds-1`` whatever it is); a rerun
        that continues the studies, or a parallel copy, needs its own.
    Other parameters are passed to :func:`tune` and :func:`evaluate`. The best
    configuration is evaluated with the caps its trial was scored under
    (``max_epochs``, ``xgb_max_estimators``, ``max_train_rows``), which may come
    from an earlier run of the study; a note says so when they differ from these.

    When ``'mlp'`` runs before ``'mlp_sam_ls'``, the first trial of the
    ``'mlp_sam_ls'`` study is the best ``'mlp'`` configuration with
    ``sam_asymmetric_rho=WARM_START_RHO`` and ``class_smoothing_eps=WARM_START_EPS``
    (``enqueue_trials`` of :func:`tune`). With ``sam_ls_on_mlp=True`` the
    ``'mlp_sam_ls'`` study (named ``'{dataset}-mlp_sam_ls-on-mlp'``) also holds
    every other parameter at the best ``'mlp'`` values (``fixed_params``), so its
    trials search only ``sam_asymmetric_rho`` and ``class_smoothing_eps``; without
    ``'mlp'`` before ``'mlp_sam_ls'`` in ``n_trials`` it raises a ValueError.

    Returns
    -------
    results : pandas.DataFrame
        Per-seed rows of every model (see :func:`evaluate`).
    """
    if not n_trials:
        raise ValueError("n_trials must name at least one model")
    models = list(n_trials)
    mlp_first = "mlp" in models and models.index("mlp") < models.index("mlp_sam_ls") if "mlp_sam_ls" in models else True
    if sam_ls_on_mlp and not mlp_first:
        # Without an 'mlp' stage before it there is no configuration to hold fixed: the 'mlp_sam_ls' stage
        # tuned the whole space in the study '{dataset}-mlp_sam_ls', not the '-on-mlp' one (e.g. a rerun of
        # only the stage a crash stopped, --models mlp_sam_ls --sam-ls-on-mlp).
        raise ValueError("sam_ls_on_mlp (--sam-ls-on-mlp) holds the best 'mlp' configuration of the same run fixed: "
                         "run 'mlp' before 'mlp_sam_ls' (--models mlp mlp_sam_ls)")
    frames = []
    best: dict[str, Any] = {}
    raw_best: dict[str, dict[str, Any]] = {}
    for model, trials in n_trials.items():
        enqueue, fixed, study_name = None, None, None
        if model == "mlp_sam_ls" and "mlp" in raw_best:
            # With a few trials, start SAM-A + smoothing from the tuned plain MLP, so the
            # study measures what the two techniques add rather than re-finding an MLP.
            enqueue = [{**raw_best["mlp"], "sam_asymmetric_rho": WARM_START_RHO, "class_smoothing_eps": WARM_START_EPS}]
            if sam_ls_on_mlp:
                fixed, study_name = dict(raw_best["mlp"]), f"{dataset}-mlp_sam_ls-on-mlp"
        started = time.perf_counter()
        study = tune(
            dataset, model, n_trials=trials, storage=storage, study_name=study_name, timeout=timeout,
            data_home=data_home, device=device, max_epochs=max_epochs, max_train_rows=max_train_rows,
            batch_sizes=batch_sizes, xgb_max_estimators=xgb_max_estimators, enqueue_trials=enqueue,
            fixed_params=fixed, optimizer=optimizer, precision=precision, seed=seed, pruner=pruner,
        )
        params = best_params(study)  # first: a clear error for a study without a complete trial
        raw_best[model] = dict(study.best_trial.params)
        tuned = time.perf_counter() - started
        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        n_pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
        print(f"[{dataset}/{model}] {len(completed)} trials in the study"
              f"{f' (and {n_pruned} pruned)' if n_pruned else ''} ({tuned:.0f} s this run); "
              f"best val acc {study.best_value:.4f}; params {json.dumps(params)}", flush=True)
        caps = _caps_of_best_trial(study, f"[{dataset}/{model}] ", model, max_epochs=max_epochs,
                                   xgb_max_estimators=xgb_max_estimators, max_train_rows=max_train_rows)
        started = time.perf_counter()
        frame = evaluate(dataset, model, params, seeds=seeds, data_home=data_home, device=device,
                         ensemble_size=ensemble_size, predictions_dir=predictions_dir, **caps)
        print(f"[{dataset}/{model}] evaluated {seeds} seeds in {time.perf_counter() - started:.0f} s:\n"
              f"{frame.to_string(index=False)}", flush=True)
        frames.append(frame)
        best[model] = {"params": params, "val_accuracy": study.best_value, "n_trials": len(completed),
                       "tuning_seconds_this_run": tuned, **caps}
        results = pd.concat(frames, ignore_index=True)
        summary = summarize(results)
        if out is not None:
            # After every model, not once at the end: a run that dies in a later stage (out of memory, Ctrl-C,
            # a preempted machine) keeps the results of the models it finished.
            _write_benchmark_files(Path(out), dataset, results, summary, best)
    print(format_summary(summary), flush=True)
    return results


def _write_benchmark_files(
    directory: Path, dataset: str, results: pd.DataFrame, summary: pd.DataFrame, best: dict[str, Any]
) -> None:
    """Write ``{dataset}-results.csv``, ``-summary.csv`` and ``-best-params.json``, each whole or not at all."""
    texts = {"-results.csv": results.to_csv(index=False), "-summary.csv": summary.to_csv(index=False),
             "-best-params.json": json.dumps(best, indent=2)}
    for suffix, text in texts.items():
        atomic_write(directory / f"{dataset}{suffix}", text.encode("utf-8"))


def benchmark_main(dataset: str, argv: Sequence[str] | None = None) -> int:
    """Command line of ``examples/<dataset>.py``: tune three models, evaluate them over seeds."""
    retain_freed_cpu_memory()  # a process that trains (see imbsk.training.allocator)
    parser = argparse.ArgumentParser(
        description=f"Tune XGBoost, MLP-PLR and MLP-PLR + SAM-A + smoothing on {dataset} "
                    "(validation accuracy), then evaluate the best of each over seeds on the test split."
    )
    parser.add_argument("--n-trials", type=non_negative_int, default=20,
                        help="trials per MLP model added to its study (0: evaluate the study's best as it is)")
    parser.add_argument("--xgb-trials", type=non_negative_int, default=None,
                        help="trials of XGBoost (default: 2 x --n-trials)")
    parser.add_argument("--seeds", type=positive_int, default=5, help="seeds 0..K-1 of the final evaluation")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="sampler seed of the studies, and model seed of their trials; give a rerun on the same "
                             "storage, or a parallel copy, its own")
    parser.add_argument("--storage", default=f"sqlite:///imbsk-{dataset}.db",
                        help="Optuna storage URL of the studies ('<dataset>-<model>'); rerunning continues them")
    parser.add_argument("--data-home", default=None, help="directory of the data files (else $IMBSK_DATA)")
    parser.add_argument("--device", default="cpu", type=device_name, metavar="{auto,cpu,cuda,cuda:N}",
                        help="where the MLPs train (default: cpu; auto picks a visible GPU)")
    parser.add_argument("--max-epochs", type=positive_int, default=DEFAULT_MAX_EPOCHS, help="epoch cap of the MLPs")
    parser.add_argument("--timeout", type=positive_float, default=None, help="per-study tuning time limit (s)")
    parser.add_argument("--models", nargs="+", default=["xgboost", "mlp", "mlp_sam_ls"], choices=list(MODEL_NAMES))
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=list(BATCH_SIZES),
                        help="batch_size choices of the MLP studies (a study keeps the choices it started with)")
    parser.add_argument("--max-train-rows", type=positive_int, default=None, help="stratified training subsample")
    parser.add_argument("--xgb-max-estimators", type=positive_int, default=XGB_MAX_ESTIMATORS, help="cap on XGBoost trees")
    parser.add_argument("--out", default=f"results-{dataset}", help="directory of the result files")
    parser.add_argument("--ensemble-size", type=positive_int, default=1,
                        help="score soft-voting ensembles of M seeds each (every --seeds is one ensemble)")
    parser.add_argument("--predictions-dir", default=None, metavar="DIR",
                        help="keep every evaluated model's probabilities here and reuse stored ones (imbsk evaluate)")
    parser.add_argument("--sam-ls-on-mlp", action="store_true",
                        help="tune only rho and eps of MLP + SAM-A + smoothing, on the MLP-PLR configuration tuned "
                             "before it in the same run (--models must run mlp before mlp_sam_ls)")
    _add_mlp_training_arguments(parser)
    args = parser.parse_args(argv)
    try:
        check_output_directory(args.out)
        if args.predictions_dir is not None:
            check_output_directory(args.predictions_dir, "--predictions-dir", writable=False)
    except ValueError as error:
        parser.error(str(error))
    try:
        load_split(dataset, data_home=args.data_home)
    except FileNotFoundError as error:
        print(f"The {dataset} data is not available, so nothing was run.\n{error}", file=sys.stderr)
        return 2
    xgb_trials = args.xgb_trials if args.xgb_trials is not None else 2 * args.n_trials
    budgets = {m: (xgb_trials if m == "xgboost" else args.n_trials) for m in args.models}
    started = time.perf_counter()
    try:
        run_benchmark(
            dataset, n_trials=budgets, seeds=args.seeds, storage=args.storage, data_home=args.data_home,
            device=args.device, max_epochs=args.max_epochs, timeout=args.timeout,
            max_train_rows=args.max_train_rows, batch_sizes=args.batch_sizes,
            xgb_max_estimators=args.xgb_max_estimators, out=args.out, sam_ls_on_mlp=args.sam_ls_on_mlp,
            optimizer=args.optimizer, precision=args.precision, ensemble_size=args.ensemble_size,
            predictions_dir=args.predictions_dir, seed=args.seed, pruner=args.pruner,
        )
    except ValueError as error:  # an empty study, a study started with other batch sizes, ...
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    return 0


# ---------------------------------------------------------------------------
# `imbsk tune`
# ---------------------------------------------------------------------------
def _add_mlp_training_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--optimizer", default=DEFAULT_OPTIMIZER, choices=sorted(LEARNING_RATE_RANGES),
                        help="optimiser of the MLP trials: adamw (Gorishniy et al.) or sgd with momentum "
                             "(the paper's recipe); it also sets the learning-rate range")
    parser.add_argument("--precision", default="float32", choices=list(PRECISIONS),
                        help="precision of the MLP trials: bfloat16 trains under autocast, faster on CPUs "
                             "with bfloat16 instructions (docs/performance.md)")
    parser.add_argument("--pruner", default="none", choices=list(PRUNER_NAMES),
                        help="stop MLP trials whose validation accuracy falls behind the other trials' at the same "
                             "epoch (median: below their median, after 5 complete trials and the first "
                             "max(1, E // 5) epochs; hyperband: successive halving); default: none")


def add_tune_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``imbsk tune`` to ``parser``."""
    parser.add_argument("--dataset", required=True, choices=list(DATASET_NAMES))
    parser.add_argument("--model", required=True, choices=list(MODEL_NAMES))
    parser.add_argument("--n-trials", type=non_negative_int, required=True,
                        help="trials this worker adds to the study (0: report the study as it is)")
    parser.add_argument("--timeout", type=positive_float, default=None, help="stop starting trials after S seconds")
    parser.add_argument("--storage", default="sqlite:///imbsk-tuning.db",
                        help="Optuna storage URL, e.g. sqlite:///study.db or postgresql://user@host/db (default: "
                             "sqlite:///imbsk-tuning.db, a file in the current directory, not under --out)")
    parser.add_argument("--study-name", default=None, help="default: '<dataset>-<model>'")
    parser.add_argument("--data-home", default=None, help="directory of the data files")
    parser.add_argument("--device", default="cpu", type=device_name, metavar="{auto,cpu,cuda,cuda:N}",
                        help="where the MLPs train (default: cpu; auto picks a visible GPU)")
    parser.add_argument("--max-epochs", type=positive_int, default=DEFAULT_MAX_EPOCHS, help="epoch cap of the MLPs")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="sampler seed (and model seed without --trial-seeds); give each worker its own")
    parser.add_argument("--trial-seeds", type=_seeds_argument("--trial-seeds"), default=None,
                        metavar="K|A-B|A,B",
                        help="score each trial by its mean validation accuracy over these model seeds "
                             "(K = 0..K-1; default: --seed alone); every worker of a study should pass the same")
    parser.add_argument("--n-jobs", type=positive_int, default=1, help="parallel trials in this process (threads; MLP fits take turns, "
                             "XGBoost fits run side by side)")
    parser.add_argument("--max-train-rows", type=positive_int, default=None, help="stratified training subsample")
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=list(BATCH_SIZES))
    parser.add_argument("--xgb-max-estimators", type=positive_int, default=XGB_MAX_ESTIMATORS,
                        help="cap on XGBoost trees")
    parser.add_argument("--fixed-params", default=None, metavar="JSON",
                        help="raw trial parameters held fixed, as JSON or @file (e.g. a tuned MLP's "
                             "architecture, so that mlp_sam_ls tunes only rho and eps)")
    parser.add_argument("--enqueue-trial", action="append", default=None, metavar="JSON",
                        help="raw trial parameters to evaluate first, as JSON or @file (repeatable; "
                             "skipped if the study has them already, but not for a trial failed by Ctrl-C or an error "
                             "that ended the run)")
    parser.add_argument("--estimator-params", default=None, metavar="JSON",
                        help="estimator arguments outside the search space added to every trial, as JSON "
                             "or @file (e.g. '{\"ema_decay\": 0.999}')")
    _add_mlp_training_arguments(parser)
    parser.add_argument("--evaluate-seeds", type=non_negative_int, default=0,
                        help="retrain the best configuration with seeds 0..K-1 and report test accuracy")
    parser.add_argument("--evaluate-ensemble-size", type=positive_int, default=1, metavar="M",
                        help="with --evaluate-seeds K: score K soft-voting ensembles of M seeds each")
    parser.add_argument("--predictions-dir", default=None, metavar="DIR",
                        help="keep every fitted model's probabilities here, trials' and --evaluate-seeds' "
                             "alike (see imbsk evaluate); a stored model is read, not refitted")
    parser.add_argument("--out", default="imbsk-tune-results", help="directory for the JSON/CSV outputs")


def _json_argument(value: str | None, flag: str) -> dict[str, Any] | None:
    """A JSON object given inline or as ``@path``."""
    if value is None:
        return None
    text = _read_json_text(Path(value[1:])) if value.startswith("@") else value
    return _json_object(text, flag)


def _read_json_text(path: Path) -> str:
    """The text of a JSON file; one that is not UTF-8 (a UTF-16 save, a binary) a ValueError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        # The codec's own "'utf-8' codec can't decode byte 0xff in position 0" named no file.
        raise ValueError(f"{path} is not a UTF-8 JSON file ({error}).") from None


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{what} must be a JSON object: {error}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{what} must be a JSON object, got {type(parsed).__name__}")
    return parsed


def run_tune_command(args: argparse.Namespace) -> int:
    """Run ``imbsk tune``: tune, print the best configuration, optionally evaluate it.

    Writes ``<out>/<study>-best.json`` and, with ``--evaluate-seeds K > 0``,
    ``<out>/<study>-seeds.csv`` (one row per seed) and ``<out>/<study>-summary.json``.
    The caps of the file and of the evaluation (``max_epochs``, ``xgb_max_estimators``,
    ``max_train_rows``) are those the best trial trained under, which this run's options
    only stand in for when the trial predates their record.

    Returns
    -------
    status : int
        0 on success.
    """
    study_name = args.study_name or f"{args.dataset}-{args.model}"
    check_output_directory(_output_path(args.out, study_name, "").parent)
    if getattr(args, "predictions_dir", None) is not None:
        check_output_directory(args.predictions_dir, "--predictions-dir", writable=False)
    study = tune(
        args.dataset, args.model, n_trials=args.n_trials, storage=args.storage, study_name=study_name,
        seed=getattr(args, "seed", 0), timeout=args.timeout, data_home=args.data_home, device=args.device,
        max_epochs=args.max_epochs, n_jobs=getattr(args, "n_jobs", 1),
        max_train_rows=getattr(args, "max_train_rows", None),
        batch_sizes=getattr(args, "batch_sizes", None) or BATCH_SIZES,
        xgb_max_estimators=getattr(args, "xgb_max_estimators", XGB_MAX_ESTIMATORS),
        fixed_params=_json_argument(getattr(args, "fixed_params", None), "--fixed-params"),
        optimizer=getattr(args, "optimizer", DEFAULT_OPTIMIZER),
        precision=getattr(args, "precision", "float32"),
        trial_seeds=getattr(args, "trial_seeds", None),
        enqueue_trials=[_json_argument(text, "--enqueue-trial") for text in getattr(args, "enqueue_trial", None) or ()],
        estimator_params=_json_argument(getattr(args, "estimator_params", None), "--estimator-params"),
        predictions_dir=getattr(args, "predictions_dir", None),
        pruner=getattr(args, "pruner", "none"),
    )
    params = best_params(study)
    n_complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    n_pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    print(f"study {study_name!r}: {n_complete} completed trials" + (f", {n_pruned} pruned" if n_pruned else ""))
    print(f"best validation accuracy: {study.best_value:.4f}")
    print(f"best params: {json.dumps(params)}")
    out = Path(args.out)
    caps = _caps_of_best_trial(study, "", args.model, max_epochs=args.max_epochs,
                               xgb_max_estimators=getattr(args, "xgb_max_estimators", XGB_MAX_ESTIMATORS),
                               max_train_rows=getattr(args, "max_train_rows", None))
    max_epochs, xgb_max_estimators, max_train_rows = (
        caps["max_epochs"], caps["xgb_max_estimators"], caps["max_train_rows"])
    _output_path(out, study_name, "-best.json", create=True).write_text(
        json.dumps({"study": study_name, "dataset": args.dataset, "model": args.model, "n_trials": n_complete,
                    "val_accuracy": study.best_value, "model_seeds": study.best_trial.user_attrs.get("model_seeds"),
                    "max_epochs": max_epochs,
                    "xgb_max_estimators": xgb_max_estimators, "max_train_rows": max_train_rows,
                    "params": params}, indent=2)
    )
    seeds = getattr(args, "evaluate_seeds", 0) or 0
    if seeds > 0:
        size = getattr(args, "evaluate_ensemble_size", 1)
        results = evaluate(
            args.dataset, args.model, params, seeds=seeds, data_home=args.data_home, device=args.device,
            max_epochs=max_epochs, max_train_rows=max_train_rows, xgb_max_estimators=xgb_max_estimators,
            ensemble_size=size, predictions_dir=getattr(args, "predictions_dir", None),
        )
        _report_evaluation(results, out, study_name)
    return 0


def _output_path(out: str | os.PathLike, stem: str, suffix: str, *, create: bool = False) -> Path:
    """``<out>/<stem><suffix>``; ``create`` makes its directory.

    A stem may hold a ``/`` (an Optuna study name such as ``'adult/mlp'``, or ``--name runs/a``): it names
    a subdirectory of ``out``, which must exist before the file is written, or the write that ends a
    whole run fails. A stem that would leave ``out`` (an absolute name, or a ``..`` part; joined onto
    ``out`` they write elsewhere) is refused with a ValueError.
    """
    if Path(stem).is_absolute() or ".." in Path(stem).parts:
        raise ValueError(
            f"The output name {stem!r} (the study name or --name) must name a file inside --out {out}: "
            "no leading '/' and no '..'."
        )
    path = Path(out) / f"{stem}{suffix}"
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _report_evaluation(results: pd.DataFrame, out: Path, name: str) -> None:
    """Print mean ± s.e. of the test metrics; write ``<name>-seeds.csv`` and ``<name>-summary.json``."""
    summary = summarize(results)
    row = summary.iloc[0]
    size, n = int(row["ensemble_size"]), int(row["n_seeds"])
    scored = f"{n} seed{'s' * (n != 1)}" if size == 1 else f"{n} ensemble{'s' * (n != 1)} of {size} seeds"
    def percent(metric: str) -> str:
        return format_mean_se(row[metric + "_mean"], row[metric + "_se"], scale=100)

    for metric in ("val_accuracy", "test_accuracy", "minority_accuracy", "majority_accuracy"):
        print(f"{metric}: {percent(metric)} % ({scored})")
    if "test_log_loss_mean" in row:
        print(f"test_log_loss: {format_mean_se(row['test_log_loss_mean'], row['test_log_loss_se'], decimals=4)} ({scored})")
    if "blend_weight_mean" in row:
        first, second = row["model"].split("+")
        print(f"blended: {first} alone {percent('first_test_accuracy')} %, {second} alone "
              f"{percent('second_test_accuracy')} % (test); weights {sorted(results['blend_weight'])}")
    results.to_csv(_output_path(out, name, "-seeds.csv", create=True), index=False)
    # Strict JSON has no NaN: an undefined value (the s.e. of one seed) is written as null.
    record = {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}
    _output_path(out, name, "-summary.json", create=True).write_text(json.dumps(record, indent=2, default=float))


# ---------------------------------------------------------------------------
# `imbsk evaluate`
# ---------------------------------------------------------------------------
def parse_seeds(text: str, flag: str = "--seeds") -> list[int]:
    """Seeds of a command line: ``'K'`` is ``0..K-1``, ``'A-B'`` is ``A..B``, ``'A,B,C'`` a list.

    ``flag`` names the option in the error message.

    Raises
    ------
    ValueError
        Anything else, an empty range, a negative seed, or a repeated one.
    """
    text = text.strip()
    try:
        if "," in text:
            seeds = [int(part) for part in text.split(",")]
        elif "-" in text[1:]:
            first, last = (int(part) for part in text.split("-", 1))
            seeds = list(range(first, last + 1))
        else:
            seeds = list(range(int(text)))
    except ValueError:
        raise ValueError(f"{flag} must be K, A-B or A,B,C with integers; got {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise ValueError(f"{flag} must name at least one non-negative seed; got {text!r} "
                         "(seed 0 alone is '0-0')")
    if len(set(seeds)) != len(seeds):
        # The same model twice would count as two seeds in the mean and the standard error.
        raise ValueError(f"{flag} must not repeat a seed; got {text!r}")
    return seeds


def _seeds_argument(flag: str) -> Callable[[str], list[int]]:
    """An argparse ``type`` for :func:`parse_seeds` whose error message reaches the user."""

    def parse(text: str) -> list[int]:
        try:
            return parse_seeds(text, flag)
        except ValueError as error:
            # argparse shows only "invalid value" for a ValueError; an ArgumentTypeError keeps the hint.
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _blend_weight_argument(text: str) -> float | str:
    """An argparse ``type``: ``'validation'`` or a number in [0, 1]."""
    try:
        weight: float | str = float(text)
    except ValueError:
        weight = text  # 'validation', or a word the check below refuses
    try:
        return _check_blend_weight(weight, "--blend-weight")
    except ValueError as error:
        # argparse shows only "invalid value" for a ValueError; an ArgumentTypeError keeps the hint.
        raise argparse.ArgumentTypeError(str(error)) from None


def _blend_partner(second: Any, dataset: str, max_train_rows: int | None, source: Any) -> dict[str, Any]:
    """The second configuration of a blend, checked against the first's dataset and training rows, and its params
    against its model's estimator arguments."""
    if not isinstance(second, dict) or not isinstance(second.get("params"), dict) or "model" not in second:
        raise ValueError(f"the blend configuration of {source} must be an object with 'model' and 'params'")
    if second.get("dataset", dataset) != dataset:
        raise ValueError(f"cannot blend a {dataset} configuration with a {second['dataset']} one ({source})")
    if second.get("max_train_rows") not in (None, max_train_rows):
        raise ValueError(f"the blended configurations train on different rows: max_train_rows "
                         f"{max_train_rows} and {second['max_train_rows']} ({source})")
    model = _check_names(dataset, second["model"])[1]
    _check_estimator_names(model, second["params"], f"the params of the blend configuration {source}", in_study=False)
    keys = ("model", "max_epochs", "xgb_max_estimators", "params")
    return {"dataset": dataset} | {key: second[key] for key in keys if key in second}


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """A stored configuration: ``imbsk tune``'s ``<study>-best.json`` or a file of ``examples/configs/``.

    The JSON object holds ``params`` (estimator arguments) and may hold ``dataset``,
    ``model``, ``max_epochs``, ``xgb_max_estimators`` and ``max_train_rows``, the
    defaults of the matching ``imbsk evaluate`` options, and ``blend_config`` (a
    configuration object, or the path of a configuration file relative to this one)
    and ``blend_weight``, the defaults of ``--blend-config`` and ``--blend-weight``.
    Other keys (``study``, ``val_accuracy``, ``note``, ...) are ignored.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a JSON object with a ``params`` object.
    """
    config = _json_object(_read_json_text(Path(path)), str(path))
    if not isinstance(config.get("params"), dict):
        raise ValueError(f"{path} must hold a 'params' object (estimator arguments); its keys are {sorted(config)}")
    return config


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``imbsk evaluate``."""
    parser.description = (
        "Retrain a stored configuration with several seeds and score the test split (mean ± s.e.). "
        "Example: imbsk evaluate --config examples/configs/otto-mlp_sam_ls.json --seeds 15 "
        "--predictions-dir preds, then the same with --seeds 3 --ensemble-size 5 scores three "
        "ensembles of the stored models without fitting."
    )
    parser.add_argument("--config", required=True, metavar="FILE",
                        help="JSON configuration: imbsk tune's <study>-best.json or one of examples/configs/")
    parser.add_argument("--dataset", choices=list(DATASET_NAMES), default=None,
                        help="default: the configuration's 'dataset'")
    parser.add_argument("--model", choices=list(MODEL_NAMES), default=None, help="default: the configuration's 'model'")
    parser.add_argument("--seeds", type=_seeds_argument("--seeds"), default=parse_seeds("5"), metavar="K|A-B|A,B",
                        help="seeds (ensembles with --ensemble-size): K means 0..K-1 (default: 5)")
    parser.add_argument("--ensemble-size", type=positive_int, default=1, metavar="M",
                        help="score soft-voting ensembles; ensemble s holds the models of seeds sM..sM+M-1")
    parser.add_argument("--predictions-dir", default=None, metavar="DIR",
                        help="keep every fitted model's probabilities here and reuse stored ones")
    parser.add_argument("--max-epochs", type=positive_int, default=None,
                        help=f"epoch cap of the MLPs (default: the configuration's, else {DEFAULT_MAX_EPOCHS}; "
                             "given, it caps a --blend-config model too)")
    parser.add_argument("--xgb-max-estimators", type=positive_int, default=None,
                        help=f"cap on XGBoost trees (default: the configuration's, else {XGB_MAX_ESTIMATORS}; "
                             "given, it caps a --blend-config model too)")
    parser.add_argument("--max-train-rows", type=positive_int, default=None,
                        help="stratified training subsample (default: the configuration's, else all rows)")
    parser.add_argument("--estimator-params", default=None, metavar="JSON",
                        help="estimator arguments that replace or join the configuration's params, as JSON or "
                             "@file (e.g. '{\"joint_ssl_weight\": 0.1}', or '{\"early_stopping_metric\": \"loss\"}' "
                             "to keep the epoch of least validation loss); give such a run its own --name")
    parser.add_argument("--blend-config", default=None, metavar="FILE",
                        help="a second configuration (e.g. examples/configs/otto-xgboost.json) whose model of each "
                             "seed is soft-vote blended with the first's (default: the configuration's "
                             "'blend_config', an object or a path relative to the configuration)")
    parser.add_argument("--blend-weight", type=_blend_weight_argument, default=None, metavar="W|validation",
                        help="share of the --blend-config model in the blend, or 'validation' to pick it per seed "
                             "on the validation split from 0, 0.05, ..., 1 (default: the configuration's "
                             "'blend_weight', else 0.5, plain soft voting)")
    parser.add_argument("--data-home", default=None, help="directory of the data files")
    parser.add_argument("--device", default="cpu", type=device_name, metavar="{auto,cpu,cuda,cuda:N}",
                        help="where the MLPs train (default: cpu; auto picks a visible GPU)")
    parser.add_argument("--out", default="imbsk-evaluate-results", help="directory for the CSV/JSON outputs")
    parser.add_argument("--name", default=None, metavar="STEM",
                        help="stem of the output files (default: the configuration file's stem)")


def run_evaluate_command(args: argparse.Namespace) -> int:
    """Run ``imbsk evaluate``: retrain a stored configuration over seeds and score the test split.

    Writes ``<out>/<stem>-seeds.csv`` (one row per seed or ensemble, see
    :func:`evaluate`), ``<out>/<stem>-summary.json`` and ``<out>/<stem>-config.json``,
    the configuration that was evaluated (``--estimator-params`` merged into its
    ``params``, every cap resolved), which ``imbsk evaluate --config`` reruns as is.
    ``stem`` is ``--name``, else the configuration file's stem.

    Returns
    -------
    status : int
        0 on success.
    """
    name = getattr(args, "name", None) or Path(args.config).stem
    check_output_directory(_output_path(args.out, name, "").parent)
    if args.predictions_dir is not None:
        check_output_directory(args.predictions_dir, "--predictions-dir", writable=False)
    config = load_config(args.config)
    dataset = args.dataset or config.get("dataset")
    model = args.model or config.get("model")
    if dataset is None or model is None:
        raise ValueError(f"{args.config} names no {'dataset' if dataset is None else 'model'}; "
                         f"pass --{'dataset' if dataset is None else 'model'}")

    def option(name: str, default: Any) -> Any:
        given = getattr(args, name)
        return given if given is not None else config.get(name, default)

    overrides = _json_argument(getattr(args, "estimator_params", None), "--estimator-params") or {}
    # evaluate() checks the names too; checked here, the message names the file they come from.
    dataset, model = _check_names(dataset, model)
    _check_estimator_names(model, config["params"], f"the params of {args.config}", in_study=False)
    params = config["params"] | _check_estimator_names(model, overrides, "--estimator-params", in_study=False)
    evaluated = {
        "dataset": dataset, "model": model, "max_epochs": option("max_epochs", DEFAULT_MAX_EPOCHS),
        "xgb_max_estimators": option("xgb_max_estimators", XGB_MAX_ESTIMATORS),
        "max_train_rows": option("max_train_rows", None), "params": params,
    }
    if "study" in config:
        # An imbsk tune file written before tune recorded its caps holds none; evaluated under the defaults
        # (50 epochs, every training row), it need not be the configuration its study trained and ranked.
        binding = ("xgb_max_estimators" if model == "xgboost" else "max_epochs", "max_train_rows")
        unrecorded = {name: evaluated[name] for name in binding if name not in config and getattr(args, name) is None}
        if unrecorded:
            flags = " / ".join("--" + name.replace("_", "-") for name in unrecorded)
            print(f"note: {args.config} records no {' or '.join(unrecorded)} (an imbsk tune file written before "
                  f"they were recorded): evaluating with {json.dumps(unrecorded)}, which need not be what its study "
                  f"trained with; pass {flags} to match the study", flush=True)
    if overrides:
        evaluated["note"] = f"{args.config} with --estimator-params {json.dumps(overrides, sort_keys=True)}"
    blend_path = getattr(args, "blend_config", None)
    second = config.get("blend_config")
    if blend_path is None and isinstance(second, str):
        # A configuration may name its blend partner by a path relative to itself.
        blend_path = Path(args.config).parent / second
    if blend_path is not None:
        second = load_config(blend_path)
    if second is not None:
        second = _blend_partner(second, dataset, evaluated["max_train_rows"], blend_path or args.config)
        # A cap given on the command line caps both models (a quick check with --max-epochs 1 stays quick).
        second |= {name: getattr(args, name) for name in ("max_epochs", "xgb_max_estimators")
                   if getattr(args, name) is not None}
        weight = getattr(args, "blend_weight", None)
        weight = config.get("blend_weight", 0.5) if weight is None else weight
        evaluated |= {"blend_config": second, "blend_weight": weight}
    print(f"evaluating {args.config} ({dataset}/{model}) on seeds {args.seeds}"
          + (f", ensembles of {args.ensemble_size}" if args.ensemble_size > 1 else "")
          + (f", with {json.dumps(overrides, sort_keys=True)}" if overrides else "")
          + (f", blended with {second['model']} (weight: {evaluated['blend_weight']})" if second else ""), flush=True)
    started = time.perf_counter()
    if second is None:
        results = evaluate(
            dataset, model, params, seeds=args.seeds, data_home=args.data_home, device=args.device,
            max_epochs=evaluated["max_epochs"], max_train_rows=evaluated["max_train_rows"],
            xgb_max_estimators=evaluated["xgb_max_estimators"],
            ensemble_size=args.ensemble_size, predictions_dir=args.predictions_dir,
        )
    else:
        results = evaluate_blend(
            dataset, evaluated, second, seeds=args.seeds, weight=evaluated["blend_weight"],
            data_home=args.data_home, device=args.device, max_train_rows=evaluated["max_train_rows"],
            ensemble_size=args.ensemble_size, predictions_dir=args.predictions_dir,
        )
    out = Path(args.out)
    _report_evaluation(results, out, name)
    _output_path(out, name, "-config.json", create=True).write_text(json.dumps(evaluated, indent=2) + "\n")
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0
