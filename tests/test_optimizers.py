"""The estimators step their optimiser with PyTorch's fused kernel where the device has one."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

import imbsk.estimators.base as estimator_base
from imbsk.datasets import load_digits_lt
from imbsk.estimators import ImbalancedCNNClassifier, ImbalancedMLPClassifier
from imbsk.training.optimizers import fused_optimizer_kwargs


class _RefusesFused(torch.optim.SGD):
    def __init__(self, params, lr, fused=False):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of supported devices")
        super().__init__(params, lr=lr)


@pytest.mark.parametrize("optimizer_class", [torch.optim.SGD, torch.optim.AdamW])
def test_cpu_has_fused_sgd_and_adamw(optimizer_class):
    # PyTorch >= 2.4 (what pyproject installs) has both on CPU
    assert fused_optimizer_kwargs(optimizer_class, "cpu") == {"fused": True}
    assert fused_optimizer_kwargs(optimizer_class, torch.device("cpu")) == {"fused": True}


@pytest.mark.parametrize("optimizer_class", [torch.optim.LBFGS, _RefusesFused])
def test_no_fused_kernel_keeps_the_for_loop(optimizer_class):
    # LBFGS has no `fused` argument at all (TypeError); the other refuses it like an old PyTorch
    assert fused_optimizer_kwargs(optimizer_class, "cpu") == {}


def _data():
    return make_classification(n_samples=160, n_features=6, n_informative=4, weights=[0.8, 0.2], random_state=0)


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_estimators_use_the_fused_kernel(optimizer):
    X, y = _data()
    mlp = ImbalancedMLPClassifier(
        hidden_layer_sizes=(16,), max_iter=2, batch_size=32, optimizer=optimizer, validation_fraction=None,
        random_state=0,
    ).fit(X, y)
    assert mlp.net_.optimizer_.defaults["fused"] is True
    digits = load_digits_lt(1.0, as_images=True, random_state=0)
    cnn = ImbalancedCNNClassifier(
        architecture="resnet8", max_iter=1, batch_size=32, augmentation="none", mixing=None, optimizer=optimizer,
        validation_fraction=None, random_state=0, device="cpu",
    ).fit(digits.X_train[:64], digits.y_train[:64])
    assert cnn.net_.optimizer_.defaults["fused"] is True


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_fused_kernel_trains_the_for_loops_model(monkeypatch, optimizer):
    # SAM-A, weight decay, momentum (or moments) and the cosine schedule all go through the step;
    # the two fits may differ only by the rounding of the fused kernel, which a few epochs barely amplify
    X, y = _data()
    params = dict(
        hidden_layer_sizes=(32, 32), max_iter=4, batch_size=16, sam_asymmetric_rho=0.1, class_smoothing_eps=0.1,
        optimizer=optimizer, learning_rate_init=0.05 if optimizer == "sgd" else 1e-3, weight_decay=1e-3,
        validation_fraction=None, random_state=0,
    )
    fused = ImbalancedMLPClassifier(**params).fit(X, y)
    monkeypatch.setattr(estimator_base, "fused_optimizer_kwargs", lambda optimizer_class, device: {})
    loop = ImbalancedMLPClassifier(**params).fit(X, y)
    assert loop.net_.optimizer_.defaults["fused"] is None  # torch.optim: for-loop or foreach
    assert type(loop.net_.optimizer_) is type(fused.net_.optimizer_)
    assert loop.net_.optimizer_.defaults == {**fused.net_.optimizer_.defaults, "fused": None}
    fused_state, loop_state = fused.net_.module_.state_dict(), loop.net_.module_.state_dict()
    assert fused_state.keys() == loop_state.keys()
    for name in fused_state:
        torch.testing.assert_close(fused_state[name], loop_state[name], rtol=1e-4, atol=1e-5, msg=name)
    initial = ImbalancedMLPClassifier(**{**params, "max_iter": 1}).fit(X, y).net_.module_.state_dict()
    assert any(not torch.allclose(initial[name], fused_state[name], rtol=1e-3, atol=1e-3) for name in initial)
    np.testing.assert_allclose(fused.predict_proba(X), loop.predict_proba(X), atol=1e-4)


def test_optimizer_step_script_times_every_mode(monkeypatch, capsys):
    script = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "optimizer_step.py"))
    monkeypatch.setattr(sys, "argv", ["optimizer_step.py", "--steps", "1", "--repeats", "1"])
    script["main"]()
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.lstrip().startswith(("SGD", "AdamW"))]
    assert len(rows) == 4  # two networks, two optimisers
    for row in rows:
        assert row[1::3] == ["for-loop", "foreach", "fused"] and all(float(ms) > 0 for ms in row[2::3])
