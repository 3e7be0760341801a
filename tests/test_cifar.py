"""CIFAR-10 / CIFAR-10-LT loaders on a tiny archive written in the official python format (no network)."""

import hashlib
import io
import pickle
import tarfile

import numpy as np
import pytest

from imbsk.datasets import cifar
from imbsk.datasets.cifar import CIFAR10_FILE, load_cifar10, load_cifar10_lt

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH = 20  # every class twice in each training batch: 10 images per class in all


def _batch(data: np.ndarray, labels: list[int]) -> bytes:
    # Protocol 2 with bytes keys, as the Python 2 pickles of the real archive.
    return pickle.dumps({b"batch_label": b"tiny", b"labels": labels, b"data": data}, protocol=2)


def _archive_bytes(rng: np.random.Generator, skip: str | None = None) -> tuple[bytes, dict]:
    members: dict[str, bytes] = {}
    raw: dict[str, tuple[np.ndarray, list[int]]] = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(PER_BATCH, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.permutation(np.tile(np.arange(10), PER_BATCH // 10))]
        raw[name] = (data, labels)
        members[name] = _batch(data, labels)
    members["batches.meta"] = pickle.dumps(
        {b"label_names": [n.encode() for n in NAMES], b"num_vis": 3072, b"num_cases_per_batch": PER_BATCH}, protocol=2
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, payload in members.items():
            if name == skip:
                continue
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue(), raw


@pytest.fixture
def archive(tmp_path):
    payload, raw = _archive_bytes(np.random.default_rng(0))
    (tmp_path / CIFAR10_FILE).write_bytes(payload)
    return tmp_path, raw


def test_reads_images_labels_and_names(archive):
    directory, raw = archive
    data = load_cifar10(directory, download=False)
    assert data.X_train.shape == (5 * PER_BATCH, 32, 32, 3) and data.X_train.dtype == np.uint8
    assert data.X_test.shape == (PER_BATCH, 32, 32, 3) and data.X_test.dtype == np.uint8
    assert data.y_train.dtype == np.int64 and data.y_train.shape == (5 * PER_BATCH,)
    assert data.target_names == NAMES
    # Training batches are concatenated in order 1..5.
    expected_labels = np.concatenate([raw[f"data_batch_{i}"][1] for i in range(1, 6)])
    np.testing.assert_array_equal(data.y_train, expected_labels)
    np.testing.assert_array_equal(data.y_test, raw["test_batch"][1])
    # A row is the 1024 red, then green, then blue values in row-major order.
    row = raw["data_batch_2"][0][3]
    image = data.X_train[PER_BATCH + 3]
    assert image[0, 0, 0] == row[0] and image[0, 0, 1] == row[1024] and image[0, 0, 2] == row[2048]
    assert image[0, 1, 0] == row[1] and image[1, 0, 0] == row[32] and image[31, 31, 2] == row[3071]
    np.testing.assert_array_equal(data.X_test[7], raw["test_batch"][0][7].reshape(3, 32, 32).transpose(1, 2, 0))


def test_data_home_from_the_environment(archive, monkeypatch):
    directory, _ = archive
    monkeypatch.setenv("IMBSK_DATA", str(directory))
    assert load_cifar10(download=False).X_train.shape[0] == 5 * PER_BATCH


def test_long_tailed_training_set_and_balanced_test_set(archive):
    directory, _ = archive
    full = load_cifar10(directory, download=False)
    data = load_cifar10_lt(0.1, data_home=directory, download=False, random_state=0)
    # n_i = floor(10 * 0.1 ** (i / 9)): 10, 7.74, 5.99, 4.64, 3.59, 2.78, 2.15, 1.67, 1.29, 1.
    expected = [10, 7, 5, 4, 3, 2, 2, 1, 1, 1]
    np.testing.assert_array_equal(data.class_counts, expected)
    np.testing.assert_array_equal(np.bincount(data.y_train, minlength=10), expected)
    assert data.X_train.shape == (sum(expected), 32, 32, 3) and data.X_train.dtype == np.uint8
    np.testing.assert_array_equal(data.X_test, full.X_test)
    np.testing.assert_array_equal(data.y_test, full.y_test)
    # Every kept image is a training image with its own label.
    index = {img.tobytes(): label for img, label in zip(full.X_train, full.y_train)}
    assert all(index[img.tobytes()] == label for img, label in zip(data.X_train, data.y_train))
    again = load_cifar10_lt(0.1, data_home=directory, download=False, random_state=0)
    np.testing.assert_array_equal(again.X_train, data.X_train)
    other = load_cifar10_lt(0.1, data_home=directory, download=False, random_state=1)
    assert not np.array_equal(other.X_train, data.X_train)


def test_missing_archive_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match=CIFAR10_FILE):
        load_cifar10(tmp_path, download=False)


def test_verify_rejects_a_different_archive(archive):
    directory, _ = archive
    with pytest.raises(ValueError, match="md5"):
        load_cifar10(directory, download=False, verify=True)


def test_download_checks_md5_before_caching(tmp_path, monkeypatch):
    payload, _ = _archive_bytes(np.random.default_rng(1))
    monkeypatch.setattr(cifar, "download_bytes", lambda url: payload)
    with pytest.raises(ValueError, match="md5"):
        load_cifar10(tmp_path)
    assert not (tmp_path / CIFAR10_FILE).exists()

    monkeypatch.setattr(cifar, "CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    data = load_cifar10(tmp_path)
    assert (tmp_path / CIFAR10_FILE).read_bytes() == payload
    assert data.X_train.shape == (5 * PER_BATCH, 32, 32, 3)
    # Present now: verify=True checks it against the (patched) md5 and passes.
    assert load_cifar10(tmp_path, download=False, verify=True).X_test.shape[0] == PER_BATCH


def test_failed_download_says_where_to_put_the_file(tmp_path, monkeypatch):
    def offline(url):
        raise OSError("network unreachable")

    monkeypatch.setattr(cifar, "download_bytes", offline)
    with pytest.raises(FileNotFoundError, match="network unreachable"):
        load_cifar10(tmp_path)


def test_archive_without_a_batch_is_rejected(tmp_path):
    payload, _ = _archive_bytes(np.random.default_rng(2), skip="data_batch_4")
    (tmp_path / CIFAR10_FILE).write_bytes(payload)
    with pytest.raises(ValueError, match="data_batch_4"):
        load_cifar10(tmp_path, download=False)


def test_not_an_archive_is_rejected(tmp_path):
    (tmp_path / CIFAR10_FILE).write_bytes(b"not a tarball")
    with pytest.raises(ValueError, match="tar.gz"):
        load_cifar10(tmp_path, download=False)


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_archive_is_rejected_with_a_value_error(tmp_path, keep):
    # A gzip stream cut short used to escape as a bare EOFError from deep inside tarfile.
    payload, _ = _archive_bytes(np.random.default_rng(3))
    (tmp_path / CIFAR10_FILE).write_bytes(payload[: int(keep * len(payload))])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_cifar10(tmp_path, download=False)


@pytest.mark.parametrize("keep", [5, 50])
def test_archive_cut_within_its_first_block_is_rejected_with_a_value_error(tmp_path, keep):
    # Cut before the first member header is whole, the archive failed in tarfile.open with a bare EOFError.
    payload, _ = _archive_bytes(np.random.default_rng(3))
    (tmp_path / CIFAR10_FILE).write_bytes(payload[:keep])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_cifar10(tmp_path, download=False)


@pytest.mark.parametrize(
    "member, content",
    [
        ("data_batch_1", [1, 2, 3]),
        ("batches.meta", [b"airplane"] * 10),
        ("data_batch_3", {b"data": np.zeros((2, 3072), np.uint8), b"labels": ["a", "b"]}),
        ("test_batch", {b"data": np.zeros((2, 3072), np.uint8), b"labels": None}),
        ("batches.meta", {b"label_names": 10}),
    ],
)
def test_members_of_another_shape_are_rejected_with_a_value_error(tmp_path, member, content):
    # A pickle of another type or with non-integer labels escaped as a TypeError / ValueError naming no file.
    payload, _ = _archive_bytes(np.random.default_rng(4))
    members = {}
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as source:
        for info in source.getmembers():
            members[info.name] = source.extractfile(info).read()
    members[f"cifar-10-batches-py/{member}"] = pickle.dumps(content, protocol=2)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (tmp_path / CIFAR10_FILE).write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=str(tmp_path / CIFAR10_FILE)):
        load_cifar10(tmp_path, download=False)
