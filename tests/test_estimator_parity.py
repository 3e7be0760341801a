"""ImbalancedMLPClassifier and ImbalancedCNNClassifier behave alike where they share a concept.

Each test runs both estimators on the same 8x8 digits: the MLP on the 64 pixel values as table columns,
the CNN on the same pixels as float ``(n, 1, 8, 8)`` images in ``[0, 1]``.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from imbsk import ImbalancedCNNClassifier, ImbalancedMLPClassifier
from imbsk.training.batching import TensorData

MLP_FAST = dict(hidden_layer_sizes=(8,), d_embedding=4, n_frequencies=4)
CNN_FAST = dict(architecture="resnet8", augmentation="none", mixing=None)
COMMON = dict(max_iter=1, batch_size=16, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    keep = np.flatnonzero(data.target < 3)[:60]
    return data.images[keep] / 16.0, data.target[keep]


def _estimator_and_inputs(kind: str, images: np.ndarray, **params):
    """The estimator of ``kind`` and the images in its input format (float32)."""
    if kind == "mlp":
        return ImbalancedMLPClassifier(**MLP_FAST, **COMMON, **params), images.reshape(len(images), -1).astype(np.float32)
    return ImbalancedCNNClassifier(**CNN_FAST, **COMMON, **params), images[:, np.newaxis].astype(np.float32)


def test_a_read_only_array_becomes_a_tensor_of_its_own():
    # torch.as_tensor shares a read-only array's memory (and warns that writing to it is undefined).
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    array.setflags(write=False)
    data = TensorData(array, np.zeros(3, dtype=np.int64))
    assert not np.shares_memory(data.X.numpy(), array)
    np.testing.assert_array_equal(data.X.numpy(), array)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_read_only_input_fits_and_predicts_without_a_torch_warning(kind, digits):
    # np.load(mmap_mode='r') and frozen buffers give read-only arrays; float32 images reached torch as the
    # caller's own array, so the CNN (not the MLP, whose preprocessing copies) warned at fit and predict. torch
    # warns once per process: the test above is the one that still fails after another test has warned.
    images, y = digits
    clf, X = _estimator_and_inputs(kind, images, validation_fraction=None)
    X.setflags(write=False)
    expected = _estimator_and_inputs(kind, images, validation_fraction=None)[0].fit(X.copy(), y).predict_proba(X.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        proba = clf.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(proba, expected)


def test_the_cnn_precision_docstring_quotes_the_cnn_measurement():
    # It quoted the MLP's Otto fit (1.76x) as if it were the CNN's; the CNN page has its own step timings.
    import re
    from pathlib import Path

    doc = ImbalancedCNNClassifier.__doc__
    paragraph = doc[doc.index("    precision :"):doc.index("    random_state :")]
    assert "Otto" not in paragraph
    quoted = float(re.search(r"about ([\d.]+)x faster", paragraph).group(1))
    page = (Path(__file__).parents[1] / "docs" / "cnn_classifier.md").read_text(encoding="utf-8")
    steps = re.search(r"ResNet-8 ([\d.]+) -> ([\d.]+) ms, ResNet-32 ([\d.]+) -> ([\d.]+) ms", page)
    before_8, after_8, before_32, after_32 = map(float, steps.groups())
    for ratio in (before_8 / after_8, before_32 / after_32):
        assert abs(ratio - quoted) < 0.05
