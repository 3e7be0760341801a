"""In-memory batching by index: no per-sample ``Dataset.__getitem__`` and no collate.

The whole (preprocessed) data set lives as tensors on the training device; a
batch is ``tensor[index[start:stop]]`` for a shuffled index, i.e. one gather
kernel per input tensor. This replaces skorch's default ``DataLoader`` whose
per-item Python calls and collation dominate the cost of small tabular models.

Per-sample weights (``fit(..., sample_weight=)``) are one more tensor on the
device, gathered with the same index. A weighted batch is a :class:`WeightedBatch`,
still the pair ``(X, y)`` skorch unpacks (its scoring callbacks, ``evaluation_step``),
with the weights ``w`` as its ``sample_weight``; an unweighted one is a plain
``(X, y)``, so the unweighted step does no extra work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor


def _as_tensor(value: Any, device: torch.device | str) -> Tensor:
    if isinstance(value, Tensor):
        return value.to(device)
    array = np.asarray(value)
    if array.dtype == np.float64:
        array = array.astype(np.float32)
    if not array.flags.writeable:
        # A read-only array (np.load(mmap_mode='r'), a frozen buffer) that torch.as_tensor would share made torch
        # warn that writing to the tensor is undefined: float32 images reach here as the caller's own array (the
        # MLP's preprocessing always copies). torch.tensor copies it, with the same values.
        return torch.tensor(array, device=device)
    return torch.as_tensor(array, device=device)


class WeightedBatch(tuple):
    """The batch ``(X, y)`` of weighted rows, their weights as ``sample_weight``.

    A pair, because skorch's ``unpack_data`` (used by its scoring callbacks and its
    prediction step) refuses batches of three items.
    """

    def __new__(cls, X: Any, y: Any, sample_weight: Tensor) -> "WeightedBatch":
        batch = super().__new__(cls, (X, y))
        batch.sample_weight = sample_weight
        return batch

    def __getnewargs__(self) -> tuple[Any, Any, Tensor]:
        return (self[0], self[1], self.sample_weight)


def batch_sample_weight(batch: Any) -> Tensor | None:
    """The rows' weights of a batch: a :class:`WeightedBatch`'s, the third item of ``(X, y, w)``, else None."""
    weights = getattr(batch, "sample_weight", None)
    if weights is None and isinstance(batch, (tuple, list)) and len(batch) == 3:
        weights = batch[2]
    return weights


class TensorData:
    """Inputs (a tensor or a dict of tensors) and optional labels, on one device.

    Parameters
    ----------
    X : array-like, Tensor or mapping of them
        Inputs; every entry has the same first dimension.
    y : array-like or Tensor, optional
        Encoded labels (int64).
    device : str or torch.device
        Where the tensors live.
    sample_weight : array-like or Tensor of shape (n_samples,), optional
        Per-sample loss weights (float32 on the device); batches are then
        :class:`WeightedBatch` pairs carrying them.
    """

    def __init__(
        self, X: Any, y: Any = None, device: torch.device | str = "cpu", sample_weight: Any = None
    ) -> None:
        if isinstance(X, Mapping):
            self.X: Tensor | dict[str, Tensor] = {key: _as_tensor(value, device) for key, value in X.items()}
            self._length = len(next(iter(self.X.values())))
        else:
            self.X = _as_tensor(X, device)
            self._length = len(self.X)
        self.y = None if y is None else _as_tensor(y, device).long()
        self.sample_weight = None if sample_weight is None else _as_tensor(sample_weight, device).float()
        if self.sample_weight is not None and self.sample_weight.shape != (self._length,):
            raise ValueError(f"sample_weight must have shape ({self._length},), got {tuple(self.sample_weight.shape)}.")
        self.device = torch.device(device)

    def __len__(self) -> int:
        return self._length

    def take(self, index: Tensor | slice) -> tuple[Any, ...]:
        """The batch ``(X[index], y[index])``, with sample weights a :class:`WeightedBatch` of ``w[index]``."""
        if isinstance(self.X, dict):
            Xi: Any = {key: value[index] for key, value in self.X.items()}
        else:
            Xi = self.X[index]
        yi = None if self.y is None else self.y[index]
        if self.sample_weight is None:
            return Xi, yi
        return WeightedBatch(Xi, yi, self.sample_weight[index])


class TensorBatchIterator:
    """Iterate over :class:`TensorData` in mini-batches sliced by index.

    Parameters
    ----------
    data : TensorData
    batch_size : int
    shuffle : bool, default=False
        Draw a new random permutation each pass (training).
    generator : torch.Generator, optional
        Source of randomness (CPU generator) for reproducible shuffles.
    sample_probabilities : array-like of shape (n_samples,), optional
        If given, each pass draws ``len(data)`` indices with replacement from
        this distribution (class-balanced resampling) instead of a permutation.
    merge_singleton : bool, default=False
        Merge a final batch of one sample into the previous one (BatchNorm cannot
        normalise a single sample in training mode).
    """

    def __init__(
        self,
        data: TensorData,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        sample_probabilities: np.ndarray | None = None,
        merge_singleton: bool = False,
    ) -> None:
        self.data = data
        self.batch_size = max(1, min(int(batch_size), len(data)))
        self.shuffle = shuffle
        self.generator = generator
        self.sample_probabilities = (
            None if sample_probabilities is None else torch.as_tensor(sample_probabilities, dtype=torch.float64)
        )
        self.merge_singleton = merge_singleton

    def __len__(self) -> int:
        n_batches = -(-len(self.data) // self.batch_size)
        if self.merge_singleton and n_batches > 1 and len(self.data) % self.batch_size == 1:
            n_batches -= 1
        return n_batches

    def _order(self) -> Tensor | None:
        n = len(self.data)
        if self.sample_probabilities is not None:
            order = torch.multinomial(self.sample_probabilities, n, replacement=True, generator=self.generator)
        elif self.shuffle:
            order = torch.randperm(n, generator=self.generator)
        else:
            return None
        return order.to(self.data.device, non_blocking=True)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        order = self._order()
        n = len(self.data)
        for batch in range(len(self)):
            start = batch * self.batch_size
            stop = n if batch == len(self) - 1 else start + self.batch_size
            yield self.data.take(slice(start, stop) if order is None else order[start:stop])
