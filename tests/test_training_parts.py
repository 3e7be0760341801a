"""Batching by index, the learning-rate schedule, EMA and the validation callbacks."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from imbsk.techniques.ema import update_ema
from imbsk.training.batching import TensorBatchIterator, TensorData
from imbsk.training.callbacks import warmup_cosine_factor


def test_batches_cover_every_row_once_per_epoch():
    data = TensorData({"a": np.arange(10.0)[:, None], "b": np.arange(10)[:, None]}, np.arange(10))
    iterator = TensorBatchIterator(data, 4, shuffle=True, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([y for _, y in iterator])
    assert sorted(seen.tolist()) == list(range(10))
    assert seen.tolist() != list(range(10))
    for X, y in iterator:
        torch.testing.assert_close(X["a"][:, 0].long(), y)  # rows stay aligned across tensors
        assert X["a"].dtype == torch.float32
    assert len(iterator) == 3


def test_singleton_last_batch_is_merged():
    data = TensorData(np.zeros((9, 2)), np.zeros(9))
    sizes = [len(y) for _, y in TensorBatchIterator(data, 4, merge_singleton=True)]
    assert sizes == [4, 5]
    assert [len(y) for _, y in TensorBatchIterator(data, 4)] == [4, 4, 1]


def test_sequential_iteration_for_prediction():
    data = TensorData(np.arange(7.0)[:, None])
    out = torch.cat([X for X, _ in TensorBatchIterator(data, 3)])
    torch.testing.assert_close(out[:, 0], torch.arange(7.0))


def test_resampling_draws_classes_evenly():
    y = np.array([0] * 90 + [1] * 10)
    probabilities = np.where(y == 0, 1 / 180, 1 / 20)
    data = TensorData(np.zeros((100, 1)), y)
    iterator = TensorBatchIterator(
        data, 50, sample_probabilities=probabilities, generator=torch.Generator().manual_seed(0)
    )
    drawn = torch.cat([torch.cat([yb for _, yb in iterator]) for _ in range(40)])
    assert drawn.float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_warmup_cosine_factor():
    assert warmup_cosine_factor(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine_factor(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine_factor(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine_factor(55, 100, 10) == pytest.approx(0.5)
    assert warmup_cosine_factor(100, 100, 10) == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine_factor(30, 100, 0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.3)))


def test_ema_update_formula_and_warmup():
    live, averaged = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    with torch.no_grad():
        live.weight.fill_(2.0)
        averaged.weight.fill_(0.0)
        live.running_mean.fill_(1.0)
        live.num_batches_tracked.fill_(5)
    update_ema(averaged, live, decay=0.999, n_updates=0)  # effective decay (1 + 0) / (10 + 0) = 0.1
    torch.testing.assert_close(averaged.weight, torch.full((2,), 1.8))
    torch.testing.assert_close(averaged.running_mean, torch.full((2,), 0.9))
    assert int(averaged.num_batches_tracked) == 5
    update_ema(averaged, live, decay=0.5, n_updates=1000)  # the target decay caps the warm-up
    torch.testing.assert_close(averaged.weight, torch.full((2,), 1.9))
