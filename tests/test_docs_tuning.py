"""docs/tuning.md: its ```python blocks run, in order, in one namespace (as the page says)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imbsk.estimators.base import BaseImbalancedClassifier

DOC = Path(__file__).resolve().parents[1] / "docs" / "tuning.md"
#: A fenced block opened by exactly ```python at the start of a line, up to the next closing fence.
_PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _python_blocks(text: str) -> list[str]:
    return _PYTHON_BLOCK.findall(text)


def test_extracts_every_python_block():
    text = DOC.read_text(encoding="utf-8")
    blocks = _python_blocks(text)
    # Every opening fence is found: a block the regex missed would silently go untested.
    assert len(blocks) == text.count("```python") >= 6
    assert all(block.strip() for block in blocks)


#: Epochs each fit of the page actually trains here: its 36 fits at 10 epochs took 11-15 s on 2 cores. The
#: estimators are still built, validated and scheduled with the page's parameters (max_iter=10 included).
TEST_EPOCHS = 2


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_tuning_doc_examples_run(tmp_path, monkeypatch):
    """Every example of docs/tuning.md runs; the SQLite study lands in tmp_path."""
    monkeypatch.chdir(tmp_path)
    make_net = BaseImbalancedClassifier._make_net

    def short_net(self, *args, **kwargs):
        net = make_net(self, *args, **kwargs)
        return net.set_params(max_epochs=min(net.max_epochs, TEST_EPOCHS))

    monkeypatch.setattr(BaseImbalancedClassifier, "_make_net", short_net)
    blocks = _python_blocks(DOC.read_text(encoding="utf-8"))
    namespace: dict = {"__name__": "__docs_tuning__"}
    for index, block in enumerate(blocks):
        code = compile(block, f"{DOC.name} [python block {index + 1}]", "exec")
        exec(code, namespace)  # noqa: S102 -- the documentation's own examples

    # The objects the page talks about exist and are what it says.
    assert namespace["search"].best_params_ in [
        {"sam_asymmetric_rho": 0.0, "class_smoothing_eps": 0.0},
        *({"sam_asymmetric_rho": 0.05, "class_smoothing_eps": 0.1, "class_scaling": rule}
          for rule in ("sqrt_inverse_frequency", "uniform")),
    ]
    assert len(namespace["random_search"].cv_results_["params"]) == 3
    study = namespace["study"]
    assert len(study.trials) == 3 and (tmp_path / "my-data-tuning.db").exists()
    pruned_study = namespace["pruned_study"]
    assert len(pruned_study.trials) == 4
    for trial in pruned_study.trials:  # every trial reported its epochs (TEST_EPOCHS here) or fewer when pruned
        assert 1 <= len(trial.intermediate_values) <= TEST_EPOCHS and "params" in trial.user_attrs
        if trial.state == namespace["optuna"].trial.TrialState.COMPLETE:
            assert trial.intermediate_values[max(trial.intermediate_values)] == pytest.approx(trial.value)
    params = namespace["best_params"](study)
    assert {"sam_asymmetric_rho", "class_smoothing_eps", "class_scaling"} <= set(params)
    assert params["hidden_layer_sizes"] == [64] and params["optimizer"] == "sgd"  # held by PartialFixedSampler
    assert len(namespace["scores"]) == 3
    assert namespace["clf"].max_iter == 10 and namespace["clf"].n_iter_ <= TEST_EPOCHS
    counts = namespace["pipeline_search"].best_estimator_[-1].class_counts_
    assert len(set(counts.tolist())) == 1  # SMOTE balanced what the classifier saw
