"""Optuna studies: :func:`tune`, its shared storage, and the checks of fixed and added parameters."""

from __future__ import annotations

import functools
import numbers
import os
import socket
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import optuna
import torch
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from imbsk.tuning.data import load_split
from imbsk.tuning.fitting import (
    DEFAULT_MAX_EPOCHS,
    XGB_MAX_ESTIMATORS,
    _check_estimator_names,
    _accuracy,
    _check_predictions_dir,
    _evaluated_member,
    _labels,
    _member_config,
    _resolve_device,
    _seed_list,
)
from imbsk.tuning.pruning import PruneTrial, make_pruner
from imbsk.tuning.spaces import BATCH_SIZES, DEFAULT_OPTIMIZER, SEARCH_SPACES, _check_int, _check_names, _check_optimizer


#: Exceptions of a trial that fail the trial, not the study (a diverging configuration's NaN loss).
_TRIAL_ERRORS = (RuntimeError, FloatingPointError)

_SCHEMA_RACE_MESSAGES = ("already exists", "UNIQUE constraint failed", "duplicate key value")


def _is_schema_race(error: Exception) -> bool:
    return any(message in str(error) for message in _SCHEMA_RACE_MESSAGES)


def _storage(url: str) -> optuna.storages.BaseStorage:
    # Concurrent workers on one SQLite file wait for the lock instead of failing.
    engine_kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except ArgumentError as error:
            # Not a URL at all (e.g. a bare file name): a usage error, not a traceback.
            raise ValueError(f"cannot use {url!r} as an Optuna storage URL ({error}); "
                             "give e.g. sqlite:///study.db or postgresql://user@host/db") from None
        except Exception as error:  # sqlalchemy's OperationalError / IntegrityError
            # Workers that start together race to create the schema ("table ... already exists") or
            # to stamp its alembic version ("UNIQUE constraint failed"); the loser finds it complete
            # on the next attempt.
            if _is_schema_race(error) and attempt < 4:
                time.sleep(0.5 * (attempt + 1))
                continue
            if isinstance(error, SQLAlchemyError):
                # A database that cannot be opened (a missing directory, no permission, no server): a usage
                # error; the driver's own message (sqlalchemy's ``orig``) says why in one line.
                reason = getattr(error, "orig", None) or error
                raise ValueError(f"cannot open the Optuna storage {url!r}: {reason}") from None
            raise
    raise AssertionError("unreachable")


def tune(
    dataset: str,
    model: str,
    *,
    n_trials: int,
    storage: str = "sqlite:///imbsk-tuning.db",
    study_name: str | None = None,
    seed: int = 0,
    timeout: float | None = None,
    data_home: str | None = None,
    device: str = "cpu",
    max_epochs: int = DEFAULT_MAX_EPOCHS,
    n_jobs: int = 1,
    max_train_rows: int | None = None,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    xgb_max_estimators: int = XGB_MAX_ESTIMATORS,
    enqueue_trials: Sequence[dict[str, Any]] | None = None,
    fixed_params: dict[str, Any] | None = None,
    optimizer: str = DEFAULT_OPTIMIZER,
    precision: str = "float32",
    trial_seeds: Sequence[int] | int | None = None,
    estimator_params: dict[str, Any] | None = None,
    predictions_dir: str | os.PathLike | None = None,
    pruner: str | optuna.pruners.BasePruner | None = "none",
) -> optuna.Study:
    """Run (or continue) an Optuna study maximising the validation accuracy.

    Each trial draws a configuration from ``SEARCH_SPACES[model]``, fits it on
    ``X_train`` once per model seed ``s`` of ``trial_seeds`` (default: ``seed``
    alone) and returns the mean validation accuracy
    ``(1 / S) sum_s accuracy(y_val, predict_s(X_val))``. Averaging over seeds
    lowers the noise of a trial's score, which on one seed is as large as the
    differences the study ranks. The sampler is
    :class:`optuna.samplers.TPESampler` (Bergstra et al. 2011) seeded with ``seed``,
    with 5 random start-up trials. A new call builds a new sampler: continuing a
    study that has fewer than 5 complete trials with the same ``seed`` replays the
    same random draws, so give a continuation (like a parallel worker) its own seed.

    Parameters
    ----------
    dataset : {'adult', 'otto', 'covertype'}
        Benchmark.
    model : {'mlp', 'mlp_sam_ls', 'xgboost'}
        Model and search space.
    n_trials : int
        Trials this call runs (added to those already in the study). A trial
        that a process of this machine left running when it was killed (SIGKILL,
        out of memory) is marked failed first, as Ctrl-C fails its trial (on
        Linux, whose ``/proc`` tells which processes have ended; elsewhere such a
        trial stays running); failed trials are never the best, and their
        configurations are not retried unless enqueued (``enqueue_trials``).
    storage : str, default='sqlite:///imbsk-tuning.db'
        Optuna storage URL; shared by every worker of a study.
    study_name : str, default=None
        Defaults to ``'{dataset}-{model}'``.
    seed : int, default=0
        Seed of the sampler, and of the models unless ``trial_seeds`` is given;
        use a different one per worker.
    timeout : float, default=None
        Stop starting new trials after this many seconds.
    data_home : str, default=None
        Directory of the data files.
    device : {'cpu', 'cuda', 'cuda:N', 'auto'}, default='cpu'
        Where the models train.
    max_epochs : int, default=DEFAULT_MAX_EPOCHS
        Epoch cap of the MLPs (ignored by XGBoost).
    n_jobs : int, default=1
        Parallel trials in this process (threads; see :meth:`optuna.Study.optimize`).
        MLP fits take turns (they seed torch's process-wide generator), so only
        XGBoost trials fit side by side; run several processes to parallelise MLPs.
    max_train_rows : int, default=None
        Stratified training subsample (see :func:`load_split`).
    batch_sizes : sequence of int, default=BATCH_SIZES
        ``batch_size`` choices of the MLP spaces.
    xgb_max_estimators : int, default=XGB_MAX_ESTIMATORS
        Cap on the trees of XGBoost (early stopping usually ends sooner); a
        lower cap bounds the cost of small learning rates on many classes.
    enqueue_trials : sequence of dict, default=None
        Raw trial parameters (the names of the search space, e.g. ``n_blocks``,
        ``width``) to evaluate first, via :meth:`optuna.Study.enqueue_trial`
        (skipped if the study holds them already: in a trial that is complete,
        pruned, waiting or running, or that the configuration itself failed; a
        trial failed by an interruption, e.g. Ctrl-C, does not count, so the rerun
        evaluates them); they count towards ``n_trials``, and ``n_trials=0``
        enqueues none.
    fixed_params : dict, default=None
        Raw trial parameters held at these values in every trial
        (:class:`optuna.samplers.PartialFixedSampler`); the sampler searches
        the rest. E.g. the architecture of a tuned ``'mlp'`` study with
        ``model='mlp_sam_ls'`` tunes only ``sam_asymmetric_rho`` and
        ``class_smoothing_eps`` on top of it, the paper's recipe of adding
        the techniques to a tuned network.
    optimizer : {'adamw', 'sgd'}, default=DEFAULT_OPTIMIZER
        Optimiser of the MLP trials (ignored by XGBoost): AdamW as Gorishniy et
        al., or SGD with momentum 0.9, the paper's tabular recipe; both follow
        a linear warm-up and cosine annealing over ``max_epochs``. It also picks
        the ``learning_rate_init`` range (``LEARNING_RATE_RANGES``). A study
        records its optimiser and refuses trials of the other one.
    precision : {'float32', 'bfloat16'}, default='float32'
        Estimator ``precision`` of the MLP trials (ignored by XGBoost);
        ``'bfloat16'`` trains under bfloat16 autocast, faster on CPUs with
        bfloat16 instructions. The best parameters carry it, so
        :func:`evaluate` retrains with the same precision.
    trial_seeds : sequence of int or int, default=None
        Model seeds of every trial (an int ``k`` means ``range(k)``); the trial
        scores their mean validation accuracy and records each one in its user
        attribute ``val_accuracies``. ``None`` fits one model, seeded ``seed``.
        Every worker of a study should pass the same seeds.
    estimator_params : dict, default=None
        Estimator arguments outside the search space added to every trial's
        configuration, e.g. ``{'ema_decay': 0.999}``; they are part of
        ``best_params(study)``. Names the space draws are refused (hold those
        with ``fixed_params``; ``optimizer`` and ``precision`` with the arguments
        of those names), as are the arguments the driver sets itself
        (``max_iter``, ``early_stopping_metric``, ``device``, ``random_state``): a trial
        keeps its epoch of best validation accuracy, the score it is ranked and
        pruned by (:func:`evaluate` may keep another).
    predictions_dir : str or path-like, default=None
        Keep every trial model's validation and test probabilities here, keyed
        as :func:`evaluate` keys them (:mod:`imbsk.member_cache`); a model
        already stored is read instead of fitted. With ``trial_seeds=k`` the
        best trial's models are the seeds ``0..k-1`` of a later
        ``evaluate(..., predictions_dir=...)`` of ``best_params(study)``, which
        then fits only the remaining seeds. Test probabilities are stored, never
        used to score a trial. A model that cannot be stored (a read-only or full
        directory) gives a ``RuntimeWarning`` and its trial goes on; a path that is
        a file raises a ValueError before any trial.
    pruner : {'none', 'median', 'hyperband'} or optuna.pruners.BasePruner, default='none'
        Stops MLP trials that fall behind before their fits end (see
        :mod:`imbsk.tuning.pruning`): after every epoch of the seed ``s_i``
        (``i``-th of ``trial_seeds``) a trial reports, at step ``i * max_epochs + e - 1``,
        its mean validation accuracy so far (finished seeds, and the best epoch
        of the running fit), and the pruner compares it with the other trials'
        at the same step (:func:`~imbsk.tuning.pruning.make_pruner`). A pruned
        trial is stored as pruned and never becomes the best; its unfinished
        model is not stored in ``predictions_dir``. MLP trials report these values
        with every pruner, ``'none'`` included (their learning curves,
        ``trial.intermediate_values``); XGBoost trials report none and are not pruned.

    Returns
    -------
    study : optuna.Study
        The study; the best configuration's estimator arguments are
        ``best_params(study)``.
    """
    dataset, model = _check_names(dataset, model)
    device = _resolve_device(device)
    _check_predictions_dir(predictions_dir)
    space = functools.partial(SEARCH_SPACES[model], optimizer=_check_optimizer(optimizer), precision=precision)
    max_epochs = _check_int(max_epochs, "max_epochs")
    xgb_max_estimators = _check_int(xgb_max_estimators, "xgb_max_estimators")
    choices = [_check_int(b, "batch_sizes entries") for b in batch_sizes]
    if not choices:
        raise ValueError("batch_sizes must hold at least one batch size")
    seed = _check_int(seed, "seed", minimum=0)
    model_seeds = [seed] if trial_seeds is None else _seed_list(trial_seeds, "trial_seeds")
    if not model_seeds:
        raise ValueError("trial_seeds must name at least one seed")
    drawn = _probe_space(space, choices)
    _check_fixed_params(fixed_params or {}, drawn)
    for position, enqueued in enumerate(enqueue_trials or ()):
        # Optuna ignores a name its sampler never asks for: a typo would run a sampled trial in its place.
        _check_fixed_params(dict(enqueued), drawn, what=f"enqueue_trials[{position}]")
    extra = _check_estimator_params(model, estimator_params or {}, drawn)
    study_pruner = make_pruner(pruner, max_epochs=max_epochs, n_model_seeds=len(model_seeds))
    # MLP trials report whatever the pruner: their learning curves stay in the study (a few
    # milliseconds an epoch), e.g. to see afterwards what a pruner would have stopped.
    reports = model != "xgboost"
    data = load_split(dataset, data_home=data_home, max_train_rows=max_train_rows)
    default_tol = None
    if reports:
        from imbsk.estimators.mlp import ImbalancedMLPClassifier  # torch only where an MLP trains

        default_tol = ImbalancedMLPClassifier().tol

    def objective(trial: optuna.Trial) -> float:
        try:
            return run_trial(trial)
        except _TRIAL_ERRORS as error:
            # The configuration's own failure: a rerun that enqueues it again would fail the same way
            # (_enqueue), unlike a trial that failed because its run was interrupted, or because another
            # process held the GPU's memory at the time.
            if not isinstance(error, torch.cuda.OutOfMemoryError):
                trial.set_user_attr("error", f"{type(error).__name__}: {error}")
            raise

    worker = _this_process()

    def run_trial(trial: optuna.Trial) -> float:
        if worker is not None:
            trial.set_user_attr("worker", worker)  # a later run tells a trial this process left running (killed)
        params = space(trial, batch_sizes=choices) | extra
        trial.set_user_attr("params", params)  # first: a pruned trial keeps what it tried
        member_config = _member_config(dataset, model, params, device, max_train_rows, max_epochs, xgb_max_estimators)
        # A tol that is not a number (estimator_params={'tol': None}) is left to the estimator's own check, which
        # names the parameter; float() here failed first with a TypeError that named nothing.
        tol = params.get("tol", default_tol)
        tol = float(tol) if isinstance(tol, numbers.Real) and not isinstance(tol, bool) else default_tol
        members, accuracies = [], []
        for index, model_seed in enumerate(model_seeds):
            pruning = None
            if reports:
                # The same tol as the fit's early stopping, so that the best reported is the epoch it keeps.
                pruning = PruneTrial(trial, step_offset=index * max_epochs, prior_scores=list(accuracies),
                                     tol=tol)
            member = _evaluated_member(dataset, model, params, data, seed=model_seed, device=device,
                                       max_epochs=max_epochs, xgb_max_estimators=xgb_max_estimators,
                                       predictions_dir=predictions_dir, member_config=member_config,
                                       callbacks=None if pruning is None else [pruning])[0]
            members.append(member)
            accuracies.append(_accuracy(data.y_val, _labels(data.classes, member.val_proba)))
            if pruning is not None:
                _report_seed_end(trial, pruning, accuracies, max_epochs, last_seed=index == len(model_seeds) - 1)
        trial.set_user_attr("fit_time", float(sum(member.fit_time for member in members)))
        trial.set_user_attr("epochs", int(round(float(np.mean([member.epochs for member in members])))))
        trial.set_user_attr("model_seeds", model_seeds)
        # What the trial trained under besides its parameters: a resumed study may be run with
        # other caps, and its best configuration must be re-evaluated with the trial's own.
        for name, value in _trial_caps(max_epochs, xgb_max_estimators, max_train_rows).items():
            trial.set_user_attr(name, value)
        trial.set_user_attr("val_accuracies", accuracies)
        return float(np.mean(accuracies))

    sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    if fixed_params:
        with warnings.catch_warnings():
            # Stable since optuna 2.4; the experimental label is not news to users.
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.PartialFixedSampler(dict(fixed_params), sampler)
    study = optuna.create_study(
        storage=_storage(storage),
        study_name=study_name or f"{dataset}-{model}",
        direction="maximize",
        sampler=sampler,
        pruner=study_pruner,
        load_if_exists=True,
    )
    if model != "xgboost":
        _pin_study_optimizer(study, optimizer)
        _check_batch_size_choices(study, choices)
        _check_pruning_steps(study, max_epochs, len(model_seeds), pruned=pruner not in (None, "none"))
    _fail_abandoned_trials(study, worker)
    # A run of no trial (a report: --n-trials 0) would leave them waiting in the study, to be run first by
    # whichever run of the study comes next, with its own options.
    for fixed in (enqueue_trials or ()) if n_trials > 0 else ():
        _enqueue(study, dict(fixed))
    # A diverging configuration (NaN loss) fails its trial, not the study.
    study.optimize(objective, n_trials=n_trials, timeout=timeout, n_jobs=n_jobs, catch=_TRIAL_ERRORS)
    return study


def _process_start(pid: int) -> int:
    """Start time of process ``pid`` (clock ticks after boot, ``/proc/<pid>/stat``); OSError without one."""
    stat = Path(f"/proc/{int(pid)}/stat").read_text()
    # The command name (field 2) may hold spaces and parentheses; the fields after its last ')' do not.
    return int(stat[stat.rindex(")") + 2:].split()[19])


def _this_process() -> dict[str, Any] | None:
    """What identifies this process among every process of every machine; None where ``/proc`` cannot tell."""
    try:
        return {
            "host": socket.gethostname(),
            "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
            # Containers on one machine (and one boot) number their processes apart.
            "pid_namespace": os.stat("/proc/self/ns/pid").st_ino,
            "pid": os.getpid(),
            "start": _process_start(os.getpid()),
        }
    except (OSError, ValueError, IndexError):
        return None


def _has_ended(worker: Any, here: dict[str, Any] | None) -> bool:
    """Whether ``worker`` (a trial's ``user_attrs['worker']``) is a process of this machine that has ended.

    Only a process seen from here can be checked: of this host, boot and process namespace. A process
    elsewhere, or a record this code did not write, counts as alive.
    """
    if here is None or not isinstance(worker, dict) or any(worker.get(key) != here[key]
                                                           for key in ("host", "boot_id", "pid_namespace")):
        return False
    try:
        pid = int(worker["pid"])
        return _process_start(pid) != worker["start"]  # the pid now names another process
    except OSError:
        # Not only a process that is gone: /proc mounted with hidepid hides (or bars) another user's processes.
        # kill(pid, 0) sends nothing and tells the two apart; a live process of another user keeps its trials.
        return pid > 0 and not _process_exists(pid)
    except (KeyError, TypeError, ValueError, IndexError):
        return False


def _process_exists(pid: int) -> bool:
    """Whether process ``pid`` exists, whoever owns it (only called where ``/proc`` exists: Linux)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def _fail_abandoned_trials(study: optuna.Study, here: dict[str, Any] | None) -> None:
    """Mark failed the running trials whose process has ended (killed: SIGKILL, out of memory).

    Such a trial stays RUNNING in the storage for good; as failed, it is what Ctrl-C leaves, and an
    enqueued configuration it was evaluating is enqueued again (:func:`_enqueue`). Trials of processes
    on other machines or in other containers cannot be checked here and stay as they are. ``here`` is
    this process (:func:`_this_process`).
    """
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not _has_ended(trial.user_attrs.get("worker"), here):
            continue
        try:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (ValueError, RuntimeError):
            continue  # another worker of the study marked it first
        print(f"study {study.study_name!r}: trial {trial.number} was left running by process "
              f"{trial.user_attrs['worker']['pid']}, which has ended; marked failed", flush=True)


def _enqueue(study: optuna.Study, fixed: dict[str, Any]) -> None:
    """Enqueue the raw trial parameters ``fixed`` unless the study holds them already.

    A trial holds them when it is complete, pruned, waiting, running (in another worker, or in a process
    :func:`_fail_abandoned_trials` cannot check), or failed by the configuration itself
    (``user_attrs['error']``, set by :func:`tune`'s objective). A trial that failed because its run
    ended (Ctrl-C, a crash) holds nothing: Optuna's ``skip_if_exists`` counted it, and a rerun of an
    interrupted run never evaluated the configuration (the benchmark driver's warm start of
    ``'mlp_sam_ls'``).
    """
    for trial in study.get_trials(deepcopy=False):
        if trial.state == optuna.trial.TrialState.FAIL and "error" not in trial.user_attrs:
            continue
        held = trial.system_attrs.get("fixed_params", trial.params)
        if held.keys() == fixed.keys() and all(_same_value(held[name], value) for name, value in fixed.items()):
            return
    study.enqueue_trial(fixed)


def _same_value(held: Any, given: Any) -> bool:
    # Optuna's skip_if_exists test: floats compare with np.isclose (a value read back from JSON may differ in
    # the last bit), other values exactly, and a value of another type is another value.
    if not isinstance(given, type(held)):
        return False
    if isinstance(given, float):
        return bool(np.isclose(given, held, atol=0.0, equal_nan=True))
    return bool(given == held)


def _report_seed_end(
    trial: optuna.Trial, pruning: PruneTrial, accuracies: list[float], max_epochs: int, last_seed: bool
) -> None:
    """Report the trial's mean so far at the last step of the finished seed's block; prune between seeds.

    A fit that stopped early, or a model read from the store (which reported nothing), has no
    value at that step yet: with it, every trial has one at the end of each seed's block.
    """
    step = pruning.step_offset + max_epochs - 1
    if getattr(pruning, "last_step_", None) != step:
        trial.report(float(np.mean(accuracies)), step)
    if not last_seed and trial.should_prune():
        raise optuna.TrialPruned(f"pruned after {len(accuracies)} of its seeds: mean validation accuracy "
                                 f"{np.mean(accuracies):.4f}")


def _check_batch_size_choices(study: optuna.Study, choices: list[int]) -> None:
    """Refuse batch-size choices other than those the study's trials drew from.

    Optuna cannot change a categorical parameter's choices within a study: the first trial
    would fail with "CategoricalDistribution does not support dynamic value space" and be
    stored as a failed trial.
    """
    for trial in study.trials:
        distribution = trial.distributions.get("batch_size")
        if isinstance(distribution, optuna.distributions.CategoricalDistribution):
            if [int(c) for c in distribution.choices] != choices:
                raise ValueError(
                    f"study {study.study_name!r} draws batch_size from {list(distribution.choices)}, not {choices}: "
                    "pass the same batch sizes (--batch-sizes), or use another study name or storage"
                )
            return


def _trial_caps(max_epochs: int, xgb_max_estimators: int, max_train_rows: int | None) -> dict[str, Any]:
    """The training settings outside ``params`` that a trial records (user attributes of the same names)."""
    return {
        "max_epochs": int(max_epochs),
        "xgb_max_estimators": int(xgb_max_estimators),
        "max_train_rows": None if max_train_rows is None else int(max_train_rows),
    }


def _best_caps(study: optuna.Study, **defaults: Any) -> dict[str, Any]:
    """``max_epochs``, ``xgb_max_estimators`` and ``max_train_rows`` under which the best trial was scored.

    ``defaults`` (the same three names) stand in for trials that predate these records.
    """
    attrs = study.best_trial.user_attrs
    return {name: attrs.get(name, value) for name, value in defaults.items()}


def _check_pruning_steps(study: optuna.Study, max_epochs: int, n_model_seeds: int, pruned: bool) -> None:
    """Record what a reported step means; refuse a pruned run whose steps would mean other epochs.

    Trial ``t`` reports epoch ``e`` of its ``i``-th seed at step ``i * E + e - 1``: a pruner compares trials step
    by step, which is only meaningful when every trial has the same epoch cap ``E`` and number of seeds. Studies
    created before this record carry none and are not checked.
    """
    steps = {"max_epochs": int(max_epochs), "n_model_seeds": int(n_model_seeds)}
    recorded = study.user_attrs.get("pruning_steps")
    if recorded is None:
        if not study.trials:
            study.set_user_attr("pruning_steps", steps)
        return
    if pruned and recorded != steps:
        raise ValueError(
            f"Study {study.study_name!r} reports its trials' epochs as steps for max_epochs={recorded['max_epochs']} "
            f"and {recorded['n_model_seeds']} seed(s) a trial; a pruner would compare this run's trials "
            f"(max_epochs={max_epochs}, {n_model_seeds} seed(s)) with them at steps that mean other epochs. "
            "Resume with the recorded caps, run without a pruner, or give the new study its own name."
        )
    if pruned:
        # A run without a pruner may add trials under other caps (allowed: nothing compares their steps then);
        # a pruner resumed later with the recorded caps would compare with those trials' curves.
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            attrs, seeds = trial.user_attrs, trial.user_attrs.get("model_seeds")
            if not trial.intermediate_values or "max_epochs" not in attrs or not isinstance(seeds, list):
                continue  # an XGBoost trial, or one that predates these records
            if {"max_epochs": attrs["max_epochs"], "n_model_seeds": len(seeds)} != steps:
                raise ValueError(
                    f"Study {study.study_name!r} holds trial {trial.number}, run without a pruner under "
                    f"max_epochs={attrs['max_epochs']} and {len(seeds)} seed(s): a pruner would "
                    f"compare this run's trials (max_epochs={max_epochs}, {n_model_seeds} seed(s)) with its "
                    "steps, which mean other epochs. Run without a pruner, or give the new study its own name."
                )


def _pin_study_optimizer(study: optuna.Study, optimizer: str) -> None:
    """Record the study's optimiser; refuse to add trials of another one.

    The two optimisers draw ``learning_rate_init`` from different ranges, so one
    TPE model over both would mix incomparable trials. Studies created before the
    optimiser was recorded ran AdamW.
    """
    recorded = study.user_attrs.get("optimizer", DEFAULT_OPTIMIZER if study.trials else None)
    if recorded is None:
        study.set_user_attr("optimizer", optimizer)
    elif recorded != optimizer:
        raise ValueError(
            f"Study {study.study_name!r} was tuned with optimizer={recorded!r}; it cannot take "
            f"optimizer={optimizer!r} trials. Give the new study its own name (study_name= / --study-name)."
        )


class _DrawnNames(NamedTuple):
    """What one configuration of a search space names: its raw trial parameters and estimator arguments."""

    trial_params: frozenset[str]
    estimator_args: frozenset[str]


def _probe_space(space: Callable[..., dict[str, Any]], batch_sizes: list[int]) -> _DrawnNames:
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the probe study is not the user's
    try:
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
        params = space(trial, batch_sizes=batch_sizes)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return _DrawnNames(frozenset(trial.params), frozenset(params))


def _check_fixed_params(fixed: dict[str, Any], drawn: _DrawnNames, what: str = "fixed_params") -> None:
    unknown = sorted(set(fixed) - drawn.trial_params)
    if unknown:
        raise ValueError(f"{what} has names outside the search space: {unknown}; "
                         f"valid names: {sorted(drawn.trial_params)}")


#: Estimator arguments the MLP spaces return from tune's own arguments, not from the trial: fixed_params
#: (raw trial names) cannot hold them, so an error about them names the argument to use instead.
_SPACE_ARGUMENTS = {"optimizer": "optimizer= / --optimizer", "precision": "precision= / --precision"}


def _check_estimator_params(model: str, extra: dict[str, Any], drawn: _DrawnNames) -> dict[str, Any]:
    """``extra`` if it only adds estimator arguments the search space leaves out; else a ValueError."""
    drawn_here = sorted(set(extra) & drawn.estimator_args)
    from_arguments = [name for name in drawn_here if name in _SPACE_ARGUMENTS]
    if from_arguments:
        hints = "; ".join(f"{name}: {_SPACE_ARGUMENTS[name]}" for name in from_arguments)
        raise ValueError(f"estimator_params sets {from_arguments}, which tune sets from its own arguments ({hints})")
    if drawn_here:
        raise ValueError(f"estimator_params sets {drawn_here}, which the search space draws; "
                         "hold them with fixed_params (raw trial names) instead")
    return _check_estimator_names(model, extra, "estimator_params")


def best_params(study: optuna.Study) -> dict[str, Any]:
    """Estimator keyword arguments of the study's best trial.

    Raises
    ------
    ValueError
        The study has no completed trial.
    """
    states = [trial.state for trial in study.trials]
    if optuna.trial.TrialState.COMPLETE not in states:
        # Optuna's own message here is "Record does not exist.", which names neither the study nor the cause.
        counts = {state.name.lower(): states.count(state) for state in dict.fromkeys(states)}
        held = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no trial at all"
        raise ValueError(f"study {study.study_name!r} has no completed trial ({held}); run some trials first")
    return dict(study.best_trial.user_attrs["params"])
