"""docs/cnn_classifier.md stays true: its python blocks run, its numbers are recomputed, its commands parse.

The python blocks (and the image example of the README) are executed in order in one namespace, as a reader
would paste them, on tiny data: ``X_train`` / ``y_train`` / ``X_test`` / ``y_test`` are a few dozen random
32x32 RGB uint8 images, and ``$IMBSK_DATA`` holds a small archive in the CIFAR-10 python format (100 training
images per class, so that ``load_cifar10_lt(0.01)`` works). Every estimator is constructed and validated with the
doc's parameters, but trained as a ResNet-8 for one epoch (the requested architecture name is still built once,
so a wrong name fails): a renamed parameter, function or attribute, or an invalid value, fails the test.
"""

import importlib.util
import io
import pickle
import re
import shlex
import tarfile
from pathlib import Path

import numpy as np
import pytest
from torch import nn

import imbsk.estimators.cnn as cnn_module
from imbsk import ImbalancedCNNClassifier
from imbsk.augment.vision import default_crop_padding

from _doc_tables import assert_shown_default
from imbsk.datasets import long_tailed_counts
from imbsk.estimators.base import BaseImbalancedClassifier, check_device_form
from imbsk.models.projector import Projector
from imbsk.models.resnet import build_vision_model

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cnn_classifier.md"
README = ROOT / "README.md"


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def _n_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _fake_cifar_archive(directory: Path, per_class: int = 100, n_test: int = 20) -> None:
    """``cifar-10-python.tar.gz`` in the official layout, with ``per_class`` training images of each class."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(10), per_class))
    members = {}
    for i, part in enumerate(np.array_split(labels, 5), start=1):
        data = rng.integers(0, 256, size=(len(part), 3072), dtype=np.uint8)
        members[f"data_batch_{i}"] = {b"data": data, b"labels": [int(v) for v in part]}
    test_labels = np.arange(n_test) % 10
    members["test_batch"] = {
        b"data": rng.integers(0, 256, size=(n_test, 3072), dtype=np.uint8),
        b"labels": [int(v) for v in test_labels],
    }
    members["batches.meta"] = {b"label_names": [f"class{i}".encode() for i in range(10)]}
    with tarfile.open(directory / "cifar-10-python.tar.gz", mode="w:gz") as archive:
        for name, content in members.items():
            payload = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))


@pytest.fixture
def small_and_fast(monkeypatch, tmp_path):
    """Tiny data, a fake CIFAR archive in $IMBSK_DATA, and every fit a one-epoch ResNet-8."""
    real_build = cnn_module.build_vision_model

    def build(name, n_classes, in_channels, **kwargs):
        real_build(name, n_classes, in_channels=in_channels, **kwargs)  # an invalid name still fails
        return real_build("resnet8", n_classes, in_channels=in_channels, **kwargs)

    def make_net(self, *args, **kwargs):
        net = BaseImbalancedClassifier._make_net(self, *args, **kwargs)
        net.set_params(max_epochs=1)
        return net

    monkeypatch.setattr(cnn_module, "build_vision_model", build)
    monkeypatch.setattr(ImbalancedCNNClassifier, "_make_net", make_net)
    _fake_cifar_archive(tmp_path)
    monkeypatch.setenv("IMBSK_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)

    rng = np.random.default_rng(0)
    y_train = np.repeat([0, 1, 2], [20, 10, 5])
    y_test = np.repeat([0, 1, 2], 4)
    return {
        "X_train": rng.integers(0, 256, size=(len(y_train), 32, 32, 3), dtype=np.uint8),
        "y_train": y_train,
        "X_test": rng.integers(0, 256, size=(len(y_test), 32, 32, 3), dtype=np.uint8),
        "y_test": y_test,
    }


def _run(blocks: list[str], namespace: dict) -> dict:
    for index, code in enumerate(blocks):
        try:
            exec(compile(code, f"<example {index + 1}>", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"Example {index + 1} failed with {error!r}:\n{code}") from error
    return namespace


def _check_estimators(namespace: dict) -> int:
    """Validate every estimator the examples built, including those they do not fit."""
    estimators = [value for value in namespace.values() if isinstance(value, ImbalancedCNNClassifier)]
    for estimator in estimators:
        estimator._validate_params()
        check_device_form(estimator.device, "ImbalancedCNNClassifier")
    return len(estimators)


def test_doc_python_examples_run(small_and_fast):
    blocks = _blocks(DOC.read_text(), "python")
    assert len(blocks) >= 6
    namespace = _run(blocks, dict(small_and_fast))
    assert _check_estimators(namespace) >= 4  # clf, clf_flat, paper_recipe, combined (the unfitted ones validated)
    # The fitted ones did train (one epoch each here).
    assert namespace["clf"].n_iter_ == 1
    assert namespace["predicted"].shape == (20,)


def test_readme_image_example_runs(small_and_fast):
    blocks = [code for code in _blocks(README.read_text(), "python") if "ImbalancedCNNClassifier" in code]
    assert len(blocks) == 1
    data = small_and_fast
    namespace = {"X_images": data["X_train"], "y_images": data["y_train"], "X_images_test": data["X_test"]}
    _run(blocks, namespace)
    assert _check_estimators(namespace) == 1


def test_doc_architecture_table_matches_the_code():
    rows = re.findall(r"^\| `'(\w+)'` \| ([\d,]+) \| (\d+) \|", DOC.read_text(), flags=re.M)
    assert {name for name, _, _ in rows} >= {"resnet8", "resnet32", "wrn28_10"}
    for name, count, feature_dim in rows:
        model = build_vision_model(name, n_classes=10, in_channels=3)
        assert _n_parameters(model) == int(count.replace(",", "")), name
        assert model.feature_dim == int(feature_dim), name
        # "1-channel images give 288 parameters fewer; each class adds feature dim + 1".
        assert _n_parameters(build_vision_model(name, n_classes=10, in_channels=1)) == _n_parameters(model) - 288
        assert _n_parameters(build_vision_model(name, n_classes=11, in_channels=3)) == (
            _n_parameters(model) + model.feature_dim + 1
        )
    assert ImbalancedCNNClassifier().architecture == "resnet32"


def test_doc_numbers_match_the_code():
    text = DOC.read_text()
    resnet32 = build_vision_model("resnet32", n_classes=10, in_channels=3)
    projections = [
        block.shortcut for block in resnet32.modules()
        if isinstance(getattr(block, "shortcut", None), nn.Sequential)
    ]
    assert "2,752" in text and sum(_n_parameters(p) for p in projections) == 2752
    assert "99,456" in text and _n_parameters(Projector(64, (512, 128))) == 99456
    assert "394,368" in text and _n_parameters(Projector(640, (512, 128))) == 394368
    assert ImbalancedCNNClassifier().ssl_projector_dims == (512, 128)
    wrn28_10 = _n_parameters(build_vision_model("wrn28_10", n_classes=10, in_channels=3))
    assert "78 times" in text and round(wrn28_10 / _n_parameters(resnet32)) == 78
    counts_001, counts_002 = long_tailed_counts(5000, 10, 0.01), long_tailed_counts(5000, 10, 0.02)
    assert "12,406" in text and counts_001.sum() == 12406
    assert "13,996" in text and counts_002.sum() == 13996
    assert "array([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])" in text
    assert counts_001.tolist() == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    bytes_per_image = 32 * 32 * 3 * np.dtype(np.float32).itemsize  # the float32 (n, 3, 32, 32) copy on the device
    assert "152 MB" in text and round(counts_001.sum() * bytes_per_image / 1e6) == 152
    assert "614 MB" in text and round(long_tailed_counts(5000, 10, 1.0).sum() * bytes_per_image / 1e6) == 614
    assert "4 px on 32x32, 1 px on 8x8" in text
    assert default_crop_padding((32, 32)) == 4 and default_crop_padding((8, 8)) == 1


def test_doc_defaults_table_matches_the_signature():
    """Each ``| `param` | default |`` row of the defaults table gives the constructor's defaults."""
    text = DOC.read_text()
    section = text.split("## The training routine: defaults and their sources")[1].split("\n## ")[0]
    defaults = ImbalancedCNNClassifier().get_params()
    checked = set()
    for names, values in re.findall(r"^\| ((?:`\w+`(?:, )?)+) \| ([^|]+) \|", section, flags=re.M):
        names = re.findall(r"`(\w+)`", names)
        values = [v.strip() for v in values.split(", ")] if len(names) > 1 else [values.strip()]
        assert len(names) == len(values), (names, values)
        for name, value in zip(names, values):
            assert name in defaults, name
            assert_shown_default(name, value, defaults[name])
            checked.add(name)
    assert checked == set(defaults)  # every parameter is in the table


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"_doc_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_doc_commands_parse_with_the_example_script():
    script = _load_script("cifar10_lt")
    commands = [
        " ".join(block.replace("\\\n", " ").split())
        for block in _blocks(DOC.read_text(), "bash")
    ]
    commands = [c for c in commands if c.startswith("python examples/cifar10_lt.py")]
    assert len(commands) == 2
    for command in commands:
        args = script.parse_args(shlex.split(command)[2:])
        for method in args.methods.split(","):
            script.method_params(method, args.epochs)
